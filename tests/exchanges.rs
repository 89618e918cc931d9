//! Replays the recorded exchanges of `fixtures/exchanges/*.txt` through a
//! [`Connection`]: a scripted host on 127.0.0.1 checks that the client writes
//! the recorded request bytes, plays back the recorded answers (and the
//! recorded close), and each request must end as the recording's notes say:
//! answered with the recorded response, failed at once when the host closed,
//! or timed out when the host never answered.

use std::sync::Arc;
use std::time::Duration;

use iso8583_client::transport::{Connection, ConnectionConfig};
use iso8583_client::{Message, Spec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::Instant;

const SPEC: &str = "iso87-ascii-binary-bitmap";

#[derive(Debug, Clone)]
enum Step {
    /// A frame the client sends (length prefix included).
    Request(Vec<u8>),
    /// A frame the host answers.
    Answer(Vec<u8>),
    /// The host closes the connection.
    Close,
}

fn hex(line: &str) -> Vec<u8> {
    let digits: Vec<u8> = line.trim().bytes().collect();
    digits
        .chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).expect("ascii hex");
            u8::from_str_radix(s, 16).expect("hex digit pair")
        })
        .collect()
}

fn parse(text: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("> ") {
            steps.push(Step::Request(hex(rest)));
        } else if let Some(rest) = line.strip_prefix("< ") {
            steps.push(Step::Answer(hex(rest)));
        } else if line.starts_with('#') && line.contains("closed the connection") {
            steps.push(Step::Close);
        }
    }
    steps
}

fn decode(spec: &Spec, frame: &[u8]) -> Message {
    spec.decode(frame.get(2..).expect("prefix"))
        .expect("recorded frame decodes")
}

/// Plays the host side of `steps` on one accepted connection.
async fn play_host(listener: TcpListener, steps: Vec<Step>) {
    let (mut socket, _) = listener.accept().await.expect("accept");
    for step in steps {
        match step {
            Step::Request(expected) => {
                let mut got = vec![0u8; expected.len()];
                tokio::time::timeout(Duration::from_secs(5), socket.read_exact(&mut got))
                    .await
                    .expect("request within 5 s")
                    .expect("read");
                assert_eq!(got, expected, "the client wrote different bytes than recorded");
            }
            Step::Answer(frame) => socket.write_all(&frame).await.expect("write"),
            Step::Close => return,
        }
    }
    // Keep the connection open (silent) until the client is done.
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), socket.read_to_end(&mut rest)).await;
}

async fn replay(file: &str) {
    let path = format!("{}/fixtures/exchanges/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("fixture");
    let steps = parse(&text);
    let spec = Spec::builtin(SPEC).expect("spec");
    let closes = steps.iter().any(|s| matches!(s, Step::Close));
    let answers: Vec<Message> = steps
        .iter()
        .filter_map(|s| match s {
            Step::Answer(f) => Some(decode(&spec, f)),
            _ => None,
        })
        .collect();
    let requests: Vec<Message> = steps
        .iter()
        .filter_map(|s| match s {
            Step::Request(f) => Some(decode(&spec, f)),
            _ => None,
        })
        .collect();
    assert!(!requests.is_empty(), "{file}: no requests");

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let host = tokio::spawn(play_host(listener, steps));
    let link = Connection::connect(&addr, spec.clone(), Arc::new(ConnectionConfig::default()))
        .await
        .expect("connect");

    let deadline_after = Duration::from_millis(400);
    let started = Instant::now();
    let mut waiting = Vec::new();
    for req in &requests {
        let mut req = req.clone();
        waiting.push(link.dispatch(&mut req, started + deadline_after).await.expect("queued"));
    }
    for (req, w) in requests.iter().zip(waiting) {
        let outcome = w.response().await;
        let recorded = answers
            .iter()
            .find(|a| a.stan() == req.stan() && Some(a.mti()) == req.mti().response());
        match (recorded, outcome) {
            (Some(expected), Ok(got)) => assert_eq!(&got, expected, "{file}: STAN {:?}", req.stan()),
            (None, Err(e)) if closes => {
                assert!(e.is_link_down(), "{file}: STAN {:?}: {e}", req.stan());
                assert!(
                    started.elapsed() < deadline_after,
                    "{file}: waited out the deadline on a dead link"
                );
            }
            (None, Err(e)) => assert!(e.is_timeout(), "{file}: STAN {:?}: {e}", req.stan()),
            (expected, got) => panic!("{file}: STAN {:?}: recorded {expected:?}, got {got:?}", req.stan()),
        }
    }
    assert_eq!(link.in_flight(), 0);
    drop(link);
    host.await.expect("host script");
}

#[tokio::test]
async fn echo_and_auth() {
    replay("echo-and-auth.txt").await;
}

#[tokio::test]
async fn host_closes_mid_flight() {
    replay("host-closes-mid-flight.txt").await;
}

#[tokio::test]
async fn pipelined_out_of_order_with_drops() {
    replay("pipelined-out-of-order-with-drops.txt").await;
}

#[test]
fn every_recorded_exchange_is_replayed() {
    let dir = format!("{}/fixtures/exchanges", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".txt"))
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "echo-and-auth.txt",
            "host-closes-mid-flight.txt",
            "pipelined-out-of-order-with-drops.txt"
        ],
        "a new recording needs its replay test"
    );
}

#[cfg(feature = "sim")]
#[tokio::test]
async fn the_simulator_answers_like_the_recorded_host() {
    let spec = Spec::builtin(SPEC).expect("spec");
    let sim = iso8583_client::sim::Sim::start(spec.clone(), Default::default())
        .await
        .expect("sim");
    let link = Connection::connect(
        &sim.addr().to_string(),
        spec.clone(),
        Arc::new(ConnectionConfig::default()),
    )
    .await
    .expect("link");
    let mut compared = 0;
    for file in ["echo-and-auth.txt", "pipelined-out-of-order-with-drops.txt"] {
        let path = format!("{}/fixtures/exchanges/{file}", env!("CARGO_MANIFEST_DIR"));
        let steps = parse(&std::fs::read_to_string(&path).expect("fixture"));
        let frames = |want_request: bool| -> Vec<Message> {
            steps
                .iter()
                .filter_map(|s| match (s, want_request) {
                    (Step::Request(f), true) | (Step::Answer(f), false) => Some(decode(&spec, f)),
                    _ => None,
                })
                .collect()
        };
        let (requests, answers) = (frames(true), frames(false));
        for recorded in &answers {
            let request = requests
                .iter()
                .find(|r| r.stan() == recorded.stan())
                .expect("its request");
            let ours = link
                .send(request.clone(), Duration::from_secs(5))
                .await
                .expect("an answer");
            assert_eq!(&ours, recorded, "{file}: STAN {:?}", request.stan());
            compared += 1;
        }
    }
    assert_eq!(compared, 8);
    link.close().await;
    sim.shutdown().await;
}
