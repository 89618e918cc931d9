//! Reading the messages a command works on: lines of text from a file or standard input, and the
//! files the commands load (specs, recordings), each with a size cap so that no input makes the
//! tool hold more than it must.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;

use anyhow::{bail, Context};

/// The longest input line (a message in hex or JSON): 1 MiB. A longer line is an error for that
/// line; the lines after it are read as usual.
pub const MAX_LINE: usize = 1 << 20;

/// The largest spec or recording file: 16 MiB.
pub const MAX_FILE: u64 = 16 << 20;

/// Input read in 64 KiB blocks.
pub type Input = BufReader<Box<dyn Read + Send>>;

/// A source of input lines: a file, or standard input for `-` or no path.
pub fn open(path: Option<&Path>) -> anyhow::Result<Input> {
    let source: Box<dyn Read + Send> = match path {
        Some(p) if p != Path::new("-") => {
            Box::new(File::open(p).with_context(|| format!("cannot open {}", p.display()))?)
        }
        _ => Box::new(io::stdin()),
    };
    Ok(BufReader::with_capacity(64 * 1024, source))
}

/// Input that flushes an output before it waits for more bytes: a batch command buffers its
/// output for speed, yet each answer shows as soon as the input pauses (`tail -f | iso8583 ...`).
pub struct FlushBeforeWait<'a, W: Write> {
    input: Input,
    out: &'a RefCell<W>,
}

impl<'a, W: Write> FlushBeforeWait<'a, W> {
    /// `input`, flushing `out` whenever all it had read was used.
    pub fn new(input: Input, out: &'a RefCell<W>) -> Self {
        FlushBeforeWait { input, out }
    }
}

impl<W: Write> Read for FlushBeforeWait<'_, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = {
            let available = self.fill_buf()?;
            let n = available.len().min(buf.len());
            buf[..n].copy_from_slice(&available[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl<W: Write> BufRead for FlushBeforeWait<'_, W> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.input.buffer().is_empty() {
            self.out.borrow_mut().flush()?;
        }
        self.input.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        self.input.consume(amt);
    }
}

/// Reads a file the tool loads whole (a spec, a recording) as text: it must be a regular file of
/// at most [`MAX_FILE`] bytes. `what` names it in errors (`spec file`, `recording`).
pub fn read_small_file(path: &Path, what: &str) -> anyhow::Result<String> {
    let file = File::open(path).with_context(|| format!("cannot open {what} {}", path.display()))?;
    let meta = file
        .metadata()
        .with_context(|| format!("cannot read {what} {}", path.display()))?;
    if !meta.is_file() {
        bail!("{what} {} is not a regular file", path.display());
    }
    if meta.len() > MAX_FILE {
        bail!(
            "{what} {} is {} bytes; the most a {what} may hold is {} MiB",
            path.display(),
            meta.len(),
            MAX_FILE >> 20
        );
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    // The file may grow after the check: read no more than the cap allows.
    file.take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {what} {}", path.display()))?;
    if bytes.len() as u64 > MAX_FILE {
        bail!("{what} {} is larger than {} MiB", path.display(), MAX_FILE >> 20);
    }
    String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{what} {} is not UTF-8 text", path.display()))
}

/// One input line: its number (from 1) and its text without the line ending, or why it is unreadable.
pub type Line = (usize, Result<String, String>);

/// Iterates the lines of `reader`, numbering them from 1; a line that is not UTF-8 or is longer
/// than [`MAX_LINE`] is an error for that line only (a long line is skipped without being held).
/// An I/O error ends the iteration with an error item.
pub fn lines<R: BufRead>(reader: R) -> impl Iterator<Item = anyhow::Result<Line>> {
    let mut lines = LineReader::new(reader);
    std::iter::from_fn(move || {
        Some(match lines.advance()? {
            Ok((number, Ok(()))) => Ok((number, Ok(lines.text().to_owned()))),
            Ok((number, Err(e))) => Ok((number, Err(e))),
            Err(e) => Err(e),
        })
    })
}

/// The lines of a reader one at a time in one buffer, reused from line to line (the batch path:
/// no allocation per line). [`LineReader::advance`] reads a line and [`LineReader::text`] gives it.
pub struct LineReader<R> {
    reader: R,
    /// The bytes of the line being read.
    buf: Vec<u8>,
    /// The last line read, checked to be UTF-8 (its buffer goes back to `buf` for the next).
    line: String,
    number: usize,
}

impl<R: BufRead> LineReader<R> {
    /// Lines of `reader`, numbered from 1.
    pub fn new(reader: R) -> Self {
        LineReader {
            reader,
            buf: Vec::new(),
            line: String::new(),
            number: 0,
        }
    }

    /// Reads the next line: `None` at the end of input; else its number, and whether it can be
    /// read (a line that is not UTF-8 or is longer than [`MAX_LINE`] cannot, and only that line).
    /// An I/O error is an error item.
    pub fn advance(&mut self) -> Option<anyhow::Result<(usize, Result<(), String>)>> {
        self.line.clear();
        match read_line_capped(&mut self.reader, &mut self.buf) {
            Ok(None) => None,
            Ok(Some(fits)) => {
                self.number += 1;
                if !fits {
                    return Some(Ok((
                        self.number,
                        Err(format!("line longer than {} MiB", MAX_LINE >> 20)),
                    )));
                }
                while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
                    self.buf.pop();
                }
                match String::from_utf8(std::mem::take(&mut self.buf)) {
                    Ok(line) => {
                        // The old line's buffer reads the next line.
                        self.buf = std::mem::replace(&mut self.line, line).into_bytes();
                        Some(Ok((self.number, Ok(()))))
                    }
                    Err(e) => {
                        self.buf = e.into_bytes();
                        Some(Ok((self.number, Err("line is not UTF-8 text".to_owned()))))
                    }
                }
            }
            Err(e) => Some(Err(anyhow::Error::new(e).context("cannot read input"))),
        }
    }

    /// The text of the line [`LineReader::advance`] read last, without its line ending (empty
    /// for a line that could not be read).
    pub fn text(&self) -> &str {
        &self.line
    }
}

/// Reads one line into `buf` (cleared first; ending included): `None` at the end of input,
/// `Some(false)` for a line longer than [`MAX_LINE`] (read to its end, but not kept whole).
fn read_line_capped(reader: &mut impl BufRead, buf: &mut Vec<u8>) -> io::Result<Option<bool>> {
    buf.clear();
    // A line of exactly MAX_LINE bytes plus `\r\n` fits.
    let limit = MAX_LINE + 2;
    // As `read_until` on at most `limit` bytes, with the newline found by `memchr` (vectorised).
    let mut n = 0;
    while n < limit {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let window = &available[..available.len().min(limit - n)];
        if window.is_empty() {
            break;
        }
        let (taken, done) = match memchr::memchr(b'\n', window) {
            Some(at) => (at + 1, true),
            None => (window.len(), false),
        };
        buf.extend_from_slice(&window[..taken]);
        reader.consume(taken);
        n += taken;
        if done {
            break;
        }
    }
    if n == 0 {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') && n >= limit {
        // Longer than the cap: the rest of the line is skipped, not held.
        reader.skip_until(b'\n')?;
        return Ok(Some(false));
    }
    let body = buf.len() - buf.iter().rev().take_while(|b| matches!(b, b'\n' | b'\r')).count();
    Ok(Some(body <= MAX_LINE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_line_is_an_error_and_the_next_is_read() {
        let mut text = "A".repeat(MAX_LINE + 1);
        text.push_str("\nok\r\n");
        text.push_str(&"B".repeat(MAX_LINE));
        let got: Vec<Line> = lines(io::Cursor::new(text.into_bytes())).map(Result::unwrap).collect();
        assert_eq!(got.len(), 3);
        assert!(got[0].1.as_ref().unwrap_err().contains("longer than 1 MiB"));
        assert_eq!(got[1], (2, Ok("ok".to_owned())));
        assert_eq!(got[2].1.as_ref().map(String::len), Ok(MAX_LINE));
    }

    #[test]
    fn lines_read_through_a_small_buffer_match_splitting_the_text() {
        // Lines that span many fills of the buffer, empty lines, CR LF, the cap exactly (with
        // and without CR LF), one byte over it, and a last line without a newline.
        let cap = "C".repeat(MAX_LINE);
        let over = "D".repeat(MAX_LINE + 1);
        let text = format!("abc\n\n{cap}\r\n{over}\nxy\r\n{cap}\nlast");
        for capacity in [3, 7, 64, 8192] {
            let reader = io::BufReader::with_capacity(capacity, io::Cursor::new(text.clone().into_bytes()));
            let got: Vec<Line> = lines(reader).map(Result::unwrap).collect();
            let lens: Vec<Result<usize, String>> = got
                .iter()
                .map(|(_, l)| l.as_ref().map(String::len).map_err(Clone::clone))
                .collect();
            assert_eq!(got.len(), 7, "{capacity}");
            assert_eq!(got[0].1, Ok("abc".to_owned()));
            assert_eq!(got[1].1, Ok(String::new()));
            assert_eq!(lens[2], Ok(MAX_LINE), "{capacity}");
            assert!(
                got[3].1.as_ref().is_err_and(|e| e.contains("longer than 1 MiB")),
                "{capacity}"
            );
            assert_eq!(got[4].1, Ok("xy".to_owned()), "{capacity}");
            assert_eq!(lens[5], Ok(MAX_LINE), "{capacity}");
            assert_eq!(got[6], (7, Ok("last".to_owned())), "{capacity}");
        }
    }
}
