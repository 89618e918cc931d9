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
    /// Show composite fields (EMV tags in DE 55, sub-fields) as nested rows or JSON objects,
    /// each part masked by its own sensitivity. A sub-structure that does not parse is shown as
    /// without --expand and reported on standard error; the exit status then says so.
    #[arg(long)]
    expand: bool,
}

/// The rendering of one decoded message (a table, or a JSON line without its newline), and the
/// sub-structures that did not parse under `--expand`.
fn render(
    spec: &Spec,
    msg: &iso8583_client::Message,
    args: &DecodeArgs,
) -> (String, Vec<iso8583_client::message::PathError>) {
    match (args.expand, args.json) {
        (false, true) => (JsonMessage::new(spec, msg, args.reveal).to_line(), Vec::new()),
        (false, false) => (table::render(spec, msg, args.reveal), Vec::new()),
        (true, true) => {
            let (json, errors) = JsonMessage::expanded(spec, msg, args.reveal);
            (json.to_line(), errors)
        }
        (true, false) => table::render_expanded(spec, msg, args.reveal),
    }
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
    let (mut out, errors) = render(spec, &msg, args);
    if args.json {
        out.push('\n');
    }
    io::stdout().lock().write_all(out.as_bytes())?;
    for e in &errors {
        eprintln!("iso8583: {e}");
    }
    Ok(if errors.is_empty() {
        Outcome::Success
    } else {
        Outcome::SomeFailed
    })
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
            (Ok(Some(msg)), true) if !args.expand => {
                line.clear();
                json::write_line(spec, &msg, args.reveal, &mut line);
                out.write_all(&line)?;
            }
            (Ok(Some(msg)), json) => {
                let (text, errors) = render(spec, &msg, args);
                if json {
                    writeln!(out, "{text}")?;
                } else {
                    if !first {
                        writeln!(out)?;
                    }
                    first = false;
                    out.write_all(text.as_bytes())?;
                }
                if !errors.is_empty() {
                    outcome = Outcome::SomeFailed;
                    out.flush()?;
                    for e in &errors {
                        eprintln!("iso8583: line {number}: {e}");
                    }
                }
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
