//! Options shared by several commands.

use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Args;
use iso8583_client::sim::SimConfig;
use iso8583_client::spec::BUILTIN_SPECS;
use iso8583_client::transport::framing::Framing;
use iso8583_client::transport::{Connect, ConnectionConfig};
use iso8583_client::Spec;

use crate::framing_args::{FramingArgs, WireFraming};
use crate::tls_args::TlsArgs;

/// `--spec NAME|FILE`: a built-in spec name or a TOML spec file.
#[derive(Args, Debug, Clone)]
pub struct SpecArg {
    /// Message layout: a built-in spec (iso87-ascii, iso87-ascii-binary-bitmap, iso87-bcd) or a
    /// TOML spec file.
    #[arg(long, value_name = "NAME|FILE", default_value = "iso87-ascii")]
    pub spec: String,
}

impl SpecArg {
    /// Loads the spec; the error names the file, field and problem.
    pub fn load(&self) -> anyhow::Result<Arc<Spec>> {
        load_spec(&self.spec)
    }
}

/// Loads a built-in spec or a spec file (a regular file of at most 16 MiB); the error names the
/// file, field and problem.
pub fn load_spec(name: &str) -> anyhow::Result<Arc<Spec>> {
    if let Some(spec) = Spec::builtin(name) {
        return Ok(spec);
    }
    let path = std::path::Path::new(name);
    if !path.exists() {
        bail!(
            "unknown spec {name:?}: neither a built-in ({}) nor an existing spec file",
            BUILTIN_SPECS.join(", ")
        );
    }
    let text = crate::input::read_small_file(path, "spec file")?;
    let spec = Spec::from_toml(&text, name).with_context(|| format!("cannot load spec {name:?}"))?;
    Ok(Arc::new(spec))
}

/// `--spec`, `--framing`, `--header`, `--length-includes-header`: how every command that talks to
/// a host (`sim`, `send`, `bench`, `record`) lays out messages and frames them. The one place these
/// options become a spec, a framing, a connection configuration and a simulator configuration.
#[derive(Args, Debug, Clone)]
pub struct WireArgs {
    #[command(flatten)]
    pub spec: SpecArg,
    #[command(flatten)]
    pub framing: FramingArgs,
    #[command(flatten)]
    pub tls: TlsArgs,
}

impl WireArgs {
    /// These options for a spec name (and the default framing).
    pub fn with_spec(spec: &str) -> WireArgs {
        WireArgs {
            spec: SpecArg { spec: spec.to_owned() },
            framing: FramingArgs::default(),
            tls: TlsArgs::default(),
        }
    }

    /// Loads the spec and checks the framing options.
    pub fn load(&self) -> anyhow::Result<Wire> {
        Ok(Wire {
            spec_name: self.spec.spec.clone(),
            spec: self.spec.load()?,
            framing: self.framing.resolve()?,
            connector: self.tls.connector()?,
            server_tls: self.tls.server()?,
        })
    }
}

/// A loaded spec and a decided framing: what both ends of a link must agree on.
#[derive(Debug, Clone)]
pub struct Wire {
    /// The spec as named on the command line (or in a recording).
    pub spec_name: String,
    /// The loaded spec.
    pub spec: Arc<Spec>,
    /// The framing.
    pub framing: WireFraming,
    /// How client commands open links (`None`: plain TCP).
    pub connector: Option<Arc<dyn Connect>>,
    /// TLS the simulator serves (`None`: plain TCP).
    pub server_tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
}

impl Wire {
    /// A transport framing codec.
    pub fn framing(&self) -> Framing {
        self.framing.build()
    }

    /// A connection configuration with this framing (the library's defaults otherwise).
    pub fn connection_config(&self) -> ConnectionConfig {
        let mut config = ConnectionConfig {
            framing: self.framing(),
            ..ConnectionConfig::default()
        };
        if let Some(connector) = &self.connector {
            config.connector = connector.clone();
        }
        config
    }

    /// A simulator configuration with this framing (no faults).
    pub fn sim_config(&self) -> SimConfig {
        SimConfig {
            framing: self.framing(),
            tls: self.server_tls.clone(),
            ..SimConfig::default()
        }
    }

    /// `spec NAME, framing F` for banners.
    pub fn describe(&self) -> String {
        format!("spec {}, framing {}", self.spec_name, self.framing.describe())
    }
}
