//! Typed messages: your own `#[derive(Serialize, Deserialize)]` struct to and from a [`Message`],
//! through a spec. Struct fields are renamed to field numbers (`#[serde(rename = "4")]`); numbers
//! travel as digit strings (zero-padded to a fixed numeric field's length); `Option` stands for a
//! field that may be absent; a nested struct stands for a composite field's parts (sub-field
//! numbers or tags as names); `Vec<u8>` or hex text for binary fields. A key `"mti"` carries the
//! MTI.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use iso8583_client::Spec;
//!
//! #[derive(Serialize, Deserialize, Debug, PartialEq)]
//! struct Icc {
//!     #[serde(rename = "9F26")]
//!     cryptogram: String,
//!     #[serde(rename = "9F36")]
//!     atc: String,
//! }
//!
//! #[derive(Serialize, Deserialize, Debug, PartialEq)]
//! struct Purchase {
//!     mti: String,
//!     #[serde(rename = "2")]
//!     pan: String,
//!     #[serde(rename = "4")]
//!     amount: u64,
//!     #[serde(rename = "11")]
//!     stan: u32,
//!     #[serde(rename = "55")]
//!     icc: Option<Icc>,
//! }
//!
//! let spec = Spec::builtin("iso87-ascii").unwrap();
//! let p = Purchase {
//!     mti: "0200".into(),
//!     pan: "4761739001010119".into(),
//!     amount: 1050,
//!     stan: 42,
//!     icc: Some(Icc { cryptogram: "7A6F1B2C8D1E4F55".into(), atc: "000E".into() }),
//! };
//! let msg = spec.to_message(&p).unwrap();
//! assert_eq!((msg.get_str(4), msg.stan()), (Some("000000001050"), Some("000042")));
//! assert_eq!(msg.get_path("55.9F36").unwrap().as_deref(), Some(&[0x00, 0x0E][..]));
//! let wire = spec.encode(&msg).unwrap();
//! let back: Purchase = spec.from_message(&spec.decode(&wire).unwrap()).unwrap();
//! assert_eq!(back, p);
//! ```

mod de;
mod ser;

use std::fmt;

use crate::{Message, Spec};

/// A value that does not fit the message, or a message that does not fit the type.
///
/// ```
/// #[derive(serde::Serialize)]
/// struct Bad { #[serde(rename = "4")] amount: f64 }
/// let spec = iso8583_client::Spec::builtin("iso87-ascii").unwrap();
/// let err = spec.to_message(&Bad { amount: 1.5 }).unwrap_err();
/// assert_eq!(err.to_string(), "field 4: floating-point numbers have no ISO 8583 form; use minor units");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypedError(pub(crate) String);

impl fmt::Display for TypedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TypedError {}

impl serde::ser::Error for TypedError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        TypedError(msg.to_string())
    }
}

impl serde::de::Error for TypedError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        TypedError(msg.to_string())
    }
}

impl TypedError {
    /// The error with `context` (a field) in front, once.
    fn within(self, context: &str) -> TypedError {
        if self.0.starts_with("field ") {
            self
        } else {
            TypedError(format!("{context}: {}", self.0))
        }
    }
}

impl Spec {
    /// A message from a typed value (see [`crate::typed`]): the MTI from its `"mti"` key (or
    /// `0000` without one: set it after), fields by number, composite fields from nested structs.
    /// The message masks and finds parts as this spec says; lengths and classes are checked when
    /// it is encoded.
    ///
    /// ```
    /// #[derive(serde::Serialize)]
    /// struct Echo { mti: &'static str, #[serde(rename = "11")] stan: u32, #[serde(rename = "70")] code: &'static str }
    /// let spec = iso8583_client::Spec::builtin("iso87-ascii").unwrap();
    /// let msg = spec.to_message(&Echo { mti: "0800", stan: 7, code: "301" }).unwrap();
    /// assert_eq!(msg.to_string(), "0800 11=000007 70=301");
    /// ```
    pub fn to_message<T: serde::Serialize + ?Sized>(&self, value: &T) -> Result<Message, TypedError> {
        let node = value.serialize(ser::NodeSerializer)?;
        ser::message_from_node(self, node)
    }

    /// A typed value from a message (see [`crate::typed`]): fields by number, numbers parsed
    /// from digits, nested structs from a composite field's parts, `Option` for absent fields.
    ///
    /// ```
    /// #[derive(serde::Deserialize)]
    /// struct Reply { #[serde(rename = "39")] code: String, #[serde(rename = "4")] amount: Option<u64> }
    /// let spec = iso8583_client::Spec::builtin("iso87-ascii").unwrap();
    /// let msg = iso8583_client::Message::new("0210".parse().unwrap()).with(39, "00").with(4, "000000001050");
    /// let r: Reply = spec.from_message(&msg).unwrap();
    /// assert_eq!((r.code.as_str(), r.amount), ("00", Some(1050)));
    /// ```
    pub fn from_message<T: serde::de::DeserializeOwned>(&self, msg: &Message) -> Result<T, TypedError> {
        T::deserialize(de::MessageDeserializer::new(self, msg)?)
    }
}
