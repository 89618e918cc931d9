//! The library [`Client`] as the commands that send use it: endpoints in priority order (failover
//! to the next while one is down), a small pool, and the
//! retry rules of the library (a request none of whose bytes were written may always be tried
//! again; a written one with an unknown outcome only when idempotent — 08xx, reversals and advices
//! by convention, anything with `--idempotent`; reversals and advices go out again as repeats).

use std::time::Duration;

use iso8583_client::transport::{network_request, Cause, ConnectionConfig};
use iso8583_client::SendError;
use iso8583_client::{Client, RetryPolicy, SendOptions};

use crate::args::Wire;

/// How the commands connect and send.
#[derive(Debug, Clone)]
pub struct LinkOptions {
    /// HOST:PORT of each endpoint, primary first.
    pub addrs: Vec<String>,
    /// Link settings (from `--config`, or the library's defaults) before the options below.
    pub base: ConnectionConfig,
    /// Send 0800 DE 70 = 001 when a link opens.
    pub sign_on: bool,
    /// Links in the pool.
    pub links: usize,
    /// Time allowed for each attempt.
    pub attempt_timeout: Duration,
    /// Further attempts where retrying is safe.
    pub retries: u32,
}

/// A client for `opts`, speaking `wire`.
pub fn client(wire: &Wire, opts: &LinkOptions) -> anyhow::Result<Client> {
    let base = ConnectionConfig {
        framing: wire.framing(),
        ..opts.base.clone()
    };
    let config = ConnectionConfig {
        sign_on: opts.sign_on.then(|| network_request("001")).or(base.sign_on.clone()),
        ..base
    };
    let retry = RetryPolicy {
        attempts: opts.retries.saturating_add(1),
        attempt_timeout: Some(opts.attempt_timeout),
        ..RetryPolicy::default()
    };
    let mut builder = Client::builder(wire.spec.clone());
    for addr in &opts.addrs {
        builder = builder.endpoint(addr.clone());
    }
    Ok(builder
        .connection(config)
        .pool_size(opts.links.max(1))
        .timeout(whole_deadline(opts))
        .retry(retry)
        .build()?)
}

/// The deadline of a whole send: every attempt, and the pauses between them.
fn whole_deadline(opts: &LinkOptions) -> Duration {
    opts.attempt_timeout
        .saturating_mul(opts.retries.saturating_add(1))
        .saturating_add(Duration::from_secs(1))
}

/// Options of one send: idempotent when forced, by MTI otherwise.
pub fn send_options(idempotent: bool) -> SendOptions {
    SendOptions {
        idempotent: idempotent.then_some(true),
        ..SendOptions::default()
    }
}

/// The short name of an error's cause, for JSON output (`timeout`, `link_down`, …).
pub fn error_kind(e: &SendError) -> &'static str {
    match e.cause() {
        Cause::Timeout => "timeout",
        Cause::LinkDown(_) => "link_down",
        Cause::Closing => "closing",
        Cause::StanInUse { .. } => "stan_in_use",
        Cause::StanUnresolved { .. } => "stan_unresolved",
        Cause::NoStanFree => "no_stan_free",
        Cause::TooManyInFlight { .. } => "too_many_in_flight",
        Cause::Cancelled => "cancelled",
        Cause::BadStan(_) => "bad_stan",
        Cause::NotARequest(_) => "not_a_request",
        Cause::Encode(_) => "encode",
        Cause::Frame(_) => "frame",
        Cause::Decode(_) => "decode",
        Cause::NoConnection(_) => "no_connection",
        #[allow(unreachable_patterns)]
        _ => "other",
    }
}

/// `not_sent` or `unknown`.
pub fn outcome_name(e: &SendError) -> &'static str {
    if e.is_not_sent() {
        "not_sent"
    } else {
        "unknown"
    }
}
