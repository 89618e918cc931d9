//! Recordings of any size are paired and replayed in time and memory linear in their size.
#![cfg(feature = "recording")]

mod cli_support;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use iso8583_client::recording::{Direction, Entry, Outcome, Recording, DEFAULT_FRAMING, DEFAULT_SPEC};
use iso8583_client::transport::framing::Framing;
use iso8583_client::transport::network_request;
use iso8583_client::{Message, Spec};

fn framed(spec: &Spec, msg: &iso8583_client::Message) -> bytes::Bytes {
    let mut out = BytesMut::new();
    Framing::default()
        .write_frame(&spec.encode(msg).unwrap(), &mut out)
        .unwrap();
    out.freeze()
}

/// A recording of `n` pipelined echoes on one connection, answered last first; the time to pair it.
fn pair_reversed(spec: &Spec, n: u32) -> Duration {
    let mut rec = Recording::new(DEFAULT_SPEC, DEFAULT_FRAMING, &[], false);
    let requests: Vec<_> = (1..=n)
        .map(|i| network_request("301").with(11, format!("{:06}", i % 999_999)))
        .collect();
    let answer_frames: Vec<_> = requests.iter().map(|m| framed(spec, &answer(m).unwrap())).collect();
    for m in &requests {
        rec.entries.push(Entry::Frame {
            direction: Direction::ToHost,
            connection: 1,
            frame: framed(spec, m),
        });
    }
    // Answered last first: a scan from the oldest request per answer would be quadratic.
    for frame in answer_frames.into_iter().rev() {
        rec.entries.push(Entry::Frame {
            direction: Direction::FromHost,
            connection: 1,
            frame,
        });
    }
    let t0 = Instant::now();
    let x = rec.exchanges(spec).unwrap();
    let took = t0.elapsed();
    assert_eq!(x.len(), n as usize);
    assert!(x.iter().all(|x| x.outcome == Outcome::Answered));
    assert_eq!(x[0].response_entry, Some(2 * n as usize - 1));
    took
}

#[test]
fn pairing_many_pipelined_exchanges_is_linear() {
    let spec = Spec::builtin(DEFAULT_SPEC).unwrap();
    let small = pair_reversed(&spec, 5_000);
    let large = pair_reversed(&spec, 40_000);
    // 8 times the exchanges: about 8 times the time when linear, 64 when quadratic.
    assert!(
        large < small * 24 && large < Duration::from_secs(15),
        "5,000 exchanges paired in {small:?}, 40,000 in {large:?}"
    );
}

#[test]
fn replay_of_many_sequential_connections() {
    let spec = Spec::builtin(DEFAULT_SPEC).unwrap();
    let connections = 3_000u32;
    let mut text = format!("spec: {DEFAULT_SPEC}\nframing: {DEFAULT_FRAMING}\n");
    for c in 1..=connections {
        let echo = network_request("301").with(11, format!("{:06}", c));
        let _ = writeln!(text, "# connection {c}");
        let _ = writeln!(text, "> {}", iso8583_client::hex::encode(&framed(&spec, &echo)));
        let _ = writeln!(
            text,
            "< {}",
            iso8583_client::hex::encode(&framed(&spec, &answer(&echo).unwrap()))
        );
        let _ = writeln!(text, "# the client closed the connection");
    }
    let path = cli_support::temp("many-connections.txt");
    std::fs::write(&path, text).unwrap();
    let t0 = Instant::now();
    let r = cli_support::run_limited(&["replay", &path], "", Duration::from_secs(240));
    r.assert_ok();
    assert!(
        r.stdout.contains(&format!(
            "replayed {connections} exchanges: {connections} same, 0 different"
        )),
        "{r:?}"
    );
    eprintln!("replayed {connections} sequential connections in {:?}", t0.elapsed());
}

/// The host's answer to `request`: its response MTI, the key fields copied, approved.
fn answer(request: &Message) -> Option<Message> {
    let mut reply = Message::new(request.mti().response()?);
    for f in [3, 4, 7, 11, 12, 13, 41, 70] {
        if let Some(v) = request.get_bytes(f) {
            reply.set(f, v.clone());
        }
    }
    reply.set(39, "00");
    Some(reply)
}
