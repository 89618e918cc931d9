//! The readable table of a message: MTI with its meaning, then field number, name and value.

use std::fmt::Write;

use iso8583_client::message::MtiClass;
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
