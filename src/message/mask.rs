//! Masking of card data for output and logs.

use std::fmt;

use crate::spec::Sensitivity;

use super::Message;

/// A field value formatted by its sensitivity: a PAN shows its first 6 and last 4 digits, track data,
/// PIN blocks and other secrets show as `*`, everything else in clear (printable text as is, other
/// bytes as uppercase hex). [`Masked::reveal`] gives the clear bytes on purpose.
///
/// ```
/// use iso8583_client::{message::Masked, spec::Sensitivity};
/// assert_eq!(Masked::new(b"4111111111111111", Sensitivity::Pan).to_string(), "411111******1111");
/// assert_eq!(Masked::new(b"1234", Sensitivity::Secret).to_string(), "****");
/// assert_eq!(Masked::new(&[0x12, 0xAB], Sensitivity::None).to_string(), "12AB");
/// assert_eq!(Masked::new(b"4111111111111111", Sensitivity::Pan).reveal(), b"4111111111111111");
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Masked<'a> {
    value: &'a [u8],
    sensitivity: Sensitivity,
}

impl<'a> Masked<'a> {
    /// Wraps a value with its masking rule.
    pub fn new(value: &'a [u8], sensitivity: Sensitivity) -> Self {
        Masked { value, sensitivity }
    }
    /// The value in clear.
    pub fn reveal(&self) -> &'a [u8] {
        self.value
    }
    /// The value in clear, as text (lossy for non-UTF-8 bytes).
    pub fn reveal_str(&self) -> std::borrow::Cow<'a, str> {
        String::from_utf8_lossy(self.value)
    }
}

fn stars(f: &mut fmt::Formatter<'_>, n: usize) -> fmt::Result {
    for _ in 0..n {
        f.write_str("*")?;
    }
    Ok(())
}

fn is_text(v: &[u8]) -> bool {
    v.iter().all(|b| (0x20..0x7f).contains(b))
}

impl fmt::Display for Masked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.value;
        match self.sensitivity {
            Sensitivity::Pan if v.len() > 10 && v.iter().all(u8::is_ascii_digit) => {
                // Digits only, checked above: valid UTF-8.
                f.write_str(std::str::from_utf8(&v[..6]).map_err(|_| fmt::Error)?)?;
                stars(f, v.len() - 10)?;
                f.write_str(std::str::from_utf8(&v[v.len() - 4..]).map_err(|_| fmt::Error)?)
            }
            Sensitivity::Pan | Sensitivity::Track | Sensitivity::Secret => stars(f, v.len()),
            Sensitivity::None if is_text(v) => f.write_str(std::str::from_utf8(v).map_err(|_| fmt::Error)?),
            Sensitivity::None => v.iter().try_for_each(|b| write!(f, "{b:02X}")),
        }
    }
}

impl fmt::Debug for Masked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// Formats a value by its sensitivity into a `String` (see [`Masked`]).
///
/// ```
/// use iso8583_client::{message::mask_value, spec::Sensitivity};
/// assert_eq!(mask_value(b"5413330089010434", Sensitivity::Pan), "541333******0434");
/// ```
pub fn mask_value(value: &[u8], sensitivity: Sensitivity) -> String {
    Masked::new(value, sensitivity).to_string()
}

/// A message shown in clear by `Debug` and `Display`: see [`Message::reveal`].
///
/// ```
/// let msg = iso8583_client::Message::new("0100".parse().unwrap()).with(2, "4111111111111111");
/// assert!(format!("{}", msg.reveal()).contains("4111111111111111"));
/// assert!(!format!("{}", msg).contains("4111111111111111"));
/// ```
pub struct Revealed<'a>(pub(super) &'a Message);
