//! `iso8583 bench` and `iso8583 demo` through the real binary.

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
}
