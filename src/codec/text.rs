//! Character-level rules: content classes, hex digits, BCD nibbles.

use super::error::ErrorKind;
use crate::spec::ContentClass;

/// Value of an ASCII hex digit (either case).
pub(crate) fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

/// Uppercase ASCII hex digit of a nibble.
pub(crate) fn hex_digit(n: u8) -> u8 {
    b"0123456789ABCDEF"[(n & 0xF) as usize]
}

/// One bit per content class, per byte value: a byte is allowed in a class when its bit is set.
const N: u8 = 1;
const A: u8 = 2;
const AN: u8 = 4;
const ANS: u8 = 8;
const Z: u8 = 16;

static CLASS_TABLE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0usize;
    while b < 256 {
        let c = b as u8;
        let mut bits = 0;
        if c.is_ascii_digit() {
            bits |= N | AN;
        }
        if c.is_ascii_alphabetic() {
            bits |= A | AN;
        }
        if c >= 0x20 && c <= 0x7E {
            bits |= ANS;
        }
        // ISO 7811 track character set (0-9 : ; < = > ?), and D as a separator.
        if (c >= 0x30 && c <= 0x3F) || c == b'D' {
            bits |= Z;
        }
        t[b] = bits;
        b += 1;
    }
    t
};

/// Checks every byte of a canonical value against its content class.
#[inline(always)]
pub(crate) fn check_class(class: ContentClass, value: &[u8]) -> Result<(), ErrorKind> {
    let mask = match class {
        ContentClass::B => return Ok(()),
        ContentClass::N => N,
        ContentClass::A => A,
        ContentClass::An => AN,
        ContentClass::Ans => ANS,
        ContentClass::Z => Z,
        ContentClass::Xn => {
            // C (credit) or D (debit), then digits.
            return match value.first() {
                Some(&b) if b != b'C' && b != b'D' => Err(ErrorKind::BadContent {
                    class,
                    position: 0,
                    found: b,
                }),
                Some(_) => match value[1..].iter().position(|b| !b.is_ascii_digit()) {
                    Some(i) => Err(ErrorKind::BadContent {
                        class,
                        position: i + 1,
                        found: value[i + 1],
                    }),
                    None => Ok(()),
                },
                None => Ok(()),
            };
        }
    };
    // Fast paths for the common classes (eight bytes at a time), then the table.
    let ok = match class {
        ContentClass::N => all_in_range(value, b'0', b'9'),
        ContentClass::Ans => all_in_range(value, 0x20, 0x7E),
        _ => value.iter().fold(mask, |acc, &b| acc & CLASS_TABLE[b as usize]) == mask,
    };
    if ok {
        return Ok(());
    }
    bad_content(class, mask, value)
}

/// Where a value that failed its class check goes wrong (the slow, rare path).
#[cold]
#[inline(never)]
fn bad_content(class: ContentClass, mask: u8, value: &[u8]) -> Result<(), ErrorKind> {
    match value.iter().position(|&b| CLASS_TABLE[b as usize] & mask == 0) {
        Some(position) => Err(ErrorKind::BadContent {
            class,
            position,
            found: value[position],
        }),
        None => Ok(()),
    }
}

/// The character a BCD nibble stands for: a digit, or for track data the ISO 7811 character
/// (`D` = `=`).
pub(crate) fn bcd_nibble_to_char(class: ContentClass, nib: u8) -> Option<u8> {
    match (class, nib) {
        (_, 0..=9) => Some(b'0' + nib),
        (ContentClass::Z, 10..=15) => Some(0x30 + nib),
        _ => None,
    }
}

/// The BCD nibble of a character (inverse of [`bcd_nibble_to_char`]; `D` also stands for `=`).
pub(crate) fn char_to_bcd_nibble(class: ContentClass, c: u8) -> Option<u8> {
    match (class, c) {
        (_, b'0'..=b'9') => Some(c - b'0'),
        (ContentClass::Z, 0x3A..=0x3F) => Some(c - 0x30),
        (ContentClass::Z, b'D') => Some(0xD),
        _ => None,
    }
}

const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
const HIGH: u64 = 0x8080_8080_8080_8080;
const ONES: u64 = 0x0101_0101_0101_0101;

/// True if every byte of `x` lies in `lo..=hi` (`lo <= hi < 0x80`), with no carry between bytes:
/// bytes with the high bit set fail outright; for the others `b + (0x7F - hi)` sets the high bit
/// iff `b > hi`, and `(b | 0x80) - lo` clears it iff `b < lo`.
#[inline(always)]
fn word_in_range(x: u64, lo: u8, hi: u8) -> bool {
    let above = (x & LOW7).wrapping_add(ONES * u64::from(0x7F - hi));
    let not_below = (x | HIGH).wrapping_sub(ONES * u64::from(lo));
    ((x | above | !not_below) & HIGH) == 0
}

#[inline(always)]
fn load_u16(v: &[u8], i: usize) -> u16 {
    v.get(i..i + 2)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u16::from_le_bytes)
}

#[inline(always)]
fn load_u32(v: &[u8], i: usize) -> u32 {
    v.get(i..i + 4)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u32::from_le_bytes)
}

#[inline(always)]
fn load_u64(v: &[u8], i: usize) -> u64 {
    v.get(i..i + 8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

/// True if every byte of `value` lies in `lo..=hi`, eight bytes at a time. Short values are read
/// as two overlapping loads (a byte checked twice changes nothing), never byte by byte.
#[inline(always)]
fn all_in_range(value: &[u8], lo: u8, hi: u8) -> bool {
    let n = value.len();
    let u16_at = |i: usize| u64::from(load_u16(value, i));
    let u32_at = |i: usize| u64::from(load_u32(value, i));
    let u64_at = |i: usize| load_u64(value, i);
    let x = match n {
        0 => return true,
        1 => u64::from(value[0]) * ONES,
        2..=3 => u16_at(0) | u16_at(n - 2) << 16 | u16_at(0) << 32 | u16_at(n - 2) << 48,
        4..=7 => u32_at(0) | u32_at(n - 4) << 32,
        _ => {
            let mut acc = u64_at(n - 8);
            let mut ok = word_in_range(acc, lo, hi);
            let mut i = 0;
            while i + 8 <= n {
                acc = u64_at(i);
                ok &= word_in_range(acc, lo, hi);
                i += 8;
            }
            return ok;
        }
    };
    word_in_range(x, lo, hi)
}

/// Writes `value` as packed BCD when every character is a digit (or, for class `z`, a character
/// of `0x30..=0x3F`, whose nibble is its low half): the value's nibbles after (`left`) or before
/// the pad nibble `pad`, if given; an odd last character without a pad is not written. Returns
/// false, having written nothing, for any other value (the caller's general path checks it).
/// `checked`: the caller has already found every character a digit (not checked again).
#[inline]
pub(crate) fn write_bcd_digits(
    out: &mut bytes::BytesMut,
    class: ContentClass,
    value: &[u8],
    pad: Option<u8>,
    left: bool,
    checked: bool,
) -> bool {
    let hi = if class == ContentClass::Z { 0x3F } else { b'9' };
    if !checked && !all_in_range(value, b'0', hi) {
        return false;
    }
    use bytes::BufMut;
    const LANE: u64 = 0x000F_000F_000F_000F;
    let mut value = value;
    out.reserve(value.len() / 2 + 1);
    if let (Some(p), true, Some((&first, rest))) = (pad, left, value.split_first()) {
        out.put_u8(p << 4 | first & 0xF);
        value = rest;
    }
    let mut eights = value.chunks_exact(8);
    for s in &mut eights {
        let x = load_u64(s, 0);
        // Each 16-bit lane holds one output byte in its low half, then the lanes close up.
        let y = (x & LANE) << 4 | (x >> 8) & LANE;
        let z = (y | y >> 8) & 0x0000_FFFF_0000_FFFF;
        out.put_u32_le((z | z >> 16) as u32);
    }
    let mut pairs = eights.remainder().chunks_exact(2);
    for s in &mut pairs {
        out.put_u8((s[0] & 0xF) << 4 | s[1] & 0xF);
    }
    if let (Some(p), false, Some(&c)) = (pad, left, pairs.remainder().first()) {
        out.put_u8((c & 0xF) << 4 | p);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swar_range_matches_bytewise_for_every_byte_and_position() {
        for (lo, hi) in [(b'0', b'9'), (0x20, 0x7E)] {
            for b in 0..=255u8 {
                for len in 1..=17 {
                    for pos in 0..len {
                        let mut v = vec![lo; len];
                        v[pos] = b;
                        assert_eq!(
                            all_in_range(&v, lo, hi),
                            (lo..=hi).contains(&b),
                            "{lo} {hi} {b} {len} {pos}"
                        );
                    }
                }
            }
        }
        assert!(all_in_range(b"", b'0', b'9'));
    }

    #[test]
    fn swar_nibble_packing_matches_pairwise_packing_at_every_length() {
        for len in 0..=140usize {
            let src: Vec<u8> = (0..len).map(|i| 0x30 + (i * 7 % 16) as u8).collect();
            let mut dst = bytes::BytesMut::new();
            assert!(write_bcd_digits(&mut dst, ContentClass::Z, &src, None, false, false));
            let want: Vec<u8> = src.chunks_exact(2).map(|p| (p[0] & 0xF) << 4 | p[1] & 0xF).collect();
            assert_eq!(&dst[..], &want[..], "{len}");
        }
    }
}
