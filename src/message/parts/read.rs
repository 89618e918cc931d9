//! Parsing a composite field's value into its parts. Every read is checked (no indexing on wire
//! data), nesting is bounded by [`MAX_DEPTH`], and each part consumes at least one byte, so the
//! work is linear in the value's length.

use bytes::Bytes;

use super::{Part, PartId, PathError, PathErrorKind};
use crate::codec::{read_subfield, ErrorKind};
use crate::spec::{BitmapEncoding, Composite, CompositeKind, FieldSpec, PrefixEncoding, Sensitivity, MAX_DEPTH};

/// Where a parse is: the field, the path so far (for errors), the depth.
#[derive(Clone, Copy)]
pub(super) struct Trail<'t> {
    pub(super) field: u8,
    pub(super) parent: Option<(&'t Trail<'t>, &'static str, PartId)>,
    pub(super) depth: usize,
}

impl<'t> Trail<'t> {
    pub(super) fn root(field: u8) -> Trail<'t> {
        Trail {
            field,
            parent: None,
            depth: 1,
        }
    }
    pub(super) fn child(&'t self, label: &'static str, id: PartId) -> Trail<'t> {
        Trail {
            field: self.field,
            parent: Some((self, label, id)),
            depth: self.depth + 1,
        }
    }
    pub(super) fn path(&self) -> String {
        let mut segs = Vec::new();
        let mut at = self;
        while let Some((parent, label, id)) = &at.parent {
            segs.push(format!("{label} {}", id.as_str()));
            at = parent;
        }
        segs.reverse();
        segs.join(" ")
    }
    /// An error about this place (or about part `id` in it, if given), at `offset`.
    pub(super) fn err(
        &self,
        part: Option<(&'static str, PartId)>,
        offset: Option<usize>,
        kind: PathErrorKind,
    ) -> PathError {
        let mut path = self.path();
        if let Some((label, id)) = part {
            if !path.is_empty() {
                path.push(' ');
            }
            path.push_str(label);
            path.push(' ');
            path.push_str(id.as_str());
        }
        PathError::new(self.field, path, offset, kind)
    }
}

/// Parses a top-level composite field's value.
pub(crate) fn parse_field<'a>(fs: &'a FieldSpec, value: &Bytes) -> Result<Vec<Part<'a>>, PathError> {
    let Some(comp) = fs.composite.as_deref() else {
        return Err(PathError::new(
            fs.number,
            String::new(),
            None,
            PathErrorKind::NoStructure,
        ));
    };
    parse(comp, fs, value, 0, &Trail::root(fs.number))
}

/// Checks a field's value against its structure (for the encoder): `Ok` if it parses.
pub(crate) fn check_field(fs: &FieldSpec, value: &[u8]) -> Result<(), PathError> {
    parse_field(fs, &Bytes::copy_from_slice(value)).map(drop)
}

/// Parses `value` (which starts at `base` in the top-level field's value) as `comp`, owned by `owner`.
pub(super) fn parse<'a>(
    comp: &'a Composite,
    owner: &'a FieldSpec,
    value: &Bytes,
    base: usize,
    trail: &Trail<'_>,
) -> Result<Vec<Part<'a>>, PathError> {
    if trail.depth > MAX_DEPTH {
        return Err(trail.err(None, Some(base), PathErrorKind::TooDeep));
    }
    match &comp.kind {
        CompositeKind::BerTlv { tags } => ber(tags, owner.sensitivity, value, base, trail),
        CompositeKind::Tlv {
            tag_len,
            tag_binary,
            len_len,
            len_encoding,
            parts,
        } => {
            let fmt = TlvFormat {
                tag_len: *tag_len as usize,
                tag_binary: *tag_binary,
                len_len: *len_len,
                len_encoding: *len_encoding,
            };
            tlv(&fmt, parts, owner, value, base, trail)
        }
        CompositeKind::Positional { parts } => {
            let mut out = Vec::with_capacity(parts.len());
            let mut at = 0;
            for fs in parts {
                let (part, used) = subfield(fs, value, at, base, trail)?;
                out.push(part);
                at += used;
            }
            if at < value.len() {
                return Err(trail.err(None, Some(base + at), PathErrorKind::Trailing(value.len() - at)));
            }
            Ok(out)
        }
        CompositeKind::Bitmap { encoding, bytes, parts } => {
            let n = *bytes as usize;
            let (bits, mut at) = match encoding {
                BitmapEncoding::Binary => {
                    let raw = value.get(..n).ok_or_else(|| {
                        trail.err(
                            None,
                            Some(base),
                            PathErrorKind::Truncated {
                                needed: n,
                                left: value.len(),
                            },
                        )
                    })?;
                    (raw.to_vec(), n)
                }
                BitmapEncoding::Hex => {
                    let raw = value.get(..2 * n).ok_or_else(|| {
                        trail.err(
                            None,
                            Some(base),
                            PathErrorKind::Truncated {
                                needed: 2 * n,
                                left: value.len(),
                            },
                        )
                    })?;
                    let text = std::str::from_utf8(raw).ok().and_then(|t| crate::hex::decode(t).ok());
                    let bits = text.ok_or_else(|| {
                        trail.err(None, Some(base), PathErrorKind::BadText("sub-bitmap is not hex".into()))
                    })?;
                    (bits, 2 * n)
                }
            };
            let mut out = Vec::new();
            for bit in 1..=n * 8 {
                let set = bits
                    .get((bit - 1) / 8)
                    .is_some_and(|b| b & (0x80 >> ((bit - 1) % 8)) != 0);
                if !set {
                    continue;
                }
                let Some(fs) = parts.iter().find(|p| p.number as usize == bit) else {
                    return Err(trail.err(None, Some(base), PathErrorKind::UndefinedPart(bit as u8)));
                };
                let (part, used) = subfield(fs, value, at, base, trail)?;
                out.push(part);
                at += used;
            }
            if at < value.len() {
                return Err(trail.err(None, Some(base + at), PathErrorKind::Trailing(value.len() - at)));
            }
            Ok(out)
        }
    }
}

/// One positional or bitmap sub-field at `at`: the part and the bytes it took.
fn subfield<'a>(
    fs: &'a FieldSpec,
    value: &Bytes,
    at: usize,
    base: usize,
    trail: &Trail<'_>,
) -> Result<(Part<'a>, usize), PathError> {
    let id = PartId::number(fs.number);
    let rest = value.get(at..).unwrap_or(&[]);
    let (used, raw_len, converted) = read_subfield(fs, rest).map_err(|(found_at, kind)| {
        let kind = match kind {
            // Content cut short after a length prefix: the prefix's length runs past the end.
            ErrorKind::Truncated { needed, available } if found_at > 0 => PathErrorKind::PastEnd {
                len: needed,
                left: available,
            },
            ErrorKind::Truncated { needed, available } => PathErrorKind::Truncated {
                needed,
                left: available,
            },
            other => PathErrorKind::Content(other),
        };
        trail.err(Some(("sub-field", id)), Some(base + at), kind)
    })?;
    let start = at + used - raw_len;
    let content = match converted {
        Some(b) => b,
        None => value.slice(start..at + used),
    };
    let children = match fs.composite.as_deref() {
        Some(c) => Some(parse(c, fs, &content, base + start, &trail.child("sub-field", id))?),
        None => None,
    };
    let part = Part {
        id,
        name: &fs.name,
        sensitivity: fs.sensitivity,
        binary: fs.is_binary(),
        offset: base + at,
        value: content,
        children,
    };
    Ok((part, used))
}

/// BER-TLV objects, skipping 0x00 padding between them.
fn ber<'a>(
    tags: &'a crate::spec::TagTable,
    unknown: Sensitivity,
    value: &Bytes,
    base: usize,
    trail: &Trail<'_>,
) -> Result<Vec<Part<'a>>, PathError> {
    if trail.depth > MAX_DEPTH {
        return Err(trail.err(None, Some(base), PathErrorKind::TooDeep));
    }
    let v: &[u8] = value;
    // A BER-TLV object takes at least 3 bytes with a value, a TLV one at least the tag and length:
    // reserve once for the likely count instead of growing.
    let mut out = Vec::with_capacity((v.len() / 3).min(64));
    let mut i = 0;
    while let Some(&first) = v.get(i) {
        if first == 0x00 {
            i += 1;
            continue;
        }
        let start = i;
        let at = Some(base + start);
        // Tag: one byte, or more while the continuation bit is set.
        let mut tag = first as u32;
        i += 1;
        if first & 0x1F == 0x1F {
            loop {
                let Some(&b) = v.get(i) else {
                    let id = PartId::hex(v.get(start..i).unwrap_or(&[]));
                    return Err(trail.err(Some(("tag", id)), at, PathErrorKind::Truncated { needed: 1, left: 0 }));
                };
                i += 1;
                if i - start > 4 {
                    let id = PartId::hex(v.get(start..start + 4).unwrap_or(&[]));
                    return Err(trail.err(Some(("tag", id)), at, PathErrorKind::TagTooLong));
                }
                tag = tag << 8 | b as u32;
                if b & 0x80 == 0 {
                    break;
                }
            }
        }
        let id = PartId::hex(v.get(start..i).unwrap_or(&[]));
        let fail = |kind| trail.err(Some(("tag", id)), at, kind);
        // Length: short form, or 81-84 then 1-4 bytes.
        let Some(&l0) = v.get(i) else {
            return Err(fail(PathErrorKind::Truncated { needed: 1, left: 0 }));
        };
        i += 1;
        let len = if l0 < 0x80 {
            l0 as usize
        } else if (0x81..=0x84).contains(&l0) {
            let k = (l0 & 0x7F) as usize;
            let bytes = v.get(i..i + k).ok_or_else(|| {
                fail(PathErrorKind::Truncated {
                    needed: k,
                    left: v.len() - i,
                })
            })?;
            i += k;
            bytes.iter().fold(0u64, |acc, &b| acc << 8 | b as u64) as usize
        } else {
            return Err(fail(PathErrorKind::BadBerLength(l0)));
        };
        let left = v.len() - i;
        if len > left {
            return Err(fail(PathErrorKind::PastEnd { len, left }));
        }
        let content = value.slice(i..i + len);
        let info = tags.get(tag);
        let children = if first & 0x20 != 0 {
            let child = trail.child("tag", id);
            Some(ber(tags, unknown, &content, base + i, &child)?)
        } else {
            None
        };
        out.push(Part {
            id,
            name: info.map_or("", |t| &t.name),
            sensitivity: info.map_or(unknown, |t| t.sensitivity),
            binary: true,
            offset: base + start,
            value: content,
            children,
        });
        i += len;
    }
    Ok(out)
}

/// Sizes and encodings of a `tlv` structure.
pub(super) struct TlvFormat {
    pub(super) tag_len: usize,
    pub(super) tag_binary: bool,
    pub(super) len_len: u8,
    pub(super) len_encoding: PrefixEncoding,
}

impl TlvFormat {
    /// Bytes the length takes on the wire.
    pub(super) fn len_width(&self) -> usize {
        match self.len_encoding {
            PrefixEncoding::Ascii | PrefixEncoding::Ebcdic | PrefixEncoding::Binary => self.len_len as usize,
            PrefixEncoding::Bcd => (self.len_len as usize).div_ceil(2),
        }
    }
    /// Largest length the length field can say.
    pub(super) fn max_len(&self) -> usize {
        match self.len_encoding {
            PrefixEncoding::Binary => (1usize << (8 * self.len_len as usize)) - 1,
            _ => 10usize.pow(self.len_len as u32) - 1,
        }
    }
}

/// Tag-length-value objects of fixed-size tags and lengths; unknown tags are kept.
fn tlv<'a>(
    fmt: &TlvFormat,
    parts: &'a [crate::spec::TlvPart],
    owner: &'a FieldSpec,
    value: &Bytes,
    base: usize,
    trail: &Trail<'_>,
) -> Result<Vec<Part<'a>>, PathError> {
    let v: &[u8] = value;
    // A BER-TLV object takes at least 3 bytes with a value, a TLV one at least the tag and length:
    // reserve once for the likely count instead of growing.
    let mut out = Vec::with_capacity((v.len() / 3).min(64));
    let mut i = 0;
    while i < v.len() {
        let start = i;
        let at = Some(base + start);
        let tag = v.get(i..i + fmt.tag_len).ok_or_else(|| {
            trail.err(
                None,
                at,
                PathErrorKind::Truncated {
                    needed: fmt.tag_len,
                    left: v.len() - i,
                },
            )
        })?;
        let id = if fmt.tag_binary {
            PartId::hex(tag)
        } else if tag.iter().all(u8::is_ascii_graphic) {
            PartId::text(tag)
        } else {
            let shown = crate::hex::encode(tag);
            return Err(trail.err(None, at, PathErrorKind::BadTag(format!("bytes {shown}"))));
        };
        i += fmt.tag_len;
        let fail = |kind| trail.err(Some(("tag", id)), at, kind);
        let width = fmt.len_width();
        let raw = v.get(i..i + width).ok_or_else(|| {
            fail(PathErrorKind::Truncated {
                needed: width,
                left: v.len() - i,
            })
        })?;
        let len =
            tlv_length(fmt.len_encoding, raw).ok_or_else(|| fail(PathErrorKind::BadLength(crate::hex::encode(raw))))?;
        i += width;
        let left = v.len() - i;
        if len > left {
            return Err(fail(PathErrorKind::PastEnd { len, left }));
        }
        let content = value.slice(i..i + len);
        let known = parts.iter().find(|p| p.tag.as_bytes() == id.as_str().as_bytes());
        let (name, sensitivity, binary, children) = match known {
            Some(p) => {
                if !p.field.is_binary() {
                    crate::codec::check_text(p.field.class, &content).map_err(|k| fail(PathErrorKind::Content(k)))?;
                }
                let children = match p.field.composite.as_deref() {
                    Some(c) => Some(parse(c, &p.field, &content, base + i, &trail.child("tag", id))?),
                    None => None,
                };
                (&*p.field.name, p.field.sensitivity, p.field.is_binary(), children)
            }
            None => ("", owner.sensitivity, owner.is_binary(), None),
        };
        out.push(Part {
            id,
            name,
            sensitivity,
            binary,
            offset: base + start,
            value: content,
            children,
        });
        i += len;
    }
    Ok(out)
}

/// A TLV length in its encoding.
pub(super) fn tlv_length(enc: PrefixEncoding, raw: &[u8]) -> Option<usize> {
    let mut n = 0usize;
    match enc {
        PrefixEncoding::Ascii | PrefixEncoding::Ebcdic => {
            let zero = if enc == PrefixEncoding::Ascii { b'0' } else { 0xF0 };
            for &b in raw {
                let d = b.wrapping_sub(zero);
                if d > 9 {
                    return None;
                }
                n = n * 10 + d as usize;
            }
        }
        PrefixEncoding::Bcd => {
            for &b in raw {
                let (hi, lo) = (b >> 4, b & 0xF);
                if hi > 9 || lo > 9 {
                    return None;
                }
                n = n * 100 + (hi * 10 + lo) as usize;
            }
        }
        PrefixEncoding::Binary => n = raw.iter().fold(0, |acc, &b| acc << 8 | b as usize),
    }
    Some(n)
}
