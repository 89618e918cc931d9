//! `iso8583 record` is safe by default: loopback only unless `--allow-remote`, a file only its owner
//! reads, card data masked unless `--reveal`; an accept error does not end it, and a proxied
//! session that stays idle is closed.
#![cfg(feature = "cli")]

mod cli_support;

use std::io::Read;
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cli_support::{run_limited, run_with_input, start_record, start_sim, temp, ChildGuard};

fn hex_of(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02X}")).collect()
}

const CARD: &str = concat!(
    r#"{"mti": "0200", "fields": {"2": "41111111113", "3": "000000", "4": "000000001000", "14": "2812", "#,
    r#""35": "41111111113=2812101", "45": "B41111111113DOEJOHN2812", "41": "TERM0001"}}"#,
    "\n"
);

/// Starts `command` (stdout piped, killed on drop) and returns its first stdout line.
fn first_line_of(command: &mut Command) -> (ChildGuard, String) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let guard = ChildGuard::new(child);
    let mut first = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut first).unwrap();
    (guard, first)
}

/// Starts `iso8583 ARGS` and returns its first stdout line.
fn spawn_first_line(args: &[&str]) -> (ChildGuard, String) {
    first_line_of(Command::new(cli_support::bin()).args(args))
}

#[test]
fn record_refuses_other_interfaces_unless_allowed() {
    let r = run_limited(
        &[
            "record",
            "--listen",
            "0.0.0.0:0",
            "--upstream",
            "127.0.0.1:9",
            "--out",
            &temp("remote.txt"),
        ],
        "",
        Duration::from_secs(30),
    );
    r.assert_clean_failure();
    assert!(
        r.stderr.contains("loopback") && r.stderr.contains("--allow-remote"),
        "{r:?}"
    );
    assert_eq!(r.stderr.lines().count(), 1, "{r:?}");
    // With --allow-remote it listens there.
    let out = temp("remote-allowed.txt");
    let (_guard, first) = spawn_first_line(&[
        "record",
        "--listen",
        "0.0.0.0:0",
        "--allow-remote",
        "--upstream",
        "127.0.0.1:9",
        "--out",
        &out,
    ]);
    assert!(first.starts_with("listening on 0.0.0.0:"), "{first}");
}

#[test]
fn recording_is_private_and_masked_by_default() {
    let sim = start_sim(&[]);
    let out = temp("default-masked.txt");
    let (mut record, addr) = start_record(&sim.addr.to_string(), &out, &[]);
    let r = run_with_input(&["send", "--host", &addr, "--reveal"], CARD);
    r.assert_ok();
    record.wait_within(Duration::from_secs(10));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "only the owner reads a recording");
    }
    let text = std::fs::read_to_string(&out).unwrap();
    for clear in ["41111111113", "2812", "DOEJOHN"] {
        assert!(!text.contains(&hex_of(clear)), "{clear} in the recording: {text}");
    }
    assert!(
        text.contains(&hex_of("00000001113")),
        "an 11-digit PAN keeps only its last 4: {text}"
    );
    assert!(text.contains("card data masked"), "{text}");

    // --reveal keeps it in clear; --mask is still taken (the default).
    let out = temp("revealed.txt");
    let (mut record, addr) = start_record(&sim.addr.to_string(), &out, &["--reveal"]);
    run_with_input(&["send", "--host", &addr], CARD).assert_ok();
    record.wait_within(Duration::from_secs(10));
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains(&hex_of("41111111113")), "{text}");
    let out = temp("mask-flag.txt");
    let (mut record, addr) = start_record(&sim.addr.to_string(), &out, &["--mask"]);
    run_with_input(&["send", "--host", &addr], CARD).assert_ok();
    record.wait_within(Duration::from_secs(10));
    assert!(!std::fs::read_to_string(&out).unwrap().contains(&hex_of("41111111113")));
}

#[test]
fn an_idle_session_is_closed() {
    let sim = start_sim(&[]);
    let out = temp("idle.txt");
    let (mut record, addr) = start_record(&sim.addr.to_string(), &out, &["--idle-timeout", "0.5"]);
    let t0 = Instant::now();
    let mut client = TcpStream::connect(&addr).unwrap();
    client.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut buf = [0u8; 16];
    let n = client.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "the recorder closed the idle session");
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    // --max-connections 1: the recorder ends with its only session.
    record.wait_within(Duration::from_secs(10));
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("idle"), "{text}");
}

#[cfg(unix)]
#[test]
fn an_accept_error_does_not_end_the_recorder() {
    let sim = start_sim(&[]);
    let out = temp("accept.txt");
    // Few file descriptors: some of the 40 connections below fail to be accepted (EMFILE).
    let script = format!(
        "ulimit -n 24 && exec {} record --listen 127.0.0.1:0 --upstream {} --out {}",
        cli_support::bin(),
        sim.addr,
        out
    );
    let (mut guard, first) = first_line_of(Command::new("sh").args(["-c", &script]));
    let addr = cli_support::parse_listen_line(&first).to_string();
    let mut many = Vec::new();
    for _ in 0..40 {
        if let Ok(s) = TcpStream::connect(&addr) {
            many.push(s);
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    drop(many);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        guard.child().try_wait().unwrap().is_none(),
        "the recorder is still running"
    );
    let r = run_with_input(&["send", "--host", &addr, "--timeout-ms", "3000"], CARD);
    r.assert_ok();
}
