//! One host address of the pool: its counters, its reconnect backoff, and
//! whether it is healthy (the last attempt to open a link to it succeeded).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::stats::{Counters, EndpointStats};

/// Reconnect backoff of an endpoint: after the n-th failure in a row the
/// endpoint is skipped for `initial * 2^(n-1)` (at most `max`), scaled by a
/// random factor between 0.5 and 1.
///
/// ```
/// use std::time::Duration;
/// let b = iso8583_client::transport::ReconnectBackoff { initial: Duration::from_millis(100), max: Duration::from_secs(10) };
/// assert!(b.delay(1) <= Duration::from_millis(100));
/// assert!(b.delay(30) <= Duration::from_secs(10));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ReconnectBackoff {
    /// Pause after the first failure. Default: 100 ms.
    pub initial: Duration,
    /// Longest pause. Default: 30 s.
    pub max: Duration,
}

impl Default for ReconnectBackoff {
    fn default() -> Self {
        ReconnectBackoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(30),
        }
    }
}

impl ReconnectBackoff {
    /// Pause after `failures` failures in a row (jittered).
    pub fn delay(&self, failures: u32) -> Duration {
        jittered_backoff(self.initial, self.max, failures)
    }
}

/// `initial * 2^(n-1)` for the n-th pause (n from 1), at most `max`, scaled by a random factor
/// between 0.5 and 1 so that many clients do not retry in step. Shared by reconnects and retries.
pub(crate) fn jittered_backoff(initial: Duration, max: Duration, n: u32) -> Duration {
    let exp = n.saturating_sub(1).min(20);
    let full = initial.saturating_mul(1u32 << exp).min(max);
    let factor = 0.5 + fastrand::f64() * 0.5;
    Duration::try_from_secs_f64(full.as_secs_f64() * factor).unwrap_or(full)
}

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
    pub(crate) fn failed(&self, backoff: &ReconnectBackoff) -> Duration {
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
        let backoff = ReconnectBackoff {
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

    #[test]
    fn backoff_doubles_up_to_its_maximum_with_jitter() {
        let b = ReconnectBackoff {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(800),
        };
        for (failures, full) in [(1, 100), (2, 200), (3, 400), (4, 800), (9, 800)] {
            let full = Duration::from_millis(full);
            let pauses: Vec<Duration> = (0..50).map(|_| b.delay(failures)).collect();
            assert!(pauses.iter().all(|p| *p >= full / 2 && *p <= full), "{pauses:?}");
            assert!(pauses.iter().any(|p| *p != pauses[0]), "no jitter: {pauses:?}");
        }
    }

    #[tokio::test]
    async fn an_endpoint_is_probed_once_at_a_time_and_only_after_its_backoff() {
        let e = Endpoint::new("127.0.0.1:1");
        let backoff = ReconnectBackoff {
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
