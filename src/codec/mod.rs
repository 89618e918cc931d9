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
pub(crate) mod error;
mod text;

use bytes::{Bytes, BytesMut};

pub(crate) use error::CodecError;
pub use error::{ErrorKind, Part};

pub(crate) use decode::read_subfield;
pub(crate) use encode::{prefix_width, write_subfield};
pub(crate) use text::check_class as check_text;

use crate::{Message, Mti, Spec};

impl Spec {
    /// Decodes one whole message (without any transport length prefix), copying it once.
    pub fn decode(&self, message: &[u8]) -> Result<Message, CodecError> {
        decode::decode(self, Bytes::copy_from_slice(message))
    }

    /// Decodes one whole message held in shared bytes; field values share `message` (no copies
    /// for ASCII and binary content).
    pub fn decode_bytes(&self, message: Bytes) -> Result<Message, CodecError> {
        decode::decode(self, message)
    }

    /// Encodes a message (without any transport length prefix).
    pub fn encode(&self, msg: &Message) -> Result<Bytes, CodecError> {
        let mut out = BytesMut::with_capacity(encode::size_hint(msg));
        encode::encode_into(self, msg, &mut out)?;
        Ok(out.freeze())
    }

    /// Appends the encoded message to `out` (a frame being built, say); `out` is unchanged on error.
    pub fn encode_into(&self, msg: &Message, out: &mut BytesMut) -> Result<(), CodecError> {
        encode::encode_into(self, msg, out)
    }

    /// Appends the encoding of a message given as its MTI and its fields — (number, value in
    /// canonical form), in increasing number order, each once — without building a [`Message`]:
    /// the bytes and errors of [`Spec::encode_into`] for a message holding those fields. A field
    /// number outside 2-192, 65, or not above the one before it is refused
    /// ([`ErrorKind::BadFieldNumber`]). `out` is unchanged on error.
    ///
    /// ```
    /// use iso8583_client::{Message, Spec};
    /// let spec = Spec::builtin("iso87-ascii").unwrap();
    /// let mti = "0800".parse().unwrap();
    /// let fields: [(u8, &[u8]); 2] = [(11, b"000001"), (70, b"301")];
    /// let mut out = bytes::BytesMut::new();
    /// spec.encode_fields_into(mti, fields, &mut out).unwrap();
    /// let msg = Message::new(mti).with(11, "000001").with(70, "301");
    /// assert_eq!(&out[..], &spec.encode(&msg).unwrap()[..]);
    /// ```
    pub fn encode_fields_into<'v, I>(&self, mti: Mti, fields: I, out: &mut BytesMut) -> Result<(), CodecError>
    where
        I: IntoIterator<Item = (u8, &'v [u8])>,
        I::IntoIter: Clone,
    {
        encode::encode_fields_into(self, mti, fields.into_iter(), out)
    }
}
