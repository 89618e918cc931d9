//! One link to a host: many requests in flight, paired by match key.
//!
//! A [`Connection`] is a thin tokio driver around the link's protocol core
//! (`transport::core`, which owns every decision): a reader (unframe, decode,
//! hand frames to the core, answer host requests), a writer (takes every
//! frame queued since its last write and writes them in one go), one timer
//! (sleeps to the earliest deadline in flight) and, when an idle echo is
//! configured, a keeper. It runs over any stream ([`LinkStream`]).
//!
//! ```text
//! callers      submit(0100 #1)  submit(0200 #2)  submit(0800 #3)
//!                  │ lock: key, pending[#1], encode into the outbox   (same for #2, #3)
//! writer          └──────── one write: [#1][#2][#3] ────────►  host
//! reader      ◄── [0210 #2][0810 #3] ── one read, one lock: pair #2, #3
//!             ◄── [0110 #1] ─────────── pair #1
//! ```
//!
//! Every request resolves exactly once: with its response, with
//! [`Cause::Timeout`](super::Cause::Timeout) at its deadline (not sent if its
//! frame was still queued, which is then never written), or with
//! [`Cause::LinkDown`](super::Cause::LinkDown) as soon as the link drops.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, Instrument};

use super::config::ConnectionConfig;
use super::connect::LinkStream;
use super::core::Moment;
pub use super::driver::PendingResponse;
use super::driver::{self, Keys, Shared};
use super::error::{ConnectError, SendError};
use super::stats::{Counters, EndpointStats};
use crate::{Message, Spec};

/// One link to a host. All methods take `&self`.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// # use std::{sync::Arc, time::Duration};
/// # use iso8583_client::{Message, Spec, sim::{Sim, SimConfig}, transport::{Connection, ConnectionConfig}};
/// # let spec = Spec::builtin("iso87-ascii").unwrap();
/// # let sim = Sim::start(spec.clone(), SimConfig::default()).await.unwrap();
/// let config = Arc::new(ConnectionConfig::default());
/// let link = Connection::connect(&sim.addr().to_string(), spec, config).await.unwrap();
/// let echo = Message::new("0800".parse().unwrap()).with(70, "301");
/// let answer = link.send(echo, Duration::from_secs(2)).await.unwrap();
/// assert_eq!(answer.response_code(), Some("00"));
/// link.close().await;
/// # sim.shutdown().await;
/// # });
/// ```
pub struct Connection {
    shared: Arc<Shared>,
    /// `None` once the link was handed to a background close (see [`Connection::take_running`]).
    running: Option<Running>,
}

/// The tasks of a link. Dropping it takes the link down at once (every
/// request in flight resolves) and stops the tasks; [`Running::close`] does
/// the same gracefully.
pub(crate) struct Running {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Graceful close: takes no new requests, waits for those in flight up to
    /// the configured drain time, sends the sign-off if configured, then
    /// fails whatever is left and closes the stream. Returns once every task ended.
    pub(crate) async fn close(mut self) {
        let shared = self.shared.clone();
        shared.begin_close();
        let until = Instant::now().after(shared.config.drain_timeout);
        // Bounded by the drain time; 2 ms steps keep the wait cheap and prompt.
        while Instant::now() < until && !shared.is_down() && shared.in_flight() > 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        if let Some(sign_off) = &shared.config.sign_off {
            let deadline = Instant::now().after(shared.config.sign_on_timeout);
            let mut msg = sign_off.clone();
            if let Ok(waiting) = shared.submit(&mut msg, deadline, true, None).await {
                let _ = waiting.response().await;
            }
        }
        shared.go_down("closed by client".into(), false);
        // Let the writer shut the stream down before the tasks are aborted.
        let tasks = std::mem::take(&mut self.tasks);
        for task in tasks {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_millis(200), task).await.is_err() {
                abort.abort();
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shared.go_down("connection dropped".into(), false);
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Connection {
    /// Connects to `addr` (`host:port`) over the config's connector (TCP by
    /// default) with a key registry and counters of its own, then signs on if
    /// the config asks for it.
    pub async fn connect(
        addr: &str,
        spec: Arc<Spec>,
        config: Arc<ConnectionConfig>,
    ) -> Result<Connection, ConnectError> {
        let keys = Arc::new(config.key_registry());
        Connection::open(addr, spec, config, keys, Arc::default()).await
    }

    /// Connects sharing a key registry and an endpoint's counters with other
    /// links, then signs on (answered with DE 39 = 00 within `sign_on_timeout`)
    /// when one is configured.
    pub(crate) async fn open(
        addr: &str,
        spec: Arc<Spec>,
        config: Arc<ConnectionConfig>,
        keys: Arc<Keys>,
        stats: Arc<EndpointStats>,
    ) -> Result<Connection, ConnectError> {
        let stream = config.connector.connect(addr, &config).await?;
        let conn = Connection::start(stream, addr.into(), spec, config.clone(), keys, stats);
        if let Some(sign_on) = &config.sign_on {
            let deadline = Instant::now().after(config.sign_on_timeout);
            let mut msg = sign_on.clone();
            let answer = async {
                conn.shared
                    .submit(&mut msg, deadline, true, None)
                    .await?
                    .response()
                    .await
            }
            .await
            .map_err(|error| ConnectError::SignOn {
                addr: addr.into(),
                error,
            })?;
            if answer.response_code() != Some("00") {
                return Err(ConnectError::SignOnRefused {
                    addr: addr.into(),
                    code: answer.response_code().map(str::to_owned),
                });
            }
            debug!(peer = addr, "signed on");
        }
        EndpointStats::bump(&conn.shared.stats.connects);
        Ok(conn)
    }

    /// Starts a link over an already open stream (no sign-on), with a key
    /// registry and counters of its own.
    pub fn from_stream(stream: LinkStream, peer: String, spec: Arc<Spec>, config: Arc<ConnectionConfig>) -> Connection {
        let keys = Arc::new(config.key_registry());
        Connection::start(stream, peer, spec, config, keys, Arc::default())
    }

    fn start(
        stream: LinkStream,
        peer: String,
        spec: Arc<Spec>,
        config: Arc<ConnectionConfig>,
        keys: Arc<Keys>,
        stats: Arc<EndpointStats>,
    ) -> Connection {
        let shared = Arc::new(Shared::new(peer, spec, config, keys, stats));
        // No parent: the link outlives the send that opened it, and its reader must not log
        // other requests' answers under that send's span.
        let span = tracing::debug_span!(parent: None, "iso8583.link", peer = %shared.peer);
        let mut tasks = match stream {
            LinkStream::Tcp(tcp) => {
                let (read, write) = tcp.into_split();
                vec![
                    tokio::spawn(driver::read_loop(shared.clone(), read).instrument(span.clone())),
                    tokio::spawn(driver::write_loop(shared.clone(), write).instrument(span.clone())),
                ]
            }
            LinkStream::Other(io) => {
                let (read, write) = tokio::io::split(io);
                vec![
                    tokio::spawn(driver::read_loop(shared.clone(), read).instrument(span.clone())),
                    tokio::spawn(driver::write_loop(shared.clone(), write).instrument(span.clone())),
                ]
            }
        };
        tasks.push(tokio::spawn(
            driver::timer_loop(shared.clone()).instrument(span.clone()),
        ));
        if let Some(idle) = shared.config.idle_echo {
            tasks.push(tokio::spawn(driver::keep_alive(shared.clone(), idle).instrument(span)));
        }
        let running = Running {
            shared: shared.clone(),
            tasks,
        };
        Connection {
            shared,
            running: Some(running),
        }
    }

    /// Sends `msg` and waits up to `timeout` (saturating) for its response.
    pub async fn send(&self, mut msg: Message, timeout: Duration) -> Result<Message, SendError> {
        let now = Instant::now();
        let deadline = now.after(timeout);
        let ticket = self.shared.submit_from(now, &mut msg, deadline, false, None).await?;
        // Freed here, on the thread that most likely made it, not after the wait (the task may
        // wake on another thread, and a free of another thread's memory costs more).
        drop(msg);
        super::driver::Waiting::new(ticket, &self.shared).response().await
    }

    /// Queues `msg` for writing and registers it as in flight; the returned
    /// [`PendingResponse`] waits for the answer until `deadline`. A missing
    /// DE 11 is filled with a free STAN (visible in `msg` afterwards). A
    /// deadline already passed is refused (not sent). With `max_in_flight`
    /// requests in flight, waits for room until `deadline`. The link takes the request in
    /// when its writer next runs: a refusal decided then (the link went down, or the deadline
    /// passed meanwhile) comes through the [`PendingResponse`], not sent, and DE 11 stays filled.
    pub async fn dispatch(&self, msg: &mut Message, deadline: Instant) -> Result<PendingResponse, SendError> {
        self.shared.submit(msg, deadline, false, None).await
    }

    /// As [`Connection::dispatch`], for the client's retry of its earlier attempt `retry_of`.
    pub(crate) async fn dispatch_retry(
        &self,
        msg: &mut Message,
        deadline: Instant,
        retry_of: Option<u64>,
    ) -> Result<PendingResponse, SendError> {
        self.shared.submit(msg, deadline, false, retry_of).await
    }

    /// True while the link is up and not closing.
    pub fn is_usable(&self) -> bool {
        !self.shared.is_down() && self.running.is_some() && *self.shared.lock().state() == super::core::LinkState::Up
    }

    /// True if the link went down as broken (timeouts in a row, an unanswered
    /// echo, a task or handler that panicked, [`Connection::mark_broken`]).
    pub fn is_broken(&self) -> bool {
        self.shared.is_broken()
    }

    /// Requests in flight on this link.
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight()
    }

    /// The counters of the endpoint this link adds to, at this instant.
    pub fn counters(&self) -> Counters {
        self.shared.stats.snapshot()
    }

    /// The endpoint counters this link adds to.
    pub(crate) fn stats(&self) -> &Arc<EndpointStats> {
        &self.shared.stats
    }

    /// The address this link was opened to.
    pub fn peer(&self) -> &str {
        &self.shared.peer
    }

    /// Marks the link broken: every request in flight resolves, the stream closes.
    pub fn mark_broken(&self, reason: &str) {
        self.shared.go_down(format!("marked broken: {reason}"), true);
    }

    /// Graceful close: takes no new requests, waits for those in flight up to
    /// the configured drain time, sends the sign-off if configured, then
    /// fails whatever is left and closes the stream.
    pub async fn close(mut self) {
        if let Some(running) = self.running.take() {
            running.close().await;
        }
    }

    /// Takes the link's tasks out, for a close that outlives this handle
    /// (the pool closes links it lets go in the background). The link stops
    /// taking requests at once; this handle is then inert.
    pub(crate) fn take_running(&mut self) -> Option<Running> {
        self.shared.begin_close();
        self.running.take()
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("peer", &self.shared.peer)
            .field("usable", &self.is_usable())
            .finish()
    }
}
