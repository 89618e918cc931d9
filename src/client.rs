//! The public client: pooled links, deadlines, and retries only where safe.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! # let host = iso8583_client::sim::Sim::start(iso8583_client::Spec::builtin("iso87-ascii").unwrap(), Default::default()).await?;
//! use std::time::Duration;
//! use iso8583_client::{Message, Spec, Client, SendOptions};
//! let client = Client::builder(Spec::builtin("iso87-ascii").unwrap())
//!     .endpoint(host.addr().to_string()) // primary; add more for failover
//!     .timeout(Duration::from_secs(10))
//!     .build()?;
//! let mut auth = Message::new("0100".parse()?);
//! auth.set(2, "4111111111111111").set(3, "000000").set(4, "000000001000");
//! match client.send(auth).await {
//!     Ok(answer) => assert_eq!(answer.response_code(), Some("00")),
//!     Err(e) if e.is_outcome_unknown() => println!("unknown outcome: reverse it ({e})"),
//!     Err(e) => println!("not sent, safe to retry ({e})"),
//! }
//! # client.close().await;
//! # host.shutdown().await;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use deadpool::managed::{Pool, PoolError};
use tokio::time::Instant;
use tracing::{debug, field, Instrument};

use crate::message::MtiClass;
use crate::transport::core::Moment;
use crate::transport::{
    Backoff, Cause, ConnectError, ConnectionConfig, Counters, Endpoint, EndpointStats, LinkManager, SendError,
};
use crate::{Message, Mti, Spec};

/// When and how often a failed request is tried again. Whether it may be
/// tried again at all depends on whether it was written and on its
/// idempotency (see [`SendOptions::idempotent`]).
///
/// ```
/// use std::time::Duration;
/// use iso8583_client::RetryPolicy;
/// let policy = RetryPolicy { attempts: 4, ..RetryPolicy::default() };
/// assert!(policy.backoff.delay(3) <= policy.backoff.max);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1: never retry). Default: 3.
    pub attempts: u32,
    /// Pauses between attempts. Default: [`Backoff::RETRY`] (20 ms, doubling up to 1 s).
    pub backoff: Backoff,
    /// Longest wait for the answer to one attempt, so that an unanswered
    /// idempotent request (a reversal) leaves time to be repeated before the
    /// deadline. Default: none — an idempotent request shares what is left
    /// of its deadline evenly among its remaining attempts; any other request
    /// may wait for its answer until the deadline.
    pub attempt_timeout: Option<Duration>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 3,
            backoff: Backoff::RETRY,
            attempt_timeout: None,
        }
    }
}

impl RetryPolicy {
    /// Never retry.
    pub fn none() -> RetryPolicy {
        RetryPolicy {
            attempts: 1,
            ..RetryPolicy::default()
        }
    }
}

/// Options of one send.
///
/// ```
/// use std::time::Duration;
/// use iso8583_client::SendOptions;
/// let opts = SendOptions { timeout: Some(Duration::from_secs(2)), idempotent: Some(true), ..SendOptions::default() };
/// ```
#[derive(Debug, Clone, Default)]
pub struct SendOptions {
    /// Deadline of the whole operation (checkout, write, wait, retries). Overrides `timeout`.
    pub deadline: Option<Instant>,
    /// Time allowed for the whole operation. Default: the client's timeout.
    pub timeout: Option<Duration>,
    /// Whether the request may be sent again once written. Default: by MTI —
    /// network management (08xx), reversals (04xx) and advices are idempotent;
    /// authorizations and financial requests are not.
    pub idempotent: Option<bool>,
    /// Retry policy. Default: the client's.
    pub retry: Option<RetryPolicy>,
}

/// True when ISO 8583 convention makes a request safe to send twice.
pub(crate) fn idempotent_by_default(mti: Mti) -> bool {
    matches!(mti.class(), MtiClass::NetworkManagement | MtiClass::Reversal) || mti.is_advice()
}

/// Reversals and advices go out again as repeats (0400 -> 0401, 0220 -> 0221).
fn retried_as_repeat(mti: Mti) -> bool {
    mti.class() == MtiClass::Reversal || mti.is_advice()
}

/// Builder of a [`Client`].
///
/// ```
/// use std::time::Duration;
/// use iso8583_client::{Spec, Client};
/// let builder = Client::builder(Spec::builtin("iso87-ascii").unwrap())
///     .endpoint("127.0.0.1:9583")
///     .pool_size(2)
///     .timeout(Duration::from_secs(5));
/// # let _rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// # let _guard = _rt.enter();
/// let client = builder.build().unwrap(); // opens no link yet
/// assert_eq!(client.counters()[0].0, "127.0.0.1:9583");
/// ```
#[derive(Debug)]
pub struct ClientBuilder {
    spec: Arc<Spec>,
    endpoints: Vec<String>,
    config: ConnectionConfig,
    pool_size: usize,
    wait_timeout: Option<Duration>,
    timeout: Duration,
    retry: RetryPolicy,
    backoff: Backoff,
}

impl ClientBuilder {
    /// Adds an endpoint (`host:port`); the first added is the primary.
    pub fn endpoint(mut self, addr: impl Into<String>) -> Self {
        self.endpoints.push(addr.into());
        self
    }

    /// Link settings (framing, sign-on, echo, match fields…). Default: [`ConnectionConfig::default`].
    pub fn connection(mut self, config: ConnectionConfig) -> Self {
        self.config = config;
        self
    }

    /// Most links open at once. Default: 4. Links are handed out most recently
    /// used first, so light traffic stays on one link (fuller write batches)
    /// and more links open only when senders check out at the same time.
    pub fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = size.max(1);
        self
    }

    /// Longest wait for a link of the pool (the send's deadline applies too). Default: none.
    pub fn wait_timeout(mut self, wait: Duration) -> Self {
        self.wait_timeout = Some(wait);
        self
    }

    /// Default time allowed for a send. Default: 30 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Default retry policy. Default: [`RetryPolicy::default`].
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Reconnect backoff of endpoints. Default: [`Backoff::default`].
    pub fn reconnect_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Builds the client; links open on first use. Needs a tokio runtime and at least one endpoint.
    pub fn build(self) -> Result<Client, BuildError> {
        if self.endpoints.is_empty() {
            return Err(BuildError("no endpoint configured".into()));
        }
        #[cfg(feature = "tower")]
        let capacity = self.pool_size.saturating_mul(self.config.max_in_flight);
        let endpoints = self.endpoints.into_iter().map(Endpoint::new).collect();
        let manager = LinkManager::new(endpoints, self.spec, Arc::new(self.config)).with_backoff(self.backoff);
        let pool = Pool::builder(manager)
            .max_size(self.pool_size)
            .wait_timeout(self.wait_timeout)
            .queue_mode(deadpool::managed::QueueMode::Lifo)
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|e| BuildError(e.to_string()))?;
        Ok(Client {
            pool,
            timeout: self.timeout,
            retry: self.retry,
            closing: Arc::default(),
            #[cfg(feature = "tower")]
            readiness: crate::tower::Readiness::new(capacity),
        })
    }
}

/// The client could not be built.
///
/// ```
/// let err = iso8583_client::Client::builder(iso8583_client::Spec::builtin("iso87-ascii").unwrap())
///     .build()
///     .unwrap_err();
/// assert!(err.to_string().starts_with("cannot build client"));
/// ```
#[derive(Debug, thiserror::Error)]
#[error("cannot build client: {0}")]
pub struct BuildError(String);

/// Sends ISO 8583 requests over a pool of links and returns their responses.
/// Cheap to clone; clones share the pool.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// # use iso8583_client::{Message, Spec, Client, sim::{Sim, SimConfig}};
/// # let spec = Spec::builtin("iso87-ascii").unwrap();
/// # let sim = Sim::start(spec.clone(), SimConfig::default()).await.unwrap();
/// # let client = Client::builder(spec).endpoint(sim.addr().to_string()).build().unwrap();
/// let other = client.clone(); // shares the pool
/// let echo = Message::new("0800".parse().unwrap()).with(70, "301");
/// assert_eq!(other.send(echo).await.unwrap().response_code(), Some("00"));
/// # client.close().await;
/// # sim.shutdown().await;
/// # });
/// ```
#[derive(Clone)]
pub struct Client {
    pool: Pool<LinkManager>,
    timeout: Duration,
    retry: RetryPolicy,
    /// Set by [`Client::close`]: new sends are refused.
    pub(crate) closing: Arc<AtomicBool>,
    /// Readiness as a `tower::Service`: slots for the requests the links can hold.
    #[cfg(feature = "tower")]
    pub(crate) readiness: crate::tower::Readiness,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("status", &self.pool.status())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Starts a builder for messages of `spec`.
    pub fn builder(spec: Arc<Spec>) -> ClientBuilder {
        ClientBuilder {
            spec,
            endpoints: Vec::new(),
            config: ConnectionConfig::default(),
            pool_size: 4,
            wait_timeout: None,
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            backoff: Backoff::default(),
        }
    }

    /// Sends `msg` with the client's defaults; see [`Client::send_with`].
    pub async fn send(&self, msg: Message) -> Result<Message, SendError> {
        self.send_with(msg, SendOptions::default()).await
    }

    /// Sends `msg` and waits for its response until the deadline, retrying
    /// where safe: a request that was not written may always be retried; one
    /// that was written is retried only if idempotent (reversals and advices
    /// then go out as repeats, with the same STAN and data). A missing DE 11
    /// is assigned once and kept across retries. A decline is a response.
    pub async fn send_with(&self, mut msg: Message, opts: SendOptions) -> Result<Message, SendError> {
        let deadline = opts
            .deadline
            .unwrap_or_else(|| Instant::now().after(opts.timeout.unwrap_or(self.timeout)));
        let policy = opts.retry.unwrap_or(self.retry);
        let idempotent = opts.idempotent.unwrap_or_else(|| idempotent_by_default(msg.mti()));
        let span = tracing::debug_span!("iso8583.send", mti = %msg.mti(), stan = field::Empty);
        async move {
            let mut written = false;
            let mut attempt = 0u32;
            let mut last_id = None;
            loop {
                attempt += 1;
                let now = Instant::now();
                let attempt_deadline = match policy.attempt_timeout {
                    Some(limit) => deadline.min(now.after(limit)),
                    None if idempotent => {
                        // Share what is left evenly, so an unanswered reversal is repeated in time.
                        let attempts_left = policy.attempts.saturating_sub(attempt - 1).max(1);
                        now.after(deadline.saturating_duration_since(now) / attempts_left)
                    }
                    None => deadline,
                };
                let result = self.attempt(&mut msg, attempt_deadline, &mut last_id).await;
                let err = match result {
                    Ok(response) => return Ok(response),
                    Err(err) => err,
                };
                written |= err.is_outcome_unknown();
                let may_retry =
                    retryable_cause(err.cause()) && (err.is_not_sent() || idempotent) && !self.closing.load(Relaxed);
                let pause = policy.backoff.delay(attempt);
                if !may_retry || attempt >= policy.attempts.max(1) || Instant::now().after(pause) >= deadline {
                    debug!(error = %err, attempt, "send failed");
                    return Err(settle(err, written));
                }
                debug!(error = %err, attempt, retry_in = ?pause, "retrying");
                tokio::time::sleep(pause).await;
                if written && retried_as_repeat(msg.mti()) {
                    if let Some(repeat) = msg.mti().repeat() {
                        msg.set_mti(repeat);
                    }
                }
            }
        }
        .instrument(span)
        .await
    }

    /// One attempt: checkout, hand the frame to the writer, give the link back, wait.
    /// One attempt; `last_id` is the id of the previous attempt (a retry of it may
    /// reuse its key) and is set to this attempt's id once it was queued.
    async fn attempt(
        &self,
        msg: &mut Message,
        deadline: Instant,
        last_id: &mut Option<u64>,
    ) -> Result<Message, SendError> {
        let retry = last_id.is_some();
        if self.closing.load(Relaxed) {
            return Err(SendError::NotSent(Cause::Closing));
        }
        if Instant::now() >= deadline {
            // Never write a request whose caller has already given up on it.
            return Err(SendError::NotSent(Cause::Timeout));
        }
        let link = match tokio::time::timeout_at(deadline, self.pool.get()).await {
            Ok(Ok(link)) => link,
            Ok(Err(PoolError::Closed)) => return Err(SendError::NotSent(Cause::Closing)),
            Ok(Err(PoolError::Backend(e))) => return Err(SendError::NotSent(Cause::NoConnection(Arc::new(e)))),
            Ok(Err(e)) => {
                let e = ConnectError::NoEndpoint(e.to_string());
                return Err(SendError::NotSent(Cause::NoConnection(Arc::new(e))));
            }
            Err(_) => return Err(SendError::NotSent(Cause::Timeout)),
        };
        if self.closing.load(Relaxed) {
            // Closed while this send waited for a link: give it back untouched.
            return Err(SendError::NotSent(Cause::Closing));
        }
        if retry {
            EndpointStats::bump(&link.stats().retried);
        }
        let earlier = *last_id;
        let waiting = link.dispatch_retry(msg, deadline, earlier).await?;
        *last_id = Some(waiting.id());
        drop(link); // the checkout ends once the frame is queued
        tracing::Span::current().record("stan", waiting.stan());
        let outcome = waiting.response().await;
        if matches!(&outcome, Err(e) if e.is_not_sent()) {
            // Never written: the key went back to the earlier attempt (or was freed).
            *last_id = earlier;
        }
        outcome
    }

    /// The next STAN of the sequence the client's links draw from when a request leaves DE 11
    /// empty. Set it yourself (`msg.set_stan(client.next_stan())`) when you must know the STAN
    /// before sending, to be able to reverse the request if its outcome is unknown; it never
    /// repeats one the links assign, until the sequence wraps after 999,999.
    pub fn next_stan(&self) -> u32 {
        self.pool.manager().next_stan()
    }

    /// Counters per endpoint, in priority order: `(address, counters)`.
    pub fn counters(&self) -> Vec<(String, Counters)> {
        self.pool
            .manager()
            .endpoints()
            .iter()
            .map(|e| (e.addr().to_owned(), e.counters()))
            .collect()
    }

    /// Closes the client gracefully, on every link: new sends fail at once
    /// as not sent ([`Cause::Closing`]); each link takes no new request,
    /// waits for those in flight up to the link's `drain_timeout`, signs off
    /// if configured, then fails whatever is left. Links checked out at that
    /// moment (a frame being handed to the writer) close the same way as soon
    /// as they are given back. Returns once every link is closed; affects
    /// every clone of the client.
    pub async fn close(&self) {
        self.closing.store(true, Relaxed);
        #[cfg(feature = "tower")]
        self.readiness.close();
        let manager = self.pool.manager();
        manager.begin_close(); // no link is created from now on
                               // Idle links are let go (and so closed in the background, see `LinkManager`) ...
        drop(self.pool.retain(|_, _| false));
        // ... and so is every link given back from now on.
        self.pool.close();
        let until = Instant::now().after(manager.config().drain_timeout);
        // Bounded: a checkout is held only while a frame is handed to the writer.
        while Instant::now() < until {
            let status = self.pool.status();
            if status.size == 0 && status.waiting == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        manager.shutdown().await;
    }
}

/// Errors worth another attempt: not the caller's own mistakes.
fn retryable_cause(cause: &Cause) -> bool {
    !matches!(
        cause,
        Cause::StanInUse { .. }
            | Cause::StanUnresolved { .. }
            | Cause::NoStanFree
            | Cause::BadStan(_)
            | Cause::NotARequest(_)
            | Cause::Encode(_)
            | Cause::Frame(_)
            | Cause::Cancelled
    )
}

/// Once any attempt was written, the overall outcome is unknown whatever the last attempt says.
fn settle(err: SendError, written: bool) -> SendError {
    match err {
        SendError::NotSent(cause) if written => SendError::OutcomeUnknown(cause),
        other => other,
    }
}
