//! `iso8583 encode`: JSON in (one object, or JSON lines), hex out, one line per message.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context};
use clap::Args;
use iso8583_client::Spec;
use serde_json::Value;

use crate::args::SpecArg;
use crate::json::message_from_json;
use crate::{hex, input, Outcome};

/// `iso8583 encode --spec NAME|FILE [JSON | --file PATH | -]`.
#[derive(Args, Debug)]
pub struct EncodeArgs {
    #[command(flatten)]
    spec: SpecArg,
    /// One message as JSON, or `-` for standard input. Without it and without `--file`, standard
    /// input is read: one JSON object (pretty-printed or not) or JSON lines.
    #[arg(value_name = "JSON|-", conflicts_with = "file")]
    json: Option<String>,
    /// Read messages from this file: one JSON object or JSON lines.
    #[arg(long, value_name = "PATH")]
    file: Option<PathBuf>,
}

/// Runs `encode`: each message that fails is reported on standard error with its line number and
/// leaves an empty line on standard output (so output line N stays the answer to input message N);
/// the others are still encoded; the exit status says whether all succeeded.
pub fn run(args: EncodeArgs) -> anyhow::Result<Outcome> {
    let spec = args.spec.load()?;
    let text = match args.json.as_deref() {
        Some(j) if j != "-" => j.to_owned(),
        Some(_) => input::read_all(None)?,
        None => input::read_all(args.file.as_deref())?,
    };
    let documents = split_documents(&text)?;
    if documents.is_empty() {
        bail!("no message in the input (expected a JSON object such as {{\"mti\": \"0800\", \"fields\": {{\"70\": \"301\"}}}})");
    }
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut outcome = Outcome::Success;
    for (line, doc) in documents {
        match doc.and_then(|v| encode_value(&spec, &v)) {
            Ok(hex) => writeln!(out, "{hex}")?,
            Err(e) => {
                outcome = Outcome::SomeFailed;
                writeln!(out)?;
                out.flush()?;
                eprintln!("iso8583: line {line}: {e:#}");
            }
        }
    }
    out.flush()?;
    Ok(outcome)
}

fn encode_value(spec: &Spec, value: &Value) -> anyhow::Result<String> {
    let msg = message_from_json(spec, value)?;
    let bytes = spec
        .encode(&msg)
        .with_context(|| format!("cannot encode with spec {}", spec.name()))?;
    Ok(hex::encode(&bytes))
}

/// The JSON documents in `text`, each with the line it starts on. A stream of values (one object,
/// pretty-printed, or JSON lines) is read as such; if it has a syntax error and looks like JSON
/// lines, each line is read on its own so that one bad line spoils only itself.
pub fn split_documents(text: &str) -> anyhow::Result<Vec<(usize, anyhow::Result<Value>)>> {
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let mut docs = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    loop {
        let start = stream.byte_offset();
        match stream.next() {
            None => return Ok(docs),
            Some(Ok(v)) => {
                let skipped = text[start..].len() - text[start..].trim_start().len();
                docs.push((line_of(start + skipped), Ok(v)));
            }
            Some(Err(e)) => {
                let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
                if serde_json::from_str::<Value>(first).is_ok() {
                    return Ok(per_line(text));
                }
                return Err(anyhow!("invalid JSON: {e}"));
            }
        }
    }
}

fn per_line(text: &str) -> Vec<(usize, anyhow::Result<Value>)> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let v = serde_json::from_str::<Value>(l).map_err(|e| anyhow!("invalid JSON: {e}"));
            (i + 1, v)
        })
        .collect()
}
