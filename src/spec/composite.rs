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
        /// Names and sensitivities of known tags.
        tags: TagTable,
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
/// use iso8583_client::spec::{emv_tag, Sensitivity};
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
    /// use iso8583_client::spec::{emv_tag, Sensitivity};
    /// assert_eq!(emv_tag(0x57).unwrap().sensitivity(), Sensitivity::Track);
    /// ```
    pub fn sensitivity(&self) -> Sensitivity {
        self.sensitivity
    }
}

/// The known tags of a BER-TLV structure, sorted by tag, with a hashed index for lookups.
///
/// ```
/// use iso8583_client::spec::CompositeKind;
/// let spec = iso8583_client::Spec::builtin("iso87-ascii").unwrap();
/// let CompositeKind::BerTlv { tags } = spec.field(55).unwrap().composite().unwrap().kind() else { panic!() };
/// assert_eq!(tags.get(0x9F36).unwrap().name(), "Application Transaction Counter (ATC)");
/// assert!(tags.iter().any(|t| t.tag() == 0x5A) && tags.len() > 70);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagTable {
    infos: Arc<[TagInfo]>,
    /// Open addressing: index + 1 into `infos`, 0 for an empty slot; a power of two long.
    slots: Arc<[u16]>,
}

impl TagTable {
    /// A table of `infos` (the last of duplicate tags wins).
    pub(crate) fn new(mut infos: Vec<TagInfo>) -> TagTable {
        infos.reverse();
        infos.sort_by_key(|t| t.tag); // stable: the last given comes first, then is kept
        infos.dedup_by_key(|t| t.tag);
        infos.truncate(u16::MAX as usize - 1);
        let size = (infos.len() * 4).max(16).next_power_of_two();
        let mut slots = vec![0u16; size];
        for (i, t) in infos.iter().enumerate() {
            let mut at = slot(t.tag, size - 1);
            while slots.get(at).is_some_and(|s| *s != 0) {
                at = (at + 1) & (size - 1);
            }
            if let Some(s) = slots.get_mut(at) {
                *s = i as u16 + 1;
            }
        }
        TagTable {
            infos: infos.into(),
            slots: slots.into(),
        }
    }
    /// A known tag by number (`9F26` = `0x9F26`).
    pub fn get(&self, tag: u32) -> Option<&TagInfo> {
        let mask = self.slots.len() - 1;
        let mut at = slot(tag, mask);
        loop {
            let i = *self.slots.get(at)?;
            if i == 0 {
                return None;
            }
            let info = self.infos.get(i as usize - 1)?;
            if info.tag == tag {
                return Some(info);
            }
            at = (at + 1) & mask;
        }
    }
    /// The known tags in tag order.
    pub fn iter(&self) -> impl Iterator<Item = &TagInfo> {
        self.infos.iter()
    }
    /// How many tags are known.
    pub fn len(&self) -> usize {
        self.infos.len()
    }
    /// Whether no tag is known.
    pub fn is_empty(&self) -> bool {
        self.infos.is_empty()
    }
}

/// The home slot of a tag (Fibonacci hashing).
fn slot(tag: u32, mask: usize) -> usize {
    (tag.wrapping_mul(0x9E37_79B1) >> 16) as usize & mask
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_table_finds_every_tag_and_only_those() {
        let infos: Vec<TagInfo> = (0..300u32)
            .map(|i| TagInfo {
                tag: 0x9F00 + i * 7,
                name: Arc::from(format!("t{i}").as_str()),
                sensitivity: Sensitivity::None,
            })
            .collect();
        let table = TagTable::new(infos.clone());
        assert_eq!(table.len(), 300);
        for t in &infos {
            assert_eq!(table.get(t.tag).map(|x| &*x.name), Some(&*t.name));
        }
        assert!((0..5000u32)
            .filter(|t| t % 7 != 0)
            .all(|t| table.get(0x9F00 + t).is_none()));
        assert!(TagTable::new(Vec::new()).get(0x9F26).is_none());
        // The last of duplicates wins.
        let mut dup = infos[..2].to_vec();
        dup.push(TagInfo {
            tag: infos[0].tag,
            name: Arc::from("again"),
            sensitivity: Sensitivity::Secret,
        });
        let t = TagTable::new(dup);
        assert_eq!((t.len(), &*t.get(infos[0].tag).unwrap().name), (2, "again"));
    }
}
