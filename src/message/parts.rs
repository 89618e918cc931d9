//! Parts of composite fields: the sub-fields and tags of a field whose spec declares a structure,
//! parsed from the field's value when asked for and checked when built.
//!
//! Paths name parts with dots: the field number, then sub-field numbers or tags (`"55.9F26"`,
//! `"127.2"`, `"48.22"`, `"55.70.5A"` inside a constructed tag).
//!
//! ```
//! use iso8583_client::Message;
//! let mut msg = Message::new("0200".parse().unwrap()); // DE 55 is EMV BER-TLV by default
//! msg.set(55, vec![0x9F, 0x27, 0x01, 0x80, 0x82, 0x02, 0x58, 0x00]);
//! assert_eq!(msg.get_path("55.82").unwrap().as_deref(), Some(&[0x58, 0x00][..]));
//! let tags: Vec<String> = msg.parts(55).unwrap().iter().map(|p| p.id().to_owned()).collect();
//! assert_eq!(tags, ["9F27", "82"]);
//! msg.set_path("55.9F36", vec![0x00, 0x2A]).unwrap();
//! assert_eq!(msg.get(55).unwrap(), &[0x9F, 0x27, 0x01, 0x80, 0x82, 0x02, 0x58, 0x00, 0x9F, 0x36, 0x02, 0x00, 0x2A]);
//! ```

mod build;
mod read;

use std::fmt;

use bytes::Bytes;

use super::{mask_value, Message};
use crate::codec::ErrorKind;
use crate::spec::{FieldSpec, Layout, Sensitivity, Spec};

pub(crate) use read::{check_field, parse_field as parts_of};

/// A part of a composite field: a sub-field or a tag, with its value and, if it is itself
/// structured (a constructed tag, a nested composite), its own parts.
///
/// ```
/// use iso8583_client::{spec::Sensitivity, Message};
/// let msg = Message::new("0200".parse().unwrap())
///     .with(55, vec![0x5A, 0x08, 0x47, 0x61, 0x73, 0x90, 0x01, 0x01, 0x01, 0x19]);
/// let parts = msg.parts(55).unwrap();
/// let pan = &parts[0];
/// assert_eq!((pan.id(), pan.name(), pan.sensitivity()), ("5A", "Application Primary Account Number (PAN)", Sensitivity::Pan));
/// assert_eq!(pan.to_string(), "476173******0119"); // masked, shown as hex like every binary part
/// assert_eq!(pan.shown(true), "4761739001010119");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Part<'a> {
    pub(crate) id: PartId,
    pub(crate) name: &'a str,
    pub(crate) sensitivity: Sensitivity,
    pub(crate) binary: bool,
    pub(crate) offset: usize,
    pub(crate) value: Bytes,
    pub(crate) children: Option<Vec<Part<'a>>>,
}

impl<'a> Part<'a> {
    /// The sub-field number or tag, as written in paths (`"2"`, `"9F26"`, `"22"`).
    ///
    /// ```
    /// let msg = iso8583_client::Message::new("0200".parse().unwrap()).with(55, vec![0x9C, 0x01, 0x00]);
    /// assert_eq!(msg.parts(55).unwrap()[0].id(), "9C");
    /// ```
    pub fn id(&self) -> &str {
        self.id.as_str()
    }
    /// The name the spec (or the EMV dictionary) gives it; empty for an unknown tag.
    ///
    /// ```
    /// let msg = iso8583_client::Message::new("0200".parse().unwrap()).with(55, vec![0x9C, 0x01, 0x00, 0xDF, 0x7F, 0x00]);
    /// let parts = msg.parts(55).unwrap();
    /// assert_eq!((parts[0].name(), parts[1].name()), ("Transaction Type", ""));
    /// ```
    pub fn name(&self) -> &'a str {
        self.name
    }
    /// Its value in canonical form (for a constructed tag: the bytes of the tags inside).
    ///
    /// ```
    /// let msg = iso8583_client::Message::new("0200".parse().unwrap()).with(55, vec![0x9C, 0x01, 0x00]);
    /// assert_eq!(msg.parts(55).unwrap()[0].value(), &[0x00]);
    /// ```
    pub fn value(&self) -> &[u8] {
        &self.value
    }
    /// Its value as shared bytes.
    ///
    /// ```
    /// let msg = iso8583_client::Message::new("0200".parse().unwrap()).with(55, vec![0x9C, 0x01, 0x00]);
    /// assert_eq!(&msg.parts(55).unwrap()[0].value_bytes()[..], &[0x00]);
    /// ```
    pub fn value_bytes(&self) -> Bytes {
        self.value.clone()
    }
    /// Its own parts, if it is structured (a constructed tag, or a sub-field with a composite).
    ///
    /// ```
    /// let msg = iso8583_client::Message::new("0200".parse().unwrap())
    ///     .with(55, vec![0x70, 0x03, 0x9C, 0x01, 0x00]);
    /// let parts = msg.parts(55).unwrap();
    /// assert_eq!(parts[0].children().unwrap()[0].id(), "9C");
    /// ```
    pub fn children(&self) -> Option<&[Part<'a>]> {
        self.children.as_deref()
    }
    /// Masking rule of its value.
    ///
    /// ```
    /// use iso8583_client::spec::Sensitivity;
    /// let msg = iso8583_client::Message::new("0200".parse().unwrap()).with(55, vec![0x57, 0x01, 0x47]);
    /// assert_eq!(msg.parts(55).unwrap()[0].sensitivity(), Sensitivity::Track);
    /// ```
    pub fn sensitivity(&self) -> Sensitivity {
        self.sensitivity
    }
    /// Whether the value is raw bytes (shown as hex).
    ///
    /// ```
    /// let msg = iso8583_client::Message::new("0200".parse().unwrap()).with(55, vec![0x9C, 0x01, 0x00]);
    /// assert!(msg.parts(55).unwrap()[0].is_binary());
    /// ```
    pub fn is_binary(&self) -> bool {
        self.binary
    }
    /// Where it starts, in bytes from the start of the field's value.
    ///
    /// ```
    /// let msg = iso8583_client::Message::new("0200".parse().unwrap()).with(55, vec![0x9C, 0x01, 0x00, 0x82, 0x02, 0x58, 0x00]);
    /// assert_eq!(msg.parts(55).unwrap()[1].offset(), 3);
    /// ```
    pub fn offset(&self) -> usize {
        self.offset
    }
    /// The value as shown to people: uppercase hex for binary parts, text otherwise; masked by its
    /// sensitivity unless `reveal`.
    ///
    /// ```
    /// let msg = iso8583_client::Message::new("0200".parse().unwrap()).with(55, vec![0x57, 0x02, 0x47, 0x61]);
    /// let track = &msg.parts(55).unwrap()[0];
    /// assert_eq!((track.shown(false), track.shown(true)), ("****".to_owned(), "4761".to_owned()));
    /// ```
    pub fn shown(&self, reveal: bool) -> String {
        let text = if self.binary || std::str::from_utf8(&self.value).is_err() {
            crate::hex::encode(&self.value)
        } else {
            String::from_utf8_lossy(&self.value).into_owned()
        };
        if reveal || self.sensitivity == Sensitivity::None {
            text
        } else {
            mask_value(text.as_bytes(), self.sensitivity)
        }
    }
}

/// Masked, as [`Part::shown`] without reveal.
impl fmt::Display for Part<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown(false))
    }
}

/// Masked: id, name and the masked value (and parts).
impl fmt::Debug for Part<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Part");
        d.field("id", &self.id())
            .field("name", &self.name)
            .field("value", &self.shown(false));
        if let Some(c) = &self.children {
            d.field("parts", c);
        }
        d.finish()
    }
}

const HEX_DIGITS: &[u8; 16] = b"0123456789ABCDEF";

/// A part's id: a sub-field number or tag, at most 8 characters, kept inline.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct PartId {
    len: u8,
    text: [u8; 8],
}

impl PartId {
    /// From ASCII text (clipped at 8 characters).
    pub(crate) fn text(s: &[u8]) -> PartId {
        let mut text = [0u8; 8];
        let len = s.len().min(8);
        text[..len].copy_from_slice(&s[..len]);
        PartId { len: len as u8, text }
    }
    /// A sub-field number.
    pub(crate) fn number(n: u8) -> PartId {
        let mut buf = [0u8; 3];
        let mut v = n;
        let mut i = 3;
        loop {
            i -= 1;
            buf[i] = b'0' + v % 10;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        PartId::text(&buf[i..])
    }
    /// Bytes (a tag) in uppercase hex.
    pub(crate) fn hex(bytes: &[u8]) -> PartId {
        let mut text = [0u8; 8];
        let n = bytes.len().min(4);
        for (i, b) in bytes[..n].iter().enumerate() {
            text[2 * i] = HEX_DIGITS[(b >> 4) as usize];
            text[2 * i + 1] = HEX_DIGITS[(b & 0xF) as usize];
        }
        PartId {
            len: (2 * n) as u8,
            text,
        }
    }
    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.text[..self.len as usize]).unwrap_or("?")
    }
}

/// A value for [`Message::set_parts`] and [`Message::set_path`]: bytes, text as shown, or parts.
///
/// ```
/// use iso8583_client::{message::PartValue, Message};
/// let mut msg = Message::new("0200".parse().unwrap());
/// msg.set_parts(55, vec![
///     ("9F27".into(), PartValue::Text("80".into())),     // binary tags take hex text
///     ("70".into(), PartValue::Parts(vec![("9C".into(), PartValue::Raw(vec![0x00].into()))])),
/// ]).unwrap();
/// assert_eq!(msg.get(55).unwrap(), &[0x9F, 0x27, 0x01, 0x80, 0x70, 0x03, 0x9C, 0x01, 0x00]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PartValue {
    /// The value in canonical form (raw bytes for binary parts, text bytes otherwise).
    Raw(Bytes),
    /// The value as shown by the tool and JSON: hex for binary parts, text otherwise.
    Text(String),
    /// A structured value: its parts in order, by id.
    Parts(Vec<(String, PartValue)>),
}

/// A sub-structure that does not parse or cannot be built, or a path that names nothing.
///
/// Reads like `field 55 tag 9F26 at byte 12: length 8 runs past the end (5 bytes left)`: the
/// path to the part at fault, and the byte where it starts, counted from the start of the field's
/// value.
///
/// ```
/// use iso8583_client::Message;
/// let msg = Message::new("0200".parse().unwrap()).with(55, vec![0x82, 0x02, 0x58, 0x00, 0x9F, 0x26, 0x08, 1, 2, 3, 4, 5]);
/// let err = msg.get_path("55.9F26").unwrap_err();
/// assert_eq!(err.to_string(), "field 55 tag 9F26 at byte 4: length 8 runs past the end (5 bytes left)");
/// assert_eq!((err.field(), err.offset()), (55, Some(4)));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathError {
    pub(crate) field: u8,
    pub(crate) path: String,
    pub(crate) offset: Option<usize>,
    pub(crate) kind: PathErrorKind,
}

/// What is wrong with a sub-structure or a path.
///
/// ```
/// use iso8583_client::{message::PathErrorKind, Message};
/// let msg = Message::new("0200".parse().unwrap()).with(55, vec![0x9F, 0x26, 0x08, 1]);
/// assert_eq!(msg.parts(55).unwrap_err().kind(), &PathErrorKind::PastEnd { len: 8, left: 1 });
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PathErrorKind {
    /// A length that says more than what is left.
    PastEnd {
        /// The length read.
        len: usize,
        /// Bytes left after it.
        left: usize,
    },
    /// The value ends inside a tag, a length or a fixed part.
    Truncated {
        /// Bytes the piece needs.
        needed: usize,
        /// Bytes left.
        left: usize,
    },
    /// A BER-TLV tag longer than 4 bytes.
    TagTooLong,
    /// A BER-TLV length in indefinite form (`80`) or with more than 4 length bytes.
    BadBerLength(u8),
    /// A length that is not a number in its encoding.
    BadLength(String),
    /// A tag that is not well formed for the structure.
    BadTag(String),
    /// Constructed tags or composites nested deeper than [`crate::spec::MAX_DEPTH`].
    TooDeep,
    /// A sub-bitmap announces a sub-field that the spec does not define.
    UndefinedPart(u8),
    /// Bytes left after the last sub-field of a positional or bitmap structure.
    Trailing(usize),
    /// A sub-field's content breaks its spec (class, length, padding).
    Content(ErrorKind),
    /// A value longer than the structure's length can say.
    TooLong {
        /// The value's length.
        len: usize,
        /// The largest length that fits.
        max: usize,
    },
    /// Parts given for a value that is not structured (a primitive tag, a plain sub-field).
    NotStructured,
    /// A path that is not `FIELD.PART...`.
    BadPath(String),
    /// The spec declares no sub-structure for the field.
    NoStructure,
    /// A part id that the structure does not define (positional and bitmap parts are all defined).
    NoSuchPart(String),
    /// The field is not in the message.
    Absent,
    /// A value given as text that is not valid for the part (bad hex for a binary part).
    BadText(String),
}

impl fmt::Display for PathErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathErrorKind::PastEnd { len, left } => {
                write!(f, "length {len} runs past the end ({left} bytes left)")
            }
            PathErrorKind::Truncated { needed, left } => {
                write!(f, "ends too early: needs {needed} bytes, {left} left")
            }
            PathErrorKind::TagTooLong => f.write_str("tag longer than 4 bytes"),
            PathErrorKind::BadBerLength(0x80) => f.write_str("indefinite length (80) is not allowed"),
            PathErrorKind::BadBerLength(b) => write!(f, "length form {b:02X} has more than 4 length bytes"),
            PathErrorKind::BadLength(found) => write!(f, "length is not a number: bytes {found}"),
            PathErrorKind::BadTag(t) => write!(f, "bad tag {t}"),
            PathErrorKind::TooDeep => write!(f, "nested deeper than {} levels", crate::spec::MAX_DEPTH),
            PathErrorKind::UndefinedPart(n) => {
                write!(
                    f,
                    "the sub-bitmap announces sub-field {n}, which the spec does not define"
                )
            }
            PathErrorKind::Trailing(n) => write!(f, "{n} bytes left after the last sub-field"),
            PathErrorKind::Content(k) => write!(f, "{k}"),
            PathErrorKind::TooLong { len, max } => {
                write!(f, "value of {len} bytes is longer than the length can say ({max})")
            }
            PathErrorKind::NotStructured => f.write_str("not a structured value: it has no parts"),
            PathErrorKind::BadPath(p) => write!(f, "not a path: {p:?} (expected FIELD.PART, e.g. 55.9F26)"),
            PathErrorKind::NoStructure => f.write_str("the spec declares no sub-structure for this field"),
            PathErrorKind::NoSuchPart(id) => write!(f, "no part {id} in this structure"),
            PathErrorKind::Absent => f.write_str("not present"),
            PathErrorKind::BadText(why) => f.write_str(why),
        }
    }
}

impl PathError {
    pub(crate) fn new(field: u8, path: String, offset: Option<usize>, kind: PathErrorKind) -> PathError {
        PathError {
            field,
            path,
            offset,
            kind,
        }
    }
    /// The data element.
    ///
    /// ```
    /// let msg = iso8583_client::Message::new("0200".parse().unwrap()).with(55, vec![0x9F]);
    /// assert_eq!(msg.parts(55).unwrap_err().field(), 55);
    /// ```
    pub fn field(&self) -> u8 {
        self.field
    }
    /// The path to the part at fault, in words (`"tag 70 tag 9F26"`); empty for the field itself.
    ///
    /// ```
    /// let msg = iso8583_client::Message::new("0200".parse().unwrap()).with(55, vec![0x70, 0x02, 0x9C, 0x05]);
    /// assert_eq!(msg.parts(55).unwrap_err().path(), "tag 70 tag 9C");
    /// ```
    pub fn path(&self) -> &str {
        &self.path
    }
    /// Where the part at fault starts, in bytes from the start of the field's value.
    ///
    /// ```
    /// let msg = iso8583_client::Message::new("0200".parse().unwrap()).with(55, vec![0x70, 0x02, 0x9C, 0x05]);
    /// assert_eq!(msg.parts(55).unwrap_err().offset(), Some(2));
    /// ```
    pub fn offset(&self) -> Option<usize> {
        self.offset
    }
    /// What is wrong.
    ///
    /// ```
    /// use iso8583_client::message::PathErrorKind;
    /// let msg = iso8583_client::Message::new("0200".parse().unwrap());
    /// assert_eq!(msg.parts(55).unwrap_err().kind(), &PathErrorKind::Absent);
    /// ```
    pub fn kind(&self) -> &PathErrorKind {
        &self.kind
    }
    /// The error without its field number (`tag 9F26 at byte 12: ...`), for a codec error that
    /// already names the field.
    pub(crate) fn within_field(&self) -> String {
        let mut s = self.path.clone();
        if let Some(o) = self.offset {
            if !s.is_empty() {
                s.push(' ');
            }
            s.push_str(&format!("at byte {o}"));
        }
        if s.is_empty() {
            format!("{}", self.kind)
        } else {
            format!("{s}: {}", self.kind)
        }
    }
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "field {}", self.field)?;
        if !self.path.is_empty() {
            write!(f, " {}", self.path)?;
        }
        if let Some(o) = self.offset {
            write!(f, " at byte {o}")?;
        }
        write!(f, ": {}", self.kind)
    }
}

impl std::error::Error for PathError {}

/// Splits `"55.9F26"` into the field number and the part ids.
fn split_path(path: &str) -> Result<(u8, Vec<&str>), PathError> {
    let bad = || PathError::new(0, String::new(), None, PathErrorKind::BadPath(path.to_owned()));
    let mut segs = path.split('.');
    let field: u8 = segs
        .next()
        .and_then(|s| s.parse().ok())
        .filter(|n| (2..=crate::spec::MAX_FIELD).contains(n))
        .ok_or_else(bad)?;
    let rest: Vec<&str> = segs.collect();
    if rest.iter().any(|s| s.is_empty() || s.len() > 8) || rest.len() > crate::spec::MAX_DEPTH {
        return Err(PathError { field, ..bad() });
    }
    Ok((field, rest))
}

/// Composite fields: parts, paths and structured values.
impl Message {
    fn layout(&self) -> &Layout {
        match &self.layout {
            Some(l) => l,
            None => Layout::iso_default(),
        }
    }

    /// The definition of a composite field in this message's layout.
    fn composite_field(&self, field: u8) -> Result<&FieldSpec, PathError> {
        self.layout()
            .field(field)
            .ok_or_else(|| PathError::new(field, String::new(), None, PathErrorKind::NoStructure))
    }

    /// Takes the sub-structures (and masking rules) of `spec`: a message built by hand then finds
    /// its parts as a decoded one would. A message made with [`Message::new`] knows only DE 55 (EMV
    /// BER-TLV).
    ///
    /// ```
    /// use iso8583_client::{Message, Spec};
    /// let toml = r#"
    /// name = "net"
    /// mti = "ascii"
    /// bitmap = "hex"
    /// fields = [ { number = 90, name = "Original Data Elements", length = "fixed", max = 42, class = "n", composite = { kind = "positional", parts = [
    ///     { number = 1, name = "Original MTI", length = "fixed", max = 4, class = "n" },
    ///     { number = 2, name = "Original STAN", length = "fixed", max = 6, class = "n" },
    ///     { number = 3, name = "Original Transmission Date and Time", length = "fixed", max = 10, class = "n" },
    ///     { number = 4, name = "Original Acquiring Institution", length = "fixed", max = 11, class = "n", pad = "zeros" },
    ///     { number = 5, name = "Original Forwarding Institution", length = "fixed", max = 11, class = "n", pad = "zeros" } ] } } ]"#;
    /// let spec = Spec::from_toml(toml, "net.toml").unwrap();
    /// let mut msg = Message::new("0400".parse().unwrap());
    /// msg.use_spec(&spec);
    /// msg.set_path("90.1", "0200").unwrap().set_path("90.2", "000042").unwrap();
    /// assert_eq!(msg.get_str(90), Some("020000004200000000000000000000000000000000"));
    /// ```
    pub fn use_spec(&mut self, spec: &Spec) -> &mut Self {
        self.layout = spec.layout.clone();
        self.masks = spec.masks;
        self
    }

    /// The parts of a composite field, parsed from its value now (nested parts included).
    ///
    /// ```
    /// let msg = iso8583_client::Message::new("0200".parse().unwrap())
    ///     .with(55, vec![0x9F, 0x27, 0x01, 0x80, 0x00, 0x00, 0x95, 0x05, 0, 0, 0, 0, 0]); // 00 padding is skipped
    /// let parts = msg.parts(55).unwrap();
    /// assert_eq!(parts.iter().map(|p| p.id()).collect::<Vec<_>>(), ["9F27", "95"]);
    /// assert_eq!(parts[1].name(), "Terminal Verification Results");
    /// ```
    pub fn parts(&self, field: u8) -> Result<Vec<Part<'_>>, PathError> {
        let fs = self.composite_field(field)?;
        let value = self
            .get_bytes(field)
            .ok_or_else(|| PathError::new(field, String::new(), None, PathErrorKind::Absent))?;
        read::parse_field(fs, &value)
    }

    /// The value of a part by path (`"55.9F26"`, `"127.2"`, `"55.70.5A"`); a path of only a field
    /// number gives the field. `Ok(None)` if the field or the part is absent; an error if the
    /// path is malformed or the field's sub-structure does not parse.
    ///
    /// ```
    /// let msg = iso8583_client::Message::new("0200".parse().unwrap())
    ///     .with(55, vec![0x70, 0x04, 0x9F, 0x36, 0x01, 0x2A]);
    /// assert_eq!(msg.get_path("55.70.9F36").unwrap().as_deref(), Some(&[0x2A][..]));
    /// assert_eq!(msg.get_path("55.9F36").unwrap(), None); // inside 70, not at the top
    /// assert!(msg.get_path("55.").is_err());
    /// ```
    pub fn get_path(&self, path: &str) -> Result<Option<Bytes>, PathError> {
        let (field, ids) = split_path(path)?;
        if ids.is_empty() {
            return Ok(self.get_bytes(field));
        }
        let fs = self.composite_field(field)?;
        let Some(value) = self.get_bytes(field) else {
            return Ok(None);
        };
        let parts = read::parse_field(fs, &value)?;
        let mut level: &[Part<'_>] = &parts;
        let mut found: Option<&Part<'_>> = None;
        for id in ids {
            let Some(p) = level.iter().find(|p| p.id().eq_ignore_ascii_case(id)) else {
                return Ok(None);
            };
            found = Some(p);
            level = p.children().unwrap_or(&[]);
        }
        Ok(found.map(|p| p.value.clone()))
    }

    /// Sets a part by path, in canonical form (raw bytes for binary parts), re-encoding the field.
    /// Missing fixed positional sub-fields are filled (zeros for digits, spaces for text); a
    /// new tag goes after the others. Re-encoding drops BER-TLV padding and writes lengths in
    /// their shortest form.
    ///
    /// ```
    /// use iso8583_client::Message;
    /// let mut msg = Message::new("0200".parse().unwrap());
    /// msg.set_path("55.9F02", vec![0, 0, 0, 0, 0x10, 0x00]).unwrap();
    /// msg.set_path("55.9F02", vec![0, 0, 0, 0, 0x20, 0x00]).unwrap(); // replaces
    /// assert_eq!(msg.get(55).unwrap(), &[0x9F, 0x02, 0x06, 0, 0, 0, 0, 0x20, 0x00]);
    /// let err = msg.set_path("55.9F", vec![1]).unwrap_err();
    /// assert_eq!(err.to_string(), "field 55: bad tag 9F");
    /// ```
    pub fn set_path(&mut self, path: &str, value: impl Into<Bytes>) -> Result<&mut Self, PathError> {
        let (field, ids) = split_path(path)?;
        let value = value.into();
        if ids.is_empty() {
            self.set(field, value);
            return Ok(self);
        }
        let fs = self.composite_field(field)?.clone();
        let current = self.get_bytes(field).unwrap_or_default();
        let bytes = build::set_in(&fs, &current, &ids, PartValue::Raw(value))?;
        self.set(field, bytes);
        Ok(self)
    }

    /// Sets a composite field from its parts (checked against the structure as they are built).
    ///
    /// ```
    /// use iso8583_client::{message::PartValue, Message};
    /// let mut msg = Message::new("0200".parse().unwrap());
    /// let err = msg.set_parts(55, vec![("9F27".into(), PartValue::Text("8".into()))]).unwrap_err();
    /// assert_eq!(err.to_string(), "field 55 tag 9F27: binary values are given in hex: odd number of hex digits (1)");
    /// ```
    pub fn set_parts(&mut self, field: u8, parts: Vec<(String, PartValue)>) -> Result<&mut Self, PathError> {
        let fs = self.composite_field(field)?.clone();
        let bytes = build::build_field(&fs, parts)?;
        self.set(field, bytes);
        Ok(self)
    }
}
