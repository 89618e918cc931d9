//! [`Message`] -> typed value: a map of fields, each a text leaf that can also be read as a
//! number, as bytes, or (composite fields) as a map of parts.

use bytes::Bytes;
use serde::de::value::StrDeserializer;
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::forward_to_deserialize_any;

use super::TypedError;
use crate::message::{parts_of, Part};
use crate::{Message, Spec};

type Result<T> = std::result::Result<T, TypedError>;

/// One value: its text (hex for binary), its raw bytes, and its parts if it is structured.
struct Leaf {
    context: String,
    text: String,
    raw: Bytes,
    parts: Option<std::result::Result<Vec<(String, Leaf)>, String>>,
}

impl Leaf {
    fn of_part(context: &str, p: &Part<'_>) -> Leaf {
        let context = format!("{context} part {}", p.id());
        let parts = p.children().map(|c| {
            Ok(c.iter()
                .map(|p| (p.id().to_owned(), Leaf::of_part(&context, p)))
                .collect())
        });
        Leaf {
            text: p.shown(true),
            raw: p.value_bytes(),
            parts,
            context,
        }
    }
}

/// The whole message as a map: `"mti"`, then the fields by number.
pub(super) struct MessageDeserializer {
    entries: Vec<(String, Leaf)>,
}

impl MessageDeserializer {
    pub(super) fn new(spec: &Spec, msg: &Message) -> Result<MessageDeserializer> {
        let mut entries = Vec::with_capacity(msg.len() + 1);
        entries.push((
            "mti".to_owned(),
            Leaf {
                context: "mti".into(),
                text: msg.mti().as_str().to_owned(),
                raw: Bytes::copy_from_slice(msg.mti().as_bytes()),
                parts: None,
            },
        ));
        for (n, v) in msg.fields() {
            let fs = spec.field(n);
            let binary = fs.is_some_and(|f| f.is_binary());
            let context = format!("field {n}");
            let raw = msg.get_bytes(n).unwrap_or_default();
            let parts = fs.filter(|f| f.composite().is_some()).map(|f| {
                parts_of(f, &raw)
                    .map(|ps| {
                        ps.iter()
                            .map(|p| (p.id().to_owned(), Leaf::of_part(&context, p)))
                            .collect()
                    })
                    .map_err(|e| e.to_string())
            });
            let text = if binary {
                crate::hex::encode(v)
            } else {
                String::from_utf8_lossy(v).into_owned()
            };
            entries.push((
                n.to_string(),
                Leaf {
                    context,
                    text,
                    raw,
                    parts,
                },
            ));
        }
        Ok(MessageDeserializer { entries })
    }
}

impl<'de> de::Deserializer<'de> for MessageDeserializer {
    type Error = TypedError;
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_map(Entries::new(self.entries))
    }
    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

/// Entries of a map, handed out one by one.
struct Entries {
    items: std::vec::IntoIter<(String, Leaf)>,
    value: Option<Leaf>,
}

impl Entries {
    fn new(items: Vec<(String, Leaf)>) -> Entries {
        Entries {
            items: items.into_iter(),
            value: None,
        }
    }
}

impl<'de> MapAccess<'de> for Entries {
    type Error = TypedError;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        match self.items.next() {
            Some((k, v)) => {
                self.value = Some(v);
                let key: StrDeserializer<'_, TypedError> = k.as_str().into_deserializer();
                seed.deserialize(key).map(Some)
            }
            None => Ok(None),
        }
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        match self.value.take() {
            Some(leaf) => {
                let context = leaf.context.clone();
                seed.deserialize(leaf).map_err(|e| e.within(&context))
            }
            None => Err(TypedError("a value without its key".into())),
        }
    }
}

/// Bytes of a binary value, as a sequence of `u8` (`Vec<u8>`).
struct ByteSeq(bytes::buf::IntoIter<Bytes>);

impl<'de> SeqAccess<'de> for ByteSeq {
    type Error = TypedError;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        match self.0.next() {
            Some(b) => seed.deserialize(b.into_deserializer()).map(Some),
            None => Ok(None),
        }
    }
}

impl Leaf {
    fn number(&self) -> Result<u128> {
        self.text
            .trim()
            .parse::<u128>()
            .map_err(|_| TypedError(format!("{}: {:?} is not a number", self.context, self.text)))
    }
}

macro_rules! numbers {
    ($($f:ident => $visit:ident: $t:ty),*) => {
        $(fn $f<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            let n = self.number()?;
            let v = <$t>::try_from(n).map_err(|_| TypedError(format!("{}: {n} is out of range", self.context)))?;
            visitor.$visit(v)
        })*
    };
}

impl<'de> de::Deserializer<'de> for Leaf {
    type Error = TypedError;
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.parts {
            Some(Ok(parts)) => visitor.visit_map(Entries::new(parts)),
            _ => visitor.visit_string(self.text),
        }
    }
    numbers!(deserialize_u8 => visit_u8: u8, deserialize_u16 => visit_u16: u16, deserialize_u32 => visit_u32: u32,
             deserialize_u64 => visit_u64: u64, deserialize_u128 => visit_u128: u128,
             deserialize_i8 => visit_i8: i8, deserialize_i16 => visit_i16: i16, deserialize_i32 => visit_i32: i32,
             deserialize_i64 => visit_i64: i64, deserialize_i128 => visit_i128: i128);
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_some(self)
    }
    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_bytes(&self.raw)
    }
    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_byte_buf(self.raw.to_vec())
    }
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_seq(ByteSeq(self.raw.into_iter()))
    }
    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.parts {
            Some(Ok(parts)) => visitor.visit_map(Entries::new(parts)),
            Some(Err(e)) => Err(TypedError(e)),
            None => Err(TypedError(format!("{}: not a structured value", self.context))),
        }
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_map(visitor)
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        let s: de::value::StringDeserializer<TypedError> = self.text.into_deserializer();
        visitor.visit_enum(s)
    }
    forward_to_deserialize_any! {
        bool f32 f64 char str string unit unit_struct tuple tuple_struct identifier ignored_any
    }
}
