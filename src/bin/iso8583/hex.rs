//! The library's hex text codec, as the tool takes it from operators: empty text is refused.

/// Uppercase hex of `bytes` (as [`iso8583_client::hex::encode`], by table: the batch path).
pub fn encode(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    encode_into(bytes, &mut s);
    s
}

/// The value of each byte as a hex digit, 0xFF for any other byte: one look-up a digit, and one
/// test (any high bit) for a whole block of them.
const NIBBLES: [u8; 256] = {
    let mut table = [0xFFu8; 256];
    let mut c = 0;
    while c < 10 {
        table[b'0' as usize + c] = c as u8;
        c += 1;
    }
    let mut c = 0;
    while c < 6 {
        table[b'a' as usize + c] = 10 + c as u8;
        table[b'A' as usize + c] = 10 + c as u8;
        c += 1;
    }
    table
};

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
        if let Some(out) = decode_digits(digits) {
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

/// The bytes of an even run of hex digits, `None` if any byte is not one: sixteen digits at a
/// time into a fixed-size block, checked once per block.
fn decode_digits(digits: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(digits.len() / 2);
    // (value, all bits seen): any high bit seen means a byte that is not a hex digit.
    let pair = |pair: &[u8]| -> (u8, u8) {
        let (h, l) = match pair {
            [h, l] => (NIBBLES[usize::from(*h)], NIBBLES[usize::from(*l)]),
            _ => (0xFF, 0xFF),
        };
        (h << 4 | l, h | l)
    };
    let mut sixteens = digits.chunks_exact(16);
    for chunk in &mut sixteens {
        let mut block = [0u8; 8];
        let mut seen = 0u8;
        for (b, digits) in block.iter_mut().zip(chunk.chunks_exact(2)) {
            let (value, bits) = pair(digits);
            *b = value;
            seen |= bits;
        }
        if seen > 0x0F {
            return None;
        }
        out.extend_from_slice(&block);
    }
    for digits in sixteens.remainder().chunks_exact(2) {
        let (value, bits) = pair(digits);
        if bits > 0x0F {
            return None;
        }
        out.push(value);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    /// The batch reading agrees with the library's on every length, with a bad byte (not a hex
    /// digit, or whitespace) at every place, in upper and lower case.
    #[test]
    fn decode_agrees_with_the_library_at_every_length_and_every_bad_place() {
        // The library's reading, with the tool's one difference: empty text is refused.
        let library = |text: &str| {
            iso8583_client::hex::decode(text).and_then(|b| {
                if b.is_empty() {
                    Err("empty hex string".to_owned())
                } else {
                    Ok(b)
                }
            })
        };
        let mut rng = fastrand::Rng::with_seed(5);
        for len in 0..70usize {
            for _ in 0..8 {
                let text: String = (0..len)
                    .map(|_| char::from(b"0123456789abcdefABCDEF"[rng.usize(0..22)]))
                    .collect();
                let ours = super::decode(&text);
                assert_eq!(ours, library(&text), "{text:?}");
                for at in 0..len {
                    for bad in ['g', 'G', ' ', '/', ':', '@', '`', '\0', 'é', '٣', 'Ａ', '\u{a0}'] {
                        let text: String = text
                            .chars()
                            .enumerate()
                            .map(|(i, c)| if i == at { bad } else { c })
                            .collect();
                        let ours = super::decode(&text);
                        assert_eq!(ours, library(&text), "{text:?}");
                    }
                }
            }
        }
    }

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
