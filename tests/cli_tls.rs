//! `iso8583 sim --tls-cert --tls-key [--tls-client-ca]` and `iso8583 send --tls-ca --tls-cert
//! --tls-key --tls-server-name`, as real processes on 127.0.0.1: TLS, mutual TLS, and a client
//! without the certificate the host requires (not sent).
#![cfg(feature = "cli")]

mod cli_support;
mod tls_support;

use cli_support::{run_with_input, start_record, start_sim, temp};
use serde_json::Value;
use tls_support::pki;

const ECHO: &str = r#"{"mti": "0800", "fields": {"70": "301"}}"#;

fn path(p: std::path::PathBuf) -> String {
    p.to_string_lossy().into_owned()
}

#[test]
fn send_over_mutual_tls_to_the_simulator() {
    let pki = pki("cli-mutual");
    let (ca, cert, key) = (
        path(pki.path("ca.pem")),
        path(pki.path("client.pem")),
        path(pki.path("client-key.pem")),
    );
    let sim = start_sim(&[
        "--tls-cert",
        &path(pki.path("server.pem")),
        "--tls-key",
        &path(pki.path("server-key.pem")),
        "--tls-client-ca",
        &ca,
    ]);
    let addr = sim.addr.to_string();
    let common = [
        "send",
        "--host",
        &addr,
        "--tls-ca",
        &ca,
        "--tls-server-name",
        "localhost",
        "--retries",
        "0",
    ];
    let mut with_cert = common.to_vec();
    with_cert.extend(["--tls-cert", &cert, "--tls-key", &key]);
    let r = run_with_input(&with_cert, ECHO);
    r.assert_ok();
    let answer: Value = serde_json::from_str(r.stdout.trim()).expect("one JSON line");
    assert_eq!(
        (answer["mti"].as_str(), answer["fields"]["39"].as_str()),
        (Some("0810"), Some("00")),
        "{r:?}"
    );

    // Without the client certificate the host requires: a typed, not-sent failure.
    let r = run_with_input(&common, ECHO);
    assert!(!r.ok() && !r.stderr.contains("panicked"), "{r:?}");
    let line: Value = serde_json::from_str(r.stdout.trim()).expect("one JSON line");
    assert_eq!(line["outcome"], "not_sent", "{r:?}");
}

#[test]
fn record_relays_to_a_tls_host() {
    let pki = pki("cli-record");
    let sim = start_sim(&[
        "--tls-cert",
        &path(pki.path("server.pem")),
        "--tls-key",
        &path(pki.path("server-key.pem")),
    ]);
    let out = temp("tls-recording.txt");
    let ca = path(pki.path("ca.pem"));
    let (mut recorder, addr) = start_record(
        &sim.addr.to_string(),
        &out,
        &["--tls-ca", &ca, "--tls-server-name", "localhost"],
    );
    // The client speaks plain TCP to the recorder; the recorder speaks TLS to the host.
    let r = run_with_input(&["send", "--host", &addr, "--retries", "0"], ECHO);
    r.assert_ok();
    let answer: Value = serde_json::from_str(r.stdout.trim()).expect("one JSON line");
    assert_eq!(answer["fields"]["39"], "00", "{r:?}");
    recorder.wait_within(std::time::Duration::from_secs(10));
    let recording = std::fs::read_to_string(&out).expect("recording");
    let answers: Vec<&str> = recording.lines().filter(|l| l.starts_with("< ")).collect();
    // 30383130 is "0810": the host's answer, relayed over TLS and recorded in clear form.
    assert!(
        answers.len() == 1 && answers[0].starts_with("< 003930383130"),
        "{recording}"
    );
}
