//! Composite fields: hand-checked wire bytes for every kind of sub-structure and for nesting,
//! paths, building, the encoder's check, masking per tag, and hostile sub-structures.

use iso8583_client::codec::ErrorKind;
use iso8583_client::message::{PartValue, PathErrorKind};
use iso8583_client::spec::CompositeKind;
use iso8583_client::spec::Sensitivity;
use iso8583_client::{Message, Spec};

fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// A 15-tag EMV DE 55 of a contact purchase, tag by tag (tag, length, value):
const ICC: &str = "
    9F26 08 7A6F1B2C8D1E4F55
    9F27 01 80
    9F10 12 0110A00003220000000000000000000000FF
    9F37 04 2E4D7F11
    9F36 02 000E
    95   05 0000008000
    9A   03 261201
    9C   01 00
    9F02 06 000000001000
    5F2A 02 0978
    82   02 5800
    9F1A 02 0250
    9F33 03 E0F8C8
    9F34 03 1E0300
    9F35 01 22";

/// A test network's spec: DE 43 and 90 positional, DE 48 TLV (Mastercard style), DE 55 BER-TLV
/// (strict), DE 127 with a sub-bitmap (Postilion style) whose sub-field 22 is itself TLV.
const NET: &str = r#"
name = "net"
mti = "ascii"
bitmap = "hex"
fields = [
  { number = 11, name = "STAN", length = "fixed", max = 6, class = "n" },
  { number = 43, name = "Card Acceptor Name/Location", length = "fixed", max = 40, class = "ans", composite = { kind = "positional", parts = [
      { number = 1, name = "Name", length = "fixed", max = 22, class = "ans" },
      { number = 2, name = "City", length = "fixed", max = 13, class = "ans" },
      { number = 3, name = "Country", length = "fixed", max = 2, class = "ans" },
      { number = 4, name = "Country Code", length = "fixed", max = 3, class = "n" } ] } },
  { number = 48, name = "Additional Data - Private", length = "LLL", max = 999, class = "ans", composite = { kind = "tlv", tag_len = 2, len_len = 2, parts = [
      { tag = "22", name = "Multi-Purpose Merchant Indicator", class = "n" },
      { tag = "42", name = "Electronic Commerce Indicators", class = "n" },
      { tag = "77", name = "Transaction Type Indicator", class = "ans", sensitivity = "secret" } ] } },
  { number = 55, name = "ICC data", length = "LLL", max = 255, class = "b", encoding = "binary", sensitivity = "secret", composite = { kind = "ber-tlv", parts = [ { tag = "DF01", name = "Network Private", sensitivity = "secret" } ] } },
  { number = 90, name = "Original Data Elements", length = "fixed", max = 42, class = "n", composite = { kind = "positional", parts = [
      { number = 1, name = "Original MTI", length = "fixed", max = 4, class = "n" },
      { number = 2, name = "Original STAN", length = "fixed", max = 6, class = "n" },
      { number = 3, name = "Original Transmission Date and Time", length = "fixed", max = 10, class = "n" },
      { number = 4, name = "Acquiring Institution ID", length = "fixed", max = 11, class = "n", pad = "zeros" },
      { number = 5, name = "Forwarding Institution ID", length = "fixed", max = 11, class = "n", pad = "zeros" } ] } },
  { number = 127, name = "Postilion Private", length = "LLLL", max = 9999, class = "b", encoding = "binary", composite = { kind = "bitmap", bitmap = "binary", bitmap_bytes = 8, parts = [
      { number = 2, name = "Switch Key", length = "LL", max = 32, class = "ans" },
      { number = 3, name = "Routing Information", length = "fixed", max = 8, class = "ans" },
      { number = 13, name = "POS Geographic Data", length = "fixed", max = 5, class = "ans" },
      { number = 22, name = "Structured Data", length = "LLL", max = 999, class = "ans", composite = { kind = "tlv", tag_len = 2, len_len = 3 } } ] } },
]"#;

fn net() -> Spec {
    Spec::from_toml(NET, "net.toml").unwrap()
}

fn msg_for(spec: &Spec) -> Message {
    let mut m = Message::new("0200".parse().unwrap());
    m.use_spec(spec);
    m
}

#[test]
fn emv_de55_lists_its_15_tags_with_names_values_and_offsets() {
    let msg = Message::new("0200".parse().unwrap()).with(55, unhex(ICC));
    let parts = msg.parts(55).unwrap();
    let got: Vec<(&str, &str, String, usize)> = parts
        .iter()
        .map(|p| (p.id(), p.name(), p.shown(true), p.offset()))
        .collect();
    let want = [
        ("9F26", "Application Cryptogram", "7A6F1B2C8D1E4F55", 0),
        ("9F27", "Cryptogram Information Data", "80", 11),
        (
            "9F10",
            "Issuer Application Data",
            "0110A00003220000000000000000000000FF",
            15,
        ),
        ("9F37", "Unpredictable Number", "2E4D7F11", 36),
        ("9F36", "Application Transaction Counter (ATC)", "000E", 43),
        ("95", "Terminal Verification Results", "0000008000", 48),
        ("9A", "Transaction Date", "261201", 55),
        ("9C", "Transaction Type", "00", 60),
        ("9F02", "Amount, Authorised (Numeric)", "000000001000", 63),
        ("5F2A", "Transaction Currency Code", "0978", 72),
        ("82", "Application Interchange Profile", "5800", 77),
        ("9F1A", "Terminal Country Code", "0250", 81),
        ("9F33", "Terminal Capabilities", "E0F8C8", 86),
        ("9F34", "Cardholder Verification Method (CVM) Results", "1E0300", 92),
        ("9F35", "Terminal Type", "22", 98),
    ];
    assert_eq!(got.len(), 15);
    for (g, w) in got.iter().zip(want) {
        assert_eq!((g.0, g.1, g.2.as_str(), g.3), w);
    }
    assert_eq!(unhex(ICC).len(), 102);
    assert_eq!(
        msg.get_path("55.9F02").unwrap().as_deref(),
        Some(&unhex("000000001000")[..])
    );
    assert_eq!(
        msg.get_path("55.9f26").unwrap().as_deref(),
        Some(&unhex("7A6F1B2C8D1E4F55")[..])
    );
    assert_eq!(msg.get_path("55.9F03").unwrap(), None);
}

#[test]
fn every_builtin_declares_de55_as_ber_tlv_and_decodes_it_on_demand() {
    for name in iso8583_client::spec::BUILTIN_SPECS {
        let spec = Spec::builtin(name).unwrap();
        let c = spec.field(55).unwrap().composite().unwrap_or_else(|| panic!("{name}"));
        assert!(matches!(c.kind(), CompositeKind::BerTlv { .. }), "{name}");
        let msg = Message::new("0200".parse().unwrap())
            .with(11, "000001")
            .with(55, unhex(ICC));
        let wire = spec.encode(&msg).unwrap();
        let back = spec.decode(&wire).unwrap();
        assert_eq!(
            back.get_path("55.9F36").unwrap().as_deref(),
            Some(&[0x00, 0x0E][..]),
            "{name}"
        );
        // Arbitrary bytes in DE 55 still decode and encode (the vectors carry such); asking for the
        // parts is what fails.
        let junk = Message::new("0200".parse().unwrap()).with(55, vec![0x9F, 0x26, 0x08, 1]);
        let wire = spec.encode(&junk).unwrap();
        let back = spec.decode(&wire).unwrap();
        assert_eq!(
            back.parts(55).unwrap_err().to_string(),
            "field 55 tag 9F26 at byte 0: length 8 runs past the end (1 bytes left)"
        );
    }
}

#[test]
fn error_names_path_and_offset_exactly() {
    // 82 02 5800 | 9F27 01 80 | 9C 01 00 | 00 (padding) | 9F26 08 + only 5 bytes
    let v = unhex("82025800 9F270180 9C0100 00 9F2608 0102030405");
    let msg = Message::new("0200".parse().unwrap()).with(55, v);
    let err = msg.get_path("55.9F26").unwrap_err();
    assert_eq!(
        err.to_string(),
        "field 55 tag 9F26 at byte 12: length 8 runs past the end (5 bytes left)"
    );
    assert_eq!(err.kind(), &PathErrorKind::PastEnd { len: 8, left: 5 });
    assert_eq!((err.field(), err.path(), err.offset()), (55, "tag 9F26", Some(12)));
}

#[test]
fn ber_tlv_constructed_padding_long_lengths_and_unknown_tags() {
    // 70 (template) holding 5A and 9F20; 00 00 padding; DF7F unknown, kept; 91 with 81-form length.
    let long = vec![0xAB; 130];
    let mut v = unhex("70 0E 5A 08 4761739001010119 9F20 01 99 0000 DF7F 02 CAFE 91 81 82");
    v.extend_from_slice(&long);
    let msg = Message::new("0200".parse().unwrap()).with(55, v.clone());
    let parts = msg.parts(55).unwrap();
    assert_eq!(parts.iter().map(|p| p.id()).collect::<Vec<_>>(), ["70", "DF7F", "91"]);
    let inner = parts[0].children().unwrap();
    assert_eq!(inner.iter().map(|p| p.id()).collect::<Vec<_>>(), ["5A", "9F20"]);
    assert_eq!(inner[0].sensitivity(), Sensitivity::Pan);
    assert_eq!(inner[0].to_string(), "476173******0119");
    assert_eq!(inner[1].to_string(), "**"); // track 2 discretionary data: secret
    assert_eq!((parts[1].name(), parts[1].shown(true)), ("", "CAFE".to_owned()));
    // An unknown tag is as sensitive as its field (DE 55: secret).
    assert_eq!(parts[1].to_string(), "****");
    assert_eq!(parts[2].value(), &long[..]);
    assert_eq!(
        msg.get_path("55.70.5A").unwrap().as_deref(),
        Some(&unhex("4761739001010119")[..])
    );
    // Setting a part keeps the unknown tag, byte-exact and in order (padding dropped).
    let mut m2 = msg.clone();
    m2.set_path("55.70.9F20", vec![0x42]).unwrap();
    let mut want = unhex("70 0E 5A 08 4761739001010119 9F20 01 42 DF7F 02 CAFE 91 81 82");
    want.extend_from_slice(&long);
    assert_eq!(m2.get(55).unwrap(), &want[..]);
}

#[test]
fn positional_de90_and_de43() {
    let spec = net();
    let wire = concat!(
        "0400",
        "0020000000000000",
        "0000004000000000",
        "000043",
        "020000004211272030150000001234500000067890"
    );
    // DE 11 and DE 90: the primary bitmap has bit 1 (secondary) and bit 11.
    let wire = wire.replacen("0020000000000000", "8020000000000000", 1);
    let msg = spec.decode(wire.as_bytes()).unwrap();
    let parts = msg.parts(90).unwrap();
    let shown: Vec<(&str, &str, String)> = parts.iter().map(|p| (p.id(), p.name(), p.shown(true))).collect();
    assert_eq!(
        shown,
        [
            ("1", "Original MTI", "0200".to_owned()),
            ("2", "Original STAN", "000042".to_owned()),
            ("3", "Original Transmission Date and Time", "1127203015".to_owned()),
            ("4", "Acquiring Institution ID", "00000012345".to_owned()),
            ("5", "Forwarding Institution ID", "00000067890".to_owned()),
        ]
    );
    assert_eq!(msg.get_path("90.2").unwrap().as_deref(), Some(&b"000042"[..]));
    assert_eq!(parts[2].offset(), 10);

    let mut m = msg_for(&spec);
    m.set_path("43.1", "ACME STORE 42         ").unwrap();
    m.set_path("43.2", "SPRINGFIELD  ").unwrap();
    m.set_path("43.3", "US").unwrap();
    m.set_path("43.4", "840").unwrap();
    assert_eq!(m.get_str(43), Some("ACME STORE 42         SPRINGFIELD  US840"));
    // Missing fixed sub-fields are filled until set.
    let mut r = msg_for(&spec);
    r.set_path("90.1", "0200").unwrap().set_path("90.4", "12345").unwrap();
    assert_eq!(r.get_str(90), Some("020000000000000000000000001234500000000000"));
    // A bad sub-field says which.
    let err = r.set_path("90.2", "12AB56").unwrap_err();
    assert_eq!(
        err.to_string(),
        "field 90 sub-field 2 at byte 4: expected a digit (class n) at position 2, found 'A' (0x41)"
    );
    let err = r.set_path("90.7", "1").unwrap_err();
    assert_eq!(err.to_string(), "field 90: no part 7 in this structure");
}

#[test]
fn postilion_de127_with_a_sub_bitmap_and_nested_tlv() {
    let spec = net();
    // Sub-bitmap 62 08 04 ...: bits 2, 3, 7? no: 0x60 = bits 2 and 3; 0x08 in byte 2 = bit 13;
    // 0x04 in byte 3 = bit 22.
    let mut v = unhex("6008040000000000");
    v.extend_from_slice(b"05SWKEY");
    v.extend_from_slice(b"ROUTE001");
    v.extend_from_slice(b"US840");
    v.extend_from_slice(b"014AB003xyzCD001z");
    let msg = msg_for(&spec).with(127, v.clone());
    let parts = msg.parts(127).unwrap();
    assert_eq!(parts.iter().map(|p| p.id()).collect::<Vec<_>>(), ["2", "3", "13", "22"]);
    assert_eq!(parts[0].shown(false), "SWKEY");
    assert_eq!(parts[0].offset(), 8);
    let nested = parts[3].children().unwrap();
    assert_eq!(
        nested.iter().map(|p| (p.id(), p.shown(true))).collect::<Vec<_>>(),
        [("AB", "xyz".to_owned()), ("CD", "z".to_owned())]
    );
    assert_eq!(msg.get_path("127.22.CD").unwrap().as_deref(), Some(&b"z"[..]));

    // Built from parts, the same bytes; and set_path edits in place.
    let mut b = msg_for(&spec);
    b.set_parts(
        127,
        vec![
            (
                "22".into(),
                PartValue::Parts(vec![
                    ("AB".into(), PartValue::Text("xyz".into())),
                    ("CD".into(), PartValue::Text("z".into())),
                ]),
            ),
            ("2".into(), PartValue::Text("SWKEY".into())),
            ("3".into(), PartValue::Text("ROUTE001".into())),
            ("13".into(), PartValue::Text("US840".into())),
        ],
    )
    .unwrap();
    assert_eq!(b.get(127).unwrap(), &v[..]);
    b.set_path("127.22.CD", "zz").unwrap();
    assert_eq!(b.get_path("127.22").unwrap().as_deref(), Some(&b"AB003xyzCD002zz"[..]));

    // A sub-bitmap announcing a sub-field that is not there: a typed error, not a panic.
    let short = msg_for(&spec).with(127, unhex("6000000000000000 3035"));
    assert_eq!(
        short.parts(127).unwrap_err().to_string(),
        "field 127 sub-field 2 at byte 8: length 5 runs past the end (0 bytes left)"
    );
    let absent = msg_for(&spec).with(127, unhex("2000000000000000"));
    assert_eq!(
        absent.parts(127).unwrap_err().to_string(),
        "field 127 sub-field 3 at byte 8: ends too early: needs 8 bytes, 0 left"
    );
    let undefined = msg_for(&spec).with(127, unhex("0100000000000000"));
    assert_eq!(
        undefined.parts(127).unwrap_err().to_string(),
        "field 127 at byte 0: the sub-bitmap announces sub-field 8, which the spec does not define"
    );
}

#[test]
fn mastercard_de48_tlv_keeps_unknown_tags_and_masks_per_tag() {
    let spec = net();
    let msg = msg_for(&spec).with(48, "2201142072101000990399977".to_owned() + "03ABC");
    let parts = msg.parts(48).unwrap();
    let got: Vec<(&str, &str, String)> = parts.iter().map(|p| (p.id(), p.name(), p.to_string())).collect();
    assert_eq!(
        got,
        [
            ("22", "Multi-Purpose Merchant Indicator", "1".to_owned()),
            ("42", "Electronic Commerce Indicators", "2101000".to_owned()),
            ("99", "", "999".to_owned()),
            ("77", "Transaction Type Indicator", "***".to_owned()),
        ]
    );
    assert_eq!(msg.get_path("48.42").unwrap().as_deref(), Some(&b"2101000"[..]));
    let mut m = msg.clone();
    m.set_path("48.22", "2").unwrap().set_path("48.61", "00000").unwrap();
    assert_eq!(
        m.get_str(48),
        Some("2201242072101000990399977 03ABC6105 00000".replace(' ', "").as_str())
    );
    let bad = msg_for(&spec).with(48, "2201A");
    assert_eq!(
        bad.parts(48).unwrap_err().to_string(),
        "field 48 tag 22 at byte 0: expected a digit (class n) at position 0, found 'A' (0x41)"
    );
}

#[test]
fn strict_structures_are_checked_when_encoding() {
    let spec = net();
    let m = msg_for(&spec).with(55, unhex("9F2608 0102"));
    let err = spec.encode(&m).unwrap_err();
    assert_eq!(
        err.to_string(),
        "field 55 (ICC data) at byte 20: sub-structure: tag 9F26 at byte 0: length 8 runs past the end (2 bytes left)"
    );
    assert!(matches!(err.kind(), ErrorKind::BadStructure(_)));
    let ok = msg_for(&spec).with(55, unhex(ICC));
    let wire = spec.encode(&ok).unwrap();
    assert_eq!(spec.decode(&wire).unwrap().get(55).unwrap(), &unhex(ICC)[..]);
    // A received bad sub-structure still decodes as bytes.
    let mut wire = b"0200".to_vec();
    wire.extend_from_slice(b"0000000000000200");
    wire.extend_from_slice(b"004");
    wire.extend_from_slice(&unhex("9F260801"));
    let msg = spec.decode(&wire).unwrap();
    assert_eq!(msg.get(55).unwrap(), &unhex("9F260801")[..]);
    assert!(msg.parts(55).is_err());
}

#[test]
fn spec_composite_tag_overrides_the_dictionary() {
    let spec = net();
    let msg = msg_for(&spec).with(55, unhex("DF01 02 1234 9F27 01 80"));
    let parts = msg.parts(55).unwrap();
    assert_eq!(
        (parts[0].name(), parts[0].to_string()),
        ("Network Private", "****".to_owned())
    );
}

#[test]
fn hostile_sub_structures_give_typed_errors() {
    let m = |v: Vec<u8>| Message::new("0200".parse().unwrap()).with(55, v);
    // A tag that runs past the end.
    assert_eq!(
        m(vec![0x9F]).parts(55).unwrap_err().to_string(),
        "field 55 tag 9F at byte 0: ends too early: needs 1 bytes, 0 left"
    );
    // A length of 84 FF FF FF FF.
    let err = m(unhex("9F26 84FFFFFFFF 01")).parts(55).unwrap_err();
    assert_eq!(
        err.kind(),
        &PathErrorKind::PastEnd {
            len: 0xFFFF_FFFF,
            left: 1
        }
    );
    // Five length bytes, indefinite length, a tag of five bytes.
    assert_eq!(
        m(unhex("9F26 85 0000000001 00")).parts(55).unwrap_err().kind(),
        &PathErrorKind::BadBerLength(0x85)
    );
    assert_eq!(
        m(unhex("70 80 0000")).parts(55).unwrap_err().kind(),
        &PathErrorKind::BadBerLength(0x80)
    );
    assert_eq!(
        m(unhex("9F8181818101 00")).parts(55).unwrap_err().kind(),
        &PathErrorKind::TagTooLong
    );
    // Constructed tags nested 10,000 deep: refused at the depth limit, no stack overflow.
    let mut v: Vec<u8> = Vec::new();
    for _ in 0..10_000 {
        let len = v.len();
        let mut outer = vec![0x70, 0x83, (len >> 16) as u8, (len >> 8) as u8, len as u8];
        outer.extend_from_slice(&v);
        v = outer;
    }
    let err = m(v).parts(55).unwrap_err();
    assert_eq!(err.kind(), &PathErrorKind::TooDeep);
    assert!(err.to_string().ends_with("nested deeper than 16 levels"), "{err}");
    // Paths that name nothing.
    let ok = m(unhex(ICC));
    assert!(matches!(
        ok.get_path("55..9F26").unwrap_err().kind(),
        PathErrorKind::BadPath(_)
    ));
    assert!(matches!(
        ok.get_path("999.1").unwrap_err().kind(),
        PathErrorKind::BadPath(_)
    ));
    assert_eq!(ok.get_path("2.1").unwrap_err().kind(), &PathErrorKind::NoStructure);
    assert_eq!(ok.get_path("55.9F26.01").unwrap(), None);
}

#[test]
fn spec_file_errors_for_composites() {
    let with = |field: &str| {
        let toml = format!("name = \"t\"\nmti = \"ascii\"\nbitmap = \"hex\"\nfields = [ {field} ]");
        Spec::from_toml(&toml, "t.toml").map(drop).map_err(|e| e.to_string())
    };
    assert_eq!(
        with(r#"{ number = 48, name = "D", length = "LLL", max = 999, class = "ans", composite = { kind = "tree" } }"#)
            .unwrap_err(),
        r#"t.toml: field 48 (D): unknown composite kind "tree" (expected positional, bitmap, tlv or ber-tlv)"#
    );
    assert_eq!(
        with(r#"{ number = 90, name = "O", length = "fixed", max = 10, class = "n", composite = { kind = "positional", parts = [ { number = 2, name = "A", length = "fixed", max = 10, class = "n" } ] } }"#)
            .unwrap_err(),
        "t.toml: field 90 (O): positional parts must be numbered 1, 2, 3, ... without gaps; expected 1, got 2"
    );
    assert_eq!(
        with(r#"{ number = 55, name = "I", length = "LLL", max = 255, class = "b", encoding = "binary", composite = { kind = "ber-tlv", parts = [ { tag = "9F", name = "X" } ] } }"#)
            .unwrap_err(),
        r#"t.toml: field 55 (I): tag "9F": not a BER-TLV tag in hex (1-4 bytes)"#
    );
    assert_eq!(
        with(r#"{ number = 48, name = "D", length = "LLL", max = 999, class = "ans", composite = { kind = "tlv", bitmap = "hex" } }"#)
            .unwrap_err(),
        "t.toml: field 48 (D): composite key bitmap does not apply to kind tlv"
    );
}
