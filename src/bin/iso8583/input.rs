//! Reading the messages a command works on: lines of text from a file or standard input.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use anyhow::Context;

/// A source of input lines: a file, or standard input for `-` or no path.
pub fn open(path: Option<&Path>) -> anyhow::Result<Box<dyn BufRead + Send>> {
    match path {
        Some(p) if p != Path::new("-") => {
            let f = File::open(p).with_context(|| format!("cannot open {}", p.display()))?;
            Ok(Box::new(BufReader::new(f)))
        }
        _ => Ok(Box::new(BufReader::new(io::stdin()))),
    }
}

/// Reads the whole source as text.
pub fn read_all(path: Option<&Path>) -> anyhow::Result<String> {
    let mut text = String::new();
    let name = path.map_or("standard input".into(), |p| p.display().to_string());
    open(path)?
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read {name} as UTF-8 text"))?;
    Ok(text)
}

/// One input line: its number (from 1) and its text without the line ending, or why it is unreadable.
pub type Line = (usize, Result<String, String>);

/// Iterates the lines of `reader`, numbering them from 1; a line that is not UTF-8 is an error
/// for that line only. An I/O error ends the iteration with an error item.
pub fn lines(mut reader: Box<dyn BufRead + Send>) -> impl Iterator<Item = anyhow::Result<Line>> {
    let mut number = 0usize;
    let mut buf = Vec::new();
    std::iter::from_fn(move || {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) => None,
            Ok(_) => {
                number += 1;
                while matches!(buf.last(), Some(b'\n' | b'\r')) {
                    buf.pop();
                }
                let text = String::from_utf8(std::mem::take(&mut buf)).map_err(|_| "line is not UTF-8 text".to_owned());
                Some(Ok((number, text)))
            }
            Err(e) => Some(Err(anyhow::Error::new(e).context("cannot read input"))),
        }
    })
}
