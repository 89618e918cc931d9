//! `encode` reads the common JSON shape by a fast path and everything else by the general one;
//! both must give the same bytes and the same errors. A varied set of lines (escapes, numbers,
//! composite fields, unknown keys, duplicates, whitespace, masked values, binary fields, bad JSON)
//! must give what the general reading gives, recorded in `fixtures/encode_paths/`.
#![cfg(feature = "cli")]

mod cli_support;

use cli_support::run;

#[test]
fn encode_of_varied_lines_matches_the_general_reading_in_each_builtin_spec() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/encode_paths");
    let input = format!("{dir}/input.jsonl");
    for spec in ["iso87-ascii", "iso87-ascii-binary-bitmap", "iso87-bcd"] {
        let r = run(&["encode", "--spec", spec, "--file", &input]);
        assert_eq!(r.status.code(), Some(1), "{spec}: some lines are bad");
        let want_out = std::fs::read_to_string(format!("{dir}/{spec}.out")).unwrap();
        let want_err = std::fs::read_to_string(format!("{dir}/{spec}.err")).unwrap();
        for (i, (got, want)) in r.stdout.lines().zip(want_out.lines()).enumerate() {
            assert_eq!(got, want, "{spec}: output line {}", i + 1);
        }
        assert_eq!(r.stdout.lines().count(), want_out.lines().count(), "{spec}");
        for (got, want) in r.stderr.lines().zip(want_err.lines()) {
            assert_eq!(got, want, "{spec}");
        }
        assert_eq!(
            r.stderr.lines().count(),
            want_err.lines().count(),
            "{spec}: {}",
            r.stderr
        );
    }
}
