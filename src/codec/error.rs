//! Codec errors: which part of the message, at which byte, what was expected against what was found.

use std::fmt;
use std::sync::Arc;

use crate::spec::ContentClass;
use crate::Message;

/// The part of a message an error is about.
///
/// ```
/// use iso8583_client::codec::{ErrorKind, Part};
/// let err = iso8583_client::Spec::builtin("iso87-ascii").unwrap().decode(b"08").unwrap_err();
/// assert_eq!(err.part(), &Part::Mti);
/// assert_eq!(err.part().to_string(), "MTI");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// The message type indicator.
    Mti,
    /// A bitmap: 1 primary, 2 secondary, 3 tertiary.
    Bitmap(u8),
    /// A data element.
    Field {
        /// Its number.
        number: u8,
        /// Its name in the spec (empty if the spec does not define it).
        name: Arc<str>,
    },
    /// Bytes after the last field.
    Trailing,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Part::Mti => f.write_str("MTI"),
            Part::Bitmap(1) => f.write_str("primary bitmap"),
            Part::Bitmap(2) => f.write_str("secondary bitmap"),
            Part::Bitmap(_) => f.write_str("tertiary bitmap"),
            Part::Field { number, name } if name.is_empty() => write!(f, "field {number}"),
            Part::Field { number, name } => write!(f, "field {number} ({name})"),
            Part::Trailing => f.write_str("end of message"),
        }
    }
}

/// What went wrong.
///
/// ```
/// use iso8583_client::codec::ErrorKind;
/// let err = iso8583_client::Spec::builtin("iso87-ascii").unwrap().decode(b"08").unwrap_err();
/// assert_eq!(err.kind(), &ErrorKind::Truncated { needed: 4, available: 2 });
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input ended inside this part.
    Truncated {
        /// Bytes the part needs.
        needed: usize,
        /// Bytes that were left.
        available: usize,
    },
    /// A length prefix larger than the field's maximum.
    LengthOverMax {
        /// Length the prefix (or value) says.
        found: usize,
        /// The spec's maximum.
        max: usize,
    },
    /// A length prefix that is not a number in its encoding.
    BadLengthPrefix {
        /// The prefix bytes, in hex.
        found: String,
    },
    /// An MTI that is not four digits.
    BadMti {
        /// The MTI bytes, in hex.
        found: String,
    },
    /// A hex bitmap with a non-hex character.
    BadBitmap {
        /// Position of the character within the bitmap.
        position: usize,
        /// The byte found.
        found: u8,
    },
    /// A character (or BCD nibble) that the field's content class does not allow.
    BadContent {
        /// The field's class.
        class: ContentClass,
        /// Position within the value.
        position: usize,
        /// The byte (or nibble) found.
        found: u8,
    },
    /// A BCD pad nibble that is not the one the spec says.
    BadPad {
        /// Nibble expected.
        expected: u8,
        /// Nibble found.
        found: u8,
    },
    /// A hex field with an odd number of characters.
    OddHexLength(usize),
    /// The bitmap names a field that the spec does not define.
    UndefinedField,
    /// A field number outside 2-192, or 65 (a bitmap bit); or, encoding a list of fields
    /// ([`Spec::encode_fields_into`](crate::Spec::encode_fields_into)), one not above the field before it.
    BadFieldNumber,
    /// A fixed-length value of the wrong length and no padding rule.
    WrongLength {
        /// The spec's fixed length.
        expected: usize,
        /// The value's length.
        found: usize,
    },
    /// Bytes left after the last field.
    TrailingBytes(usize),
    /// Packed BCD whose length counts bytes, given an odd number of digits (the decoder could not
    /// tell the pad nibble from a digit).
    OddDigitCount(usize),
    /// A length prefix that counts itself but says less than its own size.
    PrefixTooShort {
        /// The length the prefix says.
        found: usize,
        /// The prefix's own size in bytes.
        width: usize,
    },
    /// A composite field whose value breaks its declared sub-structure (when encoding): where in
    /// the value, and what (`tag 9F26 at byte 12: length 8 runs past the end (5 bytes left)`).
    BadStructure(String),
}

fn show_byte(b: u8) -> String {
    if b.is_ascii_graphic() || b == b' ' {
        format!("{:?} (0x{b:02X})", b as char)
    } else {
        format!("0x{b:02X}")
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Truncated { needed, available } => {
                write!(f, "message ends too early: needs {needed} bytes, {available} left")
            }
            ErrorKind::LengthOverMax { found, max } => write!(f, "length prefix says {found}, maximum is {max}"),
            ErrorKind::BadLengthPrefix { found } => write!(f, "length prefix is not a number: bytes {found}"),
            ErrorKind::BadMti { found } => write!(f, "expected four digits, found bytes {found}"),
            ErrorKind::BadBitmap { position, found } => {
                write!(
                    f,
                    "expected a hex digit at position {position}, found {}",
                    show_byte(*found)
                )
            }
            ErrorKind::BadContent { class, position, found } => {
                let want = match class {
                    ContentClass::N => "a digit (class n)",
                    ContentClass::A => "a letter (class a)",
                    ContentClass::An => "a letter or digit (class an)",
                    ContentClass::Ans => "a printable character (class ans)",
                    ContentClass::B => "binary data (class b)",
                    ContentClass::Z => "track data (class z: digits, = and separators)",
                    ContentClass::Xn => "C or D then digits (class xn)",
                };
                write!(f, "expected {want} at position {position}, found {}", show_byte(*found))
            }
            ErrorKind::BadPad { expected, found } => {
                write!(f, "expected pad nibble {expected:X}, found {found:X}")
            }
            ErrorKind::OddHexLength(n) => write!(f, "hex content needs an even number of characters, found {n}"),
            ErrorKind::UndefinedField => f.write_str("the spec does not define this field"),
            ErrorKind::BadFieldNumber => f.write_str("not a data element number (2-192, except 65)"),
            ErrorKind::WrongLength { expected, found } => {
                write!(f, "fixed length is {expected}, value has {found}")
            }
            ErrorKind::TrailingBytes(n) => write!(f, "{n} bytes left after the last field"),
            ErrorKind::PrefixTooShort { found, width } => {
                write!(f, "length prefix says {found}, less than its own {width} bytes")
            }
            ErrorKind::BadStructure(detail) => write!(f, "sub-structure: {detail}"),
            ErrorKind::OddDigitCount(n) => write!(
                f,
                "packed BCD counted in bytes needs an even number of digits, value has {n}"
            ),
        }
    }
}

/// A message that could not be decoded or encoded.
///
/// Its `Display` reads like `field 35 (Track 2 Data) at byte 57: length prefix says 41, maximum is 37`.
/// When decoding, [`CodecError::partial`] holds the MTI and the fields read before the failure,
/// so a transport can still find the STAN of a bad response.
///
/// ```
/// use iso8583_client::{codec::ErrorKind, Spec};
/// let spec = Spec::builtin("iso87-ascii").unwrap();
/// let err = spec.decode(b"0200").unwrap_err();
/// assert_eq!(err.to_string(), "primary bitmap at byte 4: message ends too early: needs 16 bytes, 0 left");
/// assert!(matches!(err.kind(), ErrorKind::Truncated { needed: 16, available: 0 }));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct CodecError {
    part: Part,
    offset: usize,
    kind: ErrorKind,
    partial: Option<Box<Message>>,
}

impl CodecError {
    pub(crate) fn new(part: Part, offset: usize, kind: ErrorKind) -> Self {
        CodecError {
            part,
            offset,
            kind,
            partial: None,
        }
    }
    pub(crate) fn with_partial(mut self, msg: Message) -> Self {
        self.partial = Some(Box::new(msg));
        self
    }
    /// The part of the message at fault.
    pub fn part(&self) -> &Part {
        &self.part
    }
    /// The field number at fault, if the error is in a field.
    pub fn field(&self) -> Option<u8> {
        match self.part {
            Part::Field { number, .. } => Some(number),
            _ => None,
        }
    }
    /// Byte offset in the message (decoding: where the part starts; encoding: where it would go).
    pub fn offset(&self) -> usize {
        self.offset
    }
    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }
    /// When decoding: the MTI and fields decoded before the failure.
    pub fn partial(&self) -> Option<&Message> {
        self.partial.as_deref()
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}: {}", self.part, self.offset, self.kind)
    }
}

impl fmt::Debug for CodecError {
    // The partial message masks itself; the error text holds no field values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CodecError")
            .field("part", &self.part)
            .field("offset", &self.offset)
            .field("kind", &self.kind)
            .field("partial", &self.partial)
            .finish()
    }
}

impl std::error::Error for CodecError {}
