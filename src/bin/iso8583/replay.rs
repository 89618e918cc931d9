//! `iso8583 replay FILE [--host ADDR]`: send a recording's requests again and compare each answer
//! with the recorded one, field by field, ignoring the fields that change per run.
//!
//! Within a connection, requests go out in the recorded order and as pipelined as they were: a
//! request that was sent after some answer arrived waits for that answer. Connections that overlap
//! in the recording are replayed at the same time; a connection the recording opens only after
//! another one ended waits for that one to end. Without `--host`, the host is played by the
//! recording itself: its recorded answers, in recorded order, and its recorded closes.
//!
//! With `--fresh-stan`, every request gets a new STAN (one sequence per run; a repeat such as 0401
//! keeps its original's new STAN) and DE 7 = now. Answers are still paired with their requests and
//! compared with the recorded ones: the expected answer is the recorded one with the recorded
//! request's STAN and DE 7 replaced by those actually sent, wherever the host had echoed them.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use bytes::BytesMut;
use clap::Args;
use iso8583_client::recording::{answers, Direction, Entry, Exchange, Outcome as Recorded, Recording, Side};
use iso8583_client::transport::{Cause, Connection, PendingResponse, StanSequence};
use iso8583_client::SendError;
use iso8583_client::{Message, Spec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::codec::Decoder;

use crate::args::{load_spec, Wire};
use crate::framing_args::{FramingArgs, WireFraming};
use crate::json::field_text;
use crate::tls_args::TlsArgs;
use crate::{input, numbers, runtime, Outcome};

/// `iso8583 replay` options.
#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// The recording.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The host to replay against (default: a host played by the recording itself). Give it
    /// several times for a failover list: each connection goes to the first that accepts it.
    #[arg(long, value_name = "ADDR")]
    host: Vec<String>,
    /// Fields not compared, comma-separated.
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "7,11,12,13,37,38",
        allow_negative_numbers = true
    )]
    ignore: Vec<u8>,
    /// Spec of the recording (default: the recording's header).
    #[arg(long, value_name = "NAME|FILE")]
    spec: Option<String>,
    /// Framing towards --host; each option left out keeps the recording's header.
    #[command(flatten)]
    framing: FramingArgs,
    /// TLS towards --host.
    #[command(flatten)]
    tls: TlsArgs,
    /// Give every request a new STAN (DE 11) and DE 7 = now, instead of the recorded ones; answers
    /// are still paired and compared with the recorded ones.
    #[arg(long)]
    fresh_stan: bool,
    /// How long to wait for each answer, in milliseconds (also how long an unanswered request waits).
    #[arg(long, value_name = "MS", default_value_t = 1000, value_parser = numbers::timeout_ms, allow_negative_numbers = true)]
    timeout_ms: u64,
    /// Show card data in clear in the differences.
    #[arg(long)]
    reveal: bool,
}

/// What a replay needs, shared by the tasks of its connections.
struct Plan {
    rec: Recording,
    /// The indexes of each connection's entries (frames and closes), in recorded order.
    entries_of: HashMap<u32, Vec<usize>>,
    wire: Wire,
    wait: Duration,
    /// New STANs when `--fresh-stan`.
    fresh: Option<StanSequence>,
}

/// One replayed exchange: the recording's, the request as sent, and what came back.
struct Replayed {
    exchange: Exchange,
    sent: Message,
    live: Live,
    /// The recording shows the client closing this connection (a request still pending then was
    /// given up by the client, not refused by the host).
    client_closed: bool,
}

type Live = Result<Message, SendError>;

/// Runs `replay`.
pub fn run(args: ReplayArgs) -> anyhow::Result<Outcome> {
    runtime::init_logging_at("error");
    let text = input::read_small_file(&args.file, "recording")?;
    let rec = Recording::parse(&text).with_context(|| format!("{}", args.file.display()))?;
    drop(text);
    let spec_name = args.spec.clone().unwrap_or_else(|| spec_beside(&rec.spec, &args.file));
    let recorded_framing = WireFraming::of_recording(&rec);
    let framing = args.framing.resolve_over(recorded_framing.clone())?;
    if args.host.is_empty() && framing != recorded_framing {
        bail!("--framing, --header and --length-includes-header need --host: the host played by the recording speaks the recording's framing");
    }
    let wire = Wire {
        spec: load_spec(&spec_name)?,
        spec_name,
        framing,
        connector: args.tls.connector()?,
        server_tls: None,
    };
    let exchanges = rec
        .exchanges(&wire.spec)
        .map_err(|e| anyhow!("{}: {e}", args.file.display()))?;
    let hosts: Vec<String> = args
        .host
        .iter()
        .map(|h| runtime::host_addr(h))
        .collect::<anyhow::Result<_>>()?;
    let host = (!hosts.is_empty()).then(|| Arc::new(hosts));
    let ignore: BTreeSet<u8> = args.ignore.iter().copied().collect();
    let spec = wire.spec.clone();
    let entries_of = entries_by_connection(&rec);
    let plan = Arc::new(Plan {
        rec,
        entries_of,
        wire,
        wait: Duration::from_millis(args.timeout_ms),
        fresh: args.fresh_stan.then(|| StanSequence::starting_at(first_fresh_stan())),
    });
    let replayed = runtime::block_on(replay_all(plan, exchanges, host))??;
    let mut differing = 0;
    let total = replayed.len();
    for r in &replayed {
        let diffs = compare(&spec, r, &ignore, args.reveal);
        let x = &r.exchange;
        let mut what = format!("{} stan {}", x.request.mti(), x.request.stan().unwrap_or("-"));
        if args.fresh_stan {
            what.push_str(&format!(" (sent as {})", r.sent.stan().unwrap_or("-")));
        }
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

/// The spec a recording's `spec:` line names: a built-in, or a file whose relative path starts at
/// the recording's folder (not at the working directory).
fn spec_beside(spec: &str, recording: &std::path::Path) -> String {
    let path = std::path::Path::new(spec);
    if Spec::builtin(spec).is_some() || path.is_absolute() {
        return spec.to_owned();
    }
    match recording.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(path).to_string_lossy().into_owned(),
        _ => spec.to_owned(),
    }
}

/// Where this run's STANs start: from the clock, so that runs a moment apart use other STANs.
fn first_fresh_stan() -> u32 {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    (micros % 999_999) as u32 + 1
}

fn describe(o: Recorded) -> &'static str {
    match o {
        Recorded::Answered => "answered as recorded",
        Recorded::Unanswered => "unanswered, as recorded",
        Recorded::Closed => "connection closed before the answer, as recorded",
    }
}

/// The indexes of each connection's frames and closes, in recorded order.
fn entries_by_connection(rec: &Recording) -> HashMap<u32, Vec<usize>> {
    let mut of: HashMap<u32, Vec<usize>> = HashMap::new();
    for (i, e) in rec.entries.iter().enumerate() {
        if let Entry::Frame { connection, .. } | Entry::Closed { connection, .. } = e {
            of.entry(*connection).or_default().push(i);
        }
    }
    of
}

impl Plan {
    /// The entries of connection `c`.
    fn entries(&self, c: u32) -> &[usize] {
        self.entries_of.get(&c).map_or(&[], Vec::as_slice)
    }

    /// The span of connection `c` in the recording: index of its first and last entry.
    fn span(&self, c: u32) -> (usize, usize) {
        let e = self.entries(c);
        (e.first().copied().unwrap_or(0), e.last().copied().unwrap_or(0))
    }
}

/// Which replays have ended, by rank of their connection's end in the recording: a connection
/// that began after the first K connections (in that order) had ended waits until those K ended,
/// that is until `prefix` reaches K. One counter for all, so memory stays linear in the recording.
struct Ended {
    done: Vec<bool>,
    prefix: usize,
}

/// Replays every connection of the recording: at the same time where they overlapped in the
/// recording, one after the other where one began after another ended. Results in recorded order.
async fn replay_all(
    plan: Arc<Plan>,
    exchanges: Vec<Exchange>,
    host: Option<Arc<Vec<String>>>,
) -> anyhow::Result<Vec<Replayed>> {
    let mut by_connection: HashMap<u32, Vec<Exchange>> = HashMap::new();
    for x in exchanges {
        by_connection.entry(x.connection).or_default().push(x);
    }
    let mut by_end: Vec<u32> = by_connection.keys().copied().collect();
    by_end.sort_by_key(|c| plan.span(*c).1);
    let ends: Vec<usize> = by_end.iter().map(|c| plan.span(*c).1).collect();
    let rank: HashMap<u32, usize> = by_end.iter().enumerate().map(|(r, c)| (*c, r)).collect();
    let ended = Arc::new(std::sync::Mutex::new(Ended {
        done: vec![false; by_end.len()],
        prefix: 0,
    }));
    let (prefix_tx, prefix_rx) = watch::channel(0usize);
    let prefix_tx = Arc::new(prefix_tx);
    let mut tasks = tokio::task::JoinSet::new();
    for (c, mine) in by_connection {
        // The connections that ended before this one began, in the recording.
        let before = ends.partition_point(|e| *e < plan.span(c).0);
        let my_rank = rank.get(&c).copied().unwrap_or(0);
        let (plan, host, ended, prefix_tx) = (plan.clone(), host.clone(), ended.clone(), prefix_tx.clone());
        let mut prefix_rx = prefix_rx.clone();
        tasks.spawn(async move {
            // An error means every sender is gone: nothing more to wait for.
            let _ = prefix_rx.wait_for(|p| *p >= before).await;
            let result = replay_one(&plan, c, mine, host).await;
            if let Ok(mut e) = ended.lock() {
                if let Some(d) = e.done.get_mut(my_rank) {
                    *d = true;
                }
                while e.done.get(e.prefix).copied().unwrap_or(false) {
                    e.prefix += 1;
                }
                prefix_tx.send_replace(e.prefix);
            }
            result
        });
    }
    drop(prefix_rx);
    let mut out = Vec::new();
    while let Some(result) = tasks.join_next().await {
        out.extend(result.context("a replay task failed")??);
    }
    out.sort_by_key(|r| r.exchange.request_entry);
    Ok(out)
}

/// Replays connection `c` against the first of `hosts` that accepts it, or against a host played
/// by the recording.
async fn replay_one(
    plan: &Arc<Plan>,
    c: u32,
    mine: Vec<Exchange>,
    hosts: Option<Arc<Vec<String>>>,
) -> anyhow::Result<Vec<Replayed>> {
    let (addrs, played) = match hosts {
        Some(h) => (h.to_vec(), None),
        None => {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?.to_string();
            let task = tokio::spawn(play_host(listener, plan.clone(), c));
            (vec![addr], Some(task))
        }
    };
    let config = Arc::new(iso8583_client::transport::ConnectionConfig {
        max_consecutive_timeouts: 0,
        ..plan.wire.connection_config()
    });
    let mut failures = Vec::new();
    let mut link = None;
    for addr in &addrs {
        match Connection::connect(addr, plan.wire.spec.clone(), config.clone()).await {
            Ok(l) => {
                link = Some(l);
                break;
            }
            // The library's error names the address and the cause already.
            Err(e) => failures.push(e.to_string()),
        }
    }
    let Some(link) = link else {
        bail!("cannot connect: {}", failures.join("; "));
    };
    let out = replay_connection(plan, &link, mine).await;
    link.close().await;
    if let Some(t) = played {
        t.abort();
    }
    Ok(out)
}

/// The request to send for a recorded one: as recorded, or with a new STAN (the same for a repeat
/// as for its original: `stans` maps recorded STANs to new ones) and DE 7 = now.
fn request_to_send(plan: &Plan, recorded: &Message, stans: &mut HashMap<Vec<u8>, u32>) -> Message {
    let mut msg = recorded.clone();
    if let Some(seq) = &plan.fresh {
        if let Some(old) = recorded.get(11) {
            let new = *stans.entry(old.to_vec()).or_insert_with(|| seq.next());
            msg.set_stan(new);
        }
        msg.set_transmission_time(chrono::Utc::now());
    }
    msg
}

/// Sends one connection's requests in recorded order, waiting for an answer before sending what
/// the recording shows was sent after it.
async fn replay_connection(plan: &Plan, link: &Connection, exchanges: Vec<Exchange>) -> Vec<Replayed> {
    let mut pending: Vec<Option<PendingResponse>> = Vec::new();
    let mut sent: Vec<Message> = Vec::new();
    let mut results: Vec<Option<Live>> = vec![None; exchanges.len()];
    let mut stans = HashMap::new();
    let connection = exchanges.first().map_or(0, |x| x.connection);
    let mine = plan.entries(connection);
    let client_closed = mine
        .iter()
        .any(|i| matches!(plan.rec.entries.get(*i), Some(Entry::Closed { by: Side::Client, .. })));
    let request_at: HashMap<usize, usize> = exchanges
        .iter()
        .enumerate()
        .map(|(j, x)| (x.request_entry, j))
        .collect();
    let response_at: HashMap<usize, usize> = exchanges
        .iter()
        .enumerate()
        .filter_map(|(j, x)| x.response_entry.map(|r| (r, j)))
        .collect();
    for &i in mine {
        let Some(entry) = plan.rec.entries.get(i) else { continue };
        if let Some(&j) = request_at.get(&i) {
            let mut msg = request_to_send(plan, &exchanges[j].request, &mut stans);
            let deadline = tokio::time::Instant::now() + plan.wait;
            match link.dispatch(&mut msg, deadline).await {
                Ok(p) => pending.push(Some(p)),
                Err(e) => {
                    results[j] = Some(Err(e));
                    pending.push(None);
                }
            }
            sent.push(msg);
        } else if matches!(
            entry,
            Entry::Frame {
                direction: Direction::FromHost,
                ..
            }
        ) {
            if let Some(&j) = response_at.get(&i) {
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
        .zip(sent)
        .zip(results)
        .map(|((exchange, sent), r)| Replayed {
            exchange,
            sent,
            live: r.unwrap_or_else(|| Err(SendError::NotSent(Cause::Closing))),
            client_closed,
        })
        .collect()
}

/// The answer to expect for `sent`: the recorded answer with the recorded request's DE 7 and DE 11
/// replaced by those of `sent` wherever the recorded answer had echoed them. The recorded answer
/// itself when nothing changed.
fn expected_answer(recorded_request: &Message, recorded_answer: &Message, sent: &Message) -> Message {
    let mut expected = recorded_answer.clone();
    for n in [7, 11] {
        if let (Some(old), Some(new)) = (recorded_request.get(n), sent.get_bytes(n)) {
            if recorded_answer.get(n) == Some(old) && old != &new[..] {
                expected.set(n, new);
            }
        }
    }
    expected
}

/// Plays the host of connection `c`: reads each recorded request when its turn comes, writes the
/// recorded answers in recorded order (with the STANs and DE 7 actually sent, under
/// `--fresh-stan`), closes where the recording closes.
async fn play_host(listener: TcpListener, plan: Arc<Plan>, c: u32) {
    let Ok((mut socket, _)) = listener.accept().await else {
        return;
    };
    let (rec, spec) = (&plan.rec, &plan.wire.spec);
    let mut framing = rec.framing();
    let mut buf = BytesMut::new();
    // Recorded request -> request received, by recorded STAN, for the answers' translation.
    let mut received: HashMap<Vec<u8>, (Message, Message)> = HashMap::new();
    for entry in plan.entries(c).iter().filter_map(|i| rec.entries.get(*i)) {
        match entry {
            Entry::Frame {
                direction: Direction::ToHost,
                connection,
                frame,
            } if *connection == c => {
                let got = loop {
                    match framing.decode(&mut buf) {
                        Ok(Some(f)) => break f,
                        Ok(None) => {}
                        Err(_) => return,
                    }
                    match socket.read_buf(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                };
                if plan.fresh.is_some() {
                    if let (Ok(recorded), Ok(live)) = (rec.decode(spec, frame), spec.decode_bytes(got.message)) {
                        if let Some(stan) = recorded.get(11) {
                            received.insert(stan.to_vec(), (recorded, live));
                        }
                    }
                }
            }
            Entry::Frame {
                direction: Direction::FromHost,
                connection,
                frame,
            } if *connection == c => {
                let bytes = translated_frame(&plan, frame, &received).unwrap_or_else(|| frame.to_vec());
                if socket.write_all(&bytes).await.is_err() {
                    return;
                }
            }
            Entry::Closed {
                connection,
                by: Side::Host,
            } if *connection == c => return,
            _ => {}
        }
    }
    let mut rest = Vec::new();
    let _ = socket.read_to_end(&mut rest).await;
}

/// A recorded answer frame re-encoded for the request actually received (`--fresh-stan`), or
/// `None` to send it as recorded.
fn translated_frame(plan: &Plan, frame: &[u8], received: &HashMap<Vec<u8>, (Message, Message)>) -> Option<Vec<u8>> {
    let (rec, spec) = (&plan.rec, &plan.wire.spec);
    let (header, body) = rec.unframe(frame).ok()?;
    let answer = spec.decode_bytes(body).ok()?;
    let (recorded, live) = received.get(answer.get(11)?)?;
    if !answers(recorded, &answer) {
        return None;
    }
    let expected = expected_answer(recorded, &answer, live);
    let body = spec.encode(&expected).ok()?;
    let mut wire = BytesMut::new();
    rec.framing().write_frame_with_header(&header, &body, &mut wire).ok()?;
    Some(wire.to_vec())
}

/// The differences between a recorded exchange and its replay, one line each.
fn compare(spec: &Spec, r: &Replayed, ignore: &BTreeSet<u8>, reveal: bool) -> Vec<String> {
    let x = &r.exchange;
    let show =
        |n: u8, v: Option<&[u8]>| v.map_or("absent".to_owned(), |v| format!("{:?}", field_text(spec, n, v, reveal)));
    match (x.outcome, &x.response, &r.live) {
        (Recorded::Answered, Some(recorded), Ok(got)) => {
            let expected = expected_answer(&x.request, recorded, &r.sent);
            let mut d = Vec::new();
            if expected.mti() != got.mti() {
                d.push(format!("MTI: recorded {}, got {}", expected.mti(), got.mti()));
            }
            if !answers(&r.sent, got) {
                d.push("the answer does not pair with the request".into());
            }
            let numbers: BTreeSet<u8> = expected.fields().chain(got.fields()).map(|(n, _)| n).collect();
            for n in numbers.difference(ignore) {
                let (a, b) = (expected.get(*n), got.get(*n));
                if a != b {
                    d.push(format!("DE {n}: recorded {}, got {}", show(*n, a), show(*n, b)));
                }
            }
            d
        }
        (Recorded::Answered, _, Err(e)) => vec![format!("recorded an answer, got no answer: {e}")],
        (Recorded::Unanswered, _, Err(e)) if e.is_timeout() => vec![],
        (Recorded::Closed, _, Err(e)) if e.is_link_down() => vec![],
        // The recorded client gave up waiting; the replay waited its --timeout-ms instead.
        (Recorded::Closed, _, Err(e)) if r.client_closed && e.is_timeout() => vec![],
        (o, _, Err(e)) => vec![format!("recorded: {}; got: {e}", describe(o))],
        (o, _, Ok(got)) => vec![format!("recorded: {}; got an answer {}", describe(o), got.mti())],
    }
}
