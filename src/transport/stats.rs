//! Per-endpoint counters, readable at any time without locking, and (feature `metrics`) the same
//! events sent to the `metrics` facade, labelled by endpoint and MTI class (see the README's
//! "Metrics" table for names and labels).

use std::sync::atomic::{AtomicU64, Ordering, Ordering::Relaxed};
#[cfg(feature = "metrics")]
use std::sync::Arc;
use std::sync::OnceLock;

use crate::transport::core::padded::Padded;
use crate::transport::SendError;
use crate::{Message, Mti};

/// Live counters of one endpoint, shared by its links. Read them with [`EndpointStats::snapshot`].
#[derive(Debug, Default)]
pub(crate) struct EndpointStats {
    /// Bumped by senders, on their cores.
    pub(crate) sent: Padded<Tally>,
    /// Bumped by the reader, on its core.
    pub(crate) answered: Padded<Tally>,
    /// Requests resolved (answered or not): in flight is `sent - resolved`, so that no counter
    /// is written both by the senders and by whoever resolves (mostly the reader).
    pub(crate) resolved: Padded<AtomicU64>,
    pub(crate) timed_out: Tally,
    pub(crate) late: Tally,
    pub(crate) unmatched: Tally,
    pub(crate) duplicate: Tally,
    pub(crate) undecodable: Tally,
    pub(crate) unsolicited: Tally,
    pub(crate) retried: Tally,
    pub(crate) connects: Tally,
    pub(crate) reconnects: Tally,
    pub(crate) broken: Tally,
    /// The endpoint's address, once a link to it started: the `endpoint` label of its metrics.
    endpoint: OnceLock<String>,
    /// Per-request metrics, by MTI class (the second MTI digit).
    #[cfg(feature = "metrics")]
    classes: [OnceLock<Arc<ClassMetrics>>; 10],
}

/// A counter of link events: an atomic for [`Counters`], and (feature `metrics`) the same count
/// sent to the `metrics` facade once the endpoint is known.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    value: AtomicU64,
    #[cfg(feature = "metrics")]
    metric: OnceLock<metrics::Counter>,
}

impl Tally {
    pub(crate) fn fetch_add(&self, n: u64, order: Ordering) -> u64 {
        #[cfg(feature = "metrics")]
        if let Some(metric) = self.metric.get() {
            metric.increment(n);
        }
        self.value.fetch_add(n, order)
    }

    pub(crate) fn load(&self, order: Ordering) -> u64 {
        self.value.load(order)
    }
}

/// A copy of an endpoint's counters at one instant.
///
/// ```
/// use iso8583_client::transport::{Counters, Endpoint};
/// let c: Counters = Endpoint::new("127.0.0.1:9583").counters();
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
    pub fn snapshot(&self) -> Counters {
        let resolved = self.resolved.load(Relaxed);
        let sent = self.sent.load(Relaxed);
        Counters {
            // Saturating: a request can be resolved a moment before its sender counts it sent.
            in_flight: i64::try_from(sent.saturating_sub(resolved)).unwrap_or(i64::MAX),
            sent,
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

    pub(crate) fn bump(counter: &Tally) {
        counter.fetch_add(1, Relaxed);
    }

    /// Names the endpoint these counters belong to (its first link's peer address); from then on
    /// link events are also sent to the `metrics` facade (feature `metrics`). Later calls do nothing.
    pub(crate) fn label(&self, endpoint: &str) {
        let first = self.endpoint.set(endpoint.to_owned()).is_ok();
        #[cfg(not(feature = "metrics"))]
        let _ = first;
        #[cfg(feature = "metrics")]
        if first {
            let e = endpoint.to_owned();
            for (tally, name) in [
                (&self.late, names::LATE),
                (&self.unmatched, names::UNMATCHED),
                (&self.duplicate, names::DUPLICATE),
                (&self.undecodable, names::UNDECODABLE),
                (&self.unsolicited, names::UNSOLICITED),
                (&self.retried, names::RETRIED),
                (&self.connects, names::CONNECTS),
                (&self.reconnects, names::RECONNECTS),
                (&self.broken, names::DROPS),
            ] {
                let _ = tally.metric.set(metrics::counter!(name, "endpoint" => e.clone()));
            }
        }
    }

    /// The record of a request about to be queued at `now` (the caller's clock reading, not a
    /// second one). It counts nothing yet: [`EndpointStats::queued`] does once the link took it,
    /// and [`Tracked::finish`] when the link resolves it.
    pub(crate) fn tracker(&self, mti: Mti, now: std::time::Instant) -> Tracked {
        #[cfg(feature = "metrics")]
        {
            Tracked {
                class: self.class_metrics_ref(mti).map(|_| class_digit(mti)),
                started: now,
            }
        }
        #[cfg(not(feature = "metrics"))]
        {
            let _ = (mti, now);
            Tracked { _private: () }
        }
    }

    /// A request of type `mti` was queued on a link of this endpoint: counts it sent and in
    /// flight (feature `metrics`).
    pub(crate) fn queued(&self, mti: Mti) {
        #[cfg(feature = "metrics")]
        if let Some(m) = self.class_metrics_ref(mti) {
            m.sent.increment(1);
            m.in_flight.increment(1.0);
        }
        #[cfg(not(feature = "metrics"))]
        let _ = mti;
    }

    #[cfg(feature = "metrics")]
    fn class_metrics_ref(&self, mti: Mti) -> Option<&Arc<ClassMetrics>> {
        let endpoint = self.endpoint.get()?;
        let slot = self.classes.get(usize::from(class_digit(mti)))?;
        Some(slot.get_or_init(|| Arc::new(ClassMetrics::new(endpoint, class_name(mti)))))
    }
}

/// The MTI's class digit (its second), the index of its handles.
#[cfg(feature = "metrics")]
fn class_digit(mti: Mti) -> u8 {
    mti.as_bytes()[1].wrapping_sub(b'0')
}

/// The metric names (feature `metrics`); the README's "Metrics" table documents them.
#[cfg(feature = "metrics")]
mod names {
    pub const SENT: &str = "iso8583_requests_sent_total";
    pub const ANSWERED: &str = "iso8583_requests_answered_total";
    pub const TIMED_OUT: &str = "iso8583_requests_timed_out_total";
    pub const NOT_SENT: &str = "iso8583_requests_not_sent_total";
    pub const OUTCOME_UNKNOWN: &str = "iso8583_requests_outcome_unknown_total";
    pub const IN_FLIGHT: &str = "iso8583_requests_in_flight";
    pub const ROUND_TRIP: &str = "iso8583_round_trip_seconds";
    pub const RETRIED: &str = "iso8583_requests_retried_total";
    pub const LATE: &str = "iso8583_responses_late_total";
    pub const DUPLICATE: &str = "iso8583_responses_duplicate_total";
    pub const UNMATCHED: &str = "iso8583_responses_unmatched_total";
    pub const UNDECODABLE: &str = "iso8583_frames_undecodable_total";
    pub const UNSOLICITED: &str = "iso8583_host_requests_total";
    pub const CONNECTS: &str = "iso8583_link_connects_total";
    pub const RECONNECTS: &str = "iso8583_link_reconnects_total";
    pub const DROPS: &str = "iso8583_link_drops_total";
}

/// The `mti_class` label: the MTI's class in snake case (`authorization`, `financial`,
/// `reversal`, `network_management`, …).
#[cfg(feature = "metrics")]
fn class_name(mti: Mti) -> &'static str {
    use crate::message::MtiClass::*;
    match mti.class() {
        Authorization => "authorization",
        Financial => "financial",
        FileAction => "file_action",
        Reversal => "reversal",
        Reconciliation => "reconciliation",
        Administrative => "administrative",
        FeeCollection => "fee_collection",
        NetworkManagement => "network_management",
        Reserved(_) => "reserved",
    }
}

/// The handles of one endpoint and MTI class, registered once.
#[cfg(feature = "metrics")]
#[derive(Debug)]
struct ClassMetrics {
    sent: metrics::Counter,
    answered: metrics::Counter,
    timed_out: metrics::Counter,
    not_sent: metrics::Counter,
    outcome_unknown: metrics::Counter,
    in_flight: metrics::Gauge,
    round_trip: metrics::Histogram,
}

#[cfg(feature = "metrics")]
impl ClassMetrics {
    fn new(endpoint: &str, class: &'static str) -> ClassMetrics {
        let labels = [("endpoint", endpoint.to_owned()), ("mti_class", class.to_owned())];
        ClassMetrics {
            sent: metrics::counter!(names::SENT, &labels),
            answered: metrics::counter!(names::ANSWERED, &labels),
            timed_out: metrics::counter!(names::TIMED_OUT, &labels),
            not_sent: metrics::counter!(names::NOT_SENT, &labels),
            outcome_unknown: metrics::counter!(names::OUTCOME_UNKNOWN, &labels),
            in_flight: metrics::gauge!(names::IN_FLIGHT, &labels),
            round_trip: metrics::histogram!(names::ROUND_TRIP, &labels),
        }
    }
}

/// One request between its queueing and its outcome (feature `metrics`: its class's handles and
/// when it was queued). It travels with the request's waiter inside the link, so the outcome the
/// link decides is the one recorded, timed with the clock reading the link took for it (no
/// clock read of its own).
#[derive(Debug)]
pub(crate) struct Tracked {
    /// The class digit whose handles its endpoint holds (no reference count taken per request:
    /// one shared count, bumped by every sender on every core, would bounce between them).
    #[cfg(feature = "metrics")]
    class: Option<u8>,
    #[cfg(feature = "metrics")]
    started: std::time::Instant,
    #[cfg(not(feature = "metrics"))]
    _private: (),
}

/// A round trip's length in seconds, worked out only by a histogram that records it (with no
/// recorder installed, the handle records nothing and the subtraction is never done).
#[cfg(feature = "metrics")]
struct RoundTrip {
    from: std::time::Instant,
    to: std::time::Instant,
}

#[cfg(feature = "metrics")]
impl metrics::IntoF64 for RoundTrip {
    fn into_f64(self) -> f64 {
        self.to.saturating_duration_since(self.from).as_secs_f64()
    }
}

impl Tracked {
    /// Records the request's outcome, decided at `now`: its round trip when answered, else how
    /// it failed; it leaves the in-flight gauge.
    pub(crate) fn finish(
        &mut self,
        stats: &EndpointStats,
        outcome: &Result<Message, SendError>,
        now: std::time::Instant,
    ) {
        #[cfg(feature = "metrics")]
        if let Some(m) = self
            .class
            .take()
            .and_then(|digit| stats.classes.get(usize::from(digit)))
            .and_then(OnceLock::get)
        {
            m.in_flight.decrement(1.0);
            match outcome {
                Ok(_) => {
                    m.answered.increment(1);
                    m.round_trip.record(RoundTrip {
                        from: self.started,
                        to: now,
                    });
                }
                Err(e) => {
                    if e.is_timeout() {
                        m.timed_out.increment(1);
                    }
                    if e.is_not_sent() {
                        m.not_sent.increment(1);
                    } else {
                        m.outcome_unknown.increment(1);
                    }
                }
            }
        }
        #[cfg(not(feature = "metrics"))]
        let _ = (stats, outcome, now);
    }
}
