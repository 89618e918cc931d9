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
    // Fast paths for the common classes (loops the compiler vectorizes), then the table.
    let ok = match class {
        ContentClass::N => {
            value
                .iter()
                .fold(0u8, |bad, &b| bad | u8::from(b.wrapping_sub(b'0') > 9))
                == 0
        }
        ContentClass::Ans => {
            value
                .iter()
                .fold(0u8, |bad, &b| bad | u8::from(b.wrapping_sub(0x20) > 0x5E))
                == 0
        }
        _ => value.iter().fold(mask, |acc, &b| acc & CLASS_TABLE[b as usize]) == mask,
    };
    if ok {
        return Ok(());
    }
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
