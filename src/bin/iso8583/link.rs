//! A link to the host for the commands that send: connected on first use, replaced when it went
//! down, and the retry rules of ISO 8583 applied around each send.
//!
//! Retry rules (the same as the library's client): a request none of whose bytes were written may
//! always be tried again; a request written with an unknown outcome (timeout, link dropped) is
//! retried only when idempotent — network management (08xx), reversals (04xx) and advices by
//! convention, anything when the user says `--idempotent`. Reversals and advices go out again as
//! their repeat MTI (0400 -> 0401) with the same STAN and data.

use std::sync::Arc;
use std::time::Duration;

use iso8583_client::transport::{network_request, Cause, Connection, ConnectionConfig, SendError};
use iso8583_client::{Message, MtiClass, Spec};
use tokio::sync::Mutex;

/// Where and how to connect.
pub struct HostLink {
    addr: String,
    spec: Arc<Spec>,
    config: Arc<ConnectionConfig>,
    current: Mutex<Option<Arc<Connection>>>,
}

impl HostLink {
    /// A link to `addr`, not yet connected; `sign_on` sends 0800 DE 70 = 001 on each connect.
    pub fn new(
        addr: String,
        spec: Arc<Spec>,
        framing: iso8583_client::transport::framing::Framing,
        sign_on: bool,
    ) -> Self {
        let config = ConnectionConfig {
            framing,
            sign_on: sign_on.then(|| network_request("001")),
            // The CLI reports timeouts itself; it does not give up a link for them.
            max_consecutive_timeouts: 0,
            ..ConnectionConfig::default()
        };
        HostLink {
            addr,
            spec,
            config: Arc::new(config),
            current: Mutex::new(None),
        }
    }

    /// A usable connection: the current one, or a new one if there is none or it went down.
    pub async fn connection(&self) -> Result<Arc<Connection>, SendError> {
        let mut current = self.current.lock().await;
        if let Some(c) = current.as_ref().filter(|c| c.is_usable()) {
            return Ok(c.clone());
        }
        let conn = Connection::connect(&self.addr, self.spec.clone(), self.config.clone())
            .await
            .map_err(|e| SendError::NotSent(Cause::NoConnection(e.to_string())))?;
        let conn = Arc::new(conn);
        *current = Some(conn.clone());
        Ok(conn)
    }

    /// Closes the current connection gracefully, if any.
    pub async fn close(&self) {
        if let Some(c) = self.current.lock().await.take() {
            if let Ok(c) = Arc::try_unwrap(c) {
                c.close().await;
            }
        }
    }
}

/// How one message is sent.
#[derive(Debug, Clone, Copy)]
pub struct SendPolicy {
    /// Time allowed for each attempt (queueing, writing, waiting for the answer).
    pub timeout: Duration,
    /// Further attempts allowed where retrying is safe.
    pub retries: u32,
    /// Treat every message as idempotent (retry after an unknown outcome).
    pub idempotent: bool,
}

/// Whether a message may be sent again after its outcome became unknown.
pub fn is_idempotent(msg: &Message, forced: bool) -> bool {
    let mti = msg.mti();
    forced || mti.class() == MtiClass::NetworkManagement || goes_as_repeat(msg)
}

/// Reversals and advices are retried as their repeat MTI.
fn goes_as_repeat(msg: &Message) -> bool {
    let mti = msg.mti();
    mti.class() == MtiClass::Reversal || mti.is_advice()
}

/// The result of one send: the answer or the error, and the MTIs that went out, in order.
pub struct Attempted {
    /// The response, or why there is none.
    pub result: Result<Message, SendError>,
    /// The request as last sent (its STAN filled in, its MTI possibly a repeat).
    pub request: Message,
    /// How many times the request was sent or tried.
    pub attempts: u32,
}

/// Sends `msg` with the retry rules above; DE 11 is filled by the link when absent and kept for
/// every retry.
pub async fn send(link: &HostLink, mut msg: Message, policy: SendPolicy) -> Attempted {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let result = match link.connection().await {
            Ok(conn) => {
                let deadline = tokio::time::Instant::now() + policy.timeout;
                match conn.dispatch(&mut msg, deadline).await {
                    Ok(pending) => pending.response().await,
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        };
        let retry = match &result {
            Ok(_) => false,
            Err(SendError::NotSent(cause)) => !matches!(
                cause,
                Cause::Encode(_) | Cause::NotARequest(_) | Cause::BadStan(_) | Cause::StanInUse { .. }
            ),
            Err(SendError::OutcomeUnknown(_)) => is_idempotent(&msg, policy.idempotent),
        };
        if !retry || attempts > policy.retries {
            return Attempted {
                result,
                request: msg,
                attempts,
            };
        }
        if matches!(result, Err(SendError::OutcomeUnknown(_))) && goes_as_repeat(&msg) {
            if let Some(repeat) = msg.mti().repeat() {
                msg.set_mti(repeat);
            }
        }
        // Exponential backoff with jitter, small: the CLI is interactive.
        let base = 20u64 << attempts.min(6);
        tokio::time::sleep(Duration::from_millis(base + fastrand::u64(0..base))).await;
    }
}

/// The short name of an error's cause, for JSON output (`timeout`, `link_down`, …).
pub fn error_kind(e: &SendError) -> &'static str {
    match e.cause() {
        Cause::Timeout => "timeout",
        Cause::LinkDown(_) => "link_down",
        Cause::Closing => "closing",
        Cause::StanInUse { .. } => "stan_in_use",
        Cause::BadStan(_) => "bad_stan",
        Cause::NotARequest(_) => "not_a_request",
        Cause::Encode(_) => "encode",
        Cause::Frame(_) => "frame",
        Cause::Decode(_) => "decode",
        Cause::NoConnection(_) => "no_connection",
        #[allow(unreachable_patterns)]
        _ => "other",
    }
}

/// `not_sent` or `unknown`.
pub fn outcome_name(e: &SendError) -> &'static str {
    if e.is_not_sent() {
        "not_sent"
    } else {
        "unknown"
    }
}
