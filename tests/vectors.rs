//! Cross-implementation vectors (pyiso8583 4.0.1, see fixtures/vectors/README.md): every vector
//! decodes to exactly its MTI and fields and encodes back to exactly its bytes.

use std::collections::BTreeMap;

use iso8583_client::{Message, Mti, Spec};
use serde_json::Value;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// A field value as the vectors show it: binary as uppercase hex, text as is.
fn shown(spec: &Spec, n: u8, v: &[u8]) -> String {
    if spec.field(n).unwrap().is_binary() {
        hex(v)
    } else {
        String::from_utf8(v.to_vec()).unwrap()
    }
}

/// The canonical value for a vector's field text (BCD track separators read `D` in the vectors, `=` here).
fn canonical(spec: &Spec, n: u8, s: &str, bcd: bool) -> Vec<u8> {
    let fs = spec.field(n).unwrap();
    if fs.is_binary() {
        unhex(s)
    } else if bcd && matches!(n, 35 | 36) {
        s.replace('D', "=").into_bytes()
    } else {
        s.as_bytes().to_vec()
    }
}

fn check_file(file: &str, spec_name: &str) -> usize {
    let spec = Spec::builtin(spec_name).unwrap();
    let bcd = spec_name == "iso87-bcd";
    let text = std::fs::read_to_string(format!("{}/fixtures/vectors/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let mut n = 0;
    for (line_no, line) in text.lines().enumerate() {
        let v: Value = serde_json::from_str(line).unwrap();
        let wire = unhex(v["hex"].as_str().unwrap());
        let mti: Mti = v["mti"].as_str().unwrap().parse().unwrap();
        let want: BTreeMap<u8, String> = v["fields"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.parse().unwrap(), v.as_str().unwrap().to_owned()))
            .collect();

        // Decode: exactly the MTI and fields.
        let msg = spec
            .decode(&wire)
            .unwrap_or_else(|e| panic!("{file}:{}: {e}", line_no + 1));
        assert_eq!(msg.mti(), mti, "{file}:{}", line_no + 1);
        let got: BTreeMap<u8, String> = msg
            .fields()
            .map(|(k, val)| {
                let s = shown(&spec, k, val);
                (
                    k,
                    if bcd && matches!(k, 35 | 36) {
                        s.replace('=', "D")
                    } else {
                        s
                    },
                )
            })
            .collect();
        assert_eq!(got, want, "{file}:{}", line_no + 1);

        // Encode from the vector's fields: exactly its bytes.
        let mut built = Message::new(mti);
        for (k, s) in &want {
            built.set(*k, canonical(&spec, *k, s, bcd));
        }
        let encoded = spec
            .encode(&built)
            .unwrap_or_else(|e| panic!("{file}:{}: {e}", line_no + 1));
        assert_eq!(hex(&encoded), hex(&wire), "{file}:{}", line_no + 1);
        // And the decoded message re-encodes to the same bytes.
        assert_eq!(spec.encode(&msg).unwrap(), encoded);
        n += 1;
    }
    n
}

#[test]
fn default_ascii_vectors() {
    assert_eq!(check_file("default_ascii.jsonl", "iso87-ascii"), 400);
}

#[test]
fn default_binary_bitmap_vectors() {
    assert_eq!(check_file("default.jsonl", "iso87-ascii-binary-bitmap"), 400);
}

#[test]
fn bcd_vectors() {
    assert_eq!(check_file("bcd.jsonl", "iso87-bcd"), 400);
}

/// The built-in specs equal the vectors' field tables, field by field.
#[test]
fn builtin_specs_match_vector_tables() {
    use iso8583_client::spec::{Encoding, LengthKind, LengthUnit, PrefixEncoding};
    for (file, name) in [
        ("spec_default_ascii.jsonl", "iso87-ascii"),
        ("spec_default.jsonl", "iso87-ascii-binary-bitmap"),
        ("spec_bcd.jsonl", "iso87-bcd"),
    ] {
        let spec = Spec::builtin(name).unwrap();
        let text = std::fs::read_to_string(format!("{}/fixtures/vectors/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let mut checked = 0;
        for line in text.lines() {
            let r: Value = serde_json::from_str(line).unwrap();
            let Ok(n) = r["fld"].as_str().unwrap().parse::<u8>() else {
                continue;
            };
            if n < 2 || n == 65 {
                continue;
            }
            let fs = spec.field(n).unwrap_or_else(|| panic!("{name}: field {n} missing"));
            let ctx = format!("{name} field {n}");
            assert_eq!(fs.name(), r["desc"].as_str().unwrap(), "{ctx}");
            assert_eq!(fs.max_len() as u64, r["max_len"].as_u64().unwrap(), "{ctx}");
            let kind = match fs.length() {
                LengthKind::Fixed => "FIXED".to_string(),
                LengthKind::Variable(d) => "L".repeat(d as usize),
            };
            assert_eq!(kind, r["kind"].as_str().unwrap(), "{ctx}");
            let iso = match r["iso"].as_str().unwrap() {
                "ns" => "ans",
                other => other,
            };
            assert_eq!(format!("{:?}", fs.class()).to_lowercase(), iso, "{ctx}");
            let data_enc = r["data_enc"].as_str().unwrap();
            let count = r["count"].as_str().unwrap();
            let expected_enc = match (data_enc, count, iso) {
                ("b", "nibbles", _) => Encoding::Bcd,
                ("b", _, _) => Encoding::Binary,
                ("ascii", _, "b") => Encoding::Hex,
                _ => Encoding::Ascii,
            };
            assert_eq!(fs.encoding(), expected_enc, "{ctx}");
            let unit = if count == "nibbles" {
                LengthUnit::Digits
            } else {
                LengthUnit::Bytes
            };
            assert_eq!(fs.unit(), unit, "{ctx}");
            if fs.length() != LengthKind::Fixed {
                let prefix = if r["len_enc"] == "bcd" {
                    PrefixEncoding::Bcd
                } else {
                    PrefixEncoding::Ascii
                };
                assert_eq!(fs.prefix(), prefix, "{ctx}");
            }
            checked += 1;
        }
        assert_eq!(checked, 126, "{name}");
        assert_eq!(spec.fields().count(), 126, "{name}");
    }
}
