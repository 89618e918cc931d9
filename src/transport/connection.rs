//! One TCP link to a host: many requests in flight, paired by match key.
//!
//! A [`Connection`] owns three tasks: a reader (unframe, decode, pair with
//! the pending entry, hand unsolicited requests to the handler), a writer
//! (takes every frame queued since its last write and writes them in one
//! go) and, when an idle echo is configured, a keeper. Senders encode their
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
//! [`Cause::Timeout`] at its deadline, or with [`Cause::LinkDown`] as soon as
//! the link drops. Dropping a [`PendingResponse`] removes its entry.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::BytesMut;
use tokio::net::TcpStream;
use tokio::sync::{oneshot, Notify, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn, Instrument};

use super::config::ConnectionConfig;
use super::error::{Cause, ConnectError, SendError};
use super::pending::{LateKeys, MatchKey, Pending, Register, Reply, StanSequence};
use super::stats::EndpointStats;
use super::tasks;
use super::waiting::EntryGuard;
pub use super::waiting::PendingResponse;
use crate::{Message, Spec};

/// One link to a host. Cheap to share behind an `Arc`; all methods take `&self`.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::{sync::Arc, time::Duration};
/// use iso8583_client::{Message, Spec, transport::{Connection, ConnectionConfig}};
/// let spec = Spec::builtin("iso87-ascii-binary-bitmap").unwrap();
/// let link = Connection::connect("127.0.0.1:9583", spec, Arc::new(ConnectionConfig::default())).await?;
/// let mut echo = Message::new("0800".parse()?);
/// echo.set(70, "301");
/// let answer = link.send(echo, Duration::from_secs(2)).await?;
/// assert_eq!(answer.response_code(), Some("00"));
/// # Ok(()) }
/// ```
pub struct Connection {
    link: Arc<Link>,
    tasks: Vec<JoinHandle<()>>,
}

/// State shared by a link's tasks and its senders.
pub(crate) struct Link {
    state: Mutex<State>,
    pub(crate) wake_writer: Notify,
    /// One permit per frame that may be queued for the writer.
    pub(crate) queue: Semaphore,
    pub(crate) spec: Arc<Spec>,
    pub(crate) config: Arc<ConnectionConfig>,
    stans: Arc<StanSequence>,
    pub(crate) stats: Arc<EndpointStats>,
    pub(crate) peer: String,
    closing: AtomicBool,
    down: AtomicBool,
    pub(crate) cancel: CancellationToken,
    pub(crate) consecutive_timeouts: AtomicU32,
    /// Milliseconds since `born` when the last frame was read.
    last_read: AtomicU64,
    born: Instant,
}

pub(crate) struct State {
    pub(crate) pending: Pending,
    pub(crate) late: LateKeys,
    /// Frames waiting for the writer.
    pub(crate) out: BytesMut,
    /// Queue permits held by the frames in `out`.
    pub(crate) out_permits: usize,
    /// Sequence number of the last frame put in `out`.
    pub(crate) queued_seq: u64,
    /// Sequence number of the last frame the writer took.
    pub(crate) taken_seq: u64,
    down: Option<String>,
}

/// Unsolicited replies may sit in the output buffer up to this size.
const MAX_UNSOLICITED_BACKLOG: usize = 1 << 20;

impl Connection {
    /// Connects to `addr` (`host:port`) with a fresh STAN sequence and counters,
    /// then signs on if the config asks for it.
    pub async fn connect(
        addr: &str,
        spec: Arc<Spec>,
        config: Arc<ConnectionConfig>,
    ) -> Result<Connection, ConnectError> {
        let stans = Arc::new(StanSequence::default());
        let stats = Arc::new(EndpointStats::default());
        Connection::connect_shared(addr, spec, config, stans, stats).await
    }

    /// Connects sharing a STAN sequence and an endpoint's counters with other links.
    pub async fn connect_shared(
        addr: &str,
        spec: Arc<Spec>,
        config: Arc<ConnectionConfig>,
        stans: Arc<StanSequence>,
        stats: Arc<EndpointStats>,
    ) -> Result<Connection, ConnectError> {
        let stream = match tokio::time::timeout(config.connect_timeout, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(source)) => {
                return Err(ConnectError::Io {
                    addr: addr.into(),
                    source,
                })
            }
            Err(_) => {
                return Err(ConnectError::Timeout {
                    addr: addr.into(),
                    timeout: config.connect_timeout,
                })
            }
        };
        let io = |source| ConnectError::Io {
            addr: addr.into(),
            source,
        };
        stream.set_nodelay(true).map_err(io)?;
        if let Some(idle) = config.tcp_keepalive {
            let keepalive = socket2::TcpKeepalive::new()
                .with_time(idle)
                .with_interval((idle / 3).max(Duration::from_secs(1)))
                .with_retries(3);
            socket2::SockRef::from(&stream)
                .set_tcp_keepalive(&keepalive)
                .map_err(io)?;
        }
        let conn = Connection::from_stream(stream, addr.into(), spec, config.clone(), stans, stats);
        if let Some(sign_on) = &config.sign_on {
            let answer = conn
                .send(sign_on.clone(), config.sign_on_timeout)
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
    pub fn from_stream(
        stream: TcpStream,
        peer: String,
        spec: Arc<Spec>,
        config: Arc<ConnectionConfig>,
        stans: Arc<StanSequence>,
        stats: Arc<EndpointStats>,
    ) -> Connection {
        let link = Arc::new(Link {
            state: Mutex::new(State {
                pending: Pending::new(),
                late: LateKeys::new(config.late_memory),
                out: BytesMut::with_capacity(16 * 1024),
                out_permits: 0,
                queued_seq: 0,
                taken_seq: 0,
                down: None,
            }),
            wake_writer: Notify::new(),
            queue: Semaphore::new(config.queue_frames.max(1)),
            spec,
            config,
            stans,
            stats,
            peer,
            closing: AtomicBool::new(false),
            down: AtomicBool::new(false),
            cancel: CancellationToken::new(),
            consecutive_timeouts: AtomicU32::new(0),
            last_read: AtomicU64::new(0),
            born: Instant::now(),
        });
        let (read, write) = stream.into_split();
        let span = tracing::debug_span!("iso8583.link", peer = %link.peer);
        let mut tasks = vec![
            tokio::spawn(tasks::read_loop(link.clone(), read).instrument(span.clone())),
            tokio::spawn(tasks::write_loop(link.clone(), write).instrument(span.clone())),
        ];
        if let Some(idle) = link.config.idle_echo {
            tasks.push(tokio::spawn(tasks::keep_alive(link.clone(), idle).instrument(span)));
        }
        Connection { link, tasks }
    }

    /// Sends `msg` and waits up to `timeout` for its response.
    pub async fn send(&self, mut msg: Message, timeout: Duration) -> Result<Message, SendError> {
        let deadline = Instant::now() + timeout;
        self.dispatch(&mut msg, deadline).await?.response().await
    }

    /// Queues `msg` for writing and registers it as in flight; the returned
    /// [`PendingResponse`] waits for the answer until `deadline`. A missing
    /// DE 11 is filled with the next free STAN (visible in `msg` afterwards).
    /// Waits for room in the writer queue, at most until `deadline`.
    pub async fn dispatch(&self, msg: &mut Message, deadline: Instant) -> Result<PendingResponse, SendError> {
        self.link.dispatch(msg, deadline, false).await
    }

    /// True while the link is up, not closing and not marked broken.
    pub fn is_usable(&self) -> bool {
        !self.link.down.load(Relaxed) && !self.link.closing.load(Relaxed)
    }

    /// Requests in flight on this link.
    pub fn in_flight(&self) -> usize {
        self.link.lock().pending.map.len()
    }

    /// The endpoint counters this link adds to.
    pub fn stats(&self) -> &Arc<EndpointStats> {
        &self.link.stats
    }

    /// The address this link was opened to.
    pub fn peer(&self) -> &str {
        &self.link.peer
    }

    /// Marks the link broken: every request in flight fails, the socket closes.
    pub fn mark_broken(&self, reason: &str) {
        self.link.go_down(format!("marked broken: {reason}"), true);
    }

    /// Graceful close: takes no new requests, waits for those in flight up to
    /// the configured drain time, sends the sign-off if configured, then
    /// fails whatever is left and closes the socket.
    pub async fn close(self) {
        let link = &self.link;
        link.closing.store(true, Relaxed);
        let until = Instant::now() + link.config.drain_timeout;
        while Instant::now() < until && !link.down.load(Relaxed) && self.in_flight() > 0 {
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

impl Drop for Connection {
    fn drop(&mut self) {
        self.link.go_down("connection dropped".into(), false);
        for task in &self.tasks {
            task.abort();
        }
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

impl Link {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent data: keep going.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn is_down(&self) -> bool {
        self.down.load(Relaxed)
    }

    pub(crate) fn touch(&self) {
        if self.config.idle_echo.is_none() {
            return; // nobody reads it: spare the clock read per frame
        }
        let ms = self.born.elapsed().as_millis() as u64;
        self.last_read.store(ms, Relaxed);
    }

    pub(crate) fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_read.load(Relaxed));
        self.born.elapsed().saturating_sub(last)
    }

    pub(crate) fn answered(&self) {
        self.consecutive_timeouts.store(0, Relaxed);
    }

    pub(crate) async fn dispatch(
        self: &Arc<Self>,
        msg: &mut Message,
        deadline: Instant,
        internal: bool,
    ) -> Result<PendingResponse, SendError> {
        let down = || SendError::NotSent(Cause::LinkDown("link is down".into()));
        if self.is_down() {
            return Err(down());
        }
        if !internal && self.closing.load(Relaxed) {
            return Err(SendError::NotSent(Cause::Closing));
        }
        let mti = msg.mti();
        let expect = mti.response().ok_or(SendError::NotSent(Cause::NotARequest(mti)))?;
        let permit = match tokio::time::timeout_at(deadline, self.queue.acquire()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_closed)) => return Err(down()),
            Err(_) => return Err(SendError::NotSent(Cause::Timeout)),
        };
        let (tx, rx) = oneshot::channel();
        let (key, id) = {
            let mut guard = self.lock();
            let st = &mut *guard;
            if let Some(reason) = &st.down {
                return Err(SendError::NotSent(Cause::LinkDown(reason.clone())));
            }
            let seq = st.queued_seq + 1;
            let (key, id) = match st
                .pending
                .register(msg, &self.config.match_fields, &self.stans, expect, seq, tx)
            {
                Register::Ok(key, id) => (key, id),
                Register::InUse(stan) => return Err(SendError::NotSent(Cause::StanInUse { stan })),
                Register::BadStan(stan) => return Err(SendError::NotSent(Cause::BadStan(stan))),
            };
            let framing = &self.config.framing;
            let start = framing.begin_frame(&mut st.out);
            let encoded = match self.spec.encode_into(msg, &mut st.out) {
                Ok(()) => framing.finish_frame(&mut st.out, start).map_err(Cause::from),
                Err(e) => {
                    st.out.truncate(start);
                    Err(Cause::Encode(e))
                }
            };
            if let Err(cause) = encoded {
                st.pending.remove_if(&key, id);
                return Err(SendError::NotSent(cause));
            }
            st.queued_seq = seq;
            st.out_permits += 1;
            (key, id)
        };
        permit.forget();
        self.wake_writer.notify_one();
        EndpointStats::bump(&self.stats.sent);
        self.stats.in_flight.fetch_add(1, Relaxed);
        debug!(peer = %self.peer, mti = %mti, stan = key.stan(), "request queued");
        Ok(PendingResponse {
            rx,
            deadline,
            entry: EntryGuard {
                link: self.clone(),
                key,
                id,
                armed: true,
            },
        })
    }

    /// Queues a frame that is not a tracked request (reply to the host).
    pub(crate) fn queue_unsolicited_reply(&self, header: &[u8], reply: &Message) {
        let mut st = self.lock();
        if st.down.is_some() || st.out.len() > MAX_UNSOLICITED_BACKLOG {
            return;
        }
        let framing = &self.config.framing;
        let mut body = BytesMut::new();
        let result = match self.spec.encode_into(reply, &mut body) {
            Ok(()) => framing
                .write_frame_with_header(header, &body, &mut st.out)
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        drop(st);
        match result {
            Ok(()) => self.wake_writer.notify_one(),
            Err(e) => warn!(peer = %self.peer, error = %e, "reply to host not encodable"),
        }
    }

    /// Takes the link down once: fails every request in flight (not sent if
    /// its frame never left the output buffer, outcome unknown otherwise),
    /// stops the tasks.
    pub(crate) fn go_down(&self, reason: String, broken: bool) {
        let (entries, taken) = {
            let mut st = self.lock();
            if st.down.is_some() {
                return;
            }
            st.down = Some(reason.clone());
            st.out.clear();
            (std::mem::take(&mut st.pending.map), st.taken_seq)
        };
        self.down.store(true, Relaxed);
        self.queue.close();
        self.cancel.cancel();
        self.wake_writer.notify_one();
        if broken {
            EndpointStats::bump(&self.stats.broken);
        }
        if !entries.is_empty() || broken {
            warn!(peer = %self.peer, in_flight = entries.len(), reason = %reason, "link down");
        } else {
            debug!(peer = %self.peer, reason = %reason, "link down");
        }
        for (_, entry) in entries {
            let cause = Cause::LinkDown(reason.clone());
            let err = if entry.seq != 0 && entry.seq <= taken {
                SendError::OutcomeUnknown(cause)
            } else {
                SendError::NotSent(cause)
            };
            let _ = entry.tx.send(Err(err));
        }
    }

    /// Pairs the responses of one read with their requests under one lock.
    pub(crate) fn pair(&self, responses: &mut Vec<(MatchKey, Message)>, outcomes: &mut Vec<Pairing>) {
        let mut guard = self.lock();
        let st = &mut *guard;
        for (key, msg) in responses.drain(..) {
            let expected = st.pending.map.get(&key).map(|entry| entry.expect);
            let outcome = match expected {
                Some(mti) if mti == msg.mti() => match st.pending.map.remove(&key) {
                    Some(entry) => Pairing::Answer(entry.tx, msg),
                    None => Pairing::Unknown(msg),
                },
                Some(mti) => Pairing::WrongMti(mti, msg),
                None if st.late.take(&key) => Pairing::Late(msg),
                None => Pairing::Unknown(msg),
            };
            outcomes.push(outcome);
        }
        drop(guard);
        if outcomes.iter().any(|o| matches!(o, Pairing::Answer(..))) {
            self.answered();
        }
    }

    /// Takes a response's entry (for the reader), or records a late key hit.
    pub(crate) fn take_entry(&self, key: &MatchKey) -> Taken {
        let mut st = self.lock();
        match st.pending.map.remove(key) {
            Some(entry) => Taken::Waiting(entry),
            None if st.late.take(key) => Taken::Late,
            None => Taken::Unknown,
        }
    }

    /// Puts back an entry taken by mistake (the response MTI did not match).
    pub(crate) fn restore_entry(&self, key: MatchKey, entry: super::pending::Entry) {
        let mut st = self.lock();
        if st.down.is_none() {
            st.pending.map.insert(key, entry);
        } else {
            drop(st);
            let _ = entry
                .tx
                .send(Err(SendError::OutcomeUnknown(Cause::LinkDown("link is down".into()))));
        }
    }
}

/// What became of one response the reader paired.
pub(crate) enum Pairing {
    /// Its request was waiting: deliver.
    Answer(oneshot::Sender<Reply>, Message),
    /// A request with this key waits for another MTI (kept waiting).
    WrongMti(crate::Mti, Message),
    /// Its request timed out or was cancelled.
    Late(Message),
    /// Nobody waits for it (unknown key or duplicate).
    Unknown(Message),
}

/// What the reader found for a response's key.
pub(crate) enum Taken {
    Waiting(super::pending::Entry),
    Late,
    Unknown,
}
