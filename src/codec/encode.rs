//! The encoder: computes the bitmaps, checks every field against its spec, writes the wire bytes.

use bytes::{BufMut, BytesMut};

use super::decode::Bitmap;
use super::error::{CodecError, ErrorKind, Part};
use super::text::{self, char_to_bcd_nibble, hex_digit};
use crate::spec::{
    BitmapEncoding, ContentClass, Encoding, FieldSpec, FixedPad, LengthKind, LengthUnit, MtiEncoding, OddPad,
    PrefixEncoding, Spec, MAX_FIELD,
};
use crate::{Message, Mti};

/// Upper bound of the encoded size, to reserve once.
pub(crate) fn size_hint(msg: &Message) -> usize {
    4 + 48 + msg.fields().map(|(_, v)| 2 * v.len() + 4).sum::<usize>()
}

/// Bytes a length prefix of `digits` takes in its encoding.
pub(crate) fn prefix_width(digits: u8, enc: PrefixEncoding) -> usize {
    match enc {
        PrefixEncoding::Ascii | PrefixEncoding::Ebcdic => digits as usize,
        PrefixEncoding::Bcd => (digits as usize).div_ceil(2),
        PrefixEncoding::Binary if digits <= 2 => 1,
        PrefixEncoding::Binary => 2,
    }
}

fn write_prefix(out: &mut BytesMut, digits: u8, enc: PrefixEncoding, n: usize) {
    let mut dec = [0u8; 4];
    let mut v = n;
    for d in dec[..digits as usize].iter_mut().rev() {
        *d = (v % 10) as u8;
        v /= 10;
    }
    let dec = &dec[..digits as usize];
    match enc {
        PrefixEncoding::Ascii => out.extend(dec.iter().map(|d| b'0' + d)),
        PrefixEncoding::Ebcdic => out.extend(dec.iter().map(|d| 0xF0 + d)),
        PrefixEncoding::Bcd => {
            // Left-pad to an even digit count: LLL 104 -> 01 04.
            let odd = dec.len() % 2;
            let mut nibbles = std::iter::repeat_n(0u8, odd).chain(dec.iter().copied());
            while let (Some(hi), Some(lo)) = (nibbles.next(), nibbles.next()) {
                out.put_u8(hi << 4 | lo);
            }
        }
        PrefixEncoding::Binary if digits <= 2 => out.put_u8(n as u8),
        PrefixEncoding::Binary => out.put_u16(n as u16),
    }
}

/// `digits`: the caller has checked that `value` is all digits (class `n`).
fn write_bcd(out: &mut BytesMut, fs: &FieldSpec, value: &[u8], pad: bool, digits: bool) -> Result<(), ErrorKind> {
    let pad_nibble = if matches!(fs.odd_pad, OddPad::LeftF | OddPad::RightF) {
        0xF
    } else {
        0
    };
    let left = pad && matches!(fs.odd_pad, OddPad::LeftZero | OddPad::LeftF);
    if text::write_bcd_digits(out, fs.class, value, pad.then_some(pad_nibble), left, digits) {
        return Ok(());
    }
    // Other characters (class `z`'s `D`, or an error to name): nibble by nibble. The nibbles in
    // order: the value's, after (left) or before (right) the pad nibble if `pad`.
    let lead = usize::from(left);
    let nibble = |k: usize| -> Result<u8, ErrorKind> {
        match value.get(k.wrapping_sub(lead)) {
            Some(&c) => char_to_bcd_nibble(fs.class, c).ok_or(ErrorKind::BadContent {
                class: fs.class,
                position: k - lead,
                found: c,
            }),
            None => Ok(pad_nibble),
        }
    };
    let total = value.len() + usize::from(pad);
    out.reserve(total / 2);
    for k in (0..total / 2 * 2).step_by(2) {
        out.put_u8(nibble(k)? << 4 | nibble(k + 1)?);
    }
    if total % 2 == 1 {
        // A last half byte is not written, but its character is checked.
        nibble(total - 1)?;
    }
    Ok(())
}

/// Writes one field (prefix and content) after checking it against its spec.
#[inline]
fn write_field(out: &mut BytesMut, fs: &FieldSpec, value: &[u8]) -> Result<(), ErrorKind> {
    // The common case first: ASCII content of the right length, fixed or behind an ASCII prefix.
    // Whatever else (padding, other encodings, a length error) takes the general path below.
    if fs.encoding == Encoding::Ascii {
        let (len, max) = (value.len(), fs.max_len as usize);
        match fs.length {
            LengthKind::Fixed if len == max => {
                text::check_class(fs.class, value)?;
                out.extend_from_slice(value);
                return Ok(());
            }
            LengthKind::Variable(d)
                if len <= max && d <= 4 && fs.prefix == PrefixEncoding::Ascii && !fs.prefix_counts_itself =>
            {
                text::check_class(fs.class, value)?;
                let digits = [
                    b'0' + (len / 1000 % 10) as u8,
                    b'0' + (len / 100 % 10) as u8,
                    b'0' + (len / 10 % 10) as u8,
                    b'0' + (len % 10) as u8,
                ];
                // The common widths as fixed-size copies (no call to copy a few bytes).
                match d {
                    2 => out.put_slice(&[digits[2], digits[3]]),
                    3 => out.put_slice(&[digits[1], digits[2], digits[3]]),
                    _ => out.extend_from_slice(&digits[4 - d as usize..]),
                }
                out.extend_from_slice(value);
                return Ok(());
            }
            _ => {}
        }
    } else if fs.encoding == Encoding::Bcd && fs.class == ContentClass::N && fs.unit == LengthUnit::Digits {
        // Digits packed in BCD, their count the length: of the right length, fixed or behind
        // a prefix that does not count itself (what the general path does for them, in order).
        let (len, max) = (value.len(), fs.max_len as usize);
        let prefix = match fs.length {
            LengthKind::Fixed if len == max => Some(None),
            LengthKind::Variable(d) if len <= max && !fs.prefix_counts_itself => Some(Some(d)),
            _ => None,
        };
        if let Some(prefix) = prefix {
            if let Some(d) = prefix {
                write_prefix(out, d, fs.prefix, len);
            }
            text::check_class(ContentClass::N, value)?;
            return write_bcd(out, fs, value, len % 2 == 1, true);
        }
    }
    write_field_general::<false>(out, fs, value)
}

/// Writes one sub-field of a composite, as [`write_field`] does a field. (A separate copy, so that
/// the message encoder's keeps a single caller and is inlined as before.)
pub(crate) fn write_subfield(out: &mut BytesMut, fs: &FieldSpec, value: &[u8]) -> Result<(), ErrorKind> {
    write_field_general::<true>(out, fs, value)
}

fn write_field_general<const SUB: bool>(out: &mut BytesMut, fs: &FieldSpec, value: &[u8]) -> Result<(), ErrorKind> {
    // Packed BCD counted in bytes cannot carry an odd digit count: the pad nibble would read back as a digit.
    if fs.encoding == Encoding::Bcd && fs.unit == LengthUnit::Bytes && value.len() % 2 == 1 {
        return Err(ErrorKind::OddDigitCount(value.len()));
    }
    // Length in the field's units.
    let units = match (fs.encoding, fs.unit) {
        (Encoding::Bcd, LengthUnit::Bytes) => value.len().div_ceil(2),
        (Encoding::Hex, _) => value.len() * 2,
        _ => value.len(),
    };
    let max = fs.max_len as usize;
    let mut padded: Option<Vec<u8>> = None;
    match fs.length {
        LengthKind::Fixed if units == max => {}
        LengthKind::Fixed if units < max && fs.pad != FixedPad::None => {
            // Check the value as given, so that a bad character's position is the caller's.
            text::check_class(fs.class, value)?;
            // In characters: packed BCD counted in bytes holds two digits a unit.
            let fill = match (fs.encoding, fs.unit) {
                (Encoding::Bcd, LengthUnit::Bytes) => 2 * (max - units),
                _ => max - units,
            };
            let mut v = Vec::with_capacity(max);
            match fs.pad {
                FixedPad::LeftZeros => {
                    v.resize(fill, b'0');
                    v.extend_from_slice(value);
                }
                _ => {
                    v.extend_from_slice(value);
                    v.resize(max, b' ');
                }
            }
            padded = Some(v);
        }
        LengthKind::Fixed => {
            return Err(ErrorKind::WrongLength {
                expected: max,
                found: units,
            })
        }
        LengthKind::Variable(_) if units > max => return Err(ErrorKind::LengthOverMax { found: units, max }),
        LengthKind::Variable(d) if fs.prefix_counts_itself => {
            write_prefix(out, d, fs.prefix, units + prefix_width(d, fs.prefix))
        }
        LengthKind::Variable(d) => write_prefix(out, d, fs.prefix, units),
    }
    let value = padded.as_deref().unwrap_or(value);
    match fs.encoding {
        Encoding::Binary => out.extend_from_slice(value),
        Encoding::Ascii => {
            text::check_class(fs.class, value)?;
            out.extend_from_slice(value);
        }
        Encoding::Ebcdic => {
            text::check_class(fs.class, value)?;
            out.extend(value.iter().map(|&b| super::ebcdic::LATIN1_TO_EBCDIC[b as usize]));
        }
        Encoding::Hex => {
            for &b in value {
                out.put_slice(&[hex_digit(b >> 4), hex_digit(b)]);
            }
        }
        Encoding::Bcd => {
            // Class `n` is checked here (its errors name the character), and so not again.
            let digits = fs.class == ContentClass::N;
            if digits {
                text::check_class(fs.class, value)?;
            }
            write_bcd(out, fs, value, value.len() % 2 == 1, digits)?;
        }
    }
    Ok(())
}

/// Appends the encoded message (no length prefix) to `out`. On error `out` is left as it was.
pub(crate) fn encode_into(spec: &Spec, msg: &Message, out: &mut BytesMut) -> Result<(), CodecError> {
    encode_with(spec, msg.mti(), || msg.fields(), out)
}

/// Appends the message of `mti` and `fields` (number, canonical value; in increasing number
/// order, each once), as [`encode_into`] does for a [`Message`] holding them. On error `out` is
/// left as it was.
pub(crate) fn encode_fields_into<'v, I>(spec: &Spec, mti: Mti, fields: I, out: &mut BytesMut) -> Result<(), CodecError>
where
    I: Iterator<Item = (u8, &'v [u8])> + Clone,
{
    encode_with(spec, mti, || fields.clone(), out)
}

/// The encoder over any source of fields: `fields` gives them afresh, in order, for each pass.
#[inline]
fn encode_with<'v, I>(spec: &Spec, mti: Mti, fields: impl Fn() -> I, out: &mut BytesMut) -> Result<(), CodecError>
where
    I: Iterator<Item = (u8, &'v [u8])>,
{
    let start = out.len();
    let result = encode_inner(spec, mti, fields, out, start);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

#[inline]
fn encode_inner<'v, I>(
    spec: &Spec,
    mti: Mti,
    fields: impl Fn() -> I,
    out: &mut BytesMut,
    start: usize,
) -> Result<(), CodecError>
where
    I: Iterator<Item = (u8, &'v [u8])>,
{
    // One pass over the fields for the bitmap and the room to reserve, one to write them.
    let mut bits = Bitmap::default();
    // The highest field so far: fields come in increasing order (a message keeps them so).
    let mut highest = 0u8;
    let mut size = 4 + 48;
    for (n, value) in fields() {
        if !(2..=MAX_FIELD).contains(&n) || n == 65 || n <= highest {
            let part = Part::Field {
                number: n,
                name: "".into(),
            };
            // Where the bitmap would start: after the MTI.
            let at = if spec.mti == MtiEncoding::Bcd { 2 } else { 4 };
            return Err(CodecError::new(part, at, ErrorKind::BadFieldNumber));
        }
        bits.set(n as usize - 1);
        highest = n;
        size += 2 * value.len() + 4;
    }
    out.reserve(size);
    let d = mti.as_bytes();
    match spec.mti {
        MtiEncoding::Ascii => out.put_slice(d),
        MtiEncoding::Ebcdic => out.extend(d.iter().map(|c| c - b'0' + 0xF0)),
        MtiEncoding::Bcd => out.put_slice(&[(d[0] - b'0') << 4 | (d[1] - b'0'), (d[2] - b'0') << 4 | (d[3] - b'0')]),
    }
    let maps = if highest > 128 {
        3
    } else if highest > 64 {
        2
    } else {
        1
    };
    if maps >= 2 {
        bits.set(0);
    }
    if maps == 3 {
        bits.set(64);
    }
    for n in 0..maps {
        let chunk = bits.bytes(n);
        match spec.bitmap {
            BitmapEncoding::Binary => out.put_slice(&chunk),
            BitmapEncoding::Hex => {
                let mut digits = [0u8; 16];
                for (pair, &b) in digits.chunks_exact_mut(2).zip(&chunk) {
                    pair.copy_from_slice(&[hex_digit(b >> 4), hex_digit(b)]);
                }
                out.put_slice(&digits);
            }
        }
    }
    for (n, value) in fields() {
        let at = out.len() - start;
        let Some(fs) = spec.field(n) else {
            return Err(CodecError::new(
                Part::Field {
                    number: n,
                    name: "".into(),
                },
                at,
                ErrorKind::UndefinedField,
            ));
        };
        if let Some(c) = &fs.composite {
            if c.strict {
                crate::message::check_field(fs, value).map_err(|e| {
                    CodecError::new(
                        Part::Field {
                            number: n,
                            name: fs.name.clone(),
                        },
                        at,
                        ErrorKind::BadStructure(e.within_field()),
                    )
                })?;
            }
        }
        write_field(out, fs, value).map_err(|kind| {
            CodecError::new(
                Part::Field {
                    number: n,
                    name: fs.name.clone(),
                },
                at,
                kind,
            )
        })?;
    }
    Ok(())
}
