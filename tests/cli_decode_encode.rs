//! `iso8583 decode` and `iso8583 encode`, through the real binary.
#![cfg(feature = "cli")]

mod cli_support;

use cli_support::{run, run_with_input, vectors};
use serde_json::Value;

/// A 0200 in `iso87-ascii` with a PAN, track 2 and a PIN block (hex text on the wire).
fn auth_json() -> &'static str {
    r#"{"mti": "0200", "fields": {"2": "4111111111111111", "3": "000000", "4": "000000001000",
        "11": "000001", "35": "4111111111111111=2512101", "41": "TERM0001", "49": "840",
        "52": "0123456789ABCDEF"}}"#
}

fn encode_auth() -> String {
    let r = run_with_input(&["encode", "--spec", "iso87-ascii"], auth_json());
    r.assert_ok();
    r.stdout.trim().to_owned()
}

#[test]
fn round_trip_of_every_flavour_through_the_cli() {
    for (file, spec) in [
        ("default_ascii.jsonl", "iso87-ascii"),
        ("default.jsonl", "iso87-ascii-binary-bitmap"),
        ("bcd.jsonl", "iso87-bcd"),
    ] {
        let vs = vectors(file);
        let hexes: Vec<String> = vs
            .iter()
            .take(150)
            .map(|v| v["hex"].as_str().unwrap().to_uppercase())
            .collect();
        let decoded = run_with_input(&["decode", "--spec", spec, "--json", "--reveal"], &hexes.join("\n"));
        decoded.assert_ok();
        let lines: Vec<&str> = decoded.stdout.lines().collect();
        assert_eq!(lines.len(), hexes.len(), "{spec}: one JSON line per input line");
        for (line, v) in lines.iter().zip(&vs) {
            let got: Value = serde_json::from_str(line).unwrap();
            assert_eq!(got["mti"], v["mti"], "{spec}");
            let want = v["fields"].as_object().unwrap();
            let have = got["fields"].as_object().unwrap();
            assert_eq!(have.len(), want.len(), "{spec}: {line}");
            for (k, w) in want {
                // The bcd flavour shows a track separator as D; the codec's canonical form is '='.
                let w = w.as_str().unwrap();
                let h = have[k].as_str().unwrap();
                assert!(
                    h == w || (spec == "iso87-bcd" && h.replace('=', "D") == w),
                    "{spec} DE {k}: {h} vs {w}"
                );
            }
        }
        let encoded = run_with_input(&["encode", "--spec", spec], &decoded.stdout);
        encoded.assert_ok();
        let back: Vec<&str> = encoded.stdout.lines().collect();
        assert_eq!(
            back,
            hexes.iter().map(String::as_str).collect::<Vec<_>>(),
            "{spec}: bytes back"
        );
    }
}

#[test]
fn table_masks_card_data_unless_revealed() {
    let hex = encode_auth();
    let r = run(&["decode", "--spec", "iso87-ascii", &hex]);
    r.assert_ok();
    assert!(r.stdout.starts_with("MTI  0200  financial request"), "{}", r.stdout);
    assert!(r.stdout.contains("411111******1111"), "{}", r.stdout);
    assert!(r.stdout.contains("System Trace Audit Number"), "{}", r.stdout);
    assert!(!r.stdout.contains("4111111111111111"), "PAN leaked: {}", r.stdout);
    assert!(!r.stdout.contains("0123456789ABCDEF"), "PIN block leaked: {}", r.stdout);
    assert!(!r.stdout.contains("=2512"), "track leaked: {}", r.stdout);
    let r = run(&["decode", "--spec", "iso87-ascii", "--reveal", &hex]);
    r.assert_ok();
    assert!(r.stdout.contains("4111111111111111=2512101"), "{}", r.stdout);
    assert!(r.stdout.contains("0123456789ABCDEF"), "{}", r.stdout);
}

#[test]
fn json_shape_masked_and_revealed() {
    let hex = encode_auth();
    let r = run(&["decode", "--spec", "iso87-ascii", "--json", &hex]);
    r.assert_ok();
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["mti"], "0200");
    assert_eq!(v["fields"]["2"], "411111******1111");
    assert_eq!(v["fields"]["35"], "****************=*******");
    assert_eq!(v["fields"]["52"], "****************");
    assert_eq!(v["fields"]["4"], "000000001000");
    // Fields appear in number order.
    let text = r.stdout.trim();
    assert!(text.find("\"4\"").unwrap() < text.find("\"11\"").unwrap(), "{text}");
    let r = run(&["decode", "--spec", "iso87-ascii", "--json", "--reveal", &hex]);
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["fields"]["2"], "4111111111111111");
    assert_eq!(v["fields"]["52"], "0123456789ABCDEF");
}

#[test]
fn binary_fields_are_uppercase_hex() {
    let json = r#"{"mti": "0800", "fields": {"11": "000001", "52": "0a1b2c3d4e5f6071", "70": "301"}}"#;
    let e = run_with_input(&["encode", "--spec", "iso87-ascii-binary-bitmap"], json);
    e.assert_ok();
    let r = run(&[
        "decode",
        "--spec",
        "iso87-ascii-binary-bitmap",
        "--json",
        "--reveal",
        e.stdout.trim(),
    ]);
    r.assert_ok();
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["fields"]["52"], "0A1B2C3D4E5F6071");
}

#[test]
fn bad_lines_give_error_objects_and_processing_goes_on() {
    let hex = encode_auth();
    let input = format!("{hex}\nnot hex\n\n30323030\n{hex}\n");
    let r = run_with_input(&["decode", "--spec", "iso87-ascii", "--json"], &input);
    assert_eq!(r.status.code(), Some(1), "{r:#?}");
    let lines: Vec<Value> = r.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 4, "{r:#?}");
    assert_eq!(lines[0]["mti"], "0200");
    assert!(
        lines[1]["error"].as_str().unwrap().contains("invalid hex"),
        "{:?}",
        lines[1]
    );
    assert_eq!(
        lines[2]["error"],
        "primary bitmap at byte 4: message ends too early: needs 16 bytes, 0 left"
    );
    assert_eq!(lines[3]["mti"], "0200");
    assert!(!r.stdout.contains("4111111111111111"));
}

#[test]
fn file_input_and_dash_for_stdin() {
    let hex = encode_auth();
    let dir =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("iso8583-cli-decode-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("msgs.hex");
    std::fs::write(&path, format!("# two messages\n{hex}\n{hex}\n")).unwrap();
    let r = run(&["decode", "--json", "--file", path.to_str().unwrap()]);
    r.assert_ok();
    assert_eq!(r.stdout.lines().count(), 2);
    let r = run_with_input(&["decode", "--json", "-"], &hex);
    r.assert_ok();
    assert_eq!(r.stdout.lines().count(), 1);
    let r = run(&["decode", "--file", "/no/such/file.hex"]);
    r.assert_clean_failure();
    assert!(r.stderr.contains("/no/such/file.hex"), "{}", r.stderr);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bad_input_is_a_clean_one_line_error() {
    let r = run(&["decode", "--spec", "iso87-ascii", "0200ZZ"]);
    r.assert_clean_failure();
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("not hex"), "{}", r.stderr);

    let r = run(&["decode", "--spec", "iso87-ascii", "30323030"]);
    r.assert_clean_failure();
    assert!(r.stderr.contains("primary bitmap at byte 4"), "{}", r.stderr);

    let r = run(&["decode", "--spec", "no-such-spec", "30323030"]);
    r.assert_clean_failure();
    assert!(r.stderr.contains("unknown spec \"no-such-spec\""), "{}", r.stderr);
    assert!(r.stderr.contains("iso87-bcd"), "{}", r.stderr);

    let r = run_with_input(&["encode"], "{\"mti\": \"0200\", ");
    r.assert_clean_failure();
    assert!(r.stderr.contains("invalid JSON"), "{}", r.stderr);

    let r = run_with_input(&["encode"], "");
    r.assert_clean_failure();
}

#[test]
fn a_broken_spec_file_names_file_and_field() {
    let dir =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("iso8583-cli-spec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("broken.toml");
    std::fs::write(
        &path,
        r#"name = "broken"
mti = "ascii"
bitmap = "hex"
fields = [
  { number = 11, name = "STAN", length = "fixed", max = 6, class = "n" },
  { number = 35, name = "Track 2", length = "LL", max = 200, class = "z" },
]"#,
    )
    .unwrap();
    let p = path.to_str().unwrap();
    let r = run(&["decode", "--spec", p, "30323030"]);
    r.assert_clean_failure();
    assert!(
        r.stderr.contains(p) && r.stderr.contains("field 35 (Track 2)"),
        "{}",
        r.stderr
    );
    // A good spec file by path works like the built-in.
    let good = format!("{}/specs/iso87-ascii.toml", env!("CARGO_MANIFEST_DIR"));
    let r = run_with_input(&["encode", "--spec", &good], auth_json());
    r.assert_ok();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn encode_reads_one_object_or_json_lines_and_reports_bad_ones() {
    let pretty = "{\n  \"mti\": \"0800\",\n  \"fields\": {\n    \"11\": \"000001\",\n    \"70\": \"301\"\n  }\n}\n";
    let r = run_with_input(&["encode"], pretty);
    r.assert_ok();
    let ascii = "080080200000000000000400000000000000000001301";
    let hex: String = ascii.bytes().map(|b| format!("{b:02X}")).collect();
    assert_eq!(r.stdout, format!("{hex}\n"));

    let lines = concat!(
        "{\"mti\": \"0800\", \"fields\": {\"11\": \"000001\", \"70\": \"301\"}}\n",
        "{\"mti\": \"0800\", \"fields\": {\"11\": \"12345\", \"70\": \"301\"}}\n",
        "{\"mti\": \"0800\", \"fields\": {\"11\": \"000003\", \"70\": \"301\"}\n",
        "{\"mti\": \"0200\", \"fields\": {\"2\": \"411111******1111\"}}\n",
        "{\"mti\": \"0800\", \"fields\": {\"11\": \"000005\", \"70\": \"301\"}}\n",
    );
    let r = run_with_input(&["encode", "--spec", "iso87-ascii"], lines);
    assert_eq!(r.status.code(), Some(1), "{r:#?}");
    // One output line per input message: the bad ones leave an empty line, so line N answers message N.
    let out: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(out.len(), 5, "{r:#?}");
    assert_eq!((out[1], out[2], out[3]), ("", "", ""), "{r:#?}");
    assert!(!out[0].is_empty() && !out[4].is_empty(), "{r:#?}");
    assert!(
        r.stderr
            .contains("line 2: cannot encode with spec iso87-ascii: field 11 (System Trace Audit Number)"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("line 3: invalid JSON"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("line 4: field 2 (Primary Account Number (PAN)): value is masked"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"));
}
