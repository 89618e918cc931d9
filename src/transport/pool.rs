//! Pooling links with deadpool, over one or more endpoints with failover and fail-back.
//!
//! [`LinkManager`] creates a link by trying the endpoints in priority order
//! (primary first), skipping any endpoint that failed recently until its
//! reconnect backoff (exponential, with jitter) has passed. A link is
//! recycled only while it is up and signed on; a broken link is dropped and
//! replaced on the next checkout.
//!
//! **Fail-back.** While a link serves from a lower-priority endpoint, each
//! checkout of it checks the endpoints above: one whose backoff has passed is
//! probed in the background (connect + sign-on, never in the caller's path;
//! a failed probe lengthens its backoff). Once a preferred endpoint is
//! healthy again, links on lower ones are let go at their next checkout and
//! replaced by links to it (the probe's link first).
//!
//! **Letting go.** A link the pool lets go (failing back, pool closed while
//! it was checked out, [`Client::close`](crate::Client::close)) is
//! closed gracefully in the background: no new requests, those in flight
//! drain up to `drain_timeout`, sign-off, then the rest fail.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::{sync::Arc, time::Duration};
//! use iso8583_client::{Spec, Client, sim::Sim, transport::network_request};
//! let spec = Spec::builtin("iso87-ascii").unwrap();
//! let primary = Sim::start(spec.clone(), Default::default()).await.unwrap();
//! let client = Client::builder(spec)
//!     .endpoint("127.0.0.1:1") // nothing listens there: skipped, then backed off
//!     .endpoint(primary.addr().to_string())
//!     .build()
//!     .unwrap();
//! assert!(client.send(network_request("301")).await.unwrap().is_approved()); // failed over
//! assert_eq!(client.counters()[1].1.connects, 1);
//! # client.close().await;
//! # primary.shutdown().await;
//! # });
//! ```

use std::sync::{Arc, Mutex};

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, info, warn, Instrument};

use super::backoff::Backoff;
use super::config::ConnectionConfig;
use super::connection::{Connection, Running};
use super::core::keys::{KeyRegistry, StanSequence};
use super::driver::Keys;
use super::endpoint::Endpoint;
use super::error::ConnectError;
use crate::Spec;

/// deadpool [`Manager`](managed::Manager) of links: `create` connects (and
/// signs on) to the first available endpoint, `recycle` keeps a link only
/// while it is up, not broken, and no preferred endpoint is healthy again.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use std::{sync::Arc, time::Duration};
/// use deadpool::managed::Pool;
/// use iso8583_client::{Spec, sim::Sim, transport::{network_request, ConnectionConfig, Endpoint, LinkManager}};
/// let spec = Spec::builtin("iso87-ascii").unwrap();
/// let sim = Sim::start(spec.clone(), Default::default()).await.unwrap();
/// let manager = LinkManager::new(vec![Endpoint::new(sim.addr().to_string())], spec, Arc::new(ConnectionConfig::default()));
/// let pool: Pool<LinkManager> = Pool::builder(manager).max_size(4).build().unwrap();
/// let link = pool.get().await.unwrap(); // connects to the first available endpoint
/// let answer = link.send(network_request("301"), Duration::from_secs(2)).await.unwrap();
/// assert_eq!(answer.response_code(), Some("00"));
/// # drop(link);
/// # pool.close();
/// # pool.manager().shutdown().await;
/// # sim.shutdown().await;
/// # });
/// ```
#[derive(Debug)]
pub struct LinkManager {
    endpoints: Arc<[Endpoint]>,
    spec: Arc<Spec>,
    config: Arc<ConnectionConfig>,
    keys: Arc<Keys>,
    backoff: Backoff,
    /// Links opened by fail-back probes, waiting for the next `create`.
    probed: Arc<Mutex<Vec<Connection>>>,
    /// Fail-back probes running.
    probes: Mutex<Vec<JoinHandle<()>>>,
    /// Graceful closes of links the pool let go.
    closes: Mutex<Vec<JoinHandle<()>>>,
    /// Set once shutdown began: no link is created after it.
    closing: Arc<std::sync::atomic::AtomicBool>,
}

impl LinkManager {
    /// A manager over `endpoints`, in priority order.
    pub fn new(endpoints: Vec<Endpoint>, spec: Arc<Spec>, config: Arc<ConnectionConfig>) -> LinkManager {
        LinkManager {
            endpoints: endpoints.into(),
            spec,
            keys: Arc::new(config.key_registry()),
            config,
            backoff: Backoff::default(),
            probed: Arc::default(),
            probes: Mutex::default(),
            closes: Mutex::default(),
            closing: Default::default(),
        }
    }

    /// Sets the reconnect backoff.
    pub fn with_backoff(mut self, backoff: Backoff) -> LinkManager {
        self.backoff = backoff;
        self
    }

    /// Starts the STAN sequence of every link at `first` (e.g. restored after a restart).
    pub fn with_first_stan(mut self, first: u32) -> LinkManager {
        self.keys = Arc::new(KeyRegistry::new(
            StanSequence::starting_at(first),
            self.config.late_window,
            self.config.max_keys,
        ));
        self
    }

    /// The endpoints, in priority order.
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// The next STAN of the sequence every link of this manager assigns from.
    pub fn next_stan(&self) -> u32 {
        self.keys.next_stan()
    }

    /// The link settings.
    pub fn config(&self) -> &Arc<ConnectionConfig> {
        &self.config
    }

    /// Stops fail-back probes, closes the links they opened and waits for
    /// every background close to finish (each bounded by the drain time and
    /// the sign-off timeout).
    pub async fn shutdown(&self) {
        self.begin_close();
        for probe in lock(&self.probes).drain(..) {
            probe.abort();
        }
        let probed: Vec<Connection> = lock(&self.probed).drain(..).collect();
        for mut conn in probed {
            if let Some(running) = conn.take_running() {
                self.close_in_background(running);
            }
        }
        // Links let go while we wait add closes of their own: wait until none is left.
        loop {
            let closes: Vec<JoinHandle<()>> = lock(&self.closes).drain(..).collect();
            if closes.is_empty() {
                break;
            }
            for close in closes {
                let _ = close.await;
            }
        }
    }

    /// From now on no link is created (the client is closing).
    pub(crate) fn begin_close(&self) {
        self.closing.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    fn rank_of(&self, peer: &str) -> Option<usize> {
        self.endpoints.iter().position(|e| e.addr() == peer)
    }

    fn take_probed(&self) -> Option<Connection> {
        let mut probed = lock(&self.probed);
        probed.retain(Connection::is_usable);
        probed.pop()
    }

    fn start_probe(&self, rank: usize) {
        let task = probe(
            self.endpoints.clone(),
            rank,
            self.spec.clone(),
            self.config.clone(),
            self.keys.clone(),
            self.backoff,
            self.probed.clone(),
        );
        let span = tracing::debug_span!("iso8583.probe", peer = %self.endpoints.get(rank).map_or("", |e| e.addr()));
        let handle = tokio::spawn(task.instrument(span));
        let mut probes = lock(&self.probes);
        probes.retain(|p| !p.is_finished());
        probes.push(handle);
    }

    fn close_in_background(&self, running: Running) {
        // Outside a runtime, dropping `running` takes the link down at once.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let handle = runtime.spawn(running.close());
            let mut closes = lock(&self.closes);
            closes.retain(|c| !c.is_finished());
            closes.push(handle);
        }
    }
}

impl Drop for LinkManager {
    fn drop(&mut self) {
        for task in lock(&self.probes).iter().chain(lock(&self.closes).iter()) {
            task.abort();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Opens a link to `endpoints[rank]`; on success it waits in `probed` for the
/// pool, on failure the endpoint's backoff grows.
async fn probe(
    endpoints: Arc<[Endpoint]>,
    rank: usize,
    spec: Arc<Spec>,
    config: Arc<ConnectionConfig>,
    keys: Arc<Keys>,
    backoff: Backoff,
    probed: Arc<Mutex<Vec<Connection>>>,
) {
    let Some(endpoint) = endpoints.get(rank) else {
        return;
    };
    let stats = endpoint.stats().clone();
    let echo = config.echo.clone();
    let echo_timeout = config.echo_timeout;
    // Healthy again only after the sign-on and one echo were answered on a fresh link.
    let probed_link = match Connection::open(endpoint.addr(), spec, config, keys, stats).await {
        Ok(conn) => match conn.send(echo, echo_timeout).await {
            Ok(_) => Ok(conn),
            Err(e) => {
                conn.close().await;
                Err(e.to_string())
            }
        },
        Err(e) => Err(e.to_string()),
    };
    match probed_link {
        Ok(conn) => {
            endpoint.succeeded();
            info!(peer = %endpoint.addr(), "preferred endpoint is back (sign-on and echo answered): failing back");
            lock(&probed).push(conn);
        }
        Err(e) => {
            let pause = endpoint.failed(&backoff);
            debug!(peer = %endpoint.addr(), error = %e, retry_in = ?pause, "preferred endpoint still down");
        }
    }
    endpoint.end_probe();
}

/// Opens a link to the first endpoint that is not backing off, in priority
/// order, recording each attempt's outcome for its endpoint.
async fn connect_any(
    endpoints: Arc<[Endpoint]>,
    spec: Arc<Spec>,
    config: Arc<ConnectionConfig>,
    keys: Arc<Keys>,
    backoff: Backoff,
) -> Result<Connection, ConnectError> {
    let now = Instant::now();
    let mut last_error = None;
    for endpoint in endpoints.iter().filter(|e| e.ready(now)) {
        let attempt = Connection::open(
            endpoint.addr(),
            spec.clone(),
            config.clone(),
            keys.clone(),
            endpoint.stats().clone(),
        )
        .await;
        match attempt {
            Ok(conn) => {
                endpoint.succeeded();
                info!(peer = %endpoint.addr(), "link up");
                return Ok(conn);
            }
            Err(e) => {
                let pause = endpoint.failed(&backoff);
                warn!(peer = %endpoint.addr(), error = %e, retry_in = ?pause, "endpoint unavailable");
                last_error = Some(e);
            }
        }
    }
    Err(last_error
        .unwrap_or_else(|| ConnectError::NoEndpoint("every endpoint is waiting out its reconnect backoff".into())))
}

impl managed::Manager for LinkManager {
    type Type = Connection;
    type Error = ConnectError;

    async fn create(&self) -> Result<Connection, ConnectError> {
        if self.closing.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(ConnectError::NoEndpoint("the client is closing".into()));
        }
        if let Some(conn) = self.take_probed() {
            return Ok(conn);
        }
        // The connect runs in a task of its own, bounded by the connect and sign-on
        // timeouts, not by the deadline of the send that asked for it: a caller that gives
        // up does not cut it short, so its outcome always counts for the endpoint (failover
        // under short deadlines), and a link that comes up after the caller left is parked
        // for the next one.
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job = connect_any(
            self.endpoints.clone(),
            self.spec.clone(),
            self.config.clone(),
            self.keys.clone(),
            self.backoff,
        );
        let parked = self.probed.clone();
        let closing = self.closing.clone();
        let handle = tokio::spawn(
            async move {
                if let Err(Ok(conn)) = tx.send(job.await) {
                    if closing.load(std::sync::atomic::Ordering::Relaxed) {
                        conn.close().await;
                    } else {
                        lock(&parked).push(conn);
                    }
                }
            }
            .in_current_span(),
        );
        {
            let mut probes = lock(&self.probes);
            probes.retain(|p| !p.is_finished());
            probes.push(handle);
        }
        rx.await
            .unwrap_or_else(|_| Err(ConnectError::NoEndpoint("the connect was stopped".into())))
    }

    async fn recycle(&self, conn: &mut Connection, _: &Metrics) -> RecycleResult<ConnectError> {
        if !conn.is_usable() {
            if conn.is_broken() {
                // Timeouts in a row or an unanswered echo: as unhealthy as a refused connect.
                if let Some(endpoint) = self.rank_of(conn.peer()).and_then(|r| self.endpoints.get(r)) {
                    let pause = endpoint.failed(&self.backoff);
                    warn!(peer = %endpoint.addr(), retry_in = ?pause, "link broke: endpoint backs off");
                }
            }
            return Err(RecycleError::message("link is down or broken"));
        }
        let rank = self.rank_of(conn.peer()).unwrap_or(0);
        let now = Instant::now();
        for (better, endpoint) in self.endpoints.iter().enumerate().take(rank) {
            if endpoint.healthy() {
                info!(from = %conn.peer(), to = %endpoint.addr(), "failing back to a preferred endpoint");
                return Err(RecycleError::message("a preferred endpoint is healthy again"));
            }
            if endpoint.start_probe(now) {
                self.start_probe(better);
            }
        }
        Ok(())
    }

    /// The pool lets `conn` go (failing back, broken, or given back to a
    /// closed pool): close it gracefully in the background.
    fn detach(&self, conn: &mut Connection) {
        if let Some(running) = conn.take_running() {
            self.close_in_background(running);
        }
    }
}
