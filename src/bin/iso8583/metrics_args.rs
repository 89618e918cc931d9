//! `--metrics ADDR` (and `--allow-remote`): serve the library's metrics (feature `metrics`) as
//! Prometheus text over HTTP while a command runs, through `metrics-exporter-prometheus`.

use anyhow::{bail, Context};
use clap::Args;
use metrics_exporter_prometheus::PrometheusBuilder;

use crate::runtime;

/// Options of the commands that can serve metrics (`bench`, `sim`).
#[derive(Args, Debug, Clone, Default)]
pub struct MetricsArgs {
    /// Serve metrics as Prometheus text over HTTP on ADDR (e.g. 127.0.0.1:9000) while running.
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<String>,
    /// Let --metrics listen on an address other hosts can reach (default: loopback only).
    #[arg(long, requires = "metrics")]
    pub allow_remote: bool,
}

impl MetricsArgs {
    /// Starts the HTTP listener if asked; call inside the tokio runtime.
    pub fn serve(&self) -> anyhow::Result<()> {
        let Some(text) = &self.metrics else {
            return Ok(());
        };
        let addr = runtime::parse_addr(text).context("--metrics")?;
        if !addr.ip().is_loopback() && !self.allow_remote {
            bail!("--metrics {addr} is not a loopback address; add --allow-remote to serve metrics to other hosts");
        }
        PrometheusBuilder::new()
            .with_http_listener(addr)
            .install()
            .with_context(|| format!("cannot serve metrics on {addr}"))?;
        eprintln!("metrics on http://{addr}/metrics");
        Ok(())
    }
}
