//! The TOML spec file format and its checks.

use std::fmt;
use std::sync::Arc;

use serde::Deserialize;

use super::composite::{ber_tag_number, Composite, CompositeKind, TagInfo, TagTable, TlvPart, MAX_DEPTH};
use super::{
    emv, BitmapEncoding, ContentClass, Encoding, FieldSpec, FixedPad, Layout, LengthKind, LengthUnit, MaskSet,
    MtiEncoding, OddPad, PrefixEncoding, Sensitivity, Spec, MAX_FIELD,
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
    prefix_counts_itself: Option<bool>,
    composite: Option<RawComposite>,
}

/// A `composite = { kind = ..., parts = [...] }` table.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawComposite {
    kind: String,
    strict: Option<bool>,
    #[serde(default)]
    parts: Vec<RawPart>,
    bitmap: Option<String>,
    bitmap_bytes: Option<i64>,
    tag_len: Option<i64>,
    tag_encoding: Option<String>,
    len_len: Option<i64>,
    len_encoding: Option<String>,
    dictionary: Option<String>,
}

/// A sub-field (`number`) or tag (`tag`) of a composite; length, max and class are optional for tags.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPart {
    number: Option<i64>,
    tag: Option<String>,
    name: String,
    length: Option<String>,
    max: Option<i64>,
    class: Option<String>,
    encoding: Option<String>,
    prefix: Option<String>,
    unit: Option<String>,
    odd_pad: Option<String>,
    pad: Option<String>,
    sensitivity: Option<String>,
    prefix_counts_itself: Option<bool>,
    composite: Option<RawComposite>,
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
        let spec = top_field(f, &raw.defaults).map_err(|p| {
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
        layout: Some(Layout::of(&fields)).filter(|l| !l.is_iso_default()).map(Arc::new),
        fields,
        masks: masks.interned(),
    })
}

fn top_field(f: &RawField, d: &RawDefaults) -> Result<FieldSpec, String> {
    if !(2..=MAX_FIELD as i64).contains(&f.number) || f.number == 65 {
        return Err(format!(
            "number must be 2-{MAX_FIELD} (1 and 65 are bitmap bits, not data elements), got {}",
            f.number
        ));
    }
    let mut spec = field(f, d, false)?;
    if let Some(c) = &f.composite {
        spec.composite = Some(Arc::new(composite(c, &spec, 1)?));
    }
    Ok(spec)
}

/// Checks a composite definition (`owner` is the field or part that holds it).
fn composite(c: &RawComposite, owner: &FieldSpec, depth: usize) -> Result<Composite, String> {
    if depth > MAX_DEPTH {
        return Err(format!("composite nested deeper than {MAX_DEPTH} levels"));
    }
    let only = |allowed: &[&str], key: &str, given: bool| -> Result<(), String> {
        if given && !allowed.contains(&c.kind.as_str()) {
            return Err(format!("composite key {key} does not apply to kind {}", c.kind));
        }
        Ok(())
    };
    only(&["bitmap"], "bitmap", c.bitmap.is_some())?;
    only(&["bitmap"], "bitmap_bytes", c.bitmap_bytes.is_some())?;
    for (key, given) in [
        ("tag_len", c.tag_len.is_some()),
        ("tag_encoding", c.tag_encoding.is_some()),
        ("len_len", c.len_len.is_some()),
        ("len_encoding", c.len_encoding.is_some()),
    ] {
        only(&["tlv"], key, given)?;
    }
    only(&["ber-tlv"], "dictionary", c.dictionary.is_some())?;
    let numbered = |parts: &[RawPart], highest: i64| -> Result<Vec<FieldSpec>, String> {
        let mut out: Vec<FieldSpec> = Vec::with_capacity(parts.len());
        for p in parts {
            let n = p.number.ok_or_else(|| format!("part {:?}: needs a number", p.name))?;
            if p.tag.is_some() {
                return Err(format!(
                    "part {n} ({}): a {} part has a number, not a tag",
                    p.name, c.kind
                ));
            }
            if !(1..=highest).contains(&n) {
                return Err(format!("part {n} ({}): number must be 1-{highest}", p.name));
            }
            let spec = part(p, n as u8, depth).map_err(|e| format!("part {n} ({}): {e}", p.name))?;
            if out.iter().any(|o| o.number == spec.number) {
                return Err(format!("part {n} ({}): defined twice", p.name));
            }
            out.push(spec);
        }
        out.sort_by_key(|f| f.number);
        Ok(out)
    };
    let kind = match c.kind.as_str() {
        "positional" => {
            if c.parts.is_empty() {
                return Err("a positional composite needs parts".into());
            }
            let parts = numbered(&c.parts, 255)?;
            if let Some((i, f)) = parts.iter().enumerate().find(|(i, f)| f.number as usize != i + 1) {
                return Err(format!(
                    "positional parts must be numbered 1, 2, 3, ... without gaps; expected {}, got {}",
                    i + 1,
                    f.number
                ));
            }
            CompositeKind::Positional { parts }
        }
        "bitmap" => {
            let encoding = match c.bitmap.as_deref() {
                None | Some("binary") => BitmapEncoding::Binary,
                Some("hex") => BitmapEncoding::Hex,
                Some(other) => return Err(format!("unknown bitmap encoding {other:?} (expected binary or hex)")),
            };
            let bytes = c.bitmap_bytes.unwrap_or(8);
            if !(1..=16).contains(&bytes) {
                return Err(format!("bitmap_bytes must be 1-16, got {bytes}"));
            }
            let parts = numbered(&c.parts, bytes * 8)?;
            CompositeKind::Bitmap {
                encoding,
                bytes: bytes as u8,
                parts,
            }
        }
        "tlv" => {
            let tag_len = c.tag_len.unwrap_or(2);
            if !(1..=4).contains(&tag_len) {
                return Err(format!("tag_len must be 1-4, got {tag_len}"));
            }
            let tag_binary = match c.tag_encoding.as_deref() {
                None | Some("ascii") => false,
                Some("binary") => true,
                Some(other) => return Err(format!("unknown tag_encoding {other:?} (expected ascii or binary)")),
            };
            let len_encoding = match c.len_encoding.as_deref() {
                None | Some("ascii") => PrefixEncoding::Ascii,
                Some("ebcdic") => PrefixEncoding::Ebcdic,
                Some("bcd") => PrefixEncoding::Bcd,
                Some("binary") => PrefixEncoding::Binary,
                Some(other) => {
                    return Err(format!(
                        "unknown len_encoding {other:?} (expected ascii, ebcdic, bcd or binary)"
                    ))
                }
            };
            let len_len = c.len_len.unwrap_or(2);
            let len_cap = if len_encoding == PrefixEncoding::Binary { 2 } else { 4 };
            if !(1..=len_cap).contains(&len_len) {
                return Err(format!("len_len must be 1-{len_cap}, got {len_len}"));
            }
            let mut parts: Vec<TlvPart> = Vec::with_capacity(c.parts.len());
            for p in &c.parts {
                let tag = p
                    .tag
                    .clone()
                    .ok_or_else(|| format!("part {:?}: a tlv part needs a tag", p.name))?;
                let ok = if tag_binary {
                    tag.len() == 2 * tag_len as usize && tag.bytes().all(|b| b.is_ascii_hexdigit())
                } else {
                    tag.len() == tag_len as usize && tag.bytes().all(|b| b.is_ascii_graphic())
                };
                if !ok {
                    return Err(format!(
                        "part {tag:?} ({}): tag must be {tag_len} {}",
                        p.name,
                        if tag_binary { "bytes in hex" } else { "characters" }
                    ));
                }
                let tag = tag.to_ascii_uppercase();
                if parts.iter().any(|t| t.tag == tag) {
                    return Err(format!("tag {tag}: defined twice"));
                }
                let field = tag_part(p, owner, depth).map_err(|e| format!("tag {tag} ({}): {e}", p.name))?;
                parts.push(TlvPart { tag, field });
            }
            CompositeKind::Tlv {
                tag_len: tag_len as u8,
                tag_binary,
                len_len: len_len as u8,
                len_encoding,
                parts,
            }
        }
        "ber-tlv" => {
            let mut tags: Vec<TagInfo> = match c.dictionary.as_deref() {
                None | Some("emv") => emv::emv_tags().iter().cloned().collect(),
                Some("none") => Vec::new(),
                Some(other) => return Err(format!("unknown dictionary {other:?} (expected emv or none)")),
            };
            for p in &c.parts {
                if p.number.is_some() || p.length.is_some() || p.max.is_some() || p.composite.is_some() {
                    return Err(format!(
                        "tag {:?}: a ber-tlv part has only tag, name and sensitivity",
                        p.tag.as_deref().unwrap_or(&p.name)
                    ));
                }
                let text = p
                    .tag
                    .as_deref()
                    .ok_or_else(|| format!("part {:?}: needs a tag", p.name))?;
                let tag = ber_tag_number(text)
                    .ok_or_else(|| format!("tag {text:?}: not a BER-TLV tag in hex (1-4 bytes)"))?;
                let sensitivity = sensitivity(p.sensitivity.as_deref())?.unwrap_or(Sensitivity::None);
                let info = TagInfo {
                    tag,
                    name: Arc::from(p.name.as_str()),
                    sensitivity,
                };
                match tags.iter_mut().find(|t| t.tag == tag) {
                    Some(t) => *t = info,
                    None => tags.push(info),
                }
            }
            CompositeKind::BerTlv {
                tags: TagTable::new(tags),
            }
        }
        other => {
            return Err(format!(
                "unknown composite kind {other:?} (expected positional, bitmap, tlv or ber-tlv)"
            ))
        }
    };
    Ok(Composite {
        kind,
        strict: c.strict.unwrap_or(true),
    })
}

/// A numbered sub-field: the keys of a field, all required but the optional ones.
fn part(p: &RawPart, number: u8, depth: usize) -> Result<FieldSpec, String> {
    let raw = RawField {
        number: number as i64,
        name: p.name.clone(),
        length: p.length.clone().ok_or("needs a length (fixed, L, LL, LLL or LLLL)")?,
        max: p.max.ok_or("needs a max")?,
        class: p.class.clone().ok_or("needs a class")?,
        encoding: p.encoding.clone(),
        prefix: p.prefix.clone(),
        unit: p.unit.clone(),
        odd_pad: p.odd_pad.clone(),
        pad: p.pad.clone(),
        sensitivity: p.sensitivity.clone(),
        prefix_counts_itself: p.prefix_counts_itself,
        composite: None,
    };
    let mut spec = field(&raw, &RawDefaults::default(), true)?;
    if let Some(c) = &p.composite {
        spec.composite = Some(Arc::new(composite(c, &spec, depth + 1)?));
    }
    Ok(spec)
}

/// A tag of a `tlv` composite: its length comes from the TLV, so length and max are optional;
/// the class defaults to the owner's (binary owners give binary tags).
fn tag_part(p: &RawPart, owner: &FieldSpec, depth: usize) -> Result<FieldSpec, String> {
    let owner_class = match owner.class {
        ContentClass::B => "b",
        ContentClass::N => "n",
        ContentClass::A => "a",
        ContentClass::An => "an",
        ContentClass::Z => "z",
        _ => "ans",
    };
    let class = p.class.clone().unwrap_or_else(|| owner_class.to_owned());
    let encoding = p
        .encoding
        .clone()
        .or_else(|| (class == "b").then(|| "binary".to_owned()));
    let raw = RawField {
        number: 1,
        name: p.name.clone(),
        length: p.length.clone().unwrap_or_else(|| "LLLL".to_owned()),
        max: p.max.unwrap_or(9999),
        class,
        encoding,
        prefix: None,
        unit: p.unit.clone(),
        odd_pad: p.odd_pad.clone(),
        pad: None,
        sensitivity: p.sensitivity.clone(),
        prefix_counts_itself: None,
        composite: None,
    };
    let mut spec = field(&raw, &RawDefaults::default(), true)?;
    if let Some(c) = &p.composite {
        spec.composite = Some(Arc::new(composite(c, &spec, depth + 1)?));
    }
    Ok(spec)
}

fn sensitivity(s: Option<&str>) -> Result<Option<Sensitivity>, String> {
    Ok(Some(match s {
        None => return Ok(None),
        Some("none") => Sensitivity::None,
        Some("pan") => Sensitivity::Pan,
        Some("track") => Sensitivity::Track,
        Some("secret") => Sensitivity::Secret,
        Some(other) => {
            return Err(format!(
                "unknown sensitivity {other:?} (expected pan, track, secret or none)"
            ))
        }
    }))
}

/// One field's definition. A sub-field (`sub`) has no ISO default sensitivity.
fn field(f: &RawField, d: &RawDefaults, sub: bool) -> Result<FieldSpec, String> {
    let number = f.number.clamp(0, 255) as u8;
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
    let prefix_counts_itself = f.prefix_counts_itself.unwrap_or(false);
    if prefix_counts_itself && length == LengthKind::Fixed {
        return Err("prefix_counts_itself applies only to variable-length fields".into());
    }
    if let LengthKind::Variable(digits) = length {
        // What the prefix can say: decimal digits, or 1 or 2 bytes of binary.
        let (cap, what) = match prefix {
            PrefixEncoding::Binary if digits <= 2 => (255u32, "a 1-byte binary prefix".to_owned()),
            PrefixEncoding::Binary => (65535, "a 2-byte binary prefix".to_owned()),
            _ => (10u32.pow(digits as u32) - 1, format!("an {} prefix", f.length)),
        };
        if prefix_counts_itself {
            let width = crate::codec::prefix_width(digits, prefix) as u32;
            if (max_len as u32) + width > cap {
                return Err(format!(
                    "{what} that counts itself ({width} bytes) holds at most {}, but max is {max_len}",
                    cap - width
                ));
            }
        } else if max_len as u32 > cap {
            return Err(format!("{what} holds at most {cap}, but max is {max_len}"));
        }
    }
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
    let sensitivity = match sensitivity(f.sensitivity.as_deref())? {
        Some(s) => s,
        // Unsaid: the ISO 8583:1987 rule for the field (a forgotten key must not log a PAN).
        None if !sub => iso_default_sensitivity(number),
        None => Sensitivity::None,
    };
    if prefix_counts_itself && unit == LengthUnit::Digits {
        return Err("prefix_counts_itself needs a length counted in bytes (unit = \"bytes\")".into());
    }
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
        prefix_counts_itself,
        composite: None,
    })
}

/// The ISO 8583:1987 masking rule of a field whose spec line says nothing: PAN for DE 2 and 34,
/// track for 35, 36 and 45, secret for the expiry date (14), the PIN block (52) and ICC data (55).
fn iso_default_sensitivity(number: u8) -> Sensitivity {
    match number {
        2 | 34 => Sensitivity::Pan,
        35 | 36 | 45 => Sensitivity::Track,
        14 | 52 | 55 => Sensitivity::Secret,
        _ => Sensitivity::None,
    }
}
