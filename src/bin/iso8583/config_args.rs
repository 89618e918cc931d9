//! `--config FILE` for `send`, `bench` and `sim`: the library's configuration file
//! (`iso8583_client::config::Config`, as a service reads it: an `[iso8583]` table, or the table's
//! keys alone). The file gives the spec, the framing, the host (its first endpoint) and the link
//! settings (match fields, sign-on / sign-off, echo, in-flight limit, late window, TLS, timeouts
//! of the link); an option given on the command line overrides the file. The commands' own
//! options (`--timeout-ms`, `--retries`, …) keep their meaning.

use std::path::PathBuf;

use anyhow::{anyhow, Context};
use clap::{Args, ValueEnum};
use iso8583_client::config::Config;
use iso8583_client::transport::ConnectionConfig;
use serde::Deserialize as _;

use crate::args::{Wire, WireArgs};
use crate::framing_args::{PrefixKind, WireFraming};
use crate::hex;

/// `--config FILE`.
#[derive(Args, Debug, Clone, Default)]
pub struct ConfigArgs {
    /// The client's configuration file (TOML: an "iso8583" table, as in a service's own file, or
    /// its keys alone); options on the command line override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl ConfigArgs {
    /// The configuration in the file, if one was given.
    pub fn load(&self) -> anyhow::Result<Option<Config>> {
        let Some(path) = &self.config else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let mut table: toml::Table = toml::from_str(&text).with_context(|| format!("{}", path.display()))?;
        let section = match table.remove("iso8583") {
            Some(toml::Value::Table(t)) => t,
            Some(_) => return Err(anyhow!("{}: [iso8583] is not a table", path.display())),
            None => table,
        };
        let config = Config::deserialize(section).with_context(|| format!("{}", path.display()))?;
        Ok(Some(config))
    }
}

/// True if `--NAME` was given on the command line (clap's defaults make the parsed value alone
/// unable to tell).
pub fn given(name: &str) -> bool {
    let flag = format!("--{name}");
    std::env::args().any(|a| a == flag || a.starts_with(&format!("{flag}=")))
}

/// The wire options, with the file's spec and framing where the command line names none.
pub fn wire(args: &WireArgs, config: Option<&Config>) -> anyhow::Result<Wire> {
    let Some(config) = config else {
        return args.load();
    };
    let mut args = args.clone();
    if !given("spec") {
        if let Some(spec) = &config.spec {
            args.spec.spec = spec.clone();
        }
    }
    let f = &config.framing;
    let base = WireFraming {
        prefix: match &f.prefix {
            Some(p) => PrefixKind::from_str(p, false)
                .map_err(|_| anyhow!("config framing.prefix {p:?}: 2b, 4b, 4a or 2bcd"))?,
            None => PrefixKind::default(),
        },
        header: match &f.header {
            Some(h) => hex::decode(h).map_err(|e| anyhow!("config framing.header: {e}"))?,
            None => Vec::new(),
        },
        length_includes_header: f.length_includes_header,
    };
    let mut wire = args.load()?;
    wire.framing = args.framing.resolve_over(base)?;
    Ok(wire)
}

/// The link settings of the file (the library's defaults without one), framed as `wire` says.
pub fn connection_config(wire: &Wire, config: Option<&Config>) -> anyhow::Result<ConnectionConfig> {
    let base = match config {
        Some(c) => c.connection_config()?,
        None => ConnectionConfig::default(),
    };
    let mut config = ConnectionConfig {
        framing: wire.framing(),
        ..base
    };
    // --tls* on the command line override the file's TLS settings.
    if let Some(connector) = &wire.connector {
        config.connector = connector.clone();
    }
    Ok(config)
}

/// The hosts, primary first: `--host` if given on the command line (or no file names any), else
/// the file's endpoints.
pub fn hosts(flags: &[String], config: Option<&Config>) -> Vec<String> {
    match config.map(|c| c.endpoints.as_slice()) {
        Some(endpoints) if !endpoints.is_empty() && !given("host") => endpoints.to_vec(),
        _ => flags.to_vec(),
    }
}
