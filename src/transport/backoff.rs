//! The one backoff rule of the crate: the pause before a reconnect to an
//! endpoint that failed, and before a client's retry of a request.

use std::time::Duration;

/// Exponential backoff with jitter: the n-th pause in a row (n from 1) is
/// `initial * 2^(n-1)`, at most `max`, scaled by a random factor between 0.5
/// and 1 so that many clients do not come back in step. Saturates: any
/// `initial`, `max` and `n` give a pause no longer than `max`, without panic.
///
/// Used for reconnects ([`ClientBuilder::reconnect_backoff`](crate::ClientBuilder::reconnect_backoff),
/// default 100 ms to 30 s) and retries ([`RetryPolicy::backoff`](crate::RetryPolicy::backoff),
/// default 20 ms to 1 s).
///
/// ```
/// use std::time::Duration;
/// use iso8583_client::Backoff;
/// let b = Backoff { initial: Duration::from_millis(100), max: Duration::from_secs(10) };
/// assert!(b.delay(1) <= Duration::from_millis(100));
/// assert!(b.delay(30) <= Duration::from_secs(10));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first pause.
    pub initial: Duration,
    /// The longest pause.
    pub max: Duration,
}

impl Backoff {
    /// Reconnects: 100 ms, doubling up to 30 s.
    pub const RECONNECT: Backoff = Backoff {
        initial: Duration::from_millis(100),
        max: Duration::from_secs(30),
    };

    /// Retries: 20 ms, doubling up to 1 s.
    pub const RETRY: Backoff = Backoff {
        initial: Duration::from_millis(20),
        max: Duration::from_secs(1),
    };

    /// The pause after `n` failures in a row (jittered; `n` 0 counts as 1).
    pub fn delay(&self, n: u32) -> Duration {
        let full = self.ceiling(n);
        let factor = 0.5 + fastrand::f64() * 0.5;
        Duration::try_from_secs_f64(full.as_secs_f64() * factor)
            .unwrap_or(full)
            .min(full)
    }

    /// The pause after `n` failures before jitter: `initial * 2^(n-1)`, at most `max`.
    pub fn ceiling(&self, n: u32) -> Duration {
        let exp = n.saturating_sub(1).min(31);
        self.initial.saturating_mul(1u32 << exp).min(self.max)
    }
}

impl Default for Backoff {
    /// [`Backoff::RECONNECT`].
    fn default() -> Self {
        Backoff::RECONNECT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_its_maximum_with_jitter() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(800),
        };
        for (n, full) in [
            (0, 100),
            (1, 100),
            (2, 200),
            (3, 400),
            (4, 800),
            (9, 800),
            (u32::MAX, 800),
        ] {
            let full = Duration::from_millis(full);
            assert_eq!(b.ceiling(n), full);
            let pauses: Vec<Duration> = (0..50).map(|_| b.delay(n)).collect();
            assert!(pauses.iter().all(|p| *p >= full / 2 && *p <= full), "{pauses:?}");
            assert!(pauses.iter().any(|p| *p != pauses[0]), "no jitter: {pauses:?}");
        }
    }

    #[test]
    fn saturates_at_the_extremes() {
        let huge = Backoff {
            initial: Duration::MAX,
            max: Duration::MAX,
        };
        for n in [0, 1, 2, 63, u32::MAX] {
            assert!(huge.delay(n) <= Duration::MAX);
            assert_eq!(huge.ceiling(n), Duration::MAX);
        }
        let zero = Backoff {
            initial: Duration::ZERO,
            max: Duration::from_secs(1),
        };
        assert_eq!(zero.delay(u32::MAX), Duration::ZERO);
        let inverted = Backoff {
            initial: Duration::from_secs(5),
            max: Duration::from_secs(1),
        };
        assert!(inverted.delay(1) <= Duration::from_secs(1), "max wins");
    }
}
