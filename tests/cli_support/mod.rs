//! Shared helpers of the command-line tests: run the real `iso8583` binary with a time limit, and
//! start long-running commands (the simulator) under a guard that kills them on drop.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Path of the binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_iso8583")
}

/// The result of a finished command, with text output.
pub struct Run {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

fn clip(s: &str) -> String {
    if s.len() <= 3000 {
        return s.to_owned();
    }
    let mut end = 3000;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes in all)", &s[..end], s.len())
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("status", &self.status)
            .field("stdout", &clip(&self.stdout))
            .field("stderr", &clip(&self.stderr))
            .finish()
    }
}

impl Run {
    pub fn ok(&self) -> bool {
        self.status.success()
    }
    /// Panics with the whole output unless the command succeeded.
    pub fn assert_ok(&self) -> &Self {
        assert!(self.ok(), "command failed: {self:#?}");
        self
    }
    /// Asserts the error output is a clean message: no panic, no backtrace.
    pub fn assert_clean_failure(&self) -> &Self {
        assert!(!self.ok(), "command should have failed: {self:#?}");
        assert_eq!(self.status.code(), Some(1), "{self:#?}");
        assert!(!self.stderr.contains("panicked"), "{self:#?}");
        assert!(!self.stderr.contains("backtrace"), "{self:#?}");
        assert!(!self.stderr.trim().is_empty(), "no message on stderr: {self:#?}");
        self
    }
}

/// A child process killed (and reaped) when the guard is dropped, even if the test panics.
pub struct ChildGuard(pub Option<Child>);

impl ChildGuard {
    pub fn new(child: Child) -> Self {
        ChildGuard(Some(child))
    }
    pub fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("child already taken")
    }
    /// Waits for the child to exit within `limit`; kills it and panics if it does not.
    pub fn wait_within(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child().try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child().kill();
                panic!("process did not finish within {limit:?}");
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Runs `iso8583 ARGS` with `stdin` as input, killed if it takes longer than `limit`.
pub fn run_limited(args: &[&str], stdin: &str, limit: Duration) -> Run {
    let child = Command::new(bin())
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn iso8583");
    let mut guard = ChildGuard::new(child);
    let mut input = guard.child().stdin.take().expect("stdin");
    let data = stdin.to_owned();
    let writer = thread::spawn(move || {
        let _ = input.write_all(data.as_bytes());
    });
    let mut out = guard.child().stdout.take().expect("stdout");
    let mut err = guard.child().stderr.take().expect("stderr");
    let out_reader = thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_reader = thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let status = guard.wait_within(limit);
    let _ = writer.join();
    Run {
        status,
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
    }
}

/// Runs `iso8583 ARGS` with empty input and a 60-second limit.
pub fn run(args: &[&str]) -> Run {
    run_limited(args, "", Duration::from_secs(60))
}

/// Runs `iso8583 ARGS` with `stdin` and a 60-second limit.
pub fn run_with_input(args: &[&str], stdin: &str) -> Run {
    run_limited(args, stdin, Duration::from_secs(60))
}

/// Converts an `Output` (from elsewhere) into a `Run`.
pub fn from_output(o: Output) -> Run {
    Run {
        status: o.status,
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// A running `iso8583 sim`, killed on drop; `addr` is where it listens.
pub struct Sim {
    pub guard: ChildGuard,
    pub addr: SocketAddr,
    /// Further stdout lines (the per-second summaries), read in the background.
    pub lines: mpsc::Receiver<String>,
    /// The same lines, each with the time this process read it: to compare when things reached
    /// the simulator (the simulator prints a `--verbose` request line within about 50 ms).
    pub arrivals: Arc<Mutex<Vec<(Instant, String)>>>,
}

impl Sim {
    /// The lines read so far, with the time each was read.
    pub fn arrivals(&self) -> Vec<(Instant, String)> {
        self.arrivals.lock().map(|a| a.clone()).unwrap_or_default()
    }

    /// Polls (every 10 ms, at most `limit`) until `n` lines starting with `prefix` were read;
    /// returns them with their times. Panics with what was read if they do not come.
    pub fn wait_for_lines(&self, prefix: &str, n: usize, limit: Duration) -> Vec<(Instant, String)> {
        let deadline = Instant::now() + limit;
        loop {
            let got: Vec<(Instant, String)> = self
                .arrivals()
                .into_iter()
                .filter(|(_, l)| l.starts_with(prefix))
                .collect();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{n} lines {prefix:?} not within {limit:?}: {:?}",
                self.arrivals()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Starts `iso8583 ARGS...` with its standard output piped (stdin and stderr null), killed when
/// the guard drops.
fn spawn_piped(args: &[&str]) -> (ChildGuard, ChildStdout) {
    let child = Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn iso8583 {}: {e}", args.first().unwrap_or(&"")));
    let mut guard = ChildGuard::new(child);
    let stdout = guard.child().stdout.take().expect("stdout");
    (guard, stdout)
}

/// Starts `iso8583 sim --listen 127.0.0.1:0 EXTRA...` and waits (at most 20 s) for the address it
/// prints on its first stdout line.
pub fn start_sim(extra: &[&str]) -> Sim {
    let mut args = vec!["sim", "--listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let (guard, stdout) = spawn_piped(&args);
    let (tx, rx) = mpsc::channel();
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let log = arrivals.clone();
    thread::spawn(move || {
        let mut first = true;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if !std::mem::take(&mut first) {
                if let Ok(mut log) = log.lock() {
                    log.push((Instant::now(), line.clone()));
                }
            }
            // The receiver may be gone (dropped by a test that reads `arrivals`): keep reading.
            let _ = tx.send(line);
        }
    });
    let first = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("sim printed no address within 20 s");
    let addr = parse_listen_line(&first);
    Sim {
        guard,
        addr,
        lines: rx,
        arrivals,
    }
}

/// The address in the simulator's first line, `listening on 127.0.0.1:PORT ...`.
pub fn parse_listen_line(line: &str) -> SocketAddr {
    line.split_whitespace()
        .find_map(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
}

/// The vectors of one pyiso8583 flavour: (hex, mti, fields as JSON).
pub fn vectors(file: &str) -> Vec<serde_json::Value> {
    let path = format!("{}/fixtures/vectors/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .map(|l| serde_json::from_str(l).expect("vector JSON"))
        .collect()
}

/// Starts `iso8583 record --listen 127.0.0.1:0 --upstream UPSTREAM --out OUT EXTRA...` (with
/// `--max-connections 1` unless EXTRA says otherwise) and waits (at most 20 s) for the address it
/// prints first. Returns its guard and that address.
pub fn start_record(upstream: &str, out: &str, extra: &[&str]) -> (ChildGuard, String) {
    let mut args = vec![
        "record",
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        upstream,
        "--out",
        out,
    ];
    if !extra.contains(&"--max-connections") {
        args.extend_from_slice(&["--max-connections", "1"]);
    }
    args.extend_from_slice(extra);
    let (guard, stdout) = spawn_piped(&args);
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut first = String::new();
        let _ = BufReader::new(stdout).read_line(&mut first);
        let _ = tx.send(first);
    });
    let first = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("record printed no address within 20 s");
    let addr = parse_listen_line(&first).to_string();
    (guard, addr)
}

/// A path in this test process's own temporary directory.
pub fn temp(name: &str) -> String {
    // Under target/ (cargo's scratch space for integration tests), not the system temp dir.
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("iso8583-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name).to_str().unwrap().to_owned()
}
