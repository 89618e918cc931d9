//! `iso8583`: the everyday command-line tool of `iso8583-client`.
//!
//! Decode and encode messages, run a host simulator, send messages to a host, load-test it, record
//! and replay exchanges, and a one-command demo. Card data is masked everywhere unless `--reveal`.
//!
//! Errors end the process with a one-line message on standard error and a non-zero status:
//! 1 for a failure (bad input, a message that failed), 2 for a command-line mistake.
#![forbid(unsafe_code)]

mod args;
mod bench;
mod config_args;
mod decode;
mod demo;
mod encode;
mod framing_args;
mod hex;
mod input;
mod json;
mod json_fast;
mod link;
mod metrics_args;
mod numbers;
mod record;
mod replay;
mod runtime;
mod send;
mod sim;
mod table;
mod tls_args;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// ISO 8583 messages from the command line: decode, encode, simulate, send, bench, record, replay.
#[derive(Parser)]
#[command(name = "iso8583", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decode messages given in hex: a table by default, or JSON.
    Decode(decode::DecodeArgs),
    /// Encode messages given as JSON (`{"mti": "0200", "fields": {"2": "...", ...}}`) to hex.
    Encode(encode::EncodeArgs),
    /// Run the host simulator: answers requests, approves or declines by rule, optional faults.
    Sim(sim::SimArgs),
    /// Send messages (JSON lines) to a host; print each response (or error) as a JSON line.
    Send(send::SendArgs),
    /// Load a host (or the embedded simulator): throughput, latency percentiles, errors by kind.
    Bench(bench::BenchArgs),
    /// A transparent recording proxy between a client and a host, writing the fixture format.
    Record(record::RecordArgs),
    /// Replay a recording against a host (or against the recording itself) and compare the answers.
    Replay(replay::ReplayArgs),
    /// Show what the project does: simulator, sign-on, authorization, decline, reversal with a
    /// repeat, echo, then a 3-second bench. Loopback only; under 10 seconds.
    Demo(demo::DemoArgs),
}

/// What a command reports when it ran to the end: whether every item succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Everything succeeded: exit status 0.
    Success,
    /// The command ran, but some items failed (already reported): exit status 1.
    SomeFailed,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return command_line_mistake(e),
    };
    let result = match cli.command {
        Command::Decode(a) => decode::run(a),
        Command::Encode(a) => encode::run(a),
        Command::Sim(a) => sim::run(a),
        Command::Send(a) => send::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Record(a) => record::run(a),
        Command::Replay(a) => replay::run(a),
        Command::Demo(a) => demo::run(a),
    };
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::SomeFailed) => ExitCode::FAILURE,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` prints the whole context chain on one line.
            eprintln!("iso8583: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A command-line mistake: clap's message on one line (exit status 2); help and version as clap
/// prints them.
fn command_line_mistake(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit();
    }
    let text = e.render().to_string();
    let message: Vec<&str> = text
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty())
        .collect();
    // clap's message starts with `error: `, as the tool's own errors do after `iso8583: `.
    eprintln!("iso8583: {}", message.join(" "));
    ExitCode::from(2)
}

/// Output closed by the reader (`iso8583 decode ... | head`): not an error worth a message.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
