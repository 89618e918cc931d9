pub mod spec;
pub mod transport;
mod codec_shim;
pub use codec_shim::{CodecError, Message, Mti, MtiClass, Spec};
