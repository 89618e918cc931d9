//! Settings of one link, and the handler of messages the host sends on its own.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::connect::{Connect, TcpConnect};
use super::core::keys::{KeyRegistry, StanSequence};
use super::framing::Framing;
use crate::{Message, Mti};

/// Handles requests the host sends on its own (not responses): network
/// management echoes, advices… Return the reply to send, if any.
///
/// **Runs on the link's reader task**, between the frames of one read: while
/// `handle` runs, no response on that link is paired, so requests in flight
/// wait (and may time out), and a blocking call stalls a runtime worker too.
/// Keep it to building the reply from the request. Anything slow — a database
/// write, a call to another service, logging an advice durably — belongs on
/// another task: hand the request over a channel with `try_send` (never a
/// blocking or awaiting send) and answer at once, as below.
///
/// ```
/// use iso8583_client::{Message, transport::UnsolicitedHandler};
/// use tokio::sync::mpsc;
/// /// Answers advices at once; a task of the application stores them.
/// struct AdviceInbox(mpsc::Sender<Message>);
/// impl UnsolicitedHandler for AdviceInbox {
///     fn handle(&self, request: &Message) -> Option<Message> {
///         if self.0.try_send(request.clone()).is_err() {
///             return None; // inbox full: no answer, the host repeats its advice
///         }
///         let mut reply = Message::new(request.mti().response()?);
///         reply.set(11, request.get_bytes(11)?.clone()).set(39, "00");
///         Some(reply)
///     }
/// }
/// ```
///
/// ```
/// use iso8583_client::{Message, transport::UnsolicitedHandler};
/// struct AnswerEverything;
/// impl UnsolicitedHandler for AnswerEverything {
///     fn handle(&self, request: &Message) -> Option<Message> {
///         let mut reply = Message::new(request.mti().response()?);
///         reply.set(39, "00");
///         Some(reply)
///     }
/// }
/// ```
pub trait UnsolicitedHandler: Send + Sync + 'static {
    /// Returns the reply to `request`, or `None` to send nothing.
    fn handle(&self, request: &Message) -> Option<Message>;
}

/// Default handler: answers a network-management echo (0800 with DE 70 = 301)
/// with 0810 DE 39 = 00, copying DE 7, 11, 70 (and DE 41 when present); ignores
/// anything else (the link logs and counts it).
///
/// ```
/// use iso8583_client::{Message, transport::{network_request, EchoResponder, UnsolicitedHandler}};
/// let echo = network_request("301").with(11, "000007");
/// let reply = EchoResponder.handle(&echo).unwrap();
/// assert_eq!((reply.mti().as_str(), reply.stan(), reply.response_code()), ("0810", Some("000007"), Some("00")));
/// assert!(EchoResponder.handle(&Message::new("0620".parse().unwrap())).is_none());
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct EchoResponder;

impl UnsolicitedHandler for EchoResponder {
    fn handle(&self, request: &Message) -> Option<Message> {
        if request.mti().as_str() != "0800" || request.get(70) != Some(b"301") {
            return None;
        }
        let mut reply = Message::new(request.mti().response()?);
        for f in [7, 11, 12, 13, 41, 70] {
            if let Some(v) = request.get_bytes(f) {
                reply.set(f, v.clone());
            }
        }
        reply.set(39, "00");
        Some(reply)
    }
}

/// A network-management request (0800) with DE 70 = `code`
/// (`"001"` sign-on, `"002"` sign-off, `"301"` echo).
///
/// ```
/// let echo = iso8583_client::transport::network_request("301");
/// assert_eq!(echo.get_str(70), Some("301"));
/// ```
pub fn network_request(code: &'static str) -> Message {
    let mut msg = Message::new(NETWORK_REQUEST);
    msg.set(70, code);
    msg
}

/// MTI 0800, checked at compile time.
const NETWORK_REQUEST: Mti = match Mti::new(*b"0800") {
    Some(mti) => mti,
    None => panic!("0800 is four digits"),
};

/// Settings of one link. Plain data; every field states its default.
///
/// ```
/// use std::time::Duration;
/// use iso8583_client::transport::{ConnectionConfig, network_request};
/// let config = ConnectionConfig {
///     match_fields: vec![41],                      // pair by DE 41 + DE 11
///     sign_on: Some(network_request("001")),
///     idle_echo: Some(Duration::from_secs(30)),
///     ..ConnectionConfig::default()
/// };
/// ```
#[derive(Clone)]
pub struct ConnectionConfig {
    /// Wire framing. Default: 2-byte binary length, message only.
    pub framing: Framing,
    /// TCP connect timeout. Default: 5 s.
    pub connect_timeout: Duration,
    /// TCP keepalive idle time (`None` disables). Default: 30 s.
    pub tcp_keepalive: Option<Duration>,
    /// Requests in flight on one link at most; a sender above it waits for
    /// room within its deadline, then is refused as not sent
    /// ([`Cause::TooManyInFlight`](super::Cause::TooManyInFlight)). Default: 10,000.
    pub max_in_flight: usize,
    /// How long a match key whose request ended with an unknown outcome is
    /// refused to new requests, unless its late answer comes first
    /// ([`Cause::StanUnresolved`](super::Cause::StanUnresolved)); repeats of
    /// that request (0400 → 0401) are let through. Default: 5 minutes.
    pub late_window: Duration,
    /// Match keys a client holds at most (in flight and unresolved); above it
    /// requests are refused as not sent ([`Cause::NoStanFree`](super::Cause::NoStanFree)).
    /// It also bounds the search for a free STAN (999,999 in all) under the client-wide lock.
    /// Default: 100,000.
    pub max_keys: usize,
    /// Opens the link's stream: TCP by default; `TlsConnect` (feature `tls`) for TLS.
    pub connector: Arc<dyn Connect>,
    /// Fields matched with DE 11 to pair a response. Default: none (DE 11 alone).
    pub match_fields: Vec<u8>,
    /// Request sent on connect that must be answered with DE 39 = 00. Default: none.
    pub sign_on: Option<Message>,
    /// Request sent on graceful close. Default: none.
    pub sign_off: Option<Message>,
    /// Time allowed for sign-on and sign-off answers. Default: 5 s.
    pub sign_on_timeout: Duration,
    /// Send an echo after this long without traffic from the host (`None`: never). Default: none.
    pub idle_echo: Option<Duration>,
    /// The echo request. Default: 0800 with DE 70 = 301.
    pub echo: Message,
    /// An echo unanswered this long marks the link broken. Default: 5 s.
    pub echo_timeout: Duration,
    /// This many requests timing out in a row mark the link broken (0: never). Default: 5.
    pub max_consecutive_timeouts: u32,
    /// Graceful close waits this long for requests in flight. Default: 5 s.
    pub drain_timeout: Duration,
    /// How many keys per link are remembered to tell a late answer, and about
    /// how many answered keys to tell a duplicate, from an unknown one. Default: 4096.
    pub late_memory: usize,
    /// Handler of requests from the host; runs on the reader task, so it must
    /// be quick (see [`UnsolicitedHandler`]). Default: [`EchoResponder`].
    pub unsolicited: Arc<dyn UnsolicitedHandler>,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            framing: Framing::default(),
            connect_timeout: Duration::from_secs(5),
            tcp_keepalive: Some(Duration::from_secs(30)),
            max_in_flight: 10_000,
            late_window: Duration::from_secs(300),
            max_keys: 100_000,
            connector: Arc::new(TcpConnect),
            match_fields: Vec::new(),
            sign_on: None,
            sign_off: None,
            sign_on_timeout: Duration::from_secs(5),
            idle_echo: None,
            echo: network_request("301"),
            echo_timeout: Duration::from_secs(5),
            max_consecutive_timeouts: 5,
            drain_timeout: Duration::from_secs(5),
            late_memory: 4096,
            unsolicited: Arc::new(EchoResponder),
        }
    }
}

impl ConnectionConfig {
    /// A fresh key registry under this config's late window and key cap.
    pub(crate) fn key_registry(&self) -> KeyRegistry<tokio::time::Instant> {
        KeyRegistry::new(StanSequence::default(), self.late_window, self.max_keys)
    }
}

impl fmt::Debug for ConnectionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionConfig")
            .field("framing", &self.framing)
            .field("connect_timeout", &self.connect_timeout)
            .field("match_fields", &self.match_fields)
            .field("sign_on", &self.sign_on.is_some())
            .field("idle_echo", &self.idle_echo)
            .field("max_consecutive_timeouts", &self.max_consecutive_timeouts)
            .field("max_in_flight", &self.max_in_flight)
            .field("late_window", &self.late_window)
            .field("connector", &self.connector)
            .finish_non_exhaustive()
    }
}
