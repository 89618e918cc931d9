//! `iso8583 record` and `iso8583 replay`: every recording in `fixtures/exchanges/` replays with the
//! noted outcomes, and a recording of a `send` run against `sim` replays identically.

mod cli_support;

use std::time::Duration;

use cli_support::{run, run_with_input, start_record, start_sim, temp};

fn fixture(name: &str) -> String {
    format!("{}/fixtures/exchanges/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_fixture_replays_with_its_noted_outcomes() {
    let r = run(&["replay", &fixture("echo-and-auth.txt")]);
    r.assert_ok();
    assert_eq!(r.stdout.matches("answered as recorded").count(), 2, "{r:?}");

    let r = run(&["replay", &fixture("pipelined-out-of-order-with-drops.txt")]);
    r.assert_ok();
    assert_eq!(r.stdout.matches("answered as recorded").count(), 6, "{r:?}");
    assert!(r.stdout.contains("0100 stan 000003: unanswered, as recorded"), "{r:?}");
    assert!(r.stdout.contains("0800 stan 000006: unanswered, as recorded"), "{r:?}");

    let r = run(&["replay", &fixture("host-closes-mid-flight.txt")]);
    r.assert_ok();
    assert_eq!(
        r.stdout.matches("connection closed before the answer").count(),
        8,
        "{r:?}"
    );
}

const MESSAGES: &str = concat!(
    r#"{"mti": "0800", "fields": {"70": "301"}}"#,
    "\n",
    r#"{"mti": "0200", "fields": {"2": "4111111111111111", "3": "000000", "4": "000000001000", "35": "4111111111111111=2812101", "41": "TERM0001"}}"#,
    "\n",
    r#"{"mti": "0200", "fields": {"2": "5413330089010434", "3": "000000", "4": "000000002051", "41": "TERM0001"}}"#,
    "\n",
    r#"{"mti": "0400", "fields": {"2": "4111111111111111", "3": "000000", "4": "000000001000", "41": "TERM0001"}}"#,
    "\n",
);

#[test]
fn a_recording_of_send_against_sim_replays_identically() {
    let sim = start_sim(&["--reverse-order", "2"]);
    let out = temp("run.txt");
    let (mut record, addr) = start_record(&sim.addr.to_string(), &out, &[]);
    let r = run_with_input(&["send", "--host", &addr, "--concurrency", "4"], MESSAGES);
    r.assert_ok();
    record.wait_within(Duration::from_secs(10));
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.starts_with("spec: iso87-ascii\nframing: 2b\n"), "{text}");
    assert_eq!(text.lines().filter(|l| l.starts_with("> ")).count(), 4, "{text}");
    assert_eq!(text.lines().filter(|l| l.starts_with("< ")).count(), 4, "{text}");
    assert!(text.contains("# the client closed the connection"), "{text}");

    // Against the host played by the recording, then against the simulator itself.
    let r = run(&["replay", &out]);
    r.assert_ok();
    assert!(r.stdout.contains("replayed 4 exchanges: 4 same, 0 different"), "{r:?}");
    let r = run(&["replay", &out, "--host", &sim.addr.to_string()]);
    r.assert_ok();
    assert!(r.stdout.contains("4 same, 0 different"), "{r:?}");

    // A host that answers differently is reported field by field.
    let declining = start_sim(&[]);
    let tampered = text.replace(&hex_of("000000001000"), &hex_of("000000001051"));
    let path = temp("tampered.txt");
    std::fs::write(&path, tampered).unwrap();
    let r = run(&["replay", &path, "--host", &declining.addr.to_string()]);
    assert_eq!(r.status.code(), Some(1), "{r:?}");
    assert!(r.stdout.contains("DE 39: recorded \"00\", got \"51\""), "{r:?}");
}

fn hex_of(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn record_mask_keeps_lengths_and_hides_card_data() {
    let sim = start_sim(&[]);
    let out = temp("masked.txt");
    let (mut record, addr) = start_record(&sim.addr.to_string(), &out, &["--mask"]);
    let r = run_with_input(&["send", "--host", &addr, "--reveal"], MESSAGES);
    r.assert_ok();
    assert!(r.stdout.contains("4111111111111111"), "the wire is not masked: {r:?}");
    record.wait_within(Duration::from_secs(10));
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        !text.contains(&hex_of("4111111111111111")),
        "PAN in the recording: {text}"
    );
    assert!(
        !text.contains(&hex_of("5413330089010434")),
        "PAN in the recording: {text}"
    );
    assert!(
        text.contains(&hex_of("4111110000001111")),
        "masked PAN, same length: {text}"
    );
    // Still a valid recording whose frames decode and pair.
    let r = run(&["replay", &out]);
    r.assert_ok();
    assert!(r.stdout.contains("4 same"), "{r:?}");
}
