//! `iso8583 bench` and `iso8583 demo` through the real binary.
#![cfg(feature = "cli")]

mod cli_support;

use std::time::{Duration, Instant};

use cli_support::{run_limited, start_sim};

#[test]
fn bench_embedded_count_finishes_with_a_summary() {
    let r = run_limited(
        &[
            "bench",
            "--embedded",
            "--count",
            "2000",
            "--connections",
            "2",
            "--in-flight",
            "8",
            "--json",
        ],
        "",
        Duration::from_secs(60),
    );
    r.assert_ok();
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).expect("one JSON summary");
    assert_eq!(v["requests"], 2000, "{r:?}");
    assert_eq!(v["answered"], 2000, "{r:?}");
    assert!(v["throughput_per_s"].as_f64().unwrap() > 0.0);
    for p in ["p50", "p90", "p99", "p99_9", "max"] {
        assert!(v["latency_ms"][p].as_f64().is_some(), "{p}: {v}");
    }
}

#[test]
fn bench_against_a_sim_process_prints_a_table_with_errors_by_kind() {
    let sim = start_sim(&["--drop-every", "50"]);
    let addr = sim.addr.to_string();
    let r = run_limited(
        &[
            "bench",
            "--host",
            &addr,
            "--count",
            "500",
            "--in-flight",
            "4",
            "--timeout-ms",
            "200",
        ],
        "",
        Duration::from_secs(60),
    );
    assert_eq!(r.status.code(), Some(1), "dropped answers are errors: {r:?}");
    assert!(r.stdout.contains("throughput"), "{r:?}");
    assert!(r.stdout.contains("p99.9"), "{r:?}");
    assert!(r.stdout.contains("timeout 10"), "{r:?}");
}

#[test]
fn demo_exits_0_and_shows_the_repeat() {
    let t0 = Instant::now();
    let r = run_limited(&["demo"], "", Duration::from_secs(30));
    r.assert_ok();
    assert!(t0.elapsed() < Duration::from_secs(20), "demo took {:?}", t0.elapsed());
    assert!(r.stdout.contains("0400/000004 0401/000004"), "{r:?}");
    assert!(
        r.stdout.contains("Response Code                 51"),
        "a decline: {r:?}"
    );
    assert!(r.stdout.contains("throughput"), "{r:?}");
    assert!(!r.stdout.contains("4111111111111111"), "PAN masked");
    // The demo says DE 14 (expiry) is masked: it is.
    assert!(r.stdout.contains("Date, Expiration"), "{r:?}");
    assert!(!r.stdout.contains("2812"), "expiry masked: {r:?}");
}

#[test]
fn demo_prints_every_request_as_sent_with_its_stan_and_explains_it() {
    let r = run_limited(&["demo", "--bench-seconds", "0.5"], "", Duration::from_secs(30));
    r.assert_ok();
    // Each printed request: its table runs from ">> request, as sent:" to the answer ("<<").
    let requests: Vec<&str> = r
        .stdout
        .split(">> request, as sent:")
        .skip(1)
        .map(|rest| rest.split("<<").next().unwrap())
        .collect();
    assert_eq!(requests.len(), 4, "{r:?}");
    for (i, table) in requests.iter().enumerate() {
        let stan = " 11  System Trace Audit Number";
        let line = table
            .lines()
            .find(|l| l.starts_with(stan))
            .unwrap_or_else(|| panic!("no DE 11 in request {i}: {table}"));
        // The STAN printed is the one the host received.
        let value = line.split_whitespace().last().unwrap();
        assert!(r.stdout.contains(&format!("/{value}")), "{value} not received: {r:?}");
        assert!(
            table.contains("  7  Transmission Date and Time"),
            "DE 7 in request {i}: {table}"
        );
    }
    for words in [
        "Sign-on",
        "Authorization",
        "approval code",
        "Decline",
        "insufficient funds",
        "Reversal",
        "repeat, 0401, with the same STAN",
        "the host received STAN 000004 2 times: 0400, then 0401",
        "Echo",
        "on the wire: 0037",
        "Bench",
    ] {
        assert!(r.stdout.contains(words), "{words:?} missing: {r:?}");
    }
}

#[test]
fn bench_embedded_for_a_duration() {
    let t0 = Instant::now();
    let r = run_limited(
        &[
            "bench",
            "--embedded",
            "--duration",
            "0.5",
            "--in-flight",
            "4",
            "--json",
            "--quiet",
        ],
        "",
        Duration::from_secs(30),
    );
    r.assert_ok();
    assert!(t0.elapsed() >= Duration::from_millis(500));
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).expect("one JSON summary");
    assert!(v["answered"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["requests"], v["answered"], "{v}");
    assert_eq!(v["errors"], serde_json::json!({}), "{v}");
    assert!(v["seconds"].as_f64().unwrap() >= 0.5, "{v}");
}
