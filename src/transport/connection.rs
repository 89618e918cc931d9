//! One TCP link to a host: many requests in flight, paired by match key.
//!
//! A [`Connection`] owns its tasks: a reader (unframe, decode, pair with
//! the pending entry, hand unsolicited requests to the handler), a writer
//! (takes every frame queued since its last write and writes them in one
//! go), a sweeper (one timer for the link, set to the earliest deadline of
//! the requests in flight, failing those whose deadline passed) and, when an
//! idle echo is configured, a keeper. Senders encode their
//! frame straight into the shared output buffer under the link's lock, so the
//! hot path costs one lock, one oneshot channel and no other allocation.
//!
//! ```text
//! callers      dispatch(0100 #1)  dispatch(0200 #2)  dispatch(0800 #3)
//!                  │ lock: STAN, pending[#1], encode into out   (same for #2, #3)
//! writer          └──────── one write: [#1][#2][#3] ────────►  host
//! reader      ◄── [0210 #2][0810 #3] ── one read, one lock: pair #2, #3
//!             ◄── [0110 #1] ─────────── pair #1
//! ```
//!
//! Every request resolves exactly once: with its response, with
//! [`Cause::Timeout`](super::Cause::Timeout) at its deadline, or with
//! [`Cause::LinkDown`](super::Cause::LinkDown) as soon as the link drops.
//! Dropping a [`PendingResponse`] removes its entry.
//!
//! Files: this one is the public handle and its close; `link.rs` the state
//! shared by tasks and senders and the rules that take a link down;
//! `socket.rs` opening the socket; `tasks.rs` the reader, writer, sweeper and keeper.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, Instrument};

use super::config::ConnectionConfig;
use super::error::{ConnectError, SendError};
use super::link::Link;
use super::pending::StanSequence;
use super::socket;
use super::stats::EndpointStats;
use super::tasks;
pub use super::waiting::PendingResponse;
use crate::{Message, Spec};

/// One link to a host. Cheap to share behind an `Arc`; all methods take `&self`.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// # use std::{sync::Arc, time::Duration};
/// # use iso8583_client::{Message, Spec, sim::{Sim, SimConfig}, transport::{Connection, ConnectionConfig}};
/// # let spec = Spec::builtin("iso87-ascii").unwrap();
/// # let sim = Sim::start(spec.clone(), SimConfig::default()).await.unwrap();
/// let config = Arc::new(ConnectionConfig::default());
/// let link = Connection::connect(&sim.addr().to_string(), spec, config).await.unwrap();
/// let mut echo = Message::new("0800".parse().unwrap());
/// echo.set(70, "301");
/// let answer = link.send(echo, Duration::from_secs(2)).await.unwrap();
/// assert_eq!(answer.response_code(), Some("00"));
/// # link.close().await;
/// # sim.shutdown().await;
/// # });
/// ```
pub struct Connection {
    link: Arc<Link>,
    /// `None` once the link was handed to a background close (see [`Connection::take_running`]).
    running: Option<Running>,
}

/// The tasks of a link. Dropping it takes the link down at once (every
/// request in flight fails) and stops the tasks; [`Running::close`] does the
/// same gracefully.
pub(crate) struct Running {
    link: Arc<Link>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Graceful close: takes no new requests, waits for those in flight up to
    /// the configured drain time, sends the sign-off if configured, then
    /// fails whatever is left and closes the socket.
    pub(crate) async fn close(self) {
        let link = &self.link;
        link.stop_taking_requests();
        let until = Instant::now() + link.config.drain_timeout;
        // Bounded by the drain time; 2 ms steps keep the wait cheap and prompt.
        while Instant::now() < until && !link.is_down() && !link.lock().pending.map.is_empty() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        if let Some(sign_off) = &link.config.sign_off {
            let deadline = Instant::now() + link.config.sign_on_timeout;
            let mut msg = sign_off.clone();
            if let Ok(waiting) = link.dispatch(&mut msg, deadline, true).await {
                let _ = waiting.response().await;
            }
        }
        link.go_down("closed by client".into(), false);
        // Let the writer shut the socket down before the tasks are aborted.
        for _ in 0..50 {
            if self.tasks.iter().all(|t| t.is_finished()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.link.go_down("connection dropped".into(), false);
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Connection {
    /// Connects to `addr` (`host:port`) with a fresh STAN sequence and counters,
    /// then signs on if the config asks for it.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use std::{sync::Arc, time::Duration};
    /// # use iso8583_client::{Message, Spec, sim::{Sim, SimConfig}, transport::{Connection, ConnectionConfig}};
    /// # let spec = Spec::builtin("iso87-ascii").unwrap();
    /// # let sim = Sim::start(spec.clone(), SimConfig::default()).await.unwrap();
    /// let config = Arc::new(ConnectionConfig::default());
    /// let link = Connection::connect(&sim.addr().to_string(), spec, config).await.unwrap();
    /// assert!(link.is_usable());
    /// # link.close().await;
    /// # sim.shutdown().await;
    /// # });
    /// ```
    pub async fn connect(
        addr: &str,
        spec: Arc<Spec>,
        config: Arc<ConnectionConfig>,
    ) -> Result<Connection, ConnectError> {
        let stans = Arc::new(StanSequence::default());
        let stats = Arc::new(EndpointStats::default());
        Connection::connect_shared(addr, spec, config, stans, stats).await
    }

    /// Connects sharing a STAN sequence and an endpoint's counters with other
    /// links: TCP connect within `connect_timeout`, `TCP_NODELAY`, TCP
    /// keepalive, then the sign-on (answered with DE 39 = 00 within
    /// `sign_on_timeout`) when one is configured.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use std::{sync::Arc, time::Duration};
    /// # use iso8583_client::{Message, Spec, sim::{Sim, SimConfig}, transport::{Connection, ConnectionConfig}};
    /// # let spec = Spec::builtin("iso87-ascii").unwrap();
    /// # let sim = Sim::start(spec.clone(), SimConfig::default()).await.unwrap();
    /// use iso8583_client::transport::{EndpointStats, StanSequence};
    /// let (addr, config) = (sim.addr().to_string(), Arc::new(ConnectionConfig::default()));
    /// let stans = Arc::new(StanSequence::default());
    /// let stats = Arc::new(EndpointStats::default());
    /// let a = Connection::connect_shared(&addr, spec.clone(), config.clone(), stans.clone(), stats.clone()).await.unwrap();
    /// let b = Connection::connect_shared(&addr, spec, config, stans, stats.clone()).await.unwrap();
    /// assert_eq!(stats.snapshot().connects, 2); // one set of counters, one STAN sequence
    /// # a.close().await;
    /// # b.close().await;
    /// # sim.shutdown().await;
    /// # });
    /// ```
    pub async fn connect_shared(
        addr: &str,
        spec: Arc<Spec>,
        config: Arc<ConnectionConfig>,
        stans: Arc<StanSequence>,
        stats: Arc<EndpointStats>,
    ) -> Result<Connection, ConnectError> {
        let stream = socket::open(addr, &config).await?;
        let conn = Connection::from_stream(stream, addr.into(), spec, config.clone(), stans, stats);
        if let Some(sign_on) = &config.sign_on {
            let deadline = Instant::now() + config.sign_on_timeout;
            let mut msg = sign_on.clone();
            let answer = async { conn.link.dispatch(&mut msg, deadline, true).await?.response().await }
                .await
                .map_err(|source| ConnectError::SignOn {
                    addr: addr.into(),
                    source,
                })?;
            if answer.response_code() != Some("00") {
                return Err(ConnectError::SignOnRefused {
                    addr: addr.into(),
                    code: answer.response_code().map(str::to_owned),
                });
            }
            debug!(peer = addr, "signed on");
        }
        EndpointStats::bump(&conn.link.stats.connects);
        Ok(conn)
    }

    /// Starts the link's tasks over an already connected stream (no sign-on).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use std::{sync::Arc, time::Duration};
    /// # use iso8583_client::{Message, Spec, sim::{Sim, SimConfig}, transport::{Connection, ConnectionConfig}};
    /// # let spec = Spec::builtin("iso87-ascii").unwrap();
    /// # let sim = Sim::start(spec.clone(), SimConfig::default()).await.unwrap();
    /// let stream = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    /// let config = Arc::new(ConnectionConfig::default());
    /// let link = Connection::from_stream(stream, "sim".into(), spec, config, Default::default(), Default::default());
    /// assert_eq!(link.peer(), "sim");
    /// # link.close().await;
    /// # sim.shutdown().await;
    /// # });
    /// ```
    pub fn from_stream(
        stream: TcpStream,
        peer: String,
        spec: Arc<Spec>,
        config: Arc<ConnectionConfig>,
        stans: Arc<StanSequence>,
        stats: Arc<EndpointStats>,
    ) -> Connection {
        let link = Arc::new(Link::new(peer, spec, config, stans, stats));
        let (read, write) = stream.into_split();
        let span = tracing::debug_span!(parent: None, "iso8583.link", peer = %link.peer);
        // No parent: the link outlives the send that opened it, and its reader must not log
        // other requests' answers under that send's span.
        let mut tasks = vec![
            tokio::spawn(tasks::read_loop(link.clone(), read).instrument(span.clone())),
            tokio::spawn(tasks::write_loop(link.clone(), write).instrument(span.clone())),
            tokio::spawn(tasks::sweep_deadlines(link.clone()).instrument(span.clone())),
        ];
        if let Some(idle) = link.config.idle_echo {
            tasks.push(tokio::spawn(tasks::keep_alive(link.clone(), idle).instrument(span)));
        }
        let running = Running {
            link: link.clone(),
            tasks,
        };
        Connection {
            link,
            running: Some(running),
        }
    }

    /// Sends `msg` and waits up to `timeout` for its response.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use std::{sync::Arc, time::Duration};
    /// # use iso8583_client::{Message, Spec, sim::{Sim, SimConfig}, transport::{Connection, ConnectionConfig}};
    /// # let spec = Spec::builtin("iso87-ascii").unwrap();
    /// # let sim = Sim::start(spec.clone(), SimConfig::default()).await.unwrap();
    /// # let link = Connection::connect(&sim.addr().to_string(), spec, Arc::new(ConnectionConfig::default())).await.unwrap();
    /// let echo = Message::new("0800".parse().unwrap()).with(70, "301");
    /// let answer = link.send(echo, Duration::from_secs(2)).await.unwrap();
    /// assert_eq!((answer.mti().as_str(), answer.response_code()), ("0810", Some("00")));
    /// # link.close().await;
    /// # sim.shutdown().await;
    /// # });
    /// ```
    pub async fn send(&self, mut msg: Message, timeout: Duration) -> Result<Message, SendError> {
        let deadline = Instant::now() + timeout;
        self.dispatch(&mut msg, deadline).await?.response().await
    }

    /// Queues `msg` for writing and registers it as in flight; the returned
    /// [`PendingResponse`] waits for the answer until `deadline`. A missing
    /// DE 11 is filled with the next free STAN (visible in `msg` afterwards).
    /// Waits for room in the writer queue, at most until `deadline`.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use std::{sync::Arc, time::Duration};
    /// # use iso8583_client::{Message, Spec, sim::{Sim, SimConfig}, transport::{Connection, ConnectionConfig}};
    /// # let spec = Spec::builtin("iso87-ascii").unwrap();
    /// # let sim = Sim::start(spec.clone(), SimConfig::default()).await.unwrap();
    /// # let link = Connection::connect(&sim.addr().to_string(), spec, Arc::new(ConnectionConfig::default())).await.unwrap();
    /// let mut echo = Message::new("0800".parse().unwrap()).with(70, "301");
    /// let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    /// let pending = link.dispatch(&mut echo, deadline).await.unwrap(); // queued, DE 11 assigned
    /// assert_eq!(echo.stan().unwrap().parse::<u32>().unwrap(), pending.stan());
    /// let answer = pending.response().await.unwrap();
    /// assert_eq!(answer.stan(), echo.stan());
    /// # link.close().await;
    /// # sim.shutdown().await;
    /// # });
    /// ```
    pub async fn dispatch(&self, msg: &mut Message, deadline: Instant) -> Result<PendingResponse, SendError> {
        self.link.dispatch(msg, deadline, false).await
    }

    /// True while the link is up, not closing and not marked broken.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use std::{sync::Arc, time::Duration};
    /// # use iso8583_client::{Message, Spec, sim::{Sim, SimConfig}, transport::{Connection, ConnectionConfig}};
    /// # let spec = Spec::builtin("iso87-ascii").unwrap();
    /// # let sim = Sim::start(spec.clone(), SimConfig::default()).await.unwrap();
    /// # let link = Connection::connect(&sim.addr().to_string(), spec, Arc::new(ConnectionConfig::default())).await.unwrap();
    /// assert!(link.is_usable());
    /// link.mark_broken("host stopped answering");
    /// assert!(!link.is_usable());
    /// # link.close().await;
    /// # sim.shutdown().await;
    /// # });
    /// ```
    pub fn is_usable(&self) -> bool {
        !self.link.is_down() && !self.link.is_closing()
    }

    /// Requests in flight on this link.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use std::{sync::Arc, time::Duration};
    /// # use iso8583_client::{Message, Spec, sim::{Sim, SimConfig}, transport::{Connection, ConnectionConfig}};
    /// # let spec = Spec::builtin("iso87-ascii").unwrap();
    /// # let sim = Sim::start(spec.clone(), SimConfig { delay: Duration::from_millis(20), ..SimConfig::default() }).await.unwrap();
    /// # let link = Connection::connect(&sim.addr().to_string(), spec, Arc::new(ConnectionConfig::default())).await.unwrap();
    /// let mut echo = Message::new("0800".parse().unwrap()).with(70, "301");
    /// let pending = link.dispatch(&mut echo, tokio::time::Instant::now() + Duration::from_secs(2)).await.unwrap();
    /// assert_eq!(link.in_flight(), 1);
    /// pending.response().await.unwrap();
    /// assert_eq!(link.in_flight(), 0);
    /// # link.close().await;
    /// # sim.shutdown().await;
    /// # });
    /// ```
    pub fn in_flight(&self) -> usize {
        self.link.lock().pending.map.len()
    }

    /// The endpoint counters this link adds to.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use std::{sync::Arc, time::Duration};
    /// # use iso8583_client::{Message, Spec, sim::{Sim, SimConfig}, transport::{Connection, ConnectionConfig}};
    /// # let spec = Spec::builtin("iso87-ascii").unwrap();
    /// # let sim = Sim::start(spec.clone(), SimConfig::default()).await.unwrap();
    /// # let link = Connection::connect(&sim.addr().to_string(), spec, Arc::new(ConnectionConfig::default())).await.unwrap();
    /// let echo = Message::new("0800".parse().unwrap()).with(70, "301");
    /// link.send(echo, Duration::from_secs(2)).await.unwrap();
    /// let c = link.stats().snapshot();
    /// assert_eq!((c.connects, c.sent, c.answered), (1, 1, 1));
    /// # link.close().await;
    /// # sim.shutdown().await;
    /// # });
    /// ```
    pub fn stats(&self) -> &Arc<EndpointStats> {
        &self.link.stats
    }

    /// The address this link was opened to.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use std::{sync::Arc, time::Duration};
    /// # use iso8583_client::{Message, Spec, sim::{Sim, SimConfig}, transport::{Connection, ConnectionConfig}};
    /// # let spec = Spec::builtin("iso87-ascii").unwrap();
    /// # let sim = Sim::start(spec.clone(), SimConfig::default()).await.unwrap();
    /// # let link = Connection::connect(&sim.addr().to_string(), spec, Arc::new(ConnectionConfig::default())).await.unwrap();
    /// assert_eq!(link.peer(), sim.addr().to_string());
    /// # link.close().await;
    /// # sim.shutdown().await;
    /// # });
    /// ```
    pub fn peer(&self) -> &str {
        &self.link.peer
    }

    /// Marks the link broken: every request in flight fails, the socket closes.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use std::{sync::Arc, time::Duration};
    /// # use iso8583_client::{Message, Spec, sim::{Sim, SimConfig}, transport::{Connection, ConnectionConfig}};
    /// # let spec = Spec::builtin("iso87-ascii").unwrap();
    /// # let sim = Sim::start(spec.clone(), SimConfig::default()).await.unwrap();
    /// # let link = Connection::connect(&sim.addr().to_string(), spec, Arc::new(ConnectionConfig::default())).await.unwrap();
    /// link.mark_broken("echo unanswered");
    /// let echo = Message::new("0800".parse().unwrap()).with(70, "301");
    /// let err = link.send(echo, Duration::from_secs(2)).await.unwrap_err();
    /// assert!(err.is_not_sent() && err.is_link_down());
    /// # link.close().await;
    /// # sim.shutdown().await;
    /// # });
    /// ```
    pub fn mark_broken(&self, reason: &str) {
        self.link.go_down(format!("marked broken: {reason}"), true);
    }

    /// Graceful close: takes no new requests, waits for those in flight up to
    /// the configured drain time, sends the sign-off if configured, then
    /// fails whatever is left and closes the socket.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use std::{sync::Arc, time::Duration};
    /// # use iso8583_client::{Message, Spec, sim::{Sim, SimConfig}, transport::{Connection, ConnectionConfig}};
    /// # let spec = Spec::builtin("iso87-ascii").unwrap();
    /// # let sim = Sim::start(spec.clone(), SimConfig::default()).await.unwrap();
    /// use iso8583_client::transport::network_request;
    /// let config = ConnectionConfig { sign_off: Some(network_request("002")), ..ConnectionConfig::default() };
    /// let link = Connection::connect(&sim.addr().to_string(), spec, Arc::new(config)).await.unwrap();
    /// link.close().await; // drains, then signs off
    /// let (mti, _stan) = sim.received().pop().unwrap();
    /// assert_eq!(mti.as_str(), "0800");
    /// # sim.shutdown().await;
    /// # });
    /// ```
    pub async fn close(mut self) {
        if let Some(running) = self.running.take() {
            running.close().await;
        }
    }

    /// Takes the link's tasks out, for a close that outlives this handle
    /// (the pool closes links it lets go in the background). The link stops
    /// taking requests at once; this handle is then inert.
    pub(crate) fn take_running(&mut self) -> Option<Running> {
        self.link.stop_taking_requests();
        self.running.take()
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("peer", &self.link.peer)
            .field("usable", &self.is_usable())
            .finish()
    }
}
