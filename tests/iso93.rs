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
