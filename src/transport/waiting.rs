//! A request in flight: the caller's side of the pending entry.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::time::Instant;
use tracing::warn;

use super::error::{Cause, SendError};
use super::link::Link;
use super::pending::{MatchKey, Reply};
use super::stats::EndpointStats;
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
#[must_use = "dropping a PendingResponse abandons the request's answer"]
pub struct PendingResponse {
    pub(crate) rx: oneshot::Receiver<Reply>,
    pub(crate) deadline: Instant,
    pub(crate) entry: EntryGuard,
}

impl PendingResponse {
    /// The STAN the request went out with.
    pub fn stan(&self) -> u32 {
        self.entry.key.stan()
    }

    /// Waits for the response until the deadline.
    pub async fn response(mut self) -> Result<Message, SendError> {
        match tokio::time::timeout_at(self.deadline, &mut self.rx).await {
            Ok(Ok(reply)) => {
                self.entry.armed = false;
                reply
            }
            Ok(Err(_)) => {
                self.entry.armed = false;
                Err(SendError::OutcomeUnknown(Cause::LinkDown("link dropped".into())))
            }
            Err(_) => self.timed_out(),
        }
    }

    fn timed_out(&mut self) -> Result<Message, SendError> {
        self.entry.armed = false;
        let link = self.entry.link.clone();
        let (removed, written) = {
            let mut st = link.lock();
            match st.pending.remove_if(&self.entry.key, self.entry.id) {
                Some(entry) => {
                    st.late.insert(self.entry.key.clone());
                    (true, entry.seq <= st.taken_seq)
                }
                None => (false, true),
            }
        };
        if !removed {
            // The answer (or the link's failure) crossed the deadline.
            if let Ok(reply) = self.rx.try_recv() {
                return reply;
            }
        }
        EndpointStats::bump(&link.stats.timed_out);
        let in_a_row = link.consecutive_timeouts.fetch_add(1, Relaxed) + 1;
        let max = link.config.max_consecutive_timeouts;
        warn!(peer = %link.peer, stan = self.entry.key.stan(), in_a_row, "request timed out");
        if max > 0 && in_a_row >= max {
            link.go_down(format!("{in_a_row} requests timed out in a row"), true);
        }
        Err(if written {
            SendError::OutcomeUnknown(Cause::Timeout)
        } else {
            SendError::NotSent(Cause::Timeout)
        })
    }
}
