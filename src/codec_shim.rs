//! TEMPORARY stand-in for the codec (issue 2) until it lands on main; removed at merge.
#![allow(missing_docs, dead_code)]
use bytes::{BufMut, Bytes, BytesMut};
use std::{fmt, str::FromStr, sync::Arc};

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mti([u8; 4]);
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MtiClass { Authorization, Financial, Reversal, NetworkManagement, Other }
#[derive(Debug, thiserror::Error)]
#[error("bad mti")]
pub struct InvalidMti;
impl Mti {
    pub const fn new(d: [u8; 4]) -> Option<Mti> { Some(Mti(d)) }
    fn digit(&self, i: usize) -> u8 { self.0[i] - b'0' }
    pub fn as_str(&self) -> &str { std::str::from_utf8(&self.0).unwrap_or("????") }
    pub fn class(&self) -> MtiClass { match self.digit(1) { 1 => MtiClass::Authorization, 2 => MtiClass::Financial, 4 => MtiClass::Reversal, 8 => MtiClass::NetworkManagement, _ => MtiClass::Other } }
    pub fn is_request(&self) -> bool { matches!(self.digit(2), 0 | 2 | 4 | 6) }
    pub fn is_response(&self) -> bool { matches!(self.digit(2), 1 | 3 | 5 | 7) }
    pub fn is_advice(&self) -> bool { matches!(self.digit(2), 2 | 3) }
    pub fn is_repeat(&self) -> bool { matches!(self.digit(3), 1 | 3 | 5) }
    pub fn response(&self) -> Option<Mti> { if !self.is_request() { return None; } let mut d = self.0; d[2] += 1; if self.is_repeat() { d[3] -= 1; } Some(Mti(d)) }
    pub fn repeat(&self) -> Option<Mti> { if !self.is_request() { return None; } let mut d = self.0; if matches!(self.digit(3), 0 | 2 | 4) { d[3] += 1; } Some(Mti(d)) }
}
impl FromStr for Mti { type Err = InvalidMti; fn from_str(s: &str) -> Result<Mti, InvalidMti> { let b: [u8; 4] = s.as_bytes().try_into().map_err(|_| InvalidMti)?; Ok(Mti(b)) } }
impl fmt::Display for Mti { fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) } }
impl fmt::Debug for Mti { fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) } }

#[derive(Clone, PartialEq, Eq)]
pub struct Message { mti: Mti, fields: Vec<(u8, Bytes)> }
impl Message {
    pub fn new(mti: Mti) -> Message { Message { mti, fields: Vec::new() } }
    pub fn mti(&self) -> Mti { self.mti }
    pub fn set_mti(&mut self, mti: Mti) -> &mut Self { self.mti = mti; self }
    pub fn set(&mut self, f: u8, v: impl Into<Bytes>) -> &mut Self { let v = v.into(); match self.fields.binary_search_by_key(&f, |(n, _)| *n) { Ok(i) => self.fields[i].1 = v, Err(i) => self.fields.insert(i, (f, v)) } self }
    pub fn with(mut self, f: u8, v: impl Into<Bytes>) -> Self { self.set(f, v); self }
    pub fn get(&self, f: u8) -> Option<&[u8]> { self.get_bytes(f).map(|b| &b[..]) }
    pub fn get_bytes(&self, f: u8) -> Option<&Bytes> { self.fields.iter().find(|(n, _)| *n == f).map(|(_, v)| v) }
    pub fn get_str(&self, f: u8) -> Option<&str> { self.get(f).and_then(|b| std::str::from_utf8(b).ok()) }
    pub fn remove(&mut self, f: u8) -> Option<Bytes> { let i = self.fields.iter().position(|(n, _)| *n == f)?; Some(self.fields.remove(i).1) }
    pub fn contains(&self, f: u8) -> bool { self.get(f).is_some() }
    pub fn fields(&self) -> impl ExactSizeIterator<Item = (u8, &[u8])> + '_ { self.fields.iter().map(|(n, v)| (*n, &v[..])) }
    pub fn stan(&self) -> Option<&str> { self.get_str(11) }
    pub fn set_stan(&mut self, stan: u32) -> &mut Self { self.set(11, format!("{:06}", stan % 1_000_000)) }
    pub fn response_code(&self) -> Option<&str> { self.get_str(39) }
    pub fn amount(&self) -> Option<u64> { self.get_str(4)?.parse().ok() }
}
impl fmt::Debug for Message { fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { write!(f, "{} {:?}", self.mti, self.fields.iter().map(|(n, _)| n).collect::<Vec<_>>()) } }
impl fmt::Display for Message { fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { fmt::Debug::fmt(self, f) } }

#[derive(Clone, Debug, thiserror::Error)]
#[error("shim codec error at byte {offset}")]
pub struct CodecError { offset: usize, partial: Option<Box<Message>> }
impl CodecError { pub fn partial(&self) -> Option<&Message> { self.partial.as_deref() } }

#[derive(Debug)]
pub struct Spec;
impl Spec {
    pub fn builtin(_name: &str) -> Option<Arc<Spec>> { Some(Arc::new(Spec)) }
    pub fn encode(&self, m: &Message) -> Result<Bytes, CodecError> { let mut b = BytesMut::new(); self.encode_into(m, &mut b)?; Ok(b.freeze()) }
    pub fn encode_into(&self, m: &Message, b: &mut BytesMut) -> Result<(), CodecError> {
        b.put_slice(&m.mti.0);
        for (n, v) in &m.fields { b.put_u8(*n); b.put_u16(v.len() as u16); b.put_slice(v); }
        Ok(())
    }
    pub fn decode(&self, src: &[u8]) -> Result<Message, CodecError> { self.decode_bytes(Bytes::copy_from_slice(src)) }
    pub fn decode_bytes(&self, src: Bytes) -> Result<Message, CodecError> {
        let mti: [u8; 4] = src.get(..4).and_then(|s| s.try_into().ok()).ok_or(CodecError { offset: 0, partial: None })?;
        let mut m = Message::new(Mti(mti));
        let mut i = 4;
        while i < src.len() {
            let err = |m: &Message| CodecError { offset: i, partial: Some(Box::new(m.clone())) };
            let (n, hi, lo) = match src.get(i..i + 3) { Some(&[n, hi, lo]) => (n, hi, lo), _ => return Err(err(&m)) };
            let len = usize::from(u16::from_be_bytes([hi, lo]));
            if n == 0xff { return Err(err(&m)); }
            if src.len() < i + 3 + len { return Err(err(&m)); }
            m.set(n, src.slice(i + 3..i + 3 + len));
            i += 3 + len;
        }
        Ok(m)
    }
}
