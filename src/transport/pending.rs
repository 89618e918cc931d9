//! The in-flight table of one link: match keys, STAN allocation, late keys.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

use bytes::Bytes;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::error::SendError;
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
    extra: Vec<Option<Bytes>>,
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
    ///
    /// ```
    /// use iso8583_client::{Message, transport::MatchKey};
    /// let msg = Message::new("0210".parse().unwrap()).with(11, "42");
    /// assert_eq!(MatchKey::of(&msg, &[]), MatchKey::of(&msg.clone().with(11, "000042"), &[]));
    /// assert_eq!(MatchKey::of(&msg.clone().with(11, "12a"), &[]), None); // not digits
    /// assert_eq!(MatchKey::of(&Message::new("0210".parse().unwrap()), &[]), None); // no DE 11
    /// ```
    pub fn of(msg: &Message, extra: &[u8]) -> Option<MatchKey> {
        let stan = parse_stan(msg.get(11)?)?;
        Some(MatchKey::with_stan(stan, msg, extra))
    }

    fn with_stan(stan: u32, msg: &Message, extra: &[u8]) -> MatchKey {
        let extra = extra.iter().map(|f| msg.get_bytes(*f)).collect();
        MatchKey { stan, extra }
    }

    /// The STAN as a number.
    ///
    /// ```
    /// use iso8583_client::{Message, transport::MatchKey};
    /// let msg = Message::new("0810".parse().unwrap()).with(11, "000123");
    /// assert_eq!(MatchKey::of(&msg, &[]).unwrap().stan(), 123);
    /// ```
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
pub struct StanSequence(AtomicU32);

impl Default for StanSequence {
    fn default() -> Self {
        StanSequence::starting_at(1)
    }
}

impl StanSequence {
    /// A sequence whose first value is `first` (taken modulo 999,999; 0 becomes 1).
    ///
    /// ```
    /// use iso8583_client::transport::StanSequence;
    /// assert_eq!(StanSequence::starting_at(500).next(), 500);
    /// assert_eq!(StanSequence::starting_at(0).next(), 1);
    /// assert_eq!(StanSequence::default().next(), 1);
    /// ```
    pub fn starting_at(first: u32) -> StanSequence {
        StanSequence(AtomicU32::new(first.saturating_sub(1) % 999_999))
    }

    /// The next STAN, 1..=999,999.
    ///
    /// ```
    /// let seq = iso8583_client::transport::StanSequence::default();
    /// assert_eq!((seq.next(), seq.next(), seq.next()), (1, 2, 3));
    /// ```
    pub fn next(&self) -> u32 {
        let n = self
            .0
            .fetch_update(Relaxed, Relaxed, |v| Some((v + 1) % 999_999))
            .unwrap_or(0);
        n % 999_999 + 1
    }
}

/// Answer delivered to a waiting sender.
pub(crate) type Reply = Result<Message, SendError>;

pub(crate) struct Entry {
    pub(crate) tx: oneshot::Sender<Reply>,
    pub(crate) expect: Mti,
    pub(crate) id: u64,
    /// Position of the frame in the outgoing stream; 0 while not yet queued.
    pub(crate) seq: u64,
    /// When the sweeper fails it with `Timeout` (`None`: it keeps a timer of its own).
    pub(crate) deadline: Option<Instant>,
}

/// Keys of requests that timed out or were cancelled, to tell a late answer
/// from an unknown one. Bounded: the oldest keys are forgotten.
pub(crate) struct LateKeys {
    order: VecDeque<MatchKey>,
    set: HashSet<MatchKey>,
    cap: usize,
}

impl LateKeys {
    pub(crate) fn new(cap: usize) -> Self {
        LateKeys {
            order: VecDeque::new(),
            set: HashSet::new(),
            cap,
        }
    }

    pub(crate) fn insert(&mut self, key: MatchKey) {
        if self.cap == 0 || !self.set.insert(key.clone()) {
            return;
        }
        self.order.push_back(key);
        while self.order.len() > self.cap {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
    }

    /// True (and forgets the key) if `key` timed out recently.
    pub(crate) fn take(&mut self, key: &MatchKey) -> bool {
        self.set.remove(key)
    }
}

/// Keys of requests answered recently, to tell a duplicate answer from one
/// nobody ever waited for. Two generations of at most `cap / 2` keys each:
/// when the newer one fills up it becomes the older one, and the older one is
/// forgotten — no per-key clone or queue on the hot path, memory bounded.
pub(crate) struct AnsweredKeys {
    newer: KeyMap<()>,
    older: KeyMap<()>,
    half: usize,
}

impl AnsweredKeys {
    pub(crate) fn new(cap: usize) -> Self {
        AnsweredKeys {
            newer: KeyMap::default(),
            older: KeyMap::default(),
            half: cap / 2,
        }
    }

    pub(crate) fn insert(&mut self, key: MatchKey) {
        if self.half == 0 {
            return;
        }
        if self.newer.len() >= self.half {
            std::mem::swap(&mut self.newer, &mut self.older);
            self.newer.clear(); // keeps its capacity
        }
        self.newer.insert(key, ());
    }

    /// True if `key` was answered recently.
    pub(crate) fn contains(&self, key: &MatchKey) -> bool {
        self.newer.contains_key(key) || self.older.contains_key(key)
    }
}

/// Outcome of [`Pending::register`].
pub(crate) enum Register {
    Ok(MatchKey, u64),
    InUse(String),
    BadStan(String),
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

/// The pending map proper.
pub(crate) struct Pending {
    pub(crate) map: KeyMap<Entry>,
    next_id: u64,
}

impl Pending {
    pub(crate) fn new() -> Self {
        Pending {
            map: KeyMap::default(),
            next_id: 1,
        }
    }

    /// Registers `msg` as in flight with frame sequence number `seq`,
    /// assigning a STAN from `stans` when DE 11 is empty (skipping STANs still
    /// in flight). Refuses a caller STAN that is in flight.
    /// `entry` is registered under the next id.
    pub(crate) fn register(
        &mut self,
        msg: &mut Message,
        extra: &[u8],
        stans: &StanSequence,
        mut entry: Entry,
    ) -> Register {
        let key = match msg.get(11) {
            Some(raw) => {
                let shown = || String::from_utf8_lossy(raw).into_owned();
                let Some(stan) = parse_stan(raw) else {
                    return Register::BadStan(shown());
                };
                let key = MatchKey::with_stan(stan, msg, extra);
                if self.map.contains_key(&key) {
                    return Register::InUse(shown());
                }
                key
            }
            None => {
                // At most len()+1 tries: only that many STANs can be taken.
                let mut key = MatchKey::with_stan(stans.next(), msg, extra);
                for _ in 0..=self.map.len() {
                    if !self.map.contains_key(&key) {
                        break;
                    }
                    key.stan = stans.next();
                }
                msg.set_stan(key.stan);
                key
            }
        };
        let id = self.next_id;
        self.next_id += 1;
        entry.id = id;
        self.map.insert(key.clone(), entry);
        Register::Ok(key, id)
    }

    /// Removes the entry of `key` if it is still the one registered as `id`.
    pub(crate) fn remove_if(&mut self, key: &MatchKey, id: u64) -> Option<Entry> {
        match self.map.get(key) {
            Some(e) if e.id == id => self.map.remove(key),
            _ => None,
        }
    }
}

/// When a link's sweeper task next looks for requests whose deadline passed
/// (one timer for the link instead of one per request). The deadlines live
/// in the pending entries; the sweeper sleeps until the earliest of them, and
/// is woken only by a request whose deadline comes before that.
pub(crate) struct Deadlines {
    /// `None`: the sweeper waits to be told.
    pub(crate) sweep_at: Option<Instant>,
}

impl Deadlines {
    pub(crate) fn new() -> Self {
        Deadlines { sweep_at: None }
    }

    /// Notes a new deadline; true if the sweeper must be woken (it sleeps past it).
    pub(crate) fn note(&mut self, at: Instant) -> bool {
        match self.sweep_at {
            Some(t) if t <= at => false,
            _ => {
                self.sweep_at = Some(at);
                true
            }
        }
    }

    /// Takes out every request of `pending` whose deadline is at or before
    /// `now` (one pass over the requests in flight), and sets when to look
    /// next: the earliest deadline left.
    pub(crate) fn expire(&mut self, now: Instant, pending: &mut Pending) -> Vec<(MatchKey, Entry)> {
        let mut due = Vec::new();
        let mut next: Option<Instant> = None;
        for (key, entry) in &pending.map {
            match entry.deadline {
                Some(at) if at <= now => due.push(key.clone()),
                Some(at) => next = Some(next.map_or(at, |n| n.min(at))),
                None => {}
            }
        }
        self.sweep_at = next;
        due.into_iter()
            .filter_map(|key| pending.map.remove(&key).map(|entry| (key, entry)))
            .collect()
    }
}
