//! The library's hex text codec, as the tool takes it from operators: empty text is refused.

/// Uppercase hex of `bytes` (as [`iso8583_client::hex::encode`], by table: the batch path).
pub fn encode(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    encode_into(bytes, &mut s);
    s
}

/// The value of one hex digit.
fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Appends the uppercase hex of `bytes` to `out`.
pub fn encode_into(bytes: &[u8], out: &mut String) {
    let mut text = Vec::with_capacity(bytes.len() * 2);
    encode_bytes_into(bytes, &mut text);
    // Hex digits only: ASCII.
    out.push_str(std::str::from_utf8(&text).unwrap_or_default());
}

/// Appends the uppercase hex of `bytes` to `out`, as ASCII bytes (two digits a byte, by table).
pub fn encode_bytes_into(bytes: &[u8], out: &mut Vec<u8>) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    const PAIRS: [[u8; 2]; 256] = {
        let mut pairs = [[0u8; 2]; 256];
        let mut b = 0;
        while b < 256 {
            pairs[b] = [DIGITS[b >> 4], DIGITS[b & 0x0f]];
            b += 1;
        }
        pairs
    };
    out.reserve(bytes.len() * 2);
    // Eight bytes at a time through a fixed-size block (no zeroing of the output, no call to
    // copy it), then the rest.
    let mut eights = bytes.chunks_exact(8);
    for chunk in &mut eights {
        let mut digits = [0u8; 16];
        for (pair, b) in digits.chunks_exact_mut(2).zip(chunk) {
            pair.copy_from_slice(&PAIRS[usize::from(*b)]);
        }
        out.extend_from_slice(&digits);
    }
    for b in eights.remainder() {
        out.extend_from_slice(&PAIRS[usize::from(*b)]);
    }
}

/// Bytes of a hex string (see [`iso8583_client::hex::decode`]); empty text is an error here, as
/// nothing the tool reads in hex (a message, a header, a binary field) is given as empty.
pub fn decode(text: &str) -> Result<Vec<u8>, String> {
    // The common case, by table: an even run of hex digits.
    let digits = text.trim().as_bytes();
    if !digits.is_empty() && digits.len() % 2 == 0 {
        let mut out = Vec::with_capacity(digits.len() / 2);
        let all = digits.chunks_exact(2).all(|pair| match pair {
            [h, l] => match (nibble(*h), nibble(*l)) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    true
                }
                _ => false,
            },
            _ => false,
        });
        if all {
            return Ok(out);
        }
    }
    // Whitespace, `0x`, mistakes: the library's reading and its messages.
    let bytes = iso8583_client::hex::decode(text)?;
    if bytes.is_empty() {
        return Err("empty hex string".into());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn encode_bytes_into_appends_the_library_hex_at_every_length() {
        let bytes: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
        for len in 0..40 {
            for offset in [0, 3, 200, 470] {
                let src = &bytes[offset..offset + len];
                let mut out = b"x".to_vec();
                super::encode_bytes_into(src, &mut out);
                assert_eq!(out, [&b"x"[..], iso8583_client::hex::encode(src).as_bytes()].concat());
            }
        }
    }

    #[test]
    fn empty_is_refused() {
        assert_eq!(super::decode("  ").unwrap_err(), "empty hex string");
        assert_eq!(super::decode("0aff").unwrap(), vec![0x0a, 0xff]);
        assert_eq!(
            super::encode(&[0x0a, 0xff, 0x00]),
            iso8583_client::hex::encode(&[0x0a, 0xff, 0x00])
        );
    }
}
