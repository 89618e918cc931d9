//! The batch path of `encode`: a message in the JSON shape of [`crate::json`], read without
//! building a `serde_json::Value` tree (the strings are borrowed from the input line). It takes
//! only the common case — an object with `mti` and `fields` whose values are strings that need no
//! explanation — and says `None` for anything else, which [`crate::json::message_from_json`] then
//! reads, checks and explains. Both build the same message from the same input.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use bytes::Bytes;
use iso8583_client::spec::Sensitivity;
use iso8583_client::{Message, Mti, Spec};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

use crate::hex;

/// The message of one JSON document, or `None` when the general path must read it.
pub fn message(spec: &Spec, text: &str) -> Option<Message> {
    let doc: Doc<'_> = serde_json::from_str(text).ok()?;
    let mti: Mti = doc.mti.0.parse().ok()?;
    let mut msg = Message::new(mti);
    msg.set_masks(spec.masks());
    // Every value goes into one buffer, and each field is a slice of it: one allocation per
    // message instead of one per field.
    let fields = doc.fields.map(|f| f.0).unwrap_or_default();
    let mut values = Vec::with_capacity(fields.iter().map(|(_, v)| v.0.len()).sum());
    let mut ranges = Vec::with_capacity(fields.len());
    for (key, value) in &fields {
        let number: u8 = key.0.parse().ok().filter(|n| (2..=192).contains(n) && *n != 65)?;
        let field = spec.field(number)?;
        let value = &value.0;
        // A value that may be masked is left to the general path, which refuses it.
        if field.sensitivity() != Sensitivity::None && value.contains('*') {
            return None;
        }
        let start = values.len();
        if field.is_binary() {
            if !value.is_empty() {
                values.extend_from_slice(&hex::decode(value).ok()?);
            }
        } else {
            values.extend_from_slice(value.as_bytes());
        }
        ranges.push((number, start..values.len()));
    }
    let values = Bytes::from(values);
    for (number, range) in ranges {
        msg.set(number, values.slice(range));
    }
    Some(msg)
}

/// `{"mti": "0200", "fields": {...}}` and nothing else.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Doc<'a> {
    #[serde(borrow)]
    mti: Text<'a>,
    #[serde(borrow, default)]
    fields: Option<Fields<'a>>,
}

/// A JSON string, borrowed from the input when it has no escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V(PhantomData))
    }
}

/// The `fields` object, in input order.
struct Fields<'a>(Vec<(Text<'a>, Text<'a>)>);

impl<'de: 'a, 'a> Deserialize<'de> for Fields<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Fields<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of strings")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Fields<'a>, M::Error> {
                let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(16).min(192));
                while let Some(entry) = map.next_entry::<Text<'a>, Text<'a>>()? {
                    fields.push(entry);
                }
                Ok(Fields(fields))
            }
        }
        d.deserialize_map(V(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_path_builds_what_the_general_path_builds() {
        let spec = Spec::builtin("iso87-ascii").unwrap();
        for text in [
            r#"{"mti": "0200", "fields": {"2": "4111111111111111", "11": "000001", "52": "0123456789ABCDEF"}}"#,
            r#"{"fields": {"41": "TERM\u0030001"}, "mti": "0800"}"#,
            r#"{"mti": "0800"}"#,
        ] {
            let value: serde_json::Value = serde_json::from_str(text).unwrap();
            let general = crate::json::message_from_json(&spec, &value).unwrap();
            assert_eq!(message(&spec, text), Some(general), "{text}");
        }
        for text in [
            r#"{"mti": "0200", "fields": {"2": "411111******1111"}}"#,
            r#"{"mti": "0200", "fields": {"4": 1000}}"#,
            r#"{"mti": "0200", "extra": 1}"#,
            r#"{"mti": "02x0"}"#,
            r#"{"mti": "0200", "fields": {"1": "x"}}"#,
        ] {
            assert_eq!(message(&spec, text), None, "{text}");
        }
    }
}
