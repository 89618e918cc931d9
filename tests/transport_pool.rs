//! The pool and the link lifecycle around it: fail-back to the primary,
//! reconnect backoff, graceful close of every link, connect / sign-on / pool
//! wait timeouts, a silent idle link replaced.
#![cfg(feature = "sim")]

mod transport_support;

use std::sync::Arc;
use std::time::Duration;

use iso8583_client::sim::{Sim, SimConfig};
use iso8583_client::transport::{network_request, Backoff, Cause, ConnectError, Connection, ConnectionConfig};
use iso8583_client::SendError;
use iso8583_client::{Client, RetryPolicy};
use tokio::time::Instant;
use transport_support::*;

fn quick_backoff() -> Backoff {
    Backoff {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(80),
    }
}

/// Network-management requests (here: sign-offs) the sim received; its log keeps MTI and STAN only.
fn network_requests(sim: &Sim) -> usize {
    sim.received().iter().filter(|(m, _)| m.as_str() == "0800").count()
}

fn authorizations(sim: &Sim) -> usize {
    sim.received().iter().filter(|(m, _)| m.as_str() == "0100").count()
}

#[tokio::test]
async fn traffic_fails_back_to_the_primary_once_it_is_healthy_again() {
    let primary = Sim::start(spec(), SimConfig::default()).await.expect("sim");
    let (primary_addr, port) = (primary.addr().to_string(), primary.addr().port());
    primary.shutdown().await; // the primary is down at first
    let secondary = Sim::start(spec(), SimConfig::default()).await.expect("sim");
    let client = Client::builder(spec())
        .endpoint(primary_addr)
        .endpoint(secondary.addr().to_string())
        .connection(ConnectionConfig {
            sign_off: Some(network_request("002")),
            drain_timeout: Duration::from_millis(200),
            ..ConnectionConfig::default()
        })
        .reconnect_backoff(quick_backoff())
        .timeout(Duration::from_secs(2))
        .build()
        .expect("client");
    client.send(auth(1000)).await.expect("served by the secondary");
    assert_eq!(client.counters()[1].1.answered, 1);

    let primary = Sim::start_on(port, spec(), SimConfig::default())
        .await
        .expect("primary back");
    let started = Instant::now();
    while client.counters()[0].1.answered == 0 && started.elapsed() < Duration::from_secs(3) {
        client.send(auth(2000)).await.expect("served throughout the fail-back");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        client.counters()[0].1.answered > 0,
        "never failed back: {:?}",
        client.counters()
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );

    let on_secondary = authorizations(&secondary);
    for i in 0..20 {
        client.send(auth(3000 + i)).await.expect("answered");
    }
    assert_eq!(
        authorizations(&secondary),
        on_secondary,
        "traffic left on the secondary"
    );
    assert!(authorizations(&primary) >= 20);
    // The secondary's link was let go gracefully: it signed off.
    let until = Instant::now() + Duration::from_secs(1);
    while network_requests(&secondary) == 0 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(network_requests(&secondary), 1, "no sign-off on the secondary");
    client.close().await;
    primary.shutdown().await;
    secondary.shutdown().await;
}

#[tokio::test]
async fn reconnect_attempts_to_a_dead_primary_are_spaced_by_backoff() {
    let dead = SlammingHost::start().await; // accepts, then closes: sign-on fails
    let secondary = Sim::start(spec(), SimConfig::default()).await.expect("sim");
    let client = Client::builder(spec())
        .endpoint(dead.addr.clone())
        .endpoint(secondary.addr().to_string())
        .connection(ConnectionConfig {
            sign_on: Some(network_request("001")),
            sign_on_timeout: Duration::from_millis(200),
            ..ConnectionConfig::default()
        })
        .reconnect_backoff(quick_backoff())
        .timeout(Duration::from_secs(2))
        .build()
        .expect("client");
    let started = Instant::now();
    let mut sends = 0u32;
    // At least 500 ms and at least 200 checkouts (a loaded machine may need longer for those).
    while (started.elapsed() < Duration::from_millis(500) || sends <= 200) && sends < 100_000 {
        client.send(auth(1000)).await.expect("served by the secondary");
        sends += 1;
    }
    let took = started.elapsed();
    let attempts = dead.accepted();
    // Pauses of 20, 40, 80, 80… ms, each jittered to 50-100 %: at least 10, 20, 40, 40… ms
    // apart, so at most about 4 + took / 40 ms attempts (15 in 500 ms), however many checkouts
    // there were; and at most 80 ms apart, so several in 500 ms or more.
    let at_most = 6 + (took.as_millis() / 40) as usize;
    assert!(
        (4..=at_most).contains(&attempts),
        "{attempts} attempts over {sends} sends in {took:?} (at most {at_most})"
    );
    client.close().await;
    secondary.shutdown().await;
}

#[tokio::test]
async fn close_drains_every_link_then_signs_each_off() {
    // Each answer, the sign-offs' too, comes 250 ms after its request: closing the links at the
    // same time takes about 2 × 250 ms (drain, then sign off); one after another, at least
    // 250 ms more per further link (its sign-off), 1250 ms with 4 links.
    let sim = Sim::start(
        spec(),
        SimConfig {
            delay: Duration::from_millis(250),
            ..SimConfig::default()
        },
    )
    .await
    .expect("sim");
    let client = Client::builder(spec())
        .endpoint(sim.addr().to_string())
        .pool_size(4)
        .connection(ConnectionConfig {
            sign_off: Some(network_request("002")),
            drain_timeout: Duration::from_secs(1),
            ..ConnectionConfig::default()
        })
        .timeout(Duration::from_secs(2))
        .build()
        .expect("client");
    let mut sends = tokio::task::JoinSet::new();
    for i in 0..16 {
        let c = client.clone();
        sends.spawn(async move { c.send(auth(1000 + i * 100)).await });
    }
    wait_until("16 requests at the sim", || sim.counters().received >= 16).await;
    let links = sim.counters().connections as usize;
    let started = Instant::now();
    client.close().await;
    let took = started.elapsed();
    let err = client.send(auth(1)).await.expect_err("closed");
    assert!(matches!(err, SendError::NotSent(Cause::Closing)), "{err}");
    while let Some(done) = sends.join_next().await {
        done.expect("task").expect("in flight at close: answered, not failed");
    }
    assert!(
        took < Duration::from_millis(1000),
        "links drained one after another? {took:?} ({links} links)"
    );
    assert_eq!(network_requests(&sim), links, "one sign-off per link ({links} links)");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_link_signing_on_when_close_begins_is_closed_gracefully_too() {
    let (addr, host) = scripted_host().await;
    let client = Client::builder(spec())
        .endpoint(addr)
        .pool_size(1)
        .connection(ConnectionConfig {
            sign_on: Some(network_request("001")),
            sign_off: Some(network_request("002")),
            sign_on_timeout: Duration::from_secs(2),
            drain_timeout: Duration::from_millis(200),
            ..ConnectionConfig::default()
        })
        .timeout(Duration::from_secs(3))
        .build()
        .expect("client");
    let c = client.clone();
    let send = tokio::spawn(async move { c.send(auth(1000)).await });
    let mut host = host.await.expect("host");
    let sign_on = host.recv().await;
    assert_eq!(sign_on.get_str(70), Some("001"));
    let c = client.clone();
    let closing = tokio::spawn(async move { c.close().await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    host.send(&respond(&sign_on)).await; // signed on after close began
    let next = host.recv().await;
    assert_eq!(
        (next.mti().as_str(), next.get_str(70)),
        ("0800", Some("002")),
        "the request went out after close began, or no sign-off"
    );
    host.send(&respond(&next)).await;
    tokio::time::timeout(Duration::from_secs(2), closing)
        .await
        .expect("close finishes")
        .expect("close task");
    let result = send.await.expect("send task");
    assert!(matches!(result, Err(SendError::NotSent(Cause::Closing))), "{result:?}");
}

#[tokio::test]
async fn the_pool_wait_timeout_bounds_the_wait_for_a_link() {
    let (addr, host) = scripted_host().await; // takes the sign-on, never answers it
    let client = Client::builder(spec())
        .endpoint(addr)
        .pool_size(1)
        .wait_timeout(Duration::from_millis(50))
        .connection(ConnectionConfig {
            sign_on: Some(network_request("001")),
            sign_on_timeout: Duration::from_millis(600),
            ..ConnectionConfig::default()
        })
        .retry(RetryPolicy::none())
        .timeout(Duration::from_secs(2))
        .build()
        .expect("client");
    let c = client.clone();
    let first = tokio::spawn(async move { c.send(auth(1)).await });
    let mut host = host.await.expect("host");
    host.recv().await; // the only link of the pool is busy signing on
                       // From here on only timers matter (the host never answers), so tokio's paused clock makes
                       // them exact. Paused only now: paused, tokio jumps to the next timer whenever every task
                       // waits, which could have overtaken the TCP connect and the sign-on write above.
    tokio::time::pause();
    let started = Instant::now();
    let err = client.send(auth(2)).await.expect_err("no link free");
    let took = started.elapsed();
    tokio::time::resume();
    assert!(matches!(err, SendError::NotSent(Cause::NoConnection(_))), "{err}");
    // At the 50 ms wait limit: not before, and not at the sign-on timeout (600 ms) that frees
    // the link, nor at the send's 2 s timeout.
    assert!(
        took >= Duration::from_millis(50) && took <= Duration::from_millis(52),
        "took {took:?} (virtual time)"
    );
    let first = first.await.expect("task").expect_err("sign-on never answered");
    assert!(first.is_not_sent(), "{first}");
    drop(host);
}

#[tokio::test]
async fn connect_gives_up_at_the_connect_timeout() {
    // A listener on 127.0.0.1 that never accepts, its backlog filled: further
    // SYNs are dropped, so a connect hangs.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    socket
        .bind(&"127.0.0.1:0".parse::<std::net::SocketAddr>().expect("addr").into())
        .expect("bind");
    socket.listen(0).expect("listen");
    let addr = socket
        .local_addr()
        .expect("addr")
        .as_socket()
        .expect("inet")
        .to_string();
    let mut fillers = Vec::new();
    for _ in 0..16 {
        match tokio::time::timeout(Duration::from_millis(100), tokio::net::TcpStream::connect(&addr)).await {
            Ok(Ok(stream)) => fillers.push(stream),
            _ => break, // the backlog is full
        }
    }
    assert!(fillers.len() < 16, "backlog never filled");
    let config = Arc::new(ConnectionConfig {
        connect_timeout: Duration::from_millis(150),
        ..ConnectionConfig::default()
    });
    let started = Instant::now();
    let err = Connection::connect(&addr, spec(), config)
        .await
        .expect_err("never accepted");
    let took = started.elapsed();
    assert!(matches!(err, ConnectError::Timeout { .. }), "{err}");
    // Not before the 150 ms connect timeout (exact: timers never fire early); the room above it
    // is for a loaded machine; without the timeout the kernel would retry the SYN for minutes.
    assert!(
        took >= Duration::from_millis(150) && took < Duration::from_millis(1500),
        "took {took:?}"
    );
    drop(fillers);
}

#[tokio::test]
async fn an_unanswered_sign_on_fails_the_connect_at_the_sign_on_timeout() {
    let (addr, host) = scripted_host().await;
    let config = Arc::new(ConnectionConfig {
        sign_on: Some(network_request("001")),
        sign_on_timeout: Duration::from_millis(100),
        ..ConnectionConfig::default()
    });
    let host_side = tokio::spawn(async move {
        let mut host = host.await.expect("host");
        host.recv().await; // and never answer
        host
    });
    let started = Instant::now();
    let err = Connection::connect(&addr, spec(), config)
        .await
        .expect_err("unanswered");
    let took = started.elapsed();
    assert!(
        matches!(err, ConnectError::SignOn { ref error, .. } if error.is_timeout()),
        "{err}"
    );
    // Not before the 100 ms sign-on timeout (exact: timers never fire early), well before the 5 s
    // connect-level defaults; the room above it is for a loaded machine.
    assert!(
        took >= Duration::from_millis(100) && took < Duration::from_millis(1500),
        "took {took:?}"
    );
    drop(host_side.await);
}

#[tokio::test]
async fn an_idle_link_whose_echo_goes_unanswered_is_replaced() {
    let sim = Sim::start(spec(), SimConfig::default()).await.expect("sim");
    let proxy = SilentProxy::start(sim.addr().to_string()).await;
    let client = Client::builder(spec())
        .endpoint(proxy.addr.clone())
        .connection(ConnectionConfig {
            idle_echo: Some(Duration::from_millis(50)),
            // Ample for an answer through the proxy on a loaded machine, yet short.
            echo_timeout: Duration::from_millis(250),
            ..ConnectionConfig::default()
        })
        .reconnect_backoff(quick_backoff())
        .timeout(Duration::from_secs(2))
        .build()
        .expect("client");
    client.send(auth(1000)).await.expect("through the proxy");
    proxy.stall_existing(); // this link goes silent; new ones get through
    let started = Instant::now();
    while client.counters()[0].1.broken == 0 && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(client.counters()[0].1.broken, 1, "silent idle link not detected");
    // Due after at most 50 ms idle + 250 ms echo timeout; without the idle echo nothing would
    // notice for 30 s (TCP keepalive). The bound leaves room for a loaded machine.
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "took {:?}",
        started.elapsed()
    );
    let resp = client.send(auth(2000)).await.expect("served by a new link");
    assert_eq!(resp.amount(), Some(2000));
    let c = client.counters()[0].1;
    assert_eq!((c.connects, c.reconnects), (2, 1), "{c:?}");
    client.close().await;
    sim.shutdown().await;
}
