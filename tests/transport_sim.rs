//! The host simulator's faults and framing options.
#![cfg(feature = "sim")]

mod transport_support;

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use iso8583_client::sim::{Sim, SimConfig};
use iso8583_client::transport::framing::{Framing, LengthPrefix};
use iso8583_client::transport::{Connection, ConnectionConfig};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::codec::Framed;
use transport_support::*;

#[tokio::test]
async fn the_host_sends_its_own_echo_and_counts_the_answers() {
    let sim = Sim::start(
        spec(),
        SimConfig {
            echo_every: Some(Duration::from_millis(20)),
            ..SimConfig::default()
        },
    )
    .await
    .expect("sim");
    let link = Connection::connect(&sim.addr().to_string(), spec(), Arc::new(ConnectionConfig::default()))
        .await
        .expect("connect");
    let started = Instant::now();
    while sim.counters().echo_answers < 3 && started.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(sim.counters().echo_answers >= 3);
    assert!(link.counters().unsolicited >= 3);
    sim.shutdown().await;
}

#[tokio::test]
async fn close_after_n_fails_everything_in_flight() {
    let sim = Sim::start(
        spec(),
        SimConfig {
            close_after: 3,
            delay: Duration::from_millis(30),
            ..SimConfig::default()
        },
    )
    .await
    .expect("sim");
    let link = Connection::connect(&sim.addr().to_string(), spec(), Arc::new(ConnectionConfig::default()))
        .await
        .expect("connect");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut waiting = Vec::new();
    for i in 0..3 {
        let mut req = auth(1000 + i);
        waiting.push(link.dispatch(&mut req, deadline).await.expect("queued"));
    }
    for w in waiting {
        assert!(w.response().await.expect_err("closed").is_link_down());
    }
    assert_eq!(sim.counters().answered, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn reverse_order_answers_each_batch_backwards() {
    let sim = Sim::start(
        spec(),
        SimConfig {
            reverse_order: 4,
            ..SimConfig::default()
        },
    )
    .await
    .expect("sim");
    let stream = TcpStream::connect(sim.addr()).await.expect("connect");
    let mut io = Framed::new(stream, Framing::default());
    for stan in 1..=4u32 {
        let mut req = auth(1000);
        req.set_stan(stan);
        io.send(spec().encode(&req).expect("encode")).await.expect("send");
    }
    let mut order = Vec::new();
    for _ in 0..4 {
        let frame = tokio::time::timeout(Duration::from_secs(2), io.next())
            .await
            .expect("answer")
            .expect("open");
        let resp = spec().decode_bytes(frame.expect("frame").message).expect("decode");
        order.push(resp.stan().expect("stan").to_owned());
    }
    assert_eq!(order, ["000004", "000003", "000002", "000001"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn drop_every_n_leaves_every_nth_unanswered() {
    let sim = Sim::start(
        spec(),
        SimConfig {
            drop_every: 2,
            ..SimConfig::default()
        },
    )
    .await
    .expect("sim");
    let link = Connection::connect(&sim.addr().to_string(), spec(), Arc::new(ConnectionConfig::default()))
        .await
        .expect("connect");
    let mut outcomes = Vec::new();
    for i in 0..4 {
        outcomes.push(link.send(auth(1000 + i), Duration::from_millis(100)).await.is_ok());
    }
    assert_eq!(outcomes, [true, false, true, false]);
    assert_eq!((sim.counters().received, sim.counters().dropped), (4, 2));
    sim.shutdown().await;
}

#[tokio::test]
async fn tpdu_framing_is_answered_with_source_and_destination_swapped() {
    let framing = Framing::builder()
        .prefix(LengthPrefix::Ascii4)
        .header(&[0x60, 0x00, 0x03, 0x00, 0x00])
        .length_counts_header(true)
        .build();
    let sim = Sim::start(
        spec(),
        SimConfig {
            framing: framing.clone(),
            ..SimConfig::default()
        },
    )
    .await
    .expect("sim");
    let stream = TcpStream::connect(sim.addr()).await.expect("connect");
    let mut io = Framed::new(stream, framing.clone());
    io.send(spec().encode(&auth(1000)).expect("encode"))
        .await
        .expect("send");
    let frame = tokio::time::timeout(Duration::from_secs(2), io.next())
        .await
        .expect("answer")
        .expect("open");
    assert_eq!(&frame.expect("frame").header[..], &[0x60, 0x00, 0x00, 0x00, 0x03]);
    // And the transport speaks the same framing end to end.
    let config = ConnectionConfig {
        framing,
        ..ConnectionConfig::default()
    };
    let link = Connection::connect(&sim.addr().to_string(), spec(), Arc::new(config))
        .await
        .expect("connect");
    let resp = link.send(auth(2000), Duration::from_secs(2)).await.expect("answered");
    assert_eq!(resp.amount(), Some(2000));
    sim.shutdown().await;
}
