//! `iso8583 decode --expand` and `iso8583 encode` with nested objects, through the real binary.
#![cfg(feature = "cli")]

mod cli_support;

use cli_support::{run, run_with_input};
use serde_json::Value;

/// DE 55 with a cryptogram, an AIP, a PAN (5A), track 2 equivalent data (57), and a template (70)
/// holding the transaction type and cardholder name (5F20).
const ICC: &str = "9F26087A6F1B2C8D1E4F55820258005A0847617390010101195702476170079C01005F200141";

fn encode(json: &str) -> String {
    let r = run_with_input(&["encode", "--spec", "iso87-ascii"], json);
    r.assert_ok();
    r.stdout.trim().to_owned()
}

fn message_hex() -> String {
    encode(&format!(
        r#"{{"mti": "0200", "fields": {{"11": "000001", "55": "{ICC}"}}}}"#
    ))
}

#[test]
fn expand_json_nests_tags_masked_per_tag() {
    let hex = message_hex();
    let r = run(&["decode", "--spec", "iso87-ascii", "--expand", "--json", &hex]);
    r.assert_ok();
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let icc = &v["fields"]["55"];
    assert_eq!(icc["9F26"], "7A6F1B2C8D1E4F55");
    assert_eq!(icc["82"], "5800");
    assert_eq!(icc["5A"], "476173******0119");
    assert_eq!(icc["57"], "****");
    assert_eq!(icc["70"]["9C"], "00");
    assert_eq!(icc["70"]["5F20"], "**");
    assert_eq!(v["fields"]["11"], "000001");
    // Tags in wire order.
    let text = r.stdout.trim();
    assert!(text.find("9F26").unwrap() < text.find("\"82\"").unwrap(), "{text}");
    assert!(!text.contains("4761739001010119"), "PAN leaked: {text}");

    let r = run(&[
        "decode",
        "--spec",
        "iso87-ascii",
        "--expand",
        "--json",
        "--reveal",
        &hex,
    ]);
    r.assert_ok();
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["fields"]["55"]["5A"], "4761739001010119");
    assert_eq!(v["fields"]["55"]["70"]["5F20"], "41");
}

#[test]
fn expand_table_shows_nested_rows() {
    let hex = message_hex();
    let r = run(&["decode", "--spec", "iso87-ascii", "--expand", &hex]);
    r.assert_ok();
    let row = |id: &str| {
        r.stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{id} ")))
            .unwrap_or_else(|| panic!("no row {id}: {}", r.stdout))
            .to_owned()
    };
    assert!(row("9F26").contains("Application Cryptogram"), "{}", r.stdout);
    assert!(row("9F26").ends_with("7A6F1B2C8D1E4F55"), "{}", r.stdout);
    assert!(row("5A").ends_with("476173******0119"), "{}", r.stdout);
    assert!(row("9C").contains("Transaction Type"), "{}", r.stdout);
    // Nested rows are indented deeper than their template.
    let indent = |l: String| l.len() - l.trim_start().len();
    assert!(indent(row("9C")) > indent(row("70")), "{}", r.stdout);
    assert!(!r.stdout.contains("4761739001010119"));
}

#[test]
fn without_expand_output_is_unchanged() {
    let hex = message_hex();
    let plain = run(&["decode", "--spec", "iso87-ascii", &hex]);
    plain.assert_ok();
    let stars = "*".repeat(ICC.len());
    assert_eq!(
        plain.stdout,
        format!("MTI  0200  financial request\n 11  System Trace Audit Number  000001\n 55  ICC data                   {stars}\n")
    );
    let json = run(&["decode", "--spec", "iso87-ascii", "--json", &hex]);
    assert_eq!(
        json.stdout,
        format!("{{\"mti\":\"0200\",\"fields\":{{\"11\":\"000001\",\"55\":\"{stars}\"}}}}\n")
    );
}

#[test]
fn unparseable_sub_structure_prints_plain_and_reports_path_and_offset() {
    let bad = encode(r#"{"mti": "0200", "fields": {"11": "000001", "55": "9F260801"}}"#);
    let good = message_hex();
    let r = run_with_input(
        &["decode", "--spec", "iso87-ascii", "--expand", "--json"],
        &format!("{bad}\n{good}\n"),
    );
    assert_eq!(r.status.code(), Some(1), "{r:#?}");
    let lines: Vec<Value> = r.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2, "{r:#?}");
    assert_eq!(lines[0]["fields"]["55"], "********");
    assert_eq!(lines[1]["fields"]["55"]["82"], "5800");
    assert!(
        r.stderr
            .contains("line 1: field 55 tag 9F26 at byte 0: length 8 runs past the end (1 bytes left)"),
        "{r:#?}"
    );
    let one = run(&["decode", "--spec", "iso87-ascii", "--expand", &bad]);
    assert_eq!(one.status.code(), Some(1), "{one:#?}");
    assert!(one.stdout.contains(" 55  ICC data"), "{one:#?}");
    assert!(one.stderr.contains("field 55 tag 9F26 at byte 0"), "{one:#?}");
}

#[test]
fn encode_accepts_nested_objects_where_the_spec_has_structure() {
    let hex = encode(
        r#"{"mti": "0200", "fields": {"11": "000001", "55": {"9F26": "7A6F1B2C8D1E4F55", "70": {"9C": "00"}}}}"#,
    );
    let r = run(&["decode", "--spec", "iso87-ascii", "--json", "--reveal", &hex]);
    r.assert_ok();
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["fields"]["55"], "70039C01009F26087A6F1B2C8D1E4F55");

    let r = run_with_input(
        &["encode", "--spec", "iso87-ascii"],
        r#"{"mti": "0200", "fields": {"4": {"1": "2"}}}"#,
    );
    assert_eq!(r.status.code(), Some(1), "{r:#?}");
    assert!(
        r.stderr
            .contains("field 4 (Amount, Transaction): the spec declares no sub-structure"),
        "{r:#?}"
    );
    let r = run_with_input(
        &["encode", "--spec", "iso87-ascii"],
        r#"{"mti": "0200", "fields": {"55": {"9F26": "XYZ"}}}"#,
    );
    assert_eq!(r.status.code(), Some(1), "{r:#?}");
    assert!(
        r.stderr.contains("field 55 tag 9F26: binary values are given in hex"),
        "{r:#?}"
    );
}
