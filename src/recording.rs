//! Recorded exchanges: the text format of `fixtures/exchanges/` and of `iso8583 record`, read by
//! `iso8583 replay` and the tests.
//!
//! ```text
//! # 0800 echo then a 0100, one at a time          <- `#` lines are notes
//! spec: iso87-ascii-binary-bitmap                  <- header: `key: value` lines before the first frame
//! framing: 2b
//! > 0027303830308220...                            <- a whole frame to the host, in hex, prefix included
//! < 0029303831308220...                            <- a whole frame from the host
//! # the host closed the connection                 <- a close, as a note
//! ```
//!
//! - Header keys: `spec` (a built-in name or a spec file), `framing` (`2b`, `4b`, `4a`, `2bcd`),
//!   `header` (hex of a fixed header after the prefix, e.g. a TPDU), `length-includes-header`
//!   (`yes`/`no`). Without a header a file means `iso87-ascii-binary-bitmap` over `2b`, the layout
//!   of the recordings taken from an independent host.
//! - Frames appear in wire order. A note `connection N` switches the connection the following
//!   frames belong to (connection 1 until the first such note). A note containing
//!   `closed the connection` marks a close there: by the client when it says `client`, by the host
//!   otherwise.
//!
//! ```
//! use iso8583_client::recording::{Recording, Entry, Direction};
//! let text = "# an echo\n> 0027303830308220000000000000040000000000000030363131313233303435303030303031333031\n";
//! let rec = Recording::parse(text).unwrap();
//! assert_eq!(rec.spec, "iso87-ascii-binary-bitmap");
//! assert!(matches!(&rec.entries[1], Entry::Frame { direction: Direction::ToHost, connection: 1, .. }));
//! assert_eq!(rec.to_text(), format!("spec: iso87-ascii-binary-bitmap\nframing: 2b\n{text}"));
//! ```

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;

use bytes::{Bytes, BytesMut};
use tokio_util::codec::Decoder;

use crate::transport::framing::{Framing, LengthPrefix};
use crate::{CodecError, Message, Spec};

/// The spec of a recording without a header.
///
/// ```
/// use iso8583_client::recording::*;
/// let rec = Recording::parse("# no header\n").unwrap();
/// assert_eq!((rec.spec.as_str(), rec.framing.as_str()), (DEFAULT_SPEC, DEFAULT_FRAMING));
/// ```
pub const DEFAULT_SPEC: &str = "iso87-ascii-binary-bitmap";
/// The framing of a recording without a header: a 2-byte binary length.
pub const DEFAULT_FRAMING: &str = "2b";

/// Which way a frame went.
///
/// ```
/// use iso8583_client::recording::*;
/// let rec = Recording::parse("> 000130\n< 000131\n").unwrap();
/// assert!(matches!(&rec.entries[0], Entry::Frame { direction: Direction::ToHost, .. }));
/// assert!(matches!(&rec.entries[1], Entry::Frame { direction: Direction::FromHost, .. }));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `>`: from the client to the host.
    ToHost,
    /// `<`: from the host to the client.
    FromHost,
}

/// Who closed a connection.
///
/// ```
/// use iso8583_client::recording::*;
/// let rec = Recording::parse("# the client closed the connection\n").unwrap();
/// assert!(rec.entries.contains(&Entry::Closed { connection: 1, by: Side::Client }));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The client (the side that sends `>` frames).
    Client,
    /// The host.
    Host,
}

/// One line of a recording, in wire order.
///
/// ```
/// use iso8583_client::recording::*;
/// let rec = Recording::parse("# connection 2\n> 000130\n").unwrap();
/// assert_eq!(rec.entries[0], Entry::Note("connection 2".into()));
/// assert!(matches!(&rec.entries[1], Entry::Frame { connection: 2, frame, .. } if &frame[..] == b"\x00\x01\x30"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub enum Entry {
    /// A whole frame, length prefix and header included.
    Frame {
        /// Which way it went.
        direction: Direction,
        /// The connection it belongs to (from 1).
        connection: u32,
        /// The bytes on the wire.
        frame: Bytes,
    },
    /// A connection was closed.
    Closed {
        /// The connection.
        connection: u32,
        /// By whom.
        by: Side,
    },
    /// A note (without its `#`); also kept for `connection N` and close notes.
    Note(String),
}

/// A frame shows its length only (it may carry card data in clear).
///
/// ```
/// use iso8583_client::recording::*;
/// let e = Entry::Frame { direction: Direction::ToHost, connection: 1, frame: bytes::Bytes::from_static(b"\x00\x0142") };
/// assert_eq!(format!("{e:?}"), "Frame { direction: ToHost, connection: 1, frame: \"4 bytes\" }");
/// ```
impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Entry::Frame {
                direction,
                connection,
                frame,
            } => f
                .debug_struct("Frame")
                .field("direction", direction)
                .field("connection", connection)
                .field("frame", &format_args!("\"{} bytes\"", frame.len()))
                .finish(),
            Entry::Closed { connection, by } => f
                .debug_struct("Closed")
                .field("connection", connection)
                .field("by", by)
                .finish(),
            Entry::Note(n) => f.debug_tuple("Note").field(n).finish(),
        }
    }
}

/// A recording: header and entries.
///
/// ```
/// use iso8583_client::recording::*;
/// let rec = Recording::new("iso87-bcd", "2b", &[0x60, 0x00, 0x03, 0x00, 0x00], true);
/// assert_eq!(rec.header_text(), "spec: iso87-bcd\nframing: 2b\nheader: 6000030000\nlength-includes-header: yes\n");
/// assert!(rec.entries.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recording {
    /// Spec name or file.
    pub spec: String,
    /// Framing name: `2b`, `4b`, `4a` or `2bcd`.
    pub framing: String,
    /// Fixed header after the length prefix (empty if none).
    pub header: Vec<u8>,
    /// Whether the length prefix counts the fixed header.
    pub length_includes_header: bool,
    /// Entries in wire order.
    pub entries: Vec<Entry>,
}

/// A recording that cannot be read: the line (from 1) and the problem.
///
/// ```
/// use iso8583_client::recording::*;
/// let err = Recording::parse("spec: iso87-ascii\n> 00zz\n").unwrap_err();
/// assert_eq!(err.line, 2);
/// assert!(err.to_string().starts_with("line 2: "));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct RecordingError {
    /// Line number, from 1.
    pub line: usize,
    /// What is wrong.
    pub problem: String,
}

/// What became of a request in a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The host answered it.
    Answered,
    /// No answer before the recording (or its connection) ended while open.
    Unanswered,
    /// The connection closed before an answer.
    Closed,
}

/// A request of a recording with its answer, paired by response MTI and key (DE 11, and DE 41
/// when the request has it).
///
/// ```
/// use iso8583_client::recording::*;
/// # use iso8583_client::{Spec, transport::{framing::Framing, network_request}};
/// # let spec = Spec::builtin(DEFAULT_SPEC).unwrap();
/// # let frame = |m: &iso8583_client::Message| {
/// #     let mut out = bytes::BytesMut::new();
/// #     Framing::default().write_frame(&spec.encode(m).unwrap(), &mut out).unwrap();
/// #     out.freeze()
/// # };
/// let echo = network_request("301").with(11, "000001");
/// let mut answer = echo.clone().with(39, "00");
/// answer.set_mti("0810".parse().unwrap());
/// let (request, response) = (frame(&echo), frame(&answer));
/// let mut rec = Recording::new(DEFAULT_SPEC, DEFAULT_FRAMING, &[], false);
/// rec.entries.push(Entry::Frame { direction: Direction::ToHost, connection: 1, frame: request.clone() });
/// rec.entries.push(Entry::Frame { direction: Direction::FromHost, connection: 1, frame: response.clone() });
/// let exchange = &rec.exchanges(&spec).unwrap()[0];
/// assert_eq!((exchange.request_entry, exchange.response_entry), (0, Some(1)));
/// assert_eq!(exchange.response.as_ref().unwrap().response_code(), Some("00"));
/// ```
#[derive(Debug, Clone)]
pub struct Exchange {
    /// Connection number.
    pub connection: u32,
    /// Index of the request's entry.
    pub request_entry: usize,
    /// The decoded request.
    pub request: Message,
    /// Index of the answer's entry, if answered.
    pub response_entry: Option<usize>,
    /// The decoded answer, if answered.
    pub response: Option<Message>,
    /// What became of the request.
    pub outcome: Outcome,
}

impl Recording {
    /// An empty recording with this header.
    pub fn new(spec: &str, framing: &str, header: &[u8], length_includes_header: bool) -> Recording {
        Recording {
            spec: spec.into(),
            framing: framing.into(),
            header: header.to_vec(),
            length_includes_header,
            entries: Vec::new(),
        }
    }

    /// Reads a recording.
    pub fn parse(text: &str) -> Result<Recording, RecordingError> {
        let mut rec = Recording::new(DEFAULT_SPEC, DEFAULT_FRAMING, &[], false);
        let mut connection = 1u32;
        let mut in_header = true;
        for (i, raw) in text.lines().enumerate() {
            let err = |problem: String| RecordingError { line: i + 1, problem };
            let line = raw.trim();
            if line.is_empty() {
                continue;
            }
            if let Some(note) = line.strip_prefix('#') {
                let note = note.trim().to_owned();
                if let Some(n) = connection_note(&note) {
                    connection = n;
                }
                rec.entries.push(Entry::Note(note.clone()));
                if let Some(by) = close_note(&note) {
                    rec.entries.push(Entry::Closed { connection, by });
                }
                continue;
            }
            let direction = match line.chars().next() {
                Some('>') => Some(Direction::ToHost),
                Some('<') => Some(Direction::FromHost),
                _ => None,
            };
            if let Some(direction) = direction {
                in_header = false;
                let frame = crate::hex::decode(line[1..].trim()).map_err(err)?;
                rec.entries.push(Entry::Frame {
                    direction,
                    connection,
                    frame: frame.into(),
                });
                continue;
            }
            let Some((key, value)) = line.split_once(':').filter(|_| in_header) else {
                return Err(err(format!(
                    "expected `> HEX`, `< HEX`, `# note` or (before the first frame) `key: value`, found {:?}",
                    clip(line)
                )));
            };
            let value = value.trim();
            match key.trim() {
                "spec" => rec.spec = value.into(),
                "framing" => {
                    prefix_of(value).ok_or_else(|| err(format!("unknown framing {value:?} (2b, 4b, 4a, 2bcd)")))?;
                    rec.framing = value.into();
                }
                "header" => rec.header = crate::hex::decode(value).map_err(err)?,
                "length-includes-header" => {
                    rec.length_includes_header = match value {
                        "yes" | "true" => true,
                        "no" | "false" => false,
                        _ => return Err(err(format!("length-includes-header is yes or no, not {value:?}"))),
                    }
                }
                other => {
                    return Err(err(format!(
                        "unknown header key {other:?} (spec, framing, header, length-includes-header)"
                    )))
                }
            }
        }
        Ok(rec)
    }

    /// The recording as text, header first.
    pub fn to_text(&self) -> String {
        let mut out = self.header_text();
        for e in &self.entries {
            // Writing to a String cannot fail.
            match e {
                Entry::Frame { direction, frame, .. } => {
                    let _ = writeln!(out, "{} {}", direction_char(*direction), crate::hex::encode(frame));
                }
                Entry::Note(n) => {
                    let _ = writeln!(out, "# {n}");
                }
                Entry::Closed { .. } => {} // written as its note
            }
        }
        out
    }

    /// The header lines.
    pub fn header_text(&self) -> String {
        let mut out = format!("spec: {}\nframing: {}\n", self.spec, self.framing);
        if !self.header.is_empty() {
            let _ = writeln!(out, "header: {}", crate::hex::encode(&self.header));
        }
        if self.length_includes_header {
            out.push_str("length-includes-header: yes\n");
        }
        out
    }

    /// The framing the header describes.
    pub fn framing(&self) -> Framing {
        Framing::builder()
            .prefix(prefix_of(&self.framing).unwrap_or_default())
            .header(&self.header)
            .length_counts_header(self.length_includes_header)
            .build()
    }

    /// Splits a recorded frame into its fixed header and message.
    pub fn unframe(&self, frame: &[u8]) -> Result<(Bytes, Bytes), String> {
        let mut framing = self.framing();
        let mut buf = BytesMut::from(frame);
        match framing.decode(&mut buf) {
            Ok(Some(f)) if buf.is_empty() => Ok((f.header, f.message)),
            Ok(Some(_)) => Err(format!("{} bytes after the frame's end", buf.len())),
            Ok(None) => Err("frame shorter than its length prefix says".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Decodes a recorded frame with `spec`.
    pub fn decode(&self, spec: &Spec, frame: &[u8]) -> Result<Message, String> {
        let (_, message) = self.unframe(frame)?;
        spec.decode_bytes(message).map_err(|e: CodecError| e.to_string())
    }

    /// The requests of the recording with their answers and outcomes, in the order the requests
    /// were sent. Frames to the host that are not requests (answers to the host's own echoes) are
    /// left out; so are the host's own requests.
    pub fn exchanges(&self, spec: &Spec) -> Result<Vec<Exchange>, String> {
        let mut out: Vec<Exchange> = Vec::new();
        // Unanswered requests by connection and STAN, oldest first: an answer looks only at the
        // requests of its connection with its STAN, a close only at its connection's (linear in
        // the recording, where a scan of every exchange per answer was quadratic).
        let mut waiting: HashMap<(u32, Option<Bytes>), VecDeque<usize>> = HashMap::new();
        let mut open: HashMap<u32, Vec<usize>> = HashMap::new();
        for (i, e) in self.entries.iter().enumerate() {
            match e {
                Entry::Frame {
                    direction: Direction::ToHost,
                    connection,
                    frame,
                } => {
                    let msg = self.decode(spec, frame).map_err(|p| format!("entry {}: {p}", i + 1))?;
                    if msg.mti().is_request() && msg.mti().response().is_some() {
                        let key = (*connection, msg.get_bytes(11));
                        waiting.entry(key).or_default().push_back(out.len());
                        open.entry(*connection).or_default().push(out.len());
                        out.push(Exchange {
                            connection: *connection,
                            request_entry: i,
                            request: msg,
                            response_entry: None,
                            response: None,
                            outcome: Outcome::Unanswered,
                        });
                    }
                }
                Entry::Frame {
                    direction: Direction::FromHost,
                    connection,
                    frame,
                } => {
                    let msg = self.decode(spec, frame).map_err(|p| format!("entry {}: {p}", i + 1))?;
                    let Some(queue) = waiting.get_mut(&(*connection, msg.get_bytes(11))) else {
                        continue;
                    };
                    let Some(pos) = queue.iter().position(|&x| {
                        out.get(x)
                            .is_some_and(|x| x.outcome == Outcome::Unanswered && answers(&x.request, &msg))
                    }) else {
                        continue;
                    };
                    let answered = queue.remove(pos);
                    if queue.is_empty() {
                        waiting.remove(&(*connection, msg.get_bytes(11)));
                    }
                    if let Some(x) = answered.and_then(|x| out.get_mut(x)) {
                        x.response_entry = Some(i);
                        x.response = Some(msg);
                        x.outcome = Outcome::Answered;
                    }
                }
                Entry::Closed { connection, .. } => {
                    for x in open.remove(connection).unwrap_or_default() {
                        if let Some(x) = out.get_mut(x).filter(|x| x.outcome == Outcome::Unanswered) {
                            x.outcome = Outcome::Closed;
                            waiting.remove(&(*connection, x.request.get_bytes(11)));
                        }
                    }
                }
                Entry::Note(_) => {}
            }
        }
        Ok(out)
    }
}

/// Whether `response` answers `request`: its response MTI (a repeat answered as the original or
/// as itself), the same DE 11 and, when the request has one, the same DE 41.
///
/// ```
/// use iso8583_client::{Message, recording::answers};
/// let req = Message::new("0401".parse().unwrap()).with(11, "000042"); // a repeated reversal
/// assert!(answers(&req, &Message::new("0410".parse().unwrap()).with(11, "000042")));
/// assert!(!answers(&req, &Message::new("0410".parse().unwrap()).with(11, "000043")));
/// ```
pub fn answers(request: &Message, response: &Message) -> bool {
    let mti_ok =
        request.mti().response() == Some(response.mti()) || request.mti().original().response() == Some(response.mti());
    mti_ok && request.get(11) == response.get(11) && (request.get(41).is_none() || request.get(41) == response.get(41))
}

/// Writes a recording line by line as frames cross the wire (for `iso8583 record`).
///
/// ```
/// use iso8583_client::recording::*;
/// let mut text = Vec::new();
/// let mut w = RecordingWriter::start(&mut text, &Recording::new(DEFAULT_SPEC, DEFAULT_FRAMING, &[], false)).unwrap();
/// w.frame(1, Direction::ToHost, b"\x00\x01\x30").unwrap();
/// w.closed(1, Side::Host).unwrap();
/// let rec = Recording::parse(std::str::from_utf8(&text).unwrap()).unwrap();
/// assert!(rec.entries.contains(&Entry::Closed { connection: 1, by: Side::Host }));
/// ```
pub struct RecordingWriter<W: std::io::Write> {
    out: W,
    connection: u32,
}

impl<W: std::io::Write> RecordingWriter<W> {
    /// Starts a recording: writes the header of `rec` (its entries are ignored).
    pub fn start(mut out: W, rec: &Recording) -> std::io::Result<Self> {
        out.write_all(rec.header_text().as_bytes())?;
        out.flush()?;
        Ok(RecordingWriter { out, connection: 1 })
    }

    fn switch(&mut self, connection: u32) -> std::io::Result<()> {
        if connection != self.connection {
            writeln!(self.out, "# connection {connection}")?;
            self.connection = connection;
        }
        Ok(())
    }

    /// Writes a frame of `connection`.
    pub fn frame(&mut self, connection: u32, direction: Direction, frame: &[u8]) -> std::io::Result<()> {
        self.switch(connection)?;
        writeln!(self.out, "{} {}", direction_char(direction), crate::hex::encode(frame))?;
        self.out.flush()
    }

    /// Writes a note.
    pub fn note(&mut self, text: &str) -> std::io::Result<()> {
        writeln!(self.out, "# {}", text.replace('\n', " "))?;
        self.out.flush()
    }

    /// Writes that `connection` was closed by `by`.
    pub fn closed(&mut self, connection: u32, by: Side) -> std::io::Result<()> {
        self.switch(connection)?;
        let who = match by {
            Side::Client => "client",
            Side::Host => "host",
        };
        self.note(&format!("the {who} closed the connection"))
    }
}

fn connection_note(note: &str) -> Option<u32> {
    let rest = note.strip_prefix("connection ")?;
    rest.split_whitespace().next()?.parse().ok()
}

fn close_note(note: &str) -> Option<Side> {
    let lower = note.to_lowercase();
    if !lower.contains("closed the connection") {
        return None;
    }
    Some(if lower.contains("client") {
        Side::Client
    } else {
        Side::Host
    })
}

/// The length prefix of a framing name (`2b`, `4b`, `4a`, `2bcd`).
pub(crate) fn prefix_of(name: &str) -> Option<LengthPrefix> {
    Some(match name {
        "2b" => LengthPrefix::Binary2,
        "4b" => LengthPrefix::Binary4,
        "4a" => LengthPrefix::Ascii4,
        "2bcd" => LengthPrefix::Bcd2,
        _ => return None,
    })
}

fn direction_char(d: Direction) -> char {
    match d {
        Direction::ToHost => '>',
        Direction::FromHost => '<',
    }
}

fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Recording {
        let path = format!("{}/fixtures/exchanges/{name}", env!("CARGO_MANIFEST_DIR"));
        Recording::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn fixtures_pair_and_close() {
        let spec = Spec::builtin(DEFAULT_SPEC).unwrap();
        let x = fixture("echo-and-auth.txt").exchanges(&spec).unwrap();
        assert_eq!(x.len(), 2);
        assert!(x.iter().all(|x| x.outcome == Outcome::Answered));
        let x = fixture("pipelined-out-of-order-with-drops.txt")
            .exchanges(&spec)
            .unwrap();
        let unanswered: Vec<_> = x
            .iter()
            .filter(|x| x.outcome == Outcome::Unanswered)
            .map(|x| x.request.stan().unwrap().to_owned())
            .collect();
        assert_eq!(unanswered, ["000003", "000006"]);
        let x = fixture("host-closes-mid-flight.txt").exchanges(&spec).unwrap();
        assert_eq!(x.len(), 8);
        assert!(x.iter().all(|x| x.outcome == Outcome::Closed));
    }

    #[test]
    fn errors_name_the_line() {
        let e = Recording::parse("spec: x\n> 0g\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = Recording::parse("> 00\nspec: x\n").unwrap_err();
        assert!(e.problem.contains("before the first frame"), "{e}");
        let e = Recording::parse("framing: 3x\n").unwrap_err();
        assert!(e.to_string().contains("unknown framing"), "{e}");
    }

    #[test]
    fn writer_output_parses_back() {
        let rec = Recording::new("iso87-ascii", "4a", &[0x60, 0, 3, 0, 0], true);
        let mut buf = Vec::new();
        let mut w = RecordingWriter::start(&mut buf, &rec).unwrap();
        w.frame(1, Direction::ToHost, b"0001A").unwrap();
        w.frame(2, Direction::FromHost, b"0001B").unwrap();
        w.closed(2, Side::Host).unwrap();
        let back = Recording::parse(std::str::from_utf8(&buf).unwrap()).unwrap();
        assert_eq!(
            (back.spec.as_str(), back.framing.as_str(), back.length_includes_header),
            ("iso87-ascii", "4a", true)
        );
        assert_eq!(back.header, vec![0x60, 0, 3, 0, 0]);
        assert!(back.entries.contains(&Entry::Closed {
            connection: 2,
            by: Side::Host
        }));
        assert!(matches!(back.entries[2], Entry::Frame { connection: 2, .. }));
    }
}
