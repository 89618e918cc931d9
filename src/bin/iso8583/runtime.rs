//! The tokio runtime and logging set-up of the commands that do network work.

use std::future::Future;

use anyhow::Context;

/// Runs `future` on a multi-threaded tokio runtime (two workers: the tool shares the machine).
pub fn block_on<F: Future>(future: F) -> anyhow::Result<F::Output> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    Ok(rt.block_on(future))
}

/// Sends `tracing` events to standard error, filtered by `RUST_LOG` (default: warnings). The
/// library masks card data in its events.
pub fn init_logging() {
    init_logging_at("warn");
}

/// Like [`init_logging`] with another default level (`error` where timeouts are expected).
pub fn init_logging_at(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}

/// Parses `127.0.0.1:8583`, `localhost:8583`, `:8583` or `8583` (loopback by default).
pub fn parse_addr(text: &str) -> anyhow::Result<std::net::SocketAddr> {
    use std::net::{SocketAddr, ToSocketAddrs};
    let t = text.trim();
    if let Ok(port) = t.trim_start_matches(':').parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    t.to_socket_addrs()
        .with_context(|| format!("invalid address {t:?} (expected HOST:PORT, e.g. 127.0.0.1:8583)"))?
        .next()
        .with_context(|| format!("address {t:?} resolves to nothing"))
}

/// `--host` as `IP:PORT` (`8583` and `:8583` mean 127.0.0.1:8583); the error names the option.
pub fn host_addr(text: &str) -> anyhow::Result<String> {
    Ok(parse_addr(text).context("--host")?.to_string())
}
