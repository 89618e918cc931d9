//! Length-prefix framing of ISO 8583 messages on a TCP stream.
//!
//! A [`Framing`] is built with [`Framing::builder`] and is both a tokio-util
//! [`Decoder`] (bytes -> [`Frame`]) and an [`Encoder`] (message bytes -> bytes
//! on the wire). Every frame on the wire is laid out as
//!
//! ```text
//! +----------------+------------------------+---------------------+
//! | length prefix  | fixed header (optional)| ISO 8583 message    |
//! | 2 or 4 bytes   | e.g. 5-byte TPDU       | MTI, bitmap, fields |
//! +----------------+------------------------+---------------------+
//! ```
//!
//! The lines below show the wire bytes of the 4-byte message `b"ABCD"`
//! under each option.
//!
//! **Default** — 2 bytes binary big-endian, counting the message only:
//! ```text
//! 00 04 | 41 42 43 44
//! ```
//! **4 bytes binary** ([`LengthPrefix::Binary4`]): `00 00 00 04 | 41 42 43 44`
//!
//! **4 ASCII decimal digits** ([`LengthPrefix::Ascii4`]): `30 30 30 34 | 41 42 43 44`
//!
//! **2 bytes BCD** ([`LengthPrefix::Bcd2`], length 1234 is `12 34`): `00 04 | 41 42 43 44`
//!
//! **5-byte TPDU header, counted in the length** (`header_len(5)`, `length_counts_header(true)`):
//! ```text
//! 00 09 | 60 00 03 00 00 | 41 42 43 44
//! ```
//! **Prefix counting itself** (`length_counts_prefix(true)`): `00 06 | 41 42 43 44`
//!
//! A zero or oversized length is a typed [`FramingError`]; nothing is
//! allocated for an oversized frame and the stream should be dropped.
//!
//! ```
//! use bytes::BytesMut;
//! use iso8583_client::transport::framing::{Framing, LengthPrefix};
//! use tokio_util::codec::Decoder;
//!
//! let mut framing = Framing::builder().prefix(LengthPrefix::Ascii4).build();
//! let mut wire = BytesMut::from(&b"0004ABCD"[..]);
//! let frame = framing.decode(&mut wire).unwrap().unwrap();
//! assert_eq!(&frame.message[..], b"ABCD");
//! ```

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

/// Default maximum size of one message (header and prefix excluded): 64 KiB.
///
/// ```
/// use bytes::BytesMut;
/// use iso8583_client::transport::framing::{Framing, FramingError, LengthPrefix, DEFAULT_MAX_FRAME};
/// let framing = Framing::builder().prefix(LengthPrefix::Binary4).build(); // a prefix that could say more
/// let too_big = vec![b'x'; DEFAULT_MAX_FRAME + 1];
/// let err = framing.write_frame(&too_big, &mut BytesMut::new()).unwrap_err();
/// assert!(matches!(err, FramingError::Oversized { max: DEFAULT_MAX_FRAME, .. }));
/// ```
pub const DEFAULT_MAX_FRAME: usize = 64 * 1024;

/// How the length of a frame is written in front of it.
///
/// ```
/// use bytes::BytesMut;
/// use iso8583_client::transport::framing::{Framing, LengthPrefix};
/// let framing = Framing::builder().prefix(LengthPrefix::Bcd2).build();
/// let mut wire = BytesMut::new();
/// framing.write_frame(b"ABCD", &mut wire).unwrap();
/// assert_eq!(&wire[..], b"\x00\x04ABCD");
/// assert_eq!(LengthPrefix::default(), LengthPrefix::Binary2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LengthPrefix {
    /// 2 bytes, binary, big-endian (`00 4B` = 75). The default.
    #[default]
    Binary2,
    /// 4 bytes, binary, big-endian (`00 00 00 4B` = 75).
    Binary4,
    /// 4 ASCII decimal digits (`30 30 37 35` = "0075" = 75).
    Ascii4,
    /// 2 bytes packed BCD, 4 digits (`00 75` = 75).
    Bcd2,
}

impl LengthPrefix {
    /// Number of bytes the prefix occupies on the wire.
    pub fn len(self) -> usize {
        match self {
            Self::Binary2 | Self::Bcd2 => 2,
            Self::Binary4 | Self::Ascii4 => 4,
        }
    }

    /// Always false: a prefix has at least two bytes (present for clippy's sake).
    pub fn is_empty(self) -> bool {
        false
    }

    /// Largest value the prefix can express.
    fn max_value(self) -> usize {
        match self {
            Self::Binary2 => u16::MAX as usize,
            Self::Binary4 => u32::MAX as usize,
            Self::Ascii4 | Self::Bcd2 => 9999,
        }
    }

    fn read(self, src: &[u8]) -> Result<usize, FramingError> {
        let bad = || FramingError::BadPrefix {
            prefix: src.iter().take(4).copied().collect(),
        };
        match self {
            Self::Binary2 => match src {
                [a, b, ..] => Ok(u16::from_be_bytes([*a, *b]) as usize),
                _ => Err(bad()),
            },
            Self::Binary4 => match src {
                [a, b, c, d, ..] => Ok(u32::from_be_bytes([*a, *b, *c, *d]) as usize),
                _ => Err(bad()),
            },
            Self::Ascii4 => {
                let digits = src.get(..4).ok_or_else(bad)?;
                digits.iter().try_fold(0usize, |acc, d| {
                    if d.is_ascii_digit() {
                        Ok(acc * 10 + usize::from(d - b'0'))
                    } else {
                        Err(bad())
                    }
                })
            }
            Self::Bcd2 => {
                let packed = src.get(..2).ok_or_else(bad)?;
                packed.iter().try_fold(0usize, |acc, b| {
                    let (hi, lo) = (b >> 4, b & 0x0f);
                    if hi > 9 || lo > 9 {
                        Err(bad())
                    } else {
                        Ok(acc * 100 + usize::from(hi) * 10 + usize::from(lo))
                    }
                })
            }
        }
    }

    /// Writes `value` into the first `self.len()` bytes of `dst`.
    fn write_into(self, value: usize, dst: &mut [u8]) {
        let mut raw = [0u8; 4];
        match self {
            Self::Binary2 => raw[..2].copy_from_slice(&(value as u16).to_be_bytes()),
            Self::Binary4 => raw.copy_from_slice(&(value as u32).to_be_bytes()),
            Self::Ascii4 => {
                for (slot, div) in raw.iter_mut().zip([1000, 100, 10, 1]) {
                    *slot = b'0' + ((value / div) % 10) as u8;
                }
            }
            Self::Bcd2 => {
                let (hi, lo) = (value / 100, value % 100);
                raw[0] = (((hi / 10) << 4) | (hi % 10)) as u8;
                raw[1] = (((lo / 10) << 4) | (lo % 10)) as u8;
            }
        }
        for (d, r) in dst.iter_mut().zip(raw.iter().take(self.len())) {
            *d = *r;
        }
    }
}

/// What went wrong while framing or unframing.
///
/// ```
/// use bytes::BytesMut;
/// use iso8583_client::transport::framing::{Framing, FramingError, LengthPrefix};
/// use tokio_util::codec::Decoder;
/// let mut ascii = Framing::builder().prefix(LengthPrefix::Ascii4).build();
/// let err = ascii.decode(&mut BytesMut::from(&b"00x4ABCD"[..])).unwrap_err();
/// assert!(matches!(err, FramingError::BadPrefix { .. }));
/// let err = Framing::default().decode(&mut BytesMut::from(&b"\x00\x00"[..])).unwrap_err();
/// assert_eq!(err.to_string(), "frame length prefix is zero");
/// ```
#[derive(Debug, thiserror::Error)]
pub enum FramingError {
    /// The length prefix announced an empty message.
    #[error("frame length prefix is zero")]
    ZeroLength,
    /// The announced (or outgoing) message is larger than the configured maximum.
    #[error("frame of {len} bytes exceeds the maximum of {max}")]
    Oversized {
        /// Message length announced or attempted.
        len: usize,
        /// Configured maximum.
        max: usize,
    },
    /// The length is smaller than the header and prefix it claims to count.
    #[error("frame length {len} is smaller than the {overhead} bytes of prefix/header it counts")]
    TooShort {
        /// Value read from the prefix.
        len: usize,
        /// Bytes of header and prefix the length is configured to include.
        overhead: usize,
    },
    /// The prefix holds something other than digits (ASCII or BCD prefixes).
    #[error("length prefix {prefix:02x?} is not a valid length")]
    BadPrefix {
        /// The raw prefix bytes.
        prefix: Vec<u8>,
    },
    /// The outgoing header does not have the configured length.
    #[error("header of {got} bytes, framing expects {expected}")]
    HeaderLength {
        /// Configured header length.
        expected: usize,
        /// Header length given.
        got: usize,
    },
    /// The socket failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// One frame read from the wire: its fixed header (empty when none is
/// configured) and the ISO 8583 message bytes.
///
/// ```
/// use bytes::BytesMut;
/// use iso8583_client::transport::framing::Framing;
/// use tokio_util::codec::Decoder;
/// let mut framing = Framing::builder().header(&[0x60, 0x00, 0x03, 0x00, 0x00]).build();
/// let mut wire = BytesMut::from(&b"\x00\x04\x60\x00\x00\x00\x03ABCD"[..]);
/// let frame = framing.decode(&mut wire).unwrap().unwrap();
/// assert_eq!((&frame.header[..], &frame.message[..]), (&[0x60, 0x00, 0x00, 0x00, 0x03][..], &b"ABCD"[..]));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    /// Fixed header after the length prefix, e.g. a TPDU; empty if none.
    pub header: Bytes,
    /// The message: MTI, bitmap(s) and fields.
    pub message: Bytes,
}

/// Lengths only: a frame carries card data in clear.
///
/// ```
/// let frame = iso8583_client::transport::framing::Frame { header: Default::default(), message: "0200...".into() };
/// assert_eq!(format!("{frame:?}"), "Frame { header: \"0 bytes\", message: \"7 bytes\" }");
/// ```
impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frame")
            .field("header", &format_args!("\"{} bytes\"", self.header.len()))
            .field("message", &format_args!("\"{} bytes\"", self.message.len()))
            .finish()
    }
}

/// Configurable length-prefix framing; see the [module docs](self) for the wire layouts.
///
/// ```
/// use iso8583_client::transport::framing::{Framing, LengthPrefix};
/// let framing = Framing::builder()
///     .prefix(LengthPrefix::Binary2)
///     .header(&[0x60, 0x00, 0x03, 0x00, 0x00]) // TPDU sent with each request
///     .length_counts_header(true)
///     .max_frame(8 * 1024)
///     .build();
/// assert_eq!(framing.header_len(), 5);
/// ```
#[derive(Debug, Clone)]
pub struct Framing {
    prefix: LengthPrefix,
    header: Bytes,
    counts_header: bool,
    counts_prefix: bool,
    max_frame: usize,
    /// Decoder state: the message length of the frame being read, once its prefix was consumed.
    pending_len: Option<usize>,
}

impl Default for Framing {
    fn default() -> Self {
        FramingBuilder::default().build()
    }
}

/// Builder for [`Framing`]. Each setter affects decoding and encoding alike.
///
/// ```
/// use bytes::BytesMut;
/// use iso8583_client::transport::framing::{Framing, LengthPrefix};
/// let framing = Framing::builder().prefix(LengthPrefix::Binary4).length_counts_prefix(true).build();
/// let mut wire = BytesMut::new();
/// framing.write_frame(b"ABCD", &mut wire).unwrap();
/// assert_eq!(&wire[..], b"\x00\x00\x00\x08ABCD");
/// // 8 = 4 bytes of prefix + 4 of message
/// ```
#[derive(Debug, Clone)]
pub struct FramingBuilder {
    prefix: LengthPrefix,
    header: Bytes,
    counts_header: bool,
    counts_prefix: bool,
    max_frame: usize,
}

impl Default for FramingBuilder {
    fn default() -> Self {
        Self {
            prefix: LengthPrefix::Binary2,
            header: Bytes::new(),
            counts_header: false,
            counts_prefix: false,
            max_frame: DEFAULT_MAX_FRAME,
        }
    }
}

impl FramingBuilder {
    /// Length prefix kind. Default: [`LengthPrefix::Binary2`].
    pub fn prefix(mut self, prefix: LengthPrefix) -> Self {
        self.prefix = prefix;
        self
    }

    /// Fixed header written after the prefix of every outgoing frame; its
    /// length is the header length expected on incoming frames (whose
    /// content may differ, e.g. a TPDU with source and destination swapped).
    /// Default: none.
    pub fn header(mut self, header: &[u8]) -> Self {
        self.header = Bytes::copy_from_slice(header);
        self
    }

    /// Whether the length counts the fixed header. Default: false.
    pub fn length_counts_header(mut self, yes: bool) -> Self {
        self.counts_header = yes;
        self
    }

    /// Whether the length counts the prefix itself. Default: false.
    pub fn length_counts_prefix(mut self, yes: bool) -> Self {
        self.counts_prefix = yes;
        self
    }

    /// Largest message accepted or sent, header and prefix excluded.
    /// Default: [`DEFAULT_MAX_FRAME`] (64 KiB); at most 16 MiB (a larger value is capped: the
    /// codec keeps offsets into a message as 32-bit numbers, and no ISO 8583 message comes near).
    pub fn max_frame(mut self, max: usize) -> Self {
        self.max_frame = max.min(16 * 1024 * 1024);
        self
    }

    /// Builds the framing.
    pub fn build(self) -> Framing {
        Framing {
            prefix: self.prefix,
            header: self.header,
            counts_header: self.counts_header,
            counts_prefix: self.counts_prefix,
            max_frame: self.max_frame,
            pending_len: None,
        }
    }
}

impl Framing {
    /// Starts a builder with the defaults (2-byte binary prefix counting the message only).
    pub fn builder() -> FramingBuilder {
        FramingBuilder::default()
    }

    /// Length of the fixed header, 0 when none.
    pub fn header_len(&self) -> usize {
        self.header.len()
    }

    /// The fixed header written on outgoing frames.
    pub fn header(&self) -> &Bytes {
        &self.header
    }

    /// Bytes the length prefix counts beyond the message itself.
    fn overhead(&self) -> usize {
        let mut n = 0;
        if self.counts_header {
            n += self.header.len();
        }
        if self.counts_prefix {
            n += self.prefix.len();
        }
        n
    }

    /// Appends one frame (prefix, the configured header, `message`) to `dst`.
    pub fn write_frame(&self, message: &[u8], dst: &mut BytesMut) -> Result<(), FramingError> {
        let header = self.header.clone();
        self.write_frame_with_header(&header, message, dst)
    }

    /// Appends one frame with an explicit header (e.g. a TPDU swapped for a reply).
    /// The header must have the configured length.
    pub fn write_frame_with_header(
        &self,
        header: &[u8],
        message: &[u8],
        dst: &mut BytesMut,
    ) -> Result<(), FramingError> {
        if header.len() != self.header.len() {
            return Err(FramingError::HeaderLength {
                expected: self.header.len(),
                got: header.len(),
            });
        }
        if message.is_empty() {
            return Err(FramingError::ZeroLength);
        }
        let declared = message.len() + self.overhead();
        if message.len() > self.max_frame || declared > self.prefix.max_value() {
            return Err(FramingError::Oversized {
                len: message.len(),
                max: self
                    .max_frame
                    .min(self.prefix.max_value().saturating_sub(self.overhead())),
            });
        }
        let start = dst.len();
        dst.reserve(self.prefix.len() + header.len() + message.len());
        dst.put_bytes(0, self.prefix.len());
        self.prefix.write_into(declared, &mut dst[start..]);
        dst.extend_from_slice(header);
        dst.extend_from_slice(message);
        Ok(())
    }

    /// Starts a frame in place: appends room for the prefix and the configured
    /// header, and returns where the frame starts. Append the message to
    /// `dst`, then call [`Framing::finish_frame`] (which fills in the prefix),
    /// or truncate `dst` back to the returned offset to abandon the frame.
    /// This lets a message be encoded straight into an output buffer.
    pub(crate) fn begin_frame(&self, dst: &mut BytesMut) -> usize {
        let start = dst.len();
        dst.put_bytes(0, self.prefix.len());
        if !self.header.is_empty() {
            dst.extend_from_slice(&self.header);
        }
        start
    }

    /// Completes a frame begun at `start` by [`Framing::begin_frame`]. On error
    /// the frame is removed from `dst`.
    pub(crate) fn finish_frame(&self, dst: &mut BytesMut, start: usize) -> Result<(), FramingError> {
        let body_start = start + self.prefix.len() + self.header.len();
        let len = dst.len().saturating_sub(body_start);
        let declared = len + self.overhead();
        let result = if len == 0 {
            Err(FramingError::ZeroLength)
        } else if len > self.max_frame || declared > self.prefix.max_value() {
            Err(FramingError::Oversized {
                len,
                max: self
                    .max_frame
                    .min(self.prefix.max_value().saturating_sub(self.overhead())),
            })
        } else {
            Ok(())
        };
        match result {
            Ok(()) => {
                if let Some(slot) = dst.get_mut(start..) {
                    self.prefix.write_into(declared, slot);
                }
                Ok(())
            }
            Err(e) => {
                dst.truncate(start);
                Err(e)
            }
        }
    }

    /// Reads a prefix value into the message length, checking the limits.
    fn message_len(&self, declared: usize) -> Result<usize, FramingError> {
        let overhead = self.overhead();
        let len = declared.checked_sub(overhead).ok_or(FramingError::TooShort {
            len: declared,
            overhead,
        })?;
        if len == 0 {
            return Err(FramingError::ZeroLength);
        }
        if len > self.max_frame {
            return Err(FramingError::Oversized {
                len,
                max: self.max_frame,
            });
        }
        Ok(len)
    }
}

/// Swaps the destination and source addresses of a 5-byte TPDU
/// (`id | dst(2) | src(2)`), as a host does when it answers.
pub(crate) fn swap_tpdu(tpdu: &[u8]) -> Option<[u8; 5]> {
    match tpdu {
        [id, d1, d2, s1, s2] => Some([*id, *s1, *s2, *d1, *d2]),
        _ => None,
    }
}

impl Decoder for Framing {
    type Item = Frame;
    type Error = FramingError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, FramingError> {
        let len = match self.pending_len {
            Some(len) => len,
            None => {
                if src.len() < self.prefix.len() {
                    return Ok(None);
                }
                let len = self.message_len(self.prefix.read(src)?)?;
                src.advance(self.prefix.len());
                self.pending_len = Some(len);
                len
            }
        };
        let total = self.header.len() + len;
        if src.len() < total {
            // Room for the rest of this frame and the next prefix.
            src.reserve(total - src.len() + self.prefix.len());
            return Ok(None);
        }
        self.pending_len = None;
        // No header (the common case): no split, so no reference count taken and dropped per frame.
        let header = if self.header.is_empty() {
            Bytes::new()
        } else {
            src.split_to(self.header.len()).freeze()
        };
        let message = src.split_to(len).freeze();
        Ok(Some(Frame { header, message }))
    }
}

impl Encoder<Bytes> for Framing {
    type Error = FramingError;

    fn encode(&mut self, message: Bytes, dst: &mut BytesMut) -> Result<(), FramingError> {
        self.write_frame(&message, dst)
    }
}

impl Encoder<&[u8]> for Framing {
    type Error = FramingError;

    fn encode(&mut self, message: &[u8], dst: &mut BytesMut) -> Result<(), FramingError> {
        self.write_frame(message, dst)
    }
}

#[cfg(test)]
mod in_place_tests {
    use bytes::BytesMut;

    use super::{swap_tpdu, Framing, LengthPrefix};

    #[test]
    fn a_frame_begun_in_place_gets_its_prefix_when_finished() {
        let framing = Framing::builder().prefix(LengthPrefix::Ascii4).build();
        let mut out = BytesMut::from(&b"earlier"[..]);
        let start = framing.begin_frame(&mut out);
        out.extend_from_slice(b"ABCD");
        framing.finish_frame(&mut out, start).unwrap();
        assert_eq!(&out[..], b"earlier0004ABCD");
    }

    #[test]
    fn tpdu_addresses_swap() {
        assert_eq!(
            swap_tpdu(&[0x60, 0x00, 0x03, 0x00, 0x00]),
            Some([0x60, 0x00, 0x00, 0x00, 0x03])
        );
        assert_eq!(swap_tpdu(&[0x60]), None);
    }
}
