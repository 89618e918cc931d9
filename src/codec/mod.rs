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

use crate::{Message, Spec};

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
}
