//! The TOML spec file format and its checks.

use std::fmt;
use std::sync::Arc;

use serde::Deserialize;

use super::{
    BitmapEncoding, ContentClass, Encoding, FieldSpec, FixedPad, LengthKind, LengthUnit, MaskSet, MtiEncoding, OddPad,
    PrefixEncoding, Sensitivity, Spec, MAX_FIELD,
};

/// A spec file that could not be loaded: names the file, the field and the problem.
///
/// ```
/// let err = iso8583_client::Spec::from_toml("name = 1", "bad.toml").unwrap_err();
/// assert!(err.to_string().starts_with("bad.toml: "));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SpecError {
    origin: String,
    field: Option<(u16, String)>,
    problem: String,
}

impl SpecError {
    pub(crate) fn new(origin: &str, field: Option<(u16, String)>, problem: String) -> Self {
        SpecError {
            origin: origin.to_owned(),
            field,
            problem,
        }
    }
    /// The file (or built-in name) that was being loaded.
    pub fn origin(&self) -> &str {
        &self.origin
    }
    /// The field number at fault, if the problem is in one field.
    pub fn field(&self) -> Option<u16> {
        self.field.as_ref().map(|f| f.0)
    }
    /// What is wrong.
    pub fn problem(&self) -> &str {
        &self.problem
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.origin)?;
        match &self.field {
            Some((n, name)) if !name.is_empty() => write!(f, "field {n} ({name}): ")?,
            Some((n, _)) => write!(f, "field {n}: ")?,
            None => {}
        }
        f.write_str(&self.problem)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    name: String,
    #[serde(default)]
    description: String,
    mti: String,
    bitmap: String,
    #[serde(default)]
    defaults: RawDefaults,
    #[serde(default)]
    fields: Vec<RawField>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    encoding: Option<String>,
    prefix: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    number: i64,
    name: String,
    length: String,
    max: i64,
    class: String,
    encoding: Option<String>,
    prefix: Option<String>,
    unit: Option<String>,
    odd_pad: Option<String>,
    pad: Option<String>,
    sensitivity: Option<String>,
}

pub(super) fn parse(text: &str, origin: &str) -> Result<Spec, SpecError> {
    let raw: RawSpec = toml::from_str(text)
        .map_err(|e| SpecError::new(origin, None, format!("not a valid spec file: {}", e.message())))?;
    let top = |problem: String| SpecError::new(origin, None, problem);
    let mti = match raw.mti.as_str() {
        "ascii" => MtiEncoding::Ascii,
        "ebcdic" => MtiEncoding::Ebcdic,
        "bcd" => MtiEncoding::Bcd,
        other => {
            return Err(top(format!(
                "unknown MTI encoding {other:?} (expected ascii, ebcdic or bcd)"
            )))
        }
    };
    let bitmap = match raw.bitmap.as_str() {
        "binary" => BitmapEncoding::Binary,
        "hex" => BitmapEncoding::Hex,
        other => {
            return Err(top(format!(
                "unknown bitmap encoding {other:?} (expected binary or hex)"
            )))
        }
    };
    let mut fields: Vec<Option<FieldSpec>> = vec![None; MAX_FIELD as usize + 1];
    let mut masks = MaskSet::empty();
    for f in &raw.fields {
        let spec = field(f, &raw.defaults).map_err(|p| {
            SpecError::new(
                origin,
                Some((f.number.clamp(0, u16::MAX as i64) as u16, f.name.clone())),
                p,
            )
        })?;
        let slot = &mut fields[spec.number as usize];
        if slot.is_some() {
            return Err(SpecError::new(
                origin,
                Some((spec.number as u16, f.name.clone())),
                "defined twice".into(),
            ));
        }
        masks.set(spec.number, spec.sensitivity);
        *slot = Some(spec);
    }
    Ok(Spec {
        name: raw.name,
        description: raw.description,
        mti,
        bitmap,
        fields,
        masks,
    })
}

fn field(f: &RawField, d: &RawDefaults) -> Result<FieldSpec, String> {
    if !(2..=MAX_FIELD as i64).contains(&f.number) || f.number == 65 {
        return Err(format!(
            "number must be 2-{MAX_FIELD} (1 and 65 are bitmap bits, not data elements), got {}",
            f.number
        ));
    }
    let number = f.number as u8;
    let length = match f.length.as_str() {
        "fixed" => LengthKind::Fixed,
        "L" => LengthKind::Variable(1),
        "LL" => LengthKind::Variable(2),
        "LLL" => LengthKind::Variable(3),
        "LLLL" => LengthKind::Variable(4),
        other => return Err(format!("unknown length {other:?} (expected fixed, L, LL, LLL or LLLL)")),
    };
    if f.max <= 0 {
        return Err(format!("max must be at least 1, got {}", f.max));
    }
    if f.max > 9999 {
        return Err(format!("max must be at most 9999, got {}", f.max));
    }
    let max_len = f.max as u16;
    if let LengthKind::Variable(digits) = length {
        let cap = 10u16.pow(digits as u32) - 1;
        if max_len > cap {
            return Err(format!(
                "an {} prefix holds at most {cap}, but max is {max_len}",
                f.length
            ));
        }
    }
    let class = match f.class.as_str() {
        "n" => ContentClass::N,
        "a" => ContentClass::A,
        "an" => ContentClass::An,
        "ans" => ContentClass::Ans,
        "b" => ContentClass::B,
        "z" => ContentClass::Z,
        "xn" | "x+n" => ContentClass::Xn,
        other => return Err(format!("unknown class {other:?} (expected n, a, an, ans, b, z or xn)")),
    };
    let enc_name = f.encoding.as_deref().or(d.encoding.as_deref()).unwrap_or("ascii");
    let mut encoding = match enc_name {
        "ascii" => Encoding::Ascii,
        "ebcdic" => Encoding::Ebcdic,
        "bcd" => Encoding::Bcd,
        "binary" => Encoding::Binary,
        "hex" => Encoding::Hex,
        other => {
            return Err(format!(
                "unknown encoding {other:?} (expected ascii, ebcdic, bcd, binary or hex)"
            ))
        }
    };
    // A spec-wide default of BCD applies to numeric and track fields; text stays ASCII.
    if f.encoding.is_none() && encoding == Encoding::Bcd && !matches!(class, ContentClass::N | ContentClass::Z) {
        encoding = Encoding::Ascii;
    }
    let prefix = match f.prefix.as_deref().or(d.prefix.as_deref()).unwrap_or("ascii") {
        "ascii" => PrefixEncoding::Ascii,
        "ebcdic" => PrefixEncoding::Ebcdic,
        "bcd" => PrefixEncoding::Bcd,
        "binary" => PrefixEncoding::Binary,
        other => {
            return Err(format!(
                "unknown prefix encoding {other:?} (expected ascii, ebcdic, bcd or binary)"
            ))
        }
    };
    match (encoding, class) {
        (Encoding::Bcd, ContentClass::N | ContentClass::Z) => {}
        (Encoding::Bcd, _) => return Err(format!("bcd encoding holds only classes n and z, not {}", f.class)),
        (Encoding::Binary | Encoding::Hex, ContentClass::B) => {}
        (Encoding::Binary | Encoding::Hex, _) => {
            return Err(format!("{enc_name} encoding needs class b, not {}", f.class))
        }
        (Encoding::Ascii | Encoding::Ebcdic, ContentClass::B) => {
            return Err("class b needs encoding binary or hex".into())
        }
        _ => {}
    }
    let unit = match f.unit.as_deref() {
        None if encoding == Encoding::Bcd => LengthUnit::Digits,
        None | Some("bytes") => LengthUnit::Bytes,
        Some("digits") if encoding == Encoding::Bcd => LengthUnit::Digits,
        Some("digits") => return Err("unit digits applies only to bcd encoding".into()),
        Some(other) => return Err(format!("unknown unit {other:?} (expected bytes or digits)")),
    };
    if encoding == Encoding::Hex && length == LengthKind::Fixed && max_len % 2 != 0 {
        return Err(format!(
            "hex content needs an even number of characters, but max is {max_len}"
        ));
    }
    let odd_pad = match f.odd_pad.as_deref() {
        None | Some("left-0") => OddPad::LeftZero,
        Some("left-f") => OddPad::LeftF,
        Some("right-0") => OddPad::RightZero,
        Some("right-f") => OddPad::RightF,
        Some(other) => {
            return Err(format!(
                "unknown odd_pad {other:?} (expected left-0, left-f, right-0 or right-f)"
            ))
        }
    };
    let pad = match f.pad.as_deref() {
        None | Some("none") => FixedPad::None,
        Some("zeros") => FixedPad::LeftZeros,
        Some("spaces") => FixedPad::RightSpaces,
        Some(other) => return Err(format!("unknown pad {other:?} (expected none, zeros or spaces)")),
    };
    if pad != FixedPad::None && length != LengthKind::Fixed {
        return Err("pad applies only to fixed-length fields".into());
    }
    if pad == FixedPad::LeftZeros && !matches!(class, ContentClass::N) {
        return Err(format!("zero padding needs class n, not {}", f.class));
    }
    if pad == FixedPad::RightSpaces && class != ContentClass::Ans {
        return Err(format!("space padding needs class ans, not {}", f.class));
    }
    let sensitivity = match f.sensitivity.as_deref() {
        // Unsaid: the ISO 8583:1987 rule for the field (a forgotten key must not log a PAN).
        None => iso_default_sensitivity(number),
        Some("none") => Sensitivity::None,
        Some("pan") => Sensitivity::Pan,
        Some("track") => Sensitivity::Track,
        Some("secret") => Sensitivity::Secret,
        Some(other) => {
            return Err(format!(
                "unknown sensitivity {other:?} (expected pan, track, secret or none)"
            ))
        }
    };
    Ok(FieldSpec {
        number,
        name: Arc::from(f.name.as_str()),
        length,
        max_len,
        encoding,
        prefix,
        unit,
        odd_pad,
        pad,
        class,
        sensitivity,
    })
}

/// The ISO 8583:1987 masking rule of a field whose spec line says nothing: PAN for DE 2 and 34,
/// track for 35, 36 and 45, secret for the PIN block (52) and ICC data (55).
fn iso_default_sensitivity(number: u8) -> Sensitivity {
    match number {
        2 | 34 => Sensitivity::Pan,
        35 | 36 | 45 => Sensitivity::Track,
        52 | 55 => Sensitivity::Secret,
        _ => Sensitivity::None,
    }
}
