//! The state one link shares between its tasks and its senders: the pending
//! map, the output buffer, and the rules that take the link down.
//!
//! Senders call [`Link::dispatch`] (register, encode into the output buffer,
//! wake the writer); the reader calls [`Link::pair`]; anything that finds the
//! link dead calls [`Link::go_down`], which resolves every request in flight.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::BytesMut;
use tokio::sync::{oneshot, Notify, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::config::ConnectionConfig;
use super::error::{Cause, SendError};
use super::pending::{AnsweredKeys, Deadlines, Entry, LateKeys, MatchKey, Pending, Register, Reply, StanSequence};
use super::stats::EndpointStats;
use super::waiting::{EntryGuard, PendingResponse};
use crate::{Message, Spec};

/// State shared by a link's tasks and its senders.
pub(crate) struct Link {
    state: Mutex<State>,
    pub(crate) wake_writer: Notify,
    /// Wakes the sweeper when a deadline comes before the one it sleeps to.
    pub(crate) wake_sweeper: Notify,
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
    /// Deadlines of the requests in flight, for the sweeper.
    pub(crate) deadlines: Deadlines,
    /// Keys answered recently, to tell a duplicate answer from an unknown one.
    answered: AnsweredKeys,
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

impl Link {
    pub(crate) fn new(
        peer: String,
        spec: Arc<Spec>,
        config: Arc<ConnectionConfig>,
        stans: Arc<StanSequence>,
        stats: Arc<EndpointStats>,
    ) -> Link {
        Link {
            state: Mutex::new(State {
                pending: Pending::new(),
                late: LateKeys::new(config.late_memory),
                deadlines: Deadlines::new(),
                answered: AnsweredKeys::new(config.late_memory),
                out: BytesMut::with_capacity(16 * 1024),
                out_permits: 0,
                queued_seq: 0,
                taken_seq: 0,
                down: None,
            }),
            wake_writer: Notify::new(),
            wake_sweeper: Notify::new(),
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
        }
    }

    /// From now on the link takes no new requests (internal ones, like the sign-off, excepted).
    pub(crate) fn stop_taking_requests(&self) {
        // Stored before any later lock, so a sender registering after the
        // closer counted the requests in flight sees it (see `dispatch`).
        self.closing.store(true, Relaxed);
    }

    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Relaxed)
    }

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
        // The link's own requests keep a timer of their own: their deadline
        // must be met even when the caller's is the same instant.
        let swept = (!internal).then_some(deadline);
        let (key, id, wake_sweeper) = {
            let mut guard = self.lock();
            let st = &mut *guard;
            if let Some(reason) = &st.down {
                return Err(SendError::NotSent(Cause::LinkDown(reason.clone())));
            }
            if !internal && self.closing.load(Relaxed) {
                return Err(SendError::NotSent(Cause::Closing));
            }
            let seq = st.queued_seq + 1;
            let entry = Entry {
                tx,
                expect,
                id: 0,
                seq,
                deadline: swept,
            };
            let (key, id) = match st.pending.register(msg, &self.config.match_fields, &self.stans, entry) {
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
            let wake_sweeper = !internal && st.deadlines.note(deadline);
            (key, id, wake_sweeper)
        };
        permit.forget();
        self.wake_writer.notify_one();
        if wake_sweeper {
            self.wake_sweeper.notify_one();
        }
        EndpointStats::bump(&self.stats.sent);
        self.stats.in_flight.fetch_add(1, Relaxed);
        debug!(peer = %self.peer, mti = %mti, stan = key.stan(), "request queued");
        Ok(PendingResponse {
            rx,
            own_timer: internal.then_some(deadline),
            entry: EntryGuard {
                link: self.clone(),
                key,
                id,
                armed: true,
            },
        })
    }

    /// Fails every request whose deadline has passed with `Timeout` (outcome
    /// unknown: its frame is queued and will go out, see
    /// `PendingResponse::timed_out`), keeps its key as late, and takes the
    /// link down after too many in a row. Returns when to look next (`None`:
    /// when told).
    pub(crate) fn expire_deadlines(&self) -> Option<Instant> {
        let now = Instant::now();
        let (expired, next) = {
            let mut guard = self.lock();
            let st = &mut *guard;
            let expired = st.deadlines.expire(now, &mut st.pending);
            for (key, _) in &expired {
                st.late.insert(key.clone());
            }
            (expired, st.deadlines.sweep_at)
        };
        for (key, entry) in expired {
            let _ = entry.tx.send(Err(self.timed_out(key.stan())));
        }
        next
    }

    /// Counts a request that timed out (its entry already taken out) and
    /// takes the link down after too many in a row; the request's error.
    pub(crate) fn timed_out(&self, stan: u32) -> SendError {
        EndpointStats::bump(&self.stats.timed_out);
        let in_a_row = self.consecutive_timeouts.fetch_add(1, Relaxed) + 1;
        let max = self.config.max_consecutive_timeouts;
        warn!(peer = %self.peer, stan, in_a_row, "request timed out");
        if max > 0 && in_a_row >= max {
            self.go_down(format!("{in_a_row} requests timed out in a row"), true);
        }
        SendError::OutcomeUnknown(Cause::Timeout)
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
                    Some(entry) => {
                        st.answered.insert(key);
                        Pairing::Answer(entry.tx, msg)
                    }
                    None => Pairing::Unknown(msg),
                },
                Some(mti) => Pairing::WrongMti(mti, msg),
                None if st.late.take(&key) => {
                    st.answered.insert(key); // a second copy is a duplicate
                    Pairing::Late(msg)
                }
                None if st.answered.contains(&key) => Pairing::Duplicate(msg),
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
    pub(crate) fn restore_entry(&self, key: MatchKey, entry: Entry) {
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
    /// Its request was answered already: the host sent it twice.
    Duplicate(Message),
    /// Nobody ever waited for it (unknown key).
    Unknown(Message),
}

/// What the reader found for a response's key.
pub(crate) enum Taken {
    Waiting(Entry),
    Late,
    Unknown,
}
