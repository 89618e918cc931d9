//! A request that times out while its frame still waits in the link's queue (the host stopped
//! reading, the socket is full, the writer has not taken it) is cut out of the queue: it resolves
//! *not sent* and its bytes are never written later — so a caller's reversal can never reach the
//! host before a stuck original, and a 0200 never arrives after its caller was told "timeout".
#![cfg(feature = "sim")]

mod transport_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use iso8583_client::transport::ConnectionConfig;
use iso8583_client::Message;
use iso8583_client::{Backoff, Client, RetryPolicy, SendOptions};
use tokio::io::AsyncReadExt;
use tokio::net::TcpSocket;
use transport_support::*;

const VICTIM_STAN: &str = "424242";

/// A 0200 of about 1 KiB (DE 48 carries the bulk).
fn big_0200(stan: u32) -> Message {
    let mut m = msg("0200");
    m.set(2, "4111111111111111").set(48, "X".repeat(999)).set_stan(stan);
    m
}

/// Counts the frames on `wire` (2-byte length prefix) whose DE 11 is `stan`.
fn copies_of(wire: &mut BytesMut, stan: &str) -> usize {
    let spec = spec();
    let mut n = 0;
    while wire.len() >= 2 {
        let len = u16::from_be_bytes([wire[0], wire[1]]) as usize;
        if wire.len() < 2 + len {
            break;
        }
        wire.advance(2);
        let frame = wire.split_to(len);
        if spec.decode(&frame).map(|m| m.stan() == Some(stan)).unwrap_or(false) {
            n += 1;
        }
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_0200_timed_out_behind_a_full_socket_is_not_sent_and_never_written() {
    // A host with a tiny receive buffer that reads nothing until told to.
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("rcvbuf");
    socket.bind("127.0.0.1:0".parse().expect("addr")).expect("bind");
    let listener = socket.listen(8).expect("listen");
    let addr = listener.local_addr().expect("addr");
    let (start_reading, read_now) = tokio::sync::oneshot::channel::<()>();
    let victims_seen = Arc::new(AtomicUsize::new(0));
    let seen = victims_seen.clone();
    let host = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let _ = read_now.await;
        let mut wire = BytesMut::new();
        // Read everything the client writes, counting the victim's copies; bounded in time.
        let until = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            match tokio::time::timeout_at(until, stream.read_buf(&mut wire)).await {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
                Ok(Ok(_)) => {
                    seen.fetch_add(copies_of(&mut wire, VICTIM_STAN), Ordering::SeqCst);
                }
            }
        }
    });

    let config = ConnectionConfig {
        max_in_flight: 100_000,
        // Keep the link up through the timeouts: the victim's frame must stay queued on it.
        max_consecutive_timeouts: 0,
        ..ConnectionConfig::default()
    };
    let client = Client::builder(spec())
        .endpoint(addr.to_string())
        .pool_size(1)
        .connection(config)
        .retry(RetryPolicy {
            attempts: 3,
            backoff: Backoff {
                initial: Duration::from_millis(5),
                max: Duration::from_millis(10),
            },
            attempt_timeout: Some(Duration::from_millis(300)),
        })
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");

    // Fill the socket and the kernel buffers (~8 MiB) so the writer blocks; the fillers' own
    // outcomes do not matter here.
    let mut fillers = Vec::new();
    for stan in 1..=8000u32 {
        let client = client.clone();
        fillers.push(tokio::spawn(async move {
            let opts = SendOptions {
                timeout: Some(Duration::from_secs(25)),
                ..SendOptions::default()
            };
            let _ = client.send_with(big_0200(stan), opts).await;
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    // The victim queues behind them and times out before the writer can take it.
    let victim = big_0200(424_242);
    let opts = SendOptions {
        timeout: Some(Duration::from_secs(2)),
        ..SendOptions::default()
    };
    let err = client
        .send_with(victim, opts)
        .await
        .expect_err("the host reads nothing");
    assert!(
        err.is_not_sent() && err.is_timeout(),
        "a frame the writer never took is cut out at the deadline: not sent, {err}"
    );

    // The host reads again: everything queued goes out, but never the victim.
    let _ = start_reading.send(());
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        victims_seen.load(Ordering::SeqCst),
        0,
        "the 0200 whose caller was told 'not sent' never reached the host"
    );

    for f in fillers {
        f.abort();
    }
    client.close().await;
    drop(client);
    host.abort();
    let _ = host.await;
}
