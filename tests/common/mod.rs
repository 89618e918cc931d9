//! Helpers shared by the codec integration tests: hex literals, inline specs, the vector files.
#![allow(dead_code)]

use iso8583_client::Spec;

/// Bytes from a hex literal; spaces, newlines and `_` are ignored so the parts of a message can be
/// written apart (`"0200 | 4000000000000000 | ..."` also accepts `|`).
pub fn h(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text
        .bytes()
        .filter(|b| !matches!(b, b' ' | b'\n' | b'\t' | b'_' | b'|'))
        .collect();
    assert!(digits.len() % 2 == 0, "odd hex literal {text:?}");
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

/// Uppercase hex, no separators.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

/// The hex of ASCII text, for writing ASCII parts of a wire literal readably: `a("0200")` = `"30323030"`.
pub fn a(text: &str) -> String {
    hex(text.as_bytes())
}

/// A spec built inline from its field lines (TOML inline tables, one a line).
pub fn spec(mti: &str, bitmap: &str, fields: &str) -> Spec {
    let text = format!("name = \"inline\"\nmti = \"{mti}\"\nbitmap = \"{bitmap}\"\nfields = [\n{fields}\n]\n");
    Spec::from_toml(&text, "inline.toml").unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// One vector line: the built-in spec it belongs to and its wire bytes.
pub struct Vector {
    pub spec: &'static str,
    pub wire: Vec<u8>,
}

/// The 1,200 cross-implementation vectors (fixtures/vectors), wire bytes only.
pub fn vectors() -> Vec<Vector> {
    let mut out = Vec::new();
    for (file, spec) in [
        ("default_ascii.jsonl", "iso87-ascii"),
        ("default.jsonl", "iso87-ascii-binary-bitmap"),
        ("bcd.jsonl", "iso87-bcd"),
    ] {
        let path = format!("{}/fixtures/vectors/{file}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            out.push(Vector {
                spec,
                wire: h(v["hex"].as_str().unwrap()),
            });
        }
    }
    out
}
