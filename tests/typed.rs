//! Typed messages with serde: structs to and from `Message` through a spec.

use iso8583_client::{Message, Spec};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Icc {
    #[serde(rename = "9F26")]
    cryptogram: String,
    #[serde(rename = "9F27")]
    cid: String,
    #[serde(rename = "5A")]
    pan: Option<String>,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Purchase {
    mti: String,
    #[serde(rename = "2")]
    pan: String,
    #[serde(rename = "3")]
    processing_code: String,
    #[serde(rename = "4")]
    amount: u64,
    #[serde(rename = "11")]
    stan: u32,
    #[serde(rename = "41")]
    terminal: String,
    #[serde(rename = "52")]
    pin_block: Option<Vec<u8>>,
    #[serde(rename = "55")]
    icc: Option<Icc>,
}

fn purchase() -> Purchase {
    Purchase {
        mti: "0200".into(),
        pan: "4761739001010119".into(),
        processing_code: "000000".into(),
        amount: 12550,
        stan: 4211,
        terminal: "TERM0001".into(),
        pin_block: Some(vec![0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF]),
        icc: Some(Icc {
            cryptogram: "7A6F1B2C8D1E4F55".into(),
            cid: "80".into(),
            pan: None,
        }),
    }
}

#[test]
fn struct_to_message_and_back_through_every_1987_builtin() {
    for name in ["iso87-ascii", "iso87-ascii-binary-bitmap", "iso87-bcd", "iso87-ebcdic"] {
        let spec = Spec::builtin(name).unwrap();
        let msg = spec.to_message(&purchase()).unwrap();
        assert_eq!(msg.mti().as_str(), "0200");
        assert_eq!(msg.get_str(4), Some("000000012550"), "{name}");
        assert_eq!(msg.stan(), Some("004211"), "{name}");
        assert_eq!(msg.get(52).unwrap(), &[0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF]);
        assert_eq!(
            msg.get(55).unwrap(),
            &[0x9F, 0x26, 0x08, 0x7A, 0x6F, 0x1B, 0x2C, 0x8D, 0x1E, 0x4F, 0x55, 0x9F, 0x27, 0x01, 0x80]
        );
        let wire = spec.encode(&msg).unwrap();
        let back: Purchase = spec.from_message(&spec.decode(&wire).unwrap()).unwrap();
        assert_eq!(back, purchase(), "{name}");
    }
}

#[test]
fn absent_fields_are_none_and_present_ones_required() {
    let spec = Spec::builtin("iso87-ascii").unwrap();
    let mut p = purchase();
    p.icc = None;
    p.pin_block = None;
    let msg = spec.to_message(&p).unwrap();
    assert!(!msg.contains(55) && !msg.contains(52));
    let back: Purchase = spec.from_message(&msg).unwrap();
    assert_eq!(back, p);
    let missing = Message::new("0200".parse().unwrap()).with(2, "4761739001010119");
    let err = spec.from_message::<Purchase>(&missing).unwrap_err();
    assert_eq!(err.to_string(), "missing field `3`");
    let bad = Message::new("0200".parse().unwrap())
        .with(2, "4761739001010119")
        .with(3, "000000")
        .with(4, "12X")
        .with(11, "000001")
        .with(41, "TERM0001");
    assert_eq!(
        spec.from_message::<Purchase>(&bad).unwrap_err().to_string(),
        "field 4: \"12X\" is not a number"
    );
}

#[test]
fn positional_and_bitmap_structs() {
    const SPEC: &str = r#"
name = "net"
mti = "ascii"
bitmap = "hex"
fields = [
  { number = 11, name = "STAN", length = "fixed", max = 6, class = "n" },
  { number = 90, name = "Original Data Elements", length = "fixed", max = 42, class = "n", composite = { kind = "positional", parts = [
      { number = 1, name = "Original MTI", length = "fixed", max = 4, class = "n" },
      { number = 2, name = "Original STAN", length = "fixed", max = 6, class = "n" },
      { number = 3, name = "Original Date and Time", length = "fixed", max = 10, class = "n" },
      { number = 4, name = "Acquirer", length = "fixed", max = 11, class = "n" },
      { number = 5, name = "Forwarder", length = "fixed", max = 11, class = "n" } ] } },
]"#;
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Original {
        #[serde(rename = "1")]
        mti: String,
        #[serde(rename = "2")]
        stan: String,
        #[serde(rename = "3")]
        when: String,
    }
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Reversal {
        mti: String,
        #[serde(rename = "11")]
        stan: u32,
        #[serde(rename = "90")]
        original: Original,
    }
    let spec = Spec::from_toml(SPEC, "net.toml").unwrap();
    let r = Reversal {
        mti: "0400".into(),
        stan: 43,
        original: Original {
            mti: "0200".into(),
            stan: "000042".into(),
            when: "1127203015".into(),
        },
    };
    let msg = spec.to_message(&r).unwrap();
    assert_eq!(msg.get_str(90), Some("020000004211272030150000000000000000000000"));
    let back: Reversal = spec
        .from_message(&spec.decode(&spec.encode(&msg).unwrap()).unwrap())
        .unwrap();
    assert_eq!(back, r);
}
