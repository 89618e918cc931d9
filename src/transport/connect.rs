//! Opening a link's stream: the [`Connect`] trait, with TCP ([`TcpConnect`])
//! and TLS (`TlsConnect`, feature `tls`) implementations.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::config::ConnectionConfig;
use super::error::ConnectError;

/// A byte stream a link can run over.
pub trait LinkIo: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<S: AsyncRead + AsyncWrite + Send + Unpin + 'static> LinkIo for S {}

/// An opened stream: plain TCP (split without a lock) or any other stream.
pub enum LinkStream {
    /// A TCP stream.
    Tcp(TcpStream),
    /// Any other stream (TLS, a test's duplex pipe, …).
    Other(Box<dyn LinkIo>),
}

impl std::fmt::Debug for LinkStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkStream::Tcp(s) => f.debug_tuple("Tcp").field(&s.peer_addr().ok()).finish(),
            LinkStream::Other(_) => f.write_str("Other(..)"),
        }
    }
}

/// The future [`Connect::connect`] returns.
pub type Connecting<'a> = Pin<Box<dyn Future<Output = Result<LinkStream, ConnectError>> + Send + 'a>>;

/// Opens a stream to an endpoint address (`host:port`). The whole opening
/// (TCP handshake, TLS handshake) must finish within `config.connect_timeout`.
pub trait Connect: Send + Sync + std::fmt::Debug + 'static {
    /// Opens a stream to `addr`.
    fn connect<'a>(&'a self, addr: &'a str, config: &'a ConnectionConfig) -> Connecting<'a>;
}

/// Plain TCP: connect within `connect_timeout`, `TCP_NODELAY`, TCP keepalive.
#[derive(Debug, Default, Clone, Copy)]
pub struct TcpConnect;

impl Connect for TcpConnect {
    fn connect<'a>(&'a self, addr: &'a str, config: &'a ConnectionConfig) -> Connecting<'a> {
        Box::pin(async move {
            let stream = with_timeout(addr, config.connect_timeout, super::socket::open(addr, config)).await?;
            Ok(LinkStream::Tcp(stream))
        })
    }
}

/// Runs `opening` within `timeout` (saturating: `Duration::MAX` waits for ever).
pub(crate) async fn with_timeout<T>(
    addr: &str,
    timeout: Duration,
    opening: impl Future<Output = Result<T, ConnectError>>,
) -> Result<T, ConnectError> {
    match tokio::time::Instant::now().checked_add(timeout) {
        Some(until) => match tokio::time::timeout_at(until, opening).await {
            Ok(result) => result,
            Err(_) => Err(ConnectError::Timeout {
                addr: addr.into(),
                timeout,
            }),
        },
        None => opening.await,
    }
}
