//! `iso8583 send --host ADDR [FILE|-]`: JSON lines in, one JSON line out per input line, in input
//! order: the decoded response, or `{"error": KIND, "outcome": "not_sent"|"unknown", "message": ..., "mti": ..., "stan": ...}`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use futures_util::stream::{self, StreamExt};
use iso8583_client::{Message, Spec};
use serde_json::json;

use crate::args::WireArgs;
use crate::json::{message_from_json, JsonMessage};
use crate::link::{self, LinkOptions};
use crate::{input, numbers, runtime, Outcome};
use iso8583_client::Client;

/// `iso8583 send` options.
#[derive(Args, Debug)]
pub struct SendArgs {
    /// The host: HOST:PORT. Give it several times for a failover list: the primary first, then
    /// the hosts used while it is down.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8583")]
    host: Vec<String>,
    /// JSON lines to send (`{"mti": "0200", "fields": {...}}`); `-` or nothing for standard input.
    #[arg(value_name = "FILE|-")]
    file: Option<PathBuf>,
    #[command(flatten)]
    wire: WireArgs,
    /// Requests in flight at once on the link.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = numbers::in_flight, allow_negative_numbers = true)]
    concurrency: usize,
    /// Time allowed for each attempt, in milliseconds (the whole send may take an attempt's time
    /// per retry, plus pauses).
    #[arg(long, value_name = "MS", default_value_t = 5000, value_parser = numbers::timeout_ms, allow_negative_numbers = true)]
    timeout_ms: u64,
    /// Further attempts where retrying is safe (never for a sent 0100/0200 unless --idempotent).
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = numbers::retries, allow_negative_numbers = true)]
    retries: u32,
    /// Retry every message after an unknown outcome, not only reversals, advices and 08xx.
    #[arg(long)]
    idempotent: bool,
    /// Sign on (0800, DE 70 = 001) when the link opens.
    #[arg(long)]
    sign_on: bool,
    /// Show card data in clear in the responses.
    #[arg(long)]
    reveal: bool,
    #[command(flatten)]
    config: crate::config_args::ConfigArgs,
}

/// Runs `send`.
pub fn run(args: SendArgs) -> anyhow::Result<Outcome> {
    // Every failure is reported on its own output line, and summed up on standard error.
    runtime::init_logging_at("error");
    let config = args.config.load()?;
    let wire = crate::config_args::wire(&args.wire, config.as_ref())?;
    let spec = wire.spec.clone();
    let reader = input::open(args.file.as_deref())?;
    let hosts = crate::config_args::hosts(&args.host, config.as_ref());
    let opts = LinkOptions {
        addrs: hosts
            .iter()
            .map(|h| runtime::host_addr(h))
            .collect::<anyhow::Result<_>>()?,
        base: crate::config_args::connection_config(&wire, config.as_ref())?,
        sign_on: args.sign_on,
        links: 1,
        attempt_timeout: Duration::from_millis(args.timeout_ms),
        retries: args.retries,
    };
    let concurrency = args.concurrency.max(1);
    let (reveal, idempotent) = (args.reveal, args.idempotent);
    runtime::block_on(async move {
        let client = link::client(&wire, &opts)?;
        // Lines are read on their own thread so a slow standard input never blocks the runtime.
        let (tx, rx) = tokio::sync::mpsc::channel(concurrency * 2);
        std::thread::spawn(move || {
            for line in input::lines(reader) {
                if tx.blocking_send(line).is_err() {
                    break;
                }
            }
        });
        let lines = stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|l| (l, rx)) });
        let results = lines
            .filter_map(|item| async move {
                match item {
                    Ok((_, Ok(text))) if text.trim().is_empty() => None,
                    other => Some(other),
                }
            })
            .map(|item| {
                let (client, spec) = (client.clone(), spec.clone());
                async move {
                    match item {
                        Ok((_, Ok(text))) => send_line(&client, &spec, &text, idempotent, reveal).await,
                        Ok((_, Err(e))) => (false, input_error(&e)),
                        Err(e) => (false, input_error(&format!("{e:#}"))),
                    }
                }
            })
            .buffered(concurrency);
        futures_util::pin_mut!(results);
        let (mut total, mut failed) = (0usize, 0usize);
        let mut first_failure: Option<String> = None;
        let mut out = std::io::stdout().lock();
        while let Some((ok, line)) = results.next().await {
            total += 1;
            if !ok {
                failed += 1;
                first_failure.get_or_insert_with(|| failure_text(&line));
            }
            writeln!(out, "{line}")?;
            out.flush()?;
        }
        drop(out);
        client.close().await;
        Ok(match first_failure {
            None => Outcome::Success,
            Some(first) => {
                eprintln!("iso8583: {failed} of {total} messages failed (the first: {first})");
                Outcome::SomeFailed
            }
        })
    })?
}

/// `KIND (OUTCOME): MESSAGE` of an error output line.
fn failure_text(line: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
    let field = |k: &str| v[k].as_str().unwrap_or("?").to_owned();
    format!("{}, {}: {}", field("error"), field("outcome"), field("message"))
}

fn input_error(message: &str) -> String {
    json!({"error": "invalid_input", "outcome": "not_sent", "message": message}).to_string()
}

/// Sends one input line; returns whether it got an answer, and the output line.
async fn send_line(client: &Client, spec: &Arc<Spec>, text: &str, idempotent: bool, reveal: bool) -> (bool, String) {
    let request = match serde_json::from_str(text)
        .map_err(|e| anyhow::anyhow!("invalid JSON: {e}"))
        .and_then(|v| message_from_json(spec, &v))
    {
        Ok(m) => m,
        Err(e) => return (false, input_error(&format!("{e:#}"))),
    };
    let request = fill_defaults(request);
    // Known before sending, so an error line can name the request to reverse or look up.
    let (mti, stan) = (request.mti().to_string(), request.stan().unwrap_or("").to_owned());
    if let Err(e) = spec.encode(&request) {
        return (
            false,
            json!({"error": "encode", "outcome": "not_sent", "message": e.to_string()}).to_string(),
        );
    }
    match client.send_with(request, link::send_options(idempotent)).await {
        Ok(resp) => (true, JsonMessage::new(spec, &resp, reveal).to_line()),
        Err(e) => (
            false,
            json!({
                "error": link::error_kind(&e),
                "outcome": link::outcome_name(&e),
                "message": e.to_string(),
                "mti": mti,
                "stan": stan,
            })
            .to_string(),
        ),
    }
}

/// Fills DE 7 (now, UTC) and DE 11 (the next STAN of this run, 000001 upwards, wrapping after
/// 999999) when absent.
pub fn fill_defaults(mut msg: Message) -> Message {
    static NEXT_STAN: AtomicU32 = AtomicU32::new(0);
    if !msg.contains(7) {
        msg.set_transmission_time(chrono::Utc::now());
    }
    if !msg.contains(11) {
        let n = NEXT_STAN.fetch_add(1, Ordering::Relaxed) % 999_999 + 1;
        msg.set_stan(n);
    }
    msg
}
