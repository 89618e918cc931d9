//! Pooling links with deadpool, over one or more endpoints with failover.
//!
//! [`LinkManager`] creates a link by trying the endpoints in priority order
//! (primary first), skipping any endpoint that failed recently until its
//! reconnect backoff (exponential, with jitter) has passed. A link is
//! recycled only while it is up and signed on; a broken link is dropped and
//! replaced on the next checkout.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use tokio::time::Instant;
use tracing::{info, warn};

use super::config::ConnectionConfig;
use super::connection::Connection;
use super::error::ConnectError;
use super::pending::StanSequence;
use super::stats::EndpointStats;
use crate::Spec;

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
        let exp = failures.saturating_sub(1).min(20);
        let full = self.initial.saturating_mul(1u32 << exp).min(self.max);
        full.mul_f64(0.5 + fastrand::f64() * 0.5)
    }
}

/// One host address with its counters and reconnect state.
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
}

impl Endpoint {
    /// An endpoint at `addr` (`host:port`).
    ///
    /// ```
    /// let primary = iso8583_client::transport::Endpoint::new("10.0.0.1:9583");
    /// assert_eq!(primary.addr(), "10.0.0.1:9583");
    /// ```
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

    /// Its counters.
    pub fn stats(&self) -> &Arc<EndpointStats> {
        &self.stats
    }

    fn state(&self) -> std::sync::MutexGuard<'_, EndpointState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn ready(&self, now: Instant) -> bool {
        !matches!(self.state().retry_at, Some(at) if now < at)
    }

    fn succeeded(&self) {
        let mut st = self.state();
        if st.connected_before {
            EndpointStats::bump(&self.stats.reconnects);
        }
        *st = EndpointState {
            failures: 0,
            retry_at: None,
            connected_before: true,
        };
    }

    fn failed(&self, backoff: &ReconnectBackoff) -> Duration {
        let mut st = self.state();
        st.failures = st.failures.saturating_add(1);
        let pause = backoff.delay(st.failures);
        st.retry_at = Some(Instant::now() + pause);
        pause
    }
}

/// deadpool [`Manager`](managed::Manager) of links: `create` connects (and
/// signs on) to the first available endpoint, `recycle` keeps a link only
/// while it is up and not broken.
///
/// ```no_run
/// use std::sync::Arc;
/// use deadpool::managed::Pool;
/// use iso8583_client::{Spec, transport::{ConnectionConfig, Endpoint, LinkManager}};
/// let manager = LinkManager::new(
///     vec![Endpoint::new("10.0.0.1:9583"), Endpoint::new("10.0.0.2:9583")],
///     Spec::builtin("iso87-ascii-binary-bitmap").unwrap(),
///     Arc::new(ConnectionConfig::default()),
/// );
/// let pool: Pool<LinkManager> = Pool::builder(manager).max_size(4).build().unwrap();
/// ```
#[derive(Debug)]
pub struct LinkManager {
    endpoints: Vec<Endpoint>,
    spec: Arc<Spec>,
    config: Arc<ConnectionConfig>,
    stans: Arc<StanSequence>,
    backoff: ReconnectBackoff,
}

impl LinkManager {
    /// A manager over `endpoints`, in priority order.
    pub fn new(endpoints: Vec<Endpoint>, spec: Arc<Spec>, config: Arc<ConnectionConfig>) -> LinkManager {
        LinkManager {
            endpoints,
            spec,
            config,
            stans: Arc::default(),
            backoff: ReconnectBackoff::default(),
        }
    }

    /// Sets the reconnect backoff.
    pub fn with_backoff(mut self, backoff: ReconnectBackoff) -> LinkManager {
        self.backoff = backoff;
        self
    }

    /// Shares `stans` as the STAN sequence of every link.
    pub fn with_stans(mut self, stans: Arc<StanSequence>) -> LinkManager {
        self.stans = stans;
        self
    }

    /// The endpoints, in priority order.
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }
}

impl managed::Manager for LinkManager {
    type Type = Connection;
    type Error = ConnectError;

    async fn create(&self) -> Result<Connection, ConnectError> {
        let now = Instant::now();
        let mut last_error = None;
        for endpoint in self.endpoints.iter().filter(|e| e.ready(now)) {
            let attempt = Connection::connect_shared(
                &endpoint.addr,
                self.spec.clone(),
                self.config.clone(),
                self.stans.clone(),
                endpoint.stats.clone(),
            )
            .await;
            match attempt {
                Ok(conn) => {
                    endpoint.succeeded();
                    info!(peer = %endpoint.addr, "link up");
                    return Ok(conn);
                }
                Err(e) => {
                    let pause = endpoint.failed(&self.backoff);
                    warn!(peer = %endpoint.addr, error = %e, retry_in = ?pause, "endpoint unavailable");
                    last_error = Some(e);
                }
            }
        }
        Err(last_error
            .unwrap_or_else(|| ConnectError::NoEndpoint("every endpoint is waiting out its reconnect backoff".into())))
    }

    async fn recycle(&self, conn: &mut Connection, _: &Metrics) -> RecycleResult<ConnectError> {
        if conn.is_usable() {
            Ok(())
        } else {
            Err(RecycleError::message("link is down or broken"))
        }
    }
}
