//! The library's hex text codec, as the tool takes it from operators: empty text is refused.

pub use iso8583_client::hex::encode;

/// Bytes of a hex string (see [`iso8583_client::hex::decode`]); empty text is an error here, as
/// nothing the tool reads in hex (a message, a header, a binary field) is given as empty.
pub fn decode(text: &str) -> Result<Vec<u8>, String> {
    let bytes = iso8583_client::hex::decode(text)?;
    if bytes.is_empty() {
        return Err("empty hex string".into());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn empty_is_refused() {
        assert_eq!(super::decode("  ").unwrap_err(), "empty hex string");
        assert_eq!(super::decode("0aff").unwrap(), vec![0x0a, 0xff]);
    }
}
