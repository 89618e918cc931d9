//! The spec-driven codec: wire bytes <-> [`Message`].
//!
//! Runtime-free (no tokio): decoding works on one complete message, as framing delivers it.
//!
//! ```
//! use iso8583_client::{Message, Spec};
//! let spec = Spec::builtin("iso87-bcd").unwrap();
//! let mut msg = Message::new("0200".parse().unwrap());
//! msg.set(2, "4761739001010119").set(3, "000000").set(11, "000001");
//! let wire = spec.encode(&msg).unwrap();
//! assert_eq!(&wire[..2], &[0x02, 0x00]);             // BCD MTI
//! assert_eq!(&wire[10..19], &[0x16, 0x47, 0x61, 0x73, 0x90, 0x01, 0x01, 0x01, 0x19]); // LL 16 + PAN
//! let back = spec.decode(&wire).unwrap();
//! assert_eq!(back, msg);
//! ```

mod decode;
mod ebcdic;
mod encode;
mod error;
mod text;

use bytes::{Bytes, BytesMut};

pub use error::{CodecError, ErrorKind, Part};

pub(crate) use decode::read_subfield;
pub(crate) use encode::{prefix_width, write_subfield};
pub(crate) use text::check_class as check_text;

use crate::{Message, Spec};

impl Spec {
    /// Decodes one whole message (without any transport length prefix), copying it once.
    ///
    /// ```
    /// let spec = iso8583_client::Spec::builtin("iso87-ascii").unwrap();
    /// let wire = concat!("0800", "8020000000000000", "0400000000000000", "000001", "3 1");
    /// let err = spec.decode(wire.as_bytes()).unwrap_err();
    /// assert_eq!(err.to_string(), "field 70 (Network Management Information Code) at byte 42: expected a digit (class n) at position 1, found ' ' (0x20)");
    /// ```
    pub fn decode(&self, message: &[u8]) -> Result<Message, CodecError> {
        decode::decode(self, Bytes::copy_from_slice(message))
    }

    /// Decodes one whole message held in shared bytes; field values share `message` (no copies
    /// for ASCII and binary content).
    ///
    /// ```
    /// let spec = iso8583_client::Spec::builtin("iso87-ascii").unwrap();
    /// let wire = bytes::Bytes::from_static(b"080080200000000000000400000000000000000001301");
    /// let msg = spec.decode_bytes(wire).unwrap();
    /// assert_eq!((msg.stan(), msg.network_code()), (Some("000001"), Some("301")));
    /// ```
    pub fn decode_bytes(&self, message: Bytes) -> Result<Message, CodecError> {
        decode::decode(self, message)
    }

    /// Encodes a message (without any transport length prefix).
    ///
    /// ```
    /// let spec = iso8583_client::Spec::builtin("iso87-ascii").unwrap();
    /// let msg = iso8583_client::Message::new("0800".parse().unwrap()).with(11, "12345");
    /// let err = spec.encode(&msg).unwrap_err();
    /// assert_eq!(err.to_string(), "field 11 (System Trace Audit Number) at byte 20: fixed length is 6, value has 5");
    /// ```
    pub fn encode(&self, msg: &Message) -> Result<Bytes, CodecError> {
        let mut out = BytesMut::with_capacity(encode::size_hint(msg));
        encode::encode_into(self, msg, &mut out)?;
        Ok(out.freeze())
    }

    /// Appends the encoded message to `out` (a frame being built, say); `out` is unchanged on error.
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use iso8583_client::{Message, Spec};
    /// let spec = Spec::builtin("iso87-ascii").unwrap();
    /// let mut out = BytesMut::from(&b"HDR"[..]);
    /// spec.encode_into(&Message::new("0800".parse().unwrap()).with(11, "000001"), &mut out).unwrap();
    /// assert_eq!(&out[..], b"HDR08000020000000000000000001");
    /// assert!(spec.encode_into(&Message::new("0800".parse().unwrap()).with(11, "1"), &mut out).is_err());
    /// assert_eq!(out.len(), 29); // unchanged on error
    /// ```
    pub fn encode_into(&self, msg: &Message, out: &mut BytesMut) -> Result<(), CodecError> {
        encode::encode_into(self, msg, out)
    }
}
