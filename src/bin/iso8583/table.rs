//! The readable table of a message: MTI with its meaning, then field number, name and value.

use std::fmt::Write;

use iso8583_client::message::{MtiClass, Part, PathError};
use iso8583_client::{Message, Spec};

use crate::json::field_text;

/// The table of `msg`, masked unless `reveal`, ending with a newline.
///
/// ```text
/// MTI  0200  financial request (1987, from acquirer)
///   2  Primary Account Number (PAN)            411111******1111
///   3  Processing Code                         000000
/// ```
pub fn render(spec: &Spec, msg: &Message, reveal: bool) -> String {
    let mti = msg.mti();
    let mut out = String::new();
    let role = match (mti.is_advice(), mti.is_response()) {
        (true, true) => "advice response",
        (true, false) => "advice",
        (false, true) => "response",
        (false, false) => "request",
    };
    let repeat = if mti.is_repeat() { ", repeat" } else { "" };
    let kind = format!("{} {role}{repeat}", class_name(mti.class()));
    let _ = writeln!(out, "MTI  {}  {kind}", mti.as_str());
    let width = msg
        .fields()
        .map(|(n, _)| spec.field(n).map_or(0, |f| f.name().chars().count()))
        .max()
        .unwrap_or(0);
    for (n, v) in msg.fields() {
        let name = spec.field(n).map_or("?", |f| f.name());
        let _ = writeln!(out, "{n:>3}  {name:<width$}  {}", field_text(spec, n, v, reveal));
    }
    out
}

/// The table with composite fields expanded (`--expand`): a row per part, indented under its
/// field, masked per part unless `reveal`. A field whose sub-structure does not parse is shown as
/// without expansion, and its error returned.
///
/// ```text
///  55  ICC data
///        9F26  Application Cryptogram           7A6F1B2C8D1E4F55
///        70    READ RECORD Response Message Template
///          9C  Transaction Type                 00
/// ```
pub fn render_expanded(spec: &Spec, msg: &Message, reveal: bool) -> (String, Vec<PathError>) {
    let mut errors = Vec::new();
    let plain = render(spec, msg, reveal);
    let mut out = String::new();
    let mut rows = plain.lines();
    if let Some(first) = rows.next() {
        let _ = writeln!(out, "{first}");
    }
    for ((n, _), row) in msg.fields().zip(rows) {
        let structured = spec.field(n).and_then(|f| f.composite()).is_some();
        let parts = if structured { Some(msg.parts(n)) } else { None };
        match parts {
            Some(Ok(parts)) => {
                let name = spec.field(n).map_or("?", |f| f.name());
                let _ = writeln!(out, "{n:>3}  {name}");
                part_rows(&mut out, &parts, 1, reveal);
            }
            Some(Err(e)) => {
                errors.push(e);
                let _ = writeln!(out, "{row}");
            }
            None => {
                let _ = writeln!(out, "{row}");
            }
        }
    }
    (out, errors)
}

fn part_rows(out: &mut String, parts: &[Part<'_>], depth: usize, reveal: bool) {
    let width = parts.iter().map(|p| p.name().chars().count()).max().unwrap_or(0);
    let ids = parts.iter().map(|p| p.id().len()).max().unwrap_or(0).max(4);
    for p in parts {
        let indent = 5 + 2 * depth;
        let (id, name) = (p.id(), p.name());
        match p.children() {
            Some(children) => {
                let _ = writeln!(out, "{:indent$}{id:<ids$}  {name}", "");
                part_rows(out, children, depth + 1, reveal);
            }
            None => {
                let _ = writeln!(out, "{:indent$}{id:<ids$}  {name:<width$}  {}", "", p.shown(reveal));
            }
        }
    }
}

/// The message class in words.
pub fn class_name(class: MtiClass) -> &'static str {
    match class {
        MtiClass::Authorization => "authorization",
        MtiClass::Financial => "financial",
        MtiClass::FileAction => "file action",
        MtiClass::Reversal => "reversal",
        MtiClass::Reconciliation => "reconciliation",
        MtiClass::Administrative => "administrative",
        MtiClass::FeeCollection => "fee collection",
        MtiClass::NetworkManagement => "network management",
        MtiClass::Reserved(_) => "reserved-class",
    }
}
