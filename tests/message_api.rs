//! The `Message` API: MTI helpers, typed accessors, date/time helpers, masking.

use chrono::{NaiveDate, NaiveTime, TimeZone, Utc};
use iso8583_client::message::{mask_value, MtiClass, MtiFunction, MtiOrigin, MtiVersion};
use iso8583_client::spec::{MaskSet, Sensitivity};
use iso8583_client::{Message, Mti, Spec};

fn mti(s: &str) -> Mti {
    s.parse().unwrap()
}

#[test]
fn mti_parts() {
    let m = mti("0200");
    assert_eq!(
        (m.version(), m.class(), m.function(), m.origin()),
        (
            MtiVersion::Iso1987,
            MtiClass::Financial,
            MtiFunction::Request,
            MtiOrigin::Acquirer
        )
    );
    let m = mti("1423");
    assert_eq!(
        (m.version(), m.class(), m.function(), m.origin()),
        (
            MtiVersion::Iso1993,
            MtiClass::Reversal,
            MtiFunction::Advice,
            MtiOrigin::IssuerRepeat
        )
    );
    assert_eq!(mti("2800").version(), MtiVersion::Iso2003);
    assert_eq!(mti("8100").version(), MtiVersion::National);
    assert_eq!(mti("9100").version(), MtiVersion::Private);
    assert_eq!(mti("5100").version(), MtiVersion::Reserved(5));
    let classes = [
        ("0100", MtiClass::Authorization),
        ("0300", MtiClass::FileAction),
        ("0500", MtiClass::Reconciliation),
        ("0600", MtiClass::Administrative),
        ("0700", MtiClass::FeeCollection),
        ("0800", MtiClass::NetworkManagement),
        ("0900", MtiClass::Reserved(9)),
        ("0000", MtiClass::Reserved(0)),
    ];
    for (s, c) in classes {
        assert_eq!(mti(s).class(), c, "{s}");
    }
    let functions = [
        ("0110", MtiFunction::RequestResponse),
        ("0130", MtiFunction::AdviceResponse),
        ("0140", MtiFunction::Notification),
        ("0150", MtiFunction::NotificationAck),
        ("0160", MtiFunction::Instruction),
        ("0170", MtiFunction::InstructionAck),
        ("0180", MtiFunction::Reserved(8)),
    ];
    for (s, f) in functions {
        assert_eq!(mti(s).function(), f, "{s}");
    }
    let origins = [
        ("0101", MtiOrigin::AcquirerRepeat),
        ("0102", MtiOrigin::Issuer),
        ("0104", MtiOrigin::Other),
        ("0105", MtiOrigin::OtherRepeat),
        ("0106", MtiOrigin::Reserved(6)),
    ];
    for (s, o) in origins {
        assert_eq!(mti(s).origin(), o, "{s}");
    }
}

#[test]
fn mti_response_repeat_original() {
    let pairs = [
        ("0100", "0110"),
        ("0200", "0210"),
        ("0220", "0230"),
        ("0400", "0410"),
        ("0401", "0410"),
        ("0421", "0430"),
        ("0800", "0810"),
        ("1200", "1210"),
        ("0102", "0112"),
    ];
    for (req, resp) in pairs {
        assert_eq!(
            mti(req).response().map(|m| m.to_string()),
            Some(resp.to_string()),
            "{req}"
        );
    }
    for resp in ["0110", "0210", "0410", "0810", "0230", "0180"] {
        assert_eq!(mti(resp).response(), None, "{resp}");
    }
    assert_eq!(mti("0400").repeat(), Some(mti("0401")));
    assert_eq!(mti("0220").repeat(), Some(mti("0221")));
    assert_eq!(mti("0402").repeat(), Some(mti("0403")));
    assert_eq!(mti("0401").repeat(), Some(mti("0401")), "a repeat stays a repeat");
    assert_eq!(mti("0410").repeat(), None, "responses are not repeated");
    assert_eq!(mti("0406").repeat(), None, "reserved origin");
    assert_eq!(mti("0401").original(), mti("0400"));
    assert_eq!(mti("0221").original(), mti("0220"));
    assert_eq!(mti("0400").original(), mti("0400"));
    assert!(mti("0401").is_repeat() && !mti("0400").is_repeat());
    assert!(mti("0220").is_advice() && mti("0230").is_advice() && !mti("0200").is_advice());
    assert!(mti("0200").is_request() && !mti("0200").is_response());
    assert!(mti("0210").is_response() && !mti("0210").is_request());
}

#[test]
fn mti_parsing() {
    for bad in ["", "020", "02000", "02a0", "０２００", " 200"] {
        let err = bad.parse::<Mti>().unwrap_err();
        assert_eq!(err.to_string(), format!("MTI must be four decimal digits, got {bad:?}"));
    }
    assert_eq!(mti("0200").as_str(), "0200");
    assert_eq!(mti("0200").as_bytes(), b"0200");
    assert_eq!(format!("{} {:?}", mti("0810"), mti("0810")), "0810 0810");
    assert_eq!(Mti::new(*b"0420"), Some(mti("0420")));
}

#[test]
fn set_get_remove() {
    let mut m = Message::new(mti("0200"));
    assert!(m.is_empty());
    m.set(41, "TERM0001").set(11, "000001").set(2, "4111111111111111");
    assert_eq!(
        m.fields().map(|(n, _)| n).collect::<Vec<_>>(),
        [2, 11, 41],
        "kept in number order"
    );
    m.set(11, "000002");
    assert_eq!((m.len(), m.get_str(11)), (3, Some("000002")), "set replaces");
    assert_eq!(m.remove(11).as_deref(), Some(&b"000002"[..]));
    assert!(!m.contains(11) && m.get(11).is_none() && m.remove(11).is_none());
    m.set(52, vec![0xFFu8, 0x00]);
    assert_eq!(m.get(52), Some(&[0xFF, 0x00][..]));
    assert_eq!(m.get_str(52), None, "not UTF-8");
    m.set_mti(mti("0400"));
    assert_eq!(m.mti(), mti("0400"));
}

#[test]
fn typed_accessors() {
    let mut m = Message::new(mti("0210"))
        .with(2, "4111111111111111")
        .with(3, "003000")
        .with(4, "000000012345")
        .with(37, "123456789012")
        .with(38, "A1B2C3")
        .with(39, "00")
        .with(41, "TERM0001")
        .with(42, "MERCHANT0000001")
        .with(49, "978")
        .with(70, "301");
    assert_eq!(m.pan().unwrap().reveal(), b"4111111111111111");
    assert_eq!(m.pan().unwrap().to_string(), "411111******1111");
    assert_eq!(m.processing_code(), Some("003000"));
    assert_eq!(m.amount(), Some(12345));
    assert_eq!(m.rrn(), Some("123456789012"));
    assert_eq!(m.approval_code(), Some("A1B2C3"));
    assert_eq!(m.response_code(), Some("00"));
    assert!(m.is_approved());
    assert_eq!(m.terminal_id(), Some("TERM0001"));
    assert_eq!(m.merchant_id(), Some("MERCHANT0000001"));
    assert_eq!(m.currency_code(), Some("978"));
    assert_eq!(m.network_code(), Some("301"));
    m.set(39, "05");
    assert!(!m.is_approved());
    m.set(4, "12AB");
    assert_eq!(m.amount(), None, "not numeric");
    m.set_amount(1_000);
    assert_eq!(m.get_str(4), Some("000000001000"));
    m.set_stan(42);
    assert_eq!(m.stan(), Some("000042"));
    m.set_stan(1_000_007);
    assert_eq!(m.stan(), Some("000007"), "wraps modulo 1,000,000");
    let empty = Message::new(mti("0800"));
    assert!(empty.stan().is_none() && empty.pan().is_none() && !empty.is_approved() && empty.amount().is_none());
}

#[test]
fn transmission_time_de7() {
    let mut m = Message::new(mti("0800"));
    let t = Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).unwrap();
    m.set_transmission_time(t);
    assert_eq!(m.get_str(7), Some("0304050607"));
    assert_eq!(m.transmission_time(t), Some(t));
    // No year on the wire: the nearest year to "now" wins, across new year both ways.
    m.set(7, "1231235959");
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 30).unwrap();
    assert_eq!(
        m.transmission_time(now),
        Some(Utc.with_ymd_and_hms(2025, 12, 31, 23, 59, 59).unwrap())
    );
    m.set(7, "0101000010");
    let now = Utc.with_ymd_and_hms(2025, 12, 31, 23, 59, 0).unwrap();
    assert_eq!(
        m.transmission_time(now),
        Some(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 10).unwrap())
    );
    // 29 February only exists in leap years.
    m.set(7, "0229120000");
    let now = Utc.with_ymd_and_hms(2028, 3, 1, 0, 0, 0).unwrap();
    assert_eq!(
        m.transmission_time(now),
        Some(Utc.with_ymd_and_hms(2028, 2, 29, 12, 0, 0).unwrap())
    );
    for bad in ["1332000000", "0230000000", "0101250000", "010100000", "01010000x0"] {
        m.set(7, bad);
        assert_eq!(m.transmission_time(now), None, "{bad}");
    }
}

#[test]
fn local_time_and_date_de12_de13() {
    let mut m = Message::new(mti("0200"));
    let t = NaiveDate::from_ymd_opt(2026, 12, 31)
        .unwrap()
        .and_hms_opt(23, 59, 58)
        .unwrap();
    m.set_local_datetime(t);
    assert_eq!((m.get_str(12), m.get_str(13)), (Some("235958"), Some("1231")));
    assert_eq!(m.local_time(), NaiveTime::from_hms_opt(23, 59, 58));
    assert_eq!(m.local_datetime(t.date()), Some(t));
    // Date near new year resolves to the previous year.
    let today = NaiveDate::from_ymd_opt(2027, 1, 1).unwrap();
    assert_eq!(m.local_date(today), NaiveDate::from_ymd_opt(2026, 12, 31));
    m.set(12, "246000");
    assert_eq!(m.local_time(), None);
    m.set(12, "12345");
    assert_eq!(m.local_time(), None);
    m.set(13, "1301");
    assert_eq!(m.local_date(today), None);
    assert_eq!(m.local_datetime(today), None);
}

#[test]
fn debug_and_display_mask_card_data() {
    let m = Message::new(mti("0200"))
        .with(2, "4761739001010119")
        .with(11, "000001")
        .with(35, "4761739001010119=2512101")
        .with(45, "B4761739001010119^DOE/JOHN^2512")
        .with(52, vec![0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xDE, 0xF0])
        .with(55, vec![0x9F, 0x26, 0x08]);
    let debug = format!("{m:?}");
    let display = m.to_string();
    for shown in [&debug, &display] {
        assert!(shown.contains("476173******0119"), "{shown}");
        assert!(shown.contains("000001"), "{shown}");
        for secret in ["4761739001010119", "2512", "DOE", "123456789ABCDEF0", "9F2608", "1234"] {
            assert!(!shown.contains(secret), "{secret} leaks in {shown}");
        }
    }
    assert_eq!(
        display,
        format!(
            "0200 2=476173******0119 11=000001 35={} 45={} 52={} 55={}",
            "****************=*******",
            "*****************^********^****",
            "*".repeat(8),
            "*".repeat(3)
        )
    );
    assert_eq!(
        debug,
        format!(
            "Message {{ mti: 0200, fields: {{2: \"476173******0119\", 11: \"000001\", 35: \"{}\", 45: \"{}\", 52: \"{}\", 55: \"{}\"}} }}",
            "****************=*******",
            "*****************^********^****",
            "*".repeat(8),
            "*".repeat(3)
        )
    );
    // reveal() shows everything, binary as uppercase hex.
    let revealed = format!("{}", m.reveal());
    assert_eq!(
        revealed,
        "0200 2=4761739001010119 11=000001 35=4761739001010119=2512101 45=B4761739001010119^DOE/JOHN^2512 52=123456789ABCDEF0 55=9F2608"
    );
    assert!(format!("{:?}", m.reveal()).contains("\"4761739001010119=2512101\""));
    assert_eq!(m.masked(2).unwrap().to_string(), "476173******0119");
    assert_eq!(m.masked(35).unwrap().reveal(), b"4761739001010119=2512101");
    assert!(m.masked(3).is_none());
}

#[test]
fn short_or_odd_pans_hide_at_least_6_digits() {
    // Never fewer than 6 digits hidden: under 16 digits only the last 4 show, under 10 none.
    assert_eq!(mask_value(b"411111111", Sensitivity::Pan), "*********");
    assert_eq!(mask_value(b"4111111111", Sensitivity::Pan), "******1111");
    assert_eq!(mask_value(b"41111111111", Sensitivity::Pan), "*******1111");
    assert_eq!(
        mask_value(b"4111-1111-1111-1111", Sensitivity::Pan),
        "*******************"
    );
    assert_eq!(mask_value(b"", Sensitivity::Pan), "");
    assert_eq!(mask_value(b"OK", Sensitivity::None), "OK");
    assert_eq!(mask_value(&[0x00, 0xAB], Sensitivity::None), "00AB");
}

#[test]
fn decoded_messages_mask_by_their_spec() {
    // A spec that marks DE 48 secret and explicitly leaves DE 2 in clear: a decoded message follows it.
    let spec = Spec::from_toml(
        r#"
        name = "custom"
        mti = "ascii"
        bitmap = "hex"
        fields = [
          { number = 2, name = "Account", length = "LL", max = 19, class = "n", sensitivity = "none" },
          { number = 48, name = "Key", length = "LLL", max = 99, class = "ans", sensitivity = "secret" },
        ]"#,
        "custom.toml",
    )
    .unwrap();
    let m = Message::new(mti("0100"))
        .with(2, "4111111111111111")
        .with(48, "SECRETKEY");
    let decoded = spec.decode(&spec.encode(&m).unwrap()).unwrap();
    assert_eq!(decoded, m, "masking rules are not content");
    assert_eq!(decoded.masks(), spec.masks());
    let shown = decoded.to_string();
    assert_eq!(shown, "0100 2=4111111111111111 48=*********");
    // The message built by hand uses the ISO defaults.
    assert_eq!(m.to_string(), "0100 2=411111******1111 48=SECRETKEY");
    let mut quiet = m.clone();
    quiet.set_masks(MaskSet::empty());
    assert_eq!(quiet.to_string(), "0100 2=4111111111111111 48=SECRETKEY");
    assert_eq!(MaskSet::ISO_DEFAULT.of(34), Sensitivity::Pan);
    assert_eq!(MaskSet::ISO_DEFAULT.of(36), Sensitivity::Track);
}

#[test]
fn a_spec_that_says_nothing_masks_card_data_by_the_iso_defaults() {
    // DE 2, 35 and 52 without a sensitivity key: masked as PAN, track and secret all the same.
    let spec = Spec::from_toml(
        r#"
        name = "forgetful"
        mti = "ascii"
        bitmap = "hex"
        fields = [
          { number = 2, name = "PAN", length = "LL", max = 19, class = "n" },
          { number = 35, name = "Track 2", length = "LL", max = 37, class = "z" },
          { number = 52, name = "PIN", length = "fixed", max = 8, class = "b", encoding = "binary" },
          { number = 192, name = "Private key", length = "LLL", max = 99, class = "ans", sensitivity = "secret" },
        ]"#,
        "forgetful.toml",
    )
    .unwrap();
    assert_eq!(spec.field(2).unwrap().sensitivity(), Sensitivity::Pan);
    assert_eq!(spec.field(35).unwrap().sensitivity(), Sensitivity::Track);
    assert_eq!(spec.field(52).unwrap().sensitivity(), Sensitivity::Secret);
    let m = Message::new(mti("0100"))
        .with(2, "4111111111111111")
        .with(35, "4111111111111111=2512")
        .with(52, vec![0x12u8, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xDE, 0xF0])
        .with(192, "KEY123");
    let decoded = spec.decode(&spec.encode(&m).unwrap()).unwrap();
    let shown = format!("{decoded} {decoded:?}");
    assert_eq!(
        decoded.to_string(),
        "0100 2=411111******1111 35=****************=**** 52=******** 192=******"
    );
    for secret in ["4111111111111111", "2512", "123456", "KEY123"] {
        assert!(!shown.contains(secret), "{secret} leaked in {shown}");
    }
}

/// Random sets (short values kept inline, long ones apart; owned, shared or copied from a slice),
/// replacements, removals, copies and clears agree with a plain map after every step: no value is
/// lost, mixed up or kept after removal.
#[test]
fn values_of_any_length_survive_any_sequence_of_sets_removals_and_copies() {
    use std::collections::BTreeMap;
    let mut rng = fastrand::Rng::with_seed(42);
    for round in 0..300 {
        let mut msg = Message::new("0200".parse().unwrap());
        let mut model: BTreeMap<u8, Vec<u8>> = BTreeMap::new();
        for step in 0..200 {
            // Half the rounds stay below the scan limit of a field list (24), half go past it.
            let field = rng.u8(2..if round % 2 == 0 { 20 } else { 60 });
            match rng.u8(0..13) {
                10..=11 => {
                    // Copied in from a slice (the batch reader's way), around the inline limit.
                    let len = [0, 1, 21, 22, 23, 40, 300][rng.usize(0..7)];
                    let value: Vec<u8> = (0..len).map(|_| rng.alphanumeric() as u8).collect();
                    msg.set_slice(field, &value);
                    model.insert(field, value);
                }
                12 if rng.u8(0..4) == 0 => {
                    // Emptied for reuse: nothing of the old fields shows afterwards.
                    msg.clear();
                    model.clear();
                }
                12 => {
                    let got = msg.get(field).map(<[u8]>::to_vec);
                    assert_eq!(
                        got.as_ref(),
                        model.get(&field),
                        "round {round} step {step}: get {field}"
                    );
                }
                0..=5 => {
                    // Lengths around the inline limit, and far past it.
                    let len = [0, 1, 21, 22, 23, 40, 300][rng.usize(0..7)];
                    let value: Vec<u8> = (0..len).map(|_| rng.alphanumeric() as u8).collect();
                    if rng.bool() {
                        msg.set(field, value.clone());
                    } else {
                        msg.set(field, bytes::Bytes::from(value.clone()));
                    }
                    model.insert(field, value);
                }
                6..=7 => {
                    let removed = msg.remove(field).map(|b| b.to_vec());
                    assert_eq!(
                        removed,
                        model.remove(&field),
                        "round {round} step {step}: remove {field}"
                    );
                }
                8 => msg = msg.clone(),
                _ => {
                    // A copy is independent of later changes to the original.
                    let copy = msg.clone();
                    let before = model.get(&field).cloned();
                    msg.set(field, vec![b'y'; 50]);
                    model.insert(field, vec![b'y'; 50]);
                    assert_eq!(copy.get(field).map(<[u8]>::to_vec), before, "round {round} step {step}");
                }
            }
            let got: Vec<(u8, Vec<u8>)> = msg.fields().map(|(n, v)| (n, v.to_vec())).collect();
            let want: Vec<(u8, Vec<u8>)> = model.iter().map(|(n, v)| (*n, v.clone())).collect();
            assert_eq!(got, want, "round {round} step {step}");
        }
    }
}
