//! Property tests of composite fields, 22,000 cases a run: random values of each kind (BER-TLV
//! trees, TLV lists, positional and sub-bitmap structures) built from parts parse back to the
//! same parts and rebuild to the same bytes; arbitrary bytes never panic and any error points
//! inside the value.

use iso8583_client::message::{Part, PartValue};
use iso8583_client::{Message, Spec};
use proptest::prelude::*;

const NET: &str = r#"
name = "net"
mti = "ascii"
bitmap = "hex"
fields = [
  { number = 48, name = "Additional Data", length = "LLL", max = 999, class = "ans", composite = { kind = "tlv", tag_len = 2, len_len = 2 } },
  { number = 55, name = "ICC data", length = "LLL", max = 999, class = "b", encoding = "binary", composite = { kind = "ber-tlv" } },
  { number = 90, name = "Original Data Elements", length = "fixed", max = 42, class = "n", composite = { kind = "positional", parts = [
      { number = 1, name = "Original MTI", length = "fixed", max = 4, class = "n" },
      { number = 2, name = "Original STAN", length = "fixed", max = 6, class = "n" },
      { number = 3, name = "Original Date and Time", length = "fixed", max = 10, class = "n" },
      { number = 4, name = "Acquirer", length = "fixed", max = 11, class = "n" },
      { number = 5, name = "Forwarder", length = "fixed", max = 11, class = "n" } ] } },
  { number = 127, name = "Private", length = "LLLL", max = 9999, class = "b", encoding = "binary", composite = { kind = "bitmap", parts = [
      { number = 2, name = "Key", length = "LL", max = 32, class = "ans" },
      { number = 3, name = "Routing", length = "fixed", max = 8, class = "ans" },
      { number = 9, name = "Amount", length = "fixed", max = 12, class = "n", encoding = "bcd" },
      { number = 20, name = "Blob", length = "LLL", max = 300, class = "b", encoding = "binary" },
      { number = 33, name = "Hex", length = "LL", max = 40, class = "b", encoding = "hex" },
      { number = 64, name = "Last", length = "fixed", max = 2, class = "an" } ] } },
]"#;

fn spec() -> &'static Spec {
    static SPEC: std::sync::OnceLock<Spec> = std::sync::OnceLock::new();
    SPEC.get_or_init(|| Spec::from_toml(NET, "net.toml").unwrap())
}

fn message() -> Message {
    let mut m = Message::new("0200".parse().unwrap());
    m.use_spec(spec());
    m
}

/// A BER-TLV tree: primitive tags with bytes, constructed tags with children.
#[derive(Clone, Debug)]
enum Tlv {
    Primitive(Vec<u8>, Vec<u8>),
    Constructed(Vec<u8>, Vec<Tlv>),
}

/// A well-formed tag: one byte (not ending in 11111), or 2-3 bytes with continuation bits.
fn tag(constructed: bool) -> impl Strategy<Value = Vec<u8>> {
    let c = if constructed { 0x20 } else { 0x00 };
    prop_oneof![
        (0u8..0xFF).prop_filter_map("one-byte tag", move |b| {
            let t = (b & !0x20) | c;
            (t & 0x1F != 0x1F && t != 0x00).then_some(vec![t])
        }),
        (0u8..4, 0u8..0x80).prop_map(move |(cls, b)| vec![cls << 6 | c | 0x1F, b.max(0x1F)]),
        (0u8..4, 0x80u8..=0xFF, 0u8..0x80).prop_map(move |(cls, m, l)| vec![cls << 6 | c | 0x1F, m, l]),
    ]
}

fn tlv_tree() -> impl Strategy<Value = Vec<Tlv>> {
    let leaf = (tag(false), prop::collection::vec(any::<u8>(), 0..40)).prop_map(|(t, v)| Tlv::Primitive(t, v));
    let tree = leaf.prop_recursive(4, 24, 5, |inner| {
        prop_oneof![
            (tag(false), prop::collection::vec(any::<u8>(), 0..200)).prop_map(|(t, v)| Tlv::Primitive(t, v)),
            (tag(true), prop::collection::vec(inner, 0..5)).prop_map(|(t, c)| Tlv::Constructed(t, c)),
        ]
    });
    prop::collection::vec(tree, 0..6)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

fn to_parts(tree: &[Tlv]) -> Vec<(String, PartValue)> {
    tree.iter()
        .map(|t| match t {
            Tlv::Primitive(tag, v) => (hex(tag), PartValue::Raw(v.clone().into())),
            Tlv::Constructed(tag, c) => (hex(tag), PartValue::Parts(to_parts(c))),
        })
        .collect()
}

fn same(tree: &[Tlv], parts: &[Part<'_>]) -> bool {
    tree.len() == parts.len()
        && tree.iter().zip(parts).all(|(t, p)| match t {
            Tlv::Primitive(tag, v) => p.id() == hex(tag) && p.value() == &v[..] && p.children().is_none(),
            Tlv::Constructed(tag, c) => p.id() == hex(tag) && p.children().is_some_and(|ch| same(c, ch)),
        })
}

/// The parts as a value tree again (raw leaves), to rebuild.
fn back(parts: &[Part<'_>]) -> Vec<(String, PartValue)> {
    parts
        .iter()
        .map(|p| {
            let v = match p.children() {
                Some(c) => PartValue::Parts(back(c)),
                None => PartValue::Raw(p.value_bytes()),
            };
            (p.id().to_owned(), v)
        })
        .collect()
}

fn digits(n: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[0-9]{{{n}}}")).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6000, ..ProptestConfig::default() })]

    #[test]
    fn ber_tlv_trees_round_trip(tree in tlv_tree()) {
        let mut m = message();
        m.set_parts(55, to_parts(&tree)).unwrap();
        let parts = m.parts(55).unwrap();
        prop_assert!(same(&tree, &parts));
        let mut again = message();
        again.set_parts(55, back(&parts)).unwrap();
        prop_assert_eq!(again.get(55), m.get(55));
        // Through the codec too (when the value fits DE 55).
        if m.get(55).unwrap().len() <= 999 {
            let wire = spec().encode(&m).unwrap();
            let decoded = spec().decode(&wire).unwrap();
            prop_assert_eq!(decoded.get(55), m.get(55));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn tlv_lists_round_trip(items in prop::collection::vec(("[0-9A-Z]{2}", "[ -~]{0,30}"), 0..8)) {
        let mut m = message();
        let parts: Vec<(String, PartValue)> = items.iter().map(|(t, v)| (t.clone(), PartValue::Text(v.clone()))).collect();
        m.set_parts(48, parts).unwrap();
        let got: Vec<(String, String)> = m.parts(48).unwrap().iter().map(|p| (p.id().to_owned(), p.shown(true))).collect();
        prop_assert_eq!(got, items);
    }

    #[test]
    fn positional_values_round_trip(a in digits(4), b in digits(6), c in digits(10), d in digits(11), e in digits(11)) {
        let mut m = message();
        let given = [&a, &b, &c, &d, &e];
        let parts = given.iter().enumerate().map(|(i, v)| ((i + 1).to_string(), PartValue::Text((*v).clone()))).collect();
        m.set_parts(90, parts).unwrap();
        prop_assert_eq!(m.get_str(90).unwrap(), format!("{a}{b}{c}{d}{e}"));
        let wire = spec().encode(&m).unwrap();
        let back = spec().decode(&wire).unwrap();
        let got: Vec<String> = back.parts(90).unwrap().iter().map(|p| p.shown(true)).collect();
        prop_assert_eq!(got, given.map(|s| s.clone()).to_vec());
    }

    #[test]
    fn sub_bitmap_values_round_trip(
        key in proptest::option::of("[ -~]{0,32}"),
        routing in proptest::option::of("[ -~]{8}"),
        amount in proptest::option::of(digits(12)),
        blob in proptest::option::of(prop::collection::vec(any::<u8>(), 0..300)),
        hexv in proptest::option::of(prop::collection::vec(any::<u8>(), 0..20)),
        last in proptest::option::of("[0-9A-Za-z]{2}"),
    ) {
        let mut parts = Vec::new();
        if let Some(k) = &key { parts.push(("2".to_owned(), PartValue::Text(k.clone()))); }
        if let Some(r) = &routing { parts.push(("3".to_owned(), PartValue::Text(r.clone()))); }
        if let Some(a) = &amount { parts.push(("9".to_owned(), PartValue::Text(a.clone()))); }
        if let Some(b) = &blob { parts.push(("20".to_owned(), PartValue::Raw(b.clone().into()))); }
        if let Some(h) = &hexv { parts.push(("33".to_owned(), PartValue::Raw(h.clone().into()))); }
        if let Some(l) = &last { parts.push(("64".to_owned(), PartValue::Text(l.clone()))); }
        parts.reverse(); // order given does not matter: the bitmap orders them
        let mut m = message();
        m.set_parts(127, parts).unwrap();
        let wire = spec().encode(&m).unwrap();
        let back = spec().decode(&wire).unwrap();
        let got = back.parts(127).unwrap();
        let mut want: Vec<(&str, Vec<u8>)> = Vec::new();
        if let Some(k) = &key { want.push(("2", k.clone().into_bytes())); }
        if let Some(r) = &routing { want.push(("3", r.clone().into_bytes())); }
        if let Some(a) = &amount { want.push(("9", a.clone().into_bytes())); }
        if let Some(b) = &blob { want.push(("20", b.clone())); }
        if let Some(h) = &hexv { want.push(("33", h.clone())); }
        if let Some(l) = &last { want.push(("64", l.clone().into_bytes())); }
        let got: Vec<(&str, Vec<u8>)> = got.iter().map(|p| (p.id(), p.value().to_vec())).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn arbitrary_bytes_never_panic(field in prop::sample::select(vec![48u8, 55, 90, 127]), bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let m = message().with(field, bytes.clone());
        match m.parts(field) {
            Ok(parts) => {
                // Whatever parsed rebuilds and parses again.
                let mut again = message();
                if again.set_parts(field, back(&parts)).is_ok() {
                    prop_assert!(again.parts(field).is_ok());
                }
            }
            Err(e) => {
                if let Some(o) = e.offset() {
                    prop_assert!(o <= bytes.len(), "{e}");
                }
                let prefix = format!("field {}", field);
                prop_assert!(e.to_string().starts_with(&prefix));
            }
        }
    }
}
