//! The transport: framed TCP links to an ISO 8583 host.
//!
//! - [`framing`]: length prefixes and fixed headers on the wire.
//! - [`Connection`]: one link with many requests in flight, paired by [`MatchKey`].
//! - [`LinkManager`]: a deadpool of links over one or more endpoints with failover.
//!
//! Errors say whether a request was [`SendError::NotSent`] (safe to retry) or
//! [`SendError::OutcomeUnknown`] (the host may have acted on it).
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::{sync::Arc, time::Duration};
//! use iso8583_client::{Spec, sim::Sim, transport::{network_request, Connection, ConnectionConfig}};
//! let spec = Spec::builtin("iso87-ascii").unwrap();
//! let sim = Sim::start(spec.clone(), Default::default()).await.unwrap(); // a host on 127.0.0.1
//! let link = Connection::connect(&sim.addr().to_string(), spec, Arc::new(ConnectionConfig::default())).await.unwrap();
//! let answer = link.send(network_request("301"), Duration::from_secs(2)).await.unwrap();
//! assert_eq!((answer.mti().as_str(), answer.response_code()), ("0810", Some("00")));
//! link.close().await;
//! # sim.shutdown().await;
//! # });
//! ```

mod backoff;
mod config;
mod connect;
mod connection;
pub(crate) mod core;
mod driver;
mod endpoint;
pub(crate) mod error;
pub mod framing;
mod pool;
mod socket;
mod stats;
#[cfg(feature = "tls")]
mod tls;

pub use self::core::keys::{MatchKey, StanSequence};
pub use backoff::Backoff;
pub use config::{network_request, ConnectionConfig, EchoResponder, UnsolicitedHandler};
pub use connect::{Connect, Connecting, LinkIo, LinkStream, TcpConnect};
pub use connection::{Connection, PendingResponse};
pub use endpoint::Endpoint;
pub(crate) use error::SendError;
pub use error::{Cause, ConnectError};
pub use pool::LinkManager;
#[cfg(feature = "tls")]
pub use tls::{server_config as tls_server_config, TlsConnect, TlsSettings};

pub use stats::Counters;
pub(crate) use stats::EndpointStats;
