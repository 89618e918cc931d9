//! The client: retries only where safe, repeats for reversals, failover,
//! recovery after a host restart, silent-link replacement.
#![cfg(feature = "sim")]

mod transport_support;

use std::time::Duration;

use iso8583_client::sim::{Sim, SimConfig};
use iso8583_client::transport::{network_request, Backoff, Cause, ConnectionConfig};
use iso8583_client::SendError;
use iso8583_client::{Client, RetryPolicy, SendOptions};
use tokio::time::Instant;
use transport_support::*;

fn retry_3_of_100ms() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        backoff: Backoff {
            initial: Duration::from_millis(5),
            max: Duration::from_millis(10),
        },
        attempt_timeout: Some(Duration::from_millis(100)),
    }
}

fn silent_host_client(sim: &Sim) -> Client {
    Client::builder(spec())
        .endpoint(sim.addr().to_string())
        .retry(retry_3_of_100ms())
        .timeout(Duration::from_secs(3))
        .build()
        .expect("client")
}

/// Opens the client's link to the silent `sim` in real time, with one echo the sim logs and
/// drops, so that a test can then pause tokio's clock: with the clock paused, tokio jumps to the
/// next timer whenever every task waits, and a TCP connect still in progress then would be
/// overtaken by the send's deadline. Once the link is up, a send to a host that never answers
/// depends on timers only, and paused time makes them exact.
async fn warm_up(client: &Client, sim: &Sim) {
    let opts = SendOptions {
        timeout: Some(Duration::from_millis(50)),
        retry: Some(RetryPolicy::none()),
        ..SendOptions::default()
    };
    let err = client
        .send_with(network_request("301"), opts)
        .await
        .expect_err("silent");
    assert!(err.is_timeout() && err.is_outcome_unknown(), "the echo went out: {err}");
    wait_until("the warm-up echo at the sim", || sim.received().len() == 1).await;
    assert_eq!(client.counters()[0].1.connects, 1);
}

async fn silent_sim() -> Sim {
    Sim::start(
        spec(),
        SimConfig {
            drop_every: 1,
            ..SimConfig::default()
        },
    )
    .await
    .expect("sim")
}

#[tokio::test]
async fn unanswered_0200_reaches_the_host_exactly_once() {
    let sim = silent_sim().await;
    let client = silent_host_client(&sim);
    let err = client.send(msg("0200")).await.expect_err("never answered");
    assert!(err.is_outcome_unknown() && err.is_timeout(), "{err}");
    assert_eq!(sim_mtis_of_at_least(&sim, 1).await, ["0200"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn unanswered_0400_is_repeated_as_0401_with_the_same_stan() {
    let sim = silent_sim().await;
    let client = silent_host_client(&sim);
    let err = client.send(msg("0400")).await.expect_err("never answered");
    assert!(err.is_outcome_unknown(), "{err}");
    let got = sim_log_of_at_least(&sim, 3).await;
    let mtis: Vec<&str> = got.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(mtis, ["0400", "0401", "0401"]);
    assert!(got.iter().all(|(_, stan)| *stan == got[0].1), "same STAN: {got:?}");
    let (_, counters) = &client.counters()[0];
    assert_eq!(counters.retried, 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn unanswered_advice_is_repeated_and_echo_is_retried_as_is() {
    let sim = silent_sim().await;
    // Five timeouts in a row would break the link (and back the endpoint off) before the
    // last echo: this test is about what is repeated, so the link stays up.
    let client = Client::builder(spec())
        .endpoint(sim.addr().to_string())
        .connection(ConnectionConfig {
            max_consecutive_timeouts: 0,
            ..ConnectionConfig::default()
        })
        .retry(retry_3_of_100ms())
        .timeout(Duration::from_secs(3))
        .build()
        .expect("client");
    let _ = client.send(msg("0220")).await.expect_err("never answered");
    let _ = client.send(network_request("301")).await.expect_err("never answered");
    assert_eq!(
        sim_mtis_of_at_least(&sim, 6).await,
        ["0220", "0221", "0221", "0800", "0800", "0800"]
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_0200_marked_idempotent_is_retried() {
    let sim = silent_sim().await;
    let client = silent_host_client(&sim);
    let opts = SendOptions {
        idempotent: Some(true),
        ..SendOptions::default()
    };
    let _ = client.send_with(msg("0200"), opts).await.expect_err("never answered");
    assert_eq!(sim_mtis_of_at_least(&sim, 3).await, ["0200", "0200", "0200"]);
    sim.shutdown().await;
}

/// Paused time (after a real-time warm-up, see [`warm_up`]): the host never answers, so only
/// timers decide what happens, and on tokio's virtual clock they fire exactly when due however
/// loaded the machine is. The attempt count and the time taken are then exact.
#[tokio::test]
async fn retries_never_pass_the_deadline() {
    let sim = silent_sim().await;
    let client = silent_host_client(&sim);
    warm_up(&client, &sim).await;
    tokio::time::pause();
    let started = Instant::now();
    let opts = SendOptions {
        timeout: Some(Duration::from_millis(150)),
        ..SendOptions::default()
    };
    let err = client.send_with(msg("0400"), opts).await.expect_err("never answered");
    let took = started.elapsed();
    tokio::time::resume();
    assert!(err.is_outcome_unknown());
    // Three attempts of 100 ms are allowed, but the deadline cuts the second one short: ended at
    // the deadline (not before it, and not at the ~205 ms a full second attempt would end at).
    assert!(
        took >= Duration::from_millis(150) && took <= Duration::from_millis(152),
        "took {took:?} (virtual time)"
    );
    assert_eq!(
        sim_mtis_of_at_least(&sim, 3).await,
        ["0800", "0400", "0401"],
        "the warm-up echo, a 100 ms attempt, then 50 ms left for one repeat"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn caller_stan_collision_is_refused_not_retried() {
    let sim = silent_sim().await;
    let client = Client::builder(spec())
        .endpoint(sim.addr().to_string())
        .pool_size(1)
        .build()
        .expect("client");
    let mut first = msg("0200");
    first.set(11, "000777");
    let c = client.clone();
    let pending = tokio::spawn(async move { c.send(first).await });
    // The first is in flight once the host has it (the host never answers it).
    wait_until("the first request at the sim", || sim.received().len() == 1).await;
    let mut second = msg("0800");
    second.set(11, "000777");
    let err = client.send(second).await.expect_err("collision");
    assert!(matches!(err, SendError::NotSent(Cause::StanInUse { .. })), "{err}");
    pending.abort();
    sim.shutdown().await;
}

#[tokio::test]
async fn a_dead_primary_fails_over_to_the_secondary() {
    let sim = Sim::start(spec(), SimConfig::default()).await.expect("sim");
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let dead_addr = dead.local_addr().expect("addr").to_string();
    drop(dead); // nothing listens there any more
    let client = Client::builder(spec())
        .endpoint(dead_addr)
        .endpoint(sim.addr().to_string())
        .timeout(Duration::from_secs(2))
        .build()
        .expect("client");
    let resp = client.send(auth(1000)).await.expect("answered by the secondary");
    assert_eq!(resp.response_code(), Some("00"));
    let counters = client.counters();
    assert_eq!((counters[0].1.connects, counters[1].1.answered), (0, 1));
    sim.shutdown().await;
}

#[tokio::test]
async fn the_pool_recovers_when_the_host_restarts() {
    let sim = Sim::start(spec(), SimConfig::default()).await.expect("sim");
    let port = sim.addr().port();
    let client = Client::builder(spec())
        .endpoint(sim.addr().to_string())
        .timeout(Duration::from_secs(3))
        .reconnect_backoff(Backoff {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(100),
        })
        .retry(RetryPolicy {
            attempts: 100,
            ..retry_3_of_100ms()
        })
        .build()
        .expect("client");
    client.send(auth(1000)).await.expect("before the restart");
    sim.shutdown().await;
    let opts = SendOptions {
        timeout: Some(Duration::from_millis(200)),
        ..SendOptions::default()
    };
    let err = client.send_with(auth(2000), opts).await.expect_err("host down");
    assert!(err.is_not_sent(), "{err}");
    let sim = Sim::start_on(port, spec(), SimConfig::default())
        .await
        .expect("restart");
    let resp = client.send(auth(3000)).await.expect("after the restart");
    assert_eq!(resp.amount(), Some(3000));
    assert!(client.counters()[0].1.reconnects >= 1);
    client.close().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_silently_dead_link_is_replaced_while_a_healthy_link_serves() {
    let behind_proxy = Sim::start(spec(), SimConfig::default()).await.expect("sim");
    let direct = Sim::start(spec(), SimConfig::default()).await.expect("sim");
    let proxy = SilentProxy::start(behind_proxy.addr().to_string()).await;
    let client = Client::builder(spec())
        .endpoint(proxy.addr.clone())
        .endpoint(direct.addr().to_string())
        .connection(ConnectionConfig {
            sign_on: Some(network_request("001")),
            sign_on_timeout: Duration::from_millis(100),
            idle_echo: Some(Duration::from_millis(50)),
            echo_timeout: Duration::from_millis(100),
            max_consecutive_timeouts: 2,
            ..ConnectionConfig::default()
        })
        .retry(RetryPolicy {
            attempts: 10,
            ..retry_3_of_100ms()
        })
        .reconnect_backoff(Backoff {
            initial: Duration::from_secs(5),
            max: Duration::from_secs(5),
        })
        .timeout(Duration::from_secs(2))
        .build()
        .expect("client");
    client.send(network_request("301")).await.expect("through the proxy");
    proxy.stall();
    let started = Instant::now();
    for _ in 0..20 {
        client
            .send(network_request("301"))
            .await
            .expect("served despite the dead link");
    }
    assert!(started.elapsed() < Duration::from_secs(2));
    let counters = client.counters();
    assert_eq!(counters[0].1.broken, 1, "{counters:?}");
    assert!(counters[1].1.answered >= 20, "{counters:?}");
    client.close().await;
    behind_proxy.shutdown().await;
    direct.shutdown().await;
}

#[tokio::test]
async fn counters_follow_the_traffic() {
    let sim = Sim::start(spec(), SimConfig::default()).await.expect("sim");
    let client = Client::builder(spec())
        .endpoint(sim.addr().to_string())
        .build()
        .expect("client");
    for i in 0..10 {
        client.send(auth(1000 + i)).await.expect("answered");
    }
    let (_, c) = client.counters()[0];
    assert_eq!((c.sent, c.answered, c.in_flight, c.connects), (10, 10, 0, 1));
    client.close().await;
    sim.shutdown().await;
}

/// Paused time after a real-time warm-up, as in `retries_never_pass_the_deadline`.
#[tokio::test]
async fn by_default_a_reversal_shares_its_deadline_among_its_attempts() {
    let sim = silent_sim().await;
    let client = Client::builder(spec())
        .endpoint(sim.addr().to_string())
        .build()
        .expect("client");
    warm_up(&client, &sim).await;
    tokio::time::pause();
    let started = Instant::now();
    let opts = SendOptions {
        timeout: Some(Duration::from_millis(300)),
        ..SendOptions::default()
    };
    let err = client.send_with(msg("0400"), opts).await.expect_err("never answered");
    let took = started.elapsed();
    tokio::time::resume();
    assert!(err.is_outcome_unknown());
    // About 100 ms, then about half of what is left, then the rest: all three attempts fit,
    // and the last one ends at the deadline, not past it.
    assert!(
        took >= Duration::from_millis(300) && took <= Duration::from_millis(302),
        "took {took:?} (virtual time)"
    );
    assert_eq!(sim_mtis_of_at_least(&sim, 4).await, ["0800", "0400", "0401", "0401"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn next_stan_comes_from_the_sequence_the_links_assign_from() {
    let sim = Sim::start(spec(), SimConfig::default()).await.expect("sim");
    let client = Client::builder(spec())
        .endpoint(sim.addr().to_string())
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    // A STAN taken by the caller is never the one the link gives the next request.
    let mine = client.next_stan();
    let mut own = msg("0200");
    own.set_stan(mine);
    let answered = client.send(own).await.expect("answered");
    assert_eq!(answered.stan(), Some(format!("{mine:06}").as_str()));
    let auto = client.send(msg("0200")).await.expect("answered");
    let auto_stan: u32 = auto.stan().expect("stan").parse().expect("digits");
    assert_ne!(auto_stan, mine);
    assert_eq!(auto_stan, mine % 999_999 + 1, "the link continues the same sequence");
    client.close().await;
    sim.shutdown().await;
}

/// The scenario from the field: a 0200 with STAN 000042 for 10.00 times out; the caller reuses
/// STAN 000042 for 99.99 while the host's late answer to the first is still on its way. The
/// second send is refused (not sent), never handed the first one's answer; once the late
/// answer came, the STAN is free again.
#[tokio::test]
async fn a_reused_stan_never_receives_the_late_answer_of_its_earlier_request() {
    let sim = slow_sim(Duration::from_millis(300)).await;
    let client = Client::builder(spec())
        .endpoint(sim.addr().to_string())
        .retry(RetryPolicy::none())
        .build()
        .expect("client");
    let short = SendOptions {
        timeout: Some(Duration::from_millis(100)),
        ..SendOptions::default()
    };
    let first = msg("0200").with(4, "000000001000").with(11, "000042");
    let err = client.send_with(first, short).await.expect_err("times out");
    assert!(err.is_outcome_unknown(), "{err}");
    let second = msg("0200").with(4, "000000009999").with(11, "000042");
    let err = client.send(second.clone()).await.expect_err("refused while unresolved");
    assert!(
        err.is_not_sent() && matches!(err.cause(), Cause::StanUnresolved { .. }),
        "{err}"
    );
    wait_until("the late answer", || client.counters()[0].1.late == 1).await;
    let answer = client.send(second).await.expect("free once the late answer came");
    assert_eq!(answer.amount(), Some(9999));
    client.close().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn the_same_caller_stan_in_flight_twice_is_refused_across_the_pool() {
    let sim = slow_sim(Duration::from_millis(200)).await;
    let client = Client::builder(spec())
        .endpoint(sim.addr().to_string())
        .pool_size(2)
        .retry(RetryPolicy::none())
        .build()
        .expect("client");
    let a = msg("0200").with(4, "000000000100").with(11, "000007");
    let b = msg("0200").with(4, "000000000200").with(11, "000007");
    let (ra, rb) = tokio::join!(client.send(a), client.send(b));
    let (answered, refused): (Vec<_>, Vec<_>) = [ra, rb].into_iter().partition(|r| r.is_ok());
    assert_eq!((answered.len(), refused.len()), (1, 1));
    let err = refused.into_iter().next().and_then(|r| r.err()).expect("a refusal");
    assert!(
        err.is_not_sent() && matches!(err.cause(), Cause::StanInUse { .. }),
        "{err}"
    );
    client.close().await;
    sim.shutdown().await;
}
