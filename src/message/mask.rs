//! Masking of card data for output and logs.

use std::fmt::{self, Write as _};

use crate::spec::Sensitivity;

use super::Message;

/// A field value formatted by its sensitivity: a PAN shows at most its first 6 and last 4 digits and
/// never fewer than 6 are hidden (only the last 4 under 16 digits, nothing under 10); track data,
/// PIN blocks and other secrets show as `*` but for track separators (`^`, `=`); everything else in clear (printable text as is, other
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

/// The separators of track data (ISO 7813: `^` between PAN, name and the rest of track 1, `=`
/// after the PAN of tracks 2 and 3): the only characters of track data shown.
fn is_separator(b: u8) -> bool {
    matches!(b, b'^' | b'=')
}

/// What of a value masking shows: the one rule behind [`Masked`], [`mask_value`] and
/// [`mask_in_place`].
#[derive(Clone, Copy)]
enum Shown {
    /// Everything (not sensitive).
    All,
    /// The first `first` and the last `last` bytes (digits of a PAN).
    Ends { first: usize, last: usize },
    /// Separators only (track data and secrets).
    Separators,
}

impl Shown {
    /// The rule for `value`: a PAN of digits shows its first 6 and last 4 digits when that hides
    /// at least 6, else its last 4 when that hides at least 6, else nothing; a PAN with anything
    /// but digits shows nothing; track data, PIN blocks and secrets show only separators.
    fn of(value: &[u8], sensitivity: Sensitivity) -> Shown {
        const HIDDEN_AT_LEAST: usize = 6;
        match sensitivity {
            Sensitivity::None => Shown::All,
            Sensitivity::Pan if value.iter().all(u8::is_ascii_digit) => {
                let n = value.len();
                if n >= 6 + 4 + HIDDEN_AT_LEAST {
                    Shown::Ends { first: 6, last: 4 }
                } else if n >= 4 + HIDDEN_AT_LEAST {
                    Shown::Ends { first: 0, last: 4 }
                } else {
                    Shown::Ends { first: 0, last: 0 }
                }
            }
            Sensitivity::Pan => Shown::Ends { first: 0, last: 0 },
            Sensitivity::Track | Sensitivity::Secret => Shown::Separators,
        }
    }

    /// Whether byte `i` of `value` is shown.
    fn shows(self, value: &[u8], i: usize) -> bool {
        match self {
            Shown::All => true,
            Shown::Ends { first, last } => i < first || i + last >= value.len(),
            Shown::Separators => value.get(i).is_some_and(|b| is_separator(*b)),
        }
    }
}

fn is_text(v: &[u8]) -> bool {
    v.iter().all(|b| (0x20..0x7f).contains(b))
}

impl fmt::Display for Masked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.value;
        match Shown::of(v, self.sensitivity) {
            Shown::All if is_text(v) => f.write_str(std::str::from_utf8(v).map_err(|_| fmt::Error)?),
            Shown::All => v.iter().try_for_each(|b| write!(f, "{b:02X}")),
            shown => {
                // Binary secrets are all stars: a byte equal to a separator is no separator there.
                let text = is_text(v);
                for (i, b) in v.iter().enumerate() {
                    if text && shown.shows(v, i) {
                        f.write_char(char::from(*b))?;
                    } else {
                        f.write_char('*')?;
                    }
                }
                Ok(())
            }
        }
    }
}

/// Masks a value in place by the rule of [`Masked`], keeping its length and its encoding valid:
/// each hidden character becomes `0` (a digit, valid in every text class), each byte of a binary
/// field (`binary`) becomes 0x00. For recordings and fixtures that must still decode.
///
/// ```
/// use iso8583_client::{message::mask_in_place, spec::Sensitivity};
/// let mut pan = b"5413330089010434".to_vec();
/// mask_in_place(&mut pan, Sensitivity::Pan, false);
/// assert_eq!(pan, b"5413330000000434");
/// let mut track2 = b"5413330089010434=2512101".to_vec();
/// mask_in_place(&mut track2, Sensitivity::Track, false);
/// assert_eq!(track2, b"0000000000000000=0000000");
/// ```
pub fn mask_in_place(value: &mut [u8], sensitivity: Sensitivity, binary: bool) {
    let shown = Shown::of(value, sensitivity);
    if matches!(shown, Shown::All) {
        return;
    }
    if binary {
        value.iter_mut().for_each(|b| *b = 0);
        return;
    }
    let keep: Vec<bool> = (0..value.len()).map(|i| shown.shows(value, i)).collect();
    for (b, keep) in value.iter_mut().zip(keep) {
        if !keep {
            *b = b'0';
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
