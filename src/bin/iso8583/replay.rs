//! `iso8583 replay FILE [--host ADDR]`: send a recording's requests again and compare each answer
//! with the recorded one, field by field, ignoring the fields that change per run.
//!
//! Requests go out in the recorded order and as pipelined as they were: a request that was sent
//! after some answer arrived waits for that answer. Without `--host`, the host is played by the
//! recording itself: its recorded answers, paired by key, and its recorded close.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context};
use bytes::BytesMut;
use clap::Args;
use iso8583_client::recording::{answers, Direction, Entry, Exchange, Outcome as Recorded, Recording, Side};
use iso8583_client::transport::{Connection, ConnectionConfig, PendingResponse, SendError};
use iso8583_client::{Message, Spec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_util::codec::Decoder;

use crate::json::field_text;
use crate::{runtime, Outcome};

/// `iso8583 replay` options.
#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// The recording.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The host to replay against (default: a host played by the recording itself).
    #[arg(long, value_name = "ADDR")]
    host: Option<String>,
    /// Fields not compared, comma-separated.
    #[arg(long, value_name = "LIST", value_delimiter = ',', default_value = "7,11,12,13,37,38")]
    ignore: Vec<u8>,
    /// Spec of the recording (default: the recording's header).
    #[arg(long, value_name = "NAME|FILE")]
    spec: Option<String>,
    /// How long to wait for each answer, in milliseconds (also how long an unanswered request waits).
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    timeout_ms: u64,
    /// Show card data in clear in the differences.
    #[arg(long)]
    reveal: bool,
}

/// Runs `replay`.
pub fn run(args: ReplayArgs) -> anyhow::Result<Outcome> {
    runtime::init_logging_at("error");
    let text = std::fs::read_to_string(&args.file).with_context(|| format!("cannot read {}", args.file.display()))?;
    let rec = Recording::parse(&text).with_context(|| format!("{}", args.file.display()))?;
    let spec_name = args.spec.clone().unwrap_or_else(|| rec.spec.clone());
    let spec = crate::args::SpecArg { spec: spec_name }.load()?;
    let exchanges = rec
        .exchanges(&spec)
        .map_err(|e| anyhow!("{}: {e}", args.file.display()))?;
    let ignore: BTreeSet<u8> = args.ignore.iter().copied().collect();
    let rec = Arc::new(rec);
    let lines = runtime::block_on(replay_all(
        rec.clone(),
        spec.clone(),
        exchanges,
        args.host.clone(),
        Duration::from_millis(args.timeout_ms),
    ))??;
    let mut differing = 0;
    let total = lines.len();
    for (x, live) in &lines {
        let diffs = compare(&spec, x, live, &ignore, args.reveal);
        let what = format!("{} stan {}", x.request.mti(), x.request.stan().unwrap_or("-"));
        if diffs.is_empty() {
            println!("same  {what}: {}", describe(x.outcome));
        } else {
            differing += 1;
            println!("DIFF  {what}:");
            for d in diffs {
                println!("        {d}");
            }
        }
    }
    println!(
        "replayed {total} exchanges: {} same, {differing} different",
        total - differing
    );
    Ok(if differing == 0 {
        Outcome::Success
    } else {
        Outcome::SomeFailed
    })
}

fn describe(o: Recorded) -> &'static str {
    match o {
        Recorded::Answered => "answered as recorded",
        Recorded::Unanswered => "unanswered, as recorded",
        Recorded::Closed => "connection closed before the answer, as recorded",
    }
}

type Live = Result<Message, SendError>;

/// Replays each connection of the recording in turn.
async fn replay_all(
    rec: Arc<Recording>,
    spec: Arc<Spec>,
    exchanges: Vec<Exchange>,
    host: Option<String>,
    wait: Duration,
) -> anyhow::Result<Vec<(Exchange, Live)>> {
    let mut connections: Vec<u32> = exchanges.iter().map(|x| x.connection).collect();
    connections.dedup();
    let mut out = Vec::new();
    for c in connections {
        let mine: Vec<Exchange> = exchanges.iter().filter(|x| x.connection == c).cloned().collect();
        let (addr, played) = match &host {
            Some(h) => (h.clone(), None),
            None => {
                let listener = TcpListener::bind("127.0.0.1:0").await?;
                let addr = listener.local_addr()?.to_string();
                let task = tokio::spawn(play_host(listener, rec.clone(), spec.clone(), c));
                (addr, Some(task))
            }
        };
        let config = Arc::new(ConnectionConfig {
            framing: rec.framing(),
            max_consecutive_timeouts: 0,
            ..ConnectionConfig::default()
        });
        let link = Connection::connect(&addr, spec.clone(), config)
            .await
            .with_context(|| format!("cannot connect to {addr}"))?;
        out.extend(replay_connection(&rec, &link, mine, wait).await);
        link.close().await;
        if let Some(t) = played {
            t.abort();
        }
    }
    Ok(out)
}

/// Sends one connection's requests in recorded order, waiting for an answer before sending what
/// the recording shows was sent after it.
async fn replay_connection(
    rec: &Recording,
    link: &Connection,
    exchanges: Vec<Exchange>,
    wait: Duration,
) -> Vec<(Exchange, Live)> {
    let mut pending: Vec<Option<PendingResponse>> = Vec::new();
    let mut results: Vec<Option<Live>> = vec![None; exchanges.len()];
    for (i, entry) in rec.entries.iter().enumerate() {
        if let Some(j) = exchanges.iter().position(|x| x.request_entry == i) {
            let mut msg = exchanges[j].request.clone();
            let deadline = tokio::time::Instant::now() + wait;
            match link.dispatch(&mut msg, deadline).await {
                Ok(p) => pending.push(Some(p)),
                Err(e) => {
                    results[j] = Some(Err(e));
                    pending.push(None);
                }
            }
        } else if matches!(
            entry,
            Entry::Frame {
                direction: Direction::FromHost,
                ..
            }
        ) {
            if let Some(j) = exchanges.iter().position(|x| x.response_entry == Some(i)) {
                if let Some(p) = pending.get_mut(j).and_then(Option::take) {
                    results[j] = Some(p.response().await);
                }
            }
        }
    }
    for (j, p) in pending.into_iter().enumerate() {
        if let Some(p) = p {
            results[j] = Some(p.response().await);
        }
    }
    exchanges
        .into_iter()
        .zip(results)
        .map(|(x, r)| {
            (
                x,
                r.unwrap_or_else(|| Err(SendError::NotSent(iso8583_client::transport::Cause::Closing))),
            )
        })
        .collect()
}

/// Plays the host of connection `c`: reads each recorded request when its turn comes, writes the
/// recorded answers in recorded order, closes where the recording closes.
async fn play_host(listener: TcpListener, rec: Arc<Recording>, spec: Arc<Spec>, c: u32) {
    let Ok((mut socket, _)) = listener.accept().await else {
        return;
    };
    let mut framing = rec.framing();
    let mut buf = BytesMut::new();
    for entry in &rec.entries {
        match entry {
            Entry::Frame {
                direction: Direction::ToHost,
                connection,
                ..
            } if *connection == c => loop {
                match framing.decode(&mut buf) {
                    Ok(Some(_)) => break,
                    Ok(None) => {}
                    Err(_) => return,
                }
                match socket.read_buf(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            },
            Entry::Frame {
                direction: Direction::FromHost,
                connection,
                frame,
            } if *connection == c && socket.write_all(frame).await.is_err() => return,
            Entry::Closed {
                connection,
                by: Side::Host,
            } if *connection == c => return,
            _ => {}
        }
    }
    let _ = spec; // pairing is by order here; the client pairs by key
    let mut rest = Vec::new();
    let _ = socket.read_to_end(&mut rest).await;
}

/// The differences between a recorded exchange and its replay, one line each.
fn compare(spec: &Spec, x: &Exchange, live: &Live, ignore: &BTreeSet<u8>, reveal: bool) -> Vec<String> {
    let show =
        |n: u8, v: Option<&[u8]>| v.map_or("absent".to_owned(), |v| format!("{:?}", field_text(spec, n, v, reveal)));
    match (x.outcome, &x.response, live) {
        (Recorded::Answered, Some(recorded), Ok(got)) => {
            let mut d = Vec::new();
            if recorded.mti() != got.mti() {
                d.push(format!("MTI: recorded {}, got {}", recorded.mti(), got.mti()));
            }
            if !answers(&x.request, got) {
                d.push("the answer does not pair with the request".into());
            }
            let numbers: BTreeSet<u8> = recorded.fields().chain(got.fields()).map(|(n, _)| n).collect();
            for n in numbers.difference(ignore) {
                let (a, b) = (recorded.get(*n), got.get(*n));
                if a != b {
                    d.push(format!("DE {n}: recorded {}, got {}", show(*n, a), show(*n, b)));
                }
            }
            d
        }
        (Recorded::Answered, _, Err(e)) => vec![format!("recorded an answer, got no answer: {e}")],
        (Recorded::Unanswered, _, Err(e)) if e.is_timeout() => vec![],
        (Recorded::Closed, _, Err(e)) if e.is_link_down() => vec![],
        (o, _, Err(e)) => vec![format!("recorded: {}; got: {e}", describe(o))],
        (o, _, Ok(got)) => vec![format!("recorded: {}; got an answer {}", describe(o), got.mti())],
    }
}
