//! # iso8583-client
//!
//! An ISO 8583 codec and client for payment services: spec-driven encoding and decoding of
//! authorization, financial, reversal and network-management messages, and (in [`transport`] and
//! [`client`]) pooled TCP links that pair responses by STAN, honour deadlines and retry only what is
//! safe to retry.
//!
//! ```
//! use iso8583_client::{Message, Spec};
//! let spec = Spec::builtin("iso87-ascii").unwrap();
//! let mut req = Message::new("0800".parse().unwrap());
//! req.set(11, "000001").set(70, "301");
//! let wire = spec.encode(&req).unwrap();
//! let back = spec.decode(&wire).unwrap();
//! assert_eq!(back.stan(), Some("000001"));
//! assert_eq!(back.mti().response().unwrap().as_str(), "0810");
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod client;
pub mod codec;
pub mod hex;
pub mod message;
pub mod recording;
pub mod sim;
pub mod spec;
pub mod transport;
pub mod typed;

pub use codec::CodecError;
pub use message::{
    mask_in_place, mask_value, Masked, Message, Mti, MtiClass, MtiFunction, MtiOrigin, MtiVersion, Part, PartValue,
    PathError, PathErrorKind,
};
pub use spec::{FieldSpec, MaskSet, Sensitivity, Spec, SpecError};
pub use typed::TypedError;

/// The README's Rust examples, compiled as doc tests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
