//! ISO 8583:1993: MTIs, action codes, and the `iso93-ascii` and `iso87-ebcdic` built-ins.

use iso8583_client::{Message, Mti};

fn mti(s: &str) -> Mti {
    s.parse().unwrap()
}

#[test]
fn mti_1993_responses_and_repeats() {
    assert_eq!(mti("1100").response().unwrap().as_str(), "1110");
    assert_eq!(mti("1200").response().unwrap().as_str(), "1210");
    assert_eq!(mti("1420").repeat().unwrap().as_str(), "1421");
    assert_eq!(mti("1421").response().unwrap().as_str(), "1430");
    assert_eq!(mti("1804").response().unwrap().as_str(), "1814");
    assert_eq!(mti("1421").original().as_str(), "1420");
}

#[test]
fn action_codes_000_to_099_approve_in_1993() {
    let resp = |m: &str, code: &str| Message::new(mti(m)).with(39, code.to_owned());
    for code in ["000", "001", "050", "099"] {
        assert!(resp("1110", code).is_approved(), "{code}");
    }
    for code in ["100", "116", "200", "909", "00A", "0", "0000"] {
        assert!(!resp("1110", code).is_approved(), "{code}");
    }
    // 1987 response codes as before.
    assert!(resp("0110", "00").is_approved());
    assert!(!resp("0110", "05").is_approved());
}

#[test]
fn iso93_ascii_wire_layout() {
    use iso8583_client::Spec;
    let spec = Spec::builtin("iso93-ascii").unwrap();
    assert_eq!(spec.fields().count(), 126);
    let f = |n: u8| spec.field(n).unwrap();
    assert_eq!(
        (f(12).name(), f(12).max_len()),
        ("Date and Time, Local Transaction", 12)
    );
    assert_eq!((f(22).name(), f(22).max_len()), ("Point of Service Data Code", 12));
    assert_eq!((f(24).name(), f(24).max_len()), ("Function Code", 3));
    assert_eq!((f(39).name(), f(39).max_len()), ("Action Code", 3));
    let mut req = Message::new(mti("1100"));
    req.set(2, "4761739001010119")
        .set(3, "000000")
        .set(4, "000000001000")
        .set(11, "000001")
        .set(12, "261201103015")
        .set(22, "A10101211144")
        .set(24, "100")
        .set(49, "978");
    let wire = spec.encode(&req).unwrap();
    let want = concat!(
        "1100",
        "7030050000008000",
        "16",
        "4761739001010119",
        "000000",
        "000000001000",
        "000001",
        "261201103015",
        "A10101211144",
        "100",
        "978"
    );
    assert_eq!(std::str::from_utf8(&wire).unwrap(), want);
    assert_eq!(spec.decode(&wire).unwrap(), req);
    let resp = Message::new(req.mti().response().unwrap())
        .with(11, "000001")
        .with(39, "000");
    let back = spec.decode(&spec.encode(&resp).unwrap()).unwrap();
    assert_eq!(back.mti().as_str(), "1110");
    assert!(back.is_approved());
    // DE 55 is EMV BER-TLV here too; DE 56 (original data elements) is positional.
    assert!(f(55).composite().is_some());
    let mut rev = Message::new(mti("1420"));
    rev.use_spec(&spec);
    rev.set_path("56.1", "1100")
        .unwrap()
        .set_path("56.2", "000001")
        .unwrap();
    rev.set_path("56.3", "261201103015")
        .unwrap()
        .set_path("56.4", "12345")
        .unwrap();
    assert_eq!(rev.get_str(56), Some("11000000012612011030150512345"));
    let wire = spec.encode(&rev).unwrap();
    assert_eq!(
        spec.decode(&wire).unwrap().get_path("56.4").unwrap().as_deref(),
        Some(&b"12345"[..])
    );
}

#[test]
fn iso87_ebcdic_wire_layout() {
    use iso8583_client::Spec;
    let spec = Spec::builtin("iso87-ebcdic").unwrap();
    assert_eq!(spec.fields().count(), 126);
    let msg = Message::new(mti("0800"))
        .with(7, "1201103015")
        .with(11, "000001")
        .with(32, "123456")
        .with(70, "301");
    let wire = spec.encode(&msg).unwrap();
    let want: Vec<u8> = [
        &[0xF0, 0xF8, 0xF0, 0xF0][..],                                 // MTI 0800 in EBCDIC
        &[0x82, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00],             // primary: 1, 7, 11, 32
        &[0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],             // secondary: 70
        &[0xF1, 0xF2, 0xF0, 0xF1, 0xF1, 0xF0, 0xF3, 0xF0, 0xF1, 0xF5], // DE 7
        &[0xF0, 0xF0, 0xF0, 0xF0, 0xF0, 0xF1],                         // DE 11
        &[0xF0, 0xF6, 0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6],             // DE 32: LL "06" in EBCDIC
        &[0xF3, 0xF0, 0xF1],                                           // DE 70
    ]
    .concat();
    assert_eq!(wire.to_vec(), want);
    assert_eq!(spec.decode(&wire).unwrap(), msg);
    assert!(spec.field(55).unwrap().composite().is_some());
}
