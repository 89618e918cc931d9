//! Property tests (proptest), 128,500 cases a run (about 15 s of CPU in a debug build):
//! - any valid message round-trips through each built-in spec and a "zoo" spec that uses every
//!   encoding, prefix kind, pad rule and the tertiary bitmap: `decode(encode(m)) == m` and
//!   `encode(decode(bytes)) == bytes`, and every strict prefix of the bytes is an error;
//! - arbitrary bytes, bytes behind a valid MTI and bitmap, and mutated vectors (truncated, bits
//!   flipped, bytes replaced, inserted or deleted) never panic: they give an error whose offset lies
//!   inside the input, or a message that re-encodes and decodes back to itself;
//! - a length prefix above the field's maximum is always refused as such, naming field and offset.

mod common;

use std::sync::{Arc, OnceLock};

use iso8583_client::codec::ErrorKind;
use iso8583_client::spec::{ContentClass, Encoding, FieldSpec, LengthKind, LengthUnit, MtiEncoding, PrefixEncoding};
use iso8583_client::{Message, Spec};
use proptest::prelude::*;
use proptest::sample::{select, Index};

/// A spec that exercises every encoding, prefix kind, odd pad, fixed pad and all three bitmaps.
const ZOO: &str = r#"
name = "zoo"
mti = "ebcdic"
bitmap = "hex"
fields = [
  { number = 2, name = "PAN", length = "LL", max = 19, class = "n", encoding = "bcd", prefix = "bcd", odd_pad = "right-f", sensitivity = "pan" },
  { number = 3, name = "Processing Code", length = "fixed", max = 6, class = "n", encoding = "ebcdic" },
  { number = 4, name = "Amount", length = "fixed", max = 12, class = "n", pad = "zeros" },
  { number = 11, name = "STAN", length = "fixed", max = 6, class = "n" },
  { number = 22, name = "Entry Mode", length = "fixed", max = 3, class = "n", encoding = "bcd", odd_pad = "left-f" },
  { number = 23, name = "Sequence", length = "fixed", max = 3, class = "n", encoding = "bcd", odd_pad = "right-0" },
  { number = 24, name = "NII", length = "L", max = 9, class = "n", encoding = "bcd", prefix = "bcd" },
  { number = 28, name = "Fee", length = "fixed", max = 9, class = "xn" },
  { number = 32, name = "Acquirer", length = "LL", max = 11, class = "n", prefix = "ebcdic", encoding = "ebcdic" },
  { number = 35, name = "Track 2", length = "LL", max = 37, class = "z", encoding = "bcd", prefix = "binary", sensitivity = "track" },
  { number = 36, name = "Track 3", length = "LLL", max = 104, class = "z", sensitivity = "track" },
  { number = 41, name = "Terminal", length = "fixed", max = 8, class = "ans", encoding = "ebcdic", pad = "spaces" },
  { number = 43, name = "Name", length = "fixed", max = 40, class = "ans", pad = "spaces" },
  { number = 44, name = "Letters", length = "LL", max = 25, class = "a", prefix = "binary" },
  { number = 45, name = "Alnum", length = "LL", max = 76, class = "an", encoding = "ebcdic", prefix = "bcd" },
  { number = 48, name = "Private", length = "LLL", max = 999, class = "ans", prefix = "ebcdic" },
  { number = 52, name = "PIN", length = "fixed", max = 8, class = "b", encoding = "binary", sensitivity = "secret" },
  { number = 53, name = "Security", length = "fixed", max = 16, class = "b", encoding = "hex" },
  { number = 54, name = "Amounts", length = "LLL", max = 120, class = "xn", encoding = "ebcdic", prefix = "binary" },
  { number = 55, name = "ICC", length = "LLL", max = 510, class = "b", encoding = "hex", prefix = "bcd" },
  { number = 60, name = "Packed Bytes", length = "LL", max = 20, class = "n", encoding = "bcd", prefix = "ascii", unit = "bytes" },
  { number = 61, name = "Binary L", length = "L", max = 9, class = "b", encoding = "binary", prefix = "binary" },
  { number = 62, name = "Binary LLLL", length = "LLLL", max = 2000, class = "b", encoding = "binary", prefix = "binary" },
  { number = 63, name = "Text LLLL", length = "LLLL", max = 1200, class = "ans", prefix = "bcd" },
  { number = 70, name = "Network Code", length = "fixed", max = 3, class = "n" },
  { number = 90, name = "Original Data", length = "fixed", max = 42, class = "n", encoding = "bcd" },
  { number = 100, name = "Receiver", length = "LL", max = 11, class = "n", encoding = "bcd", prefix = "binary", odd_pad = "left-f" },
  { number = 128, name = "MAC", length = "fixed", max = 8, class = "b", encoding = "binary" },
  { number = 130, name = "Extended", length = "fixed", max = 3, class = "n" },
  { number = 150, name = "Extended Text", length = "LLL", max = 300, class = "ans", encoding = "ebcdic", prefix = "ebcdic" },
  { number = 192, name = "Last", length = "LL", max = 10, class = "z" },
]
"#;

const SPECS: [&str; 4] = ["iso87-ascii", "iso87-ascii-binary-bitmap", "iso87-bcd", "zoo"];

fn spec(name: &str) -> Arc<Spec> {
    static ZOO_SPEC: OnceLock<Arc<Spec>> = OnceLock::new();
    if name == "zoo" {
        return ZOO_SPEC
            .get_or_init(|| Arc::new(Spec::from_toml(ZOO, "zoo.toml").unwrap()))
            .clone();
    }
    Spec::builtin(name).unwrap()
}

fn vectors() -> &'static [common::Vector] {
    static V: OnceLock<Vec<common::Vector>> = OnceLock::new();
    V.get_or_init(common::vectors)
}

// ---- generators ----

const DIGITS: &[u8] = b"0123456789";
const LETTERS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Track characters as text: 0-9 : ; < = > ? and D.
const TRACK_TEXT: &[u8] = b"0123456789:;<=>?D";
/// Track characters that packed BCD can carry (one nibble each; `D` would read back as `=`).
const TRACK_BCD: &[u8] = b"0123456789:;<=>?";

/// A vector of `lo..=hi` elements, mostly short, the maximum about a quarter of the time.
fn sized<S>(elem: S, lo: usize, hi: usize) -> BoxedStrategy<Vec<S::Value>>
where
    S: Strategy + Clone + 'static,
    S::Value: std::fmt::Debug,
{
    use proptest::collection::vec;
    if lo == hi {
        vec(elem, lo..=hi).boxed()
    } else {
        prop_oneof![3 => vec(elem.clone(), lo..=hi.min(lo + 24)), 1 => vec(elem, hi..=hi)].boxed()
    }
}

fn chars(set: &'static [u8]) -> impl Strategy<Value = u8> + Clone {
    select(set)
}

/// A canonical value that the field's spec accepts and that decodes back unchanged.
fn value(fs: &FieldSpec) -> BoxedStrategy<Vec<u8>> {
    let max = fs.max_len() as usize;
    let (lo, hi) = match fs.length() {
        LengthKind::Fixed => (max, max),
        LengthKind::Variable(_) => (0, max),
    };
    match (fs.encoding(), fs.class()) {
        (Encoding::Binary, _) => sized(any::<u8>(), lo, hi),
        // Hex lengths count characters, two a byte.
        (Encoding::Hex, _) => sized(any::<u8>(), lo / 2, hi / 2),
        (Encoding::Bcd, class) => {
            let set = if class == ContentClass::Z { TRACK_BCD } else { DIGITS };
            if fs.unit() == LengthUnit::Bytes {
                // Whole bytes: an even number of digits.
                sized((chars(set), chars(set)), lo, hi)
                    .prop_map(|pairs| pairs.into_iter().flat_map(|(a, b)| [a, b]).collect())
                    .boxed()
            } else {
                sized(chars(set), lo, hi)
            }
        }
        (_, ContentClass::Xn) => (chars(b"CD"), sized(chars(DIGITS), lo.saturating_sub(1), hi - 1))
            .prop_map(|(sign, digits)| [vec![sign], digits].concat())
            .boxed(),
        (_, class) => {
            let set: &'static [u8] = match class {
                ContentClass::N => DIGITS,
                ContentClass::A => LETTERS,
                ContentClass::An => ALNUM,
                ContentClass::Z => TRACK_TEXT,
                _ => {
                    return sized(0x20u8..=0x7E, lo, hi);
                }
            };
            sized(chars(set), lo, hi)
        }
    }
}

fn mti() -> impl Strategy<Value = String> {
    (0u16..10_000).prop_map(|n| format!("{n:04}"))
}

/// A valid message for `spec`: each defined field up to `highest` present with probability `p`.
fn message_upto(spec: &Spec, p: f64, highest: u8) -> impl Strategy<Value = Message> {
    let fields: Vec<_> = spec
        .fields()
        .filter(|fs| fs.number() <= highest)
        .map(|fs| {
            let n = fs.number();
            proptest::option::weighted(p, value(fs).prop_map(move |v| (n, v)))
        })
        .collect();
    (mti(), fields).prop_map(|(mti, fields)| {
        let mut m = Message::new(mti.parse().unwrap());
        for (n, v) in fields.into_iter().flatten() {
            m.set(n, v);
        }
        m
    })
}

/// A valid message for `spec`: a third of them with a primary bitmap only.
fn message(spec: &Spec, p: f64) -> impl Strategy<Value = Message> {
    prop_oneof![1 => message_upto(spec, p, 64), 2 => message_upto(spec, p, 192)]
}

// ---- properties ----

/// Decoding `wire` must not panic; an error points inside the input, a success re-encodes and
/// decodes back to the same message.
fn check_decode(spec: &Spec, wire: &[u8]) -> Result<Option<Message>, TestCaseError> {
    match spec.decode(wire) {
        Err(e) => {
            prop_assert!(
                e.offset() <= wire.len(),
                "offset {} past {} bytes: {e}",
                e.offset(),
                wire.len()
            );
            prop_assert!(!e.to_string().is_empty());
            Ok(None)
        }
        Ok(m) => {
            let again = spec
                .encode(&m)
                .map_err(|e| TestCaseError::fail(format!("re-encode of {m:?}: {e}")))?;
            let back = spec
                .decode(&again)
                .map_err(|e| TestCaseError::fail(format!("decode of re-encoded {m:?}: {e}")))?;
            prop_assert_eq!(&back, &m);
            Ok(Some(m))
        }
    }
}

fn round_trip(spec: &Spec, m: &Message, cut: Index) -> Result<(), TestCaseError> {
    let wire = spec
        .encode(m)
        .map_err(|e| TestCaseError::fail(format!("encode of valid {:?}: {e}", m.reveal())))?;
    let back = spec
        .decode(&wire)
        .map_err(|e| TestCaseError::fail(format!("decode of {}: {e}", common::hex(&wire))))?;
    prop_assert_eq!(&back, m);
    let again = spec.encode(&back).unwrap();
    prop_assert_eq!(common::hex(&again), common::hex(&wire));
    // Any strict prefix is an error, and so is an extra byte.
    let short = &wire[..cut.index(wire.len())];
    prop_assert!(spec.decode(short).is_err(), "prefix of {} bytes decoded", short.len());
    let mut long = wire.to_vec();
    long.push(b'0');
    let e = spec.decode(&long).unwrap_err();
    prop_assert_eq!(e.kind(), &ErrorKind::TrailingBytes(1));
    Ok(())
}

macro_rules! round_trip_test {
    ($name:ident, $spec:expr, $p:expr, $cases:expr) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases($cases))]
            #[test]
            fn $name((m, cut) in (message(&spec($spec), $p), any::<Index>())) {
                round_trip(&spec($spec), &m, cut)?;
            }
        }
    };
}

round_trip_test!(round_trip_iso87_ascii, "iso87-ascii", 0.12, 1_500);
round_trip_test!(
    round_trip_iso87_ascii_binary_bitmap,
    "iso87-ascii-binary-bitmap",
    0.12,
    1_500
);
round_trip_test!(round_trip_iso87_bcd, "iso87-bcd", 0.12, 1_500);
round_trip_test!(round_trip_zoo, "zoo", 0.3, 4_000);

/// A mutation of a vector's bytes.
#[derive(Debug, Clone)]
enum Mutation {
    Truncate(Index),
    FlipBit(Index, u8),
    SetByte(Index, u8),
    Insert(Index, u8),
    Delete(Index),
    FlipMany(Vec<(Index, u8)>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::SetByte(i, b)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<Index>().prop_map(Mutation::Delete),
        proptest::collection::vec((any::<Index>(), 0u8..8), 2..6).prop_map(Mutation::FlipMany),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(50_000))]

    /// Mutated vectors: never a panic; a truncated message is always an error.
    #[test]
    fn mutated_vectors_never_panic(which in any::<Index>(), m in mutation()) {
        let vs = vectors();
        let v = &vs[which.index(vs.len())];
        let spec = spec(v.spec);
        let mut wire = v.wire.clone();
        let n = wire.len();
        match &m {
            Mutation::Truncate(i) => {
                wire.truncate(i.index(n));
                prop_assert!(spec.decode(&wire).is_err(), "{} of {} bytes decoded", wire.len(), n);
            }
            Mutation::FlipBit(i, b) => wire[i.index(n)] ^= 1 << b,
            Mutation::SetByte(i, b) => wire[i.index(n)] = *b,
            Mutation::Insert(i, b) => wire.insert(i.index(n + 1), *b),
            Mutation::Delete(i) => {
                wire.remove(i.index(n));
            }
            Mutation::FlipMany(flips) => {
                for (i, b) in flips {
                    wire[i.index(n)] ^= 1 << b;
                }
            }
        }
        check_decode(&spec, &wire)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(30_000))]

    /// Arbitrary bytes, for every spec.
    #[test]
    fn arbitrary_bytes_never_panic(s in select(&SPECS[..]), bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        check_decode(&spec(s), &bytes)?;
    }

    /// Arbitrary bytes behind a valid MTI and a random primary bitmap, so that field parsers run.
    #[test]
    fn random_fields_behind_a_valid_header_never_panic(
        s in select(&SPECS[..]),
        bitmap in any::<[u8; 8]>(),
        tail in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        let spec = spec(s);
        let mut wire = header(&spec, "0200");
        match spec.bitmap_encoding() {
            iso8583_client::spec::BitmapEncoding::Binary => wire.extend_from_slice(&bitmap),
            iso8583_client::spec::BitmapEncoding::Hex => wire.extend(common::hex(&bitmap).into_bytes()),
        }
        wire.extend_from_slice(&tail);
        check_decode(&spec, &wire)?;
    }
}

/// The MTI in the spec's encoding.
fn header(spec: &Spec, mti: &str) -> Vec<u8> {
    let d = mti.as_bytes();
    match spec.mti_encoding() {
        MtiEncoding::Ascii => d.to_vec(),
        MtiEncoding::Ebcdic => d.iter().map(|c| c - b'0' + 0xF0).collect(),
        MtiEncoding::Bcd => vec![(d[0] - b'0') << 4 | (d[1] - b'0'), (d[2] - b'0') << 4 | (d[3] - b'0')],
    }
}

/// A length prefix of `digits` digits holding `n`, in its encoding.
fn prefix(enc: PrefixEncoding, digits: u8, n: usize) -> Vec<u8> {
    let text = format!("{n:0width$}", width = digits as usize);
    match enc {
        PrefixEncoding::Ascii => text.into_bytes(),
        PrefixEncoding::Ebcdic => text.bytes().map(|c| c - b'0' + 0xF0).collect(),
        PrefixEncoding::Bcd => {
            let text = if text.len() % 2 == 1 { format!("0{text}") } else { text };
            common::h(&text)
        }
        PrefixEncoding::Binary if digits <= 2 => vec![n as u8],
        PrefixEncoding::Binary => (n as u16).to_be_bytes().to_vec(),
    }
}

/// The largest number a prefix can hold.
fn prefix_cap(enc: PrefixEncoding, digits: u8) -> usize {
    match enc {
        PrefixEncoding::Binary if digits <= 2 => 255,
        PrefixEncoding::Binary => 65_535,
        _ => 10usize.pow(digits as u32) - 1,
    }
}

/// (spec, field) pairs whose prefix can say more than the field's maximum.
fn over_max_fields() -> Vec<(&'static str, u8)> {
    let mut out = Vec::new();
    for s in SPECS {
        for fs in spec(s).fields() {
            if let LengthKind::Variable(d) = fs.length() {
                if prefix_cap(fs.prefix(), d) > fs.max_len() as usize {
                    out.push((s, fs.number()));
                }
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    /// A length prefix above the maximum (up to the largest the prefix can hold) is refused as
    /// such, at the field's offset, whatever follows.
    #[test]
    fn huge_length_prefixes_are_refused(
        (s, n) in select(over_max_fields()),
        over in any::<Index>(),
        tail in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let spec = spec(s);
        let fs = spec.field(n).unwrap();
        let LengthKind::Variable(digits) = fs.length() else { unreachable!() };
        let max = fs.max_len() as usize;
        let cap = prefix_cap(fs.prefix(), digits);
        let len = max + 1 + over.index(cap - max);
        // The message with only this field, empty: the header is all but the prefix.
        let empty = spec.encode(&Message::new("0200".parse().unwrap()).with(n, "")).unwrap();
        let zero = prefix(fs.prefix(), digits, 0);
        prop_assert!(empty.ends_with(&zero));
        let at = empty.len() - zero.len();
        let wire = [&empty[..at], &prefix(fs.prefix(), digits, len), &tail].concat();
        let e = spec.decode(&wire).unwrap_err();
        prop_assert_eq!(e.kind(), &ErrorKind::LengthOverMax { found: len, max });
        prop_assert_eq!(
            e.to_string(),
            format!("field {n} ({}) at byte {at}: length prefix says {len}, maximum is {max}", fs.name())
        );
    }
}

/// A change to the field list of a valid message, before it is encoded from the list.
#[derive(Debug, Clone)]
enum ListEdit {
    /// A value replaced by any bytes (an error the encoder must name, most often).
    Value(Index, Vec<u8>),
    /// A field of any number (0-255) inserted anywhere: out of range, undefined, or out of order.
    Insert(Index, u8, Vec<u8>),
    /// Two fields swapped.
    Swap(Index, Index),
}

fn list_edit() -> impl Strategy<Value = ListEdit> {
    let bytes = || proptest::collection::vec(any::<u8>(), 0..40);
    prop_oneof![
        (any::<Index>(), bytes()).prop_map(|(i, v)| ListEdit::Value(i, v)),
        (any::<Index>(), any::<u8>(), bytes()).prop_map(|(i, n, v)| ListEdit::Insert(i, n, v)),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| ListEdit::Swap(a, b)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6_000))]

    /// Encoding from a list of fields gives what encoding a message of them gives (the bytes, or
    /// the same error), after bytes already in the buffer; a list out of order (or naming a
    /// field twice) is refused as a bad field number, leaving the buffer as it was.
    #[test]
    fn encoding_a_field_list_is_encoding_its_message(
        (s, msg) in select(&SPECS[..]).prop_flat_map(|s| (Just(s), message(&spec(s), 0.15))),
        edits in proptest::collection::vec(list_edit(), 0..3),
    ) {
        let spec = spec(s);
        let mut list: Vec<(u8, Vec<u8>)> = msg.fields().map(|(n, v)| (n, v.to_vec())).collect();
        for edit in edits {
            match edit {
                ListEdit::Value(i, v) if !list.is_empty() => {
                    let at = i.index(list.len());
                    list[at].1 = v;
                }
                ListEdit::Insert(i, n, v) => list.insert(i.index(list.len() + 1), (n, v)),
                ListEdit::Swap(a, b) if !list.is_empty() => {
                    let (a, b) = (a.index(list.len()), b.index(list.len()));
                    list.swap(a, b);
                }
                _ => {}
            }
        }
        let mut direct = bytes::BytesMut::from(&b"before"[..]);
        let got = spec.encode_fields_into(msg.mti(), list.iter().map(|(n, v)| (*n, &v[..])), &mut direct);
        if list.windows(2).all(|w| w[0].0 < w[1].0) {
            let mut want_msg = Message::new(msg.mti());
            for (n, v) in &list {
                want_msg.set(*n, v.clone());
            }
            let mut via_message = bytes::BytesMut::from(&b"before"[..]);
            let want = spec.encode_into(&want_msg, &mut via_message);
            prop_assert_eq!(got.map_err(|e| e.to_string()), want.map_err(|e| e.to_string()));
            prop_assert_eq!(direct, via_message);
        } else {
            let e = got.unwrap_err();
            prop_assert_eq!(e.kind(), &ErrorKind::BadFieldNumber);
            prop_assert_eq!(&direct[..], b"before");
        }
    }
}
