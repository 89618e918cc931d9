//! The tasks behind a [`Connection`](super::Connection): reader, writer, keeper.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::time::Instant;
use tokio_util::codec::Decoder;
use tracing::{debug, warn};

use super::error::{Cause, SendError};
use super::framing::{swap_tpdu, Frame};
use super::link::{Link, Pairing, Taken};
use super::pending::MatchKey;
use super::stats::EndpointStats;
use crate::Message;

/// Size of the reader's buffer; one read takes whatever the socket has, up to this.
const READ_BUFFER: usize = 64 * 1024;

/// Reads frames until the peer closes, the stream fails or the link goes down.
/// The responses of one read are paired under a single lock.
pub(crate) async fn read_loop(link: Arc<Link>, mut read: OwnedReadHalf) {
    let mut framing = link.config.framing.clone();
    let mut buf = BytesMut::with_capacity(READ_BUFFER);
    let mut responses = Vec::new();
    let mut outcomes = Vec::new();
    loop {
        if buf.capacity() - buf.len() < READ_BUFFER / 8 {
            buf.reserve(READ_BUFFER);
        }
        let got = tokio::select! {
            biased;
            _ = link.cancel.cancelled() => return,
            got = read.read_buf(&mut buf) => got,
        };
        match got {
            Ok(0) => return link.go_down("closed by host".into(), false),
            Ok(_) => link.touch(),
            Err(e) => return link.go_down(format!("read failed: {e}"), false),
        }
        loop {
            match framing.decode(&mut buf) {
                Ok(Some(frame)) => on_frame(&link, frame, &mut responses),
                Ok(None) => break,
                Err(e) => return link.go_down(format!("unreadable frame: {e}"), false),
            }
        }
        if !responses.is_empty() {
            link.pair(&mut responses, &mut outcomes);
            for outcome in outcomes.drain(..) {
                on_pairing(&link, outcome);
            }
        }
    }
}

fn on_frame(link: &Link, frame: Frame, responses: &mut Vec<(MatchKey, Message)>) {
    let header = frame.header;
    match link.spec.decode_bytes(frame.message) {
        Ok(msg) if msg.mti().is_response() => match MatchKey::of(&msg, &link.config.match_fields) {
            Some(key) => responses.push((key, msg)),
            None => {
                EndpointStats::bump(&link.stats.unmatched);
                warn!(peer = %link.peer, %msg, "response without a usable STAN dropped");
            }
        },
        Ok(msg) if msg.mti().is_request() => on_host_request(link, &header, msg),
        Ok(msg) => {
            EndpointStats::bump(&link.stats.unmatched);
            warn!(peer = %link.peer, %msg, "message of unknown function dropped");
        }
        Err(err) => on_undecodable(link, err),
    }
}

fn on_pairing(link: &Link, outcome: Pairing) {
    match outcome {
        Pairing::Answer(tx, msg) => {
            EndpointStats::bump(&link.stats.answered);
            debug!(peer = %link.peer, mti = %msg.mti(), stan = ?msg.stan(), "response paired");
            let _ = tx.send(Ok(msg));
        }
        Pairing::WrongMti(expected, msg) => {
            EndpointStats::bump(&link.stats.unmatched);
            warn!(peer = %link.peer, expected = %expected, %msg, "response MTI does not answer the request in flight; dropped");
        }
        Pairing::Late(msg) => {
            EndpointStats::bump(&link.stats.late);
            warn!(peer = %link.peer, %msg, "late response dropped");
        }
        Pairing::Duplicate(msg) => {
            EndpointStats::bump(&link.stats.duplicate);
            warn!(peer = %link.peer, %msg, "duplicate response dropped");
        }
        Pairing::Unknown(msg) => {
            EndpointStats::bump(&link.stats.unmatched);
            warn!(peer = %link.peer, %msg, "response nobody waits for dropped");
        }
    }
}

/// Runs the user's handler inline, on the reader task: it must be quick
/// (documented on [`UnsolicitedHandler`](super::UnsolicitedHandler)).
fn on_host_request(link: &Link, header: &[u8], msg: Message) {
    EndpointStats::bump(&link.stats.unsolicited);
    match link.config.unsolicited.handle(&msg) {
        Some(reply) => {
            debug!(peer = %link.peer, %msg, "answering host request");
            match swap_tpdu(header) {
                Some(tpdu) => link.queue_unsolicited_reply(&tpdu, &reply),
                None => link.queue_unsolicited_reply(&link.config.framing.header().clone(), &reply),
            }
        }
        None => warn!(peer = %link.peer, %msg, "host request not handled"),
    }
}

fn on_undecodable(link: &Link, err: crate::CodecError) {
    EndpointStats::bump(&link.stats.undecodable);
    let key = err
        .partial()
        .and_then(|m| MatchKey::of(m, &link.config.match_fields).map(|k| (k, m.mti())));
    if let Some((key, mti)) = key {
        match link.take_entry(&key) {
            Taken::Waiting(entry) if entry.expect == mti => {
                warn!(peer = %link.peer, stan = key.stan(), error = %err, "response undecodable; failing its request");
                let _ = entry.tx.send(Err(SendError::OutcomeUnknown(Cause::Decode(err))));
                return;
            }
            Taken::Waiting(entry) => link.restore_entry(key, entry),
            Taken::Late | Taken::Unknown => {}
        }
    }
    warn!(peer = %link.peer, error = %err, "undecodable frame dropped");
}

/// Writes whatever was queued since the last write, in one write call.
pub(crate) async fn write_loop(link: Arc<Link>, mut write: OwnedWriteHalf) {
    let mut buf = BytesMut::with_capacity(16 * 1024);
    loop {
        let permits = {
            let mut st = link.lock();
            if link.is_down() {
                drop(st);
                let _ = write.shutdown().await;
                return;
            }
            std::mem::swap(&mut st.out, &mut buf);
            st.taken_seq = st.queued_seq;
            std::mem::take(&mut st.out_permits)
        };
        if permits > 0 {
            link.queue.add_permits(permits);
        }
        if buf.is_empty() {
            link.wake_writer.notified().await;
            // With other requests in flight, let the senders that are ready
            // run first, so that one write carries all their frames instead
            // of one write per frame. A lone request goes out at once.
            let others_in_flight = link.lock().pending.map.len() > 1;
            if others_in_flight {
                tokio::task::yield_now().await;
            }
            continue;
        }
        let written = tokio::select! {
            // A peer that stopped reading must not pin the writer once the link is down.
            _ = link.cancel.cancelled() => return,
            written = write.write_all(&buf) => written,
        };
        if let Err(e) = written {
            link.go_down(format!("write failed: {e}"), false);
            return;
        }
        buf.clear();
        if buf.capacity() > 1 << 20 {
            buf = BytesMut::with_capacity(16 * 1024);
        }
    }
}

/// Resolves requests whose deadline passed: one timer for the link, set to
/// the earliest deadline, instead of one per request.
pub(crate) async fn sweep_deadlines(link: Arc<Link>) {
    let mut next: Option<Instant> = None;
    loop {
        match next {
            Some(at) => tokio::select! {
                biased;
                _ = link.cancel.cancelled() => return,
                _ = link.wake_sweeper.notified() => {}
                _ = tokio::time::sleep_until(at) => {}
            },
            None => tokio::select! {
                biased;
                _ = link.cancel.cancelled() => return,
                _ = link.wake_sweeper.notified() => {}
            },
        }
        next = link.expire_deadlines();
    }
}

/// Sends an echo whenever the host has been silent for `idle`; an echo that
/// goes unanswered marks the link broken.
pub(crate) async fn keep_alive(link: Arc<Link>, idle: Duration) {
    let idle = idle.max(Duration::from_millis(10));
    loop {
        let wait = idle.saturating_sub(link.idle_for()).max(Duration::from_millis(5));
        tokio::select! {
            _ = link.cancel.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        if link.idle_for() < idle {
            continue;
        }
        let mut echo = link.config.echo.clone();
        let deadline = Instant::now() + link.config.echo_timeout;
        let outcome = match link.dispatch(&mut echo, deadline, true).await {
            Ok(waiting) => waiting.response().await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(answer) => debug!(peer = %link.peer, code = ?answer.response_code(), "echo answered"),
            Err(e) if link.is_down() => {
                debug!(peer = %link.peer, error = %e, "echo ended with the link");
                return;
            }
            Err(e) => {
                link.go_down(format!("echo unanswered: {e}"), true);
                return;
            }
        }
    }
}
