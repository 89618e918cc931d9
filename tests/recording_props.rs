//! Recording files are hostile input (`replay --file`): any edit of a real recording parses to a
//! recording or to an error naming its line, never a panic; what parses writes back to text that
//! parses to the same recording; pairing its exchanges never panics either.
#![cfg(feature = "recording")]

use iso8583_client::recording::Recording;
use iso8583_client::Spec;

const PIECES: &[&str] = &[
    ">",
    "<",
    "#",
    ":",
    " ",
    "\n",
    "\r\n",
    "0",
    "F",
    "G",
    "00",
    "ffff",
    "spec: iso87-bcd",
    "framing: 4a",
    "framing: 9z",
    "header: 6000",
    "header: 6",
    "length-includes-header: yes",
    "# connection 2",
    "# connection 4294967296",
    "# the host closed the connection",
    "# client closed the connection",
    "é",
    "\u{0}",
];

#[test]
fn edited_recordings_parse_or_fail_by_line_and_round_trip() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/exchanges");
    let texts: Vec<String> = [
        "echo-and-auth.txt",
        "host-closes-mid-flight.txt",
        "pipelined-out-of-order-with-drops.txt",
    ]
    .iter()
    .map(|f| std::fs::read_to_string(format!("{dir}/{f}")).unwrap())
    .collect();
    let spec = Spec::builtin("iso87-ascii-binary-bitmap").unwrap();
    let mut rng = fastrand::Rng::with_seed(5);
    let (mut parsed, mut refused) = (0, 0);
    for _ in 0..4000 {
        let mut text = texts[rng.usize(0..texts.len())].clone();
        for _ in 0..rng.usize(1..5) {
            let at = rng.usize(0..=text.len());
            let at = (0..=at).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
            match rng.u8(0..3) {
                0 => text.insert_str(at, PIECES[rng.usize(0..PIECES.len())]),
                1 => {
                    let end = (at + rng.usize(1..12)).min(text.len());
                    let end = (end..=text.len()).find(|i| text.is_char_boundary(*i)).unwrap();
                    text.replace_range(at..end, "");
                }
                _ => {
                    let end = (at + 1).min(text.len());
                    let end = (end..=text.len()).find(|i| text.is_char_boundary(*i)).unwrap();
                    text.replace_range(at..end, PIECES[rng.usize(0..PIECES.len())]);
                }
            }
        }
        match Recording::parse(&text) {
            Ok(rec) => {
                parsed += 1;
                let again = Recording::parse(&rec.to_text()).unwrap_or_else(|e| panic!("{e}: {:?}", rec.to_text()));
                assert_eq!(again.to_text(), rec.to_text());
                assert_eq!(format!("{:?}", again.entries), format!("{:?}", rec.entries));
                // Pairing reads every frame: an error for what it cannot read, never a panic.
                let _ = rec.exchanges(&spec);
            }
            Err(e) => {
                refused += 1;
                let lines = text.lines().count().max(1);
                assert!((1..=lines).contains(&e.line), "line {} of {lines}: {e}", e.line);
            }
        }
    }
    assert!(parsed > 100 && refused > 100, "{parsed} parsed, {refused} refused");
}
