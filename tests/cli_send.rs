//! `iso8583 sim` and `iso8583 send`, both as real processes on 127.0.0.1.
#![cfg(feature = "cli")]

mod cli_support;

use std::time::{Duration, Instant};

use cli_support::{run_with_input, start_sim, Sim};
use serde_json::Value;

fn auth(stan: u32, amount: &str) -> String {
    format!(
        r#"{{"mti": "0200", "fields": {{"2": "4111111111111111", "3": "000000", "4": "{amount}", "11": "{stan:06}", "41": "TERM0001", "49": "840"}}}}"#
    )
}

fn parse_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The requests the simulator printed (`request MTI stan STAN`) until `want` arrived or 5 s passed.
fn requests_seen(sim: &Sim, want: usize) -> Vec<String> {
    let mut seen = Vec::new();
    let until = Instant::now() + Duration::from_secs(5);
    while seen.len() < want && Instant::now() < until {
        if let Ok(line) = sim.lines.recv_timeout(Duration::from_millis(100)) {
            if let Some(rest) = line.strip_prefix("request ") {
                seen.push(rest.to_owned());
            }
        }
    }
    // Anything more that arrives shortly after is counted too (it must not exist).
    while let Ok(line) = sim.lines.recv_timeout(Duration::from_millis(600)) {
        if let Some(rest) = line.strip_prefix("request ") {
            seen.push(rest.to_owned());
        }
    }
    seen
}

#[test]
fn concurrency_50_against_reverse_order_10_answers_every_line_in_input_order() {
    let sim = start_sim(&["--reverse-order", "10"]);
    let input: Vec<String> = (1..=200)
        .map(|i| auth(i, if i % 7 == 0 { "000000001051" } else { "000000001000" }))
        .collect();
    let addr = sim.addr.to_string();
    let r = run_with_input(
        &["send", "--host", &addr, "--concurrency", "50", "--timeout-ms", "5000"],
        &input.join("\n"),
    );
    r.assert_ok();
    let lines = parse_lines(&r.stdout);
    assert_eq!(lines.len(), 200, "{r:?}");
    for (i, v) in lines.iter().enumerate() {
        let stan = format!("{:06}", i + 1);
        assert_eq!(v["mti"], "0210", "line {i}: {v}");
        assert_eq!(v["fields"]["11"], stan.as_str(), "line {i}: answers in input order");
        let code = if (i + 1) % 7 == 0 { "51" } else { "00" };
        assert_eq!(v["fields"]["39"], code, "line {i}: {v}");
        assert_eq!(v["fields"]["2"], "411111******1111", "PAN masked");
        assert!(v["fields"]["7"].is_string(), "DE 7 filled: {v}");
    }
    drop(sim);
}

#[test]
fn a_0200_the_host_never_answers_is_unknown_once_and_not_retried() {
    let sim = start_sim(&["--drop-every", "1", "--verbose"]);
    let addr = sim.addr.to_string();
    let r = run_with_input(
        &["send", "--host", &addr, "--timeout-ms", "300", "--retries", "3"],
        &auth(42, "000000001000"),
    );
    assert_eq!(r.status.code(), Some(1), "{r:?}");
    let lines = parse_lines(&r.stdout);
    assert_eq!(lines.len(), 1, "{r:?}");
    assert_eq!(lines[0]["error"], "timeout", "{r:?}");
    assert_eq!(lines[0]["outcome"], "unknown", "{r:?}");
    assert!(lines[0]["message"].is_string());
    // The error names the request, so the caller can reverse it.
    assert_eq!(
        (lines[0]["mti"].as_str(), lines[0]["stan"].as_str()),
        (Some("0200"), Some("000042"))
    );
    assert_eq!(
        requests_seen(&sim, 1),
        vec!["0200 stan 000042"],
        "exactly one 0200 reached the host"
    );
}

#[test]
fn an_idempotent_0400_is_retried_as_0401() {
    // The host leaves every 2nd request unanswered: the echo is answered, the 0400 is dropped,
    // its repeat 0401 is answered.
    let sim = start_sim(&["--drop-every", "2", "--verbose"]);
    let addr = sim.addr.to_string();
    let input = concat!(
        r#"{"mti": "0800", "fields": {"11": "000001", "70": "301"}}"#,
        "\n",
        r#"{"mti": "0400", "fields": {"2": "4111111111111111", "3": "000000", "4": "000000001000", "11": "000002", "41": "TERM0001"}}"#,
        "\n"
    );
    let r = run_with_input(
        &[
            "send",
            "--host",
            &addr,
            "--idempotent",
            "--timeout-ms",
            "400",
            "--retries",
            "2",
        ],
        input,
    );
    r.assert_ok();
    let lines = parse_lines(&r.stdout);
    assert_eq!(lines.len(), 2, "{r:?}");
    assert_eq!(lines[0]["mti"], "0810");
    assert_eq!(lines[1]["mti"], "0410", "{r:?}");
    assert_eq!(lines[1]["fields"]["11"], "000002", "same STAN on the repeat");
    assert_eq!(
        requests_seen(&sim, 3),
        vec!["0800 stan 000001", "0400 stan 000002", "0401 stan 000002"]
    );
}

#[test]
fn sign_on_goes_first_and_bad_lines_are_reported_in_place() {
    let sim = start_sim(&["--verbose"]);
    let addr = sim.addr.to_string();
    let input = format!(
        "{}\nnot json\n{}\n",
        auth(7, "000000001000"),
        r#"{"mti": "0200", "fields": {"11": "12"}}"#
    );
    let r = run_with_input(&["send", "--host", &addr, "--sign-on", "--reveal"], &input);
    assert_eq!(r.status.code(), Some(1), "{r:?}");
    let lines = parse_lines(&r.stdout);
    assert_eq!(lines.len(), 3, "{r:?}");
    assert_eq!(lines[0]["fields"]["2"], "4111111111111111", "--reveal shows the PAN");
    assert_eq!(lines[1]["error"], "invalid_input");
    assert_eq!(lines[1]["outcome"], "not_sent");
    assert_eq!(lines[2]["outcome"], "not_sent", "{:?}", lines[2]);
    let seen = requests_seen(&sim, 2);
    assert!(seen[0].starts_with("0800"), "sign-on first: {seen:?}");
    assert_eq!(seen[1], "0200 stan 000007");
    assert_eq!(seen.len(), 2, "the bad lines never reached the host: {seen:?}");
}

#[test]
fn no_host_means_not_sent() {
    // A port nobody listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let r = run_with_input(
        &[
            "send",
            "--host",
            &format!("127.0.0.1:{port}"),
            "--timeout-ms",
            "500",
            "--retries",
            "0",
        ],
        &auth(1, "000000001000"),
    );
    assert_eq!(r.status.code(), Some(1), "{r:?}");
    let lines = parse_lines(&r.stdout);
    assert_eq!(lines[0]["outcome"], "not_sent", "{r:?}");
    assert!(!r.stderr.contains("panicked"));
}

#[test]
fn sim_refuses_a_non_loopback_address_cleanly() {
    let r = cli_support::run(&["sim", "--listen", "0.0.0.0:0"]);
    r.assert_clean_failure();
    assert!(r.stderr.contains("loopback"), "{r:?}");
}
