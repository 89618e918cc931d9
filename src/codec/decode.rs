//! The decoder: small nom parsers, one per part (MTI, bitmap, length prefix, field content),
//! composed by [`decode`] as the spec directs. Every parser works on a complete frame: running out
//! of input is a malformed message, never a request for more.

use bitvec::prelude::*;
use bytes::{Bytes, BytesMut};
use nom::bytes::complete::take;
use nom::error::{ErrorKind as NomKind, ParseError};
use nom::IResult;

use super::error::{CodecError, ErrorKind, Part};
use super::text::{self, bcd_nibble_to_char};
use crate::message::Value as FieldValue;
use crate::spec::{
    BitmapEncoding, Encoding, FieldSpec, LengthKind, LengthUnit, MtiEncoding, OddPad, PrefixEncoding, Spec,
};
use crate::{Message, Mti};

/// The bitmaps as one bitvec bit array of three 64-bit words, most significant bit first (`Msb0`):
/// bit 1 of the message (secondary present) is index 0, the top bit of word 0; bit 65 (tertiary
/// present) is index 64, the top bit of word 1. Words are read and written whole on the wire.
#[derive(Clone, Copy, Default)]
pub(crate) struct Bitmap(BitArr!(for 192, in u64, Msb0));

impl Bitmap {
    /// Sets the bit of `index` (bit 1 of the message is index 0).
    #[inline]
    pub(crate) fn set(&mut self, index: usize) {
        self.0.set(index, true);
    }

    /// Whether the bit of `index` is set.
    #[inline]
    pub(crate) fn get(&self, index: usize) -> bool {
        self.0[index]
    }

    /// Bitmap `n` (0-based) as its 8 wire bytes.
    #[inline]
    pub(crate) fn bytes(&self, n: usize) -> [u8; 8] {
        self.0.as_raw_slice()[n].to_be_bytes()
    }

    /// Stores bitmap `n` (0-based) from its 8 wire bytes.
    #[inline]
    fn put(&mut self, n: usize, wire: [u8; 8]) {
        self.0.as_raw_mut_slice()[n] = u64::from_be_bytes(wire);
    }

    fn count_ones(&self) -> usize {
        self.0.count_ones()
    }
}

/// Indexes of the set bits, lowest first (bit 1 of the message is index 0), a 64-bit word at a time.
fn set_bits(bits: &Bitmap) -> impl Iterator<Item = usize> + '_ {
    bits.0.as_raw_slice().iter().enumerate().flat_map(|(i, &w)| {
        let mut word = w;
        std::iter::from_fn(move || {
            if word == 0 {
                return None;
            }
            let lead = word.leading_zeros() as usize;
            word &= !(1u64 << (63 - lead));
            Some(i * 64 + lead)
        })
    })
}

/// A parser failure: what went wrong, and how much input was left where it did.
#[derive(Debug)]
pub(crate) struct Fail {
    left: usize,
    kind: ErrorKind,
}

impl Fail {
    fn at(input: &[u8], kind: ErrorKind) -> nom::Err<Fail> {
        nom::Err::Failure(Fail {
            left: input.len(),
            kind,
        })
    }
}

impl ParseError<&[u8]> for Fail {
    fn from_error_kind(input: &[u8], _kind: NomKind) -> Self {
        Fail {
            left: input.len(),
            kind: ErrorKind::Truncated {
                needed: 0,
                available: input.len(),
            },
        }
    }
    fn append(_input: &[u8], _kind: NomKind, other: Self) -> Self {
        other
    }
}

type PResult<'a, T> = IResult<&'a [u8], T, Fail>;

/// Exactly `n` bytes, or a `Truncated` failure that says how many were needed.
fn exact(n: usize) -> impl Fn(&[u8]) -> PResult<'_, &[u8]> {
    move |input| {
        take::<_, _, Fail>(n)(input).map_err(|_| {
            Fail::at(
                input,
                ErrorKind::Truncated {
                    needed: n,
                    available: input.len(),
                },
            )
        })
    }
}

fn hex_dump(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect::<Vec<_>>().join(" ")
}

/// The MTI: four ASCII or EBCDIC digits, or two bytes of BCD.
fn mti(enc: MtiEncoding) -> impl Fn(&[u8]) -> PResult<'_, Mti> {
    move |input| {
        let width = if enc == MtiEncoding::Bcd { 2 } else { 4 };
        let (rest, raw) = exact(width)(input)?;
        let digits = match enc {
            MtiEncoding::Ascii => [raw[0], raw[1], raw[2], raw[3]],
            MtiEncoding::Ebcdic => [raw[0], raw[1], raw[2], raw[3]].map(|b| b.wrapping_sub(0xF0).wrapping_add(b'0')),
            MtiEncoding::Bcd => [raw[0] >> 4, raw[0] & 0xF, raw[1] >> 4, raw[1] & 0xF].map(|n| n.wrapping_add(b'0')),
        };
        match Mti::new(digits) {
            Some(m) => Ok((rest, m)),
            None => Err(Fail::at(input, ErrorKind::BadMti { found: hex_dump(raw) })),
        }
    }
}

/// One 64-bit bitmap: 8 raw bytes, or 16 hex characters.
fn bitmap(enc: BitmapEncoding) -> impl Fn(&[u8]) -> PResult<'_, [u8; 8]> {
    move |input| match enc {
        BitmapEncoding::Binary => {
            let (rest, raw) = exact(8)(input)?;
            let mut out = [0u8; 8];
            out.copy_from_slice(raw);
            Ok((rest, out))
        }
        BitmapEncoding::Hex => {
            let (rest, raw) = exact(16)(input)?;
            let mut out = [0u8; 8];
            for (i, pair) in raw.chunks_exact(2).enumerate() {
                let hi = text::hex_value(pair[0]).ok_or_else(|| {
                    Fail::at(
                        input,
                        ErrorKind::BadBitmap {
                            position: 2 * i,
                            found: pair[0],
                        },
                    )
                })?;
                let lo = text::hex_value(pair[1]).ok_or_else(|| {
                    Fail::at(
                        input,
                        ErrorKind::BadBitmap {
                            position: 2 * i + 1,
                            found: pair[1],
                        },
                    )
                })?;
                out[i] = hi << 4 | lo;
            }
            Ok((rest, out))
        }
    }
}

/// A length prefix of `digits` decimal digits in its encoding.
fn length_prefix(digits: u8, enc: PrefixEncoding) -> impl Fn(&[u8]) -> PResult<'_, usize> {
    move |input| {
        let width = match enc {
            PrefixEncoding::Ascii | PrefixEncoding::Ebcdic => digits as usize,
            PrefixEncoding::Bcd => (digits as usize).div_ceil(2),
            PrefixEncoding::Binary => {
                if digits <= 2 {
                    1
                } else {
                    2
                }
            }
        };
        let (rest, raw) = exact(width)(input)?;
        let bad = || Fail::at(input, ErrorKind::BadLengthPrefix { found: hex_dump(raw) });
        let mut n = 0usize;
        match enc {
            PrefixEncoding::Ascii | PrefixEncoding::Ebcdic => {
                let zero = if enc == PrefixEncoding::Ascii { b'0' } else { 0xF0 };
                for &b in raw {
                    let d = b.wrapping_sub(zero);
                    if d > 9 {
                        return Err(bad());
                    }
                    n = n * 10 + d as usize;
                }
            }
            PrefixEncoding::Bcd => {
                for &b in raw {
                    let (hi, lo) = (b >> 4, b & 0xF);
                    if hi > 9 || lo > 9 {
                        return Err(bad());
                    }
                    n = n * 100 + (hi * 10 + lo) as usize;
                }
            }
            PrefixEncoding::Binary => n = raw.iter().fold(0, |acc, &b| acc << 8 | b as usize),
        }
        Ok((rest, n))
    }
}

/// The wire bytes of one field's content, and its length in the field's units.
/// (`SUB`: a separate copy for sub-fields, so that the message decoder's copy keeps a single
/// caller and is inlined as before.)
fn field_content<const SUB: bool>(fs: &FieldSpec) -> impl Fn(&[u8]) -> PResult<'_, (&[u8], usize)> + '_ {
    move |input| {
        let (rest, units) = match fs.length {
            LengthKind::Fixed => (input, fs.max_len as usize),
            LengthKind::Variable(d) => {
                let (rest, mut n) = length_prefix(d, fs.prefix)(input)?;
                if fs.prefix_counts_itself {
                    let width = input.len() - rest.len();
                    n = n
                        .checked_sub(width)
                        .ok_or_else(|| Fail::at(input, ErrorKind::PrefixTooShort { found: n, width }))?;
                }
                if n > fs.max_len as usize {
                    return Err(Fail::at(
                        input,
                        ErrorKind::LengthOverMax {
                            found: n,
                            max: fs.max_len as usize,
                        },
                    ));
                }
                (rest, n)
            }
        };
        let wire = match (fs.encoding, fs.unit) {
            (Encoding::Bcd, LengthUnit::Digits) => units.div_ceil(2),
            _ => units,
        };
        let (rest, raw) = exact(wire)(rest)?;
        Ok((rest, (raw, units)))
    }
}

/// Converts wire content to its canonical form, checking the content class.
/// ASCII and binary content is taken as it is (`Ok(None)`: slice the input); other encodings are
/// written into `out`.
fn canonical<const SUB: bool>(fs: &FieldSpec, raw: &[u8], units: usize, out: &mut BytesMut) -> Result<bool, ErrorKind> {
    match fs.encoding {
        Encoding::Ascii => {
            text::check_class(fs.class, raw)?;
            Ok(false)
        }
        Encoding::Binary => Ok(false),
        Encoding::Ebcdic => {
            let start = out.len();
            out.extend(raw.iter().map(|&b| super::ebcdic::EBCDIC_TO_LATIN1[b as usize]));
            text::check_class(fs.class, &out[start..])?;
            Ok(true)
        }
        Encoding::Hex => {
            if raw.len() % 2 != 0 {
                return Err(ErrorKind::OddHexLength(raw.len()));
            }
            for (i, pair) in raw.chunks_exact(2).enumerate() {
                let bad = |p: usize, b: u8| ErrorKind::BadContent {
                    class: fs.class,
                    position: p,
                    found: b,
                };
                let hi = text::hex_value(pair[0]).ok_or_else(|| bad(2 * i, pair[0]))?;
                let lo = text::hex_value(pair[1]).ok_or_else(|| bad(2 * i + 1, pair[1]))?;
                out.extend_from_slice(&[hi << 4 | lo]);
            }
            Ok(true)
        }
        Encoding::Bcd => {
            let digits = if fs.unit == LengthUnit::Digits {
                units
            } else {
                units * 2
            };
            let pad = raw.len() * 2 - digits; // 0 or 1
            let (skip_first, pad_nibble) = match fs.odd_pad {
                OddPad::LeftZero => (true, 0),
                OddPad::LeftF => (true, 0xF),
                OddPad::RightZero => (false, 0),
                OddPad::RightF => (false, 0xF),
            };
            let nibbles = raw.iter().flat_map(|&b| [b >> 4, b & 0xF]);
            let mut position = 0;
            for (i, nib) in nibbles.enumerate() {
                let is_pad = pad == 1 && if skip_first { i == 0 } else { i == digits };
                if is_pad {
                    if nib != pad_nibble {
                        return Err(ErrorKind::BadPad {
                            expected: pad_nibble,
                            found: nib,
                        });
                    }
                    continue;
                }
                let c = bcd_nibble_to_char(fs.class, nib).ok_or(ErrorKind::BadContent {
                    class: fs.class,
                    position,
                    found: nib,
                })?;
                out.extend_from_slice(&[c]);
                position += 1;
            }
            Ok(true)
        }
    }
}

/// Decodes one whole message (no length prefix) that `buf` holds exactly.
pub(crate) fn decode(spec: &Spec, buf: Bytes) -> Result<Message, CodecError> {
    let mut fields = Vec::new();
    let mut scratch = BytesMut::new();
    let outcome = parse(spec, &buf, &mut fields, &mut scratch);
    let message = |mti| Message::from_decoded(mti, fields, buf, scratch.freeze(), spec.masks, spec.layout.as_ref());
    match outcome {
        Ok(mti) => Ok(message(mti)),
        Err((Some(mti), err)) => Err(err.with_partial(message(mti))),
        Err((None, err)) => Err(err),
    }
}

/// Parses `input` into field ranges (of `input`, or of `scratch` for converted values).
/// On failure, returns the MTI if it was read, so the caller can keep what was decoded.
fn parse(
    spec: &Spec,
    input: &[u8],
    fields: &mut Vec<(u8, FieldValue)>,
    scratch: &mut BytesMut,
) -> Result<Mti, (Option<Mti>, CodecError)> {
    let total = input.len();
    let at = |rest: &[u8]| total - rest.len();
    let fail = |part: Part, e: nom::Err<Fail>| match e {
        nom::Err::Failure(f) | nom::Err::Error(f) => CodecError::new(part, total - f.left, f.kind),
        nom::Err::Incomplete(_) => CodecError::new(
            part,
            total,
            ErrorKind::Truncated {
                needed: 1,
                available: 0,
            },
        ),
    };

    let (mut rest, mti) = mti(spec.mti)(input).map_err(|e| (None, fail(Part::Mti, e)))?;
    let mut bits = Bitmap::default();
    let mut maps = 1;
    loop {
        let (r, raw) = bitmap(spec.bitmap)(rest).map_err(|e| (Some(mti), fail(Part::Bitmap(maps), e)))?;
        rest = r;
        bits.put(maps as usize - 1, raw);
        // Bit 1 announces the secondary bitmap, bit 65 the tertiary.
        let next = (maps as usize - 1) * 64;
        if maps < 3 && bits.get(next) {
            maps += 1;
        } else {
            break;
        }
    }
    let count = bits.count_ones() - bits.get(0) as usize - bits.get(64) as usize;
    fields.reserve_exact(count);

    for index in set_bits(&bits) {
        if index == 0 || index == 64 {
            continue;
        }
        let number = (index + 1) as u8;
        let Some(fs) = spec.field(number) else {
            let err = CodecError::new(
                Part::Field {
                    number,
                    name: "".into(),
                },
                at(rest),
                ErrorKind::UndefinedField,
            );
            return Err((Some(mti), err));
        };
        let part = || Part::Field {
            number,
            name: fs.name.clone(),
        };
        let start = at(rest);
        let (r, (raw, units)) = match field_content::<false>(fs)(rest) {
            Ok(ok) => ok,
            Err(e) => return Err((Some(mti), fail(part(), e))),
        };
        if scratch.capacity() == 0 && !matches!(fs.encoding, Encoding::Ascii | Encoding::Binary) {
            scratch.reserve(2 * total);
        }
        let before = scratch.len();
        let value = match canonical::<false>(fs, raw, units, scratch) {
            Ok(false) => FieldValue::Wire((at(r) - raw.len()) as u32, raw.len() as u32),
            Ok(true) => FieldValue::Scratch(before as u32, (scratch.len() - before) as u32),
            Err(kind) => {
                scratch.truncate(before);
                return Err((Some(mti), CodecError::new(part(), start, kind)));
            }
        };
        fields.push((number, value));
        rest = r;
    }
    if !rest.is_empty() {
        let err = CodecError::new(Part::Trailing, at(rest), ErrorKind::TrailingBytes(rest.len()));
        return Err((Some(mti), err));
    }
    Ok(mti)
}

/// Reads one sub-field of a composite from the start of `input`: the bytes it takes, the length of
/// its content (the last bytes taken), and its canonical value if that differs from the content.
/// An error gives where in `input` it was found and what it is.
pub(crate) fn read_subfield(fs: &FieldSpec, input: &[u8]) -> Result<(usize, usize, Option<Bytes>), (usize, ErrorKind)> {
    match field_content::<true>(fs)(input) {
        Ok((rest, (raw, units))) => {
            let used = input.len() - rest.len();
            let mut out = BytesMut::new();
            match canonical::<true>(fs, raw, units, &mut out) {
                Ok(false) => Ok((used, raw.len(), None)),
                Ok(true) => Ok((used, raw.len(), Some(out.freeze()))),
                Err(kind) => Err((0, kind)),
            }
        }
        Err(nom::Err::Failure(f) | nom::Err::Error(f)) => Err((input.len() - f.left, f.kind)),
        Err(nom::Err::Incomplete(_)) => Err((
            input.len(),
            ErrorKind::Truncated {
                needed: 1,
                available: 0,
            },
        )),
    }
}
