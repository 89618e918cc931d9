//! One masking rule for everything that shows card data: `Debug`, `Display`, the tool's JSON and
//! table, recordings. A PAN shows at most its first 6 and last 4 digits and never fewer than 6
//! digits are hidden (else only the last 4, or nothing under 10 digits); track data, PIN blocks and
//! secrets are fully masked except separators; DE 14 (expiry) is masked by the built-in specs.
#![cfg(feature = "cli")]

mod cli_support;

use bytes::{Bytes, BytesMut};
use cli_support::run_with_input;
use iso8583_client::message::{mask_in_place, mask_value};
use iso8583_client::recording::{Direction, Entry};
use iso8583_client::spec::Sensitivity;
use iso8583_client::transport::framing::Framing;
use iso8583_client::transport::MatchKey;
use iso8583_client::{Message, Spec};
use tokio_util::codec::Decoder;

#[test]
fn pan_shows_at_most_6_and_4_and_hides_at_least_6() {
    let cases = [
        ("4111111111111111", "411111******1111"),       // 16: 6 hidden
        ("4111111111111111111", "411111*********1111"), // 19
        ("378282246310005", "***********0005"),         // 15: 6 + 4 would hide 5
        ("41111111113", "*******1113"),                 // 11: the check digit alone was enough
        ("4111111111", "******1111"),                   // 10: last 4, 6 hidden
        ("411111111", "*********"),                     // 9: nothing
        ("", ""),
    ];
    for (pan, shown) in cases {
        assert_eq!(mask_value(pan.as_bytes(), Sensitivity::Pan), shown, "{pan}");
    }
}

#[test]
fn track_and_secrets_keep_only_separators() {
    let track1 = "B4111111111111111^DOE/JOHN^28121010000000000000";
    let shown = mask_value(track1.as_bytes(), Sensitivity::Track);
    assert_eq!(
        shown,
        format!("{}^{}^{}", "*".repeat(17), "*".repeat(8), "*".repeat(20))
    );
    assert!(
        !shown.contains("DOE") && !shown.contains("JOHN") && !shown.contains('/'),
        "{shown}"
    );
    let track2 = "4111111111111111=2812101";
    assert_eq!(
        mask_value(track2.as_bytes(), Sensitivity::Track),
        "****************=*******"
    );
    assert_eq!(mask_value(b"0123456789ABCDEF", Sensitivity::Secret), "*".repeat(16));
}

#[test]
fn debug_and_display_of_a_message_follow_the_rule() {
    let m = Message::new("0200".parse().unwrap())
        .with(2, "41111111113")
        .with(14, "2812")
        .with(45, "B4111111111111111^DOE/JOHN^2812101");
    for shown in [format!("{m:?}"), m.to_string()] {
        assert!(shown.contains("*******1113"), "{shown}");
        for leak in ["411111", "2812", "DOE", "JOHN"] {
            assert!(!shown.contains(leak), "{leak} in {shown}");
        }
    }
}

#[test]
fn built_in_specs_mask_the_expiry_date() {
    for name in iso8583_client::spec::BUILTIN_SPECS {
        let spec = Spec::builtin(name).unwrap();
        assert_ne!(spec.field(14).unwrap().sensitivity(), Sensitivity::None, "{name}");
        assert_ne!(spec.masks().of(14), Sensitivity::None, "{name}");
    }
}

#[test]
fn recordings_mask_by_the_same_rule_and_keep_the_encoding() {
    let mut pan = b"41111111113".to_vec();
    mask_in_place(&mut pan, Sensitivity::Pan, false);
    assert_eq!(pan, b"00000001113");
    let mut pan = b"4111111111111111".to_vec();
    mask_in_place(&mut pan, Sensitivity::Pan, false);
    assert_eq!(pan, b"4111110000001111");
    let mut track = b"B4111111111111111^DOE/JOHN^2812".to_vec();
    mask_in_place(&mut track, Sensitivity::Track, false);
    assert_eq!(track, b"00000000000000000^00000000^0000");
    let mut pin = vec![0x12, 0x34];
    mask_in_place(&mut pin, Sensitivity::Secret, true);
    assert_eq!(pin, [0, 0]);
}

#[test]
fn debug_of_wire_types_shows_lengths_not_bytes() {
    let mut framing = Framing::builder().header(&[0x60, 0, 3, 0, 0]).build();
    let mut wire = BytesMut::from(&b"\x00\x13\x60\x00\x03\x00\x00PAN4111111111111111"[..]);
    let frame = framing.decode(&mut wire).unwrap().unwrap();
    let shown = format!("{frame:?}");
    assert!(!shown.contains("4111") && !shown.contains("PAN"), "{shown}");
    assert!(shown.contains("19 bytes"), "the length: {shown}");

    let entry = Entry::Frame {
        direction: Direction::ToHost,
        connection: 1,
        frame: Bytes::from_static(b"\x00\x10PAN4111111111111111"),
    };
    let shown = format!("{entry:?}");
    assert!(!shown.contains("4111") && !shown.contains("52, 49"), "{shown}");

    let msg = Message::new("0200".parse().unwrap())
        .with(11, "000042")
        .with(2, "4111111111111111");
    let key = MatchKey::of(&msg, &[2]).unwrap();
    let shown = format!("{key:?}");
    assert!(!shown.contains("4111") && !shown.contains("52, 49"), "{shown}");
    assert!(shown.contains("42"), "{shown}");
}

#[test]
fn decode_shows_the_rule_in_json_and_table() {
    let spec = "iso87-ascii";
    let enc = run_with_input(
        &["encode", "--spec", spec],
        r#"{"mti": "0200", "fields": {"2": "41111111113", "11": "000001", "14": "2812",
            "35": "41111111113=2812101"}}"#,
    );
    enc.assert_ok();
    let hex = enc.stdout.trim().to_owned();
    for extra in [&["--json"][..], &[][..]] {
        let mut args = vec!["decode", "--spec", spec];
        args.extend_from_slice(extra);
        let r = run_with_input(&args, &hex);
        r.assert_ok();
        assert!(r.stdout.contains("*******1113"), "{r:?}");
        assert!(
            r.stdout.contains("***********=*******"),
            "track 2 keeps its separator: {r:?}"
        );
        for leak in ["411111", "2812", "1113="] {
            assert!(!r.stdout.contains(leak), "{leak}: {r:?}");
        }
    }
    let r = run_with_input(&["decode", "--spec", spec, "--json", "--reveal"], &hex);
    r.assert_ok();
    assert!(r.stdout.contains("41111111113") && r.stdout.contains("2812"), "{r:?}");
}
