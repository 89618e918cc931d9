//! The deadline index of a link: which request ends next.
//!
//! Most requests of a link carry "now + the same timeout", so deadlines arrive
//! in order: they go to the back of a queue (no tree, no search). The few that
//! come earlier than the last one go to an ordered map. Entries of requests
//! that ended otherwise are not searched for and removed one by one: they are
//! skipped when they come up, and the queue is compacted whenever it holds
//! more than twice the requests in flight, so it stays bounded.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use super::keys::MatchKey;
use super::Moment;

#[derive(Debug)]
pub(super) struct Deadlines<T> {
    in_order: VecDeque<(T, u64, MatchKey)>,
    out_of_order: BTreeMap<(T, u64), MatchKey>,
    /// How much later than its deadline a request may time out, so that a near tie joins the
    /// queue instead of the map.
    slack: Duration,
}

impl<T: Moment> Deadlines<T> {
    /// An empty index whose entries may fire up to `slack` late (zero: exactly on time).
    pub(super) fn new(slack: Duration) -> Self {
        Deadlines {
            in_order: VecDeque::new(),
            out_of_order: BTreeMap::new(),
            slack,
        }
    }

    /// Notes that request `id` (key `key`) ends at `at`; true if it is now the earliest (whoever
    /// sleeps until the earliest must wake). A deadline at most the slack before
    /// the last one queued joins the queue at the last one's place (it fires at most that much
    /// late, within the timer's own resolution): senders on several threads read the clock in
    /// one order and reach the link in another, and such near-ties must not all go to the map.
    /// Behind others in the queue it is never the earliest, and the front of the queue (last
    /// written by whoever ended its request, often on another core) is not read.
    pub(super) fn insert(&mut self, at: T, id: u64, key: MatchKey) -> bool {
        let before_others =
            |others: &BTreeMap<(T, u64), MatchKey>| others.keys().next().is_none_or(|(first, _)| at < *first);
        match self.in_order.back() {
            None => {
                self.in_order.push_back((at, id, key));
                before_others(&self.out_of_order)
            }
            Some((last, _, _)) if *last <= at => {
                self.in_order.push_back((at, id, key));
                false
            }
            Some((last, _, _)) if !self.slack.is_zero() && at.after(self.slack) >= *last => {
                let last = *last;
                self.in_order.push_back((last, id, key));
                false
            }
            Some(_) => {
                let earliest =
                    self.in_order.front().is_some_and(|(first, _, _)| at < *first) && before_others(&self.out_of_order);
                self.out_of_order.insert((at, id), key);
                earliest
            }
        }
    }

    /// Request `id`, due at `at` (as given to `insert`), ended before its deadline.
    pub(super) fn ended(&mut self, at: T, id: u64, in_flight: usize, live: impl Fn(&MatchKey, u64) -> bool) {
        if self.out_of_order.remove(&(at, id)).is_some() {
            return;
        }
        // Answers mostly come in the order requests went out: the entry is often at an end.
        if self.in_order.front().is_some_and(|(_, first, _)| *first == id) {
            self.in_order.pop_front();
        } else if self.in_order.back().is_some_and(|(_, last, _)| *last == id) {
            self.in_order.pop_back();
        } else if self.in_order.len() > 2 * in_flight + 64 {
            self.in_order.retain(|(_, id, key)| live(key, *id));
        }
    }

    /// The earliest deadline noted (possibly of a request that ended since: waking for it is harmless).
    pub(super) fn next(&self) -> Option<T> {
        let queued = self.in_order.front().map(|(at, _, _)| *at);
        let other = self.out_of_order.keys().next().map(|(at, _)| *at);
        match (queued, other) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Takes the next entry due at or before `now`, if any (the caller checks it is still live).
    pub(super) fn pop_due(&mut self, now: T) -> Option<(u64, MatchKey)> {
        let queued = self.in_order.front().map(|(at, _, _)| *at).filter(|at| *at <= now);
        let other = self
            .out_of_order
            .keys()
            .next()
            .map(|(at, _)| *at)
            .filter(|at| *at <= now);
        match (queued, other) {
            (Some(a), Some(b)) if b < a => self.pop_other(),
            (Some(_), _) => self.in_order.pop_front().map(|(_, id, key)| (id, key)),
            (None, Some(_)) => self.pop_other(),
            (None, None) => None,
        }
    }

    fn pop_other(&mut self) -> Option<(u64, MatchKey)> {
        self.out_of_order.pop_first().map(|((_, id), key)| (id, key))
    }

    pub(super) fn clear(&mut self) {
        self.in_order.clear();
        self.out_of_order.clear();
    }

    /// Entries held (live or not).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.in_order.len() + self.out_of_order.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(stan: u32) -> MatchKey {
        let msg = crate::Message::new("0200".parse().expect("mti")).with(11, format!("{stan:06}"));
        MatchKey::of(&msg, &[]).expect("key")
    }

    /// A deadline just before the last one queued waits behind it (at most the slack late);
    /// one further before goes to the map and fires on time.
    #[test]
    fn a_near_tie_joins_the_queue_and_fires_at_most_the_slack_late() {
        let mut d = Deadlines::<u64>::new(Duration::from_millis(1));
        d.insert(100, 1, key(1));
        d.insert(99, 2, key(2));
        d.insert(50, 3, key(3));
        assert_eq!(d.out_of_order.len(), 1, "only the far one is out of order");
        assert_eq!(d.pop_due(50).map(|(id, _)| id), Some(3));
        assert_eq!(
            d.pop_due(99).map(|(id, _)| id),
            None,
            "the near tie fires with the later one"
        );
        let due: Vec<u64> = std::iter::from_fn(|| d.pop_due(100).map(|(id, _)| id)).collect();
        assert_eq!(due, [1, 2]);
    }

    /// Random ends (front, back, middle, out of order) never lose a live deadline, never
    /// return an ended one, keep the order, and keep the index bounded.
    #[test]
    fn live_deadlines_come_out_in_order_and_the_index_stays_bounded() {
        let mut rng = fastrand::Rng::with_seed(11);
        let mut d = Deadlines::<u64>::new(Duration::from_millis(1));
        let mut live: std::collections::BTreeMap<u64, u64> = Default::default(); // id -> at
        let mut now = 0u64;
        let slack = 1;
        for id in 0..20_000u64 {
            let at = if rng.u8(0..10) == 0 {
                now + rng.u64(0..50)
            } else {
                now + 100
            };
            d.insert(at, id, key((id % 999_999) as u32 + 1));
            live.insert(id, at);
            while live.len() > 64 {
                // End one: the oldest, the newest, or one at random.
                let ids: Vec<u64> = live.keys().copied().collect();
                let pick = match rng.u8(0..3) {
                    0 => ids[0],
                    1 => ids[ids.len() - 1],
                    _ => ids[rng.usize(0..ids.len())],
                };
                let at = live.remove(&pick).expect("live");
                d.ended(at, pick, live.len(), |_, id| live.contains_key(&id));
            }
            assert!(d.len() <= 2 * live.len() + 64 + 2, "index grew to {}", d.len());
            now += rng.u64(0..3);
            let mut last = 0;
            while let Some((id, _)) = d.pop_due(now) {
                if let Some(at) = live.remove(&id) {
                    // In order, up to the slack a near-tie may be queued behind a later one.
                    assert!(
                        at <= now && at + slack >= last,
                        "deadline {at} out of order (now {now}, last {last})"
                    );
                    last = last.max(at);
                }
            }
            assert!(
                live.values().all(|at| *at + slack > now),
                "a deadline due more than the slack ago was not returned"
            );
        }
    }

    /// `insert` says "earliest" exactly when the index's next deadline moved earlier (or there
    /// was none): the timer is woken when it must be, and only then.
    #[test]
    fn insert_says_when_the_next_deadline_moved_earlier() {
        for slack_ms in [0, 1] {
            let mut rng = fastrand::Rng::with_seed(7 + slack_ms);
            let mut d = Deadlines::<u64>::new(Duration::from_millis(slack_ms));
            let mut ids = Vec::new();
            let mut now = 0u64;
            for id in 0..20_000u64 {
                now += rng.u64(0..3);
                let at = now + rng.u64(0..40);
                let before = d.next();
                let earliest = d.insert(at, id, key(1));
                ids.push((at, id));
                let after = d.next();
                assert_eq!(
                    earliest,
                    before.is_none_or(|b| after < Some(b)),
                    "insert at {at}, next {before:?} -> {after:?}"
                );
                match rng.u8(0..4) {
                    0 => {
                        let (at, id) = ids.swap_remove(rng.usize(0..ids.len()));
                        d.ended(at, id, ids.len(), |_, i| ids.iter().any(|(_, j)| *j == i));
                    }
                    1 => while d.pop_due(now).is_some() {},
                    _ => {}
                }
            }
        }
    }
}
