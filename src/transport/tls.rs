//! TLS links (feature `tls`): tokio-rustls over the TCP connector, server
//! name, CA roots from a PEM file or the system's, optional client
//! certificate and key (mutual TLS).

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio_rustls::rustls::client::ResolvesClientCert;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, SignatureScheme};
use tokio_rustls::TlsConnector;

use super::config::ConnectionConfig;
use super::connect::{with_timeout, Connect, Connecting, LinkStream};
use super::error::ConnectError;

/// Where the TLS material comes from. Paths are PEM files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// CA certificates to trust; `None`: the system's roots.
    pub ca: Option<PathBuf>,
    /// Client certificate chain, for mutual TLS (needs `client_key`).
    pub client_cert: Option<PathBuf>,
    /// The client certificate's private key.
    pub client_key: Option<PathBuf>,
    /// Name to verify the host's certificate against; `None`: the endpoint's host part.
    pub server_name: Option<String>,
}

/// Opens TLS links: TCP (timeouts, nodelay, keepalive as [`TcpConnect`](super::TcpConnect)),
/// then the handshake, all within `connect_timeout`. A failed handshake is
/// [`ConnectError::Tls`]; requests waiting for that link are not sent.
#[derive(Clone)]
pub struct TlsConnect {
    connector: TlsConnector,
    server_name: Option<ServerName<'static>>,
    asked: Arc<AskedForCert>,
}

impl std::fmt::Debug for TlsConnect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConnect")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

/// Presents the client certificate (if any) and notes that the host asked for one.
#[derive(Debug)]
struct AskedForCert {
    key: Option<Arc<CertifiedKey>>,
    asked: AtomicBool,
}

impl ResolvesClientCert for AskedForCert {
    fn resolve(&self, _hints: &[&[u8]], _schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        self.asked.store(true, Relaxed);
        self.key.clone()
    }

    fn has_certs(&self) -> bool {
        self.key.is_some()
    }
}

fn tls_error(reason: impl std::fmt::Display) -> ConnectError {
    ConnectError::Tls {
        addr: String::new(),
        reason: reason.to_string(),
    }
}

fn read_pem(path: &Path) -> Result<Vec<u8>, ConnectError> {
    let meta = std::fs::metadata(path).map_err(|e| tls_error(format!("{}: {e}", path.display())))?;
    if !meta.is_file() || meta.len() > 1 << 20 {
        return Err(tls_error(format!(
            "{}: not a PEM file of at most 1 MiB",
            path.display()
        )));
    }
    std::fs::read(path).map_err(|e| tls_error(format!("{}: {e}", path.display())))
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ConnectError> {
    let pem = read_pem(path)?;
    let certs = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_error(format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(tls_error(format!("{}: no certificate in it", path.display())));
    }
    Ok(certs)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, ConnectError> {
    let pem = read_pem(path)?;
    rustls_pemfile::private_key(&mut pem.as_slice())
        .map_err(|e| tls_error(format!("{}: {e}", path.display())))?
        .ok_or_else(|| tls_error(format!("{}: no private key in it", path.display())))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl TlsConnect {
    /// A connector from PEM files.
    pub fn new(settings: &TlsSettings) -> Result<TlsConnect, ConnectError> {
        let mut roots = RootCertStore::empty();
        match &settings.ca {
            Some(path) => {
                for cert in certs(path)? {
                    roots
                        .add(cert)
                        .map_err(|e| tls_error(format!("{}: {e}", path.display())))?;
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                for cert in found.certs {
                    let _ = roots.add(cert);
                }
                if roots.is_empty() {
                    return Err(tls_error("no system CA certificates found; give a CA file"));
                }
            }
        }
        let key = match (&settings.client_cert, &settings.client_key) {
            (Some(cert), Some(key)) => {
                let chain = certs(cert)?;
                let key = private_key(key)?;
                let signer = provider()
                    .key_provider
                    .load_private_key(key)
                    .map_err(|e| tls_error(format!("client key: {e}")))?;
                Some(Arc::new(CertifiedKey::new(chain, signer)))
            }
            (None, None) => None,
            _ => {
                return Err(tls_error(
                    "a client certificate needs its key, and a key its certificate",
                ))
            }
        };
        let server_name = settings
            .server_name
            .as_deref()
            .map(|name| {
                ServerName::try_from(name.to_owned()).map_err(|e| tls_error(format!("server name {name:?}: {e}")))
            })
            .transpose()?;
        let asked = Arc::new(AskedForCert {
            key,
            asked: AtomicBool::new(false),
        });
        let config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(tls_error)?
            .with_root_certificates(roots)
            .with_client_cert_resolver(asked.clone());
        Ok(TlsConnect {
            connector: TlsConnector::from(Arc::new(config)),
            server_name,
            asked,
        })
    }
}

/// A TLS server configuration from PEM files, for the host simulator and test
/// hosts: the server's certificate chain and key, and, for mutual TLS, the CA
/// whose client certificates it requires.
pub fn server_config(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
) -> Result<Arc<rustls::ServerConfig>, ConnectError> {
    let chain = certs(cert)?;
    let key = private_key(key)?;
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(tls_error)?;
    let builder = match client_ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for cert in certs(ca)? {
                roots
                    .add(cert)
                    .map_err(|e| tls_error(format!("{}: {e}", ca.display())))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .map_err(tls_error)?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let config = builder.with_single_cert(chain, key).map_err(tls_error)?;
    Ok(Arc::new(config))
}

/// The host part of `host:port` (brackets of an IPv6 literal removed).
fn host_of(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map_or(addr, |(host, _)| host);
    host.trim_start_matches('[').trim_end_matches(']')
}

impl Connect for TlsConnect {
    fn connect<'a>(&'a self, addr: &'a str, config: &'a ConnectionConfig) -> Connecting<'a> {
        Box::pin(with_timeout(addr, config.connect_timeout, async move {
            let with_addr = |reason: String| ConnectError::Tls {
                addr: addr.into(),
                reason,
            };
            let name = match &self.server_name {
                Some(name) => name.clone(),
                None => ServerName::try_from(host_of(addr).to_owned())
                    .map_err(|e| with_addr(format!("server name {:?}: {e}", host_of(addr))))?,
            };
            let tcp = super::socket::open(addr, config).await?;
            let started = tokio::time::Instant::now();
            let mut tls = self
                .connector
                .connect(name, tcp)
                .await
                .map_err(|e| with_addr(format!("handshake failed: {e}")))?;
            // TLS 1.3: the host judges the client certificate after our side of the
            // handshake is done, and refuses it with an alert. When it asked for one,
            // wait about one more round trip for that alert, so a refused certificate
            // is a connect error (nothing sent) rather than a broken first request.
            let mut primed = Bytes::new();
            if self.asked.asked.load(Relaxed) {
                let wait = started
                    .elapsed()
                    .clamp(Duration::from_millis(20), Duration::from_millis(500));
                let mut first = vec![0u8; 4096];
                match tokio::time::timeout(wait, tls.read(&mut first)).await {
                    Err(_) => {}
                    Ok(Ok(0)) => return Err(with_addr("closed by the host after the handshake".into())),
                    Ok(Ok(n)) => {
                        first.truncate(n);
                        primed = Bytes::from(first);
                    }
                    Ok(Err(e)) => return Err(with_addr(format!("refused after the handshake: {e}"))),
                }
            }
            Ok(LinkStream::Other(Box::new(Primed {
                first: primed,
                inner: tls,
            })))
        }))
    }
}

/// A stream that first yields bytes read ahead of time.
struct Primed<S> {
    first: Bytes,
    inner: S,
}

impl<S: AsyncRead + Unpin> AsyncRead for Primed<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        if !self.first.is_empty() {
            let n = self.first.len().min(buf.remaining());
            buf.put_slice(self.first.get(..n).unwrap_or_default());
            self.first.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Primed<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
