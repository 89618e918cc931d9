//! The batch path of `encode`: a message in the JSON shape of [`crate::json`], read by hand from
//! the bytes of the line into buffers reused from message to message. It takes only the common
//! case — an object with `mti` and `fields` whose keys are plain and whose values are strings
//! that need no explanation — and says `None` for anything else (numbers, nested objects,
//! duplicate keys, escapes it does not decode, whatever is not valid JSON), which
//! [`crate::json::message_from_json`] then reads, checks and explains. Both build the same
//! message from the same input.

use std::ops::Range;

use bytes::BytesMut;
use iso8583_client::spec::Sensitivity;
#[cfg(test)]
use iso8583_client::Message;
use iso8583_client::{CodecError, Mti, Spec};

/// Reads messages one after the other into the same buffers: once they have grown to the largest
/// message seen, reading and encoding allocate nothing.
#[derive(Default)]
pub struct Reader {
    /// The last message read (tests: the message the general path must also build).
    #[cfg(test)]
    msg: Option<Message>,
    /// The values that had to be decoded (escapes, hex), one after the other; a value without
    /// escapes is a slice of the line itself.
    decoded: Vec<u8>,
    /// The fields read, in number order once the line is read.
    fields: Vec<FieldAt>,
}

/// Where a field's value lies: in the line, or (`decoded`) in [`Reader::decoded`].
#[derive(Clone, Copy)]
struct FieldAt {
    number: u8,
    decoded: bool,
    start: usize,
    end: usize,
}

impl FieldAt {
    /// The value, from the line `text` or the decoded values.
    #[inline(always)]
    fn value<'a>(&self, text: &'a [u8], decoded: &'a [u8]) -> &'a [u8] {
        let buf = if self.decoded { decoded } else { text };
        buf.get(self.start..self.end).unwrap_or_default()
    }
}

impl Reader {
    /// A reader with empty buffers.
    pub fn new() -> Reader {
        Reader::default()
    }

    /// Appends the encoding of the message of one JSON document to `out` (unchanged on error),
    /// or says `None` (having written nothing) when the general path must read it. The bytes and
    /// the errors are those of encoding the message the general path builds: the fields go to
    /// the encoder in number order, as a message holds them, without building one.
    #[inline(never)]
    pub fn encode(&mut self, spec: &Spec, text: &str, out: &mut BytesMut) -> Option<Result<(), CodecError>> {
        let mti = self.read_fields(spec, text)?;
        let (line, decoded) = (text.as_bytes(), &self.decoded[..]);
        let fields = self.fields.iter().map(|f| (f.number, f.value(line, decoded)));
        Some(spec.encode_fields_into(mti, fields, out))
    }

    /// The message of one JSON document, or `None` when the general path must read it.
    #[cfg(test)]
    pub fn read(&mut self, spec: &Spec, text: &str) -> Option<&Message> {
        let mti = self.read_fields(spec, text)?;
        let msg = self.msg.get_or_insert_with(|| Message::new(mti));
        msg.set_mti(mti);
        msg.set_masks(spec.masks());
        // The last message's fields go (their room stays); this one's are copied in.
        msg.clear();
        for f in &self.fields {
            msg.set_slice(f.number, f.value(text.as_bytes(), &self.decoded));
        }
        Some(msg)
    }

    /// Reads one JSON document into `decoded` and `fields` (in number order): its MTI, or `None`
    /// when the general path must read it.
    fn read_fields(&mut self, spec: &Spec, text: &str) -> Option<Mti> {
        self.fields.clear();
        self.decoded.clear();
        self.parse(spec, text)
    }

    /// `{"mti": "...", "fields": {...}}` (in either order, `fields` optional) and nothing after it
    /// but whitespace; its values go to `decoded` and `fields`.
    fn parse(&mut self, spec: &Spec, text: &str) -> Option<Mti> {
        let s = text.as_bytes();
        let mut i = expect(s, skip_ws(s, 0), b'{')?;
        let mut mti = None;
        let mut fields = false;
        // Each member takes at least one byte.
        for _ in 0..s.len() {
            let (key, after) = plain_string(s, skip_ws(s, i))?;
            i = skip_ws(s, expect(s, skip_ws(s, after), b':')?);
            match &s[key.clone()] {
                b"mti" if mti.is_none() => {
                    let (value, after) = plain_string(s, i)?;
                    // Between quotes: char boundaries of the text.
                    mti = Some(text.get(value)?.parse::<Mti>().ok()?);
                    i = after;
                }
                b"fields" if !fields => {
                    fields = true;
                    i = self.fields(spec, s, i)?;
                }
                // Unknown and duplicate keys are the general path's to explain.
                _ => return None,
            }
            i = skip_ws(s, i);
            match s.get(i)? {
                b',' => i += 1,
                b'}' => {
                    let end = skip_ws(s, i + 1);
                    return if end == s.len() { mti } else { None };
                }
                _ => return None,
            }
        }
        None
    }

    /// The `fields` object at `i`: returns where it ends.
    fn fields(&mut self, spec: &Spec, s: &[u8], i: usize) -> Option<usize> {
        let mut i = skip_ws(s, expect(s, i, b'{')?);
        if s.get(i) == Some(&b'}') {
            return Some(i + 1);
        }
        // Two keys naming one field ("11" and "011", or "11" twice) are the general path's to
        // refuse or settle. Fields in increasing order (the common case) cannot repeat; any other
        // order is checked once at the end.
        let mut last = 0u8;
        let mut increasing = true;
        // Each field takes at least one byte.
        for _ in 0..s.len() {
            let (number, after) = field_key(s, i)?;
            increasing &= number > last;
            last = number;
            let field = spec.field(number)?;
            i = skip_ws(s, expect(s, skip_ws(s, after), b':')?);
            // Strings only: numbers and objects are the general path's.
            i = expect(s, i, b'"')?;
            let decoded = &mut self.decoded;
            let (end, at) = if field.is_binary() {
                let start = decoded.len();
                let end = hex_string(s, i, decoded)?;
                (end, (true, start..decoded.len()))
            } else {
                // A value that may be masked (it has a `*`) is left to the general path, which
                // refuses it.
                if field.sensitivity() == Sensitivity::None {
                    text_string::<false>(s, i, decoded)?
                } else {
                    text_string::<true>(s, i, decoded)?
                }
            };
            let (decoded, range) = at;
            self.fields.push(FieldAt {
                number,
                decoded,
                start: range.start,
                end: range.end,
            });
            i = skip_ws(s, end);
            match s.get(i)? {
                b',' => i = skip_ws(s, i + 1),
                b'}' => {
                    if !increasing {
                        if self.repeats_a_field() {
                            return None;
                        }
                        // No two alike: the order of numbers is the order of the fields.
                        self.fields.sort_unstable_by_key(|f| f.number);
                    }
                    return Some(i + 1);
                }
                _ => return None,
            }
        }
        None
    }

    /// True if two of the fields read name the same data element.
    fn repeats_a_field(&self) -> bool {
        let mut seen = [0u64; 4];
        self.fields.iter().any(|f| {
            let (word, bit) = (usize::from(f.number / 64), 1u64 << (f.number % 64));
            let repeated = seen[word] & bit != 0;
            seen[word] |= bit;
            repeated
        })
    }
}

/// `i` past JSON whitespace.
#[inline(always)]
fn skip_ws(s: &[u8], mut i: usize) -> usize {
    // Most often none: one test.
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = s.get(i) {
        i += 1;
    }
    i
}

/// `i + 1` if `s[i]` is `byte`.
#[inline(always)]
fn expect(s: &[u8], i: usize, byte: u8) -> Option<usize> {
    (s.get(i) == Some(&byte)).then_some(i + 1)
}

/// A string at `i` without escapes or control characters: where its bytes are, and where it ends.
#[inline]
fn plain_string(s: &[u8], i: usize) -> Option<(Range<usize>, usize)> {
    let start = expect(s, i, b'"')?;
    let len = special::<false>(s.get(start..)?)?;
    (s[start + len] == b'"').then_some((start..start + len, start + len + 1))
}

/// A key of `fields` at `i`: a data element number as the general path reads it, here only of
/// one to three digits. Returns it and where the key ends.
#[inline(always)]
fn field_key(s: &[u8], i: usize) -> Option<(u8, usize)> {
    let start = expect(s, i, b'"')?;
    let rest = s.get(start..)?;
    let digit = |k: usize| {
        rest.get(k)
            .map(|b| b.wrapping_sub(b'0'))
            .filter(|d| *d < 10)
            .map(u16::from)
    };
    // Up to three digits, then the closing quote.
    let d0 = digit(0)?;
    let (n, len) = match digit(1) {
        None => (d0, 1),
        Some(d1) => match digit(2) {
            None => (d0 * 10 + d1, 2),
            Some(d2) => (d0 * 100 + d1 * 10 + d2, 3),
        },
    };
    if rest.get(len) != Some(&b'"') {
        return None;
    }
    let n = u8::try_from(n).ok().filter(|n| (2..=192).contains(n) && *n != 65)?;
    Some((n, start + len + 1))
}

/// The rest of a string (after its opening quote at `i - 1`) as text: returns where it ends, and
/// where its value is: in `s` (`false`) when it has no escapes, else decoded and appended to
/// `out` (`true`). `None` for what serde_json refuses (control characters, bad escapes), for
/// surrogate escapes (left to it), and if `STAR` for a value with a `*` (written or escaped).
#[inline]
fn text_string<const STAR: bool>(s: &[u8], mut i: usize, out: &mut Vec<u8>) -> Option<(usize, (bool, Range<usize>))> {
    let run = special::<STAR>(s.get(i..)?)?;
    if s[i + run] == b'"' {
        return Some((i + run + 1, (false, i..i + run)));
    }
    let start = out.len();
    // Each round takes at least one byte.
    for _ in 0..s.len() {
        let rest = s.get(i..)?;
        let run = special::<STAR>(rest)?;
        out.extend_from_slice(&rest[..run]);
        i += run;
        match s[i] {
            b'"' => return Some((i + 1, (true, start..out.len()))),
            b'\\' => {
                let byte = match s.get(i + 1)? {
                    b'"' => b'"',
                    b'\\' => b'\\',
                    b'/' => b'/',
                    b'b' => 0x08,
                    b'f' => 0x0c,
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'u' => {
                        let digits = s.get(i + 2..i + 6)?;
                        let code = digits
                            .iter()
                            .try_fold(0u32, |n, d| Some(n << 4 | u32::from(nibble(*d)?)))?;
                        // A surrogate (half of a pair, or alone) is left to serde_json.
                        let c = char::from_u32(code).filter(|c| !(STAR && *c == '*'))?;
                        out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                        i += 6;
                        continue;
                    }
                    _ => return None,
                };
                out.push(byte);
                i += 2;
            }
            _ => return None,
        }
    }
    None
}

/// The rest of a string (after its opening quote) as an even run of hex digits, decoded and
/// appended to `out`: returns where it ends. Anything else (spaces, `0x`, escapes) is `None`.
fn hex_string(s: &[u8], i: usize, out: &mut Vec<u8>) -> Option<usize> {
    let rest = s.get(i..)?;
    let len = memchr::memchr(b'"', rest)?;
    let digits = &rest[..len];
    if digits.len() % 2 != 0 {
        return None;
    }
    for pair in digits.chunks_exact(2) {
        out.push(nibble(pair[0])? << 4 | nibble(pair[1])?);
    }
    Some(i + len + 1)
}

/// Where the first `"`, `\\` or control character (below 0x20) of `s` is (or, if `STAR`, the
/// first of those or `*`), eight bytes at a time.
#[inline]
fn special<const STAR: bool>(s: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut chunks = s.chunks_exact(8);
    let mut done = 0;
    // The lowest byte each test marks is exact (a false mark needs a true one below it).
    for chunk in &mut chunks {
        let x = u64::from_le_bytes(chunk.try_into().ok()?);
        let quote = x ^ (ONES * u64::from(b'"'));
        let backslash = x ^ (ONES * u64::from(b'\\'));
        let mut marks = (quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash)
            | (x.wrapping_sub(ONES * 0x20) & !x);
        if STAR {
            let star = x ^ (ONES * u64::from(b'*'));
            marks |= star.wrapping_sub(ONES) & !star;
        }
        let marks = marks & HIGH;
        if marks != 0 {
            return Some(done + (marks.trailing_zeros() / 8) as usize);
        }
        done += 8;
    }
    let rest = chunks
        .remainder()
        .iter()
        .position(|b| *b == b'"' || *b == b'\\' || *b < 0x20 || (STAR && *b == b'*'))?;
    Some(done + rest)
}

/// The value of one hex digit.
fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the general path makes of `text`: the message, or its error.
    fn general(spec: &Spec, text: &str) -> Result<Message, String> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
        crate::json::message_from_json(spec, &value).map_err(|e| format!("{e:#}"))
    }

    /// Reads `text` with `reader`: if the fast path takes it, its message must be the general
    /// path's (fields, masks, bytes), and its direct encoding (no message built) must give the
    /// bytes or the error of encoding the general path's message. True if the fast path took it.
    fn fast_agrees_with_general(reader: &mut Reader, spec: &Spec, text: &str) -> bool {
        let name = spec.name();
        let want = general(spec, text);
        // After bytes already in the buffer, as a frame being built.
        let mut direct = BytesMut::from(&b"before"[..]);
        let encoded = reader.encode(spec, text, &mut direct);
        let Some(got) = reader.read(spec, text) else {
            assert!(encoded.is_none(), "{name}: {text:?}: encode takes a line read leaves");
            assert_eq!(&direct[..], b"before", "{name}: {text:?}");
            return false;
        };
        let encoded = encoded.unwrap_or_else(|| panic!("{name}: {text:?}: read takes a line encode leaves"));
        let want =
            want.unwrap_or_else(|e| panic!("{name}: {text:?}: fast path took a line the general path refuses: {e}"));
        assert_eq!(got, &want, "{name}: {text:?}");
        assert!(got.masks() == want.masks(), "{name}: {text:?}");
        let encoded_msg = |m: &Message| spec.encode(m).map_err(|e| e.to_string());
        assert_eq!(encoded_msg(got), encoded_msg(&want), "{name}: {text:?}");
        let mut via_message = BytesMut::from(&b"before"[..]);
        let want_encoded = spec.encode_into(&want, &mut via_message).map_err(|e| e.to_string());
        assert_eq!(encoded.map_err(|e| e.to_string()), want_encoded, "{name}: {text:?}");
        assert_eq!(direct, via_message, "{name}: {text:?}");
        true
    }

    /// Lines of every kind: the fixture of `tests/cli_encode_paths.rs`, and more.
    fn lines() -> Vec<String> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/encode_paths/input.jsonl");
        let mut lines: Vec<String> = std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        for extra in [
            r#"{"mti": "0200", "fields": {"2": "4111111111111111", "11": "000001", "52": "0123456789ABCDEF"}}"#,
            r#"{"fields": {"41": "TERM\u0030001"}, "mti": "0800"}"#,
            r#"{"mti": "0800"}"#,
            r#"{"mti": "0200", "fields": {"4": 1000}}"#,
            r#"{"mti": "0200", "extra": 1}"#,
            r#"{"mti": "0200", "fields": {"41": "TERM\u00e9\"1\""}}"#,
            r#"{"mti": "0200", "fields": {"41": "\u0000\u001f\u007f\uFFFF"}}"#,
            r#"{"mti": "0200", "fields": {"41": "TERM\u"}}"#,
            r#"{"mti": "0200", "fields": {"41": "TERM\uZZZZ"}}"#,
            r#"{"mti": "0200", "fields": {"41": "TERM0001\"#,
            r#"{"mti": "0200", "fields": {"41": "TERM0001"#,
            r#"{"mti": "0200", "fields": {"41""#,
            r#"{"mti": "0200", "fields": {"41":"#,
            r#"{"mti": "0200", "fields": {"#,
            r#"{"mti": "0200", "fields""#,
            r#"{"mti": "0200","#,
            r#"{"mti""#,
            r#"{"#,
            r#"{"mti": "0200", "fields": {"52": "0123456789ABCDE"}}"#,
            r#"{"mti": "0200", "fields": {"52": "0123456789ABCDEF"#,
            r#"{"mti": "0200", "fields": {"2": "4111111111111111", "2": "411111******1111"}}"#,
            r#"{"mti": "0200", "fields": {"2": "411111******1111", "2": "4111111111111111"}}"#,
            r#"{"mti": "0200", "fields": {"2": "411111\u002a\u002A****1111"}}"#,
            r#"{"mti": "0200", "fields": {"35": "4111*=2812", "41": "TERM*001", "43": "\u002a"}}"#,
            r#"{"mti": "0200", "fields": {"11": "000001"} }   "#,
            "{\"mti\":\"0200\",\n\"fields\":{\"11\":\"000001\"}\r\n}",
            "{\"mti\":\"0200\",\u{a0}\"fields\":{}}",
            r#"{"mti": "0200", "fields": {"255": "x"}}"#,
            r#"{"mti": "0200", "fields": {"256": "x"}}"#,
            r#"{"mti": "0200", "fields": {"999": "x"}}"#,
            r#"{"mti": "0200", "fields": {"11": "00000１"}}"#,
        ] {
            lines.push(extra.to_owned());
        }
        lines
    }

    #[test]
    fn the_fast_path_builds_what_the_general_path_builds_or_leaves_the_line_to_it() {
        for name in ["iso87-ascii", "iso87-ascii-binary-bitmap", "iso87-bcd"] {
            let spec = Spec::builtin(name).unwrap();
            // One reader for all lines, as in a batch: what a line leaves behind must not show.
            let mut reader = Reader::new();
            let mut taken = 0;
            for text in lines() {
                taken += usize::from(fast_agrees_with_general(&mut reader, &spec, &text));
            }
            assert!(taken >= 35, "{name}: the fast path took only {taken} lines");
        }
    }

    /// A byte-level edit of a line: JSON's punctuation, escapes, digits, hex, spaces, controls,
    /// a mask character and multi-byte text, where a hand-written reader slips first.
    #[derive(Debug, Clone)]
    enum Edit {
        Insert(usize, &'static str),
        Delete(usize, usize),
        Replace(usize, &'static str),
    }

    const PIECES: &[&str] = &[
        "\"",
        "\\",
        ":",
        ",",
        "{",
        "}",
        "[",
        "]",
        " ",
        "\t",
        "\n",
        "\u{0}",
        "\u{1f}",
        "0",
        "1",
        "9",
        "65",
        "128",
        "192",
        "A",
        "f",
        "*",
        "é",
        "€",
        "\\u",
        "\\u0041",
        "\\u002a",
        "\\ud83d",
        "\\n",
        "\\\"",
        "null",
        "1e3",
        "-",
        "\"11\":\"000001\"",
        "\"mti\":\"0800\"",
        "\"fields\":{}",
    ];

    fn edit() -> impl proptest::strategy::Strategy<Value = Edit> {
        use proptest::prelude::*;
        let piece = proptest::sample::select(PIECES);
        prop_oneof![
            (any::<usize>(), piece.clone()).prop_map(|(at, p)| Edit::Insert(at, p)),
            (any::<usize>(), 1..4usize).prop_map(|(at, n)| Edit::Delete(at, n)),
            (any::<usize>(), piece).prop_map(|(at, p)| Edit::Replace(at, p)),
        ]
    }

    /// `text` with `edits` applied at char boundaries (positions taken modulo the length).
    fn apply(text: &str, edits: &[Edit]) -> String {
        let mut s = text.to_owned();
        let boundary = |s: &str, at: usize| {
            let at = at % (s.len() + 1);
            (0..=at).rev().find(|i| s.is_char_boundary(*i)).unwrap_or(0)
        };
        for e in edits {
            let (at, removed, with) = match *e {
                Edit::Insert(at, p) => (at, 0, p),
                Edit::Delete(at, n) => (at, n, ""),
                Edit::Replace(at, p) => (at, 1, p),
            };
            let start = boundary(&s, at);
            let end = (start + removed).min(s.len());
            let end = (end..=s.len()).find(|i| s.is_char_boundary(*i)).unwrap_or(s.len());
            s.replace_range(start..end, with);
        }
        s
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 3000, ..Default::default() })]

        /// Any line near the common shape (one to four edits of a corpus line): the fast path
        /// either leaves it to the general path, or builds exactly the message the general path
        /// builds (fields, masks, bytes) from it; a reader reused across lines keeps nothing.
        #[test]
        fn edited_lines_agree_between_the_fast_and_the_general_path(
            which in 0usize..1000,
            spec_at in 0usize..3,
            edits in proptest::collection::vec(edit(), 1..5),
        ) {
            let name = ["iso87-ascii", "iso87-ascii-binary-bitmap", "iso87-bcd"][spec_at];
            let spec = Spec::builtin(name).unwrap();
            let corpus = lines();
            let text = apply(&corpus[which % corpus.len()], &edits);
            let mut reader = Reader::new();
            // A message read before must leave nothing behind.
            let _ = reader.read(&spec, &corpus[0]);
            fast_agrees_with_general(&mut reader, &spec, &text);
        }
    }

    #[test]
    fn the_fast_path_takes_the_common_shapes() {
        let spec = Spec::builtin("iso87-ascii").unwrap();
        let mut reader = Reader::new();
        for text in [
            r#"{"mti":"0200","fields":{"2":"4761739001010119","3":"000000","4":"000000001000","11":"000001","35":"4761739001010119=28122011143857589","41":"TERM0001"}}"#,
            r#" { "fields" : { "41" : "TERM\u0030001" , "43": "caf\u00e9 \"x\" \\ \/" } , "mti" : "0800" } "#,
            r#"{"mti": "0800"}"#,
            r#"{"mti": "0800", "fields": {}}"#,
            r#"{"mti": "0200", "fields": {"52": "0123456789abcdef", "2": "4111111111111111", "011": "000001"}}"#,
        ] {
            assert!(reader.read(&spec, text).is_some(), "{text}");
        }
        for text in [
            r#"{"mti": "0200", "fields": {"2": "411111******1111"}}"#,
            r#"{"mti": "0200", "fields": {"4": 1000}}"#,
            r#"{"mti": "0200", "fields": {"55": {"9F26": "0102030405060708"}}}"#,
            r#"{"mti": "0200", "fields": null}"#,
            r#"{"mti": "0200", "extra": 1}"#,
            r#"{"mti": "02x0"}"#,
            r#"{"mti": "0200", "fields": {"1": "x"}}"#,
            r#"{"mti": "0200", "fields": {"41": "\ud83d\ude00"}}"#,
            r#"{"mti": "0200"} x"#,
        ] {
            assert!(reader.read(&spec, text).is_none(), "{text}");
        }
    }

    #[test]
    fn special_finds_what_a_byte_by_byte_search_finds() {
        let naive = |s: &[u8], star: bool| {
            s.iter()
                .position(|b| *b == b'"' || *b == b'\\' || *b < 0x20 || (star && *b == b'*'))
        };
        let alphabet: &[u8] = &[
            b'a', b'"', b'\\', 0x00, 0x1f, 0x20, 0x21, 0x7f, 0x80, 0xc3, 0xff, b'0', b'*', b'+', b')',
        ];
        // Every string of up to 3 bytes from the alphabet, placed at every position of a run of
        // plain bytes long enough to span several words.
        let n = alphabet.len();
        for code in 0..n * n * n {
            let probe = [alphabet[code % n], alphabet[code / n % n], alphabet[code / n / n]];
            for at in 0..20 {
                let mut s = [b'x'; 24];
                s[at..at + 3].copy_from_slice(&probe);
                for len in [at + 1, at + 3, 24] {
                    let s = &s[..len];
                    assert_eq!(special::<false>(s), naive(s, false), "{s:?}");
                    assert_eq!(special::<true>(s), naive(s, true), "{s:?}");
                }
            }
        }
    }
}
