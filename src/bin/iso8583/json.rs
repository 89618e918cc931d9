//! The JSON shape of a message, shared by `decode --json`, `encode`, `send` and `replay`:
//! `{"mti": "0200", "fields": {"2": "4111...", "4": "000000001000", "52": "0123ABCD..."}}`.
//!
//! Text and digit fields are strings in their canonical form (a track separator reads `=`);
//! binary fields (binary or hex on the wire) are uppercase hex. Output masks card data unless
//! revealed; input refuses masked values, since they cannot be sent.

use anyhow::{anyhow, bail};
use iso8583_client::message::{mask_value, Part, PartValue, PathError};
use iso8583_client::spec::Sensitivity;
use iso8583_client::{Message, Mti, Spec};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use crate::hex;

/// A field value as shown to people and in JSON: hex for binary fields, text otherwise, masked by
/// the field's sensitivity unless `reveal`.
pub fn field_text(spec: &Spec, number: u8, value: &[u8], reveal: bool) -> String {
    let field = spec.field(number);
    let text = match field {
        Some(f) if f.is_binary() => hex::encode(value),
        _ => match std::str::from_utf8(value) {
            Ok(s) if s.chars().all(|c| !c.is_control()) => s.to_owned(),
            // Undefined or undecodable content: hex is the only faithful form.
            _ => hex::encode(value),
        },
    };
    let sensitivity = field.map_or(Sensitivity::None, |f| f.sensitivity());
    if reveal || sensitivity == Sensitivity::None {
        text
    } else {
        mask_value(text.as_bytes(), sensitivity)
    }
}

/// A value as shown in JSON: text, or (composite fields under `--expand`) its parts in order.
pub enum Shown {
    /// A string.
    Text(String),
    /// An object of parts, in wire order.
    Parts(Vec<(String, Shown)>),
}

impl Shown {
    /// A part, masked by its own sensitivity unless `reveal`; a structured part as an object.
    pub fn of_part(part: &Part<'_>, reveal: bool) -> Shown {
        match part.children() {
            Some(children) => Shown::Parts(
                children
                    .iter()
                    .map(|c| (c.id().to_owned(), Shown::of_part(c, reveal)))
                    .collect(),
            ),
            None => Shown::Text(part.shown(reveal)),
        }
    }
}

impl Serialize for Shown {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Shown::Text(t) => s.serialize_str(t),
            Shown::Parts(parts) => {
                let mut map = s.serialize_map(Some(parts.len()))?;
                for (k, v) in parts {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

/// A message ready to serialize with its fields in number order.
pub struct JsonMessage {
    mti: String,
    fields: Vec<(u8, Shown)>,
}

impl JsonMessage {
    /// The JSON view of `msg`, masked unless `reveal`.
    pub fn new(spec: &Spec, msg: &Message, reveal: bool) -> JsonMessage {
        JsonMessage {
            mti: msg.mti().as_str().to_owned(),
            fields: msg
                .fields()
                .map(|(n, v)| (n, Shown::Text(field_text(spec, n, v, reveal))))
                .collect(),
        }
    }

    /// The JSON view with composite fields as nested objects (`--expand`), each part masked by
    /// its own sensitivity unless `reveal`. A field whose sub-structure does not parse is shown
    /// as without expansion, and its error returned.
    pub fn expanded(spec: &Spec, msg: &Message, reveal: bool) -> (JsonMessage, Vec<PathError>) {
        let mut errors = Vec::new();
        let fields = msg
            .fields()
            .map(|(n, v)| {
                let plain = || Shown::Text(field_text(spec, n, v, reveal));
                if spec.field(n).and_then(|f| f.composite()).is_none() {
                    return (n, plain());
                }
                match msg.parts(n) {
                    Ok(parts) => (
                        n,
                        Shown::Parts(
                            parts
                                .iter()
                                .map(|p| (p.id().to_owned(), Shown::of_part(p, reveal)))
                                .collect(),
                        ),
                    ),
                    Err(e) => {
                        errors.push(e);
                        (n, plain())
                    }
                }
            })
            .collect();
        let json = JsonMessage {
            mti: msg.mti().as_str().to_owned(),
            fields,
        };
        (json, errors)
    }

    /// One line of JSON.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Appends `msg` as one JSON line (with its newline) to `out`: the bytes of
/// `JsonMessage::new(spec, msg, reveal).to_line()` and a newline, without building it field by
/// field (the batch path of `decode --json`).
pub fn write_line(spec: &Spec, msg: &Message, reveal: bool, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"mti\":\"");
    out.extend_from_slice(msg.mti().as_str().as_bytes());
    out.extend_from_slice(b"\",\"fields\":{");
    for (i, (n, v)) in msg.fields().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        push_decimal(n, out);
        out.extend_from_slice(b"\":");
        let field = spec.field(n);
        let clear = reveal || field.is_none_or(|f| f.sensitivity() == Sensitivity::None);
        match field {
            Some(f) if clear && f.is_binary() => {
                out.push(b'"');
                out.extend(hex::encode(v).bytes());
                out.push(b'"');
            }
            // Printable text that JSON takes as is.
            _ if clear && v.iter().all(|b| (0x20..0x7f).contains(b) && *b != b'"' && *b != b'\\') => {
                out.push(b'"');
                out.extend_from_slice(v);
                out.push(b'"');
            }
            _ => {
                // Writing to a Vec cannot fail.
                let _ = serde_json::to_writer(&mut *out, &field_text(spec, n, v, reveal));
            }
        }
    }
    out.extend_from_slice(b"}}\n");
}

fn push_decimal(n: u8, out: &mut Vec<u8>) {
    if n >= 100 {
        out.push(b'0' + n / 100);
    }
    if n >= 10 {
        out.push(b'0' + n / 10 % 10);
    }
    out.push(b'0' + n % 10);
}

struct Fields<'a>(&'a [(u8, Shown)]);

impl Serialize for Fields<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (n, v) in self.0 {
            map.serialize_entry(&n.to_string(), v)?;
        }
        map.end()
    }
}

impl Serialize for JsonMessage {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("mti", &self.mti)?;
        map.serialize_entry("fields", &Fields(&self.fields))?;
        map.end()
    }
}

/// Builds a message from its JSON shape, checking what the encoder cannot explain well: unknown
/// keys, field numbers, masked values, hex of binary fields. Lengths and content classes are left
/// to the encoder, whose errors name the field.
pub fn message_from_json(spec: &Spec, value: &Value) -> anyhow::Result<Message> {
    let obj = value
        .as_object()
        .ok_or_else(|| anyhow!("expected a JSON object {{\"mti\": ..., \"fields\": {{...}}}}"))?;
    if let Some(k) = obj.keys().find(|k| *k != "mti" && *k != "fields") {
        bail!("unknown key {k:?} (expected \"mti\" and \"fields\")");
    }
    let mti_text = obj
        .get("mti")
        .ok_or_else(|| anyhow!("missing \"mti\""))?
        .as_str()
        .ok_or_else(|| anyhow!("\"mti\" must be a string such as \"0200\""))?;
    let mti: Mti = mti_text
        .parse()
        .map_err(|_| anyhow!("invalid MTI {mti_text:?}: expected four digits such as \"0200\""))?;
    let mut msg = Message::new(mti);
    msg.set_masks(spec.masks());
    let Some(fields) = obj.get("fields") else {
        return Ok(msg);
    };
    let fields = fields
        .as_object()
        .ok_or_else(|| anyhow!("\"fields\" must be an object such as {{\"11\": \"000001\"}}"))?;
    // The key that named each field: "11" and "011" name the same one, which is ambiguous.
    let mut named: [Option<&str>; 193] = [None; 193];
    for (key, v) in fields {
        let number: u8 = key
            .parse()
            .ok()
            .filter(|n| (2..=192).contains(n) && *n != 65)
            .ok_or_else(|| anyhow!("field {key:?}: not a data element number (2-192, not 65)"))?;
        if let Some(first) = named[usize::from(number)].replace(key) {
            bail!("field {number}: given twice (as {first:?} and {key:?})");
        }
        let field = spec
            .field(number)
            .ok_or_else(|| anyhow!("field {number}: not defined in spec {}", spec.name()))?;
        if let Value::Object(parts) = v {
            if field.composite().is_none() {
                bail!(
                    "field {number} ({}): the spec declares no sub-structure, give a string",
                    field.name()
                );
            }
            msg.set_parts(number, parts_from_json(number, field.name(), parts)?)
                .map_err(|e| anyhow!("{e}"))?;
            continue;
        }
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) if !field.is_binary() && n.is_u64() => n.to_string(),
            _ => bail!("field {number} ({}): value must be a string", field.name()),
        };
        if looks_masked(&text, field.sensitivity()) {
            bail!(
                "field {number} ({}): value is masked; decode with --reveal to get values that can be encoded",
                field.name()
            );
        }
        if field.is_binary() {
            let bytes = if text.is_empty() {
                Vec::new()
            } else {
                hex::decode(&text)
                    .map_err(|e| anyhow!("field {number} ({}): binary fields are given in hex: {e}", field.name()))?
            };
            msg.set(number, bytes);
        } else {
            msg.set(number, text.into_bytes());
        }
    }
    Ok(msg)
}

/// The parts of a nested object (`{"9F26": "...", "70": {...}}`): strings are values as shown
/// (hex for binary parts), objects are parts of parts.
fn parts_from_json(
    number: u8,
    name: &str,
    obj: &serde_json::Map<String, Value>,
) -> anyhow::Result<Vec<(String, PartValue)>> {
    obj.iter()
        .map(|(k, v)| {
            let value = match v {
                Value::String(s) => {
                    if !s.is_empty() && s.bytes().all(|c| c == b'*') {
                        bail!(
                            "field {number} ({name}) part {k}: value is masked; decode with --reveal to get values that can be encoded"
                        );
                    }
                    PartValue::Text(s.clone())
                }
                Value::Number(n) if n.is_u64() => PartValue::Text(n.to_string()),
                Value::Object(o) => PartValue::Parts(parts_from_json(number, name, o)?),
                _ => bail!("field {number} ({name}) part {k}: value must be a string or an object"),
            };
            Ok((k.clone(), value))
        })
        .collect()
}

/// Whether a value is what masking prints (`411111******1111`, `*******1113`, `****=****`), not a
/// real value: it has a `*`, and masking it again (its `*` read as digits) gives it back.
fn looks_masked(text: &str, sensitivity: Sensitivity) -> bool {
    sensitivity != Sensitivity::None
        && text.contains('*')
        && mask_value(text.replace('*', "0").as_bytes(), sensitivity) == text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_line_writes_what_to_line_writes_for_any_bytes_in_any_field() {
        // Values of any bytes (quotes, backslashes, controls, DEL, non-UTF-8, multi-byte text),
        // in fields of every kind (text, binary, sensitive, undefined in the spec).
        let mut rng = fastrand::Rng::with_seed(7);
        let pieces: &[&[u8]] = &[
            b"A",
            b"0",
            b" ",
            b"\"",
            b"\\",
            b"\x00",
            b"\x1f",
            b"\x7f",
            b"\x80",
            b"\xff",
            "é".as_bytes(),
            "€".as_bytes(),
            b"=",
            b"^",
            b"*",
        ];
        for spec in ["iso87-ascii", "iso87-ascii-binary-bitmap", "iso87-bcd", "iso93-ascii"] {
            let spec = Spec::builtin(spec).unwrap();
            for _ in 0..2000 {
                let mut msg = Message::new("0200".parse().unwrap());
                for _ in 0..rng.usize(0..6) {
                    let field = [2, 11, 14, 35, 41, 43, 45, 52, 55, 64, 100, 128, 130, 192][rng.usize(0..14)];
                    let value: Vec<u8> = (0..rng.usize(0..6))
                        .flat_map(|_| pieces[rng.usize(0..pieces.len())].to_vec())
                        .collect();
                    msg.set(field, value);
                }
                for reveal in [false, true] {
                    let mut out = Vec::new();
                    write_line(&spec, &msg, reveal, &mut out);
                    let want = JsonMessage::new(&spec, &msg, reveal).to_line() + "\n";
                    assert_eq!(String::from_utf8(out).unwrap(), want, "{msg:?}");
                }
            }
        }
    }

    #[test]
    fn write_line_writes_what_to_line_writes() {
        for (file, spec) in [
            ("default_ascii.jsonl", "iso87-ascii"),
            ("default.jsonl", "iso87-ascii-binary-bitmap"),
            ("bcd.jsonl", "iso87-bcd"),
        ] {
            let spec = Spec::builtin(spec).unwrap();
            let path = format!("{}/fixtures/vectors/{file}", env!("CARGO_MANIFEST_DIR"));
            for line in std::fs::read_to_string(path).unwrap().lines().take(100) {
                let v: Value = serde_json::from_str(line).unwrap();
                let bytes = hex::decode(v["hex"].as_str().unwrap()).unwrap();
                let msg = spec.decode(&bytes).unwrap();
                for reveal in [false, true] {
                    let mut out = Vec::new();
                    write_line(&spec, &msg, reveal, &mut out);
                    let want = JsonMessage::new(&spec, &msg, reveal).to_line() + "\n";
                    assert_eq!(String::from_utf8(out).unwrap(), want);
                }
            }
        }
    }
}
