//! `iso8583 encode`: JSON in (one object, or JSON lines), hex out, one line per message.

use std::cell::RefCell;
use std::io::{self, BufRead, Write};
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
    let mut fast = json_fast::Reader::new();
    let mut docs = Documents::new(input::LineReader::new(reader));
    // One round per document of the input.
    while let Some(doc) = docs.next_doc() {
        let (line, doc) = doc?;
        seen += 1;
        let mut out = out.borrow_mut();
        match doc.and_then(|text| encode_text(&spec, &mut fast, text, &mut body)) {
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
fn encode_text(
    spec: &Spec,
    fast: &mut json_fast::Reader,
    text: &str,
    body: &mut bytes::BytesMut,
) -> anyhow::Result<()> {
    body.clear();
    let encoded = match fast.encode(spec, text, body) {
        Some(encoded) => encoded,
        None => {
            let value: Value = serde_json::from_str(text).map_err(|e| anyhow!("invalid JSON: {e}"))?;
            let msg = message_from_json(spec, &value)?;
            spec.encode_into(&msg, body)
        }
    };
    encoded.with_context(|| format!("cannot encode with spec {}", spec.name()))?;
    Ok(())
}

/// The JSON documents of the input, each with the line it starts on, read as they come.
///
/// JSON lines (the first non-blank line is a value on its own, or is not the start of one): each
/// non-blank line is a document, and a bad line spoils only itself. Otherwise (a pretty-printed
/// object over several lines) a document runs until its braces close; it may not exceed
/// [`input::MAX_LINE`] bytes in all.
struct Documents<R> {
    lines: input::LineReader<R>,
    /// Whether the input is JSON lines; `None` until the first non-blank line.
    json_lines: Option<bool>,
    /// The text of a document over several lines.
    text: String,
}

/// A document's first line and its text (or why it cannot be read).
type Document<'a> = (usize, anyhow::Result<&'a str>);

impl<R: BufRead> Documents<R> {
    fn new(lines: input::LineReader<R>) -> Self {
        Documents {
            lines,
            json_lines: None,
            text: String::new(),
        }
    }

    /// The next document (`None` at the end of input); an I/O error is an error item.
    fn next_doc(&mut self) -> Option<anyhow::Result<Document<'_>>> {
        // Blank lines are skipped: each round reads a line.
        let number = loop {
            let number = match self.lines.advance()? {
                Ok((n, Ok(()))) => n,
                Ok((n, Err(e))) => return Some(Ok((n, Err(anyhow!("{e}"))))),
                Err(e) => return Some(Err(e)),
            };
            if !self.lines.text().trim().is_empty() {
                break number;
            }
        };
        let json_lines = *self.json_lines.get_or_insert_with(|| {
            let text = self.lines.text();
            let mut depth = Depth::default();
            depth.scan(text);
            depth.closed() || serde_json::from_str::<Value>(text).is_ok()
        });
        if json_lines {
            return Some(Ok((number, Ok(self.lines.text()))));
        }
        self.text.clear();
        self.text.push_str(self.lines.text());
        match self.gather() {
            Ok(Ok(())) => Some(Ok((number, Ok(&self.text)))),
            Ok(Err(e)) => Some(Ok((number, Err(e)))),
            Err(e) => Some(Err(e)),
        }
    }

    /// The rest of a multi-line document whose first line is in `self.text`: `Ok(Err(..))` for a
    /// document that cannot be read, `Err` for an I/O error.
    fn gather(&mut self) -> anyhow::Result<anyhow::Result<()>> {
        let mut depth = Depth::default();
        depth.scan(&self.text);
        // Each round reads a line.
        while !depth.closed() {
            let Some(item) = self.lines.advance() else {
                break; // the parser says what is missing
            };
            if let Err(e) = item?.1 {
                return Ok(Err(anyhow!("{e}")));
            }
            let line = self.lines.text();
            if self.text.len() + line.len() + 1 > input::MAX_LINE {
                // Skip the rest of this document: to where its braces close.
                depth.scan(line);
                // Each round reads a line.
                while !depth.closed() {
                    match self.lines.advance() {
                        Some(Ok((_, Ok(())))) => depth.scan(self.lines.text()),
                        Some(Ok((_, Err(_)))) => {}
                        Some(Err(e)) => return Err(e),
                        None => break,
                    }
                }
                return Ok(Err(anyhow!(
                    "a JSON document longer than {} MiB",
                    input::MAX_LINE >> 20
                )));
            }
            self.text.push('\n');
            self.text.push_str(line);
            depth.scan(line);
        }
        Ok(Ok(()))
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
