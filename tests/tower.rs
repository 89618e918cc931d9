//! `Client` as a `tower::Service<Message>` (feature `tower`): layers stacked over it against the
//! simulator on 127.0.0.1, and readiness that follows the client's capacity.
#![cfg(all(feature = "tower", feature = "sim"))]

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use iso8583_client::sim::{Sim, SimConfig};
use iso8583_client::transport::ConnectionConfig;
use iso8583_client::{Client, Message, Spec};
use tower::{Service, ServiceBuilder, ServiceExt};

fn echo() -> Message {
    Message::new("0800".parse().unwrap()).with(70, "301")
}

#[tokio::test]
async fn concurrency_limit_and_rate_limit_over_the_client() {
    let spec = Spec::builtin("iso87-ascii").unwrap();
    let delay = Duration::from_millis(60);
    let sim = Sim::start(
        spec.clone(),
        SimConfig {
            delay,
            ..SimConfig::default()
        },
    )
    .await
    .unwrap();
    let client = Client::builder(spec).endpoint(sim.addr().to_string()).build().unwrap();
    // At most 2 at once, at most 4 started per 200 ms.
    let mut service = ServiceBuilder::new()
        .concurrency_limit(2)
        .rate_limit(4, Duration::from_millis(200))
        .service(client.clone());
    let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let started = Instant::now();
    let mut answers = Vec::new();
    for _ in 0..8 {
        let response = service.ready().await.unwrap().call(echo());
        let (now, most) = (now.clone(), most.clone());
        answers.push(tokio::spawn(async move {
            most.fetch_max(now.fetch_add(1, SeqCst) + 1, SeqCst);
            let answer = response.await;
            now.fetch_sub(1, SeqCst);
            answer
        }));
    }
    for answer in answers {
        assert_eq!(answer.await.unwrap().unwrap().response_code(), Some("00"));
    }
    let elapsed = started.elapsed();
    assert!(most.load(SeqCst) <= 2, "{} at once", most.load(SeqCst));
    // 8 requests at 4 per 200 ms: the second window opens after 200 ms at the earliest.
    assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
    assert_eq!(client.counters()[0].1.answered, 8);
    client.close().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn readiness_follows_the_links_capacity_and_closing() {
    let spec = Spec::builtin("iso87-ascii").unwrap();
    let sim = Sim::start(
        spec.clone(),
        SimConfig {
            delay: Duration::from_millis(300),
            ..SimConfig::default()
        },
    )
    .await
    .unwrap();
    // One link holding two requests: capacity 2.
    let mut client = Client::builder(spec)
        .endpoint(sim.addr().to_string())
        .pool_size(1)
        .connection(ConnectionConfig {
            max_in_flight: 2,
            ..ConnectionConfig::default()
        })
        .build()
        .unwrap();
    let first = tokio::spawn(client.ready().await.unwrap().call(echo()));
    let second = tokio::spawn(client.ready().await.unwrap().call(echo()));
    // Full: not ready until one of them is answered.
    assert!(tokio::time::timeout(Duration::from_millis(100), client.ready())
        .await
        .is_err());
    assert!(first.await.unwrap().is_ok());
    let third = client.ready().await.unwrap().call(echo());
    assert!(second.await.unwrap().is_ok() && third.await.is_ok());
    client.close().await;
    let err = client.ready().await.unwrap_err();
    assert!(err.is_not_sent(), "{err}");
    sim.shutdown().await;
}
