//! Error paths of the tool: one clear line on standard error, a non-zero exit status, never a
//! panic or a backtrace (the tests run with RUST_BACKTRACE=1 to make one show if it happened).
#![cfg(feature = "cli")]

mod cli_support;

use std::time::Duration;

use cli_support::{run, run_limited, run_with_input};

/// A loopback port nobody listens on: bound, then freed.
fn dead_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    addr
}

fn assert_one_line(r: &cli_support::Run) {
    r.assert_clean_failure();
    assert_eq!(r.stderr.lines().count(), 1, "one line on stderr: {r:?}");
    assert!(r.stderr.starts_with("iso8583: "), "{r:?}");
}

#[test]
fn send_to_a_port_where_nothing_listens() {
    let addr = dead_port();
    let r = run_limited(
        &["send", "--host", &addr, "--timeout-ms", "500"],
        "{\"mti\": \"0800\", \"fields\": {\"70\": \"301\"}}\n",
        Duration::from_secs(30),
    );
    assert_one_line(&r);
    assert!(r.stderr.contains("1 of 1 messages failed"), "{r:?}");
    assert!(r.stderr.contains("not_sent"), "{r:?}");
    // The output line says the same, in the send output shape.
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["error"], "no_connection", "{r:?}");
    assert_eq!(v["outcome"], "not_sent", "{r:?}");
}

#[test]
fn bench_and_replay_to_a_port_where_nothing_listens() {
    let addr = dead_port();
    let r = run(&["bench", "--host", &addr, "--count", "5", "--quiet"]);
    assert_one_line(&r);
    assert!(r.stderr.contains("cannot connect") && r.stderr.contains(&addr), "{r:?}");
    let fixture = format!("{}/fixtures/exchanges/echo-and-auth.txt", env!("CARGO_MANIFEST_DIR"));
    let r = run(&["replay", &fixture, "--host", &addr]);
    assert_one_line(&r);
    assert!(r.stderr.contains("cannot connect"), "{r:?}");
}

#[test]
fn sim_refuses_addresses_other_than_loopback() {
    for addr in ["0.0.0.0:0", "192.0.2.1:0", "[::]:0"] {
        let r = run_limited(&["sim", "--listen", addr], "", Duration::from_secs(30));
        assert_one_line(&r);
        assert!(r.stderr.contains("loopback only"), "{addr}: {r:?}");
    }
    let r = run_limited(&["sim", "--listen", "not an address"], "", Duration::from_secs(30));
    assert_one_line(&r);
    assert!(r.stderr.contains("invalid address"), "{r:?}");
}

#[test]
fn decode_of_garbage() {
    // Not hex; hex that is no message; bytes that are not even text.
    let r = run(&["decode", "this is not a message"]);
    assert_one_line(&r);
    assert!(r.stderr.contains("invalid hex"), "{r:?}");
    let r = run(&["decode", "DEADBEEFDEADBEEF"]);
    assert_one_line(&r);
    assert!(r.stderr.contains("cannot decode with spec iso87-ascii"), "{r:?}");
    let garbage: String = (0..200u32)
        .map(|i| char::from_u32(0x80 + (i * 7919) % 0x700).unwrap())
        .collect();
    let r = run_with_input(&["decode"], &garbage);
    assert_one_line(&r);
    assert!(r.stderr.contains("line 1"), "{r:?}");
}

#[test]
fn encode_of_bad_json() {
    for (input, says) in [
        ("{\"mti\": \"0200\", ", "invalid JSON"),
        ("[1, 2, 3]", "expected a JSON object"),
        ("{\"mti\": \"02x0\", \"fields\": {}}", "invalid MTI"),
        ("{\"mti\": \"0200\", \"fields\": {\"3\": 12}}", "field"),
        ("{\"mti\": \"0200\", \"fields\": {\"200\": \"x\"}}", "200"),
    ] {
        let r = run_with_input(&["encode"], input);
        assert_one_line(&r);
        assert!(r.stderr.contains(says), "{input}: {r:?}");
    }
}

#[test]
fn a_missing_or_broken_recording() {
    let r = run(&["replay", "/no/such/recording.txt"]);
    assert_one_line(&r);
    assert!(r.stderr.contains("/no/such/recording.txt"), "{r:?}");
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("iso8583-cli-broken-{}.txt", std::process::id()));
    std::fs::write(&path, "> 00zz\n").unwrap();
    let r = run(&["replay", path.to_str().unwrap()]);
    assert_one_line(&r);
    assert!(r.stderr.contains("line 1"), "{r:?}");
    let _ = std::fs::remove_file(path);
}
