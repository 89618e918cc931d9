//! `Message`: an MTI plus data elements, with typed accessors and masking output.
//!
//! ```
//! use iso8583_client::Message;
//! let mut auth = Message::new("0100".parse().unwrap());
//! auth.set(2, "4111111111111111").set_amount(1050).set_stan(7);
//! assert_eq!((auth.amount(), auth.stan()), (Some(1050), Some("000007")));
//! assert!(!format!("{auth:?}").contains("4111111111111111")); // the PAN is masked in output
//! ```

mod mask;
pub(crate) mod mti;
mod parts;
mod time;

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

pub use mask::{mask_in_place, mask_value, Masked, Revealed};
use mti::Mti;
pub use mti::{InvalidMti, MtiClass, MtiFunction, MtiOrigin, MtiVersion};
pub use parts::{Part, PartValue, PathError, PathErrorKind};

pub(crate) use parts::{check_field, parts_of};

use crate::spec::{Layout, MaskSet};

/// An ISO 8583 message: an MTI and its data elements, by number (2-192).
///
/// Values are kept in their canonical form, independent of the wire encoding: text and digits as
/// ASCII (a BCD PAN reads `"4111..."`, a track separator reads `=`), binary elements as raw bytes.
/// Decoded values share the received buffer instead of being copied one by one.
///
/// `Debug` and `Display` mask card data (PAN first 6 / last 4; tracks, PIN block, ICC data fully);
/// [`Message::reveal`] shows everything, on purpose.
///
/// ```
/// use iso8583_client::Message;
/// let mut msg = Message::new("0200".parse().unwrap());
/// msg.set(2, "4111111111111111").set(4, "000000001000").set(11, "000042");
/// assert_eq!(msg.stan(), Some("000042"));
/// assert_eq!(msg.amount(), Some(1000));
/// let shown = format!("{msg:?}");
/// assert!(shown.contains("411111******1111"));
/// assert!(!shown.contains("4111111111111111"));
/// ```
pub struct Message {
    mti: Mti,
    /// Sorted by field number, no duplicates.
    fields: Vec<(u8, Value)>,
    /// The values too long to keep inline, set by the user (`Value::Owned` indexes them).
    owned: LongValues,
    /// The received message the `Wire` values point into.
    wire: Bytes,
    /// Converted (BCD, EBCDIC, hex) values of a decoded message, one buffer for all.
    scratch: Bytes,
    masks: &'static MaskSet,
    /// The sub-structures of composite fields (`None`: DE 55 as EMV BER-TLV).
    layout: Option<Arc<Layout>>,
}

/// The list of long values behind one pointer (none until the first): a message stays within
/// the 128 bytes the compiler moves without a call to `memcpy`, and most messages (decoded ones,
/// and those whose values all fit inline) never allocate it.
#[derive(Default)]
struct LongValues(Option<Box<Longs>>);

/// The long values themselves (a struct, so the list sits behind the one pointer).
#[derive(Default, Clone)]
struct Longs {
    values: Vec<Bytes>,
}

/// A copy allocates only when there are long values to share.
impl Clone for LongValues {
    fn clone(&self) -> LongValues {
        LongValues(self.0.as_ref().filter(|l| !l.values.is_empty()).cloned())
    }
}

impl LongValues {
    fn get(&self, i: usize) -> Option<&Bytes> {
        self.0.as_ref()?.values.get(i)
    }

    fn get_mut(&mut self, i: usize) -> Option<&mut Bytes> {
        self.0.as_mut()?.values.get_mut(i)
    }

    fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |l| l.values.len())
    }

    fn push(&mut self, value: Bytes) {
        self.0.get_or_insert_with(Default::default).values.push(value);
    }

    /// Removes value `i` (which [`Message::release`] has checked is held), the last taking its place.
    fn swap_remove(&mut self, i: usize) {
        if let Some(l) = self.0.as_mut() {
            l.values.swap_remove(i);
        }
    }

    /// Empties the list, keeping its room.
    fn clear(&mut self) {
        if let Some(l) = self.0.as_mut() {
            l.values.clear();
        }
    }
}

/// Where a value lives: ranges into the decoded buffers, inside the field list itself (short
/// values set by the user or the library), or in the message's list of longer values. Plain data:
/// copying or dropping a field list touches no reference count.
#[derive(Clone, Copy)]
pub(crate) enum Value {
    Wire(u32, u32),
    Scratch(u32, u32),
    /// Index into `Message::owned`.
    Owned(u32),
    Inline(u8, [u8; INLINE]),
}

/// Up to this many fields a message's field list is scanned, not bisected.
const SCAN_FIELDS: usize = 24;

/// A STAN as the 6 digits of DE 11 (modulo 1,000,000).
fn stan_digits(stan: u32) -> [u8; 6] {
    let mut digits = [b'0'; 6];
    let mut n = stan % 1_000_000;
    for d in digits.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    digits
}

/// The longest value kept inline (a PAN, an amount, a date, a code: most fields).
const INLINE: usize = 22;

impl Value {
    /// `bytes` inline, if short enough.
    fn inline(bytes: &[u8]) -> Option<Value> {
        let len = u8::try_from(bytes.len())
            .ok()
            .filter(|len| usize::from(*len) <= INLINE)?;
        let mut buf = [0u8; INLINE];
        buf[..bytes.len()].copy_from_slice(bytes);
        Some(Value::Inline(len, buf))
    }
}

/// A copy shares the values' buffers (reference counts, no byte copies) and leaves room for two
/// more fields: a copy is most often completed before it is sent (the STAN a link assigns) or
/// answered (a response code, an approval code), and that must not cost a second allocation.
impl Clone for Message {
    fn clone(&self) -> Message {
        let mut fields = Vec::with_capacity(self.fields.len() + 2);
        fields.extend_from_slice(&self.fields);
        Message {
            mti: self.mti,
            fields,
            owned: self.owned.clone(),
            wire: self.wire.clone(),
            scratch: self.scratch.clone(),
            masks: self.masks,
            layout: self.layout.clone(),
        }
    }
}

/// Two messages are equal when their MTIs and data elements are: the masking rules are output
/// settings, not content (a message decoded with a spec carries that spec's rules).
///
/// ```
/// use iso8583_client::{spec::MaskSet, Message};
/// let a = Message::new("0800".parse().unwrap()).with(70, "301");
/// let mut b = a.clone();
/// b.set_masks(MaskSet::empty());
/// assert_eq!(a, b);
/// ```
impl PartialEq for Message {
    fn eq(&self, other: &Message) -> bool {
        self.mti == other.mti && self.fields.len() == other.fields.len() && self.fields().eq(other.fields())
    }
}
impl Eq for Message {}

impl Message {
    /// An empty message of this type, masked by the ISO 8583:1987 defaults.
    pub fn new(mti: Mti) -> Message {
        Message {
            mti,
            fields: Vec::new(),
            owned: LongValues::default(),
            wire: Bytes::new(),
            scratch: Bytes::new(),
            masks: MaskSet::iso_default(),
            layout: None,
        }
    }

    /// A decoded message whose values are ranges of `wire` and `scratch`, in field order.
    pub(crate) fn from_decoded(
        mti: Mti,
        fields: Vec<(u8, Value)>,
        wire: Bytes,
        scratch: Bytes,
        masks: &'static MaskSet,
        layout: Option<&Arc<Layout>>,
    ) -> Message {
        Message {
            mti,
            fields,
            owned: LongValues::default(),
            wire,
            scratch,
            masks,
            layout: layout.cloned(),
        }
    }

    fn value<'a>(&'a self, v: &'a Value) -> &'a [u8] {
        let range = |buf: &'a Bytes, start: u32, len: u32| {
            buf.get(start as usize..start as usize + len as usize).unwrap_or(&[])
        };
        match v {
            Value::Wire(start, len) => range(&self.wire, *start, *len),
            Value::Scratch(start, len) => range(&self.scratch, *start, *len),
            Value::Owned(i) => self.owned.get(*i as usize).map_or(&[], |b| b),
            Value::Inline(len, buf) => &buf[..usize::from(*len)],
        }
    }

    fn value_bytes(&self, v: &Value) -> Bytes {
        let range = |buf: &Bytes, start: u32, len: u32| {
            let (start, end) = (start as usize, start as usize + len as usize);
            if end <= buf.len() {
                buf.slice(start..end)
            } else {
                Bytes::new()
            }
        };
        match v {
            Value::Wire(start, len) => range(&self.wire, *start, *len),
            Value::Scratch(start, len) => range(&self.scratch, *start, *len),
            Value::Owned(i) => self.owned.get(*i as usize).cloned().unwrap_or_default(),
            Value::Inline(len, buf) => Bytes::copy_from_slice(&buf[..usize::from(*len)]),
        }
    }

    /// The message type indicator.
    pub fn mti(&self) -> Mti {
        self.mti
    }

    /// Changes the message type indicator.
    pub fn set_mti(&mut self, mti: Mti) -> &mut Self {
        self.mti = mti;
        self
    }

    /// Sets a data element (2-192) in its canonical form; replaces any previous value.
    /// Field numbers outside 2-192 (and 65, a bitmap bit) are refused by the encoder.
    /// Short values are copied into the message (copies and drops of it then touch no shared
    /// buffer); longer ones are kept as given.
    pub fn set(&mut self, field: u8, value: impl Into<Bytes>) -> &mut Self {
        let value: Bytes = value.into();
        match Value::inline(&value) {
            Some(inline) => self.put(field, inline),
            None => self.put_owned(field, value),
        }
    }

    /// Sets a data element to a copy of `value`: no allocation when it is short (up to 22 bytes),
    /// no shared buffer kept alive. For values read from a buffer that is about to be reused.
    ///
    /// ```
    /// use iso8583_client::Message;
    /// let line = String::from("000000001000");
    /// let mut msg = Message::new("0200".parse().unwrap());
    /// msg.set_slice(4, line.as_bytes());
    /// drop(line);
    /// assert_eq!(msg.amount(), Some(1000));
    /// ```
    pub fn set_slice(&mut self, field: u8, value: &[u8]) -> &mut Self {
        self.set_short(field, value)
    }

    /// Sets a value the library made, copied inline when it fits (no allocation).
    pub(crate) fn set_short(&mut self, field: u8, value: &[u8]) -> &mut Self {
        match Value::inline(value) {
            Some(inline) => self.put(field, inline),
            None => self.put_owned(field, Bytes::copy_from_slice(value)),
        }
    }

    fn put(&mut self, field: u8, value: Value) -> &mut Self {
        // Messages are mostly built in field order: past the last field, no search.
        if self.fields.last().is_none_or(|(last, _)| *last < field) {
            self.fields.push((field, value));
            return self;
        }
        match self.position(field) {
            Ok(i) => {
                if let Value::Owned(slot) = self.fields[i].1 {
                    self.release(slot);
                }
                self.fields[i].1 = value;
            }
            Err(i) => self.fields.insert(i, (field, value)),
        }
        self
    }

    fn put_owned(&mut self, field: u8, value: Bytes) -> &mut Self {
        if let Some(i) = self.index(field) {
            if let Value::Owned(slot) = self.fields[i].1 {
                // Replacing one long value by another: same slot.
                if let Some(held) = self.owned.get_mut(slot as usize) {
                    *held = value;
                    return self;
                }
            }
        }
        let slot = u32::try_from(self.owned.len()).unwrap_or(u32::MAX);
        self.owned.push(value);
        self.put(field, Value::Owned(slot))
    }

    /// Frees the long value in `slot`, which no field refers to any more: the last one moves
    /// into its place (so the list holds exactly the long values in use).
    fn release(&mut self, slot: u32) {
        let Some(last) = self.owned.len().checked_sub(1).filter(|last| slot as usize <= *last) else {
            return;
        };
        self.owned.swap_remove(slot as usize);
        if slot as usize != last {
            for (_, value) in &mut self.fields {
                if matches!(value, Value::Owned(i) if *i as usize == last) {
                    *value = Value::Owned(slot);
                }
            }
        }
    }

    /// Builder form of [`Message::set`].
    pub fn with(mut self, field: u8, value: impl Into<Bytes>) -> Self {
        self.set(field, value);
        self
    }

    /// A field's value, if present.
    pub fn get(&self, field: u8) -> Option<&[u8]> {
        let i = self.index(field)?;
        Some(self.value(&self.fields[i].1))
    }

    /// A field's value as shared bytes: a slice of the received message, no copy.
    pub fn get_bytes(&self, field: u8) -> Option<Bytes> {
        let i = self.index(field)?;
        Some(self.value_bytes(&self.fields[i].1))
    }

    fn index(&self, field: u8) -> Option<usize> {
        self.position(field).ok()
    }

    /// A field's value as text, if present and valid UTF-8.
    pub fn get_str(&self, field: u8) -> Option<&str> {
        self.get(field).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Removes a field, returning its value.
    pub fn remove(&mut self, field: u8) -> Option<Bytes> {
        let i = self.position(field).ok()?;
        let value = self.value_bytes(&self.fields[i].1);
        let (_, removed) = self.fields.remove(i);
        if let Value::Owned(slot) = removed {
            self.release(slot);
        }
        Some(value)
    }

    /// A message of type `mti` with the fields of this one that `keep` selects (sharing this
    /// message's buffers: no byte is copied) and the short values `added` (sorted by field
    /// number, at most 22 bytes each, replacing a kept field of the same number). One
    /// allocation, one pass.
    #[cfg(feature = "sim")]
    pub(crate) fn derive(&self, mti: Mti, keep: impl Fn(u8) -> bool, added: &[(u8, &[u8])]) -> Message {
        let mut fields = Vec::with_capacity(self.fields.len() + added.len());
        let mut next = 0;
        for (n, value) in &self.fields {
            let mut replaced = false;
            while let Some((a, bytes)) = added.get(next).filter(|(a, _)| a <= n) {
                fields.push((*a, Value::inline(bytes).expect("short")));
                replaced |= a == n;
                next += 1;
            }
            if !replaced && keep(*n) {
                fields.push((*n, *value));
            }
        }
        fields.extend(
            added[next..]
                .iter()
                .map(|(a, bytes)| (*a, Value::inline(bytes).expect("short"))),
        );
        Message {
            mti,
            fields,
            owned: self.owned.clone(),
            wire: self.wire.clone(),
            scratch: self.scratch.clone(),
            masks: self.masks,
            layout: self.layout.clone(),
        }
    }

    /// Removes every data element, keeping the MTI, the masking rules and the room the fields
    /// took: a message reused for one value after another allocates nothing once warmed up.
    ///
    /// ```
    /// use iso8583_client::Message;
    /// let mut msg = Message::new("0800".parse().unwrap()).with(70, "301");
    /// msg.clear();
    /// assert!(msg.is_empty());
    /// ```
    pub fn clear(&mut self) -> &mut Self {
        self.fields.clear();
        self.owned.clear();
        self
    }

    /// Whether a field is present.
    pub fn contains(&self, field: u8) -> bool {
        self.position(field).is_ok()
    }

    /// Present fields in number order, with their values (unmasked: this is data access, not output).
    pub fn fields(&self) -> impl ExactSizeIterator<Item = (u8, &[u8])> + '_ {
        self.fields.iter().map(|(n, v)| (*n, self.value(v)))
    }

    /// Number of data elements present.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether no data element is present.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The masking rules used by `Debug`, `Display` and [`Message::masked`].
    pub fn masks(&self) -> MaskSet {
        *self.masks
    }

    /// Replaces the masking rules (a decoded message carries its spec's).
    pub fn set_masks(&mut self, masks: MaskSet) -> &mut Self {
        if *self.masks != masks {
            self.masks = masks.interned();
        }
        self
    }

    /// A field's value for display, masked by its sensitivity: `None` if absent.
    pub fn masked(&self, field: u8) -> Option<Masked<'_>> {
        let v = self.get(field)?;
        Some(Masked::new(v, self.masks.of(field)))
    }

    /// A view whose `Debug` and `Display` show every value in clear. Use it on purpose only.
    pub fn reveal(&self) -> Revealed<'_> {
        Revealed(self)
    }
}

/// Typed accessors for the common data elements.
impl Message {
    /// DE 11, system trace audit number.
    pub fn stan(&self) -> Option<&str> {
        self.get_str(11)
    }
    /// Sets DE 11 from a number, zero-padded to six digits (`42` → `"000042"`); values wrap modulo 1,000,000.
    pub fn set_stan(&mut self, stan: u32) -> &mut Self {
        self.set_short(11, &stan_digits(stan))
    }

    /// Where `field` is in the field list: `Ok(i)` when present, `Err(i)` where it would go
    /// (for a look-up followed by an insertion without a second search).
    pub(crate) fn position(&self, field: u8) -> Result<usize, usize> {
        // Most messages hold a few dozen fields at most: a forward scan that stops at the first
        // number not below `field` beats the branches of a binary search there.
        if self.fields.len() <= SCAN_FIELDS {
            for (i, (n, _)) in self.fields.iter().enumerate() {
                if *n >= field {
                    return if *n == field { Ok(i) } else { Err(i) };
                }
            }
            return Err(self.fields.len());
        }
        self.fields.binary_search_by_key(&field, |(n, _)| *n)
    }

    /// The value at position `i` of the field list (see [`Message::position`]).
    pub(crate) fn value_at(&self, i: usize) -> Option<&[u8]> {
        self.fields.get(i).map(|(_, v)| self.value(v))
    }

    /// Sets DE 11 to `stan` (6 digits) where [`Message::position`] said it goes (`Err(at)`);
    /// any other `at` falls back to the search.
    pub(crate) fn insert_stan_at(&mut self, at: usize, stan: u32) {
        let digits = stan_digits(stan);
        let before = at.checked_sub(1).and_then(|i| self.fields.get(i));
        let fits = before.is_none_or(|(n, _)| *n < 11)
            && at <= self.fields.len()
            && self.fields.get(at).is_none_or(|(n, _)| *n > 11);
        match Value::inline(&digits) {
            Some(value) if fits => self.fields.insert(at, (11, value)),
            _ => {
                self.set_short(11, &digits);
            }
        }
    }
    /// DE 2, primary account number, masked unless revealed: `msg.pan().unwrap().reveal()`.
    pub fn pan(&self) -> Option<Masked<'_>> {
        self.get(2).map(|v| Masked::new(v, crate::spec::Sensitivity::Pan))
    }
    /// DE 3, processing code.
    pub fn processing_code(&self) -> Option<&str> {
        self.get_str(3)
    }
    /// DE 4, transaction amount in minor units, if present and numeric.
    pub fn amount(&self) -> Option<u64> {
        self.get_str(4).and_then(|s| s.parse().ok())
    }
    /// Sets DE 4 from minor units, zero-padded to twelve digits.
    pub fn set_amount(&mut self, minor_units: u64) -> &mut Self {
        self.set(4, format!("{:012}", minor_units % 1_000_000_000_000))
    }
    /// DE 37, retrieval reference number.
    pub fn rrn(&self) -> Option<&str> {
        self.get_str(37)
    }
    /// DE 38, authorization identification response (approval code).
    pub fn approval_code(&self) -> Option<&str> {
        self.get_str(38)
    }
    /// DE 39, response code (`"00"` = approved).
    pub fn response_code(&self) -> Option<&str> {
        self.get_str(39)
    }
    /// Whether DE 39 approves: response code `"00"` (ISO 8583:1987), or an ISO 8583:1993 action
    /// code (three digits) from `000` to `099`.
    pub fn is_approved(&self) -> bool {
        match self.get(39) {
            Some(b"00") => true,
            Some([b'0', d1, d2]) => d1.is_ascii_digit() && d2.is_ascii_digit(),
            _ => false,
        }
    }
    /// DE 41, card acceptor terminal identification.
    pub fn terminal_id(&self) -> Option<&str> {
        self.get_str(41)
    }
    /// DE 42, card acceptor identification code (merchant id).
    pub fn merchant_id(&self) -> Option<&str> {
        self.get_str(42)
    }
    /// DE 49, transaction currency code (ISO 4217 numeric).
    pub fn currency_code(&self) -> Option<&str> {
        self.get_str(49)
    }
    /// DE 70, network management information code (`"001"` sign-on, `"301"` echo).
    pub fn network_code(&self) -> Option<&str> {
        self.get_str(70)
    }
}

fn write_fields(f: &mut fmt::Formatter<'_>, msg: &Message, reveal: bool) -> fmt::Result {
    let mut map = f.debug_map();
    for (n, v) in msg.fields() {
        let s = if reveal {
            crate::spec::Sensitivity::None
        } else {
            msg.masks.of(n)
        };
        map.entry(&n, &format_args!("{:?}", Masked::new(v, s)));
    }
    map.finish()
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Message {{ mti: {}, fields: ", self.mti)?;
        write_fields(f, self, false)?;
        f.write_str(" }")
    }
}

/// One line: `0200 2=411111******1111 3=000000 …`, masked.
impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.mti.as_str())?;
        for (n, v) in self.fields() {
            write!(f, " {n}={}", Masked::new(v, self.masks.of(n)))?;
        }
        Ok(())
    }
}

impl fmt::Debug for Revealed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Message {{ mti: {}, fields: ", self.0.mti)?;
        write_fields(f, self.0, true)?;
        f.write_str(" }")
    }
}

impl fmt::Display for Revealed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.mti.as_str())?;
        for (n, v) in self.0.fields() {
            write!(f, " {n}={}", Masked::new(v, crate::spec::Sensitivity::None))?;
        }
        Ok(())
    }
}
