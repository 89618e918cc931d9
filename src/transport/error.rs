//! Transport errors: whether a request was sent, and why it failed.

use std::time::Duration;

use crate::{CodecError, Mti};

use super::framing::FramingError;

/// Why a send failed. Which of the two outcomes happened is told by the
/// enclosing [`SendError`] variant.
///
/// ```
/// use iso8583_client::{transport::Cause, SendError};
/// let e = SendError::NotSent(Cause::BadStan("12a".into()));
/// assert!(matches!(e.cause(), Cause::BadStan(s) if s == "12a"));
/// assert_eq!(e.cause().to_string(), r#"STAN "12a" is not 1 to 6 digits"#);
/// assert_eq!(e.to_string(), r#"not sent: STAN "12a" is not 1 to 6 digits"#);
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Cause {
    /// The deadline passed (while queued, or waiting for the answer).
    #[error("deadline passed")]
    Timeout,
    /// The link went down (peer closed, i/o error, marked broken, closed by us).
    #[error("link down: {0}")]
    LinkDown(String),
    /// The link is closing gracefully and takes no new requests.
    #[error("link is closing")]
    Closing,
    /// The caller's STAN (and extra match fields) is already in flight on a link of this client.
    #[error("STAN {stan} is already in flight")]
    StanInUse {
        /// The colliding STAN.
        stan: String,
    },
    /// An earlier request with this STAN (and extra match fields) ended with an
    /// unknown outcome; the key is refused until its late answer has come or the
    /// late window has passed, so that answer can never reach this request.
    /// Repeats of that request (0400 → 0401) are the only exception.
    #[error(
        "STAN {stan} belongs to a request whose outcome is unknown; refused until its late answer or the late window"
    )]
    StanUnresolved {
        /// The refused STAN.
        stan: String,
    },
    /// Every STAN is in flight or unresolved (or the client's key registry is full).
    #[error("no STAN free: every STAN is in flight or awaiting a late answer")]
    NoStanFree,
    /// The link has `max_in_flight` requests in flight and none ended before the deadline.
    #[error("{max} requests already in flight on the link")]
    TooManyInFlight {
        /// The configured cap.
        max: usize,
    },
    /// The caller gave up on the request (dropped its future).
    #[error("cancelled by the caller")]
    Cancelled,
    /// The caller's DE 11 is not 1 to 6 digits.
    #[error("STAN {0:?} is not 1 to 6 digits")]
    BadStan(String),
    /// The message is not a request that gets a response (e.g. a 0110).
    #[error("MTI {0} is not a request that gets a response")]
    NotARequest(Mti),
    /// The request could not be encoded.
    #[error("encoding the request: {0}")]
    Encode(CodecError),
    /// The request could not be framed (too long for the prefix, …).
    #[error("framing the request: {0}")]
    Frame(String),
    /// The response arrived but could not be decoded.
    #[error("decoding the response: {0}")]
    Decode(CodecError),
    /// No connection could be had (connect, TLS or sign-on failed, every endpoint down, pool
    /// wait ran out); the connect error itself, typed.
    #[error("no connection: {0}")]
    NoConnection(std::sync::Arc<ConnectError>),
}

/// A failed send: either it was **not sent** (nothing reached the host; safe
/// to try again, whatever the message) or it was **sent with an unknown
/// outcome** (the host may have acted on it; an authorization may need a
/// reversal).
///
/// ```
/// use iso8583_client::{transport::Cause, SendError};
/// let e = SendError::OutcomeUnknown(Cause::Timeout);
/// assert!(e.is_outcome_unknown() && e.is_timeout() && !e.is_not_sent());
/// ```
#[derive(Debug, Clone, thiserror::Error)]
pub enum SendError {
    /// No byte of the request was written: safe to retry.
    #[error("not sent: {0}")]
    NotSent(Cause),
    /// The request was (at least partly) written; its outcome is unknown.
    #[error("sent, outcome unknown: {0}")]
    OutcomeUnknown(Cause),
}

impl SendError {
    /// Nothing was written: retrying cannot duplicate the request.
    pub fn is_not_sent(&self) -> bool {
        matches!(self, SendError::NotSent(_))
    }

    /// The request was written and no usable answer came back.
    pub fn is_outcome_unknown(&self) -> bool {
        matches!(self, SendError::OutcomeUnknown(_))
    }

    /// The deadline passed.
    pub fn is_timeout(&self) -> bool {
        matches!(self.cause(), Cause::Timeout)
    }

    /// The link went down or is closing.
    pub fn is_link_down(&self) -> bool {
        matches!(self.cause(), Cause::LinkDown(_) | Cause::Closing)
    }

    /// The response could not be decoded.
    pub fn is_decode(&self) -> bool {
        matches!(self.cause(), Cause::Decode(_))
    }

    /// Why it failed.
    pub fn cause(&self) -> &Cause {
        match self {
            SendError::NotSent(c) | SendError::OutcomeUnknown(c) => c,
        }
    }
}

/// Failure to open a link.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use iso8583_client::{Spec, transport::{ConnectError, Connection, ConnectionConfig}};
/// let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap(); // then closed
/// let config = Arc::new(ConnectionConfig::default());
/// let err = Connection::connect(&free.to_string(), Spec::builtin("iso87-ascii").unwrap(), config).await.unwrap_err();
/// assert!(matches!(err, ConnectError::Io { .. }));
/// # });
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// TCP connect failed.
    #[error("connecting to {addr}: {error}")]
    Io {
        /// Endpoint address.
        addr: String,
        /// The socket error.
        error: std::io::Error,
    },
    /// TCP connect did not finish in time.
    #[error("connecting to {addr}: no answer within {timeout:?}")]
    Timeout {
        /// Endpoint address.
        addr: String,
        /// The connect timeout.
        timeout: Duration,
    },
    /// The sign-on request failed.
    #[error("sign-on to {addr} failed: {error}")]
    SignOn {
        /// Endpoint address.
        addr: String,
        /// Why.
        error: SendError,
    },
    /// The host answered the sign-on with a response code other than 00.
    #[error("sign-on to {addr} refused with response code {code:?}")]
    SignOnRefused {
        /// Endpoint address.
        addr: String,
        /// DE 39 of the answer (None when absent).
        code: Option<String>,
    },
    /// Every endpoint is down or waiting out its reconnect backoff.
    #[error("no endpoint available: {0}")]
    NoEndpoint(String),
    /// The TLS handshake failed (unknown CA, missing or refused client
    /// certificate, name mismatch) or the TLS settings could not be used.
    #[error("TLS with {addr}: {reason}")]
    Tls {
        /// Endpoint address.
        addr: String,
        /// What went wrong.
        reason: String,
    },
}

impl From<FramingError> for Cause {
    fn from(e: FramingError) -> Self {
        Cause::Frame(e.to_string())
    }
}
