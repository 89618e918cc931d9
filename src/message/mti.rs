//! The message type indicator.

use std::fmt;
use std::str::FromStr;

/// A message type indicator: four decimal digits, version / class / function / origin.
///
/// ```
/// use iso8583_client::{message::MtiClass, Mti};
/// let mti: Mti = "0400".parse().unwrap();
/// assert_eq!(mti.class(), MtiClass::Reversal);
/// assert_eq!(mti.repeat().unwrap().as_str(), "0401");
/// assert_eq!(mti.repeat().unwrap().response().unwrap().as_str(), "0410");
/// assert!("04A0".parse::<Mti>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mti([u8; 4]);

/// The ISO 8583 version (first MTI digit).
///
/// ```
/// use iso8583_client::{message::MtiVersion, Mti};
/// assert_eq!("0200".parse::<Mti>().unwrap().version(), MtiVersion::Iso1987);
/// assert_eq!("1200".parse::<Mti>().unwrap().version(), MtiVersion::Iso1993);
/// assert_eq!("4200".parse::<Mti>().unwrap().version(), MtiVersion::Reserved(4));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MtiVersion {
    /// ISO 8583:1987 (`0xxx`).
    Iso1987,
    /// ISO 8583:1993 (`1xxx`).
    Iso1993,
    /// ISO 8583:2003 (`2xxx`).
    Iso2003,
    /// National use (`8xxx`).
    National,
    /// Private use (`9xxx`).
    Private,
    /// Reserved digits 3-7.
    Reserved(u8),
}

/// The message class (second MTI digit).
///
/// ```
/// use iso8583_client::{message::MtiClass, Mti};
/// assert_eq!("0420".parse::<Mti>().unwrap().class(), MtiClass::Reversal);
/// assert_eq!("0800".parse::<Mti>().unwrap().class(), MtiClass::NetworkManagement);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MtiClass {
    /// `x1xx` authorization.
    Authorization,
    /// `x2xx` financial.
    Financial,
    /// `x3xx` file actions.
    FileAction,
    /// `x4xx` reversal and chargeback.
    Reversal,
    /// `x5xx` reconciliation.
    Reconciliation,
    /// `x6xx` administrative.
    Administrative,
    /// `x7xx` fee collection.
    FeeCollection,
    /// `x8xx` network management.
    NetworkManagement,
    /// `x0xx` and `x9xx`: reserved.
    Reserved(u8),
}

/// The message function (third MTI digit).
///
/// ```
/// use iso8583_client::{message::MtiFunction, Mti};
/// assert_eq!("0120".parse::<Mti>().unwrap().function(), MtiFunction::Advice);
/// assert_eq!("0130".parse::<Mti>().unwrap().function(), MtiFunction::AdviceResponse);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MtiFunction {
    /// `xx0x`.
    Request,
    /// `xx1x`.
    RequestResponse,
    /// `xx2x`.
    Advice,
    /// `xx3x`.
    AdviceResponse,
    /// `xx4x`.
    Notification,
    /// `xx5x`.
    NotificationAck,
    /// `xx6x`.
    Instruction,
    /// `xx7x`.
    InstructionAck,
    /// `xx8x`, `xx9x`: reserved.
    Reserved(u8),
}

/// Who sent the message (fourth MTI digit).
///
/// ```
/// use iso8583_client::{message::MtiOrigin, Mti};
/// assert_eq!("0401".parse::<Mti>().unwrap().origin(), MtiOrigin::AcquirerRepeat);
/// assert_eq!("0402".parse::<Mti>().unwrap().origin(), MtiOrigin::Issuer);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MtiOrigin {
    /// `xxx0`.
    Acquirer,
    /// `xxx1`.
    AcquirerRepeat,
    /// `xxx2`.
    Issuer,
    /// `xxx3`.
    IssuerRepeat,
    /// `xxx4`.
    Other,
    /// `xxx5`.
    OtherRepeat,
    /// `xxx6`-`xxx9`: reserved.
    Reserved(u8),
}

/// A string that is not four decimal digits.
///
/// ```
/// let err = "02a0".parse::<iso8583_client::Mti>().unwrap_err();
/// assert_eq!(err.to_string(), r#"MTI must be four decimal digits, got "02a0""#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("MTI must be four decimal digits, got {0:?}")]
pub struct InvalidMti(pub String);

impl Mti {
    /// From four ASCII digits; `None` if any byte is not a digit.
    pub const fn new(digits: [u8; 4]) -> Option<Mti> {
        let mut i = 0;
        while i < 4 {
            if !digits[i].is_ascii_digit() {
                return None;
            }
            i += 1;
        }
        Some(Mti(digits))
    }

    /// The four ASCII digits.
    pub fn as_bytes(&self) -> &[u8; 4] {
        &self.0
    }

    /// The MTI as text, e.g. `"0200"`.
    pub fn as_str(&self) -> &str {
        // Always four ASCII digits (checked on construction).
        std::str::from_utf8(&self.0).unwrap_or("????")
    }

    fn digit(&self, i: usize) -> u8 {
        self.0[i] - b'0'
    }

    /// First digit.
    pub fn version(&self) -> MtiVersion {
        match self.digit(0) {
            0 => MtiVersion::Iso1987,
            1 => MtiVersion::Iso1993,
            2 => MtiVersion::Iso2003,
            8 => MtiVersion::National,
            9 => MtiVersion::Private,
            d => MtiVersion::Reserved(d),
        }
    }

    /// Second digit.
    pub fn class(&self) -> MtiClass {
        match self.digit(1) {
            1 => MtiClass::Authorization,
            2 => MtiClass::Financial,
            3 => MtiClass::FileAction,
            4 => MtiClass::Reversal,
            5 => MtiClass::Reconciliation,
            6 => MtiClass::Administrative,
            7 => MtiClass::FeeCollection,
            8 => MtiClass::NetworkManagement,
            d => MtiClass::Reserved(d),
        }
    }

    /// Third digit.
    pub fn function(&self) -> MtiFunction {
        match self.digit(2) {
            0 => MtiFunction::Request,
            1 => MtiFunction::RequestResponse,
            2 => MtiFunction::Advice,
            3 => MtiFunction::AdviceResponse,
            4 => MtiFunction::Notification,
            5 => MtiFunction::NotificationAck,
            6 => MtiFunction::Instruction,
            7 => MtiFunction::InstructionAck,
            d => MtiFunction::Reserved(d),
        }
    }

    /// Fourth digit.
    pub fn origin(&self) -> MtiOrigin {
        match self.digit(3) {
            0 => MtiOrigin::Acquirer,
            1 => MtiOrigin::AcquirerRepeat,
            2 => MtiOrigin::Issuer,
            3 => MtiOrigin::IssuerRepeat,
            4 => MtiOrigin::Other,
            5 => MtiOrigin::OtherRepeat,
            d => MtiOrigin::Reserved(d),
        }
    }

    /// A message that expects an answer: request, advice, notification or instruction (function 0, 2, 4, 6).
    pub fn is_request(&self) -> bool {
        matches!(self.digit(2), 0 | 2 | 4 | 6)
    }

    /// An answer to a request (function 1, 3, 5, 7).
    pub fn is_response(&self) -> bool {
        matches!(self.digit(2), 1 | 3 | 5 | 7)
    }

    /// An advice or advice response (`xx2x`, `xx3x`).
    pub fn is_advice(&self) -> bool {
        matches!(self.digit(2), 2 | 3)
    }

    /// A repeat (origin 1, 3 or 5: `0401`, `0221`).
    pub fn is_repeat(&self) -> bool {
        matches!(self.digit(3), 1 | 3 | 5)
    }

    /// The MTI of the response to this request: function + 1, and a repeat answered as the original
    /// (`0100` → `0110`, `0401` → `0410`, `0220` → `0230`). `None` for a response.
    pub fn response(&self) -> Option<Mti> {
        if !self.is_request() {
            return None;
        }
        let mut d = self.0;
        d[2] += 1;
        if self.is_repeat() {
            d[3] -= 1;
        }
        Some(Mti(d))
    }

    /// The repeat MTI of a request (`0400` → `0401`, `0220` → `0221`); a repeat stays as it is.
    /// `None` for a response or a reserved origin.
    pub fn repeat(&self) -> Option<Mti> {
        if !self.is_request() {
            return None;
        }
        let mut d = self.0;
        match self.digit(3) {
            0 | 2 | 4 => d[3] += 1,
            1 | 3 | 5 => {}
            _ => return None,
        }
        Some(Mti(d))
    }

    /// The original of a repeat (`0401` → `0400`); other MTIs unchanged.
    pub fn original(&self) -> Mti {
        let mut d = self.0;
        if self.is_repeat() {
            d[3] -= 1;
        }
        Mti(d)
    }
}

impl FromStr for Mti {
    type Err = InvalidMti;
    fn from_str(s: &str) -> Result<Mti, InvalidMti> {
        let bytes: [u8; 4] = s.as_bytes().try_into().map_err(|_| InvalidMti(s.to_owned()))?;
        Mti::new(bytes).ok_or_else(|| InvalidMti(s.to_owned()))
    }
}

impl fmt::Display for Mti {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Mti {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
