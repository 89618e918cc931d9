//! The tool drives the library's pooled `Client`: `bench` survives a host that drops its links and
//! reports the client's counters; `send` takes several `--host` (primary first) and fails over.
#![cfg(feature = "cli")]

mod cli_support;

use std::time::{Duration, Instant};

use cli_support::{run_limited, run_with_input, start_sim};

/// A loopback port nobody listens on: bound, then freed.
fn dead_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    addr
}

#[test]
fn bench_survives_a_host_that_drops_its_links() {
    let sim = start_sim(&["--close-after", "500", "--drop-every", "97", "--reverse-order", "3"]);
    let host = sim.addr.to_string();
    let t0 = Instant::now();
    let r = run_limited(
        &[
            "bench",
            "--host",
            &host,
            "--connections",
            "2",
            "--in-flight",
            "8",
            "--duration",
            "3",
            "--timeout-ms",
            "5000",
            "--json",
            "--quiet",
        ],
        "",
        Duration::from_secs(60),
    );
    let took = t0.elapsed();
    assert!(!r.stderr.contains("panicked"), "{r:?}");
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {r:?}"));
    let seconds = v["seconds"].as_f64().unwrap();
    assert!((2.9..3.5).contains(&seconds), "the run lasted its 3 seconds: {v}");
    // Requests still waiting at the end (dropped by the host, 5 s timeout) do not make it longer.
    assert!(
        took >= Duration::from_millis(2900) && took < Duration::from_secs(6),
        "{took:?}"
    );
    // Each link is dropped after 500 requests: far more than 2 x 500 answered means reconnects.
    assert!(v["answered"].as_u64().unwrap() > 1_500, "{v}");
    assert!(v["client"]["reconnects"].as_u64().unwrap() >= 1, "{v}");
    for k in ["connects", "late", "duplicate", "unmatched"] {
        assert!(v["client"][k].is_u64(), "{k} in {v}");
    }
    assert!(v["errors_by_outcome"].is_object(), "{v}");
}

#[test]
fn send_fails_over_to_the_next_host() {
    let sim = start_sim(&[]);
    let dead = dead_port();
    let r = run_with_input(
        &[
            "send",
            "--host",
            &dead,
            "--host",
            &sim.addr.to_string(),
            "--timeout-ms",
            "2000",
        ],
        "{\"mti\": \"0800\", \"fields\": {\"70\": \"301\"}}\n",
    );
    r.assert_ok();
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["mti"], "0810", "{r:?}");
}

#[test]
fn replay_fails_over_to_the_next_host() {
    let sim = start_sim(&["--spec", "iso87-ascii-binary-bitmap"]);
    let fixture = format!("{}/fixtures/exchanges/echo-and-auth.txt", env!("CARGO_MANIFEST_DIR"));
    let r = cli_support::run(&[
        "replay",
        &fixture,
        "--host",
        &dead_port(),
        "--host",
        &sim.addr.to_string(),
    ]);
    r.assert_ok();
    assert!(r.stdout.contains("2 same, 0 different"), "{r:?}");
}
