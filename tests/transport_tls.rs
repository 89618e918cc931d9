//! Links over TLS and mutual TLS, end to end against the simulator on 127.0.0.1, with
//! certificates made at test time: a trusted host, a client certificate the host requires, a
//! wrong CA and a missing client certificate (typed errors, nothing sent).
#![cfg(all(feature = "tls", feature = "sim"))]

mod tls_support;
mod transport_support;

use std::sync::Arc;
use std::time::Duration;

use iso8583_client::sim::{Sim, SimConfig};
use iso8583_client::transport::{
    network_request, tls_server_config, ConnectError, Connection, ConnectionConfig, TlsConnect, TlsSettings,
};
use iso8583_client::{Client, RetryPolicy};
use tls_support::{pki, Pki};
use transport_support::*;

async fn tls_sim(pki: &Pki, require_client_cert: bool) -> Sim {
    let client_ca = pki.path("ca.pem");
    let server = tls_server_config(
        &pki.path("server.pem"),
        &pki.path("server-key.pem"),
        require_client_cert.then_some(client_ca.as_path()),
    )
    .expect("server config");
    Sim::start(
        spec(),
        SimConfig {
            tls: Some(server),
            ..SimConfig::default()
        },
    )
    .await
    .expect("sim")
}

fn tls_config(settings: TlsSettings) -> ConnectionConfig {
    ConnectionConfig {
        connector: Arc::new(TlsConnect::new(&settings).expect("tls settings")),
        connect_timeout: Duration::from_secs(5),
        ..ConnectionConfig::default()
    }
}

fn trusting(pki: &Pki, ca: &str, with_client_cert: bool) -> TlsSettings {
    TlsSettings {
        ca: Some(pki.path(ca)),
        client_cert: with_client_cert.then(|| pki.path("client.pem")),
        client_key: with_client_cert.then(|| pki.path("client-key.pem")),
        server_name: Some("localhost".into()),
    }
}

#[tokio::test]
async fn a_link_over_tls_is_answered() {
    let pki = pki("plain");
    let sim = tls_sim(&pki, false).await;
    let config = Arc::new(tls_config(trusting(&pki, "ca.pem", false)));
    let link = Connection::connect(&sim.addr().to_string(), spec(), config)
        .await
        .expect("TLS link");
    let answer = link
        .send(network_request("301"), Duration::from_secs(5))
        .await
        .expect("answered");
    assert_eq!(answer.response_code(), Some("00"));
    link.close().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn mutual_tls_with_a_client_certificate_is_answered_through_the_client() {
    let pki = pki("mutual");
    let sim = tls_sim(&pki, true).await;
    let client = Client::builder(spec())
        .endpoint(sim.addr().to_string())
        .connection(tls_config(trusting(&pki, "ca.pem", true)))
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    for amount in [100, 200, 300] {
        let answer = client.send(auth(amount)).await.expect("answered over mutual TLS");
        assert_eq!(answer.amount(), Some(amount));
    }
    client.close().await;
    sim.shutdown().await;
}

/// The TLS opening fails as a typed `ConnectError::Tls`, and a send through the client is not
/// sent: nothing reaches the host.
async fn refused_and_nothing_sent(name: &str, require_client_cert: bool, ca: &str, with_client_cert: bool) {
    let pki = pki(name);
    let sim = tls_sim(&pki, require_client_cert).await;
    let config = Arc::new(tls_config(trusting(&pki, ca, with_client_cert)));
    let err = Connection::connect(&sim.addr().to_string(), spec(), config.clone())
        .await
        .expect_err("the TLS opening must fail");
    assert!(matches!(err, ConnectError::Tls { .. }), "{err}");
    let client = Client::builder(spec())
        .endpoint(sim.addr().to_string())
        .connection((*config).clone())
        .retry(RetryPolicy::none())
        .timeout(Duration::from_secs(2))
        .build()
        .expect("client");
    let err = client.send(auth(1)).await.expect_err("refused");
    assert!(err.is_not_sent(), "{err}");
    assert_eq!(sim.received().len(), 0, "nothing reached the host");
    client.close().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_host_signed_by_an_unknown_ca_is_a_typed_error_and_nothing_is_sent() {
    refused_and_nothing_sent("wrong-ca", false, "other-ca.pem", false).await;
}

#[tokio::test]
async fn a_missing_client_certificate_is_a_typed_error_and_nothing_is_sent() {
    refused_and_nothing_sent("no-client-cert", true, "ca.pem", false).await;
}
