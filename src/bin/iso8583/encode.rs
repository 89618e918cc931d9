//! `iso8583 encode`: JSON in (one object, or JSON lines), hex out, one line per message.

use std::cell::RefCell;
use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context};
use clap::Args;
use iso8583_client::Spec;
use serde_json::Value;

use crate::args::SpecArg;
use crate::json::message_from_json;
use crate::{hex, input, json_fast, Outcome};

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
///
/// Input is streamed: each message is encoded and written as soon as it has been read, in input
/// order, holding one message at a time (at most [`input::MAX_LINE`] a line).
pub fn run(args: EncodeArgs) -> anyhow::Result<Outcome> {
    let spec = args.spec.load()?;
    let reader: input::Input = match args.json.as_deref() {
        Some(j) if j != "-" => io::BufReader::new(Box::new(io::Cursor::new(j.as_bytes().to_vec()))),
        Some(_) => input::open(None)?,
        None => input::open(args.file.as_deref())?,
    };
    let stdout = io::stdout();
    let out = RefCell::new(io::BufWriter::with_capacity(64 * 1024, stdout.lock()));
    let reader = input::FlushBeforeWait::new(reader, &out);
    let mut outcome = Outcome::Success;
    let mut seen = 0usize;
    let mut hex = Vec::new();
    let mut body = bytes::BytesMut::new();
    for doc in Documents::new(input::lines(reader)) {
        let (line, doc) = doc?;
        seen += 1;
        let mut out = out.borrow_mut();
        match doc.and_then(|text| encode_text(&spec, &text, &mut body)) {
            Ok(()) => {
                hex.clear();
                hex::encode_bytes_into(&body, &mut hex);
                hex.push(b'\n');
                out.write_all(&hex)?;
            }
            Err(e) => {
                outcome = Outcome::SomeFailed;
                writeln!(out)?;
                out.flush()?;
                eprintln!("iso8583: line {line}: {e:#}");
            }
        }
    }
    out.borrow_mut().flush()?;
    if seen == 0 {
        bail!("no message in the input (expected a JSON object such as {{\"mti\": \"0800\", \"fields\": {{\"70\": \"301\"}}}})");
    }
    Ok(outcome)
}

/// Encodes one JSON document into `body`: by the fast path when it takes the document, else by
/// the general one (which explains what is wrong).
fn encode_text(spec: &Spec, text: &str, body: &mut bytes::BytesMut) -> anyhow::Result<()> {
    let msg = match json_fast::message(spec, text) {
        Some(msg) => msg,
        None => {
            let value: Value = serde_json::from_str(text).map_err(|e| anyhow!("invalid JSON: {e}"))?;
            message_from_json(spec, &value)?
        }
    };
    body.clear();
    spec.encode_into(&msg, body)
        .with_context(|| format!("cannot encode with spec {}", spec.name()))?;
    Ok(())
}

/// The JSON documents of the input, each with the line it starts on, read as they come.
///
/// JSON lines (the first non-blank line is a value on its own, or is not the start of one): each
/// non-blank line is a document, and a bad line spoils only itself. Otherwise (a pretty-printed
/// object over several lines) a document runs until its braces close; it may not exceed
/// [`input::MAX_LINE`] bytes in all.
struct Documents<I> {
    lines: I,
    /// Whether the input is JSON lines; `None` until the first non-blank line.
    json_lines: Option<bool>,
}

/// A document's first line and its text (or why it cannot be read).
type Document = (usize, anyhow::Result<String>);

impl<I: Iterator<Item = anyhow::Result<input::Line>>> Documents<I> {
    fn new(lines: I) -> Self {
        Documents {
            lines,
            json_lines: None,
        }
    }

    /// The rest of a multi-line document that starts with `first` (on line `start`).
    fn gather(&mut self, start: usize, first: String) -> anyhow::Result<Document> {
        let mut text = first;
        let mut depth = Depth::default();
        depth.scan(&text);
        while !depth.closed() {
            let Some(item) = self.lines.next() else {
                break; // the parser says what is missing
            };
            let (_, line) = item?;
            let line = match line {
                Ok(l) => l,
                Err(e) => return Ok((start, Err(anyhow!("{e}")))),
            };
            if text.len() + line.len() + 1 > input::MAX_LINE {
                // Skip the rest of this document: to where its braces close.
                depth.scan(&line);
                while !depth.closed() {
                    match self.lines.next() {
                        Some(Ok((_, Ok(l)))) => depth.scan(&l),
                        Some(Ok((_, Err(_)))) => {}
                        Some(Err(e)) => return Err(e),
                        None => break,
                    }
                }
                return Ok((
                    start,
                    Err(anyhow!("a JSON document longer than {} MiB", input::MAX_LINE >> 20)),
                ));
            }
            text.push('\n');
            text.push_str(&line);
            depth.scan(&line);
        }
        Ok((start, Ok(text)))
    }
}

impl<I: Iterator<Item = anyhow::Result<input::Line>>> Iterator for Documents<I> {
    type Item = anyhow::Result<Document>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (number, line) = match self.lines.next()? {
                Ok(l) => l,
                Err(e) => return Some(Err(e)),
            };
            let text = match line {
                Ok(t) => t,
                Err(e) => return Some(Ok((number, Err(anyhow!("{e}"))))),
            };
            if text.trim().is_empty() {
                continue;
            }
            let json_lines = *self.json_lines.get_or_insert_with(|| {
                let mut depth = Depth::default();
                depth.scan(&text);
                depth.closed() || serde_json::from_str::<Value>(&text).is_ok()
            });
            if json_lines {
                return Some(Ok((number, Ok(text))));
            }
            return Some(self.gather(number, text));
        }
    }
}

/// How deep in `{`/`[` a JSON text is, outside strings: to find where a document ends.
#[derive(Default)]
struct Depth {
    depth: i64,
    opened: bool,
    in_string: bool,
    escaped: bool,
}

impl Depth {
    fn scan(&mut self, text: &str) {
        for b in text.bytes() {
            if self.in_string {
                match (self.escaped, b) {
                    (true, _) => self.escaped = false,
                    (false, b'\\') => self.escaped = true,
                    (false, b'"') => self.in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => {
                    self.depth += 1;
                    self.opened = true;
                }
                b'}' | b']' => self.depth -= 1,
                _ => {}
            }
        }
    }

    /// Whether what was scanned is a whole value (or not the start of one).
    fn closed(&self) -> bool {
        !self.opened || self.depth <= 0
    }
}
