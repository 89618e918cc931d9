//! Hex text <-> bytes, the way operators paste messages (uppercase out, any case and spaces in):
//! used by the recording format and the command-line tool.
//!
//! ```
//! use iso8583_client::hex;
//! assert_eq!(hex::encode(&[0x08, 0x00]), "0800");
//! assert_eq!(hex::decode("08 00").unwrap(), vec![0x08, 0x00]);
//! ```

use std::fmt::Write;

/// Uppercase hex of `bytes`.
///
/// ```
/// assert_eq!(iso8583_client::hex::encode(&[0x0a, 0xff]), "0AFF");
/// ```
pub fn encode(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(s, "{b:02X}");
    }
    s
}

/// Bytes of a hex string; ASCII whitespace anywhere is ignored, an optional `0x` prefix too.
/// The error says which character is wrong, counting from 1. Empty text gives no bytes.
///
/// ```
/// use iso8583_client::hex::decode;
/// assert_eq!(decode("0x0AfF").unwrap(), vec![0x0a, 0xff]);
/// assert_eq!(decode("0G").unwrap_err(), "not hex: 'G' at character 2");
/// assert!(decode("").unwrap().is_empty());
/// ```
pub fn decode(text: &str) -> Result<Vec<u8>, String> {
    let text = text.trim();
    let text = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    let mut out = Vec::with_capacity(text.len() / 2);
    let mut high: Option<u8> = None;
    let mut digits = 0usize;
    for (i, c) in text.chars().enumerate() {
        if c.is_ascii_whitespace() {
            continue;
        }
        let v = c
            .to_digit(16)
            .ok_or_else(|| format!("not hex: {c:?} at character {}", i + 1))? as u8;
        digits += 1;
        match high.take() {
            None => high = Some(v),
            Some(h) => out.push(h << 4 | v),
        }
    }
    if high.is_some() {
        return Err(format!("odd number of hex digits ({digits})"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip_and_errors() {
        assert_eq!(super::encode(&[0x0a, 0xff]), "0AFF");
        assert_eq!(super::decode(" 0a ff\t").unwrap(), vec![0x0a, 0xff]);
        assert_eq!(super::decode("0x0AfF").unwrap(), vec![0x0a, 0xff]);
        assert_eq!(super::decode("0AF").unwrap_err(), "odd number of hex digits (3)");
        assert_eq!(super::decode("0G").unwrap_err(), "not hex: 'G' at character 2");
        assert!(super::decode("  ").unwrap().is_empty());
    }
}
