//! `iso8583 sim` as a process: what it answers, its fault options and its per-second summary,
//! driven by `iso8583 send`.
#![cfg(feature = "cli")]

mod cli_support;

use std::time::{Duration, Instant};

use cli_support::{run_with_input, start_sim, Sim};
use serde_json::Value;

fn lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The sim's summary lines until one contains `want` (at most `limit`).
fn summary_with(sim: &Sim, want: &str, limit: Duration) -> Option<String> {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if let Ok(line) = sim.lines.recv_timeout(Duration::from_millis(100)) {
            if line.contains(want) {
                return Some(line);
            }
        }
    }
    None
}

#[test]
fn answers_with_the_echo_fields_approves_and_declines_by_rule() {
    let sim = start_sim(&[]);
    let addr = sim.addr.to_string();
    let echo: &[(&str, &str)] = &[
        ("2", "4111111111111111"),
        ("3", "000000"),
        ("7", "0611123045"),
        ("11", "000123"),
        ("12", "123045"),
        ("13", "0611"),
        ("32", "123456"),
        ("37", "000000000123"),
        ("41", "TERM0001"),
        ("42", "MERCHANT0000001"),
        ("49", "840"),
    ];
    let fields = |amount: &str| {
        let mut m = serde_json::Map::new();
        for (k, v) in echo {
            m.insert(k.to_string(), Value::from(*v));
        }
        m.insert("4".into(), Value::from(amount));
        serde_json::json!({"mti": "0200", "fields": m}).to_string()
    };
    let input = format!(
        "{}\n{}\n{}\n",
        fields("000000001000"),
        fields("000000004451").replace("000123", "000124"),
        // Neither DE 7 nor DE 11: send fills both.
        r#"{"mti": "0800", "fields": {"70": "301"}}"#
    );
    let r = run_with_input(&["send", "--host", &addr, "--reveal"], &input);
    r.assert_ok();
    let out = lines(&r.stdout);
    assert_eq!(out.len(), 3, "{r:?}");
    assert_eq!(out[0]["mti"], "0210");
    for (k, v) in echo {
        assert_eq!(out[0]["fields"][*k], *v, "DE {k} echoed: {}", out[0]);
    }
    assert_eq!(out[0]["fields"]["4"], "000000001000");
    assert_eq!(out[0]["fields"]["39"], "00");
    assert!(
        out[0]["fields"]["38"].as_str().is_some_and(|a| a.len() == 6),
        "approval code: {}",
        out[0]
    );
    assert_eq!(out[1]["fields"]["39"], "51", "amount ending in 51 declined: {}", out[1]);
    assert!(
        out[1]["fields"]["38"].is_null(),
        "no approval code on a decline: {}",
        out[1]
    );
    assert_eq!(out[2]["mti"], "0810");
    assert_eq!(out[2]["fields"]["70"], "301");
    assert!(
        out[2]["fields"]["7"].as_str().is_some_and(|t| t.len() == 10),
        "DE 7 filled: {}",
        out[2]
    );
    assert!(
        out[2]["fields"]["11"].as_str().is_some_and(|t| t.len() == 6),
        "DE 11 filled: {}",
        out[2]
    );

    let line = summary_with(&sim, "received 3", Duration::from_secs(3)).expect("a summary line");
    assert!(line.contains("answered 3"), "{line}");
}

#[test]
fn close_after_delay_and_host_echoes() {
    // --close-after 2: the 2nd request on a link closes it, unanswered: its outcome is unknown.
    let sim = start_sim(&["--close-after", "2"]);
    let input = "{\"mti\": \"0200\", \"fields\": {\"2\": \"4111111111111111\", \"3\": \"000000\", \"4\": \"000000001000\", \"41\": \"TERM0001\"}}\n".repeat(2);
    let r = run_with_input(&["send", "--host", &sim.addr.to_string(), "--retries", "0"], &input);
    assert_eq!(r.status.code(), Some(1), "{r:?}");
    let out = lines(&r.stdout);
    assert_eq!(out[0]["mti"], "0210", "{r:?}");
    assert_eq!(out[1]["error"], "link_down", "{r:?}");
    assert_eq!(out[1]["outcome"], "unknown", "{r:?}");

    // --delay-ms: answers come late, and a shorter timeout gives up.
    let sim = start_sim(&["--delay-ms", "400", "--jitter-ms", "50", "--echo-every", "0.1"]);
    let addr = sim.addr.to_string();
    let t0 = Instant::now();
    let r = run_with_input(
        &["send", "--host", &addr],
        r#"{"mti": "0800", "fields": {"70": "301"}}"#,
    );
    r.assert_ok();
    assert!(t0.elapsed() >= Duration::from_millis(400), "{:?}", t0.elapsed());
    // While the link was open the host sent its own 0800 echoes, which the client answered.
    let line = summary_with(&sim, "echo answers", Duration::from_secs(3)).expect("a summary");
    let n: u32 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(n >= 1, "the client answered the host's echoes: {line}");
    let r = run_with_input(
        &["send", "--host", &addr, "--timeout-ms", "100", "--retries", "0"],
        r#"{"mti": "0200", "fields": {"2": "4111111111111111", "3": "000000", "4": "000000001000"}}"#,
    );
    assert_eq!(r.status.code(), Some(1), "{r:?}");
    assert_eq!(lines(&r.stdout)[0]["error"], "timeout", "{r:?}");
}
