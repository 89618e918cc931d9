//! Requests on their way into a link, and the link's room for them.
//!
//! A sender prepares its request without the link's lock ([`super::Preparer::prepare`]: room
//! taken, key reserved, frame encoded) and queues it here, under a lock of its own that only the
//! senders hold for long, and only for a push. The link takes the queued requests in under its
//! own lock ([`super::LinkCore::admit`]) just before its writer takes frames, and when its timer
//! runs. So the senders of a busy link never take the link's lock, and the link's tables stay on
//! the cores of its reader and writer instead of moving to every sender's core and back.
//!
//! A queued request is the link's as much as one in its tables: it is admitted or refused (down,
//! closing, deadline passed, each *not sent*), withdrawn when its caller cancels
//! ([`super::LinkCore::cancel`]), refused when the link goes down, and its deadline wakes the
//! timer in time (`timer_at`). Whoever moves requests from here into the link holds the link's
//! lock first and this one second, so a request is always in exactly one of the two.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use bytes::BytesMut;

use super::{Moment, Prepared};
use crate::transport::error::Cause;

/// A link's room for callers' requests (`max_in_flight`): taken when a request is prepared,
/// given back when it ends (answered, refused, timed out, cancelled, dropped with the link).
/// The link's own requests (sign-on, echo, sign-off) take none.
#[derive(Debug)]
pub(crate) struct Room {
    used: AtomicUsize,
    max: usize,
}

impl Room {
    /// Room for `max` requests (at least one).
    pub(crate) fn new(max: usize) -> Room {
        Room {
            used: AtomicUsize::new(0),
            max: max.max(1),
        }
    }

    /// Takes room for one request; false when the link has `max` in flight.
    /// (Sequentially consistent, as is [`Room::give_back`]: a sender that counts itself as
    /// waiting and then looks for room again, and whoever gives room back and then looks for
    /// waiters, cannot miss each other.)
    pub(crate) fn try_take(&self) -> bool {
        self.used
            .fetch_update(SeqCst, SeqCst, |used| (used < self.max).then_some(used + 1))
            .is_ok()
    }

    /// Gives back the room of one request that ended.
    pub(crate) fn give_back(&self) {
        let _ = self.used.fetch_update(SeqCst, SeqCst, |used| used.checked_sub(1));
    }

    /// Requests holding room.
    #[cfg(test)]
    pub(crate) fn used(&self) -> usize {
        self.used.load(SeqCst)
    }
}

/// One queued request: what [`super::Preparer::prepare`] made of it, where its frame lies in
/// the batch's buffer, its deadline and its waiter.
pub(super) struct Queued<W, T> {
    pub(super) prepared: Prepared,
    pub(super) start: usize,
    pub(super) len: usize,
    pub(super) deadline: T,
    pub(super) waiter: W,
}

/// Queued requests in order, their frames one after another in one buffer.
pub(super) struct Batch<W, T> {
    pub(super) queued: VecDeque<Queued<W, T>>,
    pub(super) frames: BytesMut,
}

impl<W, T> Default for Batch<W, T> {
    fn default() -> Self {
        Batch {
            queued: VecDeque::new(),
            frames: BytesMut::new(),
        }
    }
}

impl<W, T> Batch<W, T> {
    /// Moves every request of `self` behind those of `into`: by exchanging buffers when `into`
    /// is empty (as it is, but after a panic cut an admission short), so that no frame is copied.
    pub(super) fn move_into(&mut self, into: &mut Batch<W, T>) {
        if into.queued.is_empty() {
            into.frames.clear();
            std::mem::swap(self, into);
            return;
        }
        let offset = into.frames.len();
        into.frames.extend_from_slice(&self.frames);
        into.queued.extend(self.queued.drain(..).map(|q| Queued {
            start: q.start + offset,
            ..q
        }));
        self.frames.clear();
    }

    /// Every request, taken out (their frames with them).
    pub(super) fn drain(&mut self) -> VecDeque<Queued<W, T>> {
        self.frames.clear();
        std::mem::take(&mut self.queued)
    }
}

/// What a push asks of the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pushed {
    /// The inbox was empty: the writer must be woken to admit it (a push behind others finds the
    /// writer woken already by the first, and its next admission not yet done).
    pub(crate) wake_writer: bool,
    /// Its deadline comes before the time the timer runs next: the timer must be woken.
    pub(crate) wake_timer: bool,
}

/// The link's inbox: requests prepared by their senders, not yet admitted by the link.
pub(crate) struct Inbox<W, T> {
    batch: Batch<W, T>,
    /// Set when the link went down: a push is refused with this reason.
    pub(super) closed: Option<String>,
    /// Set when the link began to close: a caller's request is refused.
    pub(super) closing: bool,
    /// When the timer runs next, at the latest (`None`: it sleeps with nothing due). Set by the
    /// timer's pass ([`super::LinkCore::on_time`]), moved earlier by a push with an earlier deadline.
    pub(super) timer_at: Option<T>,
}

impl<W, T> Default for Inbox<W, T> {
    fn default() -> Self {
        Inbox {
            batch: Batch::default(),
            closed: None,
            closing: false,
            timer_at: None,
        }
    }
}

impl<W, T: Moment> Inbox<W, T> {
    /// Why a request would be refused now, if it would: once the link is down, or (a caller's
    /// request, `internal` false) once it began to close. The caller asks under the same lock as
    /// it then pushes, and gives back what a refused request holds ([`super::Preparer::undo`]).
    pub(crate) fn refuses(&self, internal: bool) -> Option<Cause> {
        if let Some(reason) = &self.closed {
            return Some(Cause::LinkDown(reason.clone()));
        }
        (self.closing && !internal).then_some(Cause::Closing)
    }

    /// Queues a prepared request whose frame is `frame`; [`Inbox::refuses`] said nothing against it.
    pub(crate) fn push(&mut self, prepared: Prepared, frame: &[u8], deadline: T, waiter: W) -> Pushed {
        debug_assert!(self.refuses(prepared.internal).is_none());
        let wake_writer = self.batch.queued.is_empty();
        let wake_timer = self.timer_at.is_none_or(|at| deadline < at);
        if wake_timer {
            self.timer_at = Some(deadline);
        }
        let start = self.batch.frames.len();
        self.batch.frames.extend_from_slice(frame);
        self.batch.queued.push_back(Queued {
            prepared,
            start,
            len: frame.len(),
            deadline,
            waiter,
        });
        Pushed {
            wake_writer,
            wake_timer,
        }
    }

    /// Moves every queued request behind those of `into` (exchanging buffers: the lock is held
    /// for no copy).
    pub(super) fn take(&mut self, into: &mut Batch<W, T>) {
        self.batch.move_into(into);
    }

    /// Requests queued.
    pub(crate) fn len(&self) -> usize {
        self.batch.queued.len()
    }

    /// True when no request is queued.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.batch.queued.is_empty()
    }

    /// The queued request `id`, taken out (its caller cancelled); its frame's bytes stay in the
    /// buffer, where nothing points to them any more.
    pub(super) fn withdraw(&mut self, id: u64) -> Option<Queued<W, T>> {
        let at = self.batch.queued.iter().position(|q| q.prepared.id == id)?;
        self.batch.queued.remove(at)
    }

    /// Every queued request, taken out (the link went down).
    pub(super) fn drain(&mut self) -> VecDeque<Queued<W, T>> {
        self.batch.drain()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_is_taken_up_to_its_max_and_given_back() {
        let room = Room::new(2);
        assert!(room.try_take() && room.try_take());
        assert!(!room.try_take(), "full at max");
        room.give_back();
        assert!(room.try_take());
        assert_eq!(room.used(), 2);
        let none = Room::new(0);
        assert!(none.try_take(), "a max of 0 still lets one through");
        none.give_back();
        none.give_back();
        assert_eq!(none.used(), 0, "never below zero");
    }
}
