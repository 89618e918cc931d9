//! The JSON shape of a message, shared by `decode --json`, `encode`, `send` and `replay`:
//! `{"mti": "0200", "fields": {"2": "4111...", "4": "000000001000", "52": "0123ABCD..."}}`.
//!
//! Text and digit fields are strings in their canonical form (a track separator reads `=`);
//! binary fields (binary or hex on the wire) are uppercase hex. Output masks card data unless
//! revealed; input refuses masked values, since they cannot be sent.

use anyhow::{anyhow, bail};
use iso8583_client::message::mask_value;
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

/// A message ready to serialize with its fields in number order.
pub struct JsonMessage {
    mti: String,
    fields: Vec<(u8, String)>,
}

impl JsonMessage {
    /// The JSON view of `msg`, masked unless `reveal`.
    pub fn new(spec: &Spec, msg: &Message, reveal: bool) -> JsonMessage {
        JsonMessage {
            mti: msg.mti().as_str().to_owned(),
            fields: msg.fields().map(|(n, v)| (n, field_text(spec, n, v, reveal))).collect(),
        }
    }

    /// One line of JSON.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

struct Fields<'a>(&'a [(u8, String)]);

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
    for (key, v) in fields {
        let number: u8 = key
            .parse()
            .ok()
            .filter(|n| (2..=192).contains(n) && *n != 65)
            .ok_or_else(|| anyhow!("field {key:?}: not a data element number (2-192, not 65)"))?;
        let field = spec
            .field(number)
            .ok_or_else(|| anyhow!("field {number}: not defined in spec {}", spec.name()))?;
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

/// Whether a value is what masking prints (`411111******1111`, `****`), not a real value.
fn looks_masked(text: &str, sensitivity: Sensitivity) -> bool {
    let b = text.as_bytes();
    match sensitivity {
        Sensitivity::None => false,
        _ if !b.is_empty() && b.iter().all(|c| *c == b'*') => true,
        Sensitivity::Pan => {
            b.len() > 10
                && b[..6].iter().all(u8::is_ascii_digit)
                && b[b.len() - 4..].iter().all(u8::is_ascii_digit)
                && b[6..b.len() - 4].iter().all(|c| *c == b'*')
        }
        _ => false,
    }
}
