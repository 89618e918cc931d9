//! Shared helpers of the transport tests: a scripted host, a silent proxy, messages.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use iso8583_client::sim::Sim;
use iso8583_client::transport::framing::Framing;
use iso8583_client::{Message, Spec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::codec::Framed;

pub const SPEC: &str = "iso87-ascii-binary-bitmap";

pub fn spec() -> Arc<Spec> {
    Spec::builtin(SPEC).expect("built-in spec")
}

/// An authorization request with a unique amount so responses can be checked.
pub fn auth(amount: u64) -> Message {
    let mut m = Message::new("0100".parse().expect("mti"));
    m.set(2, "4111111111111111")
        .set(3, "000000")
        .set(4, format!("{amount:012}"))
        .set(41, "TERM0001")
        .set(49, "840");
    m
}

pub fn msg(mti: &str) -> Message {
    let mut m = Message::new(mti.parse().expect("mti"));
    m.set(3, "000000").set(4, "000000001000").set(41, "TERM0001");
    m
}

/// How long [`wait_until`] waits for something that takes microseconds on an idle machine.
pub const WAIT_LIMIT: Duration = Duration::from_secs(5);

/// Polls `done` every 2 ms until it holds; fails the test if it still does not after
/// [`WAIT_LIMIT`]. Use it instead of a fixed sleep before looking at what the other side saw: on a
/// loaded machine the other side (sim, host task) may not have run yet when a fixed sleep ends.
/// The limit is wall-clock time, so it stays bounded even under paused tokio time.
pub async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let limit = std::time::Instant::now() + WAIT_LIMIT;
    while !done() {
        assert!(std::time::Instant::now() < limit, "not within {WAIT_LIMIT:?}: {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// The sim's log of requests (MTI, STAN) once it holds at least `n`: polls for them (see
/// [`wait_until`]), then waits a little longer so that an extra request the client should not
/// have sent gets the chance to show up, and so fails the caller's exact comparison.
pub async fn sim_log_of_at_least(sim: &Sim, n: usize) -> Vec<(String, String)> {
    wait_until(&format!("{n} requests at the sim"), || sim.received().len() >= n).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    sim.received()
        .into_iter()
        .map(|(m, stan)| (m.as_str().to_owned(), stan))
        .collect()
}

/// The MTIs of the sim's log once it holds at least `n` requests; see [`sim_log_of_at_least`].
pub async fn sim_mtis_of_at_least(sim: &Sim, n: usize) -> Vec<String> {
    sim_log_of_at_least(sim, n).await.into_iter().map(|(m, _)| m).collect()
}

/// The simulator answering every request after `delay` (so requests stay in flight a while).
pub async fn slow_sim(delay: Duration) -> Sim {
    Sim::start(
        spec(),
        iso8583_client::sim::SimConfig {
            delay,
            ..Default::default()
        },
    )
    .await
    .expect("sim")
}

/// A host the test drives by hand, one frame at a time.
pub struct Scripted {
    pub io: Framed<TcpStream, Framing>,
}

impl Scripted {
    /// Next request from the client (fails the test after 5 s).
    pub async fn recv(&mut self) -> Message {
        let frame = tokio::time::timeout(Duration::from_secs(5), self.io.next())
            .await
            .expect("request within 5 s")
            .expect("stream open")
            .expect("frame");
        spec().decode_bytes(frame.message).expect("decodable request")
    }

    pub async fn send(&mut self, m: &Message) {
        let body = spec().encode(m).expect("encodable");
        self.io.send(body).await.expect("send");
    }

    pub async fn send_raw(&mut self, body: bytes::Bytes) {
        self.io.send(body).await.expect("send");
    }
}

/// Listens on 127.0.0.1; returns the address and a task giving the first accepted connection.
pub async fn scripted_host() -> (String, JoinHandle<Scripted>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let task = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        Scripted {
            io: Framed::new(stream, Framing::default()),
        }
    });
    (addr, task)
}

/// The response the sim would give: the response MTI, the fields it copies, DE 39 = 00 (51 for an
/// amount ending in 51).
pub fn respond(req: &Message) -> Message {
    let mut resp = Message::new(req.mti().response().expect("a request"));
    for field in iso8583_client::sim::COPIED_FIELDS {
        if let Some(value) = req.get_bytes(field) {
            resp.set(field, value.clone());
        }
    }
    let declined = req.get(4).is_some_and(|a| a.ends_with(b"51"));
    resp.set(39, if declined { "51" } else { "00" });
    resp
}

/// A TCP proxy on 127.0.0.1 that can be told to stop forwarding, silently
/// (sockets stay open), like a dead NAT or firewall.
pub struct SilentProxy {
    pub addr: String,
    stalled: Arc<AtomicBool>,
    /// Connections accepted so far.
    accepted: Arc<AtomicUsize>,
    /// Connections numbered below this are stalled.
    stalled_below: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl SilentProxy {
    pub async fn start(upstream: String) -> SilentProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let stalled = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let stalled_below = Arc::new(AtomicUsize::new(0));
        let (flag, count, below) = (stalled.clone(), accepted.clone(), stalled_below.clone());
        let task = tokio::spawn(async move {
            let mut pipes = tokio::task::JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                let number = count.fetch_add(1, Ordering::SeqCst);
                let silent = Silent {
                    all: flag.clone(),
                    below: below.clone(),
                    number,
                };
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                pipes.spawn(pipe(cr, sw, silent.clone()));
                pipes.spawn(pipe(sr, cw, silent));
            }
        });
        SilentProxy {
            addr,
            stalled,
            accepted,
            stalled_below,
            task,
        }
    }

    /// Stops forwarding in both directions without closing anything.
    pub fn stall(&self) {
        self.stalled.store(true, Ordering::SeqCst);
    }

    /// Stops forwarding on the connections open now; later ones forward.
    pub fn stall_existing(&self) {
        self.stalled_below
            .store(self.accepted.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}

impl Drop for SilentProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone)]
struct Silent {
    all: Arc<AtomicBool>,
    below: Arc<AtomicUsize>,
    number: usize,
}

impl Silent {
    fn now(&self) -> bool {
        self.all.load(Ordering::SeqCst) || self.number < self.below.load(Ordering::SeqCst)
    }
}

async fn pipe(mut from: tokio::net::tcp::OwnedReadHalf, mut to: tokio::net::tcp::OwnedWriteHalf, silent: Silent) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if silent.now() {
            continue; // swallow: the bytes go nowhere, the socket stays open
        }
        if to.write_all(buf.get(..n).unwrap_or_default()).await.is_err() {
            return;
        }
    }
}

/// A host on 127.0.0.1 that accepts connections and closes them at once,
/// counting them: a dead host behind a live port (sign-on always fails).
pub struct SlammingHost {
    pub addr: String,
    pub accepted: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl SlammingHost {
    pub async fn start() -> SlammingHost {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        SlammingHost { addr, accepted, task }
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for SlammingHost {
    fn drop(&mut self) {
        self.task.abort();
    }
}
