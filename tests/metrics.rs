//! Metrics through the `metrics` facade (feature `metrics`): a Prometheus recorder installed in
//! this test process sees, per endpoint and MTI class, what the client's own counters see.
#![cfg(all(feature = "metrics", feature = "sim"))]

use std::time::Duration;

use iso8583_client::sim::{Sim, SimConfig};
use iso8583_client::{Client, Message, RetryPolicy, SendOptions, Spec};
use metrics_exporter_prometheus::PrometheusBuilder;

/// The value of the sample `name{labels}` in Prometheus text, labels in any order.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|line| {
        let (key, value) = line.rsplit_once(' ')?;
        let (metric, rest) = key.split_once('{').unwrap_or((key, ""));
        let all = labels.iter().all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
        (metric == name && all).then(|| value.parse().ok())?
    })
}

#[tokio::test]
async fn counters_and_histograms_by_endpoint_and_mti_class() {
    let handle = PrometheusBuilder::new()
        .install_recorder()
        .expect("the only recorder of this test binary");
    let spec = Spec::builtin("iso87-ascii").unwrap();
    // Every 4th request of a link is left unanswered.
    let sim = Sim::start(
        spec.clone(),
        SimConfig {
            drop_every: 4,
            ..SimConfig::default()
        },
    )
    .await
    .unwrap();
    let addr = sim.addr().to_string();
    let client = Client::builder(spec)
        .endpoint(addr.clone())
        .pool_size(1)
        .build()
        .unwrap();
    let once = SendOptions {
        timeout: Some(Duration::from_millis(300)),
        retry: Some(RetryPolicy::none()),
        ..SendOptions::default()
    };
    let (mut answered, mut failed) = (0, 0);
    for i in 0..8u32 {
        let mut auth = Message::new("0100".parse().unwrap());
        auth.set(3, "000000").set(4, "000000001000").set_stan(i + 1);
        match client.send_with(auth, once.clone()).await {
            Ok(_) => answered += 1,
            Err(e) => {
                assert!(e.is_timeout() && e.is_outcome_unknown(), "{e}");
                failed += 1;
            }
        }
    }
    assert_eq!((answered, failed), (6, 2));
    let echo = Message::new("0800".parse().unwrap()).with(70, "301");
    client.send(echo).await.unwrap();

    let text = handle.render();
    let auth = [("endpoint", addr.as_str()), ("mti_class", "authorization")];
    let net = [("endpoint", addr.as_str()), ("mti_class", "network_management")];
    assert_eq!(sample(&text, "iso8583_requests_sent_total", &auth), Some(8.0), "{text}");
    assert_eq!(sample(&text, "iso8583_requests_answered_total", &auth), Some(6.0));
    assert_eq!(sample(&text, "iso8583_requests_timed_out_total", &auth), Some(2.0));
    assert_eq!(
        sample(&text, "iso8583_requests_outcome_unknown_total", &auth),
        Some(2.0)
    );
    assert_eq!(sample(&text, "iso8583_requests_in_flight", &auth), Some(0.0));
    assert_eq!(sample(&text, "iso8583_round_trip_seconds_count", &auth), Some(6.0));
    assert_eq!(sample(&text, "iso8583_requests_answered_total", &net), Some(1.0));
    let endpoint = [("endpoint", addr.as_str())];
    assert_eq!(sample(&text, "iso8583_link_connects_total", &endpoint), Some(1.0));

    // The same numbers as the client's own counters.
    let counters = client.counters()[0].1;
    assert_eq!((counters.sent, counters.answered, counters.timed_out), (9, 7, 2));
    client.close().await;
    sim.shutdown().await;

    // A caller that gives up on a written request: the link resolves it (outcome unknown) and the
    // metrics record that outcome, so every request sent is answered, not sent or unknown.
    let slow = Sim::start(
        Spec::builtin("iso87-ascii").unwrap(),
        SimConfig {
            delay: Duration::from_secs(10),
            ..SimConfig::default()
        },
    )
    .await
    .unwrap();
    let slow_addr = slow.addr().to_string();
    let client = Client::builder(Spec::builtin("iso87-ascii").unwrap())
        .endpoint(slow_addr.clone())
        .pool_size(1)
        .build()
        .unwrap();
    let mut auth = Message::new("0100".parse().unwrap());
    auth.set(3, "000000").set(4, "000000001000");
    let patient = SendOptions {
        timeout: Some(Duration::from_secs(5)),
        ..once
    };
    let gave_up = tokio::time::timeout(Duration::from_millis(300), client.send_with(auth, patient)).await;
    assert!(gave_up.is_err(), "the caller gave up first");
    let text = handle.render();
    let auth = [("endpoint", slow_addr.as_str()), ("mti_class", "authorization")];
    assert_eq!(sample(&text, "iso8583_requests_sent_total", &auth), Some(1.0), "{text}");
    assert_eq!(
        sample(&text, "iso8583_requests_outcome_unknown_total", &auth),
        Some(1.0),
        "{text}"
    );
    assert_eq!(sample(&text, "iso8583_requests_in_flight", &auth), Some(0.0));
    client.close().await;
    slow.shutdown().await;
}
