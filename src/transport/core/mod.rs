//! The protocol core of one link: no tokio, no sockets, the only owner of a
//! link's state and of every decision about it.
//!
//! Like quinn-proto's connection, it has three kinds of methods:
//! - mutators for what a caller asks: a request is prepared without the link's lock
//!   ([`Preparer::prepare`]: room, key in the client-wide registry, frame), queued in the link's
//!   [`Inbox`] (under a lock of its own), and taken in by [`LinkCore::admit`] (or
//!   [`LinkCore::take_inbox`] and [`LinkCore::admit_taken`]), which decides through
//!   [`LinkCore::commit`]; then [`LinkCore::cancel`], [`LinkCore::begin_close`],
//!   [`LinkCore::queue_reply`];
//! - handlers for what arrives: [`LinkCore::on_frames`] (the frames of one read),
//!   [`LinkCore::on_time`] (which admits the inbox too),
//!   [`LinkCore::go_down`];
//! - polls for what the driver must do next: [`LinkCore::take_frames`] (bytes
//!   to write) and [`LinkCore::next_deadline`] (when to call `on_time`).
//!
//! Every method that ends requests pushes a [`Resolution`] (waiter, outcome)
//! per request into the caller's vector; the driver hands them out after it
//! released its lock, so no user code runs under it. Time is an argument
//! (`now`), never read inside, so the tests drive it with a fake clock.
//!
//! The one rule for "not sent" versus "outcome unknown": a request is not sent
//! exactly while its frame has not been taken by the writer (in the inbox, or in the outbox).
//! At its deadline, on cancellation or when the link drops, an untaken request leaves the inbox
//! or its frame is cut out of the outbox, and it resolves *not sent*; a taken one resolves
//! *outcome unknown*, and its key stays unresolved in the client-wide [`KeyRegistry`]
//! until its late answer comes or the late window passes.

mod deadlines;
mod inbox;
pub(crate) mod keys;
#[cfg(test)]
mod model;
mod outbox;
pub(crate) mod padded;
#[cfg(test)]
mod tests;

use std::collections::hash_map::Entry;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;

use self::deadlines::Deadlines;
use self::inbox::{Batch, Queued};
pub(crate) use self::inbox::{Inbox, Room};
use self::keys::{AnsweredKeys, KeyMap, KeyRegistry, MatchKey};
use self::outbox::Outbox;
use super::error::{Cause, SendError};
use super::framing::Framing;
use crate::{CodecError, Message, Mti, Spec};

/// A point in time the core can compare and move forward (tokio's `Instant`
/// in the driver, a plain number in tests).
pub(crate) trait Moment: Copy + Ord + std::fmt::Debug + Send + Sync + 'static {
    /// `self + d`, saturating far in the future instead of overflowing.
    fn after(self, d: Duration) -> Self;
}

impl Moment for tokio::time::Instant {
    fn after(self, d: Duration) -> Self {
        self.checked_add(d)
            .or_else(|| self.checked_add(Duration::from_secs(100 * 365 * 86_400)))
            .unwrap_or(self)
    }
}

/// Milliseconds on a fake clock.
impl Moment for u64 {
    fn after(self, d: Duration) -> Self {
        self.saturating_add(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

/// The bounds of one link.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Requests in flight on the link at most (internal ones excepted).
    pub(crate) max_in_flight: usize,
    /// Keys remembered per link to tell a late or duplicate answer from an unknown one.
    pub(crate) late_memory: usize,
    /// Timeouts in a row (written or still queued) that take the link down; 0: never.
    pub(crate) max_consecutive_timeouts: u32,
    /// Bytes of replies to the host that may wait in the outbox.
    pub(crate) max_reply_backlog: usize,
    /// How much later than its deadline a request may time out (the driver: the timer's
    /// resolution, one millisecond; the tests: zero, exactly on time).
    pub(crate) deadline_slack: Duration,
}

/// Where a link is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LinkState {
    /// Takes requests.
    Up,
    /// Takes only the link's own requests (sign-off); those in flight go on.
    Closing,
    /// Gone; the reason.
    Down(String),
}

/// A request ended: its waiter and what to hand it.
pub(crate) type Resolution<W> = (W, Result<Message, SendError>);

/// What taking a request in asks of the driver.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Accepted {
    /// True if its frame went into an empty outbox: the writer must be woken. Into a non-empty
    /// one, the frames before it already woke the writer, whose next take (not yet done: they
    /// are still queued) takes this one too.
    pub(crate) wake_writer: bool,
    /// True if its deadline is now the link's earliest: the timer must be woken.
    pub(crate) wake_timer: bool,
}

/// A request [`LinkCore::submit`] took: its key (with the STAN it goes out with) and its id.
#[cfg(test)]
#[derive(Debug, Clone)]
pub(crate) struct Submitted {
    pub(crate) key: MatchKey,
    pub(crate) id: u64,
}

/// What became of one frame from the host (the driver counts and logs it).
#[derive(Debug)]
pub(crate) enum FrameNote {
    /// Paired with its request (resolved).
    Answered,
    /// Its request had ended with an unknown outcome: dropped.
    Late(Message),
    /// Its request was answered already: the host sent it twice.
    Duplicate(Message),
    /// Nobody waits for it (unknown key, or no usable STAN, or no known function).
    Unmatched(Message),
    /// A request with this key waits for another MTI; it keeps waiting.
    WrongMti { expected: Mti, msg: Message },
    /// A request from the host, for the unsolicited handler.
    HostRequest(Message),
    /// Not decodable; `failed_request`: its key was readable and its caller was failed.
    Undecodable { error: CodecError, failed_request: bool },
}

/// What [`LinkCore::on_time`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Expired {
    /// Requests whose frame was written: outcome unknown.
    pub(crate) unknown: usize,
    /// Requests whose frame was cut before the writer took it: not sent.
    pub(crate) not_sent: usize,
    /// The link went down because too many timed out in a row.
    pub(crate) down: Option<String>,
    /// Requests admitted from the inbox went into an empty outbox: the writer must take them.
    pub(crate) wake_writer: bool,
}

struct Slot<W, T> {
    id: u64,
    mti: Mti,
    expect: Mti,
    /// Position of the request's frame in the outgoing stream.
    seq: u64,
    deadline: T,
    internal: bool,
    /// A repeat or retry that took over its transaction's unresolved key: the original's
    /// answer answers it too, even before its own frame is written.
    took_over: bool,
    waiter: W,
}

/// Keys of this link's requests that ended with an unknown outcome, to tell a
/// late answer (which also frees the key in the registry) from an unknown one.
struct LateKeys<T> {
    /// Key → (token in the registry, the response MTI it waits for).
    map: KeyMap<(u64, Mti)>,
    order: VecDeque<(T, MatchKey, u64)>,
    cap: usize,
}

impl<T: Moment> LateKeys<T> {
    fn insert(&mut self, until: T, key: MatchKey, token: u64, expect: Mti) {
        if self.cap == 0 {
            return;
        }
        self.map.insert(key.clone(), (token, expect));
        self.order.push_back((until, key, token));
        while self.order.len() > self.cap {
            self.pop_front();
        }
    }

    fn pop_front(&mut self) {
        if let Some((_, key, token)) = self.order.pop_front() {
            if self.map.get(&key).is_some_and(|(t, _)| *t == token) {
                self.map.remove(&key);
            }
        }
    }

    fn purge(&mut self, now: T) {
        while self.order.front().is_some_and(|(until, _, _)| *until <= now) {
            self.pop_front();
        }
    }
}

/// A request the client-wide registry admitted and whose frame is encoded, not yet on a link:
/// [`LinkCore::commit`] queues it or refuses it (giving its key back).
#[derive(Debug)]
#[must_use = "a prepared request holds its key until committed"]
pub(crate) struct Prepared {
    key: MatchKey,
    id: u64,
    took_over: bool,
    mti: Mti,
    expect: Mti,
    /// The registry filled DE 11 (removed again if the request is refused before it is queued).
    assigned_stan: bool,
    /// The link's own request (sign-on, echo, sign-off): taken while closing, and takes no room.
    internal: bool,
}

impl Prepared {
    /// Its match key (with the STAN it goes out with).
    pub(crate) fn key(&self) -> &MatchKey {
        &self.key
    }

    /// Its id, unique in the client.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }
}

/// Step one of a submit, with no link state, run outside the link's lock: what a link shares
/// with it (the client-wide registry, the spec, the framing, the match fields).
#[derive(Clone)]
pub(crate) struct Preparer<T> {
    keys: Arc<KeyRegistry<T>>,
    room: Arc<Room>,
    max_in_flight: usize,
    spec: Arc<Spec>,
    framing: Framing,
    match_fields: Vec<u8>,
}

impl<T: Moment> Preparer<T> {
    /// Refuses a deadline already passed, a message that is not a request, or a caller's request
    /// when the link has `max_in_flight` (then the caller may wait for [`Room`]); takes room for
    /// a caller's request (`internal`: the link's own, which takes none), reserves the
    /// message's key in the client-wide registry (filling DE 11 with a free STAN when absent)
    /// and encodes its frame into `frame` (emptied first). On any refusal nothing stays
    /// reserved.
    pub(crate) fn prepare(
        &self,
        now: T,
        msg: &mut Message,
        deadline: T,
        retry_of: Option<u64>,
        internal: bool,
        frame: &mut BytesMut,
    ) -> Result<Prepared, SendError> {
        let refuse = |cause| Err(SendError::NotSent(cause));
        if deadline <= now {
            return refuse(Cause::Timeout);
        }
        let mti = msg.mti();
        let Some(expect) = mti.response() else {
            return refuse(Cause::NotARequest(mti));
        };
        if !internal && !self.room.try_take() {
            return refuse(Cause::TooManyInFlight {
                max: self.max_in_flight,
            });
        }
        let reserved = self.keys.reserve(now, msg, &self.match_fields, retry_of);
        let (key, id, took_over, assigned_stan) = match reserved {
            Ok(reserved) => reserved,
            Err(cause) => {
                if !internal {
                    self.room.give_back();
                }
                return refuse(cause);
            }
        };
        frame.clear();
        let start = self.framing.begin_frame(frame);
        let encoded = self
            .spec
            .encode_into(msg, frame)
            .map_err(Cause::Encode)
            .and_then(|()| self.framing.finish_frame(frame, start).map_err(Cause::from));
        let prepared = Prepared {
            key,
            id,
            took_over,
            mti,
            expect,
            assigned_stan,
            internal,
        };
        match encoded {
            Ok(()) => Ok(prepared),
            Err(cause) => {
                self.undo(now, prepared, msg);
                refuse(cause)
            }
        }
    }

    /// Gives back what a prepared request holds (its key, its room) and the STAN the registry
    /// filled in `msg`: it was refused before it was queued.
    pub(crate) fn undo(&self, now: T, prepared: Prepared, msg: &mut Message) {
        if prepared.assigned_stan {
            msg.remove(11);
        }
        give_back(&self.keys, &self.room, now, &prepared);
    }
}

/// Gives back a request's key and room: it ended before its frame was taken, or was never queued.
fn give_back<T: Moment>(keys: &KeyRegistry<T>, room: &Room, now: T, prepared: &Prepared) {
    keys.release(now, &prepared.key, prepared.id);
    if !prepared.internal {
        room.give_back();
    }
}

/// What [`LinkCore::admit`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Admitted {
    /// Frames went into an empty outbox: the writer must take them.
    pub(crate) wake_writer: bool,
    /// A deadline became the link's earliest: the timer must be woken.
    pub(crate) wake_timer: bool,
    /// Requests refused because their deadline passed while they waited to be admitted.
    pub(crate) timed_out: usize,
}

/// One link's state: requests in flight, late and answered keys, the outbox,
/// the deadline index and the link's state. `W` is the waiter handed back in
/// resolutions, `T` the clock.
pub(crate) struct LinkCore<W, T: Moment> {
    state: LinkState,
    spec: Arc<Spec>,
    framing: Framing,
    match_fields: Vec<u8>,
    limits: Limits,
    keys: Arc<KeyRegistry<T>>,
    room: Arc<Room>,
    late_window: Duration,
    pending: KeyMap<Slot<W, T>>,
    deadlines: Deadlines<T>,
    late: LateKeys<T>,
    answered: AnsweredKeys,
    /// Keys answered in the current read, leaving the registry at its end (see `on_frames`).
    released: Vec<(MatchKey, u64)>,
    /// Requests taken from the inbox and being admitted (empty between admissions, unless a
    /// panic cut one short: the link going down then resolves what is left here).
    admitting: Batch<W, T>,
    /// The frame being admitted, copied out of `admitting` (reused).
    frame_copy: Vec<u8>,
    outbox: Outbox,
    /// Sequence number of the last frame queued.
    queued_seq: u64,
    /// Sequence number of the last frame the writer took.
    taken_seq: u64,
    consecutive_timeouts: u32,
    last_frame_at: T,
}

impl<W, T: Moment> LinkCore<W, T> {
    /// A link that is up, sharing `keys` with the other links of its client.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        spec: Arc<Spec>,
        framing: Framing,
        match_fields: Vec<u8>,
        limits: Limits,
        keys: Arc<KeyRegistry<T>>,
        late_window: Duration,
        now: T,
    ) -> Self {
        LinkCore {
            state: LinkState::Up,
            spec,
            framing,
            match_fields,
            limits,
            keys,
            room: Arc::new(Room::new(limits.max_in_flight)),
            late_window,
            pending: KeyMap::default(),
            deadlines: Deadlines::new(limits.deadline_slack),
            late: LateKeys {
                map: KeyMap::default(),
                order: VecDeque::new(),
                cap: limits.late_memory,
            },
            answered: AnsweredKeys::new(limits.late_memory),
            released: Vec::new(),
            admitting: Batch::default(),
            frame_copy: Vec::new(),
            outbox: Outbox::new(),
            queued_seq: 0,
            taken_seq: 0,
            consecutive_timeouts: 0,
            last_frame_at: now,
        }
    }

    // ---- getters -------------------------------------------------------

    /// Where the link is in its life.
    pub(crate) fn state(&self) -> &LinkState {
        &self.state
    }

    /// True once the link is down.
    pub(crate) fn is_down(&self) -> bool {
        matches!(self.state, LinkState::Down(_))
    }

    /// Requests in flight (internal ones included), not counting those still in the inbox.
    pub(crate) fn in_flight(&self) -> usize {
        self.pending.len()
    }

    /// When [`LinkCore::on_time`] must next be called; `None`: no deadline pending.
    pub(crate) fn next_deadline(&self) -> Option<T> {
        self.deadlines.next()
    }

    /// When the last complete frame arrived (or the link came up).
    pub(crate) fn last_frame_at(&self) -> T {
        self.last_frame_at
    }

    // ---- mutators ------------------------------------------------------

    /// Takes a request in one step: refuses it (not sent, with the reason) or
    /// reserves its key, encodes its frame into the outbox and registers
    /// `waiter`. A missing DE 11 is filled with a free STAN. `internal`: the
    /// link's own request (sign-on, echo, sign-off), taken while closing and
    /// beyond `max_in_flight`. `retry_of`: the id of the earlier attempt this
    /// one retries (its key may be unresolved). The driver takes the same steps with the
    /// encoding outside the link's lock: [`Preparer::prepare`], [`Inbox::push`], then
    /// [`LinkCore::admit`].
    #[cfg(test)]
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn submit(
        &mut self,
        now: T,
        msg: &mut Message,
        deadline: T,
        internal: bool,
        retry_of: Option<u64>,
        waiter: W,
    ) -> Result<Submitted, SendError> {
        // The link's own refusals first (in the order a caller is told: down, closing, a
        // deadline passed, not a request, full): a request the link cannot take takes no key.
        self.admits_state(internal)?;
        let mut frame = BytesMut::new();
        let prepared = self
            .preparer()
            .prepare(now, msg, deadline, retry_of, internal, &mut frame)?;
        let (assigned, key, id) = (prepared.assigned_stan, prepared.key.clone(), prepared.id);
        match self.commit(now, prepared, &frame, deadline, waiter) {
            Ok(_) => Ok(Submitted { key, id }),
            Err((refused, _)) => {
                if assigned {
                    msg.remove(11);
                }
                Err(refused)
            }
        }
    }

    /// What [`Preparer::prepare`] needs of this link, to run without its lock.
    pub(crate) fn preparer(&self) -> Preparer<T> {
        Preparer {
            keys: self.keys.clone(),
            room: self.room.clone(),
            max_in_flight: self.limits.max_in_flight,
            spec: self.spec.clone(),
            framing: self.framing.clone(),
            match_fields: self.match_fields.clone(),
        }
    }

    /// Refuses a request when the link is down, or closing (a caller's request).
    fn admits_state(&self, internal: bool) -> Result<(), SendError> {
        match &self.state {
            LinkState::Down(reason) => Err(SendError::NotSent(Cause::LinkDown(reason.clone()))),
            LinkState::Closing if !internal => Err(SendError::NotSent(Cause::Closing)),
            _ => Ok(()),
        }
    }

    /// Takes in every request queued in `inbox`, in order, each as [`LinkCore::commit`] decides;
    /// the refused ones resolve in `out`. A deadline that passed while its request waited to be
    /// admitted counts as a timeout of the link (it did not carry the request in time). The
    /// inbox's lock may be let go once [`LinkCore::take_inbox`] moved its requests here:
    /// `take_inbox` then `admit`, under the core's lock.
    pub(crate) fn admit(&mut self, now: T, inbox: &mut Inbox<W, T>, out: &mut Vec<Resolution<W>>) -> Admitted {
        self.take_inbox(inbox);
        self.admit_taken(now, out)
    }

    /// Moves the requests queued in `inbox` into the core, for [`LinkCore::admit_taken`].
    pub(crate) fn take_inbox(&mut self, inbox: &mut Inbox<W, T>) {
        inbox.take(&mut self.admitting);
    }

    /// The second half of [`LinkCore::admit`], once the inbox's lock is let go.
    pub(crate) fn admit_taken(&mut self, now: T, out: &mut Vec<Resolution<W>>) -> Admitted {
        let mut admitted = Admitted::default();
        // Each frame is copied out to be read while the core changes; a request is taken off the
        // queue only as it is committed, and the queue keeps its frames (a panic leaves the rest,
        // whole, for `go_down`).
        let mut frame = std::mem::take(&mut self.frame_copy);
        while let Some(queued) = self.admitting.queued.pop_front() {
            frame.clear();
            let range = queued.start..queued.start + queued.len;
            frame.extend_from_slice(self.admitting.frames.get(range).unwrap_or_default());
            match self.commit(now, queued.prepared, &frame, queued.deadline, queued.waiter) {
                Ok(accepted) => {
                    admitted.wake_writer |= accepted.wake_writer;
                    admitted.wake_timer |= accepted.wake_timer;
                }
                Err((refused, waiter)) => {
                    if matches!(refused.cause(), Cause::Timeout) {
                        admitted.timed_out += 1;
                        self.consecutive_timeouts = self.consecutive_timeouts.saturating_add(1);
                    }
                    out.push((waiter, Err(refused)));
                }
            }
        }
        self.frame_copy = frame;
        self.admitting.frames.clear();
        admitted
    }

    /// Takes in one prepared request: refuses it when the link cannot take it now (down,
    /// closing, its deadline passed), giving back its key and room and handing back its waiter;
    /// otherwise queues `frame` (encoded by [`Preparer::prepare`]) and registers `waiter`.
    /// Whatever happened since it was prepared (answers, deadlines, the writer taking frames, the
    /// link dropping) is decided here.
    pub(crate) fn commit(
        &mut self,
        now: T,
        prepared: Prepared,
        frame: &[u8],
        deadline: T,
        waiter: W,
    ) -> Result<Accepted, (SendError, W)> {
        let admitted = self.admits_state(prepared.internal).and_then(|()| {
            if deadline <= now {
                Err(SendError::NotSent(Cause::Timeout))
            } else {
                Ok(())
            }
        });
        if let Err(refused) = admitted {
            give_back(&self.keys, &self.room, now, &prepared);
            return Err((refused, waiter));
        }
        let Prepared {
            key,
            id,
            took_over,
            mti,
            expect,
            internal,
            ..
        } = prepared;
        let seq = self.queued_seq + 1;
        let wake_writer = self.outbox.is_empty();
        self.outbox
            .push(seq, |out| {
                out.extend_from_slice(frame);
                Ok::<(), ()>(())
            })
            .ok();
        self.queued_seq = seq;
        let wake_timer = self.deadlines.insert(deadline, id, key.clone());
        let slot = Slot {
            id,
            mti,
            expect,
            seq,
            deadline,
            internal,
            took_over,
            waiter,
        };
        self.pending.insert(key, slot);
        Ok(Accepted {
            wake_writer,
            wake_timer,
        })
    }

    /// The caller of request `id` (key `key`) gave up: it resolves (not sent if it was still
    /// in the inbox, which it leaves, or its frame was still queued, which is then cut; outcome
    /// unknown otherwise). Nothing happens if it ended already.
    pub(crate) fn cancel(
        &mut self,
        now: T,
        key: &MatchKey,
        id: u64,
        inbox: &mut Inbox<W, T>,
        out: &mut Vec<Resolution<W>>,
    ) {
        if self.pending.get(key).is_some_and(|s| s.id == id) {
            self.end(now, key, Cause::Cancelled, out);
        } else if let Some(queued) = inbox.withdraw(id) {
            self.refuse_queued(now, queued, Cause::Cancelled, out);
        }
    }

    /// From now on the link takes only its own requests. Those already in the inbox came
    /// before the close: they are taken in first (refused only as any admission may refuse).
    pub(crate) fn begin_close(&mut self, now: T, inbox: &mut Inbox<W, T>, out: &mut Vec<Resolution<W>>) -> Admitted {
        let admitted = self.admit(now, inbox, out);
        if self.state == LinkState::Up {
            self.state = LinkState::Closing;
        }
        inbox.closing = true;
        admitted
    }

    /// Queues a reply to a host request (not tracked). Refused when the link
    /// is down or the replies waiting exceed the backlog limit.
    pub(crate) fn queue_reply(&mut self, header: &[u8], reply: &Message) -> Result<(), String> {
        if self.is_down() {
            return Err("link is down".into());
        }
        if self.outbox.bytes() > self.limits.max_reply_backlog {
            return Err("writer backlog full".into());
        }
        let seq = self.queued_seq + 1;
        let (spec, framing) = (&self.spec, &self.framing);
        self.outbox.push(seq, |out| {
            let mut body = BytesMut::new();
            spec.encode_into(reply, &mut body).map_err(|e| e.to_string())?;
            framing
                .write_frame_with_header(header, &body, out)
                .map_err(|e| e.to_string())
        })?;
        self.queued_seq = seq;
        Ok(())
    }

    // ---- polls ---------------------------------------------------------

    /// Moves the queued frames into `into` for the writer; from now on their
    /// requests count as written. False if there was nothing to take.
    pub(crate) fn take_frames(&mut self, into: &mut BytesMut) -> bool {
        if self.is_down() {
            into.clear();
            return false;
        }
        match self.outbox.take(into) {
            Some(last) => {
                self.taken_seq = last;
                !into.is_empty()
            }
            None => false,
        }
    }

    // ---- handlers ------------------------------------------------------

    /// A complete frame arrived, decoded or not.
    #[cfg(test)]
    pub(crate) fn on_frame(
        &mut self,
        now: T,
        frame: Result<Message, CodecError>,
        out: &mut Vec<Resolution<W>>,
    ) -> FrameNote {
        let mut notes = Vec::with_capacity(1);
        self.on_frames(now, std::iter::once(frame), &mut notes, out);
        notes.pop().expect("a note per frame")
    }

    /// The complete frames of one read arrived, decoded or not, in order: a note for each goes
    /// to `notes`. The keys they free leave the client's registry together, at the end (one
    /// lock of the registry per read, not per answer); their callers get the answers only after
    /// (the resolutions in `out` are handed out once the core's lock is released), so none of
    /// them can find its key still held.
    pub(crate) fn on_frames(
        &mut self,
        now: T,
        frames: impl IntoIterator<Item = Result<Message, CodecError>>,
        notes: &mut Vec<FrameNote>,
        out: &mut Vec<Resolution<W>>,
    ) {
        for frame in frames {
            let note = self.one_frame(now, frame, out);
            notes.push(note);
        }
        self.keys.release_all(now, &mut self.released);
    }

    fn one_frame(&mut self, now: T, frame: Result<Message, CodecError>, out: &mut Vec<Resolution<W>>) -> FrameNote {
        self.last_frame_at = now;
        let msg = match frame {
            Ok(msg) => msg,
            Err(error) => return self.on_undecodable(now, error, out),
        };
        let mti = msg.mti();
        if mti.is_request() {
            return FrameNote::HostRequest(msg);
        }
        if !mti.is_response() {
            return FrameNote::Unmatched(msg);
        }
        let Some(key) = MatchKey::of(&msg, &self.match_fields) else {
            return FrameNote::Unmatched(msg);
        };
        let taken_seq = self.taken_seq;
        // One look-up on the hot path: the entry is taken out only when this is its answer.
        let key = match self.pending.entry(key) {
            // Not written yet: this cannot be its answer (a duplicate or stray copy of an
            // earlier request's), unless it repeats a transaction whose original was written.
            Entry::Occupied(e) if e.get().seq > taken_seq && !e.get().took_over => return FrameNote::Unmatched(msg),
            Entry::Occupied(e) if e.get().expect != mti => {
                return FrameNote::WrongMti {
                    expected: e.get().expect,
                    msg,
                }
            }
            Entry::Occupied(e) => {
                let (key, slot) = e.remove_entry();
                self.forget(&slot);
                // A repeat answered by its original's late answer before the
                // writer took it: it no longer needs to go out.
                if slot.seq > taken_seq {
                    self.outbox.cut(slot.seq);
                }
                self.answered.insert(&key);
                self.released.push((key, slot.id));
                self.consecutive_timeouts = 0;
                out.push((slot.waiter, Ok(msg)));
                return FrameNote::Answered;
            }
            Entry::Vacant(e) => e.into_key(),
        };
        if let Some(&(token, expect)) = self.late.map.get(&key) {
            if expect != mti {
                return FrameNote::Unmatched(msg);
            }
            self.late.map.remove(&key);
            // Keys freed earlier in this read first: a repeat answered just before gives its key
            // back to the original's window, which this late answer may then close.
            self.keys.release_all(now, &mut self.released);
            self.keys.late_answer(&key, token);
            self.answered.insert(&key);
            FrameNote::Late(msg)
        } else if self.answered.contains(&key) {
            FrameNote::Duplicate(msg)
        } else {
            FrameNote::Unmatched(msg)
        }
    }

    /// An undecodable frame: if its key and MTI are readable and a request with
    /// that key waits for that MTI, that caller (and only it) fails.
    fn on_undecodable(&mut self, now: T, error: CodecError, out: &mut Vec<Resolution<W>>) -> FrameNote {
        let target = error
            .partial()
            .and_then(|m| MatchKey::of(m, &self.match_fields).map(|k| (k, m.mti())));
        let mut failed_request = false;
        if let Some((key, mti)) = target {
            // Only a written request can be answered; its outcome is then unknown (the host
            // acted, but its answer is unreadable), so its key stays unresolved.
            let written = |s: &Slot<W, T>| s.expect == mti && s.seq <= self.taken_seq;
            if self.pending.get(&key).is_some_and(written) {
                self.end(now, &key, Cause::Decode(error.clone()), out);
                failed_request = true;
            }
        }
        FrameNote::Undecodable { error, failed_request }
    }

    /// Time is `now`: the inbox is admitted (a request whose deadline passed while it waited
    /// there resolves not sent), requests whose deadline passed resolve with `Timeout` (not sent
    /// if their frame was still queued, cut out; outcome unknown otherwise), and too many in a
    /// row take the link down. Then the inbox learns when the timer runs next
    /// ([`LinkCore::next_deadline`]), so that a push with an earlier deadline wakes it.
    pub(crate) fn on_time(&mut self, now: T, inbox: &mut Inbox<W, T>, out: &mut Vec<Resolution<W>>) -> Expired {
        self.late.purge(now);
        let admitted = self.admit(now, inbox, out);
        let mut expired = Expired {
            not_sent: admitted.timed_out,
            wake_writer: admitted.wake_writer,
            ..Expired::default()
        };
        while let Some((id, key)) = self.deadlines.pop_due(now) {
            let Some(slot) = self.pending.get(&key).filter(|s| s.id == id) else {
                continue; // ended before its deadline
            };
            if slot.seq > self.taken_seq {
                expired.not_sent += 1;
            } else {
                expired.unknown += 1;
            }
            // Either way the link did not carry it in time (a writer stuck behind a peer that
            // stopped reading counts too, so such a link is dropped and its queue freed).
            self.consecutive_timeouts = self.consecutive_timeouts.saturating_add(1);
            self.end(now, &key, Cause::Timeout, out);
        }
        let max = self.limits.max_consecutive_timeouts;
        if max > 0 && self.consecutive_timeouts >= max && !self.is_down() {
            let reason = format!("{} requests timed out in a row", self.consecutive_timeouts);
            self.go_down(now, reason.clone(), inbox, out);
            expired.down = Some(reason);
        }
        inbox.timer_at = self.next_deadline();
        expired
    }

    /// The link is gone (stream closed or failed, broken, closed): every
    /// request resolves, not sent if it was still in the inbox (which takes no more) or its
    /// frame was never taken, outcome unknown otherwise. False if it was down already.
    pub(crate) fn go_down(
        &mut self,
        now: T,
        reason: String,
        inbox: &mut Inbox<W, T>,
        out: &mut Vec<Resolution<W>>,
    ) -> bool {
        // Keys of answers whose read was cut short (a panic in the middle of `on_frames`).
        self.keys.release_all(now, &mut self.released);
        let left = self.admitting.drain().into_iter().chain(inbox.drain());
        for queued in left {
            self.refuse_queued(now, queued, Cause::LinkDown(reason.clone()), out);
        }
        if inbox.closed.is_none() {
            inbox.closed = Some(reason.clone());
        }
        if self.is_down() {
            return false;
        }
        self.state = LinkState::Down(reason.clone());
        let keys: Vec<MatchKey> = self.pending.keys().cloned().collect();
        for key in keys {
            self.end(now, &key, Cause::LinkDown(reason.clone()), out);
        }
        self.outbox.clear();
        self.deadlines.clear();
        true
    }

    // ---- internals -----------------------------------------------------

    /// A queued request that will never be admitted (cancelled, the link down): not sent, its
    /// key and room given back.
    fn refuse_queued(&self, now: T, queued: Queued<W, T>, cause: Cause, out: &mut Vec<Resolution<W>>) {
        give_back(&self.keys, &self.room, now, &queued.prepared);
        out.push((queued.waiter, Err(SendError::NotSent(cause))));
    }

    /// Takes a request out of the table and the deadline index.
    fn remove(&mut self, key: &MatchKey) -> Option<Slot<W, T>> {
        let slot = self.pending.remove(key)?;
        self.forget(&slot);
        Some(slot)
    }

    /// The bookkeeping of a slot just taken out of `pending`.
    fn forget(&mut self, slot: &Slot<W, T>) {
        let pending = &self.pending;
        self.deadlines.ended(slot.deadline, slot.id, pending.len(), |k, id| {
            pending.get(k).is_some_and(|s| s.id == id)
        });
        if !slot.internal {
            self.room.give_back();
        }
    }

    /// Ends request `key` without an answer: not sent (frame cut) or outcome
    /// unknown (key unresolved in the registry, remembered as late here).
    fn end(&mut self, now: T, key: &MatchKey, cause: Cause, out: &mut Vec<Resolution<W>>) {
        let Some(slot) = self.remove(key) else {
            return;
        };
        let unsent = slot.seq > self.taken_seq;
        if unsent {
            self.outbox.cut(slot.seq);
            self.keys.release(now, key, slot.id);
            out.push((slot.waiter, Err(SendError::NotSent(cause))));
        } else {
            self.keys.unresolved(now, key, slot.id, slot.mti);
            self.late
                .insert(now.after(self.late_window), key.clone(), slot.id, slot.expect);
            out.push((slot.waiter, Err(SendError::OutcomeUnknown(cause))));
        }
    }

    /// Sizes of the internal tables, for the model test's bounds.
    #[cfg(test)]
    pub(crate) fn table_sizes(&self) -> (usize, usize, usize, usize) {
        (
            self.pending.len(),
            self.deadlines.len(),
            self.late.order.len(),
            self.outbox.live_frames(),
        )
    }

    /// Callers' requests holding room (in the tables or in the inbox).
    #[cfg(test)]
    pub(crate) fn room_used(&self) -> usize {
        self.room.used()
    }

    /// The id of the request in flight under `key`.
    #[cfg(test)]
    pub(crate) fn id_of(&self, key: &MatchKey) -> Option<u64> {
        self.pending.get(key).map(|s| s.id)
    }
}
