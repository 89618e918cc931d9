//! Building a composite field's value from parts, and changing one part by path.

use bytes::{Bytes, BytesMut};

use super::read::{parse, tlv_length, TlvFormat, Trail};
use super::{PartId, PartValue, PathError, PathErrorKind};
use crate::codec::write_subfield;
use crate::spec::composite::ber_tag_number;
use crate::spec::{
    BitmapEncoding, Composite, CompositeKind, ContentClass, Encoding, FieldSpec, LengthKind, PrefixEncoding, MAX_DEPTH,
};

/// The value of a composite field built from `parts`, checked by parsing it back.
pub(super) fn build_field(fs: &FieldSpec, parts: Vec<(String, PartValue)>) -> Result<Bytes, PathError> {
    let trail = Trail::root(fs.number);
    let comp = composite_of(fs, &trail)?;
    let bytes = Bytes::from(build(comp, fs, parts, &trail)?);
    parse(comp, fs, &bytes, 0, &trail)?;
    Ok(bytes)
}

/// The field's value with the part at `ids` set to `value`.
pub(super) fn set_in(fs: &FieldSpec, current: &Bytes, ids: &[&str], value: PartValue) -> Result<Bytes, PathError> {
    let trail = Trail::root(fs.number);
    let comp = composite_of(fs, &trail)?;
    let bytes = Bytes::from(set_level(comp, fs, current, ids, value, &trail)?);
    parse(comp, fs, &bytes, 0, &trail)?;
    Ok(bytes)
}

fn composite_of<'a>(fs: &'a FieldSpec, trail: &Trail<'_>) -> Result<&'a Composite, PathError> {
    fs.composite
        .as_deref()
        .ok_or_else(|| trail.err(None, None, PathErrorKind::NoStructure))
}

/// The current parts of one level as (id, raw value) pairs: untouched parts keep their bytes.
fn current_parts(
    comp: &Composite,
    owner: &FieldSpec,
    value: &Bytes,
    trail: &Trail<'_>,
) -> Result<Vec<(String, PartValue)>, PathError> {
    if value.is_empty() {
        return Ok(Vec::new());
    }
    let parts = parse(comp, owner, value, 0, trail)?;
    Ok(parts
        .into_iter()
        .map(|p| (p.id().to_owned(), PartValue::Raw(p.value)))
        .collect())
}

fn set_level(
    comp: &Composite,
    owner: &FieldSpec,
    current: &Bytes,
    ids: &[&str],
    value: PartValue,
    trail: &Trail<'_>,
) -> Result<Vec<u8>, PathError> {
    let Some((&id, deeper)) = ids.split_first() else {
        return Err(trail.err(None, None, PathErrorKind::BadPath(String::new())));
    };
    let mut parts = current_parts(comp, owner, current, trail)?;
    let key = canonical_id(comp, id);
    let slot = parts.iter().position(|(k, _)| *k == key);
    let new_value = if deeper.is_empty() {
        value
    } else {
        // Descend: the part's own structure (a constructed tag's is its parent's).
        let here = trail.child(label(comp), PartId::text(key.as_bytes()));
        let inner = match slot.and_then(|i| parts.get(i)) {
            Some((_, PartValue::Raw(b))) => b.clone(),
            _ => Bytes::new(),
        };
        let (sub_comp, sub_owner) = part_structure(comp, owner, &key, &here)?;
        PartValue::Raw(Bytes::from(set_level(
            sub_comp, sub_owner, &inner, deeper, value, &here,
        )?))
    };
    match slot {
        Some(i) => {
            if let Some(p) = parts.get_mut(i) {
                p.1 = new_value;
            }
        }
        None => parts.push((key, new_value)),
    }
    build(comp, owner, parts, trail)
}

/// Ids as the parser shows them: tags in uppercase, numbers without leading zeros.
fn canonical_id(comp: &Composite, id: &str) -> String {
    match comp.kind {
        CompositeKind::Positional { .. } | CompositeKind::Bitmap { .. } => {
            id.parse::<u8>().map_or_else(|_| id.to_owned(), |n| n.to_string())
        }
        _ => id.to_ascii_uppercase(),
    }
}

fn label(comp: &Composite) -> &'static str {
    match comp.kind {
        CompositeKind::Positional { .. } | CompositeKind::Bitmap { .. } => "sub-field",
        _ => "tag",
    }
}

/// The structure inside part `key` of `comp`: a constructed BER-TLV tag holds the same
/// structure; a sub-field or TLV tag holds the composite its spec declares.
fn part_structure<'a>(
    comp: &'a Composite,
    owner: &'a FieldSpec,
    key: &str,
    trail: &Trail<'_>,
) -> Result<(&'a Composite, &'a FieldSpec), PathError> {
    if trail.depth > MAX_DEPTH {
        return Err(trail.err(None, None, PathErrorKind::TooDeep));
    }
    let not = || trail.err(None, None, PathErrorKind::NotStructured);
    match &comp.kind {
        CompositeKind::BerTlv { .. } => {
            let tag =
                ber_tag_number(key).ok_or_else(|| trail.err(None, None, PathErrorKind::BadTag(key.to_owned())))?;
            if first_byte(tag) & 0x20 == 0 {
                return Err(not());
            }
            Ok((comp, owner))
        }
        CompositeKind::Tlv { parts, .. } => {
            let p = parts.iter().find(|p| p.tag == key).ok_or_else(not)?;
            Ok((p.field.composite.as_deref().ok_or_else(not)?, &p.field))
        }
        CompositeKind::Positional { parts } | CompositeKind::Bitmap { parts, .. } => {
            let p = parts
                .iter()
                .find(|p| p.number.to_string() == key)
                .ok_or_else(|| trail.err(None, None, PathErrorKind::NoSuchPart(key.to_owned())))?;
            Ok((p.composite.as_deref().ok_or_else(not)?, p))
        }
    }
}

fn first_byte(tag: u32) -> u8 {
    let n = tag_bytes(tag);
    n.first().copied().unwrap_or(0)
}

fn tag_bytes(tag: u32) -> Vec<u8> {
    let all = tag.to_be_bytes();
    let skip = all.iter().take_while(|b| **b == 0).count().min(3);
    all.get(skip..).unwrap_or(&[]).to_vec()
}

/// The canonical bytes of a part value, given what the part is (binary or text) and its structure.
fn part_bytes(
    value: PartValue,
    binary: bool,
    structure: Option<(&Composite, &FieldSpec)>,
    trail: &Trail<'_>,
) -> Result<Vec<u8>, PathError> {
    match value {
        PartValue::Raw(b) => Ok(b.to_vec()),
        PartValue::Text(t) if binary => crate::hex::decode(&t).map_err(|e| {
            trail.err(
                None,
                None,
                PathErrorKind::BadText(format!("binary values are given in hex: {e}")),
            )
        }),
        PartValue::Text(t) => Ok(t.into_bytes()),
        PartValue::Parts(parts) => match structure {
            Some((c, o)) => build(c, o, parts, trail),
            None => Err(trail.err(None, None, PathErrorKind::NotStructured)),
        },
    }
}

/// Writes `parts` as the structure `comp` says.
pub(super) fn build(
    comp: &Composite,
    owner: &FieldSpec,
    parts: Vec<(String, PartValue)>,
    trail: &Trail<'_>,
) -> Result<Vec<u8>, PathError> {
    if trail.depth > MAX_DEPTH {
        return Err(trail.err(None, None, PathErrorKind::TooDeep));
    }
    let mut out = Vec::new();
    match &comp.kind {
        CompositeKind::BerTlv { .. } => {
            for (id, value) in parts {
                let key = id.to_ascii_uppercase();
                let tag =
                    ber_tag_number(&key).ok_or_else(|| trail.err(None, None, PathErrorKind::BadTag(key.clone())))?;
                let here = trail.child("tag", PartId::text(key.as_bytes()));
                let constructed = first_byte(tag) & 0x20 != 0;
                let structure = constructed.then_some((comp, owner));
                let bytes = part_bytes(value, true, structure, &here)?;
                out.extend_from_slice(&tag_bytes(tag));
                let len = bytes.len();
                match len {
                    0..=0x7F => out.push(len as u8),
                    0x80..=0xFF => out.extend_from_slice(&[0x81, len as u8]),
                    0x100..=0xFFFF => out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]),
                    _ => out.extend_from_slice(&[0x83, (len >> 16) as u8, (len >> 8) as u8, len as u8]),
                }
                out.extend_from_slice(&bytes);
            }
        }
        CompositeKind::Tlv {
            tag_len,
            tag_binary,
            len_len,
            len_encoding,
            parts: known,
        } => {
            let fmt = TlvFormat {
                tag_len: *tag_len as usize,
                tag_binary: *tag_binary,
                len_len: *len_len,
                len_encoding: *len_encoding,
            };
            for (id, value) in parts {
                let key = id.to_ascii_uppercase();
                let here = trail.child("tag", PartId::text(key.as_bytes()));
                let tag = if fmt.tag_binary {
                    crate::hex::decode(&key).ok().filter(|t| t.len() == fmt.tag_len)
                } else {
                    Some(key.as_bytes().to_vec())
                        .filter(|t| t.len() == fmt.tag_len && t.iter().all(u8::is_ascii_graphic))
                };
                let tag = tag.ok_or_else(|| trail.err(None, None, PathErrorKind::BadTag(key.clone())))?;
                let def = known.iter().find(|p| p.tag == key);
                let binary = def.map_or(owner.is_binary(), |p| p.field.is_binary());
                let structure = def.and_then(|p| p.field.composite.as_deref().map(|c| (c, &p.field)));
                let bytes = part_bytes(value, binary, structure, &here)?;
                if bytes.len() > fmt.max_len() {
                    return Err(here.err(
                        None,
                        None,
                        PathErrorKind::TooLong {
                            len: bytes.len(),
                            max: fmt.max_len(),
                        },
                    ));
                }
                out.extend_from_slice(&tag);
                write_tlv_length(&mut out, &fmt, bytes.len());
                debug_assert_eq!(
                    tlv_length(fmt.len_encoding, &out[out.len() - fmt.len_width()..]),
                    Some(bytes.len())
                );
                out.extend_from_slice(&bytes);
            }
        }
        CompositeKind::Positional { parts: defs } => {
            let mut given = parts;
            for fs in defs {
                let key = fs.number.to_string();
                let value = given
                    .iter()
                    .position(|(k, _)| canonical_id(comp, k) == key)
                    .map(|i| given.remove(i).1);
                write_part(&mut out, fs, value, trail)?;
            }
            if let Some((k, _)) = given.first() {
                return Err(trail.err(None, None, PathErrorKind::NoSuchPart(k.clone())));
            }
        }
        CompositeKind::Bitmap {
            encoding,
            bytes,
            parts: defs,
        } => {
            let mut bits = vec![0u8; *bytes as usize];
            let mut numbered: Vec<(&FieldSpec, PartValue)> = Vec::with_capacity(parts.len());
            for (k, v) in parts {
                let fs = k
                    .parse::<u8>()
                    .ok()
                    .and_then(|n| defs.iter().find(|d| d.number == n))
                    .ok_or_else(|| trail.err(None, None, PathErrorKind::NoSuchPart(k.clone())))?;
                let bit = fs.number as usize - 1;
                if let Some(b) = bits.get_mut(bit / 8) {
                    *b |= 0x80 >> (bit % 8);
                }
                numbered.retain(|(f, _)| f.number != fs.number);
                numbered.push((fs, v));
            }
            numbered.sort_by_key(|(f, _)| f.number);
            match encoding {
                BitmapEncoding::Binary => out.extend_from_slice(&bits),
                BitmapEncoding::Hex => out.extend_from_slice(crate::hex::encode(&bits).as_bytes()),
            }
            for (fs, v) in numbered {
                write_part(&mut out, fs, Some(v), trail)?;
            }
        }
    }
    Ok(out)
}

/// Writes one positional or bitmap sub-field; a missing one is filled.
fn write_part(out: &mut Vec<u8>, fs: &FieldSpec, value: Option<PartValue>, trail: &Trail<'_>) -> Result<(), PathError> {
    let id = PartId::number(fs.number);
    let here = trail.child("sub-field", id);
    let bytes = match value {
        Some(v) => part_bytes(v, fs.is_binary(), fs.composite.as_deref().map(|c| (c, fs)), &here)?,
        None => filler(fs),
    };
    let mut buf = BytesMut::new();
    write_subfield(&mut buf, fs, &bytes)
        .map_err(|k| trail.err(Some(("sub-field", id)), Some(out.len()), PathErrorKind::Content(k)))?;
    out.extend_from_slice(&buf);
    Ok(())
}

/// The value of a sub-field nobody set: zeros for digits, spaces for text, zero bytes for binary;
/// empty when variable.
fn filler(fs: &FieldSpec) -> Vec<u8> {
    if fs.length != LengthKind::Fixed {
        return Vec::new();
    }
    let n = fs.max_len as usize;
    match (fs.encoding, fs.class) {
        (Encoding::Binary, _) => vec![0; n],
        (Encoding::Hex, _) => vec![0; n / 2],
        (Encoding::Bcd, _) if fs.unit == crate::spec::LengthUnit::Bytes => vec![b'0'; 2 * n],
        (_, ContentClass::N | ContentClass::Z | ContentClass::Xn) => vec![b'0'; n],
        _ => vec![b' '; n],
    }
}

fn write_tlv_length(out: &mut Vec<u8>, fmt: &TlvFormat, len: usize) {
    let digits = fmt.len_len as usize;
    match fmt.len_encoding {
        PrefixEncoding::Binary => {
            for i in (0..digits).rev() {
                out.push((len >> (8 * i)) as u8);
            }
        }
        enc => {
            let text = format!("{len:0digits$}");
            match enc {
                PrefixEncoding::Ascii => out.extend_from_slice(text.as_bytes()),
                PrefixEncoding::Ebcdic => out.extend(text.bytes().map(|d| d - b'0' + 0xF0)),
                _ => {
                    let padded = if text.len() % 2 == 1 { format!("0{text}") } else { text };
                    let b = padded.as_bytes();
                    for pair in b.chunks(2) {
                        let hi = pair.first().map_or(0, |d| d - b'0');
                        let lo = pair.get(1).map_or(0, |d| d - b'0');
                        out.push(hi << 4 | lo);
                    }
                }
            }
        }
    }
}
