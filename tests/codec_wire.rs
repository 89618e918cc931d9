//! Hand-checked wire bytes for every content encoding, length kind, prefix encoding, bitmap kind and
//! padding rule. Each test states the exact bytes (hex) and decodes them back to the same message.

mod common;

use common::{h, hex, spec};
use iso8583_client::codec::ErrorKind;
use iso8583_client::{Message, Spec};

fn msg(mti: &str) -> Message {
    Message::new(mti.parse().unwrap())
}

/// `msg` encodes to exactly `wire`, and `wire` decodes to exactly `msg`.
#[track_caller]
fn both_ways(spec: &Spec, msg: &Message, wire: &[u8]) {
    let encoded = spec.encode(msg).unwrap_or_else(|e| panic!("encode: {e}"));
    assert_eq!(hex(&encoded), hex(wire), "encoded bytes");
    let decoded = spec.decode(wire).unwrap_or_else(|e| panic!("decode: {e}"));
    assert_eq!(decoded.mti(), msg.mti());
    let fields = |m: &Message| m.fields().map(|(n, v)| (n, v.to_vec())).collect::<Vec<_>>();
    assert_eq!(fields(&decoded), fields(msg), "decoded fields");
    assert_eq!(decoded, *msg, "decoded message");
}

#[test]
fn ascii_fixed_and_every_prefix_width() {
    let spec = spec(
        "ascii",
        "hex",
        r#"
        { number = 3, name = "Processing Code", length = "fixed", max = 6, class = "n" },
        { number = 24, name = "NII", length = "L", max = 9, class = "n" },
        { number = 32, name = "Acquirer", length = "LL", max = 11, class = "n" },
        { number = 48, name = "Private", length = "LLL", max = 999, class = "ans" },
        { number = 62, name = "Big", length = "LLLL", max = 9999, class = "ans" },
        "#,
    );
    let m = msg("0200")
        .with(3, "000000")
        .with(24, "123")
        .with(32, "12345")
        .with(48, "AB C")
        .with(62, "x");
    // bits 3 (byte 0: 20), 24 (byte 2: 01), 32 (byte 3: 01), 48 (byte 5: 01), 62 (byte 7: 04)
    let wire = h("30323030
        32303030 30313031 30303031 30303034
        303030303030
        33 313233
        3035 3132333435
        303034 41422043
        30303031 78");
    both_ways(&spec, &m, &wire);

    // LLLL with four significant digits: 1234 characters -> "1234".
    let long = "y".repeat(1234);
    let m = msg("0200").with(62, long.clone());
    let wire = [
        h("30323030 30303030 30303030 30303030 30303034 31323334"),
        long.into_bytes(),
    ]
    .concat();
    both_ways(&spec, &m, &wire);
}

#[test]
fn ebcdic_content_mti_and_length_prefix() {
    let spec = spec(
        "ebcdic",
        "binary",
        r#"
        { number = 41, name = "Terminal", length = "fixed", max = 8, class = "ans", encoding = "ebcdic" },
        { number = 44, name = "Response Data", length = "LL", max = 25, class = "ans", encoding = "ebcdic", prefix = "ebcdic" },
        { number = 48, name = "Private", length = "LLL", max = 999, class = "ans", encoding = "ascii", prefix = "ebcdic" },
        "#,
    );
    let m = msg("0800").with(41, "TERM 01a").with(44, "[x]!$@").with(48, "OK");
    // MTI F0 F8 F0 F0; bits 41, 44, 48 = byte 5: 80|10|01 = 91.
    // CP037 (not CP500): '[' = BA, ']' = BB, '!' = 5A, '$' = 5B, '@' = 7C, 'x' = A7, 'a' = 81, ' ' = 40.
    let wire = h("F0F8F0F0
        00000000 00910000
        E3C5D9D4 40F0F181
        F0F6 BAA7BB5A5B7C
        F0F0F2 4F4B");
    both_ways(&spec, &m, &wire);
}

fn bcd_pad_spec(pad: &str) -> Spec {
    spec(
        "bcd",
        "binary",
        &format!(
            r#"
            {{ number = 2, name = "PAN", length = "LL", max = 19, class = "n", encoding = "bcd", prefix = "bcd", odd_pad = "{pad}" }},
            {{ number = 22, name = "Entry Mode", length = "fixed", max = 3, class = "n", encoding = "bcd", odd_pad = "{pad}" }},
            "#
        ),
    )
}

#[test]
fn bcd_odd_digit_counts_with_each_pad() {
    // MTI 01 00; bits 2 (byte 0: 40) and 22 (byte 2: 04); PAN "12345" = LL 05; DE 22 "051".
    for (pad, pan, de22) in [
        ("left-0", "01 23 45", "00 51"),
        ("left-f", "F1 23 45", "F0 51"),
        ("right-0", "12 34 50", "05 10"),
        ("right-f", "12 34 5F", "05 1F"),
    ] {
        let spec = bcd_pad_spec(pad);
        let m = msg("0100").with(2, "12345").with(22, "051");
        let wire = h(&format!("0100 4000040000000000 05 {pan} {de22}"));
        both_ways(&spec, &m, &wire);
        // An even count has no pad nibble, whatever the rule.
        let m = msg("0100").with(2, "1234");
        both_ways(&spec, &m, &h("0100 4000000000000000 04 1234"));
    }
}

#[test]
fn bcd_lengths_in_digits_or_bytes_and_bcd_prefix_widths() {
    let spec = spec(
        "bcd",
        "binary",
        r#"
        { number = 3, name = "Code", length = "fixed", max = 3, class = "n", encoding = "bcd", unit = "bytes" },
        { number = 48, name = "Digits", length = "LL", max = 10, class = "n", encoding = "bcd", prefix = "bcd" },
        { number = 61, name = "Bytes", length = "LL", max = 5, class = "n", encoding = "bcd", prefix = "bcd", unit = "bytes" },
        "#,
    );
    // bits 3 (byte 0: 20), 48 (byte 5: 01), 61 (byte 7: 08). Fixed 3 bytes = 6 digits.
    // The same six digits: LL 06 when counting digits, LL 03 when counting bytes.
    let m = msg("0200").with(3, "000000").with(48, "123456").with(61, "123456");
    let wire = h("0200 2000000000010008 000000 06 123456 03 123456");
    both_ways(&spec, &m, &wire);

    // The maximum is in the same unit: 11 digits > 10; 12 digits = 6 bytes > 5.
    let err = spec.encode(&msg("0200").with(48, "12345678901")).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::LengthOverMax { found: 11, max: 10 });
    let err = spec.encode(&msg("0200").with(61, "123456789012")).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::LengthOverMax { found: 6, max: 5 });

    // BCD prefixes: L = 1 byte, LLL = 2 bytes (13 = 00 13), LLLL = 2 bytes.
    let spec = spec_bcd_prefixes();
    let m = msg("0200").with(24, "12345").with(36, "1234567890123").with(62, "AB");
    // bits 24 (byte 2: 01), 36 (byte 4: 10), 62 (byte 7: 04)
    let wire = h("0200 0000010010000004 05 012345 0013 01234567890123 0002 4142");
    both_ways(&spec, &m, &wire);
}

fn spec_bcd_prefixes() -> Spec {
    spec(
        "bcd",
        "binary",
        r#"
        { number = 24, name = "L", length = "L", max = 9, class = "n", encoding = "bcd", prefix = "bcd" },
        { number = 36, name = "LLL", length = "LLL", max = 104, class = "n", encoding = "bcd", prefix = "bcd" },
        { number = 62, name = "LLLL", length = "LLLL", max = 1000, class = "ans", prefix = "bcd" },
        "#,
    )
}

#[test]
fn bcd_track_separator_is_nibble_d() {
    let spec = Spec::builtin("iso87-bcd").unwrap();
    // 21 characters: LL 21, a 0 pad nibble on the left, '=' as D.
    let m = msg("0200").with(35, "4761739001010119=2512");
    let wire = h("0200 0000000020000000 21 0476173900101011 9D2512");
    both_ways(&spec, &m, &wire);
    // 'D' as the separator (as the vectors show it) encodes the same and reads back as '='.
    let with_d = msg("0200").with(35, "4761739001010119D2512");
    assert_eq!(hex(&spec.encode(&with_d).unwrap()), hex(&wire));
    // Other track characters ':' ... '?' are nibbles A-F: "1?" = 02 1F.
    both_ways(&spec, &msg("0200").with(35, "1?"), &h("0200 0000000020000000 02 1F"));
    // In an ASCII spec the separator stays the character '=' (3D).
    let ascii = Spec::builtin("iso87-ascii").unwrap();
    let m = msg("0200").with(35, "41=25");
    let wire = [
        common::a("0200"),
        common::a("0000000020000000"),
        "3035 34313D3235".to_string(),
    ]
    .concat();
    both_ways(&ascii, &m, &h(&wire));
}

#[test]
fn binary_content_with_one_and_two_byte_binary_prefixes() {
    let spec = spec(
        "ascii",
        "hex",
        r#"
        { number = 47, name = "Tiny", length = "L", max = 9, class = "b", encoding = "binary", prefix = "binary" },
        { number = 48, name = "Small", length = "LL", max = 99, class = "b", encoding = "binary", prefix = "binary" },
        { number = 55, name = "ICC", length = "LLL", max = 999, class = "b", encoding = "binary", prefix = "binary" },
        { number = 62, name = "Huge", length = "LLLL", max = 9999, class = "b", encoding = "binary", prefix = "binary" },
        "#,
    );
    let all: Vec<u8> = (0..=255u8).collect();
    let m = msg("0100")
        .with(47, vec![0x00])
        .with(48, vec![0xDE, 0xAD])
        .with(55, all.clone())
        .with(62, vec![0xFF; 3]);
    // bits 47, 48 (byte 5: 02|01 = 03), 55 (byte 6: 02), 62 (byte 7: 04) -> "0000000000030204"
    // L and LL: one byte; LLL and LLLL: two bytes big-endian (256 = 01 00).
    let wire = [
        h("30313030 30303030 30303030 30303033 30323034"),
        h("01 00  02 DEAD  0100"),
        all,
        h("0003 FFFFFF"),
    ]
    .concat();
    both_ways(&spec, &m, &wire);
}

#[test]
fn hex_content_is_binary_shown_as_ascii_hex() {
    let ascii = Spec::builtin("iso87-ascii").unwrap();
    let m = msg("0100")
        .with(52, vec![0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF])
        .with(55, vec![0x9F, 0x02]);
    // bits 52 (byte 6: 10) and 55 (byte 6: 02) -> "0000000000001200"; DE 55 length counts hex characters: "004".
    let wire = [
        common::a("0100"),
        common::a("0000000000001200"),
        common::a("0123456789ABCDEF"),
        common::a("004"),
        common::a("9F02"),
    ]
    .concat();
    both_ways(&ascii, &m, &h(&wire));
    // Lowercase hex decodes to the same bytes.
    let lower = b"010000000000000012000123456789abcdef0049f02";
    assert_eq!(ascii.decode(lower).unwrap(), m);

    // The same message with raw binary bitmap and binary DE 52/55 (LLL counts bytes: "002").
    let binary = Spec::builtin("iso87-ascii-binary-bitmap").unwrap();
    let wire = h("30313030 0000000000001200 0123456789ABCDEF 303032 9F02");
    both_ways(&binary, &m, &wire);
}

#[test]
fn secondary_bitmap_in_hex_and_binary() {
    let m = msg("0800").with(11, "000001").with(70, "301");
    // Primary: bit 1 (secondary follows) and bit 11 = 80 20 ...; secondary: bit 70 = 04 ...
    let hex_spec = Spec::builtin("iso87-ascii").unwrap();
    let wire = [
        common::a("0800"),
        common::a("8020000000000000"),
        common::a("0400000000000000"),
        common::a("000001301"),
    ]
    .concat();
    both_ways(&hex_spec, &m, &h(&wire));
    let bin_spec = Spec::builtin("iso87-ascii-binary-bitmap").unwrap();
    let wire = h("30383030 8020000000000000 0400000000000000 303030303031 333031");
    both_ways(&bin_spec, &m, &wire);
    // Without a field above 64 there is no secondary bitmap and bit 1 stays clear.
    let m = msg("0800").with(11, "000001");
    both_ways(&bin_spec, &m, &h("30383030 0020000000000000 303030303031"));
    // Decoding accepts lowercase hex bitmaps (bits 1-4 = f0); encoding writes uppercase.
    let lower = b"0200f0000000000000000400000000000000041234000000000000001000301";
    let m = hex_spec.decode(lower).unwrap();
    let want = msg("0200")
        .with(2, "1234")
        .with(3, "000000")
        .with(4, "000000001000")
        .with(70, "301");
    assert_eq!(m, want);
    assert_eq!(&hex_spec.encode(&m).unwrap()[..], &lower.to_ascii_uppercase()[..]);
}

#[test]
fn tertiary_bitmap_for_fields_above_128() {
    let fields = r#"
        { number = 11, name = "STAN", length = "fixed", max = 6, class = "n" },
        { number = 130, name = "Extended", length = "fixed", max = 3, class = "n" },
        { number = 192, name = "Last", length = "LL", max = 10, class = "ans" },
    "#;
    let m = msg("0800").with(11, "000001").with(130, "123").with(192, "Z");
    // Primary: bits 1 and 11; secondary: bit 65 only (tertiary follows); tertiary: bits 130 (40) and 192 (01).
    let hex_spec = spec("ascii", "hex", fields);
    let wire = [
        common::a("0800"),
        common::a("8020000000000000"),
        common::a("8000000000000000"),
        common::a("4000000000000001"),
        common::a("000001"),
        common::a("123"),
        common::a("01Z"),
    ]
    .concat();
    both_ways(&hex_spec, &m, &h(&wire));
    let bin_spec = spec("ascii", "binary", fields);
    let wire = h("30383030 8020000000000000 8000000000000000 4000000000000001 303030303031 313233 3031 5A");
    both_ways(&bin_spec, &m, &wire);
    // Only a field above 128: bit 1 and bit 65 set, nothing else before the tertiary bitmap.
    let m = msg("0800").with(130, "999");
    let wire = h("30383030 8000000000000000 8000000000000000 4000000000000000 393939");
    both_ways(&bin_spec, &m, &wire);
}

#[test]
fn fixed_fields_padded_only_where_the_spec_says() {
    let spec = spec(
        "ascii",
        "hex",
        r#"
        { number = 4, name = "Amount", length = "fixed", max = 12, class = "n", pad = "zeros" },
        { number = 11, name = "STAN", length = "fixed", max = 6, class = "n" },
        { number = 43, name = "Name", length = "fixed", max = 10, class = "ans", pad = "spaces" },
        "#,
    );
    let short = msg("0200").with(4, "1000").with(11, "000001").with(43, "SHOP");
    // bits 4 (byte 0: 10), 11 (byte 1: 20), 43 (byte 5: 20)
    let wire = [
        common::a("0200"),
        common::a("1020000000200000"),
        common::a("000000001000"),
        common::a("000001"),
        common::a("SHOP      "),
    ]
    .concat();
    let wire = h(&wire);
    assert_eq!(hex(&spec.encode(&short).unwrap()), hex(&wire));
    let full = msg("0200")
        .with(4, "000000001000")
        .with(11, "000001")
        .with(43, "SHOP      ");
    both_ways(&spec, &full, &wire);

    // No pad rule: a short value is an error, not padded.
    let err = spec.encode(&full.clone().with(11, "123")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "field 11 (STAN) at byte 32: fixed length is 6, value has 3"
    );
    assert_eq!(err.kind(), &ErrorKind::WrongLength { expected: 6, found: 3 });
    // A pad rule never truncates: too long is an error.
    let err = spec.encode(&full.clone().with(4, "1234567890123")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "field 4 (Amount) at byte 20: fixed length is 12, value has 13"
    );

    // Zero padding of packed BCD, space padding of EBCDIC (40).
    let spec = spec_padded_bcd_ebcdic();
    let m = msg("0200").with(4, "1000").with(43, "AB");
    let wire = h("0200 1000000000200000 000000001000 C1C2404040");
    assert_eq!(hex(&spec.encode(&m).unwrap()), hex(&wire));
    let back = spec.decode(&wire).unwrap();
    assert_eq!(back.get_str(4), Some("000000001000"));
    assert_eq!(back.get_str(43), Some("AB   "));
}

fn spec_padded_bcd_ebcdic() -> Spec {
    spec(
        "bcd",
        "binary",
        r#"
        { number = 4, name = "Amount", length = "fixed", max = 12, class = "n", encoding = "bcd", pad = "zeros" },
        { number = 43, name = "Name", length = "fixed", max = 5, class = "ans", encoding = "ebcdic", pad = "spaces" },
        "#,
    )
}

#[test]
fn xn_amounts_are_c_or_d_then_digits() {
    let spec = spec(
        "ascii",
        "hex",
        r#"
        { number = 28, name = "Fee", length = "fixed", max = 9, class = "xn" },
        { number = 46, name = "Amounts", length = "LLL", max = 999, class = "xn" },
        "#,
    );
    let m = msg("0200").with(28, "D00000100").with(46, "C12");
    // bits 28 (byte 3: 10) and 46 (byte 5: 04)
    let wire = [
        common::a("0200"),
        common::a("0000001000040000"),
        "44 3030303030313030".into(),
        "303033 433132".into(),
    ]
    .concat();
    both_ways(&spec, &m, &h(&wire));

    let err = spec.encode(&msg("0200").with(28, "X00000100")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "field 28 (Fee) at byte 20: expected C or D then digits (class xn) at position 0, found 'X' (0x58)"
    );
    let err = spec.encode(&msg("0200").with(28, "DC0000100")).unwrap_err();
    assert_eq!(
        err.kind(),
        &ErrorKind::BadContent {
            class: iso8583_client::spec::ContentClass::Xn,
            position: 1,
            found: b'C'
        }
    );
}

#[test]
fn builtin_bcd_authorization() {
    let spec = Spec::builtin("iso87-bcd").unwrap();
    let m = msg("0200")
        .with(2, "4761739001010119")
        .with(3, "000000")
        .with(4, "000000001000")
        .with(11, "000001")
        .with(22, "051")
        .with(41, "TERM0001")
        .with(49, "978")
        .with(52, vec![0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xDE, 0xF0]);
    // bits 2,3,4 (byte 0: 70), 11 (byte 1: 20), 22 (byte 2: 04), 41 (byte 5: 80), 49, 52 (byte 6: 80|10 = 90)
    // PAN LL 16 (BCD); DE 22 three digits left-padded: 00 51; DE 41 ASCII; DE 49 "978" = 09 78; DE 52 raw.
    let wire = h("0200 7020040000809000
        16 4761739001010119
        000000
        000000001000
        000001
        0051
        5445524D30303031
        0978
        123456789ABCDEF0");
    both_ways(&spec, &m, &wire);
}

#[test]
fn empty_variable_field_and_message_without_fields() {
    let spec = Spec::builtin("iso87-ascii").unwrap();
    // LL 00: an empty value is a value.
    both_ways(
        &spec,
        &msg("0100").with(2, ""),
        &h("30313030 34303030303030303030303030303030 3030"),
    );
    // No fields at all: MTI and an empty primary bitmap.
    both_ways(&spec, &msg("0800"), &h("30383030 30303030303030303030303030303030"));
}

#[test]
fn encode_into_appends_and_leaves_the_buffer_alone_on_error() {
    let spec = Spec::builtin("iso87-ascii").unwrap();
    let mut out = bytes::BytesMut::from(&b"HDR"[..]);
    spec.encode_into(&msg("0800").with(70, "301"), &mut out).unwrap();
    let expected = concat!("HDR", "0800", "8000000000000000", "0400000000000000", "301");
    assert_eq!(&out[..], expected.as_bytes());
    let before = out.clone();
    assert!(spec.encode_into(&msg("0800").with(70, "30"), &mut out).is_err());
    assert_eq!(out, before);
}

#[test]
fn decode_bytes_shares_the_buffer_and_matches_decode() {
    let spec = Spec::builtin("iso87-ascii").unwrap();
    let wire = bytes::Bytes::from_static(b"080080200000000000000400000000000000000001301");
    let shared = spec.decode_bytes(wire.clone()).unwrap();
    assert_eq!(shared, spec.decode(&wire).unwrap());
    let stan = shared.get_bytes(11).unwrap();
    // The value points into the received buffer (no copy).
    let range = wire.as_ptr() as usize..wire.as_ptr() as usize + wire.len();
    assert!(range.contains(&(stan.as_ptr() as usize)));
}

#[test]
fn zero_padding_of_bcd_counted_in_bytes_fills_whole_bytes() {
    let spec = spec(
        "bcd",
        "binary",
        r#"{ number = 4, name = "Amount", length = "fixed", max = 6, class = "n", encoding = "bcd", unit = "bytes", pad = "zeros" },"#,
    );
    // Six bytes = twelve digits: "1000" is padded with eight zeros, not two.
    let wire = h("0200 1000000000000000 000000001000");
    assert_eq!(hex(&spec.encode(&msg("0200").with(4, "1000")).unwrap()), hex(&wire));
    both_ways(&spec, &msg("0200").with(4, "000000001000"), &wire);
}

/// Packed BCD against a reference packer written out nibble by nibble: every pad rule, classes `n`
/// and `z` (track characters `0x3A..=0x3F` and `D`), lengths 0 to 70 (the eight-at-a-time path
/// and its tail), and characters that have no nibble (refused, naming the first one's position).
#[test]
fn packed_bcd_matches_a_nibble_by_nibble_reference() {
    let mut rng = fastrand::Rng::with_seed(11);
    for pad in ["left-0", "left-f", "right-0", "right-f"] {
        let spec = spec(
            "ascii",
            "hex",
            &format!(
                r#"
                {{ number = 32, name = "N", length = "LLL", max = 99, class = "n", encoding = "bcd", prefix = "ascii", odd_pad = "{pad}" }},
                {{ number = 35, name = "Z", length = "LLL", max = 99, class = "z", encoding = "bcd", prefix = "ascii", odd_pad = "{pad}" }},
                "#
            ),
        );
        let pad_nibble = if pad.ends_with('f') { 0xF } else { 0 };
        for _ in 0..3000 {
            let (field, alphabet): (u8, &[u8]) = if rng.bool() {
                (32, b"0123456789")
            } else {
                (35, b"0123456789:;<=>?D")
            };
            let len = rng.usize(0..71);
            let mut value: Vec<u8> = (0..len).map(|_| alphabet[rng.usize(0..alphabet.len())]).collect();
            let bad = len > 0 && rng.u8(0..8) == 0;
            if bad {
                let at = rng.usize(0..len);
                value[at] = [b'a', b' ', b'D', b'=', 0xff, b'/'][rng.usize(0..6)];
            }
            let nibble = |c: u8| match c {
                b'0'..=b'9' => Some(c - b'0'),
                0x3A..=0x3F if field == 35 => Some(c - 0x30),
                b'D' if field == 35 => Some(0xD),
                _ => None,
            };
            let first_bad = value.iter().position(|c| nibble(*c).is_none());
            let m = msg("0200").with(field, value.clone());
            match (spec.encode(&m), first_bad) {
                (Ok(wire), None) => {
                    let mut nibbles: Vec<u8> = value.iter().map(|c| nibble(*c).unwrap()).collect();
                    if len % 2 == 1 {
                        if pad.starts_with("left") {
                            nibbles.insert(0, pad_nibble);
                        } else {
                            nibbles.push(pad_nibble);
                        }
                    }
                    let packed: Vec<u8> = nibbles.chunks(2).map(|p| p[0] << 4 | p[1]).collect();
                    let mut want = format!("{len:03}").into_bytes();
                    want.extend_from_slice(&packed);
                    // MTI (4) and primary bitmap (16 hex characters) come first.
                    assert_eq!(hex(&wire[20..]), hex(&want), "{pad} field {field} {value:?}");
                }
                (Err(e), Some(at)) => match e.kind() {
                    ErrorKind::BadContent { position, found, .. } => {
                        assert_eq!((*position, *found), (at, value[at]), "{pad} {value:?}")
                    }
                    other => panic!("{pad} {value:?}: {other:?}"),
                },
                (got, want) => {
                    panic!("{pad} field {field} {value:?}: encode gave {got:?}, first bad character {want:?}")
                }
            }
        }
    }
}
