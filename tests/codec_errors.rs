//! Codec errors are tested for what they say: the part (MTI, bitmap, field number and name), the
//! byte offset, and what was expected against what was found.

mod common;

use common::{a, h, spec};
use iso8583_client::codec::{ErrorKind, Part};
use iso8583_client::spec::ContentClass;
use iso8583_client::{CodecError, Message, Spec};

fn ascii() -> std::sync::Arc<Spec> {
    Spec::builtin("iso87-ascii").unwrap()
}
fn bcd() -> std::sync::Arc<Spec> {
    Spec::builtin("iso87-bcd").unwrap()
}
fn msg(mti: &str) -> Message {
    Message::new(mti.parse().unwrap())
}

#[track_caller]
fn decode_err(spec: &Spec, wire: &[u8]) -> CodecError {
    match spec.decode(wire) {
        Ok(m) => panic!("decoded {m:?}, expected an error"),
        Err(e) => e,
    }
}

#[track_caller]
fn encode_err(spec: &Spec, m: &Message) -> CodecError {
    match spec.encode(m) {
        Ok(w) => panic!("encoded {w:?}, expected an error"),
        Err(e) => e,
    }
}

// ---- truncation ----

#[test]
fn truncated_mti() {
    let e = decode_err(&ascii(), b"02");
    assert_eq!(
        e.to_string(),
        "MTI at byte 0: message ends too early: needs 4 bytes, 2 left"
    );
    assert_eq!(e.part(), &Part::Mti);
    assert!(e.partial().is_none());
    let e = decode_err(&ascii(), b"");
    assert_eq!(
        e.to_string(),
        "MTI at byte 0: message ends too early: needs 4 bytes, 0 left"
    );
    let e = decode_err(&bcd(), &[0x02]);
    assert_eq!(
        e.to_string(),
        "MTI at byte 0: message ends too early: needs 2 bytes, 1 left"
    );
}

#[test]
fn truncated_bitmaps() {
    let e = decode_err(&ascii(), b"020040000000");
    assert_eq!(
        e.to_string(),
        "primary bitmap at byte 4: message ends too early: needs 16 bytes, 8 left"
    );
    assert_eq!(e.part(), &Part::Bitmap(1));
    let e = decode_err(&ascii(), b"0200C00000000000000000");
    assert_eq!(
        e.to_string(),
        "secondary bitmap at byte 20: message ends too early: needs 16 bytes, 2 left"
    );
    assert_eq!(e.part(), &Part::Bitmap(2));
    let e = decode_err(&ascii(), b"020080000000000000008000000000000000ABCD");
    assert_eq!(
        e.to_string(),
        "tertiary bitmap at byte 36: message ends too early: needs 16 bytes, 4 left"
    );
    // Binary bitmaps: 8 bytes each.
    let e = decode_err(&bcd(), &h("0200 80000000000000"));
    assert_eq!(
        e.to_string(),
        "primary bitmap at byte 2: message ends too early: needs 8 bytes, 7 left"
    );
}

#[test]
fn truncated_fields() {
    // Fixed field: the offset is where the field starts.
    let e = decode_err(&ascii(), b"080000200000000000000001");
    assert_eq!(
        e.to_string(),
        "field 11 (System Trace Audit Number) at byte 20: message ends too early: needs 6 bytes, 4 left"
    );
    assert_eq!(e.field(), Some(11));
    // Length prefix cut short.
    let e = decode_err(&ascii(), b"020040000000000000001");
    assert_eq!(
        e.to_string(),
        "field 2 (Primary Account Number (PAN)) at byte 20: message ends too early: needs 2 bytes, 1 left"
    );
    // Content cut short: the offset is where the content starts (after the prefix), so offset + left = length.
    let e = decode_err(&ascii(), b"0200400000000000000016411111");
    assert_eq!(
        e.to_string(),
        "field 2 (Primary Account Number (PAN)) at byte 22: message ends too early: needs 16 bytes, 6 left"
    );
    assert_eq!(
        e.kind(),
        &ErrorKind::Truncated {
            needed: 16,
            available: 6
        }
    );
    // BCD: a 19-digit PAN needs 10 bytes.
    let e = decode_err(&bcd(), &h("0200 4000000000000000 19 0411111111"));
    assert_eq!(
        e.to_string(),
        "field 2 (Primary Account Number (PAN)) at byte 11: message ends too early: needs 10 bytes, 5 left"
    );
}

// ---- length prefixes ----

#[test]
fn length_prefix_over_max_names_field_offset_and_both_lengths() {
    // DE 11 then DE 35 with LL 41 (max 37): DE 35 starts after MTI 4 + bitmap 16 + DE 11 6 = byte 26.
    let wire = [&b"0200002000002000000000000141"[..], &[b'4'; 41][..]].concat();
    let e = decode_err(&ascii(), &wire);
    assert_eq!(
        e.to_string(),
        "field 35 (Track 2 Data) at byte 26: length prefix says 41, maximum is 37"
    );
    assert_eq!(e.offset(), 26);
    assert_eq!(e.kind(), &ErrorKind::LengthOverMax { found: 41, max: 37 });
    assert_eq!(
        e.part(),
        &Part::Field {
            number: 35,
            name: "Track 2 Data".into()
        }
    );
    // The same in BCD: MTI 2 + bitmap 8 + DE 11 3 = byte 13; the prefix counts digits.
    let e = decode_err(&bcd(), &h("0200 0020000020000000 000001 41 0000"));
    assert_eq!(
        e.to_string(),
        "field 35 (Track 2 Data) at byte 13: length prefix says 41, maximum is 37"
    );
}

#[test]
fn partial_keeps_the_fields_decoded_before_the_failure() {
    let wire = [&b"0200002000002000000000004241"[..], &[b'4'; 42][..]].concat();
    let e = decode_err(&ascii(), &wire);
    let partial = e.partial().expect("partial message");
    assert_eq!(partial.mti().as_str(), "0200");
    assert_eq!(partial.stan(), Some("000042"));
    assert!(!partial.contains(35));
    assert_eq!(partial.len(), 1);
    // Also when the failure is in content, after an undefined field, or trailing bytes.
    let e = decode_err(&bcd(), &h("0200 0020000020000000 000777 03 F123"));
    assert_eq!(e.partial().unwrap().stan(), Some("000777"));
    let e = decode_err(&ascii(), b"080000200000000000000001237X");
    assert_eq!(e.partial().unwrap().stan(), Some("000123"));
    // A failure before any field: the MTI is known, no fields.
    let e = decode_err(&ascii(), b"0810XX");
    let partial = e.partial().expect("the MTI was read");
    assert_eq!((partial.mti().as_str(), partial.len()), ("0810", 0));
    // A failure in the MTI: nothing to keep.
    assert!(decode_err(&ascii(), b"08").partial().is_none());
}

#[test]
fn partial_in_debug_output_stays_masked() {
    // PAN decoded, then a bad DE 11.
    let e = decode_err(&ascii(), b"02004020000000000000164111111111111111ABCDEF");
    assert_eq!(e.field(), Some(11));
    let shown = format!("{e:?} {e}");
    assert!(shown.contains("411111******1111"), "{shown}");
    assert!(!shown.contains("4111111111111111"), "{shown}");
}

#[test]
fn bad_length_prefix_digits() {
    let e = decode_err(&ascii(), b"020040000000000000001A4111111111111111");
    assert_eq!(
        e.to_string(),
        "field 2 (Primary Account Number (PAN)) at byte 20: length prefix is not a number: bytes 31 41"
    );
    assert_eq!(e.kind(), &ErrorKind::BadLengthPrefix { found: "31 41".into() });
    // A BCD prefix with a nibble above 9.
    let e = decode_err(&bcd(), &h("0200 4000000000000000 1A 4111111111111111"));
    assert_eq!(
        e.to_string(),
        "field 2 (Primary Account Number (PAN)) at byte 10: length prefix is not a number: bytes 1A"
    );
    // An EBCDIC prefix given ASCII digits.
    let spec = spec(
        "ascii",
        "hex",
        r#"{ number = 44, name = "Response Data", length = "LL", max = 25, class = "ans", prefix = "ebcdic" },"#,
    );
    let e = decode_err(
        &spec,
        &h(&format!("{}{}{}", a("0200"), a("0000000000100000"), a("02OK"))),
    );
    assert_eq!(
        e.to_string(),
        "field 44 (Response Data) at byte 20: length prefix is not a number: bytes 30 32"
    );
}

// ---- content ----

#[test]
fn content_class_violations() {
    let e = decode_err(&ascii(), b"0800002000000000000000a001");
    assert_eq!(
        e.to_string(),
        "field 11 (System Trace Audit Number) at byte 20: expected a digit (class n) at position 2, found 'a' (0x61)"
    );
    assert_eq!(
        e.kind(),
        &ErrorKind::BadContent {
            class: ContentClass::N,
            position: 2,
            found: b'a'
        }
    );
    let spec = spec(
        "ascii",
        "hex",
        r#"
        { number = 2, name = "Letters", length = "fixed", max = 2, class = "a" },
        { number = 3, name = "Alnum", length = "fixed", max = 2, class = "an" },
        { number = 4, name = "Text", length = "fixed", max = 2, class = "ans" },
        { number = 5, name = "Track", length = "fixed", max = 2, class = "z" },
        "#,
    );
    let cases: [(&str, &[u8], &str); 4] = [
        (
            "4000000000000000",
            b"A1",
            "field 2 (Letters) at byte 20: expected a letter (class a) at position 1, found '1' (0x31)",
        ),
        (
            "2000000000000000",
            b"1-",
            "field 3 (Alnum) at byte 20: expected a letter or digit (class an) at position 1, found '-' (0x2D)",
        ),
        (
            "1000000000000000",
            b"\x00A",
            "field 4 (Text) at byte 20: expected a printable character (class ans) at position 0, found 0x00",
        ),
        (
            "0800000000000000",
            b"1A",
            "field 5 (Track) at byte 20: expected track data (class z: digits, = and separators) at position 1, found 'A' (0x41)",
        ),
    ];
    for (bitmap, value, text) in cases {
        let wire = [format!("0200{bitmap}").into_bytes(), value.to_vec()].concat();
        assert_eq!(decode_err(&spec, &wire).to_string(), text);
    }
}

#[test]
fn bad_bcd_nibble_and_bad_pad_nibble() {
    // DE 3 = 00 0A 00: the fourth digit is nibble A.
    let e = decode_err(&bcd(), &h("0200 2000000000000000 000A00"));
    assert_eq!(
        e.to_string(),
        "field 3 (Processing Code) at byte 10: expected a digit (class n) at position 3, found 0x0A"
    );
    // Odd PAN "123" must be 01 23 (left 0 pad); F1 23 has the wrong pad nibble.
    let e = decode_err(&bcd(), &h("0200 4000000000000000 03 F123"));
    assert_eq!(
        e.to_string(),
        "field 2 (Primary Account Number (PAN)) at byte 10: expected pad nibble 0, found F"
    );
    assert_eq!(
        e.kind(),
        &ErrorKind::BadPad {
            expected: 0,
            found: 0xF
        }
    );
    // A right-F spec given a right 0 pad.
    let spec = spec(
        "bcd",
        "binary",
        r#"{ number = 2, name = "PAN", length = "LL", max = 19, class = "n", encoding = "bcd", prefix = "bcd", odd_pad = "right-f" },"#,
    );
    let e = decode_err(&spec, &h("0100 4000000000000000 05 123450"));
    assert_eq!(
        e.to_string(),
        "field 2 (PAN) at byte 10: expected pad nibble F, found 0"
    );
}

#[test]
fn hex_content_errors() {
    // DE 55 (bit 55: byte 6 = 02) with three hex characters.
    let e = decode_err(&ascii(), b"010000000000000002000039F0");
    assert_eq!(
        e.to_string(),
        "field 55 (ICC data) at byte 20: hex content needs an even number of characters, found 3"
    );
    assert_eq!(e.kind(), &ErrorKind::OddHexLength(3));
    let e = decode_err(&ascii(), b"010000000000000002000049G02");
    assert_eq!(
        e.to_string(),
        "field 55 (ICC data) at byte 20: expected binary data (class b) at position 1, found 'G' (0x47)"
    );
}

#[test]
fn bad_mti_and_bad_hex_bitmap() {
    let e = decode_err(&ascii(), b"02A00000000000000000");
    assert_eq!(
        e.to_string(),
        "MTI at byte 0: expected four digits, found bytes 30 32 41 30"
    );
    let e = decode_err(&bcd(), &h("0A00 0000000000000000"));
    assert_eq!(e.to_string(), "MTI at byte 0: expected four digits, found bytes 0A 00");
    let ebcdic = spec(
        "ebcdic",
        "binary",
        r#"{ number = 11, name = "STAN", length = "fixed", max = 6, class = "n" },"#,
    );
    let e = decode_err(&ebcdic, b"0200\0\0\0\0\0\0\0\0");
    assert_eq!(
        e.to_string(),
        "MTI at byte 0: expected four digits, found bytes 30 32 30 30"
    );
    let e = decode_err(&ascii(), b"020000G0000000000000");
    assert_eq!(
        e.to_string(),
        "primary bitmap at byte 4: expected a hex digit at position 2, found 'G' (0x47)"
    );
    let e = decode_err(&ascii(), b"02008000000000000000000000000000000z");
    assert_eq!(
        e.to_string(),
        "secondary bitmap at byte 20: expected a hex digit at position 15, found 'z' (0x7A)"
    );
}

#[test]
fn field_in_bitmap_that_the_spec_does_not_define() {
    // Built-ins stop at 128: bit 129 in a tertiary bitmap.
    let e = decode_err(&ascii(), b"0800800000000000000080000000000000008000000000000000123");
    assert_eq!(
        e.to_string(),
        "field 129 at byte 52: the spec does not define this field"
    );
    assert_eq!(e.kind(), &ErrorKind::UndefinedField);
    let small = spec(
        "ascii",
        "hex",
        r#"{ number = 11, name = "STAN", length = "fixed", max = 6, class = "n" },"#,
    );
    let e = decode_err(&small, b"0800003000000000000000000112");
    assert_eq!(
        e.to_string(),
        "field 12 at byte 26: the spec does not define this field"
    );
    assert_eq!(e.partial().unwrap().stan(), Some("000001"));
}

#[test]
fn trailing_bytes() {
    let e = decode_err(&ascii(), b"08000020000000000000000001XY");
    assert_eq!(
        e.to_string(),
        "end of message at byte 26: 2 bytes left after the last field"
    );
    assert_eq!(e.part(), &Part::Trailing);
    assert_eq!(e.kind(), &ErrorKind::TrailingBytes(2));
    assert_eq!(e.partial().unwrap().stan(), Some("000001"));
}

// ---- encoding ----

#[test]
fn encode_wrong_fixed_length_and_too_long() {
    let e = encode_err(&ascii(), &msg("0800").with(11, "12345"));
    assert_eq!(
        e.to_string(),
        "field 11 (System Trace Audit Number) at byte 20: fixed length is 6, value has 5"
    );
    let e = encode_err(&ascii(), &msg("0100").with(2, "41111111111111111112"));
    assert_eq!(
        e.to_string(),
        "field 2 (Primary Account Number (PAN)) at byte 20: length prefix says 20, maximum is 19"
    );
    // Hex content counts characters: 256 bytes = 512 > 510.
    let e = encode_err(&ascii(), &msg("0100").with(55, vec![0u8; 256]));
    assert_eq!(
        e.to_string(),
        "field 55 (ICC data) at byte 20: length prefix says 512, maximum is 510"
    );
    // A binary fixed field of the wrong size; the offset follows the fields before it.
    let e = encode_err(
        &Spec::builtin("iso87-ascii-binary-bitmap").unwrap(),
        &msg("0200").with(11, "000001").with(52, vec![1u8; 7]),
    );
    assert_eq!(
        e.to_string(),
        "field 52 (PIN) at byte 18: fixed length is 8, value has 7"
    );
}

#[test]
fn encode_bad_content() {
    let e = encode_err(&ascii(), &msg("0800").with(11, "12a456"));
    assert_eq!(
        e.to_string(),
        "field 11 (System Trace Audit Number) at byte 20: expected a digit (class n) at position 2, found 'a' (0x61)"
    );
    let e = encode_err(&bcd(), &msg("0200").with(3, "00000A"));
    assert_eq!(
        e.to_string(),
        "field 3 (Processing Code) at byte 10: expected a digit (class n) at position 5, found 'A' (0x41)"
    );
    let e = encode_err(&bcd(), &msg("0200").with(35, "476A=25"));
    assert_eq!(
        e.to_string(),
        "field 35 (Track 2 Data) at byte 10: expected track data (class z: digits, = and separators) at position 3, found 'A' (0x41)"
    );
}

#[test]
fn encode_bad_field_numbers() {
    for n in [0u8, 1, 65] {
        let e = encode_err(&ascii(), &msg("0800").with(n, "1").with(11, "000001"));
        assert_eq!(
            e.to_string(),
            format!("field {n} at byte 4: not a data element number (2-192, except 65)")
        );
        assert_eq!(e.kind(), &ErrorKind::BadFieldNumber);
        let e = encode_err(&bcd(), &msg("0800").with(n, "1"));
        assert_eq!(e.offset(), 2);
    }
    let e = encode_err(&ascii(), &msg("0800").with(11, "000001").with(193, "1"));
    assert_eq!(e.kind(), &ErrorKind::BadFieldNumber, "{e}");
}

#[test]
fn encode_field_not_in_spec() {
    // Three bitmaps precede it: 4 + 3 * 16 = 52.
    let e = encode_err(&ascii(), &msg("0800").with(129, "1"));
    assert_eq!(
        e.to_string(),
        "field 129 at byte 52: the spec does not define this field"
    );
    let small = spec(
        "ascii",
        "hex",
        r#"{ number = 11, name = "STAN", length = "fixed", max = 6, class = "n" },"#,
    );
    let e = encode_err(&small, &msg("0800").with(11, "000001").with(70, "301"));
    assert_eq!(
        e.to_string(),
        "field 70 at byte 42: the spec does not define this field"
    );
}

#[test]
fn padded_values_report_the_position_in_the_value_given() {
    let spec = spec(
        "ascii",
        "hex",
        r#"
        { number = 4, name = "Amount", length = "fixed", max = 12, class = "n", pad = "zeros" },
        { number = 43, name = "Name", length = "fixed", max = 10, class = "ans", pad = "spaces" },
        "#,
    );
    let e = encode_err(&spec, &msg("0200").with(4, "12a"));
    assert_eq!(
        e.to_string(),
        "field 4 (Amount) at byte 20: expected a digit (class n) at position 2, found 'a' (0x61)"
    );
    let e = encode_err(&spec, &msg("0200").with(43, "A\tB"));
    assert_eq!(
        e.to_string(),
        "field 43 (Name) at byte 20: expected a printable character (class ans) at position 1, found 0x09"
    );
}

#[test]
fn bcd_counted_in_bytes_refuses_an_odd_digit_count() {
    // With lengths in bytes the decoder cannot tell a pad nibble from a digit: "12345" would come
    // back as "012345" (left-0) or not at all (right-f), so the encoder refuses it.
    for pad in ["left-0", "left-f", "right-0", "right-f"] {
        let spec = spec(
            "bcd",
            "binary",
            &format!(
                r#"{{ number = 60, name = "Packed", length = "LL", max = 20, class = "n", encoding = "bcd", prefix = "bcd", unit = "bytes", odd_pad = "{pad}" }},"#
            ),
        );
        let e = encode_err(&spec, &msg("0200").with(60, "12345"));
        assert_eq!(
            e.to_string(),
            "field 60 (Packed) at byte 10: packed BCD counted in bytes needs an even number of digits, value has 5"
        );
        assert_eq!(e.kind(), &ErrorKind::OddDigitCount(5));
        let wire = spec.encode(&msg("0200").with(60, "123456")).unwrap();
        assert_eq!(&wire[10..], &h("03 123456")[..]);
    }
}
