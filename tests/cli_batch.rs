//! The batch paths under any input: `encode` streams (each answer written as its message is read),
//! input lines are capped at 1 MiB (a longer line is an error for that line only), spec and
//! recording files must be regular files of at most 16 MiB, and a recording's `spec:` line may name
//! a file beside the recording.
#![cfg(feature = "cli")]

mod cli_support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use cli_support::{run, run_with_input, temp, ChildGuard};

const ECHO: &str = r#"{"mti": "0800", "fields": {"11": "000001", "70": "301"}}"#;

#[test]
fn encode_answers_each_line_as_it_comes() {
    let child = Command::new(cli_support::bin())
        .args(["encode", "--spec", "iso87-ascii"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut guard = ChildGuard::new(child);
    let mut stdin = guard.child().stdin.take().unwrap();
    let stdout = guard.child().stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap_or_default()).is_err() {
                break;
            }
        }
    });
    // Standard input stays open: the answer to the first line comes anyway (output is buffered,
    // and flushed whenever the input pauses).
    writeln!(stdin, "{ECHO}").unwrap();
    stdin.flush().unwrap();
    let first = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("an answer while the input is open");
    assert!(first.starts_with("30383030"), "0800 in ASCII: {first}");
    writeln!(stdin, "{ECHO}").unwrap();
    stdin.flush().unwrap();
    let second = rx.recv_timeout(Duration::from_secs(20)).expect("a second answer");
    assert_eq!(first, second);
    drop(stdin);
    guard.wait_within(Duration::from_secs(20));
}

#[test]
fn encode_of_json_lines_and_of_a_pretty_object_and_bad_lines() {
    // JSON lines with a bad line in the middle: an empty output line for it, the rest encoded.
    let input = format!("{ECHO}\n{{\"mti\": \n{ECHO}\n\n{ECHO}\n");
    let r = run_with_input(&["encode", "--spec", "iso87-ascii"], &input);
    assert_eq!(r.status.code(), Some(1), "{r:?}");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{r:?}");
    assert!(
        lines[1].is_empty() && !lines[0].is_empty() && lines[0] == lines[3],
        "{r:?}"
    );
    assert!(r.stderr.contains("line 2"), "{r:?}");
    // A pretty-printed object, then another.
    let pretty = "{\n  \"mti\": \"0800\",\n  \"fields\": {\"11\": \"000001\", \"70\": \"301\"}\n}\n{\n\"mti\": \"0800\", \"fields\": {\"11\": \"000002\", \"70\": \"301\"}}\n";
    let r = run_with_input(&["encode", "--spec", "iso87-ascii"], pretty);
    r.assert_ok();
    assert_eq!(r.stdout.lines().count(), 2, "{r:?}");
}

#[test]
fn lines_longer_than_1_mib_are_errors_for_that_line_only() {
    let long_hex = "30".repeat(600 * 1024); // 1.2 MB of hex
    let good = run_with_input(&["encode", "--spec", "iso87-ascii"], ECHO);
    good.assert_ok();
    let hex = good.stdout.trim().to_owned();
    let r = run_with_input(
        &["decode", "--spec", "iso87-ascii", "--json"],
        &format!("{long_hex}\n{hex}\n"),
    );
    assert_eq!(r.status.code(), Some(1), "{r:?}");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{r:?}");
    assert!(lines[0].contains("longer than 1 MiB"), "{r:?}");
    assert!(lines[1].contains("\"mti\":\"0800\""), "{r:?}");

    let long_json = format!(
        "{{\"mti\": \"0800\", \"fields\": {{\"48\": \"{}\"}}}}",
        "A".repeat(1100 * 1024)
    );
    let r = run_with_input(
        &["encode", "--spec", "iso87-ascii"],
        &format!("{ECHO}\n{long_json}\n{ECHO}\n"),
    );
    assert_eq!(r.status.code(), Some(1), "{r:?}");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines, [hex.as_str(), "", hex.as_str()], "{r:?}");
    assert!(
        r.stderr.contains("line 2") && r.stderr.contains("longer than 1 MiB"),
        "{r:?}"
    );
}

#[test]
fn spec_and_recording_files_are_small_regular_files() {
    let big = temp("big.toml");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(17 << 20).unwrap();
    drop(f);
    let r = run(&["decode", "--spec", &big, "0800"]);
    r.assert_clean_failure();
    assert!(r.stderr.contains("16 MiB"), "{r:?}");
    let r = run(&["replay", &big]);
    r.assert_clean_failure();
    assert!(r.stderr.contains("16 MiB"), "{r:?}");
    #[cfg(unix)]
    {
        let r = run(&["replay", "/dev/null"]);
        r.assert_clean_failure();
        assert!(r.stderr.contains("not a regular file"), "{r:?}");
        let r = run(&["decode", "--spec", "/dev/null", "0800"]);
        r.assert_clean_failure();
        assert!(r.stderr.contains("not a regular file"), "{r:?}");
    }
}

#[test]
fn a_recording_names_its_spec_file_relative_to_itself() {
    let dir = std::path::Path::new(&temp("relative")).to_path_buf();
    std::fs::create_dir_all(&dir).unwrap();
    let builtin = format!("{}/specs/iso87-ascii-binary-bitmap.toml", env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(builtin, dir.join("acme.toml")).unwrap();
    let fixture = format!("{}/fixtures/exchanges/echo-and-auth.txt", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(fixture).unwrap();
    std::fs::write(dir.join("rec.txt"), format!("spec: acme.toml\n{text}")).unwrap();
    // Run from elsewhere: the spec is found beside the recording, not in the working directory.
    let out = Command::new(cli_support::bin())
        .args(["replay", dir.join("rec.txt").to_str().unwrap()])
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    let r = cli_support::from_output(out);
    r.assert_ok();
    assert!(r.stdout.contains("2 same"), "{r:?}");
}
