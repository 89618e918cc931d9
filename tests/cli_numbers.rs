//! Every numeric option of every command, given hostile values (0, negative, NaN, infinity, huge,
//! tiny): a one-line error and a non-zero status, or (for a value the option takes, such as a
//! delay of 0) a normal run; never a panic.
#![cfg(feature = "cli")]

mod cli_support;

use std::time::Duration;

use cli_support::{run_limited, temp, Run};

/// Values no numeric option takes.
const REFUSED: &[&str] = &[
    "-1",
    "NaN",
    "inf",
    "1e300",
    "1e-10",
    "18446744073709551615",
    "9223372036854775808",
    "99999999999999999999999",
];

/// A loopback port nobody listens on: bound, then freed.
fn dead_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    addr
}

fn fixture() -> String {
    format!("{}/fixtures/exchanges/echo-and-auth.txt", env!("CARGO_MANIFEST_DIR"))
}

/// (command line without the option, the option, standard input): commands set up to end soon
/// whenever the value is taken.
fn cases() -> Vec<(Vec<String>, &'static str, &'static str)> {
    let dead = dead_port();
    let echo = "{\"mti\": \"0800\", \"fields\": {\"70\": \"301\"}}\n";
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let sim = s(&["sim", "--listen", "127.0.0.1:0", "--duration", "0.3"]);
    let send = s(&["send", "--host", &dead, "--timeout-ms", "200", "--retries", "0"]);
    let bench = s(&["bench", "--embedded", "--quiet", "--count", "20"]);
    let out = temp("numbers-record.txt");
    let record = s(&["record", "--listen", "127.0.0.1:0", "--upstream", &dead, "--out", &out]);
    let replay = s(&["replay", &fixture()]);
    let mut v = Vec::new();
    for o in [
        "--delay-ms",
        "--jitter-ms",
        "--reverse-order",
        "--drop-every",
        "--close-after",
        "--echo-every",
    ] {
        v.push((sim.clone(), o, ""));
    }
    v.push((s(&["sim", "--listen", "127.0.0.1:0"]), "--duration", ""));
    for o in ["--concurrency", "--timeout-ms", "--retries"] {
        v.push((send.clone(), o, echo));
    }
    for o in ["--connections", "--in-flight", "--timeout-ms", "--count"] {
        v.push((bench.clone(), o, ""));
    }
    v.push((s(&["bench", "--embedded", "--quiet"]), "--duration", ""));
    for o in ["--max-connections", "--idle-timeout"] {
        v.push((record.clone(), o, ""));
    }
    for o in ["--timeout-ms", "--ignore"] {
        v.push((replay.clone(), o, ""));
    }
    v.push((s(&["demo"]), "--bench-seconds", ""));
    v
}

fn assert_no_panic(r: &Run, what: &str) {
    assert!(!r.stderr.contains("panicked"), "{what}: {r:?}");
    assert_ne!(r.status.code(), Some(101), "{what}: {r:?}");
}

fn assert_refused(r: &Run, what: &str) {
    assert_no_panic(r, what);
    assert!(!r.ok(), "{what} should be refused: {r:?}");
    let first = r.stderr.lines().next().unwrap_or("");
    assert!(first.starts_with("iso8583: "), "{what}: {r:?}");
    assert_eq!(r.stderr.trim().lines().count(), 1, "one line for {what}: {r:?}");
}

#[test]
fn every_numeric_option_refuses_hostile_values_without_a_panic() {
    for (base, option, input) in cases() {
        for value in REFUSED.iter().chain(["0"].iter()) {
            let mut args: Vec<&str> = base.iter().map(String::as_str).collect();
            args.push(option);
            args.push(value);
            let what = format!("{} {option} {value}", base[0]);
            let r = run_limited(&args, input, Duration::from_secs(60));
            if *value == "0" {
                // Some options take 0 (no delay, no fault): no panic either way, and a clean
                // message when refused.
                assert_no_panic(&r, &what);
                if !r.ok() && r.status.code() == Some(2) {
                    assert_refused(&r, &what);
                }
            } else {
                assert_refused(&r, &what);
                assert!(r.stderr.contains(option), "the message names {option}: {r:?}");
            }
        }
    }
}

#[test]
fn the_reported_cases_are_one_line_errors() {
    let dead = dead_port();
    let cases: Vec<Vec<&str>> = vec![
        vec!["sim", "--listen", "127.0.0.1:0", "--echo-every", "1e300"],
        vec!["sim", "--listen", "127.0.0.1:0", "--echo-every", "1e-10"],
        vec!["sim", "--listen", "127.0.0.1:0", "--duration", "1e300"],
        vec!["bench", "--embedded", "--duration", "1e300"],
        vec!["send", "--host", &dead, "--concurrency", "9223372036854775808"],
        vec![
            "send",
            "--host",
            &dead,
            "--timeout-ms",
            "18446744073709551615",
            "--retries",
            "4294967295",
        ],
    ];
    for args in cases {
        let r = run_limited(&args, "{\"mti\": \"0800\"}\n", Duration::from_secs(30));
        assert_refused(&r, &args.join(" "));
        assert_eq!(r.status.code(), Some(2), "a command-line mistake: {r:?}");
    }
}
