//! `--config FILE` on `iso8583 sim`, `send` and `bench`: the library's configuration file (an
//! `[iso8583]` table) gives spec, framing, host and link settings; options on the command line
//! override it.
#![cfg(feature = "cli")]

mod cli_support;

use cli_support::{run, run_with_input, start_sim, temp};

const ECHO: &str = r#"{"mti": "0800", "fields": {"11": "000001", "41": "TERM0001", "70": "301"}}"#;

/// A service-style file: its own table, then the client's, with 4-ASCII-digit framing.
fn config_file(name: &str, endpoint: &str) -> String {
    let path = temp(name);
    let text = format!(
        "[service]\nname = \"test\"\n\n[iso8583]\nspec = \"iso87-ascii\"\nendpoints = [\"{endpoint}\"]\nmatch_fields = [41]\n\n[iso8583.framing]\nprefix = \"4a\"\n\n[iso8583.network]\nsign_on = true\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn sim_and_send_take_spec_framing_and_host_from_the_file() {
    // The simulator takes its framing from the file (no endpoint needed for it).
    let sim_file = config_file("sim.toml", "127.0.0.1:1");
    let sim = start_sim(&["--config", &sim_file, "--verbose"]);
    let file = config_file("send.toml", &sim.addr.to_string());
    // No --host, no --framing: both from the file; signed on first, as the file says.
    let r = run_with_input(&["send", "--config", &file], ECHO);
    r.assert_ok();
    let answer: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(answer["fields"]["39"], "00", "{}", r.stdout);
    assert_eq!(answer["fields"]["41"], "TERM0001");
    // bench too: host, framing and sign-on from the file.
    let r = run(&["bench", "--config", &file, "--count", "20", "--json", "--quiet"]);
    r.assert_ok();
    assert!(r.stdout.contains("\"answered\":20"), "{}", r.stdout);
    // A flag overrides the file: 2-byte framing does not match the simulator's 4a.
    let r = run_with_input(
        &[
            "send",
            "--config",
            &file,
            "--framing",
            "2b",
            "--timeout-ms",
            "300",
            "--retries",
            "0",
        ],
        ECHO,
    );
    assert!(!r.ok(), "{r:?}");
}

#[test]
fn the_documented_example_file_is_accepted_and_mistakes_are_named() {
    let example = format!("{}/fixtures/client-config.toml", env!("CARGO_MANIFEST_DIR"));
    run(&[
        "sim",
        "--listen",
        "127.0.0.1:0",
        "--config",
        &example,
        "--duration",
        "0.1",
    ])
    .assert_ok();
    let bad = temp("bad.toml");
    std::fs::write(&bad, "[iso8583]\npool_sise = 2\n").unwrap();
    let r = run(&["sim", "--listen", "127.0.0.1:0", "--config", &bad, "--duration", "0.1"]);
    r.assert_clean_failure();
    assert!(r.stderr.contains("pool_sise"), "{}", r.stderr);
}
