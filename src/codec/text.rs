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

fn allowed(class: ContentClass, position: usize, b: u8) -> bool {
    match class {
        ContentClass::N => b.is_ascii_digit(),
        ContentClass::A => b.is_ascii_alphabetic(),
        ContentClass::An => b.is_ascii_alphanumeric(),
        ContentClass::Ans => (0x20..=0x7E).contains(&b),
        ContentClass::B => true,
        // ISO 7811 track character set (0-9 : ; < = > ?), and D as a separator.
        ContentClass::Z => (0x30..=0x3F).contains(&b) || b == b'D',
        ContentClass::Xn => {
            if position == 0 {
                b == b'C' || b == b'D'
            } else {
                b.is_ascii_digit()
            }
        }
    }
}

/// Checks every byte of a canonical value against its content class.
pub(crate) fn check_class(class: ContentClass, value: &[u8]) -> Result<(), ErrorKind> {
    if class == ContentClass::B {
        return Ok(());
    }
    if class == ContentClass::N && value.iter().all(u8::is_ascii_digit) {
        return Ok(());
    }
    match value.iter().enumerate().find(|&(i, &b)| !allowed(class, i, b)) {
        Some((position, &found)) => Err(ErrorKind::BadContent { class, position, found }),
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
