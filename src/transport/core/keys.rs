//! Match keys, the STAN sequence, and the client-wide registry of keys that
//! are in flight or whose outcome is still unknown.
//!
//! The registry is the one place that decides whether a key may go out: a
//! key in flight on any link of the client, or whose earlier request ended
//! with an unknown outcome and whose late window has not passed, is refused.
//! It is a leaf: the link core calls it under its own lock, it calls nothing.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;

use super::Moment;
use crate::transport::error::Cause;
use crate::{Message, Mti};

/// What pairs a response with its request: the STAN (DE 11, as a number, so
/// `"42"` and `"000042"` are the same key) plus the values of the configured
/// extra fields (e.g. DE 41, terminal id), in the configured order.
///
/// ```
/// use iso8583_client::{Message, transport::MatchKey};
/// let mut msg = Message::new("0200".parse().unwrap());
/// msg.set(11, "000042").set(41, "TERM0001");
/// let key = MatchKey::of(&msg, &[41]).unwrap();
/// assert_eq!(key.stan(), 42);
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct MatchKey {
    stan: u32,
    /// `None` without extra fields: most keys are a STAN alone, cloned and compared for free.
    extra: Option<Box<[Option<Bytes>]>>,
}

/// The STAN, and the lengths of the extra fields (which may be card data).
///
/// ```
/// use iso8583_client::{Message, transport::MatchKey};
/// let msg = Message::new("0200".parse().unwrap()).with(11, "42").with(41, "TERM0001");
/// assert_eq!(format!("{:?}", MatchKey::of(&msg, &[41, 42]).unwrap()), "MatchKey { stan: 42, extra: [\"8 bytes\", \"absent\"] }");
/// ```
impl std::fmt::Debug for MatchKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let extra: Vec<String> = self
            .extra
            .iter()
            .flatten()
            .map(|v| v.as_ref().map_or("absent".to_owned(), |v| format!("{} bytes", v.len())))
            .collect();
        f.debug_struct("MatchKey")
            .field("stan", &self.stan)
            .field("extra", &extra)
            .finish()
    }
}

impl MatchKey {
    /// The key of `msg` under the extra fields `extra`; `None` if DE 11 is
    /// missing or is not 1 to 6 digits.
    pub fn of(msg: &Message, extra: &[u8]) -> Option<MatchKey> {
        let stan = parse_stan(msg.get(11)?)?;
        Some(MatchKey::with_stan(stan, msg, extra))
    }

    pub(crate) fn with_stan(stan: u32, msg: &Message, extra: &[u8]) -> MatchKey {
        let extra = (!extra.is_empty()).then(|| extra.iter().map(|f| msg.get_bytes(*f)).collect());
        MatchKey { stan, extra }
    }

    /// The STAN as a number.
    pub fn stan(&self) -> u32 {
        self.stan
    }
}

fn parse_stan(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() || digits.len() > 6 {
        return None;
    }
    digits.iter().try_fold(0u32, |acc, d| {
        d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
    })
}

/// Source of STANs, shared by every link of a client so that STANs run in one
/// sequence: 000001..999999, then wrapping to 000001.
///
/// ```
/// use iso8583_client::transport::StanSequence;
/// let seq = StanSequence::starting_at(999_999);
/// assert_eq!(seq.next(), 999_999);
/// assert_eq!(seq.next(), 1);
/// ```
#[derive(Debug)]
pub struct StanSequence(AtomicU64);

impl Default for StanSequence {
    fn default() -> Self {
        StanSequence::starting_at(1)
    }
}

impl StanSequence {
    /// A sequence whose first value is `first` (taken modulo 999,999; 0 becomes 1).
    pub fn starting_at(first: u32) -> StanSequence {
        StanSequence(AtomicU64::new(u64::from(first.saturating_sub(1) % 999_999)))
    }

    /// The next STAN, 1..=999,999.
    pub fn next(&self) -> u32 {
        // One increment, no compare-and-swap loop (senders on several cores draw at once); a
        // 64-bit count does not wrap in practice (2^64 draws), and the STAN is its remainder.
        let n = self.0.fetch_add(1, Relaxed);
        u32::try_from(n % 999_999).unwrap_or(0) + 1
    }
}

/// A multiply-rotate hasher for match keys (a STAN and a few short fields).
/// Keys are inserted only for our own requests, so flooding the table with
/// colliding keys is not in a peer's hands; SipHash's cost buys nothing here.
#[derive(Default, Clone, Copy)]
pub(crate) struct KeyHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word.iter_mut().zip(chunk).for_each(|(w, b)| *w = *b);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(SEED);
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }
}

pub(crate) type KeyMap<V> = HashMap<MatchKey, V, BuildHasherDefault<KeyHasher>>;

/// Every STAN there is (000001..=999999).
const STAN_SPACE: u32 = 999_999;

/// What the registry holds for one key.
#[derive(Debug, Clone, Copy)]
enum Reservation<T> {
    /// A request with this key is in flight (on some link of the client).
    /// `shadow`: it is a repeat that took over an unresolved key, whose
    /// window comes back when the repeat is released before it ends.
    InFlight { token: u64, shadow: Option<Shadow<T>> },
    /// Its request ended with an unknown outcome: refused until `until`,
    /// unless the new request is a repeat of the same original (0400 → 0401).
    /// `outstanding`: written requests of this transaction (the original and
    /// its repeats) whose answers may still come; each late answer counts one.
    /// `txn`: the token of the transaction's original (its own token if it is one).
    Unresolved {
        token: u64,
        txn: u64,
        until: T,
        mti: Mti,
        outstanding: u32,
    },
}

/// The unresolved state a repeat (or retry) took over, restored if it ends without being written or is answered.
#[derive(Debug, Clone, Copy)]
struct Shadow<T> {
    until: T,
    mti: Mti,
    token: u64,
    txn: u64,
    outstanding: u32,
}

struct Table<T> {
    map: KeyMap<Reservation<T>>,
    /// Unresolved keys in the order their windows end (the window is one length for all).
    windows: VecDeque<(T, MatchKey, u64)>,
    next_token: u64,
}

/// The client-wide registry of match keys: in flight, or unresolved (outcome
/// unknown, inside the late window). Shared by every link of a client.
pub(crate) struct KeyRegistry<T> {
    table: Mutex<Table<T>>,
    stans: StanSequence,
    late_window: Duration,
    capacity: usize,
}

impl<T> std::fmt::Debug for KeyRegistry<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRegistry")
            .field("late_window", &self.late_window)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl<T: Moment> KeyRegistry<T> {
    /// A registry whose unresolved keys are refused for `late_window`, and that
    /// holds at most `capacity` keys (further requests are refused, not sent).
    pub(crate) fn new(stans: StanSequence, late_window: Duration, capacity: usize) -> Self {
        KeyRegistry {
            table: Mutex::new(Table {
                map: KeyMap::default(),
                windows: VecDeque::new(),
                next_token: 1,
            }),
            stans,
            late_window,
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table<T>> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next STAN of the sequence (not reserved).
    pub(crate) fn next_stan(&self) -> u32 {
        self.stans.next()
    }

    /// Reserves the key of `msg` for a request going out now, assigning a free
    /// STAN when DE 11 is absent. Returns the key, the reservation's token, whether it took over
    /// an unresolved key, and whether it filled DE 11.
    /// An unresolved key is let through only for the client's own retry of the
    /// request that holds it (`retry_of`, its token) or a repeat of it (0400 → 0401).
    pub(crate) fn reserve(
        &self,
        now: T,
        msg: &mut Message,
        extra: &[u8],
        retry_of: Option<u64>,
    ) -> Result<(MatchKey, u64, bool, bool), Cause> {
        let mut guard = self.lock();
        let table = &mut *guard;
        table.purge(now);
        let token = table.next_token;
        let held = table.map.len();
        let (key, took_over, assigned) = match msg.position(11) {
            Ok(i) => {
                let raw = msg.value_at(i).unwrap_or_default();
                let shown = || String::from_utf8_lossy(raw).into_owned();
                let Some(stan) = parse_stan(raw) else {
                    return Err(Cause::BadStan(shown()));
                };
                // One look-up: the entry found decides, and takes the reservation.
                match table.map.entry(MatchKey::with_stan(stan, msg, extra)) {
                    Entry::Vacant(v) => {
                        if held >= self.capacity {
                            return Err(Cause::NoStanFree);
                        }
                        let key = v.key().clone();
                        v.insert(Reservation::InFlight { token, shadow: None });
                        (key, false, false)
                    }
                    Entry::Occupied(o) => {
                        let shadow = match *o.get() {
                            Reservation::InFlight { .. } => return Err(Cause::StanInUse { stan: shown() }),
                            Reservation::Unresolved {
                                until,
                                mti,
                                token: holder,
                                txn,
                                outstanding,
                            } => {
                                let own_repeat = msg.mti().is_repeat() && msg.mti().original() == mti.original();
                                let own_retry = retry_of == Some(holder);
                                if until > now && !own_repeat && !own_retry {
                                    return Err(Cause::StanUnresolved { stan: shown() });
                                }
                                (until > now).then_some(Shadow {
                                    until,
                                    mti,
                                    token: holder,
                                    txn,
                                    outstanding,
                                })
                            }
                        };
                        let key = o.key().clone();
                        let took_over = shadow.is_some();
                        *o.into_mut() = Reservation::InFlight { token, shadow };
                        (key, took_over, false)
                    }
                }
            }
            Err(at) => {
                if held >= self.capacity {
                    return Err(Cause::NoStanFree);
                }
                // At most `held` STANs are taken for this message's extra fields, so one of the
                // next `held + 1` in the sequence is free: the search under the lock is bounded
                // by the keys held (`max_keys`), not by the STAN space.
                let probes = u32::try_from(held).map_or(STAN_SPACE, |held| held.saturating_add(1).min(STAN_SPACE));
                let mut found = None;
                for _ in 0..probes {
                    let entry = table.map.entry(MatchKey::with_stan(self.stans.next(), msg, extra));
                    let free = match &entry {
                        Entry::Vacant(_) => true,
                        Entry::Occupied(o) => matches!(o.get(), Reservation::Unresolved { until, .. } if *until <= now),
                    };
                    if free {
                        let reservation = Reservation::InFlight { token, shadow: None };
                        found = Some(match entry {
                            Entry::Vacant(v) => {
                                let key = v.key().clone();
                                v.insert(reservation);
                                key
                            }
                            Entry::Occupied(mut o) => {
                                o.insert(reservation);
                                o.key().clone()
                            }
                        });
                        break;
                    }
                }
                let key = found.ok_or(Cause::NoStanFree)?;
                msg.insert_stan_at(at, key.stan);
                (key, false, true)
            }
        };
        table.next_token += 1;
        Ok((key, token, took_over, assigned))
    }

    /// Frees `key` if `token` still holds it in flight (answered, not sent). A
    /// repeat that took over an unresolved key gives it back to the original's
    /// window: the original's late answer may still come.
    pub(crate) fn release(&self, now: T, key: &MatchKey, token: u64) {
        self.lock().release(now, key, token);
    }

    /// [`KeyRegistry::release`] for each of `keys` (emptied), under one lock: the answers of one
    /// read.
    pub(crate) fn release_all(&self, now: T, keys: &mut Vec<(MatchKey, u64)>) {
        if keys.is_empty() {
            return;
        }
        let mut table = self.lock();
        for (key, token) in keys.drain(..) {
            table.release(now, &key, token);
        }
    }

    /// A late answer came for `key` (the request `token` ended with an unknown
    /// outcome): free once every written request of its transaction is answered.
    /// The answer is of the transaction if `token` lies between the transaction's original
    /// (`txn`) and the request that holds the key: the transaction held the key all that time,
    /// so any request with this key reserved meanwhile was one of its own repeats or retries
    /// (others were refused), on whatever link. A repeat may hold the key in flight meanwhile:
    /// the answer then counts in the window it took over, which comes back when the repeat ends.
    pub(crate) fn late_answer(&self, key: &MatchKey, token: u64) {
        let mut table = self.lock();
        match table.map.get_mut(key) {
            Some(Reservation::Unresolved {
                token: t,
                txn,
                outstanding,
                ..
            }) if (*txn..=*t).contains(&token) => {
                let none_left = last_answer(outstanding);
                if none_left {
                    table.map.remove(key);
                }
            }
            Some(Reservation::InFlight { shadow, .. }) => {
                if let Some(taken) = shadow.as_mut().filter(|s| (s.txn..=s.token).contains(&token)) {
                    if last_answer(&mut taken.outstanding) {
                        // Nothing of the original's is left to answer: when the repeat ends,
                        // the key is free (or unresolved for the repeat alone).
                        *shadow = None;
                    }
                }
            }
            _ => {}
        }
    }

    /// Marks `key` unresolved until the late window has passed (its request
    /// may have reached the host and its answer may still come).
    pub(crate) fn unresolved(&self, now: T, key: &MatchKey, token: u64, mti: Mti) {
        let mut table = self.lock();
        let (earlier, txn) = match table.map.get(key) {
            Some(Reservation::InFlight { token: t, shadow }) if *t == token => shadow
                .filter(|s| s.until > now)
                .map_or((0, token), |s| (s.outstanding, s.txn)),
            _ => return,
        };
        if self.late_window.is_zero() {
            table.map.remove(key);
            return;
        }
        let until = now.after(self.late_window);
        let outstanding = earlier.saturating_add(1);
        table.map.insert(
            key.clone(),
            Reservation::Unresolved {
                token,
                txn,
                until,
                mti,
                outstanding,
            },
        );
        table.windows.push_back((until, key.clone(), token));
    }

    /// Keys held (in flight and unresolved), for tests.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// True if `key` is held in flight or unresolved at `now`.
    #[cfg(test)]
    pub(crate) fn holds(&self, now: T, key: &MatchKey) -> bool {
        let mut table = self.lock();
        table.purge(now);
        table.map.contains_key(key)
    }
}

/// One more of a transaction's written requests was answered: counts it down; true if it was
/// the last one whose answer could come.
fn last_answer(outstanding: &mut u32) -> bool {
    if *outstanding > 1 {
        *outstanding -= 1;
        false
    } else {
        true
    }
}

impl<T: Moment> Table<T> {
    /// See [`KeyRegistry::release`].
    fn release(&mut self, now: T, key: &MatchKey, token: u64) {
        // Mostly the key is ours, in flight, and simply leaves: one look-up.
        let Some((key, held)) = self.map.remove_entry(key) else {
            return;
        };
        let back = match held {
            Reservation::InFlight {
                token: t,
                shadow: Some(shadow),
            } if t == token && shadow.until > now => {
                // The original's window entry is still queued (it ends after now): no second one.
                Reservation::Unresolved {
                    token: shadow.token,
                    txn: shadow.txn,
                    until: shadow.until,
                    mti: shadow.mti,
                    outstanding: shadow.outstanding,
                }
            }
            Reservation::InFlight { token: t, .. } if t == token => return,
            other => other, // not ours: it stays as it was
        };
        self.map.insert(key, back);
    }

    /// Forgets unresolved keys whose window has passed.
    fn purge(&mut self, now: T) {
        while let Some((until, _, _)) = self.windows.front() {
            if *until > now {
                break;
            }
            let Some((_, key, token)) = self.windows.pop_front() else {
                break;
            };
            if matches!(self.map.get(&key), Some(Reservation::Unresolved { token: t, .. }) if *t == token) {
                self.map.remove(&key);
            }
        }
    }
}

/// Keys of the last `cap` requests a link answered, to tell a duplicate answer from one nobody
/// ever waited for. The hot path (an answer) writes one 64-bit fingerprint into a ring: no
/// hashing table, no key clone. Only a frame that matches nothing in flight or late looks here,
/// scanning the ring (a few thousand words, about the cost of decoding that frame). Two keys
/// sharing a fingerprint (one chance in 2^64 per pair) would only make an unknown answer count as
/// a duplicate: both are dropped.
pub(crate) struct AnsweredKeys {
    ring: Vec<u64>,
    /// Where the next fingerprint goes once the ring is full.
    next: usize,
    cap: usize,
}

impl AnsweredKeys {
    pub(crate) fn new(cap: usize) -> Self {
        AnsweredKeys {
            ring: Vec::new(),
            next: 0,
            cap,
        }
    }

    /// A STAN alone is its own fingerprint (below 2^20); a key with extra fields is hashed, with
    /// the top bit set so the two kinds never meet.
    fn fingerprint(key: &MatchKey) -> u64 {
        use std::hash::BuildHasher;
        match key.extra {
            None => u64::from(key.stan),
            Some(_) => BuildHasherDefault::<KeyHasher>::default().hash_one(key) | 1 << 63,
        }
    }

    pub(crate) fn insert(&mut self, key: &MatchKey) {
        let fp = Self::fingerprint(key);
        if self.ring.len() < self.cap {
            self.ring.push(fp);
        } else if let Some(slot) = self.ring.get_mut(self.next) {
            *slot = fp;
            self.next = if self.next + 1 >= self.cap { 0 } else { self.next + 1 };
        }
    }

    /// True if `key` was among the last `cap` answered.
    pub(crate) fn contains(&self, key: &MatchKey) -> bool {
        let fp = Self::fingerprint(key);
        self.ring.contains(&fp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(stan: u32, tid: Option<&str>) -> MatchKey {
        let mut msg = Message::new("0200".parse().expect("mti")).with(11, format!("{stan:06}"));
        if let Some(tid) = tid {
            msg.set(41, tid.to_owned());
        }
        MatchKey::of(&msg, if tid.is_some() { &[41] } else { &[] }).expect("key")
    }

    /// Exactly the last `cap` answered keys are remembered, extra fields included.
    #[test]
    fn the_last_cap_answered_keys_are_remembered_and_no_more() {
        let mut answered = AnsweredKeys::new(3);
        for stan in 1..=5 {
            answered.insert(&key(stan, None));
        }
        let held: Vec<u32> = (1..=6).filter(|s| answered.contains(&key(*s, None))).collect();
        assert_eq!(held, [3, 4, 5]);
        answered.insert(&key(9, Some("TERM0001")));
        assert!(answered.contains(&key(9, Some("TERM0001"))));
        assert!(!answered.contains(&key(9, Some("TERM0002"))), "another terminal's key");
        assert!(!answered.contains(&key(9, None)));
        assert!(!answered.contains(&key(3, None)), "pushed out by the newest");
        let mut none = AnsweredKeys::new(0);
        none.insert(&key(1, None));
        assert!(!none.contains(&key(1, None)));
    }
}
