//! Sub-structure of a data element, as data: positional sub-fields, a sub-bitmap, tag-length-value
//! lists and EMV BER-TLV. Parsed only when asked for (see [`crate::Message::parts`]).
//!
//! In a spec file a field gets a `composite` table (TOML inline tables stay on one line; the
//! `parts` array inside may span lines):
//!
//! ```
//! use iso8583_client::spec::CompositeKind;
//! let toml = r#"
//! name = "net"
//! mti = "ascii"
//! bitmap = "hex"
//! fields = [
//!   { number = 48, name = "Additional Data", length = "LLL", max = 999, class = "ans", composite = { kind = "tlv", tag_len = 2, len_len = 2, parts = [
//!       { tag = "22", name = "Program Protocol", class = "ans" } ] } },
//!   { number = 55, name = "ICC data", length = "LLL", max = 255, class = "b", encoding = "binary", composite = { kind = "ber-tlv", dictionary = "emv" } },
//! ]"#;
//! let spec = iso8583_client::Spec::from_toml(toml, "net.toml").unwrap();
//! let de55 = spec.field(55).unwrap().composite().unwrap();
//! assert!(matches!(de55.kind(), CompositeKind::BerTlv { .. }));
//! ```

use std::sync::Arc;

use super::{BitmapEncoding, FieldSpec, PrefixEncoding, Sensitivity};

/// Deepest nesting of sub-structures (spec definitions and constructed BER-TLV tags alike).
///
/// ```
/// assert_eq!(iso8583_client::spec::MAX_DEPTH, 16);
/// ```
pub const MAX_DEPTH: usize = 16;

/// The sub-structure of one data element (or of a part, when nested).
///
/// ```
/// let spec = iso8583_client::Spec::builtin("iso87-ascii").unwrap();
/// let icc = spec.field(55).unwrap().composite().unwrap();
/// assert!(!icc.is_strict()); // built-ins accept any DE 55 bytes when encoding
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Composite {
    pub(crate) kind: CompositeKind,
    pub(crate) strict: bool,
}

impl Composite {
    /// What kind of structure.
    ///
    /// ```
    /// use iso8583_client::spec::CompositeKind;
    /// let spec = iso8583_client::Spec::builtin("iso87-bcd").unwrap();
    /// assert!(matches!(spec.field(55).unwrap().composite().unwrap().kind(), CompositeKind::BerTlv { .. }));
    /// ```
    pub fn kind(&self) -> &CompositeKind {
        &self.kind
    }
    /// Whether the encoder checks the structure of the field's value (`strict`, default true).
    ///
    /// ```
    /// let spec = iso8583_client::Spec::builtin("iso87-bcd").unwrap();
    /// assert!(!spec.field(55).unwrap().composite().unwrap().is_strict());
    /// ```
    pub fn is_strict(&self) -> bool {
        self.strict
    }
}

/// The kinds of sub-structure.
///
/// ```
/// use iso8583_client::spec::CompositeKind;
/// let spec = iso8583_client::Spec::builtin("iso87-ascii").unwrap();
/// let kind = spec.field(55).unwrap().composite().unwrap().kind();
/// assert!(matches!(kind, CompositeKind::BerTlv { .. }));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompositeKind {
    /// Sub-fields one after the other, in order, each with its own length kind and encoding.
    Positional {
        /// The sub-fields, numbered from 1 in order.
        parts: Vec<FieldSpec>,
    },
    /// A sub-bitmap, then the sub-fields whose bits are set (bit 1 is the most significant bit).
    Bitmap {
        /// Binary (raw bytes) or hex (two characters a byte).
        encoding: BitmapEncoding,
        /// Bitmap size in bytes (before hex).
        bytes: u8,
        /// The sub-fields that may be present, by number.
        parts: Vec<FieldSpec>,
    },
    /// Tag-length-value objects with fixed-size tags and lengths; unknown tags are kept.
    Tlv {
        /// Tag size: characters (text tags) or bytes (binary tags).
        tag_len: u8,
        /// Whether tags are text (`ascii`) or raw bytes shown in hex (`binary`).
        tag_binary: bool,
        /// Length size: digits (ASCII, EBCDIC, BCD) or bytes (binary).
        len_len: u8,
        /// Length encoding.
        len_encoding: PrefixEncoding,
        /// Known tags.
        parts: Vec<TlvPart>,
    },
    /// EMV BER-TLV: multi-byte tags, short and long lengths, constructed tags, 0x00 padding.
    BerTlv {
        /// Names and sensitivities of known tags, sorted by tag.
        tags: Arc<[TagInfo]>,
    },
}

/// A known tag of a `tlv` structure.
///
/// ```
/// use iso8583_client::spec::CompositeKind;
/// let toml = r#"
/// name = "mc"
/// mti = "ascii"
/// bitmap = "hex"
/// fields = [ { number = 48, name = "Additional Data", length = "LLL", max = 999, class = "ans", composite = { kind = "tlv", tag_len = 2, len_len = 2, parts = [ { tag = "22", name = "Program", class = "ans" } ] } } ]"#;
/// let spec = iso8583_client::Spec::from_toml(toml, "mc.toml").unwrap();
/// let CompositeKind::Tlv { parts, .. } = spec.field(48).unwrap().composite().unwrap().kind() else { panic!() };
/// assert_eq!((parts[0].tag(), parts[0].field().name()), ("22", "Program"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlvPart {
    pub(crate) tag: String,
    pub(crate) field: FieldSpec,
}

impl TlvPart {
    /// The tag as text (binary tags in uppercase hex).
    ///
    /// ```
    /// # use iso8583_client::spec::CompositeKind;
    /// # let toml = "name = \"t\"\nmti = \"ascii\"\nbitmap = \"hex\"\nfields = [ { number = 48, name = \"D\", length = \"LLL\", max = 999, class = \"ans\", composite = { kind = \"tlv\", tag_len = 2, len_len = 2, parts = [ { tag = \"22\", name = \"P\" } ] } } ]";
    /// # let spec = iso8583_client::Spec::from_toml(toml, "t").unwrap();
    /// # let CompositeKind::Tlv { parts, .. } = spec.field(48).unwrap().composite().unwrap().kind() else { panic!() };
    /// assert_eq!(parts[0].tag(), "22");
    /// ```
    pub fn tag(&self) -> &str {
        &self.tag
    }
    /// Name, class, sensitivity and any nested structure of the tag's value.
    ///
    /// ```
    /// # use iso8583_client::spec::CompositeKind;
    /// # let toml = "name = \"t\"\nmti = \"ascii\"\nbitmap = \"hex\"\nfields = [ { number = 48, name = \"D\", length = \"LLL\", max = 999, class = \"ans\", composite = { kind = \"tlv\", tag_len = 2, len_len = 2, parts = [ { tag = \"22\", name = \"P\" } ] } } ]";
    /// # let spec = iso8583_client::Spec::from_toml(toml, "t").unwrap();
    /// # let CompositeKind::Tlv { parts, .. } = spec.field(48).unwrap().composite().unwrap().kind() else { panic!() };
    /// assert_eq!(parts[0].field().name(), "P");
    /// ```
    pub fn field(&self) -> &FieldSpec {
        &self.field
    }
}

/// A known BER-TLV tag: its name and how careful to be with its value.
///
/// ```
/// use iso8583_client::{spec::emv_tag, Sensitivity};
/// let pan = emv_tag(0x5A).unwrap();
/// assert_eq!((pan.name(), pan.sensitivity()), ("Application Primary Account Number (PAN)", Sensitivity::Pan));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagInfo {
    pub(crate) tag: u32,
    pub(crate) name: Arc<str>,
    pub(crate) sensitivity: Sensitivity,
}

impl TagInfo {
    /// The tag bytes as a big-endian number (`9F26` = `0x9F26`).
    ///
    /// ```
    /// assert_eq!(iso8583_client::spec::emv_tag(0x9F26).unwrap().tag(), 0x9F26);
    /// ```
    pub fn tag(&self) -> u32 {
        self.tag
    }
    /// The tag's name.
    ///
    /// ```
    /// assert_eq!(iso8583_client::spec::emv_tag(0x9F26).unwrap().name(), "Application Cryptogram");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Masking rule of the tag's value.
    ///
    /// ```
    /// use iso8583_client::{spec::emv_tag, Sensitivity};
    /// assert_eq!(emv_tag(0x57).unwrap().sensitivity(), Sensitivity::Track);
    /// ```
    pub fn sensitivity(&self) -> Sensitivity {
        self.sensitivity
    }
}

/// Looks a tag up in a sorted tag table.
pub(crate) fn find_tag(tags: &[TagInfo], tag: u32) -> Option<&TagInfo> {
    tags.binary_search_by_key(&tag, |t| t.tag)
        .ok()
        .and_then(|i| tags.get(i))
}

/// A BER-TLV tag in hex (`"9F26"`) as a number, if well formed: 1-4 bytes, continuation bits right.
pub(crate) fn ber_tag_number(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() % 2 != 0 || text.len() > 8 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let bytes: Vec<u8> = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0))
        .collect();
    let (&first, rest) = bytes.split_first()?;
    let multi = first & 0x1F == 0x1F;
    if multi == rest.is_empty() {
        return None;
    }
    for (i, b) in rest.iter().enumerate() {
        let last = i + 1 == rest.len();
        if (b & 0x80 != 0) == last {
            return None;
        }
    }
    Some(bytes.iter().fold(0u32, |acc, &b| acc << 8 | b as u32))
}
