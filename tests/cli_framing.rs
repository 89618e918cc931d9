//! Every command that talks to a host honours `--framing`, `--header` and
//! `--length-includes-header` the same way: `sim`, `send`, `bench`, `record` and `replay` talk to
//! each other over a 4-ASCII-digit length and a 5-byte TPDU.
#![cfg(feature = "cli")]

mod cli_support;

use std::time::Duration;

use cli_support::{run_limited, run_with_input, start_record, start_sim, temp};
use serde_json::Value;

const TPDU: &str = "6000030000";
/// The TPDU of the host's answers: destination and source swapped.
const TPDU_BACK: &str = "6000000003";

fn bytes_of(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

const MESSAGES: &str = concat!(
    r#"{"mti": "0800", "fields": {"70": "301"}}"#,
    "\n",
    r#"{"mti": "0200", "fields": {"2": "4111111111111111", "3": "000000", "4": "000000001000", "41": "TERM0001"}}"#,
    "\n",
);

#[test]
fn sim_send_bench_record_and_replay_talk_over_4a_with_a_tpdu() {
    let framing = ["--framing", "4a", "--header", TPDU];
    let sim = start_sim(&framing);
    let addr = sim.addr.to_string();

    let mut args = vec![
        "bench",
        "--host",
        &addr,
        "--count",
        "300",
        "--in-flight",
        "4",
        "--json",
        "--quiet",
    ];
    args.extend_from_slice(&framing);
    let r = run_limited(&args, "", Duration::from_secs(60));
    r.assert_ok();
    let v: Value = serde_json::from_str(r.stdout.trim()).expect("one JSON summary");
    assert_eq!(v["answered"], 300, "{r:?}");

    // send through a recording proxy with the same options, to see the bytes on the wire.
    let out = temp("framing-4a-tpdu.txt");
    let (mut record, proxy) = start_record(&addr, &out, &framing);
    let mut args = vec!["send", "--host", &proxy, "--timeout-ms", "3000"];
    args.extend_from_slice(&framing);
    let r = run_with_input(&args, MESSAGES);
    r.assert_ok();
    let lines: Vec<Value> = r.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2, "{r:?}");
    assert_eq!(lines[0]["mti"], "0810", "{r:?}");
    assert_eq!(lines[1]["mti"], "0210", "{r:?}");
    assert_eq!(lines[1]["fields"]["39"], "00", "{r:?}");
    record.wait_within(Duration::from_secs(10));

    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("framing: 4a\n"), "{text}");
    assert!(text.to_lowercase().contains(&format!("header: {TPDU}\n")), "{text}");
    let frames: Vec<(char, Vec<u8>)> = text
        .lines()
        .filter_map(|l| {
            let (d, hex) = l.split_once(' ')?;
            matches!(d, ">" | "<").then(|| (d.chars().next().unwrap(), bytes_of(hex.trim())))
        })
        .collect();
    assert_eq!(frames.len(), 4, "{text}");
    for (direction, frame) in &frames {
        // 4 ASCII digits counting the message only, then the TPDU, then the message.
        let digits = std::str::from_utf8(&frame[..4]).expect("ASCII length");
        let len: usize = digits.parse().unwrap_or_else(|_| panic!("length {digits:?}"));
        assert_eq!(len, frame.len() - 4 - 5, "{digits}: {text}");
        let tpdu: String = frame[4..9].iter().map(|b| format!("{b:02x}")).collect();
        let want = if *direction == '>' { TPDU } else { TPDU_BACK };
        assert_eq!(tpdu, want, "{direction}: {text}");
        assert!(frame[9..].starts_with(b"0"), "an ASCII MTI after the TPDU: {text}");
    }

    // The recording names its framing: replay against the same simulator needs no options.
    let r = run_limited(&["replay", &out, "--host", &addr], "", Duration::from_secs(60));
    r.assert_ok();
    assert!(r.stdout.contains("2 same, 0 different"), "{r:?}");
}

#[test]
fn a_client_without_the_header_gets_no_answer() {
    let sim = start_sim(&["--framing", "4a", "--header", TPDU]);
    let r = run_with_input(
        &[
            "send",
            "--host",
            &sim.addr.to_string(),
            "--framing",
            "4a",
            "--timeout-ms",
            "300",
            "--retries",
            "0",
        ],
        r#"{"mti": "0800", "fields": {"70": "301"}}"#,
    );
    assert_eq!(r.status.code(), Some(1), "{r:?}");
    assert!(r.stdout.contains(r#""error":"timeout""#), "{r:?}");
    assert_eq!(r.stderr.lines().count(), 1, "one summary line: {r:?}");
}

#[test]
fn bench_embedded_honours_2bcd_and_a_header_counted_in_the_length() {
    let r = run_limited(
        &[
            "bench",
            "--embedded",
            "--framing",
            "2bcd",
            "--header",
            TPDU,
            "--length-includes-header",
            "--count",
            "300",
            "--json",
            "--quiet",
        ],
        "",
        Duration::from_secs(60),
    );
    r.assert_ok();
    let v: Value = serde_json::from_str(r.stdout.trim()).expect("one JSON summary");
    assert_eq!(v["answered"], 300, "{r:?}");

    // And the same options against a simulator process, through send.
    let options = ["--framing", "2bcd", "--header", TPDU, "--length-includes-header"];
    let sim = start_sim(&options);
    let addr = sim.addr.to_string();
    let mut args = vec!["send", "--host", &addr, "--timeout-ms", "3000"];
    args.extend_from_slice(&options);
    let r = run_with_input(&args, MESSAGES);
    r.assert_ok();
    assert_eq!(r.stdout.lines().count(), 2, "{r:?}");
}

#[test]
fn a_bad_header_is_a_clean_error_in_every_command() {
    for args in [
        vec!["sim", "--listen", "127.0.0.1:0", "--header", "60000300zz"],
        vec!["send", "--host", "127.0.0.1:9", "--header", "600"],
        vec!["bench", "--embedded", "--count", "1", "--header", "xyz"],
        vec![
            "record",
            "--upstream",
            "127.0.0.1:9",
            "--out",
            "/dev/null",
            "--header",
            "x",
        ],
    ] {
        let r = run_limited(&args, "", Duration::from_secs(30));
        r.assert_clean_failure();
        assert!(r.stderr.contains("--header"), "{args:?}: {r:?}");
        assert_eq!(r.stderr.lines().count(), 1, "{args:?}: {r:?}");
    }
}
