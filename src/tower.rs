//! [`Client`] as a `tower::Service<Message>` (feature `tower`), so the layers the rest of a tokio
//! service uses stack over it: `ConcurrencyLimit`, `RateLimit`, `LoadShed`, `Timeout`.
//!
//! **Readiness is the client's capacity**: `poll_ready` is ready while fewer requests are in
//! flight through this client than its links can hold (pool size × `max_in_flight`), and holds
//! a slot for the next `call` until its response resolves; it fails at once ([`Cause::Closing`],
//! not sent) once the client is closed. So `LoadShed` sheds exactly when the links are full.
//!
//! **Do not put tower's `Retry` (or any generic retry) over this service for money-moving
//! messages.** A generic retry sees an error and sends the same request again; it cannot know
//! whether the first copy reached the host. An authorization or financial request whose outcome
//! is unknown (the host may have approved it) must be reversed, not repeated — repeating it can
//! charge the cardholder twice. The client's own retry policy ([`RetryPolicy`](crate::RetryPolicy))
//! is the only one that knows what may be repeated: a request none of whose bytes were written,
//! or an idempotent one (reversals and advices, sent again as repeats 0401 / 0221, with the same
//! STAN). The same goes for `Timeout`: a tower timeout drops the request's future, which leaves
//! its outcome unknown; prefer the send's own deadline ([`Client`]'s timeout), which tells you.
//!
//! ```
//! # #[cfg(feature = "sim")]
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use tower::{Service, ServiceBuilder, ServiceExt};
//! use iso8583_client::{Client, Message, Spec};
//! # let sim = iso8583_client::sim::Sim::start(Spec::builtin("iso87-ascii").unwrap(), Default::default()).await.unwrap();
//! let client = Client::builder(Spec::builtin("iso87-ascii").unwrap()).endpoint(sim.addr().to_string()).build().unwrap();
//! let mut service = ServiceBuilder::new().concurrency_limit(64).service(client.clone());
//! let echo = Message::new("0800".parse().unwrap()).with(70, "301");
//! let answer = service.ready().await.unwrap().call(echo).await.unwrap();
//! assert_eq!(answer.response_code(), Some("00"));
//! # client.close().await;
//! # sim.shutdown().await;
//! # });
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::PollSemaphore;

use crate::transport::Cause;
use crate::{Client, Message, SendError};

/// The readiness state of one `Client` value: the client-wide slots, and the slot this value holds
/// for its next `call`. Clones share the slots and hold none.
pub(crate) struct Readiness {
    slots: PollSemaphore,
    held: Option<OwnedSemaphorePermit>,
}

impl Readiness {
    /// `capacity` slots (at least one).
    pub(crate) fn new(capacity: usize) -> Readiness {
        let capacity = capacity.clamp(1, Semaphore::MAX_PERMITS);
        Readiness {
            slots: PollSemaphore::new(Arc::new(Semaphore::new(capacity))),
            held: None,
        }
    }

    /// Slots free now (the held one not counted).
    pub(crate) fn available(&self) -> usize {
        self.slots.available_permits()
    }

    pub(crate) fn close(&self) {
        self.slots.clone_inner().close();
    }
}

impl Clone for Readiness {
    fn clone(&self) -> Readiness {
        Readiness {
            slots: self.slots.clone(),
            held: None,
        }
    }
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readiness")
            .field("available", &self.available())
            .field("held", &self.held.is_some())
            .finish()
    }
}

impl tower_service::Service<Message> for Client {
    type Response = Message;
    type Error = SendError;
    type Future = Pin<Box<dyn Future<Output = Result<Message, SendError>> + Send + 'static>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), SendError>> {
        if self.closing.load(Relaxed) {
            return Poll::Ready(Err(SendError::NotSent(Cause::Closing)));
        }
        if self.readiness.held.is_some() {
            return Poll::Ready(Ok(()));
        }
        match self.readiness.slots.poll_acquire(cx) {
            Poll::Ready(Some(permit)) => {
                self.readiness.held = Some(permit);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(None) => Poll::Ready(Err(SendError::NotSent(Cause::Closing))),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Sends `request` with the client's defaults (deadline, retry policy, idempotency by MTI),
    /// as [`Client::send`]. Call `poll_ready` first (as tower requires).
    fn call(&mut self, request: Message) -> Self::Future {
        let slot = self.readiness.held.take();
        let client = self.clone();
        Box::pin(async move {
            let _slot = slot; // freed when the request resolves
            client.send(request).await
        })
    }
}
