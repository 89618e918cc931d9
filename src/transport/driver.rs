//! The tokio side of one link: a reader, a writer, one timer and (when an idle
//! echo is configured) a keeper, over any stream. They move bytes and events
//! in and out of the [`LinkCore`], which decides
//! everything; resolutions are handed out after the lock is released.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{oneshot, Notify};
use tokio::time::Instant;
use tokio_util::codec::Decoder;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::config::ConnectionConfig;
use super::core::keys::{KeyRegistry, MatchKey};
use super::core::padded::Padded;
use super::core::{Admitted, FrameNote, Inbox, Limits, LinkCore, Moment, Preparer, Resolution};
use super::error::{Cause, SendError};
use super::framing::swap_tpdu;
use super::stats::{EndpointStats, Tracked};
use crate::{CodecError, Message, Spec};

/// What a waiting caller receives.
pub(crate) type Reply = Result<Message, SendError>;
/// Who waits for a request: its caller's channel, and its metrics record, finished with the
/// outcome the core decided when it is handed out.
pub(crate) struct Waiter {
    tx: oneshot::Sender<Reply>,
    tracked: Tracked,
}

/// Size of the reader's buffer; one read takes whatever the stream has, up to this.
const READ_BUFFER: usize = 64 * 1024;
/// Replies to host requests may wait in the outbox up to this many bytes.
const MAX_REPLY_BACKLOG: usize = 1 << 20;
/// Warnings about dropped frames logged per interval; the rest are summed up.
const LOG_BURST: u32 = 10;
const LOG_INTERVAL: Duration = Duration::from_secs(10);

thread_local! {
    /// The frame a sender encodes before queueing it in its link's inbox, reused by every send of a thread.
    static FRAME: std::cell::RefCell<BytesMut> = std::cell::RefCell::new(BytesMut::with_capacity(1024));
}

/// The client-wide key registry on tokio's clock.
pub(crate) type Keys = KeyRegistry<Instant>;

/// What a link's tasks and its senders share: the core under a lock, and the wake-ups.
pub(crate) struct Shared {
    /// On lines of its own: taken by the reader, the writer and the timer, it must not share a
    /// line with anything else they write (the `Arc`'s counts, the writer's wake-up).
    core: Padded<Mutex<LinkCore<Waiter, Instant>>>,
    /// Where senders queue their prepared requests, without the core's lock (see
    /// [`Inbox`]). Whoever holds both takes the core's lock first.
    inbox: Padded<Mutex<Inbox<Waiter, Instant>>>,
    wake_writer: Padded<Notify>,
    wake_timer: Notify,
    /// Wakes senders waiting for room under `max_in_flight`.
    room: Notify,
    /// Senders waiting for room.
    room_waiters: AtomicUsize,
    pub(crate) cancel: CancellationToken,
    down: AtomicBool,
    broken: AtomicBool,
    pub(crate) stats: Arc<EndpointStats>,
    pub(crate) peer: String,
    pub(crate) config: Arc<ConnectionConfig>,
    spec: Arc<Spec>,
    /// Prepares a sender's request outside the core's lock (see [`Inbox`]).
    preparer: Preparer<Instant>,
}

impl Shared {
    pub(crate) fn new(
        peer: String,
        spec: Arc<Spec>,
        config: Arc<ConnectionConfig>,
        keys: Arc<Keys>,
        stats: Arc<EndpointStats>,
    ) -> Shared {
        let limits = Limits {
            max_in_flight: config.max_in_flight,
            late_memory: config.late_memory,
            max_consecutive_timeouts: config.max_consecutive_timeouts,
            max_reply_backlog: MAX_REPLY_BACKLOG,
            deadline_slack: Duration::from_millis(1),
        };
        let core = LinkCore::new(
            spec.clone(),
            config.framing.clone(),
            config.match_fields.clone(),
            limits,
            keys,
            config.late_window,
            Instant::now(),
        );
        stats.label(&peer);
        let preparer = core.preparer();
        Shared {
            preparer,
            core: Padded(Mutex::new(core)),
            inbox: Padded(Mutex::new(Inbox::default())),
            wake_writer: Padded(Notify::new()),
            wake_timer: Notify::new(),
            room: Notify::new(),
            room_waiters: AtomicUsize::new(0),
            cancel: CancellationToken::new(),
            down: AtomicBool::new(false),
            broken: AtomicBool::new(false),
            stats,
            peer,
            config,
            spec,
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, LinkCore<Waiter, Instant>> {
        // The core is never left half-changed by a panic elsewhere: keep going.
        self.core.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The inbox's lock; with the core's, take the core's first.
    fn inbox(&self) -> MutexGuard<'_, Inbox<Waiter, Instant>> {
        self.inbox.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn is_down(&self) -> bool {
        self.down.load(Relaxed)
    }

    /// True if the link went down as broken (timeouts in a row, echo unanswered, a task panicked).
    pub(crate) fn is_broken(&self) -> bool {
        self.broken.load(Relaxed)
    }

    /// Hands out resolutions decided at `now` (after the lock was released).
    fn deliver(&self, out: &mut Vec<Resolution<Waiter>>, now: Instant) {
        if out.is_empty() {
            return;
        }
        self.stats.resolved.fetch_add(out.len() as u64, Relaxed);
        let now = now.into_std();
        for (mut waiter, outcome) in out.drain(..) {
            waiter.tracked.finish(&self.stats, &outcome, now);
            let _ = waiter.tx.send(outcome);
        }
        self.room_freed();
    }

    /// Room was given back: wakes the senders waiting for it. Sequentially consistent with the
    /// waiters' count and the room's own count, so that either a waiter sees the room given back
    /// or the one who gave it back sees the waiter.
    fn room_freed(&self) {
        if self.room_waiters.load(SeqCst) > 0 {
            self.room.notify_waiters();
        }
    }

    /// Registers `msg` and queues its frame; waits (within `deadline`) for
    /// room when the link has `max_in_flight` requests in flight.
    pub(crate) async fn submit(
        self: &Arc<Self>,
        msg: &mut Message,
        deadline: Instant,
        internal: bool,
        retry_of: Option<u64>,
    ) -> Result<PendingResponse, SendError> {
        let ticket = self
            .submit_from(Instant::now(), msg, deadline, internal, retry_of)
            .await?;
        Ok(PendingResponse {
            ticket: Some(ticket),
            shared: self.clone(),
        })
    }

    /// As [`Shared::submit`], for a caller that read the clock (`now`) just before, with no
    /// wait since: the first attempt takes that reading instead of a second one. The ticket
    /// borrows nothing: [`Waiting`] or [`PendingResponse`] waits on it.
    pub(crate) async fn submit_from(
        &self,
        now: Instant,
        msg: &mut Message,
        deadline: Instant,
        internal: bool,
        retry_of: Option<u64>,
    ) -> Result<Ticket, SendError> {
        let mut now = Some(now);
        loop {
            let max = match self.try_submit(now.take(), msg, deadline, internal, retry_of) {
                Err(SendError::NotSent(Cause::TooManyInFlight { max })) => max,
                other => return other,
            };
            // Full: wait for room (registered before looking again, so no wake-up is lost).
            let room = self.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            // A link that is down or closing says so at once, full or not (looked at after
            // registering: a close or a drop after this look wakes the wait).
            if let Some(cause) = self.inbox().refuses(internal) {
                return Err(SendError::NotSent(cause));
            }
            self.room_waiters.fetch_add(1, SeqCst);
            let again = self.try_submit(None, msg, deadline, internal, retry_of);
            let outcome = match again {
                Err(SendError::NotSent(Cause::TooManyInFlight { .. })) => {
                    tokio::time::timeout_at(deadline, room).await.map_err(|_| ())
                }
                other => {
                    self.room_waiters.fetch_sub(1, SeqCst);
                    return other;
                }
            };
            self.room_waiters.fetch_sub(1, SeqCst);
            if outcome.is_err() {
                return Err(SendError::NotSent(Cause::TooManyInFlight { max }));
            }
        }
    }

    /// One attempt at `now` (read here when `None`): prepares the request and queues it in the
    /// inbox, for the writer to admit. No lock of the link's core is taken.
    fn try_submit(
        &self,
        now: Option<Instant>,
        msg: &mut Message,
        deadline: Instant,
        internal: bool,
        retry_of: Option<u64>,
    ) -> Result<Ticket, SendError> {
        let now = now.unwrap_or_else(Instant::now);
        let queued = FRAME.with(|frame| {
            // Reserving the key and encoding the frame need no link state; the core decides
            // when it admits the request whatever happened meanwhile.
            let mut frame = frame.borrow_mut();
            let prepared = self
                .preparer
                .prepare(now, msg, deadline, retry_of, internal, &mut frame)?;
            let (key, id) = (prepared.key().clone(), prepared.id());
            let (tx, rx) = oneshot::channel();
            let waiter = Waiter {
                tx,
                tracked: self.stats.tracker(msg.mti(), now.into_std()),
            };
            let mut inbox = self.inbox();
            if let Some(cause) = inbox.refuses(internal) {
                drop(inbox);
                // A fresh reading: a window the request took over may have ended meanwhile (and
                // its entry been purged), and must not come back.
                self.preparer.undo(Instant::now(), prepared, msg);
                return Err(SendError::NotSent(cause));
            }
            let pushed = inbox.push(prepared, &frame, deadline, waiter);
            Ok((key, id, rx, pushed))
        });
        let (key, id, rx, pushed) = match queued {
            Ok(queued) => queued,
            Err(refused) => {
                // Room taken for it, if any, was given back: a sender waiting for room may go.
                if !matches!(refused.cause(), Cause::TooManyInFlight { .. }) {
                    self.room_freed();
                }
                return Err(refused);
            }
        };
        if pushed.wake_writer {
            self.wake_writer.notify_one();
        }
        if pushed.wake_timer {
            self.wake_timer.notify_one();
        }
        EndpointStats::bump(&self.stats.sent);
        self.stats.queued(msg.mti());
        debug!(peer = %self.peer, mti = %msg.mti(), stan = key.stan(), "request queued");
        Ok(Ticket { rx, key, id })
    }

    /// Requests in flight, those waiting in the inbox included.
    pub(crate) fn in_flight(&self) -> usize {
        let core = self.lock();
        core.in_flight() + self.inbox().len()
    }

    /// From now on the link takes only its own requests; those queued before are taken in.
    pub(crate) fn begin_close(&self) {
        let mut out = Vec::new();
        let (now, admitted) = {
            let mut core = self.lock();
            let now = Instant::now();
            (now, core.begin_close(now, &mut self.inbox(), &mut out))
        };
        self.after_admission(admitted);
        self.deliver(&mut out, now);
        // Senders waiting for room on a closing link are refused at once.
        self.room.notify_waiters();
    }

    /// What an admission of the inbox asks: the writer woken for frames put into an empty outbox,
    /// the timer for a new earliest deadline; requests whose deadline passed in the inbox counted.
    fn after_admission(&self, admitted: Admitted) {
        if admitted.wake_writer {
            self.wake_writer.notify_one();
        }
        if admitted.wake_timer {
            self.wake_timer.notify_one();
        }
        if admitted.timed_out > 0 {
            self.stats.timed_out.fetch_add(admitted.timed_out as u64, Relaxed);
        }
    }

    /// Takes the link down once: every request resolves, the tasks stop.
    pub(crate) fn go_down(&self, reason: String, broken: bool) {
        let mut out = Vec::new();
        let now = Instant::now();
        let (changed, in_flight) = {
            let mut core = self.lock();
            let mut inbox = self.inbox();
            let in_flight = core.in_flight() + inbox.len();
            (core.go_down(now, reason.clone(), &mut inbox, &mut out), in_flight)
        };
        if changed {
            self.down_effects(broken);
            if in_flight > 0 || broken {
                warn!(peer = %self.peer, in_flight, reason = %reason, "link down");
            } else {
                debug!(peer = %self.peer, reason = %reason, "link down");
            }
        }
        self.deliver(&mut out, now);
    }

    fn down_effects(&self, broken: bool) {
        self.down.store(true, Relaxed);
        self.cancel.cancel();
        self.wake_writer.notify_one();
        self.room.notify_waiters();
        if broken {
            self.broken.store(true, Relaxed);
            EndpointStats::bump(&self.stats.broken);
        }
    }

    /// Time to look at deadlines (and at the inbox); returns when to look next.
    fn on_time(&self) -> Option<Instant> {
        let mut out = Vec::new();
        let (now, expired, next) = {
            let mut core = self.lock();
            let now = Instant::now();
            let expired = core.on_time(now, &mut self.inbox(), &mut out);
            (now, expired, core.next_deadline())
        };
        if expired.wake_writer {
            self.wake_writer.notify_one();
        }
        let ended = expired.unknown + expired.not_sent;
        if ended > 0 {
            self.stats.timed_out.fetch_add(ended as u64, Relaxed);
            warn!(peer = %self.peer, written = expired.unknown, not_sent = expired.not_sent, "requests timed out");
        }
        if let Some(reason) = expired.down {
            self.down_effects(true);
            warn!(peer = %self.peer, reason = %reason, "link down");
        }
        self.deliver(&mut out, now);
        next
    }

    /// How long the host has sent no complete frame.
    pub(crate) fn idle_for(&self) -> Duration {
        let last = self.lock().last_frame_at();
        Instant::now().saturating_duration_since(last)
    }
}

/// Takes the link down when the task holding it ends, by return or by panic:
/// never a link that is handed out while nobody reads or writes it.
struct DownOnExit<'a> {
    shared: &'a Shared,
    task: &'static str,
}

impl Drop for DownOnExit<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.shared.go_down(format!("{} task panicked", self.task), true);
        } else if !self.shared.is_down() {
            self.shared.go_down(format!("{} task ended", self.task), false);
        }
    }
}

/// Counts what the reader drops, and logs it at a bounded rate.
struct DropLog {
    since: Instant,
    logged: u32,
    suppressed: u64,
}

impl DropLog {
    fn new() -> DropLog {
        DropLog {
            since: Instant::now(),
            logged: 0,
            suppressed: 0,
        }
    }

    /// True if this one may be logged; sums up the suppressed ones once per interval.
    fn allow(&mut self, peer: &str) -> bool {
        let now = Instant::now();
        if now.saturating_duration_since(self.since) >= LOG_INTERVAL {
            if self.suppressed > 0 {
                warn!(peer, suppressed = self.suppressed, interval = ?LOG_INTERVAL, "more dropped frames not logged one by one");
            }
            self.since = now;
            self.logged = 0;
            self.suppressed = 0;
        }
        if self.logged < LOG_BURST {
            self.logged += 1;
            true
        } else {
            self.suppressed += 1;
            false
        }
    }
}

/// Reads frames until the peer closes, the stream fails or the link goes down;
/// the frames of one read go through the core under one lock.
pub(crate) async fn read_loop<R: AsyncRead + Unpin>(shared: Arc<Shared>, mut read: R) {
    let _down = DownOnExit {
        shared: &shared,
        task: "reader",
    };
    let mut framing = shared.config.framing.clone();
    let mut buf = BytesMut::with_capacity(READ_BUFFER);
    // Headers apart from the frames and notes: a decoded message or a note moves inline (up to
    // 128 bytes), a pair with its header would need a call to `memcpy` at every move.
    let mut headers: Vec<Bytes> = Vec::new();
    let mut frames: Vec<Result<Message, CodecError>> = Vec::new();
    let mut notes: Vec<FrameNote> = Vec::new();
    let mut out = Vec::new();
    let mut log = DropLog::new();
    loop {
        if buf.capacity() - buf.len() < READ_BUFFER / 8 {
            buf.reserve(READ_BUFFER);
        }
        let got = tokio::select! {
            biased;
            _ = shared.cancel.cancelled() => return,
            got = read.read_buf(&mut buf) => got,
        };
        match got {
            Ok(0) => return shared.go_down("closed by host".into(), false),
            Ok(_) => {}
            Err(e) => return shared.go_down(format!("read failed: {e}"), false),
        }
        // The frames before an unreadable one are still handed over: their answers arrived.
        let mut unreadable = None;
        loop {
            match framing.decode(&mut buf) {
                Ok(Some(frame)) => {
                    headers.push(frame.header);
                    frames.push(shared.spec.decode_bytes(frame.message));
                }
                Ok(None) => break,
                Err(e) => {
                    unreadable = Some(format!("unreadable frame: {e}"));
                    break;
                }
            }
        }
        if !frames.is_empty() {
            let now = Instant::now();
            shared.lock().on_frames(now, frames.drain(..), &mut notes, &mut out);
            shared.deliver(&mut out, now);
            for (header, note) in headers.drain(..).zip(notes.drain(..)) {
                if !on_note(&shared, header, note, &mut log) {
                    return;
                }
            }
        }
        if let Some(reason) = unreadable {
            return shared.go_down(reason, false);
        }
    }
}

/// Counts and logs one frame's fate; answers host requests. False if the link went down.
fn on_note(shared: &Shared, header: Bytes, note: FrameNote, log: &mut DropLog) -> bool {
    let stats = &shared.stats;
    let peer = shared.peer.as_str();
    match note {
        FrameNote::Answered => EndpointStats::bump(&stats.answered),
        FrameNote::Late(msg) => {
            EndpointStats::bump(&stats.late);
            if log.allow(peer) {
                warn!(peer, %msg, "late response dropped");
            }
        }
        FrameNote::Duplicate(msg) => {
            EndpointStats::bump(&stats.duplicate);
            if log.allow(peer) {
                warn!(peer, %msg, "duplicate response dropped");
            }
        }
        FrameNote::Unmatched(msg) => {
            EndpointStats::bump(&stats.unmatched);
            if log.allow(peer) {
                warn!(peer, %msg, "response nobody waits for dropped");
            }
        }
        FrameNote::WrongMti { expected, msg } => {
            EndpointStats::bump(&stats.unmatched);
            if log.allow(peer) {
                warn!(peer, expected = %expected, %msg, "response MTI does not answer the request in flight; dropped");
            }
        }
        FrameNote::Undecodable { error, failed_request } => {
            EndpointStats::bump(&stats.undecodable);
            if log.allow(peer) {
                if failed_request {
                    warn!(peer, error = %error, "response undecodable; failed its request");
                } else {
                    warn!(peer, error = %error, "undecodable frame dropped");
                }
            }
        }
        FrameNote::HostRequest(msg) => return on_host_request(shared, &header, msg, log),
    }
    true
}

/// Runs the user's handler inline, on the reader task (it must be quick). A
/// panicking handler takes the link down.
fn on_host_request(shared: &Shared, header: &[u8], msg: Message, log: &mut DropLog) -> bool {
    EndpointStats::bump(&shared.stats.unsolicited);
    let handler = &shared.config.unsolicited;
    let reply = match std::panic::catch_unwind(AssertUnwindSafe(|| handler.handle(&msg))) {
        Ok(reply) => reply,
        Err(_) => {
            shared.go_down("unsolicited handler panicked".into(), true);
            return false;
        }
    };
    let Some(reply) = reply else {
        if log.allow(&shared.peer) {
            warn!(peer = %shared.peer, %msg, "host request not handled");
        }
        return true;
    };
    let tpdu = swap_tpdu(header);
    let header: &[u8] = match &tpdu {
        Some(t) => t,
        None => shared.config.framing.header(),
    };
    let queued = shared.lock().queue_reply(header, &reply);
    match queued {
        Ok(()) => shared.wake_writer.notify_one(),
        Err(e) => warn!(peer = %shared.peer, error = %e, "reply to host not queued"),
    }
    true
}

/// Writes whatever was queued since the last write, in one write call, and flushes.
pub(crate) async fn write_loop<W: AsyncWrite + Unpin>(shared: Arc<Shared>, mut write: W) {
    let _down = DownOnExit {
        shared: &shared,
        task: "writer",
    };
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let mut refused = Vec::new();
    loop {
        let (now, took, down, in_flight, admitted) = {
            let mut core = shared.lock();
            // Read under the lock: a deadline that passed while the writer waited for it counts.
            let now = Instant::now();
            // Under the core's lock, so that a request is always either in the inbox or in the
            // core for whoever looks (a cancel, the link going down).
            core.take_inbox(&mut shared.inbox());
            let admitted = core.admit_taken(now, &mut refused);
            let took = core.take_frames(&mut buf);
            (now, took, core.is_down(), core.in_flight(), admitted)
        };
        // The writer takes the frames it admitted itself, right below: it needs no wake-up.
        shared.after_admission(Admitted {
            wake_writer: false,
            ..admitted
        });
        shared.deliver(&mut refused, now);
        if down {
            break;
        }
        if !took {
            tokio::select! {
                _ = shared.cancel.cancelled() => break,
                _ = shared.wake_writer.notified() => {}
            }
            // With other requests in flight, let the senders that are ready run
            // first, so that one write carries all their frames.
            if in_flight > 1 {
                tokio::task::yield_now().await;
            }
            continue;
        }
        let written = tokio::select! {
            // A peer that stopped reading must not pin the writer once the link is down.
            _ = shared.cancel.cancelled() => break,
            written = async {
                write.write_all(&buf).await?;
                write.flush().await
            } => written,
        };
        if let Err(e) = written {
            shared.go_down(format!("write failed: {e}"), false);
            return;
        }
        buf.clear();
        if buf.capacity() > 1 << 20 {
            buf = BytesMut::with_capacity(16 * 1024);
        }
    }
    let _ = tokio::time::timeout(Duration::from_millis(100), write.shutdown()).await;
}

/// The link's one timer: sleeps to the earliest deadline in flight.
pub(crate) async fn timer_loop(shared: Arc<Shared>) {
    let _down = DownOnExit {
        shared: &shared,
        task: "timer",
    };
    loop {
        let next = shared.on_time();
        match next {
            Some(at) => tokio::select! {
                biased;
                _ = shared.cancel.cancelled() => return,
                _ = shared.wake_timer.notified() => {}
                _ = tokio::time::sleep_until(at) => {}
            },
            None => tokio::select! {
                biased;
                _ = shared.cancel.cancelled() => return,
                _ = shared.wake_timer.notified() => {}
            },
        }
    }
}

/// Sends an echo whenever the host has sent no complete frame for `idle`; an
/// echo that goes unanswered marks the link broken.
pub(crate) async fn keep_alive(shared: Arc<Shared>, idle: Duration) {
    let idle = idle.max(Duration::from_millis(10));
    loop {
        let wait = idle.saturating_sub(shared.idle_for()).max(Duration::from_millis(5));
        tokio::select! {
            _ = shared.cancel.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        if shared.idle_for() < idle {
            continue;
        }
        let mut echo = shared.config.echo.clone();
        let deadline = Instant::now().after(shared.config.echo_timeout);
        let outcome = match shared.submit(&mut echo, deadline, true, None).await {
            Ok(waiting) => waiting.response().await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(answer) => debug!(peer = %shared.peer, code = ?answer.response_code(), "echo answered"),
            Err(e) if shared.is_down() => {
                debug!(peer = %shared.peer, error = %e, "echo ended with the link");
                return;
            }
            Err(e) => {
                shared.go_down(format!("echo unanswered: {e}"), true);
                return;
            }
        }
    }
}

/// An accepted request: its answer's channel, its key and id. Whoever holds it waits on it
/// through [`Waiting`], which cancels the request if dropped before the outcome.
pub(crate) struct Ticket {
    rx: oneshot::Receiver<Reply>,
    key: MatchKey,
    id: u64,
}

/// Waits for a [`Ticket`]'s outcome on a link it borrows (no reference count taken per request:
/// one count bumped by every sender on every core would bounce between them). Dropping it
/// before the outcome cancels the request: if its frame was not written yet it never will be;
/// otherwise its key stays unresolved until the late answer or the late window.
pub(crate) struct Waiting<'a> {
    ticket: Option<Ticket>,
    shared: &'a Shared,
}

impl<'a> Waiting<'a> {
    pub(crate) fn new(ticket: Ticket, shared: &'a Shared) -> Waiting<'a> {
        Waiting {
            ticket: Some(ticket),
            shared,
        }
    }

    /// Waits for the outcome: the response, or the error the link decided (a link dropped
    /// without deciding, or no ticket: outcome unknown).
    pub(crate) async fn response(mut self) -> Result<Message, SendError> {
        let reply = match self.ticket.as_mut() {
            Some(ticket) => (&mut ticket.rx).await.ok(),
            None => None,
        };
        self.ticket = None;
        reply.unwrap_or_else(|| Err(SendError::OutcomeUnknown(Cause::LinkDown("link dropped".into()))))
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let Some(ticket) = self.ticket.take() else { return };
        let mut out = Vec::new();
        let now = Instant::now();
        {
            let mut core = self.shared.lock();
            core.cancel(now, &ticket.key, ticket.id, &mut self.shared.inbox(), &mut out);
        }
        self.shared.deliver(&mut out, now);
    }
}

/// A request on its way; [`PendingResponse::response`] waits for the answer.
/// Dropping it cancels the request: if its frame was not written yet it never
/// will be; otherwise its key stays unresolved until the late answer or the
/// late window.
#[must_use = "dropping a PendingResponse abandons the request's answer"]
pub struct PendingResponse {
    ticket: Option<Ticket>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for PendingResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingResponse")
            .field("stan", &self.stan())
            .field("peer", &self.shared.peer)
            .finish_non_exhaustive()
    }
}

impl PendingResponse {
    /// The STAN the request went out with.
    pub fn stan(&self) -> u32 {
        self.ticket.as_ref().map_or(0, |t| t.key.stan())
    }

    /// The request's id (unique in its client), for a retry of it.
    pub(crate) fn id(&self) -> u64 {
        self.ticket.as_ref().map_or(0, |t| t.id)
    }

    /// Waits for the outcome: the response, or the error the link decided
    /// (timeout at the deadline, link down, undecodable answer).
    pub async fn response(mut self) -> Result<Message, SendError> {
        let waiting = Waiting {
            ticket: self.ticket.take(),
            shared: &self.shared,
        };
        waiting.response().await
    }
}

impl Drop for PendingResponse {
    fn drop(&mut self) {
        drop(Waiting {
            ticket: self.ticket.take(),
            shared: &self.shared,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_flooding_host_gets_a_bounded_number_of_log_lines_per_interval() {
        let mut log = DropLog::new();
        let logged = (0..10_000).filter(|_| log.allow("host")).count();
        assert_eq!(logged, LOG_BURST as usize);
        assert_eq!(log.suppressed, 10_000 - u64::from(LOG_BURST));
        tokio::time::advance(LOG_INTERVAL).await;
        assert!(log.allow("host"), "a new interval logs again (after one summary line)");
        assert_eq!(log.suppressed, 0);
    }
}
