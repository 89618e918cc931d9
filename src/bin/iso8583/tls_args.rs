//! `--tls`, `--tls-ca`, `--tls-cert`, `--tls-key`, `--tls-server-name`, `--tls-client-ca`: TLS
//! for the commands that talk to a host. For `send`, `bench`, `record` and `replay` they open
//! the link over TLS (the certificate and key are the client's, for mutual TLS); for `sim` the
//! certificate and key are the host's, and `--tls-client-ca` makes it require client certificates.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Args;
use iso8583_client::transport::{tls_server_config, Connect, TlsConnect, TlsSettings};

/// TLS options.
#[derive(Args, Debug, Clone, Default)]
pub struct TlsArgs {
    /// Open links over TLS (implied by any other --tls-* option of a client command).
    #[arg(long)]
    pub tls: bool,
    /// CA certificates (PEM) to trust instead of the system's.
    #[arg(long, value_name = "PEM")]
    pub tls_ca: Option<PathBuf>,
    /// Certificate chain (PEM): the client's for mutual TLS; for `sim`, the host's.
    #[arg(long, value_name = "PEM")]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) of --tls-cert.
    #[arg(long, value_name = "PEM")]
    pub tls_key: Option<PathBuf>,
    /// Name to check the host's certificate against (default: the host part of the address).
    #[arg(long, value_name = "NAME")]
    pub tls_server_name: Option<String>,
    /// `sim` only: require client certificates signed by this CA (PEM).
    #[arg(long, value_name = "PEM")]
    pub tls_client_ca: Option<PathBuf>,
}

impl TlsArgs {
    fn client_wanted(&self) -> bool {
        self.tls || self.tls_ca.is_some() || self.tls_cert.is_some() || self.tls_server_name.is_some()
    }

    /// The TLS connector a client command opens links with; `None` for plain TCP.
    pub fn connector(&self) -> anyhow::Result<Option<Arc<dyn Connect>>> {
        if !self.client_wanted() {
            return Ok(None);
        }
        let settings = TlsSettings {
            ca: self.tls_ca.clone(),
            client_cert: self.tls_cert.clone(),
            client_key: self.tls_key.clone(),
            server_name: self.tls_server_name.clone(),
        };
        let connector = TlsConnect::new(&settings).context("TLS options")?;
        Ok(Some(Arc::new(connector)))
    }

    /// The simulator's TLS configuration; `None` for plain TCP.
    pub fn server(&self) -> anyhow::Result<Option<Arc<tokio_rustls::rustls::ServerConfig>>> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => {
                let config = tls_server_config(cert, key, self.tls_client_ca.as_deref()).context("TLS options")?;
                Ok(Some(config))
            }
            (None, None) if self.tls || self.tls_client_ca.is_some() => {
                bail!("the simulator serves TLS with --tls-cert PEM --tls-key PEM")
            }
            (None, None) => Ok(None),
            _ => bail!("--tls-cert and --tls-key go together"),
        }
    }
}
