//! Edges of the link and the pool: failover under short deadlines, a panicking unsolicited
//! handler, a host that trickles bytes, and deadlines up to `Duration::MAX`.
#![cfg(feature = "sim")]

mod transport_support;

use std::sync::Arc;
use std::time::Duration;

use iso8583_client::sim::{Sim, SimConfig};
use iso8583_client::transport::{network_request, Connection, ConnectionConfig, UnsolicitedHandler};
use iso8583_client::Message;
use iso8583_client::{Backoff, Client, RetryPolicy, SendOptions};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use transport_support::*;

/// A host that accepts connections and never answers anything (not even the sign-on).
async fn mute_host() -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream); // kept open, never read
        }
    });
    (addr, task)
}

#[tokio::test]
async fn failover_happens_under_deadlines_shorter_than_the_sign_on_timeout() {
    let (mute, mute_task) = mute_host().await;
    let secondary = Sim::start(spec(), SimConfig::default()).await.expect("sim");
    let client = Client::builder(spec())
        .endpoint(mute.clone())
        .endpoint(secondary.addr().to_string())
        .connection(ConnectionConfig {
            sign_on: Some(network_request("001")),
            sign_on_timeout: Duration::from_millis(1500),
            ..ConnectionConfig::default()
        })
        .retry(RetryPolicy::none())
        .build()
        .expect("client");
    let opts = SendOptions {
        timeout: Some(Duration::from_secs(1)),
        ..SendOptions::default()
    };
    let started = Instant::now();
    let mut outcomes = Vec::new();
    for amount in 1..=6 {
        outcomes.push(client.send_with(auth(amount), opts.clone()).await.is_ok());
    }
    // The connects cut short by the callers' deadlines still ran to their end and counted
    // against the mute primary: after the first few sends, everything goes to the secondary.
    assert!(outcomes[3..].iter().all(|ok| *ok), "{outcomes:?}");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "took {:?}",
        started.elapsed()
    );
    assert!(client.counters()[1].1.answered >= 3, "{:?}", client.counters());
    client.close().await;
    secondary.shutdown().await;
    mute_task.abort();
}

struct Panics;

impl UnsolicitedHandler for Panics {
    fn handle(&self, _request: &Message) -> Option<Message> {
        panic!("a user's handler with a bug");
    }
}

#[tokio::test]
async fn a_panicking_unsolicited_handler_takes_the_link_down_and_resolves_its_requests() {
    let sim = Sim::start(
        spec(),
        SimConfig {
            // The answer would come long after the echo that makes the handler panic.
            delay: Duration::from_secs(20),
            echo_every: Some(Duration::from_millis(100)),
            ..SimConfig::default()
        },
    )
    .await
    .expect("sim");
    let config = ConnectionConfig {
        unsolicited: Arc::new(Panics),
        ..ConnectionConfig::default()
    };
    let link = Connection::connect(&sim.addr().to_string(), spec(), Arc::new(config))
        .await
        .expect("connect");
    let started = Instant::now();
    let err = link
        .send(auth(1), Duration::from_secs(30))
        .await
        .expect_err("the link went down under it");
    assert!(err.is_link_down() && err.is_outcome_unknown(), "{err}");
    // At once, not at the deadline (30 s) nor at the answer (20 s). The bound leaves room for the
    // panic hook: under RUST_BACKTRACE=1 the first backtrace of a fresh test binary takes
    // seconds to symbolize before the handler's panic unwinds.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "at once, not at the deadline: {:?}",
        started.elapsed()
    );
    assert!(!link.is_usable() && link.is_broken());
    link.close().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_host_that_trickles_bytes_is_found_dead_by_the_idle_echo() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let host = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        // A length prefix announcing a frame that never completes, then one byte at a time.
        let _ = stream.write_all(&[0x01, 0x00]).await;
        // Trickles for 10 s, longer than the test waits: found dead while bytes still arrive.
        for _ in 0..500 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if stream.write_all(b"0").await.is_err() {
                break;
            }
        }
    });
    let config = ConnectionConfig {
        idle_echo: Some(Duration::from_millis(100)),
        echo_timeout: Duration::from_millis(100),
        ..ConnectionConfig::default()
    };
    let link = Connection::connect(&addr, spec(), Arc::new(config))
        .await
        .expect("connect");
    wait_until("the trickling link found dead", || !link.is_usable()).await;
    assert!(link.is_broken());
    link.close().await;
    host.abort();
}

#[tokio::test]
async fn deadlines_up_to_duration_max_saturate() {
    let sim = Sim::start(spec(), SimConfig::default()).await.expect("sim");
    let link = Connection::connect(&sim.addr().to_string(), spec(), Arc::new(ConnectionConfig::default()))
        .await
        .expect("connect");
    let answer = link.send(auth(7), Duration::MAX).await.expect("answered");
    assert_eq!(answer.amount(), Some(7));
    link.close().await;
    let client = Client::builder(spec())
        .endpoint(sim.addr().to_string())
        .timeout(Duration::MAX)
        .retry(RetryPolicy {
            attempts: u32::MAX,
            backoff: Backoff {
                initial: Duration::MAX,
                max: Duration::MAX,
            },
            attempt_timeout: Some(Duration::MAX),
        })
        .connection(ConnectionConfig {
            connect_timeout: Duration::MAX,
            sign_on: Some(network_request("001")),
            sign_on_timeout: Duration::MAX,
            drain_timeout: Duration::from_millis(100),
            ..ConnectionConfig::default()
        })
        .build()
        .expect("client");
    assert_eq!(client.send(auth(8)).await.expect("answered").amount(), Some(8));
    let opts = SendOptions {
        timeout: Some(Duration::MAX),
        ..SendOptions::default()
    };
    assert_eq!(
        client.send_with(auth(9), opts).await.expect("answered").amount(),
        Some(9)
    );
    client.close().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_send_whose_deadline_has_passed_writes_nothing() {
    let sim = Sim::start(spec(), SimConfig::default()).await.expect("sim");
    let client = Client::builder(spec())
        .endpoint(sim.addr().to_string())
        .build()
        .expect("client");
    client.send(network_request("301")).await.expect("warm");
    let opts = SendOptions {
        deadline: Some(Instant::now()),
        ..SendOptions::default()
    };
    let err = client.send_with(auth(1), opts).await.expect_err("too late");
    assert!(err.is_not_sent() && err.is_timeout(), "{err}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(sim.received().len(), 1, "only the warm-up echo reached the host");
    client.close().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn an_endpoint_whose_links_keep_timing_out_is_left_for_the_next_one() {
    // The primary accepts links but answers nothing: links there break by timeouts in a row.
    let primary = Sim::start(
        spec(),
        SimConfig {
            drop_every: 1,
            ..SimConfig::default()
        },
    )
    .await
    .expect("sim");
    let secondary = Sim::start(spec(), SimConfig::default()).await.expect("sim");
    let client = Client::builder(spec())
        .endpoint(primary.addr().to_string())
        .endpoint(secondary.addr().to_string())
        .connection(ConnectionConfig {
            max_consecutive_timeouts: 2,
            ..ConnectionConfig::default()
        })
        .retry(RetryPolicy::none())
        .build()
        .expect("client");
    let opts = SendOptions {
        timeout: Some(Duration::from_millis(150)),
        ..SendOptions::default()
    };
    let mut outcomes = Vec::new();
    for amount in 1..=8 {
        outcomes.push(client.send_with(auth(amount), opts.clone()).await.is_ok());
    }
    assert_eq!(
        outcomes[..2],
        [false, false],
        "the primary's link broke after two timeouts"
    );
    assert!(
        outcomes[2..].iter().all(|ok| *ok),
        "then the secondary serves: {outcomes:?}"
    );
    let counters = client.counters();
    assert_eq!(counters[0].1.broken, 1, "{counters:?}");
    assert_eq!(counters[1].1.answered, 6, "{counters:?}");
    client.close().await;
    primary.shutdown().await;
    secondary.shutdown().await;
}

#[tokio::test]
async fn close_drains_the_links_in_use_signs_them_off_and_opens_no_new_one() {
    let sim = slow_sim(Duration::from_millis(300)).await;
    let client = Client::builder(spec())
        .endpoint(sim.addr().to_string())
        .pool_size(2)
        .connection(ConnectionConfig {
            sign_off: Some(network_request("002")),
            drain_timeout: Duration::from_secs(3),
            ..ConnectionConfig::default()
        })
        .build()
        .expect("client");
    // Two requests in flight, on the pool's links.
    let (a, b) = (client.clone(), client.clone());
    let first = tokio::spawn(async move { a.send(auth(1)).await });
    let second = tokio::spawn(async move { b.send(auth(2)).await });
    wait_until("both requests at the host", || sim.received().len() >= 2).await;
    let links = sim.counters().connections;
    let closed = client.close();
    let late_sender = client.send(auth(3));
    let (_, late) = tokio::join!(closed, late_sender);
    assert!(late.expect_err("closing").is_not_sent());
    // close returned only once every link finished: both answers were delivered before it.
    assert_eq!(first.await.expect("task").expect("drained").amount(), Some(1));
    assert_eq!(second.await.expect("task").expect("drained").amount(), Some(2));
    let sign_offs = sim
        .received()
        .into_iter()
        .filter(|(mti, _)| mti.as_str() == "0800")
        .count();
    assert_eq!(sign_offs as u64, links, "each link signed off");
    assert_eq!(sim.counters().connections, links, "no link opened once close began");
    sim.shutdown().await;
}

#[tokio::test]
async fn above_max_in_flight_a_sender_waits_within_its_deadline_then_is_not_sent() {
    let sim = slow_sim(Duration::from_millis(200)).await;
    let config = ConnectionConfig {
        max_in_flight: 1,
        ..ConnectionConfig::default()
    };
    let link = Arc::new(
        Connection::connect(&sim.addr().to_string(), spec(), Arc::new(config))
            .await
            .expect("connect"),
    );
    let busy = {
        let link = link.clone();
        tokio::spawn(async move { link.send(auth(1), Duration::from_secs(5)).await })
    };
    wait_until("the first request at the host", || sim.received().len() == 1).await;
    let started = Instant::now();
    let err = link
        .send(auth(2), Duration::from_millis(50))
        .await
        .expect_err("no room in time");
    assert!(err.is_not_sent(), "{err}");
    assert!(
        matches!(
            err.cause(),
            iso8583_client::transport::Cause::TooManyInFlight { max: 1 }
        ),
        "{err}"
    );
    assert!(started.elapsed() >= Duration::from_millis(50));
    // A sender with time enough waits for the room the first answer makes.
    let answer = link.send(auth(3), Duration::from_secs(5)).await.expect("room came");
    assert_eq!(answer.amount(), Some(3));
    assert_eq!(busy.await.expect("task").expect("answered").amount(), Some(1));
    assert_eq!(sim.received().len(), 2, "the refused request never reached the host");
    sim.shutdown().await;
}
