//! `iso8583 decode`: hex in, a table or JSON out.

use std::cell::RefCell;
use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context};
use clap::Args;
use iso8583_client::Spec;
use serde_json::json;

use crate::args::SpecArg;
use crate::json::{self, JsonMessage};
use crate::{hex, input, table, Outcome};

/// `iso8583 decode --spec NAME|FILE [HEX | --file PATH | -]`.
#[derive(Args, Debug)]
pub struct DecodeArgs {
    #[command(flatten)]
    spec: SpecArg,
    /// One message in hex, or `-` for standard input (one hex message a line). Without it and
    /// without `--file`, standard input is read.
    #[arg(value_name = "HEX|-", conflicts_with = "file")]
    hex: Option<String>,
    /// Read messages from this file: one hex message a line.
    #[arg(long, value_name = "PATH")]
    file: Option<PathBuf>,
    /// Print JSON (`{"mti": "...", "fields": {"2": "...", ...}}`), one line per message.
    #[arg(long)]
    json: bool,
    /// Show card data (PAN, tracks, PIN block, ICC data) in clear.
    #[arg(long)]
    reveal: bool,
}

/// Runs `decode`.
pub fn run(args: DecodeArgs) -> anyhow::Result<Outcome> {
    let spec = args.spec.load()?;
    match args.hex.as_deref() {
        Some(hex) if hex != "-" => decode_one(&spec, hex, &args),
        _ => {
            let path = if args.hex.is_some() { None } else { args.file.as_deref() };
            decode_lines(&spec, input::open(path)?, &args)
        }
    }
}

/// A single message from the command line: an error is the command's error.
fn decode_one(spec: &Spec, text: &str, args: &DecodeArgs) -> anyhow::Result<Outcome> {
    let bytes = hex::decode(text).map_err(|e| anyhow!("invalid hex: {e}"))?;
    let msg = spec
        .decode(&bytes)
        .with_context(|| format!("cannot decode with spec {}", spec.name()))?;
    let out = if args.json {
        JsonMessage::new(spec, &msg, args.reveal).to_line() + "\n"
    } else {
        table::render(spec, &msg, args.reveal)
    };
    io::stdout().lock().write_all(out.as_bytes())?;
    Ok(Outcome::Success)
}

/// Many messages, one a line: a bad line is reported and the rest goes on. Blank lines and lines
/// starting with `#` are skipped.
fn decode_lines(spec: &Spec, reader: input::Input, args: &DecodeArgs) -> anyhow::Result<Outcome> {
    let stdout = io::stdout();
    // Buffered; flushed whenever the input pauses (and at the end).
    let out = RefCell::new(io::BufWriter::with_capacity(64 * 1024, stdout.lock()));
    let reader = input::FlushBeforeWait::new(reader, &out);
    let mut outcome = Outcome::Success;
    let mut first = true;
    let mut seen = 0usize;
    let mut line = Vec::new();
    for item in input::lines(reader) {
        let (number, text) = item?;
        // An unreadable line counts as a message too (a bad one).
        seen += usize::from(text.is_err());
        let result = text.and_then(|text| {
            let t = text.trim();
            if t.is_empty() || t.starts_with('#') {
                return Ok(None);
            }
            seen += 1;
            let bytes = hex::decode(t).map_err(|e| format!("invalid hex: {e}"))?;
            spec.decode(&bytes).map(Some).map_err(|e| e.to_string())
        });
        let mut out = out.borrow_mut();
        match (result, args.json) {
            (Ok(None), _) => {}
            (Ok(Some(msg)), true) => {
                line.clear();
                json::write_line(spec, &msg, args.reveal, &mut line);
                out.write_all(&line)?;
            }
            (Ok(Some(msg)), false) => {
                if !first {
                    writeln!(out)?;
                }
                first = false;
                out.write_all(table::render(spec, &msg, args.reveal).as_bytes())?;
            }
            (Err(e), true) => {
                outcome = Outcome::SomeFailed;
                writeln!(out, "{}", json!({ "error": e }))?;
            }
            (Err(e), false) => {
                outcome = Outcome::SomeFailed;
                out.flush()?;
                eprintln!("iso8583: line {number}: {e}");
            }
        }
    }
    out.borrow_mut().flush()?;
    if seen == 0 {
        bail!("no message in the input (expected one hex message a line)");
    }
    Ok(outcome)
}
