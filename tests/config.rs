//! The client's configuration read from a service's own TOML file (feature `serde`): the documented
//! example in `fixtures/client-config.toml` loads and drives a client against the simulator, and
//! mistakes in a file are refused with the key that is wrong.
#![cfg(feature = "serde")]

use std::time::Duration;

use iso8583_client::config::Config;
use iso8583_client::ClientBuilder;

/// A service's configuration: its own settings and the client's `[iso8583]` table.
#[derive(Debug, serde::Deserialize)]
struct ServiceConfig {
    #[allow(dead_code)]
    service: toml::Table,
    iso8583: Config,
}

fn example() -> ServiceConfig {
    let path = format!("{}/fixtures/client-config.toml", env!("CARGO_MANIFEST_DIR"));
    toml::from_str(&std::fs::read_to_string(path).expect("the example file")).expect("the example parses")
}

#[test]
fn the_documented_example_loads_into_every_setting() {
    let config = example().iso8583;
    assert_eq!(config.endpoints, ["127.0.0.1:9583", "127.0.0.1:9584"]);
    assert_eq!(
        (config.pool_size, config.timeout),
        (Some(2), Some(Duration::from_secs(10)))
    );
    assert_eq!(config.wait_timeout, Some(Duration::from_millis(500)));
    let link = config.connection_config().expect("valid");
    assert_eq!(link.match_fields, [41]);
    assert_eq!(link.max_in_flight, 512);
    assert_eq!(link.late_window, Duration::from_secs(300));
    assert_eq!(link.connect_timeout, Duration::from_secs(3));
    let mut wire = bytes::BytesMut::new();
    link.framing.write_frame(b"ABCD", &mut wire).unwrap();
    assert_eq!(&wire[..], b"0004ABCD"); // 4 ASCII digits

    assert_eq!(link.sign_on.as_ref().and_then(|m| m.get_str(70)), Some("001"));
    assert_eq!(link.sign_off.as_ref().and_then(|m| m.get_str(70)), Some("002"));
    assert_eq!(link.idle_echo, Some(Duration::from_secs(30)));
    let retry = config.retry_policy();
    assert_eq!(
        (retry.attempts, retry.attempt_timeout),
        (3, Some(Duration::from_secs(3)))
    );
}

#[test]
fn mistakes_name_the_key() {
    let refused = |text: &str| toml::from_str::<Config>(text).unwrap_err().to_string();
    assert!(refused("pool_sise = 2").contains("pool_sise"));
    assert!(refused("timeout = \"10\"").contains("no unit"));
    assert!(refused("[retry]\nattempts = \"three\"").contains("attempts"));
    let bad_prefix: Config = toml::from_str("[framing]\nprefix = \"3x\"").unwrap();
    assert!(bad_prefix
        .connection_config()
        .unwrap_err()
        .to_string()
        .contains("framing.prefix"));
    let bad_field: Config = toml::from_str("match_fields = [200]").unwrap();
    assert!(bad_field
        .connection_config()
        .unwrap_err()
        .to_string()
        .contains("match_fields"));
    let no_endpoint = ClientBuilder::from_config(&Config::default()).unwrap();
    assert!(no_endpoint.build().unwrap_err().to_string().contains("no endpoint"));
}

#[cfg(feature = "sim")]
#[tokio::test]
async fn a_client_from_the_example_talks_to_the_simulator() {
    use iso8583_client::sim::{Sim, SimConfig};
    use iso8583_client::Message;

    let mut config = example().iso8583;
    let spec = config.load_spec().unwrap();
    let link = config.connection_config().unwrap();
    let sim = Sim::start(
        spec,
        SimConfig {
            framing: link.framing.clone(),
            ..SimConfig::default()
        },
    )
    .await
    .unwrap();
    config.endpoints = vec![sim.addr().to_string()];
    let client = ClientBuilder::from_config(&config).unwrap().build().unwrap();
    let echo = Message::new("0800".parse().unwrap())
        .with(41, "TERM0001")
        .with(70, "301");
    let answer = client.send(echo).await.unwrap();
    assert_eq!(answer.get_str(41), Some("TERM0001"));
    // Signed on first (4-ASCII-digit framing, as configured), then the echo.
    let received: Vec<String> = sim.received().iter().map(|(mti, _)| mti.to_string()).collect();
    assert_eq!(received, ["0800", "0800"]);
    client.close().await;
    sim.shutdown().await;
}
