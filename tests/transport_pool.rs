//! The pool and the link lifecycle around it: fail-back to the primary,
//! reconnect backoff, graceful close of every link, connect / sign-on / pool
//! wait timeouts, a silent idle link replaced.

mod transport_support;

use std::sync::Arc;
use std::time::Duration;

use iso8583_client::client::{Client, RetryPolicy};
use iso8583_client::sim::{Sim, SimConfig};
use iso8583_client::transport::{
    network_request, Cause, ConnectError, Connection, ConnectionConfig, ReconnectBackoff, SendError,
};
use tokio::time::Instant;
use transport_support::*;

fn quick_backoff() -> ReconnectBackoff {
    ReconnectBackoff {
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
    while started.elapsed() < Duration::from_millis(500) && sends < 100_000 {
        client.send(auth(1000)).await.expect("served by the secondary");
        sends += 1;
    }
    let attempts = dead.accepted();
    // Pauses of 20, 40, 80, 80… ms, each jittered to 50-100 %: between about
    // 7 and 15 attempts in 500 ms, however many checkouts there were.
    assert!(sends > 200, "only {sends} sends");
    assert!((4..=20).contains(&attempts), "{attempts} attempts over {sends} sends");
    client.close().await;
    secondary.shutdown().await;
}

#[tokio::test]
async fn close_drains_every_link_then_signs_each_off() {
    let sim = Sim::start(
        spec(),
        SimConfig {
            delay: Duration::from_millis(100),
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
    let until = Instant::now() + Duration::from_secs(1);
    while sim.counters().received < 16 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
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
        took < Duration::from_millis(400),
        "links drained one after another? {took:?}"
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
    let started = Instant::now();
    let err = client.send(auth(2)).await.expect_err("no link free");
    let took = started.elapsed();
    assert!(matches!(err, SendError::NotSent(Cause::NoConnection(_))), "{err}");
    assert!(
        took >= Duration::from_millis(50) && took < Duration::from_millis(200),
        "took {took:?}"
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
    assert!(
        took >= Duration::from_millis(150) && took < Duration::from_millis(300),
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
        matches!(err, ConnectError::SignOn { ref source, .. } if source.is_timeout()),
        "{err}"
    );
    assert!(
        took >= Duration::from_millis(100) && took < Duration::from_millis(200),
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
            echo_timeout: Duration::from_millis(100),
            ..ConnectionConfig::default()
        })
        .reconnect_backoff(quick_backoff())
        .timeout(Duration::from_secs(2))
        .build()
        .expect("client");
    client.send(auth(1000)).await.expect("through the proxy");
    proxy.stall_existing(); // this link goes silent; new ones get through
    let started = Instant::now();
    while client.counters()[0].1.broken == 0 && started.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(client.counters()[0].1.broken, 1, "silent idle link not detected");
    assert!(
        started.elapsed() < Duration::from_millis(400),
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
