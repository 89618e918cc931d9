//! A request in flight: the caller's side of the pending entry.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::error::{Cause, SendError};
use super::link::Link;
use super::pending::{MatchKey, Reply};
use crate::Message;

/// Removes its pending entry if dropped before the response arrived.
pub(crate) struct EntryGuard {
    pub(crate) link: Arc<Link>,
    pub(crate) key: MatchKey,
    pub(crate) id: u64,
    pub(crate) armed: bool,
}

impl Drop for EntryGuard {
    fn drop(&mut self) {
        if self.armed {
            let mut st = self.link.lock();
            if st.pending.remove_if(&self.key, self.id).is_some() {
                st.late.insert(self.key.clone());
            }
        }
        self.link.stats.in_flight.fetch_sub(1, Relaxed);
    }
}

/// A request on its way; [`PendingResponse::response`] waits for the answer.
/// Dropping it cancels the wait and removes the pending entry (the request
/// itself may already be on the wire).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// # use std::{sync::Arc, time::Duration};
/// # use iso8583_client::{Message, Spec, sim::{Sim, SimConfig}, transport::{Connection, ConnectionConfig}};
/// # let spec = Spec::builtin("iso87-ascii").unwrap();
/// # let sim = Sim::start(spec.clone(), SimConfig::default()).await.unwrap();
/// # let link = Connection::connect(&sim.addr().to_string(), spec, Arc::new(ConnectionConfig::default())).await.unwrap();
/// let mut echo = Message::new("0800".parse().unwrap()).with(70, "301");
/// let pending = link.dispatch(&mut echo, tokio::time::Instant::now() + Duration::from_secs(2)).await.unwrap();
/// drop(pending); // gives up on the answer; the link counts it as late when it comes
/// assert_eq!(link.in_flight(), 0);
/// # link.close().await;
/// # sim.shutdown().await;
/// # });
/// ```
#[must_use = "dropping a PendingResponse abandons the request's answer"]
pub struct PendingResponse {
    pub(crate) rx: oneshot::Receiver<Reply>,
    /// The deadline, for a request that keeps a timer of its own instead of the sweeper's.
    pub(crate) own_timer: Option<Instant>,
    pub(crate) entry: EntryGuard,
}

impl PendingResponse {
    /// The STAN the request went out with.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use std::{sync::Arc, time::Duration};
    /// # use iso8583_client::{Message, Spec, sim::{Sim, SimConfig}, transport::{Connection, ConnectionConfig}};
    /// # let spec = Spec::builtin("iso87-ascii").unwrap();
    /// # let sim = Sim::start(spec.clone(), SimConfig::default()).await.unwrap();
    /// # let link = Connection::connect(&sim.addr().to_string(), spec, Arc::new(ConnectionConfig::default())).await.unwrap();
    /// let mut echo = Message::new("0800".parse().unwrap()).with(11, "000042").with(70, "301");
    /// let pending = link.dispatch(&mut echo, tokio::time::Instant::now() + Duration::from_secs(2)).await.unwrap();
    /// assert_eq!(pending.stan(), 42);
    /// # pending.response().await.unwrap();
    /// # link.close().await;
    /// # sim.shutdown().await;
    /// # });
    /// ```
    pub fn stan(&self) -> u32 {
        self.entry.key.stan()
    }

    /// Waits for the response until the deadline: the link's sweeper resolves
    /// the request with `Timeout` when it passes, or, for the link's own
    /// requests (sign-on, echo, sign-off), a timer of their own.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use std::{sync::Arc, time::Duration};
    /// # use iso8583_client::{Message, Spec, sim::{Sim, SimConfig}, transport::{Connection, ConnectionConfig}};
    /// # let spec = Spec::builtin("iso87-ascii").unwrap();
    /// # let sim = Sim::start(spec.clone(), SimConfig { delay: Duration::from_millis(200), ..SimConfig::default() }).await.unwrap();
    /// # let link = Connection::connect(&sim.addr().to_string(), spec, Arc::new(ConnectionConfig::default())).await.unwrap();
    /// let mut auth = Message::new("0100".parse().unwrap()).with(4, "000000001000");
    /// let deadline = tokio::time::Instant::now() + Duration::from_millis(30); // the host takes 200 ms
    /// let err = link.dispatch(&mut auth, deadline).await.unwrap().response().await.unwrap_err();
    /// assert!(err.is_timeout() && err.is_outcome_unknown()); // written: reverse it
    /// # link.close().await;
    /// # sim.shutdown().await;
    /// # });
    /// ```
    pub async fn response(mut self) -> Result<Message, SendError> {
        if let Some(deadline) = self.own_timer {
            // Boxed: the timer would make every request's future larger.
            return Box::pin(self.response_by(deadline)).await;
        }
        let reply = (&mut self.rx).await;
        self.resolved(reply)
    }

    async fn response_by(mut self, deadline: Instant) -> Result<Message, SendError> {
        match tokio::time::timeout_at(deadline, &mut self.rx).await {
            Ok(reply) => self.resolved(reply),
            Err(_) => match self.timed_out() {
                Some(err) => Err(err),
                // The reader (or the link's failure) took the entry just as the deadline passed:
                // it is delivering right now, so take its outcome rather than lose the answer.
                None => {
                    let reply = (&mut self.rx).await;
                    self.resolved(reply)
                }
            },
        }
    }

    fn resolved(&mut self, reply: Result<Reply, oneshot::error::RecvError>) -> Result<Message, SendError> {
        // Whoever sent the reply took the entry out.
        self.entry.armed = false;
        match reply {
            Ok(reply) => reply,
            Err(_) => Err(SendError::OutcomeUnknown(Cause::LinkDown("link dropped".into()))),
        }
    }

    /// The deadline passed: removes the entry and says why, or `None` if someone else had
    /// already taken the entry to resolve it.
    fn timed_out(&mut self) -> Option<SendError> {
        self.entry.armed = false;
        let link = self.entry.link.clone();
        let removed = {
            let mut st = link.lock();
            match st.pending.remove_if(&self.entry.key, self.entry.id) {
                Some(_entry) => {
                    st.late.insert(self.entry.key.clone());
                    // The frame is in the link's output buffer: even if the writer has not taken
                    // it yet, it will go out (only a link going down discards that buffer, and then
                    // the request fails as not sent from there). So its outcome is unknown — calling
                    // it "not sent" would invite a second charge.
                    true
                }
                None => false,
            }
        };
        if !removed {
            return None;
        }
        Some(link.timed_out(self.entry.key.stan()))
    }
}
