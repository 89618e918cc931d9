//! The transport: framed TCP links to an ISO 8583 host.
//!
//! - [`framing`]: length prefixes and fixed headers on the wire.
//! - [`Connection`]: one link with many requests in flight, paired by [`MatchKey`].
//! - [`pool`]: a deadpool of links over one or more endpoints with failover.
//!
//! Errors say whether a request was [`SendError::NotSent`] (safe to retry) or
//! [`SendError::OutcomeUnknown`] (the host may have acted on it).

mod config;
mod connection;
mod endpoint;
mod error;
pub mod framing;
mod link;
mod pending;
pub mod pool;
mod socket;
mod stats;
mod tasks;
mod waiting;

pub use config::{network_request, ConnectionConfig, EchoResponder, UnsolicitedHandler};
pub use connection::{Connection, PendingResponse};
pub use error::{Cause, ConnectError, SendError};
pub use pending::{MatchKey, StanSequence};
pub use pool::{Endpoint, LinkManager, ReconnectBackoff};

pub(crate) use endpoint::jittered_backoff;
pub use stats::{Counters, EndpointStats};
