//! Per-endpoint counters, readable at any time without locking.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

/// Live counters of one endpoint, shared by its links. Read them with [`EndpointStats::snapshot`].
///
/// ```
/// use iso8583_client::transport::EndpointStats;
/// let stats = EndpointStats::default();
/// assert_eq!(stats.snapshot().sent, 0);
/// ```
#[derive(Debug, Default)]
pub struct EndpointStats {
    pub(crate) in_flight: AtomicI64,
    pub(crate) sent: AtomicU64,
    pub(crate) answered: AtomicU64,
    pub(crate) timed_out: AtomicU64,
    pub(crate) late: AtomicU64,
    pub(crate) unmatched: AtomicU64,
    pub(crate) duplicate: AtomicU64,
    pub(crate) undecodable: AtomicU64,
    pub(crate) unsolicited: AtomicU64,
    pub(crate) retried: AtomicU64,
    pub(crate) connects: AtomicU64,
    pub(crate) reconnects: AtomicU64,
    pub(crate) broken: AtomicU64,
}

/// A copy of an endpoint's counters at one instant.
///
/// ```
/// use iso8583_client::transport::{Counters, EndpointStats};
/// let c: Counters = EndpointStats::default().snapshot();
/// assert_eq!(c, Counters::default());
/// assert_eq!((c.in_flight, c.timed_out, c.broken), (0, 0, 0));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Requests written or queued and not yet resolved.
    pub in_flight: i64,
    /// Requests queued for writing.
    pub sent: u64,
    /// Responses paired with their request.
    pub answered: u64,
    /// Requests whose deadline passed while waiting for the answer.
    pub timed_out: u64,
    /// Responses that arrived after their request timed out or was cancelled.
    pub late: u64,
    /// Responses nobody ever waited for (unknown key, or a response MTI that
    /// does not answer the request in flight under that key).
    pub unmatched: u64,
    /// Second copies of responses already delivered (or already counted late),
    /// recognised among the last `late_memory` answers of the link.
    pub duplicate: u64,
    /// Frames that could not be decoded.
    pub undecodable: u64,
    /// Requests the host sent on its own (echo, …).
    pub unsolicited: u64,
    /// Retries sent through this endpoint.
    pub retried: u64,
    /// Links opened (sign-on included).
    pub connects: u64,
    /// Links opened after the first one.
    pub reconnects: u64,
    /// Links marked broken (silent host, timeouts in a row, echo unanswered).
    pub broken: u64,
}

impl EndpointStats {
    /// Reads every counter.
    ///
    /// ```
    /// use iso8583_client::transport::Endpoint;
    /// let primary = Endpoint::new("127.0.0.1:9583");
    /// let before = primary.stats().snapshot(); // a copy: later traffic does not change it
    /// assert_eq!(before.answered, 0);
    /// ```
    pub fn snapshot(&self) -> Counters {
        Counters {
            in_flight: self.in_flight.load(Relaxed),
            sent: self.sent.load(Relaxed),
            answered: self.answered.load(Relaxed),
            timed_out: self.timed_out.load(Relaxed),
            late: self.late.load(Relaxed),
            unmatched: self.unmatched.load(Relaxed),
            duplicate: self.duplicate.load(Relaxed),
            undecodable: self.undecodable.load(Relaxed),
            unsolicited: self.unsolicited.load(Relaxed),
            retried: self.retried.load(Relaxed),
            connects: self.connects.load(Relaxed),
            reconnects: self.reconnects.load(Relaxed),
            broken: self.broken.load(Relaxed),
        }
    }

    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }
}
