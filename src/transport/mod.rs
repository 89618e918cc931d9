//! The transport: framed TCP links to an ISO 8583 host.
//!
//! - [`framing`]: length prefixes and fixed headers on the wire.
//! - [`connection`]: one link with many requests in flight, paired by match key.
//! - [`pool`]: a deadpool of links over one or more endpoints with failover.

pub mod framing;
