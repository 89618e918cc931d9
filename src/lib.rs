//! # iso8583-client
//!
//! An ISO 8583 codec and client for payment services: spec-driven encoding and decoding of
//! authorization, financial, reversal and network-management messages, and (in [`transport`] and
//! [`Client`]) pooled TCP links that pair responses by STAN, honour deadlines and retry only what is
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
//!
//! ## Using it in a service
//!
//! - **Features**: with `default-features = false` the crate is the codec, the spec loader and the
//!   client; add `tls` (rustls links), `metrics` (the `metrics` facade), `tower`
//!   ([`Client`] as a `tower::Service<Message>`), `serde` ([`config::Config`] from the service's own
//!   file). `sim`, `recording` and `cli` (the default: the `iso8583` tool) are for tests and tools.
//! - **Configuration**: [`ClientBuilder::from_config`] with a [`config::Config`] read from an
//!   `[iso8583]` table; see `fixtures/client-config.toml`.
//! - **Metrics**: `iso8583_requests_*` (by endpoint and MTI class), `iso8583_round_trip_seconds`,
//!   `iso8583_responses_*`, `iso8583_link_*`; the README lists names and labels.
//! - **Tracing**: spans `iso8583.send` (`mti`, `stan`), `iso8583.link` (`peer`), `iso8583.probe`.
//! - **tower**: never stack a generic retry over money-moving messages; the client's
//!   [`RetryPolicy`] is the only one that knows what may be repeated.
//! - **Shutdown**: [`Client::close`] drains requests in flight, signs off, then fails the rest.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
pub mod codec;
pub mod config;
// Hex is the codec's own (composite parts, typed messages); public with the recording format.
#[cfg(feature = "recording")]
pub mod hex;
#[cfg(not(feature = "recording"))]
#[allow(dead_code, unreachable_pub)]
pub(crate) mod hex;
pub mod message;
#[cfg(feature = "recording")]
pub mod recording;
#[cfg(feature = "sim")]
pub mod sim;
pub mod spec;
#[cfg(feature = "tower")]
mod tower;
pub mod transport;
pub mod typed;

// The everyday types, at the root only; everything else lives in one module each.
pub use client::{BuildError, Client, ClientBuilder, RetryPolicy, SendOptions};
pub use codec::error::CodecError;
pub use message::mti::Mti;
pub use message::Message;
pub use spec::Spec;
pub use transport::error::SendError;
pub use transport::Backoff;

/// The README's Rust examples, compiled as doc tests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
