//! Typed value -> a tree of text, bytes and maps -> [`Message`].

use serde::ser::{self, Impossible, Serialize};

use super::TypedError;
use crate::message::PartValue;
use crate::spec::{ContentClass, Encoding, FieldSpec, LengthKind};
use crate::{Message, Mti, Spec};

/// What a typed value serializes to.
pub(super) enum Node {
    Text(String),
    Bytes(Vec<u8>),
    Map(Vec<(String, Node)>),
    Absent,
}

type Result<T> = std::result::Result<T, TypedError>;

fn unsupported(what: &str) -> TypedError {
    TypedError(format!("{what} have no ISO 8583 form"))
}

/// Serializes into a [`Node`].
pub(super) struct NodeSerializer;

macro_rules! integers {
    ($($f:ident: $t:ty),*) => {
        $(fn $f(self, v: $t) -> Result<Node> {
            Ok(Node::Text(v.to_string()))
        })*
    };
}

impl ser::Serializer for NodeSerializer {
    type Ok = Node;
    type Error = TypedError;
    type SerializeSeq = Bytes;
    type SerializeTuple = Impossible<Node, TypedError>;
    type SerializeTupleStruct = Impossible<Node, TypedError>;
    type SerializeTupleVariant = Impossible<Node, TypedError>;
    type SerializeMap = Map;
    type SerializeStruct = Map;
    type SerializeStructVariant = Impossible<Node, TypedError>;

    integers!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
              serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64,
              serialize_u128: u128, serialize_i128: i128);

    fn serialize_bool(self, _: bool) -> Result<Node> {
        Err(unsupported("booleans"))
    }
    fn serialize_f32(self, _: f32) -> Result<Node> {
        Err(TypedError(
            "floating-point numbers have no ISO 8583 form; use minor units".into(),
        ))
    }
    fn serialize_f64(self, _: f64) -> Result<Node> {
        Err(TypedError(
            "floating-point numbers have no ISO 8583 form; use minor units".into(),
        ))
    }
    fn serialize_char(self, v: char) -> Result<Node> {
        Ok(Node::Text(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Node> {
        Ok(Node::Text(v.to_owned()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Node> {
        Ok(Node::Bytes(v.to_vec()))
    }
    fn serialize_none(self) -> Result<Node> {
        Ok(Node::Absent)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<Node> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<Node> {
        Ok(Node::Absent)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Node> {
        Ok(Node::Absent)
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<Node> {
        Ok(Node::Text(variant.to_owned()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, v: &T) -> Result<Node> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Node> {
        Err(unsupported("enum variants with data"))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Bytes> {
        Ok(Bytes(Vec::with_capacity(len.unwrap_or(0).min(65536))))
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple> {
        Err(unsupported("tuples"))
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTupleStruct> {
        Err(unsupported("tuple structs"))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(unsupported("enum variants with data"))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Map> {
        Ok(Map::default())
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Map> {
        Ok(Map::default())
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(unsupported("enum variants with data"))
    }
}

/// A sequence: only bytes (`Vec<u8>`, `[u8; N]`) are a field value.
pub(super) struct Bytes(Vec<u8>);

impl ser::SerializeSeq for Bytes {
    type Ok = Node;
    type Error = TypedError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        match v.serialize(NodeSerializer)? {
            Node::Text(t) => {
                let b = t
                    .parse::<u8>()
                    .map_err(|_| TypedError("sequences other than bytes have no ISO 8583 form".into()))?;
                self.0.push(b);
                Ok(())
            }
            _ => Err(TypedError("sequences other than bytes have no ISO 8583 form".into())),
        }
    }
    fn end(self) -> Result<Node> {
        Ok(Node::Bytes(self.0))
    }
}

/// A struct or map: named entries in order.
#[derive(Default)]
pub(super) struct Map {
    entries: Vec<(String, Node)>,
    key: Option<String>,
}

impl ser::SerializeStruct for Map {
    type Ok = Node;
    type Error = TypedError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) -> Result<()> {
        let node = v.serialize(NodeSerializer).map_err(|e| e.within(&describe(key)))?;
        self.entries.push((key.to_owned(), node));
        Ok(())
    }
    fn end(self) -> Result<Node> {
        Ok(Node::Map(self.entries))
    }
}

impl ser::SerializeMap for Map {
    type Ok = Node;
    type Error = TypedError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<()> {
        match key.serialize(NodeSerializer)? {
            Node::Text(k) => {
                self.key = Some(k);
                Ok(())
            }
            _ => Err(TypedError(
                "map keys must be field numbers, sub-field numbers or tags".into(),
            )),
        }
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        let key = self.key.take().unwrap_or_default();
        let node = v.serialize(NodeSerializer).map_err(|e| e.within(&describe(&key)))?;
        self.entries.push((key, node));
        Ok(())
    }
    fn end(self) -> Result<Node> {
        Ok(Node::Map(self.entries))
    }
}

fn describe(key: &str) -> String {
    if key.parse::<u8>().is_ok() {
        format!("field {key}")
    } else {
        key.to_owned()
    }
}

/// The message a top-level map describes.
pub(super) fn message_from_node(spec: &Spec, node: Node) -> Result<Message> {
    let Node::Map(entries) = node else {
        return Err(TypedError("a message is a struct or map of fields".into()));
    };
    const UNSET: Mti = match Mti::new(*b"0000") {
        Some(m) => m,
        None => panic!("0000 is four digits"),
    };
    let mut msg = Message::new(UNSET);
    msg.use_spec(spec);
    for (key, value) in entries {
        if key == "mti" {
            let Node::Text(t) = value else {
                return Err(TypedError("mti: must be four digits such as \"0200\"".into()));
            };
            let mti: Mti = t.parse().map_err(|e| TypedError(format!("mti: {e}")))?;
            msg.set_mti(mti);
            continue;
        }
        let fs = key
            .parse::<u8>()
            .ok()
            .and_then(|n| spec.field(n))
            .ok_or_else(|| TypedError(format!("{key:?}: not a field of spec {}", spec.name())))?;
        let n = fs.number();
        let ctx = format!("field {n}");
        match value {
            Node::Absent => {}
            Node::Text(t) if fs.is_binary() => {
                let b = crate::hex::decode(&t)
                    .map_err(|e| TypedError(format!("{ctx}: binary fields are given in hex: {e}")))?;
                msg.set(n, b);
            }
            Node::Text(t) => {
                msg.set(n, padded(fs, t));
            }
            Node::Bytes(b) => {
                msg.set(n, b);
            }
            Node::Map(parts) => {
                if fs.composite().is_none() {
                    return Err(TypedError(format!("{ctx}: a struct needs a sub-structure in the spec")));
                }
                msg.set_parts(n, part_values(parts))
                    .map_err(|e| TypedError(e.to_string()))?;
            }
        }
    }
    Ok(msg)
}

/// Digits for a fixed numeric field, zero-padded to its length (`42` -> `"000042"` for a STAN).
fn padded(fs: &FieldSpec, t: String) -> String {
    let fixed_numeric = fs.length() == LengthKind::Fixed
        && fs.class() == ContentClass::N
        && fs.encoding() != Encoding::Binary
        && !t.is_empty()
        && t.bytes().all(|b| b.is_ascii_digit());
    let len = fs.max_len() as usize;
    if fixed_numeric && t.len() < len {
        format!("{t:0>len$}")
    } else {
        t
    }
}

fn part_values(entries: Vec<(String, Node)>) -> Vec<(String, PartValue)> {
    entries
        .into_iter()
        .filter_map(|(k, v)| {
            let value = match v {
                Node::Absent => return None,
                Node::Text(t) => PartValue::Text(t),
                Node::Bytes(b) => PartValue::Raw(b.into()),
                Node::Map(m) => PartValue::Parts(part_values(m)),
            };
            Some((k, value))
        })
        .collect()
}
