//! Framing: every prefix kind round-trips, chunked input is reassembled,
//! hostile prefixes are typed errors.

use bytes::{Bytes, BytesMut};
use iso8583_client::transport::framing::{Framing, FramingError, LengthPrefix};
use tokio_util::codec::{Decoder, Encoder};

fn roundtrip(mut framing: Framing, wire: &[u8], message: &[u8]) {
    let mut out = BytesMut::new();
    framing
        .encode(Bytes::copy_from_slice(message), &mut out)
        .expect("encode");
    assert_eq!(&out[..], wire, "wire bytes");
    // Feed one byte at a time: the decoder must ask for more until the frame is whole.
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for b in wire {
        buf.extend_from_slice(&[*b]);
        if let Some(f) = framing.decode(&mut buf).expect("decode") {
            frames.push(f);
        }
    }
    assert_eq!(frames.len(), 1);
    assert_eq!(&frames[0].message[..], message);
    assert!(buf.is_empty());
}

#[test]
fn binary2_default_counts_message_only() {
    roundtrip(Framing::default(), b"\x00\x04ABCD", b"ABCD");
}

#[test]
fn binary4() {
    let f = Framing::builder().prefix(LengthPrefix::Binary4).build();
    roundtrip(f, b"\x00\x00\x00\x04ABCD", b"ABCD");
}

#[test]
fn ascii4() {
    let f = Framing::builder().prefix(LengthPrefix::Ascii4).build();
    roundtrip(f, b"0004ABCD", b"ABCD");
}

#[test]
fn bcd2() {
    let f = Framing::builder().prefix(LengthPrefix::Bcd2).build();
    let msg = vec![b'x'; 1234];
    let mut wire = vec![0x12, 0x34];
    wire.extend_from_slice(&msg);
    roundtrip(f, &wire, &msg);
}

#[test]
fn tpdu_header_counted_and_prefix_counted() {
    let tpdu = [0x60, 0x00, 0x03, 0x00, 0x00];
    let f = Framing::builder()
        .header(&tpdu)
        .length_counts_header(true)
        .length_counts_prefix(true)
        .build();
    roundtrip(f, b"\x00\x0b\x60\x00\x03\x00\x00ABCD", b"ABCD");
}

#[test]
fn header_not_counted() {
    let f = Framing::builder().header(&[1, 2, 3, 4, 5]).build();
    roundtrip(f, b"\x00\x04\x01\x02\x03\x04\x05ABCD", b"ABCD");
}

#[test]
fn decodes_several_frames_from_one_read() {
    let mut f = Framing::default();
    let mut buf = BytesMut::from(&b"\x00\x02AB\x00\x03CDE\x00"[..]);
    assert_eq!(&f.decode(&mut buf).unwrap().unwrap().message[..], b"AB");
    assert_eq!(&f.decode(&mut buf).unwrap().unwrap().message[..], b"CDE");
    assert!(f.decode(&mut buf).unwrap().is_none());
}

#[test]
fn zero_length_is_an_error() {
    let mut f = Framing::default();
    let mut buf = BytesMut::from(&b"\x00\x00"[..]);
    assert!(matches!(f.decode(&mut buf), Err(FramingError::ZeroLength)));
}

#[test]
fn oversized_prefix_is_refused_before_allocating() {
    let mut f = Framing::builder().prefix(LengthPrefix::Binary4).max_frame(1024).build();
    let mut buf = BytesMut::from(&b"\xff\xff\xff\xff"[..]);
    let cap_before = buf.capacity();
    match f.decode(&mut buf) {
        Err(FramingError::Oversized { len, max }) => {
            assert_eq!(len, 0xffff_ffff);
            assert_eq!(max, 1024);
        }
        other => panic!("expected Oversized, got {other:?}"),
    }
    assert!(buf.capacity() <= cap_before.max(64));
}

#[test]
fn default_max_is_64k() {
    let mut f = Framing::builder().prefix(LengthPrefix::Binary4).build();
    let mut buf = BytesMut::from(&b"\x00\x01\x00\x01"[..]);
    assert!(matches!(
        f.decode(&mut buf),
        Err(FramingError::Oversized { len: 65537, max: 65536 })
    ));
}

#[test]
fn non_digit_ascii_prefix_is_an_error() {
    let mut f = Framing::builder().prefix(LengthPrefix::Ascii4).build();
    let mut buf = BytesMut::from(&b"00x4ABCD"[..]);
    assert!(matches!(f.decode(&mut buf), Err(FramingError::BadPrefix { .. })));
    let mut f = Framing::builder().prefix(LengthPrefix::Bcd2).build();
    let mut buf = BytesMut::from(&b"\x0a\x00"[..]);
    assert!(matches!(f.decode(&mut buf), Err(FramingError::BadPrefix { .. })));
}

#[test]
fn length_smaller_than_counted_header_is_an_error() {
    let mut f = Framing::builder().header(&[0; 5]).length_counts_header(true).build();
    let mut buf = BytesMut::from(&b"\x00\x03abc"[..]);
    assert!(matches!(f.decode(&mut buf), Err(FramingError::TooShort { .. })));
}

#[test]
fn encoder_refuses_what_the_prefix_cannot_express() {
    let mut f = Framing::builder()
        .prefix(LengthPrefix::Ascii4)
        .max_frame(100_000)
        .build();
    let mut out = BytesMut::new();
    let big = Bytes::from(vec![b'x'; 10_000]);
    assert!(matches!(f.encode(big, &mut out), Err(FramingError::Oversized { .. })));
    assert!(matches!(
        f.encode(Bytes::new(), &mut out),
        Err(FramingError::ZeroLength)
    ));
}
