//! `--metrics ADDR` on `iso8583 bench` and `iso8583 sim`: Prometheus text scraped over real HTTP
//! on 127.0.0.1 while they run, checked against the bench's own summary.
#![cfg(feature = "cli")]

mod cli_support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cli_support::{bin, run, start_sim, ChildGuard};

/// A free port on 127.0.0.1 (bound, then released for the child to take).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `GET /metrics` over HTTP/1.0; the body, or `None` while nothing listens.
fn scrape(port: u16) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.").then(|| body.to_owned())
}

/// The sum of the samples of `name` (all label sets).
fn total(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            let metric = key.split('{').next()?;
            (metric == name).then(|| value.parse::<f64>().ok())?
        })
        .sum()
}

/// Scrapes every 50 ms (at most `limit`) until `done` holds; returns the last body.
fn scrape_until(port: u16, limit: Duration, done: impl Fn(&str) -> bool) -> String {
    let until = Instant::now() + limit;
    let mut last = String::new();
    while Instant::now() < until {
        if let Some(body) = scrape(port) {
            if done(&body) {
                return body;
            }
            last = body;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("metrics on port {port} never satisfied the check within {limit:?}; last scrape:\n{last}");
}

#[test]
fn bench_and_sim_serve_prometheus_text_matching_the_summary() {
    let sim_port = free_port();
    let sim_metrics = format!("127.0.0.1:{sim_port}");
    // Every 50th request of a link is left unanswered: timeouts show up on both sides.
    let sim = start_sim(&["--metrics", &sim_metrics, "--drop-every", "50"]);
    let bench_port = free_port();
    let bench_metrics = format!("127.0.0.1:{bench_port}");
    let host = sim.addr.to_string();
    let child = Command::new(bin())
        .args([
            "bench",
            "--host",
            &host,
            "--duration",
            "3",
            "--connections",
            "2",
            "--in-flight",
            "4",
        ])
        .args(["--timeout-ms", "300", "--json", "--quiet", "--metrics", &bench_metrics])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn bench");
    let mut bench = ChildGuard::new(child);

    // During the run: the bench's own counters, by endpoint and MTI class, over HTTP.
    let during = scrape_until(bench_port, Duration::from_secs(20), |t| {
        total(t, "iso8583_requests_answered_total") > 0.0
    });
    let endpoint = format!("endpoint=\"{host}\"");
    assert!(
        during.lines().any(|l| l.starts_with("iso8583_requests_sent_total{")
            && l.contains(&endpoint)
            && l.contains("mti_class=\"financial\"")),
        "{during}"
    );
    assert!(during.contains("iso8583_round_trip_seconds"), "{during}");
    // The pooled client opens links on demand, up to --connections.
    let connects = total(&during, "iso8583_link_connects_total");
    assert!((1.0..=2.0).contains(&connects), "{during}");

    // The run's summary.
    assert!(bench.wait_within(Duration::from_secs(30)).code().is_some());
    let mut out = String::new();
    bench
        .child()
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .unwrap();
    let summary: serde_json::Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    let requests = summary["requests"].as_f64().unwrap();
    let answered = summary["answered"].as_f64().unwrap();
    let timeouts = summary["errors"]["timeout"].as_f64().unwrap_or(0.0);
    assert!(answered > 0.0 && timeouts > 0.0, "{summary}");
    assert_eq!(requests, answered + timeouts, "{summary}");
    // Mid-run counts are a prefix of the run.
    assert!(total(&during, "iso8583_requests_answered_total") <= answered);

    // The simulator's counters (updated each second) end at the bench's totals, give or take
    // the echo the bench sends before its clock starts and the requests still in flight when
    // its clock stopped (given up, not counted by the bench): at most 2 links x 4.
    let in_flight_at_end = 8.0;
    let after = scrape_until(sim_port, Duration::from_secs(10), |t| {
        total(t, "iso8583_sim_requests_received_total") >= requests + 1.0
            && total(t, "iso8583_sim_requests_answered_total") >= answered + 1.0
    });
    let received = total(&after, "iso8583_sim_requests_received_total");
    assert!(received <= requests + 1.0 + in_flight_at_end, "{after}");
    let dropped = total(&after, "iso8583_sim_requests_dropped_total");
    assert!(dropped >= timeouts && dropped <= timeouts + in_flight_at_end, "{after}");
    let connections = total(&after, "iso8583_sim_connections_total");
    assert!((1.0..=2.0).contains(&connections), "{after}");
    drop(sim);
}

#[test]
fn metrics_listen_on_loopback_only_unless_allowed() {
    let refused = run(&[
        "sim",
        "--listen",
        "127.0.0.1:0",
        "--duration",
        "0.1",
        "--metrics",
        "0.0.0.0:0",
    ]);
    refused.assert_clean_failure();
    assert!(refused.stderr.contains("--allow-remote"), "{}", refused.stderr);
    let needs_metrics = run(&["sim", "--listen", "127.0.0.1:0", "--duration", "0.1", "--allow-remote"]);
    assert_eq!(needs_metrics.status.code(), Some(2), "{}", needs_metrics.stderr);
}
