//! Length prefixes real networks use: one that counts itself (Visa DE 126.18 style), binary
//! prefixes of 1 or 2 bytes holding the length as a number, EBCDIC digits. Hand-checked bytes.

use iso8583_client::codec::ErrorKind;
use iso8583_client::{Message, Spec};

const SPEC: &str = r#"
name = "lengths"
mti = "ascii"
bitmap = "hex"
fields = [
  { number = 44, name = "Self-counting LL", length = "LL", max = 97, class = "ans", prefix_counts_itself = true },
  { number = 45, name = "Binary 1 byte", length = "LL", max = 255, class = "ans", prefix = "binary" },
  { number = 46, name = "Binary 2 bytes", length = "LLL", max = 999, class = "b", encoding = "binary", prefix = "binary" },
  { number = 47, name = "Self-counting binary 2 bytes", length = "LLL", max = 999, class = "ans", prefix = "binary", prefix_counts_itself = true },
  { number = 48, name = "EBCDIC LL", length = "LL", max = 99, class = "ans", prefix = "ebcdic", encoding = "ebcdic" },
  { number = 126, name = "Visa Private", length = "LLL", max = 255, class = "b", encoding = "binary", prefix = "binary", composite = { kind = "bitmap", parts = [
      { number = 18, name = "Agent Unique Account Result", length = "L", max = 9, class = "ans", prefix = "binary", prefix_counts_itself = true } ] } },
]"#;

fn spec() -> Spec {
    Spec::from_toml(SPEC, "lengths.toml").unwrap()
}

/// The bytes of field `n` alone (after MTI and primary bitmap).
fn field_bytes(spec: &Spec, n: u8, value: &[u8]) -> Vec<u8> {
    let msg = Message::new("0100".parse().unwrap()).with(n, value.to_vec());
    let wire = spec.encode(&msg).unwrap();
    let back = spec.decode(&wire).unwrap();
    assert_eq!(back.get(n).unwrap(), value, "field {n} round trip");
    wire[20..].to_vec()
}

#[test]
fn self_counting_ascii_prefix() {
    let s = spec();
    assert!(s.field(44).unwrap().prefix_counts_itself());
    assert_eq!(field_bytes(&s, 44, b"ABC"), b"05ABC");
    assert_eq!(field_bytes(&s, 44, b""), b"02");
    // A prefix smaller than itself is an error, not an underflow.
    let wire = b"0100000000000010000001";
    let err = s.decode(wire).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::PrefixTooShort { found: 1, width: 2 });
    assert_eq!(
        err.to_string(),
        "field 44 (Self-counting LL) at byte 20: length prefix says 1, less than its own 2 bytes"
    );
    // 98 characters would need a prefix of 100.
    let msg = Message::new("0100".parse().unwrap()).with(44, "x".repeat(98));
    assert_eq!(
        spec().encode(&msg).unwrap_err().kind(),
        &ErrorKind::LengthOverMax { found: 98, max: 97 }
    );
}

#[test]
fn binary_prefixes_of_one_and_two_bytes() {
    let s = spec();
    let v200 = vec![b'z'; 200];
    let mut want = vec![0xC8];
    want.extend_from_slice(&v200);
    assert_eq!(field_bytes(&s, 45, &v200), want);
    let v300 = vec![0xAB; 300];
    let mut want = vec![0x01, 0x2C];
    want.extend_from_slice(&v300);
    assert_eq!(field_bytes(&s, 46, &v300), want);
    assert_eq!(field_bytes(&s, 47, b"XYZ"), [0x00, 0x05, b'X', b'Y', b'Z']);
    // A binary LL prefix still refuses more than the field's maximum.
    let err = s.decode(b"0100000000000004FFFF").unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Truncated { .. } | ErrorKind::LengthOverMax { .. }
        ),
        "{err}"
    );
}

#[test]
fn binary_prefix_caps_follow_the_prefix_size() {
    let load = |field: &str| {
        Spec::from_toml(
            &format!("name = \"t\"\nmti = \"ascii\"\nbitmap = \"hex\"\nfields = [ {field} ]"),
            "t.toml",
        )
        .map(drop)
        .map_err(|e| e.to_string())
    };
    assert!(load(r#"{ number = 45, name = "B", length = "L", max = 255, class = "ans", prefix = "binary" }"#).is_ok());
    assert_eq!(
        load(r#"{ number = 45, name = "B", length = "LL", max = 256, class = "ans", prefix = "binary" }"#).unwrap_err(),
        "t.toml: field 45 (B): a 1-byte binary prefix holds at most 255, but max is 256"
    );
    assert_eq!(
        load(r#"{ number = 44, name = "S", length = "LL", max = 99, class = "ans", prefix_counts_itself = true }"#)
            .unwrap_err(),
        "t.toml: field 44 (S): an LL prefix that counts itself (2 bytes) holds at most 97, but max is 99"
    );
    assert_eq!(
        load(r#"{ number = 44, name = "S", length = "fixed", max = 9, class = "ans", prefix_counts_itself = true }"#)
            .unwrap_err(),
        "t.toml: field 44 (S): prefix_counts_itself applies only to variable-length fields"
    );
}

#[test]
fn ebcdic_prefix() {
    let s = spec();
    assert_eq!(field_bytes(&s, 48, b"HI"), [0xF0, 0xF2, 0xC8, 0xC9]);
}

#[test]
fn self_counting_sub_field_visa_126_18_style() {
    let s = spec();
    let mut msg = Message::new("0100".parse().unwrap());
    msg.use_spec(&s);
    msg.set_path("126.18", "OK1").unwrap();
    // Sub-bitmap with bit 18 (byte 3, 0x40), then a 1-byte binary prefix counting itself: 4.
    assert_eq!(
        msg.get(126).unwrap(),
        &[0x00, 0x00, 0x40, 0, 0, 0, 0, 0, 0x04, b'O', b'K', b'1']
    );
    assert_eq!(msg.get_path("126.18").unwrap().as_deref(), Some(&b"OK1"[..]));
}
