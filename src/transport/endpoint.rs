//! One host address of the pool: its counters, its reconnect backoff, and
//! whether it is healthy (the last attempt to open a link to it succeeded).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::backoff::Backoff;
use super::stats::{Counters, EndpointStats};

/// One host address with its counters and reconnect state.
///
/// ```
/// use iso8583_client::transport::Endpoint;
/// let endpoints = vec![Endpoint::new("127.0.0.1:9583"), Endpoint::new("127.0.0.1:9584")]; // primary first
/// assert_eq!(endpoints[1].addr(), "127.0.0.1:9584");
/// ```
#[derive(Debug)]
pub struct Endpoint {
    addr: String,
    stats: Arc<EndpointStats>,
    state: Mutex<EndpointState>,
}

#[derive(Debug, Default)]
struct EndpointState {
    failures: u32,
    retry_at: Option<Instant>,
    connected_before: bool,
    /// A fail-back probe of this endpoint is running.
    probing: bool,
    /// The last attempt succeeded and no link broke since.
    up: bool,
    /// Since when it is up.
    up_since: Option<Instant>,
}

impl Endpoint {
    /// An endpoint at `addr` (`host:port`).
    pub fn new(addr: impl Into<String>) -> Endpoint {
        Endpoint {
            addr: addr.into(),
            stats: Arc::default(),
            state: Mutex::default(),
        }
    }

    /// The address.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Its counters at this instant.
    pub fn counters(&self) -> Counters {
        self.stats.snapshot()
    }

    /// Its live counters.
    pub(crate) fn stats(&self) -> &Arc<EndpointStats> {
        &self.stats
    }

    fn state(&self) -> std::sync::MutexGuard<'_, EndpointState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Not waiting out a reconnect backoff.
    pub(crate) fn ready(&self, now: Instant) -> bool {
        !matches!(self.state().retry_at, Some(at) if now < at)
    }

    /// The last attempt to open (or probe) a link here succeeded, and no link broke since.
    pub(crate) fn healthy(&self) -> bool {
        self.state().up
    }

    /// Claims the right to probe this endpoint: true when it is unhealthy,
    /// its backoff has passed and no probe is running.
    pub(crate) fn start_probe(&self, now: Instant) -> bool {
        let mut st = self.state();
        let healthy = st.up;
        let waiting = matches!(st.retry_at, Some(at) if now < at);
        if healthy || waiting || st.probing {
            return false;
        }
        st.probing = true;
        true
    }

    pub(crate) fn end_probe(&self) {
        self.state().probing = false;
    }

    pub(crate) fn succeeded(&self) {
        let mut st = self.state();
        if st.connected_before {
            EndpointStats::bump(&self.stats.reconnects);
        }
        if !st.up {
            st.up = true;
            st.up_since = Some(Instant::now());
        }
        st.retry_at = None;
        st.connected_before = true;
    }

    /// Records a failed attempt; returns the pause before the next one.
    /// The failure count (and so the backoff) starts again only after the endpoint
    /// stayed up for `backoff.max`: one that keeps coming back and breaking waits longer
    /// each time instead of flapping.
    pub(crate) fn failed(&self, backoff: &Backoff) -> Duration {
        let mut st = self.state();
        let stable = st.up_since.is_some_and(|since| since.elapsed() >= backoff.max);
        if st.up && stable {
            st.failures = 0;
        }
        st.up = false;
        st.up_since = None;
        st.failures = st.failures.saturating_add(1);
        let pause = backoff.delay(st.failures);
        st.retry_at = Some(crate::transport::core::Moment::after(Instant::now(), pause));
        pause
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_that_keeps_breaking_backs_off_longer_each_time() {
        let e = Endpoint::new("127.0.0.1:1");
        let backoff = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(60),
        };
        e.failed(&backoff);
        e.failed(&backoff);
        e.succeeded(); // a probe answered...
        assert!(e.healthy());
        let pause = e.failed(&backoff); // ...and it broke again at once: no fresh start
        assert!(!e.healthy());
        assert!(
            pause >= Duration::from_millis(200),
            "third failure waits 400 ms ± jitter: {pause:?}"
        );
    }

    #[tokio::test]
    async fn an_endpoint_is_probed_once_at_a_time_and_only_after_its_backoff() {
        let e = Endpoint::new("127.0.0.1:1");
        let backoff = Backoff {
            initial: Duration::from_secs(60),
            max: Duration::from_secs(60),
        };
        let now = Instant::now();
        assert!(e.start_probe(now) && !e.start_probe(now), "one probe at a time");
        e.end_probe();
        e.failed(&backoff);
        assert!(!e.start_probe(Instant::now()), "backoff not over");
        assert!(e.start_probe(Instant::now() + Duration::from_secs(61)));
        e.end_probe();
        e.succeeded();
        assert!(e.healthy() && !e.start_probe(Instant::now() + Duration::from_secs(61)));
    }
}
