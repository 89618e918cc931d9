//! `iso8583 record` and `iso8583 replay`: every recording in `fixtures/exchanges/` replays with the
//! noted outcomes, and a recording of a `send` run against `sim` replays identically.
#![cfg(feature = "cli")]

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

/// The STANs a replay says it sent: `(sent as NNNNNN)`, in output order.
fn sent_stans(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| l.split("(sent as ").nth(1))
        .map(|rest| rest.chars().take(6).collect())
        .collect()
}

/// The exchanges of a recording file.
fn exchanges_of(path: &str, spec: &str) -> Vec<iso8583_client::recording::Exchange> {
    let text = std::fs::read_to_string(path).unwrap();
    let rec = iso8583_client::recording::Recording::parse(&text).unwrap();
    rec.exchanges(&iso8583_client::Spec::load(spec).unwrap()).unwrap()
}

#[test]
fn fresh_stan_sends_new_stans_and_de7_and_still_compares_with_the_recording() {
    // Replay a recording of an independent host through a recording proxy in front of `sim`, to
    // see what the replay put on the wire.
    let spec = "iso87-ascii-binary-bitmap";
    let sim = start_sim(&["--spec", spec]);
    let out = temp("fresh-stan-wire.txt");
    // --reveal: the test compares the card fields on the wire with the fixture's.
    let (mut record, proxy) = start_record(&sim.addr.to_string(), &out, &["--spec", spec, "--reveal"]);
    // DE 7 and DE 11 are compared: the expected answer echoes what was actually sent.
    let r = run(&[
        "replay",
        &fixture("echo-and-auth.txt"),
        "--host",
        &proxy,
        "--fresh-stan",
        "--ignore",
        "12,37,38",
    ]);
    r.assert_ok();
    assert!(r.stdout.contains("2 same, 0 different"), "{r:?}");
    record.wait_within(Duration::from_secs(10));

    let recorded = exchanges_of(&fixture("echo-and-auth.txt"), spec);
    let replayed = exchanges_of(&out, spec);
    assert_eq!(replayed.len(), recorded.len());
    let stans = sent_stans(&r.stdout);
    assert_eq!(stans.len(), 2, "{r:?}");
    for ((old, new), said) in recorded.iter().zip(&replayed).zip(&stans) {
        assert_eq!(new.request.mti(), old.request.mti());
        assert_ne!(new.request.stan(), old.request.stan(), "a new STAN");
        assert_eq!(new.request.stan(), Some(said.as_str()), "the STAN the output names");
        assert_ne!(
            new.request.get(7),
            old.request.get(7),
            "DE 7 = now, not the recorded time"
        );
        for (n, v) in old.request.fields().filter(|(n, _)| ![7, 11].contains(n)) {
            assert_eq!(new.request.get(n), Some(v), "DE {n} unchanged");
        }
        assert!(new.response.is_some(), "answered");
        assert_eq!(new.response.as_ref().unwrap().stan(), new.request.stan());
    }

    // Against the host played by the recording: its answers follow the new STANs and DE 7.
    let r = run(&[
        "replay",
        &fixture("echo-and-auth.txt"),
        "--fresh-stan",
        "--ignore",
        "12,37,38",
    ]);
    r.assert_ok();
    assert!(r.stdout.contains("2 same, 0 different"), "{r:?}");

    // Two runs do not reuse each other's STANs.
    let again = run(&["replay", &fixture("echo-and-auth.txt"), "--fresh-stan"]);
    again.assert_ok();
    assert_ne!(sent_stans(&again.stdout), sent_stans(&r.stdout), "{again:?}");
}

#[test]
fn fresh_stan_keeps_pairing_with_drops_and_a_reordering_host() {
    let r = run(&[
        "replay",
        &fixture("pipelined-out-of-order-with-drops.txt"),
        "--fresh-stan",
        "--timeout-ms",
        "500",
    ]);
    r.assert_ok();
    assert_eq!(r.stdout.matches("answered as recorded").count(), 6, "{r:?}");
    assert_eq!(r.stdout.matches("unanswered, as recorded").count(), 2, "{r:?}");
}

/// A recording with three connections: 1 and 2 overlap (each with a request left unanswered),
/// 3 opens after both went quiet. Written to `path`.
fn write_three_connections(path: &str) {
    use iso8583_client::recording::{Direction, Recording, RecordingWriter, Side};
    use iso8583_client::transport::framing::Framing;
    use iso8583_client::Message;

    let spec = iso8583_client::Spec::load("iso87-ascii").unwrap();
    let frame = |mti: &str, fields: &[(u8, &str)]| {
        let mut m = Message::new(mti.parse().unwrap());
        for (n, v) in fields {
            m.set(*n, v.to_string());
        }
        let mut out = bytes::BytesMut::new();
        Framing::default()
            .write_frame(&spec.encode(&m).unwrap(), &mut out)
            .unwrap();
        out.to_vec()
    };
    let echo = |stan: &str| frame("0800", &[(7, "0611123045"), (11, stan), (70, "301")]);
    let echo_back = |stan: &str| frame("0810", &[(7, "0611123045"), (11, stan), (39, "00"), (70, "301")]);
    let auth = |stan: &str| {
        frame(
            "0200",
            &[
                (2, "4111111111111111"),
                (3, "000000"),
                (4, "000000001000"),
                (11, stan),
                (41, "TERM0001"),
            ],
        )
    };
    let rec = Recording::new("iso87-ascii", "2b", &[], false);
    let mut w = RecordingWriter::start(std::fs::File::create(path).unwrap(), &rec).unwrap();
    let (to, from) = (Direction::ToHost, Direction::FromHost);
    w.frame(1, to, &echo("000001")).unwrap();
    w.frame(2, to, &echo("000001")).unwrap();
    w.frame(1, to, &auth("000002")).unwrap();
    w.frame(2, to, &auth("000002")).unwrap();
    w.frame(1, from, &echo_back("000001")).unwrap();
    w.frame(2, from, &echo_back("000001")).unwrap();
    w.frame(3, to, &echo("000003")).unwrap();
    w.frame(3, from, &echo_back("000003")).unwrap();
    // A 0200 the client gave up on: it closed the connection before the answer.
    w.frame(3, to, &auth("000004")).unwrap();
    w.closed(3, Side::Client).unwrap();
}

#[test]
fn overlapping_connections_replay_together_and_a_later_one_after_them() {
    let path = temp("three-connections.txt");
    write_three_connections(&path);
    let t0 = std::time::Instant::now();
    let r = run(&["replay", &path, "--timeout-ms", "2000"]);
    let took = t0.elapsed();
    r.assert_ok();
    assert!(r.stdout.contains("replayed 6 exchanges: 6 same, 0 different"), "{r:?}");
    assert_eq!(r.stdout.matches("unanswered, as recorded").count(), 2, "{r:?}");
    assert!(
        r.stdout
            .contains("0200 stan 000004: connection closed before the answer"),
        "{r:?}"
    );
    // Connections 1 and 2 each wait 2 s for their unanswered 0200, together (one after the other
    // would take 4 s); then connection 3 waits 2 s for the 0200 its client gave up on: 4 s in
    // all, at least (timers never fire early). One connection after another would need three
    // 2-second waits in a row, 6 s at least; the room between is for a loaded machine. (The run
    // against the simulator below shows the overlap by arrival times, without a wall-clock cap.)
    assert!(
        took >= Duration::from_secs(4) && took < Duration::from_millis(5800),
        "replay took {took:?}: {r:?}"
    );
    // Output in recorded order.
    let order: Vec<&str> = r.stdout.lines().filter_map(|l| l.split(':').next()).collect();
    assert_eq!(
        order[..5],
        [
            "same  0800 stan 000001",
            "same  0800 stan 000001",
            "same  0200 stan 000002",
            "same  0200 stan 000002",
            "same  0800 stan 000003"
        ],
        "{r:?}"
    );

    // Against a simulator that leaves each connection's 2nd request unanswered: connection 3 is
    // opened only once the replays of 1 and 2 ended, after their 2-second waits.
    let sim = start_sim(&["--drop-every", "2", "--verbose"]);
    let t0 = std::time::Instant::now();
    let r = run(&["replay", &path, "--host", &sim.addr.to_string(), "--timeout-ms", "2000"]);
    let took = t0.elapsed();
    r.assert_ok();
    assert!(r.stdout.contains("6 same, 0 different"), "{r:?}");
    assert!(took >= Duration::from_secs(4), "{took:?}");
    let arrived = sim.wait_for_lines("request ", 6, Duration::from_secs(10));
    let seen: Vec<&str> = arrived.iter().map(|(_, l)| &l["request ".len()..]).collect();
    assert_eq!(seen.len(), 6, "{seen:?}");
    assert_eq!(seen[4], "0800 stan 000003", "connection 3 after the others: {seen:?}");
    // Overlap, shown by when the requests reached the simulator rather than by a wall-clock cap
    // on the whole run: the 4 requests of connections 1 and 2 came together (replayed one after
    // the other, 2's would come 2 s after 1's, once 1's unanswered 0200 timed out), and those of
    // connection 3 came after 1's and 2's 2-second waits. Both checks are 1 s away from the other
    // case, far more than a loaded machine delays a line.
    let at = |i: usize| arrived[i].0;
    assert!(
        at(3) - at(0) < Duration::from_secs(1),
        "connections 1 and 2 one after the other: {:?}",
        arrived.iter().map(|(t, l)| (*t - at(0), l)).collect::<Vec<_>>()
    );
    assert!(
        at(4) - at(3) >= Duration::from_secs(1),
        "connection 3 did not wait for 1 and 2: {:?}",
        arrived.iter().map(|(t, l)| (*t - at(0), l)).collect::<Vec<_>>()
    );
}
