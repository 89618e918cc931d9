//! Message specifications: what each data element looks like on the wire.
//!
//! A [`Spec`] is data, not code: one generic codec ([`crate::codec`]) interprets
//! it. Specs are written in TOML (see `specs/*.toml` and the README) and five
//! are built in:
//!
//! | name | MTI | bitmaps | fields |
//! |---|---|---|---|
//! | `iso87-ascii` | 4 ASCII digits | 16 ASCII hex chars each | all ASCII, LL/LLL ASCII decimal prefixes, DE 52/55/64/96/128 binary as ASCII hex |
//! | `iso87-ascii-binary-bitmap` | 4 ASCII digits | 8 raw bytes each | as above, DE 52/55/64/96/128 raw binary |
//! | `iso87-bcd` | 2 bytes BCD | 8 raw bytes each | numeric and track fields packed BCD (length in digits), BCD prefixes, text ASCII |
//! | `iso87-ebcdic` | 4 EBCDIC digits | 8 raw bytes each | the 1987 table in EBCDIC text and numerics, EBCDIC LL/LLL prefixes, binary DE 52/55/64/96/128 raw |
//! | `iso93-ascii` | 4 ASCII digits | 16 ASCII hex chars each | the 1993 table (DE 12 n12, DE 22 an12, DE 24 function code, DE 39 action code n3), all ASCII, binary as ASCII hex |
//!
//! Every built-in declares DE 55 as EMV BER-TLV (see [`Composite`]), parsed only when asked for.
//!
//! ```
//! use iso8583_client::Spec;
//! let spec = Spec::builtin("iso87-ascii").unwrap();
//! let pan = spec.field(2).unwrap();
//! assert_eq!(pan.name(), "Primary Account Number (PAN)");
//! assert_eq!(pan.max_len(), 19);
//! ```

pub(crate) mod composite;
mod emv;
mod file;

use std::fmt;
use std::sync::{Arc, OnceLock};

pub use composite::{Composite, CompositeKind, TagInfo, TagTable, TlvPart, MAX_DEPTH};
pub use emv::emv_tag;
pub use file::SpecError;

/// Highest data element number a spec can define (tertiary bitmap).
///
/// ```
/// use iso8583_client::spec::MAX_FIELD;
/// let spec = iso8583_client::Spec::builtin("iso87-ascii").unwrap();
/// assert!(spec.fields().all(|f| f.number() <= MAX_FIELD));
/// ```
pub const MAX_FIELD: u8 = 192;

/// How the length of a data element is known.
///
/// ```
/// use iso8583_client::spec::LengthKind;
/// let ascii = iso8583_client::Spec::builtin("iso87-ascii").unwrap();
/// assert_eq!(ascii.field(2).unwrap().length(), LengthKind::Variable(2)); // LL
/// assert_eq!(ascii.field(11).unwrap().length(), LengthKind::Fixed);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LengthKind {
    /// Always exactly `max_len` units.
    Fixed,
    /// A length prefix of this many decimal digits (1 = L … 4 = LLLL) precedes the content.
    Variable(u8),
}

/// Encoding of a data element's content on the wire.
///
/// ```
/// use iso8583_client::spec::Encoding;
/// let ascii = iso8583_client::Spec::builtin("iso87-ascii").unwrap();
/// let bcd = iso8583_client::Spec::builtin("iso87-bcd").unwrap();
/// assert_eq!(ascii.field(2).unwrap().encoding(), Encoding::Ascii);
/// assert_eq!(bcd.field(2).unwrap().encoding(), Encoding::Bcd);
/// assert_eq!(ascii.field(52).unwrap().encoding(), Encoding::Hex); // PIN block as 16 hex characters
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// ASCII characters.
    Ascii,
    /// EBCDIC characters, code page 037.
    Ebcdic,
    /// Packed BCD, two digits a byte.
    Bcd,
    /// Raw bytes.
    Binary,
    /// Raw bytes shown on the wire as ASCII hex characters (two per byte).
    Hex,
}

/// Encoding of a length prefix (or of the MTI).
///
/// ```
/// use iso8583_client::spec::PrefixEncoding;
/// let ascii = iso8583_client::Spec::builtin("iso87-ascii").unwrap();
/// let bcd = iso8583_client::Spec::builtin("iso87-bcd").unwrap();
/// assert_eq!(ascii.field(2).unwrap().prefix(), PrefixEncoding::Ascii);
/// assert_eq!(bcd.field(2).unwrap().prefix(), PrefixEncoding::Bcd);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrefixEncoding {
    /// ASCII decimal digits, one byte a digit (`"19"` = `31 39`).
    Ascii,
    /// EBCDIC decimal digits, one byte a digit (`"19"` = `F1 F9`).
    Ebcdic,
    /// Packed BCD, two digits a byte (`19` = `19`; LLL `104` = `01 04`).
    Bcd,
    /// Unsigned big-endian binary (1 byte for L/LL, 2 bytes for LLL/LLLL).
    Binary,
}

/// Encoding of the MTI.
///
/// ```
/// use iso8583_client::spec::MtiEncoding;
/// let ascii = iso8583_client::Spec::builtin("iso87-ascii").unwrap();
/// let bcd = iso8583_client::Spec::builtin("iso87-bcd").unwrap();
/// assert_eq!(ascii.mti_encoding(), MtiEncoding::Ascii);
/// assert_eq!(bcd.mti_encoding(), MtiEncoding::Bcd);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MtiEncoding {
    /// Four ASCII digits.
    Ascii,
    /// Four EBCDIC digits.
    Ebcdic,
    /// Two bytes of packed BCD.
    Bcd,
}

/// Encoding of the bitmaps.
///
/// ```
/// use iso8583_client::{Spec, spec::BitmapEncoding};
/// assert_eq!(Spec::builtin("iso87-ascii").unwrap().bitmap_encoding(), BitmapEncoding::Hex);
/// assert_eq!(Spec::builtin("iso87-ascii-binary-bitmap").unwrap().bitmap_encoding(), BitmapEncoding::Binary);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BitmapEncoding {
    /// Eight raw bytes per bitmap.
    Binary,
    /// Sixteen ASCII hex characters per bitmap (uppercase when encoding; either case decodes).
    Hex,
}

/// What a length prefix and `max_len` count for BCD content.
///
/// ```
/// use iso8583_client::spec::LengthUnit;
/// let bcd = iso8583_client::Spec::builtin("iso87-bcd").unwrap();
/// assert_eq!(bcd.field(2).unwrap().unit(), LengthUnit::Digits); // PAN: LL counts digits
/// assert_eq!(bcd.field(41).unwrap().unit(), LengthUnit::Bytes);  // text counts bytes
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LengthUnit {
    /// Bytes on the wire (for hex content: hex characters).
    Bytes,
    /// Digits (nibbles) of packed BCD content.
    Digits,
}

/// Where the pad nibble goes when packed BCD content has an odd number of digits.
///
/// ```
/// use iso8583_client::{Message, spec::OddPad};
/// let bcd = iso8583_client::Spec::builtin("iso87-bcd").unwrap();
/// assert_eq!(bcd.field(2).unwrap().odd_pad(), OddPad::LeftZero);
/// let wire = bcd.encode(&Message::new("0200".parse().unwrap()).with(2, "123")).unwrap();
/// assert_eq!(&wire[10..], &[0x03, 0x01, 0x23]); // LL 03, then 0-pad nibble, 1 2 3
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OddPad {
    /// A `0` nibble before the first digit.
    LeftZero,
    /// An `F` nibble before the first digit.
    LeftF,
    /// A `0` nibble after the last digit.
    RightZero,
    /// An `F` nibble after the last digit.
    RightF,
}

/// Padding applied by the encoder to a fixed-length value that is too short.
///
/// ```
/// use iso8583_client::{Message, Spec, spec::FixedPad};
/// let toml = r#"
/// name = "padded"
/// mti = "ascii"
/// bitmap = "hex"
/// fields = [ { number = 11, name = "STAN", length = "fixed", max = 6, class = "n", pad = "zeros" } ]"#;
/// let spec = Spec::from_toml(toml, "padded.toml").unwrap();
/// assert_eq!(spec.field(11).unwrap().pad(), FixedPad::LeftZeros);
/// assert!(spec.encode(&Message::new("0800".parse().unwrap()).with(11, "42")).unwrap().ends_with(b"000042"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FixedPad {
    /// No padding: a value of the wrong length is an error.
    None,
    /// Zeros on the left (numerics).
    LeftZeros,
    /// Spaces on the right (text).
    RightSpaces,
}

/// ISO 8583:1987 content class of a data element.
///
/// ```
/// use iso8583_client::spec::ContentClass;
/// let ascii = iso8583_client::Spec::builtin("iso87-ascii").unwrap();
/// assert_eq!(ascii.field(11).unwrap().class(), ContentClass::N);
/// assert_eq!(ascii.field(35).unwrap().class(), ContentClass::Z);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentClass {
    /// Digits 0-9.
    N,
    /// Letters.
    A,
    /// Letters and digits.
    An,
    /// Printable ASCII (0x20-0x7E).
    Ans,
    /// Binary.
    B,
    /// Track data: digits and the separators of ISO 7813 (`0x30`-`0x3F`), plus `D`.
    Z,
    /// `C` (credit) or `D` (debit) followed by digits: a signed amount.
    Xn,
}

/// How careful to be with a data element in logs and output.
///
/// ```
/// use iso8583_client::{message::Masked, spec::Sensitivity};
/// let ascii = iso8583_client::Spec::builtin("iso87-ascii").unwrap();
/// assert_eq!(ascii.field(2).unwrap().sensitivity(), Sensitivity::Pan);
/// assert_eq!(Masked::new(b"1234", Sensitivity::Track).to_string(), "****");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Sensitivity {
    /// Shown as is.
    #[default]
    None,
    /// A card number: at most the first 6 and last 4 digits shown, never fewer than 6 hidden.
    Pan,
    /// Track data: fully masked but for its separators (`^`, `=`).
    Track,
    /// PIN block, security codes, keys: fully masked.
    Secret,
}

/// The definition of one data element.
///
/// ```
/// let ascii = iso8583_client::Spec::builtin("iso87-ascii").unwrap();
/// let stan = ascii.field(11).unwrap();
/// assert_eq!((stan.number(), stan.name(), stan.max_len()), (11, "System Trace Audit Number", 6));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldSpec {
    pub(crate) number: u8,
    pub(crate) name: Arc<str>,
    pub(crate) length: LengthKind,
    pub(crate) max_len: u16,
    pub(crate) encoding: Encoding,
    pub(crate) prefix: PrefixEncoding,
    pub(crate) unit: LengthUnit,
    pub(crate) odd_pad: OddPad,
    pub(crate) pad: FixedPad,
    pub(crate) class: ContentClass,
    pub(crate) sensitivity: Sensitivity,
    /// Whether a variable length prefix counts its own bytes too (Visa DE 126.18 style).
    pub(crate) prefix_counts_itself: bool,
    pub(crate) composite: Option<Arc<Composite>>,
}

impl FieldSpec {
    /// Data element number (2-192).
    pub fn number(&self) -> u8 {
        self.number
    }
    /// Human name, e.g. `"System Trace Audit Number"`.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Fixed or variable, and the prefix width.
    pub fn length(&self) -> LengthKind {
        self.length
    }
    /// Maximum (or fixed) length, in the field's [`LengthUnit`].
    pub fn max_len(&self) -> u16 {
        self.max_len
    }
    /// Content encoding.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }
    /// Length prefix encoding (unused for fixed fields).
    pub fn prefix(&self) -> PrefixEncoding {
        self.prefix
    }
    /// What lengths count.
    pub fn unit(&self) -> LengthUnit {
        self.unit
    }
    /// Pad nibble position for odd-length BCD.
    pub fn odd_pad(&self) -> OddPad {
        self.odd_pad
    }
    /// Padding of short fixed values when encoding.
    pub fn pad(&self) -> FixedPad {
        self.pad
    }
    /// ISO content class.
    pub fn class(&self) -> ContentClass {
        self.class
    }
    /// Masking rule.
    pub fn sensitivity(&self) -> Sensitivity {
        self.sensitivity
    }
    /// Whether the value is raw bytes (binary or hex on the wire), shown as hex text.
    pub fn is_binary(&self) -> bool {
        matches!(self.encoding, Encoding::Binary | Encoding::Hex)
    }
    /// The field's sub-structure, if the spec declares one (parsed only when asked for).
    ///
    /// ```
    /// let spec = iso8583_client::Spec::builtin("iso87-ascii").unwrap();
    /// assert!(spec.field(55).unwrap().composite().is_some()); // EMV BER-TLV
    /// assert!(spec.field(2).unwrap().composite().is_none());
    /// ```
    pub fn composite(&self) -> Option<&Composite> {
        self.composite.as_deref()
    }
    /// Whether the length prefix counts its own bytes as well as the content's.
    ///
    /// ```
    /// let spec = iso8583_client::Spec::builtin("iso87-ascii").unwrap();
    /// assert!(!spec.field(2).unwrap().prefix_counts_itself());
    /// ```
    pub fn prefix_counts_itself(&self) -> bool {
        self.prefix_counts_itself
    }
}

/// The fields of a spec that have a sub-structure: what a [`crate::Message`] needs to find its parts.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    /// Sorted by number.
    pub(crate) fields: Vec<FieldSpec>,
}

impl Layout {
    /// The layout of `fields` (those with a composite).
    pub(crate) fn of(fields: &[Option<FieldSpec>]) -> Layout {
        Layout {
            fields: fields
                .iter()
                .flatten()
                .filter(|f| f.composite.is_some())
                .cloned()
                .collect(),
        }
    }
    /// The layout of a message made without a spec: DE 55 as EMV BER-TLV.
    pub(crate) fn iso_default() -> &'static Layout {
        static DEFAULT: OnceLock<Layout> = OnceLock::new();
        DEFAULT.get_or_init(|| Layout {
            fields: vec![FieldSpec {
                number: 55,
                name: Arc::from("ICC data"),
                length: LengthKind::Variable(3),
                max_len: 999,
                encoding: Encoding::Binary,
                prefix: PrefixEncoding::Ascii,
                unit: LengthUnit::Bytes,
                odd_pad: OddPad::LeftZero,
                pad: FixedPad::None,
                class: ContentClass::B,
                sensitivity: Sensitivity::Secret,
                prefix_counts_itself: false,
                composite: Some(Arc::new(Composite {
                    kind: CompositeKind::BerTlv { tags: emv::emv_tags() },
                    strict: false,
                })),
            }],
        })
    }
    /// Whether a message finds the same parts with this layout as with [`Layout::iso_default`]
    /// (then decoded messages need not carry it).
    pub(crate) fn is_iso_default(&self) -> bool {
        let default = Layout::iso_default();
        self.fields.len() == default.fields.len()
            && self.fields.iter().zip(&default.fields).all(|(a, b)| {
                a.number == b.number
                    && a.sensitivity == b.sensitivity
                    && a.composite.as_ref().map(|c| &c.kind) == b.composite.as_ref().map(|c| &c.kind)
            })
    }
    /// The definition of a composite field.
    pub(crate) fn field(&self, number: u8) -> Option<&FieldSpec> {
        self.fields.iter().find(|f| f.number == number)
    }
}

/// Which fields are masked, and how: a compact set copied into every decoded [`crate::Message`].
///
/// ```
/// use iso8583_client::spec::{MaskSet, Sensitivity};
/// let masks = MaskSet::ISO_DEFAULT;
/// assert_eq!((masks.of(2), masks.of(52), masks.of(4)), (Sensitivity::Pan, Sensitivity::Secret, Sensitivity::None));
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct MaskSet {
    pan: [u64; 4],
    full: [u64; 4],
    track: [u64; 4],
}

/// [`MaskSet::ISO_DEFAULT`] where a reference to it is wanted.
static ISO_DEFAULT_MASKS: MaskSet = MaskSet::ISO_DEFAULT;

impl MaskSet {
    /// The one shared copy of this set, made on first use and kept for the life of the process:
    /// messages point to their masking rules instead of carrying 96 bytes each. A process holds
    /// one copy per distinct set it ever used (a spec loaded, a `Message::set_masks`), so a
    /// handful in practice.
    pub(crate) fn interned(self) -> &'static MaskSet {
        static TABLE: std::sync::Mutex<Vec<&'static MaskSet>> = std::sync::Mutex::new(Vec::new());
        if self == MaskSet::ISO_DEFAULT {
            return &ISO_DEFAULT_MASKS;
        }
        let mut table = TABLE.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(found) = table.iter().find(|m| ***m == self) {
            return found;
        }
        let made: &'static MaskSet = Box::leak(Box::new(self));
        table.push(made);
        made
    }

    /// The ISO defaults, shared.
    pub(crate) fn iso_default() -> &'static MaskSet {
        &ISO_DEFAULT_MASKS
    }

    /// The ISO 8583:1987 defaults: PAN in DE 2 and 34; tracks 35, 36, 45; expiry date 14, PIN
    /// block 52 and ICC data 55 fully masked.
    pub const ISO_DEFAULT: MaskSet = {
        let mut m = MaskSet {
            pan: [0; 4],
            full: [0; 4],
            track: [0; 4],
        };
        m.pan = set_bit(m.pan, 2);
        m.pan = set_bit(m.pan, 34);
        m.track = set_bit(m.track, 35);
        m.track = set_bit(m.track, 36);
        m.track = set_bit(m.track, 45);
        m.full = set_bit(m.full, 14);
        m.full = set_bit(m.full, 52);
        m.full = set_bit(m.full, 55);
        m
    };

    /// An empty set (nothing masked).
    pub const fn empty() -> MaskSet {
        MaskSet {
            pan: [0; 4],
            full: [0; 4],
            track: [0; 4],
        }
    }

    /// The masking rule for a field.
    pub fn of(&self, field: u8) -> Sensitivity {
        if has_bit(&self.pan, field) {
            Sensitivity::Pan
        } else if has_bit(&self.track, field) {
            Sensitivity::Track
        } else if has_bit(&self.full, field) {
            Sensitivity::Secret
        } else {
            Sensitivity::None
        }
    }

    /// Sets the masking rule of a field.
    pub fn set(&mut self, field: u8, s: Sensitivity) {
        self.pan = clear_bit(self.pan, field);
        self.full = clear_bit(self.full, field);
        self.track = clear_bit(self.track, field);
        match s {
            Sensitivity::None => {}
            Sensitivity::Pan => self.pan = set_bit(self.pan, field),
            Sensitivity::Track => self.track = set_bit(self.track, field),
            Sensitivity::Secret => self.full = set_bit(self.full, field),
        }
    }
}

impl Default for MaskSet {
    fn default() -> Self {
        MaskSet::ISO_DEFAULT
    }
}

impl fmt::Debug for MaskSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |bits: &[u64; 4]| -> Vec<u8> { (0..=MAX_FIELD).filter(|&n| has_bit(bits, n)).collect() };
        f.debug_struct("MaskSet")
            .field("pan", &list(&self.pan))
            .field("track", &list(&self.track))
            .field("full", &list(&self.full))
            .finish()
    }
}

const fn set_bit(mut bits: [u64; 4], n: u8) -> [u64; 4] {
    let n = n as usize;
    bits[n / 64] |= 1 << (n % 64);
    bits
}
const fn clear_bit(mut bits: [u64; 4], n: u8) -> [u64; 4] {
    let n = n as usize;
    bits[n / 64] &= !(1 << (n % 64));
    bits
}
fn has_bit(bits: &[u64; 4], n: u8) -> bool {
    let n = n as usize;
    bits[n / 64] & (1 << (n % 64)) != 0
}

/// A complete message specification: MTI and bitmap encodings plus the data elements.
///
/// Load one with [`Spec::builtin`], [`Spec::load`] or [`Spec::from_toml`]; decode and encode with
/// [`Spec::decode`] and [`Spec::encode`].
///
/// ```
/// use iso8583_client::{Message, Spec};
/// let spec = Spec::load("iso87-ascii").unwrap();
/// let mut msg = Message::new("0800".parse().unwrap());
/// msg.set(11, "000001").set(70, "301");
/// let wire = spec.encode(&msg).unwrap();
/// let expected = concat!("0800", "8020000000000000", "0400000000000000", "000001", "301");
/// assert_eq!(&wire[..], expected.as_bytes());
/// ```
#[derive(Clone, Debug)]
pub struct Spec {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) mti: MtiEncoding,
    pub(crate) bitmap: BitmapEncoding,
    /// Indexed by field number; `None` where the spec does not define the field.
    pub(crate) fields: Vec<Option<FieldSpec>>,
    /// Shared with every message the spec decodes (one copy per distinct set in the process).
    pub(crate) masks: &'static MaskSet,
    /// The composite fields, unless they are the ISO default (DE 55 EMV BER-TLV only): a decoded
    /// message then carries no reference to them.
    pub(crate) layout: Option<Arc<Layout>>,
}

/// Names of the built-in specs.
///
/// ```
/// use iso8583_client::{Spec, spec::BUILTIN_SPECS};
/// assert!(BUILTIN_SPECS.iter().all(|name| Spec::builtin(name).is_some()));
/// ```
pub const BUILTIN_SPECS: [&str; 5] = [
    "iso87-ascii",
    "iso87-ascii-binary-bitmap",
    "iso87-bcd",
    "iso87-ebcdic",
    "iso93-ascii",
];

const BUILTIN_SOURCES: [(&str, &str); 5] = [
    ("iso87-ascii", include_str!("../specs/iso87-ascii.toml")),
    (
        "iso87-ascii-binary-bitmap",
        include_str!("../specs/iso87-ascii-binary-bitmap.toml"),
    ),
    ("iso87-bcd", include_str!("../specs/iso87-bcd.toml")),
    ("iso87-ebcdic", include_str!("../specs/iso87-ebcdic.toml")),
    ("iso93-ascii", include_str!("../specs/iso93-ascii.toml")),
];

impl Spec {
    /// A built-in spec by name (see [`BUILTIN_SPECS`]); parsed once, then shared.
    pub fn builtin(name: &str) -> Option<Arc<Spec>> {
        static CACHE: [OnceLock<Arc<Spec>>; 5] = [const { OnceLock::new() }; 5];
        let i = BUILTIN_SOURCES.iter().position(|(n, _)| *n == name)?;
        let (n, src) = BUILTIN_SOURCES[i];
        let spec = CACHE[i].get_or_init(|| {
            // The built-in files are checked by the test suite; a broken one is a build defect.
            Arc::new(Spec::from_toml(src, &format!("built-in spec {n}")).unwrap_or_else(|e| panic!("{e}")))
        });
        Some(spec.clone())
    }

    /// A built-in spec by name, or else a TOML spec file by path.
    pub fn load(name_or_path: &str) -> Result<Arc<Spec>, SpecError> {
        if let Some(s) = Spec::builtin(name_or_path) {
            return Ok(s);
        }
        let text = std::fs::read_to_string(name_or_path)
            .map_err(|e| SpecError::new(name_or_path, None, format!("cannot read: {e}")))?;
        Spec::from_toml(&text, name_or_path).map(Arc::new)
    }

    /// Parses and checks a spec written in TOML; `origin` names it in errors (a file path, say).
    pub fn from_toml(text: &str, origin: &str) -> Result<Spec, SpecError> {
        file::parse(text, origin)
    }

    /// The spec's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The spec's one-line description.
    pub fn description(&self) -> &str {
        &self.description
    }
    /// MTI encoding.
    pub fn mti_encoding(&self) -> MtiEncoding {
        self.mti
    }
    /// Bitmap encoding.
    pub fn bitmap_encoding(&self) -> BitmapEncoding {
        self.bitmap
    }
    /// A field's definition, if the spec has it.
    pub fn field(&self, number: u8) -> Option<&FieldSpec> {
        self.fields.get(number as usize).and_then(Option::as_ref)
    }
    /// All defined fields in number order.
    pub fn fields(&self) -> impl Iterator<Item = &FieldSpec> {
        self.fields.iter().flatten()
    }
    /// The masking rules of this spec's sensitive fields.
    pub fn masks(&self) -> MaskSet {
        *self.masks
    }
}

#[cfg(test)]
mod tests {
    use super::Spec;

    /// Decoding with a 1987 built-in attaches no layout (no reference count on the hot path);
    /// a spec with more structure does.
    #[test]
    fn builtin_1987_layouts_are_the_iso_default() {
        for name in ["iso87-ascii", "iso87-ascii-binary-bitmap", "iso87-bcd", "iso87-ebcdic"] {
            assert!(Spec::builtin(name).unwrap().layout.is_none(), "{name}");
        }
        assert!(Spec::builtin("iso93-ascii").unwrap().layout.is_some());
    }
}

#[cfg(test)]
mod interning_tests {
    use super::*;

    #[test]
    fn equal_mask_sets_share_one_copy_and_the_table_grows_only_with_new_sets() {
        let mut custom = MaskSet::empty();
        custom.set(48, Sensitivity::Secret);
        let (a, b) = (custom.interned(), { custom }.interned());
        assert!(std::ptr::eq(a, b));
        assert!(std::ptr::eq(MaskSet::ISO_DEFAULT.interned(), MaskSet::iso_default()));
        for _ in 0..1_000 {
            assert!(std::ptr::eq(custom.interned(), a), "no new copy for a set already held");
        }
        assert_eq!(*a, custom);
    }
}
