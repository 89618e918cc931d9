//! What the transport benchmarks share: the request they send, and the bare length-prefixed
//! echo (server and client link) that serves as their ceiling.
#![allow(dead_code)]

use std::sync::Arc;

use bytes::{Buf, BytesMut};
use iso8583_client::{Message, Spec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The 0200 every case sends (11 fields, 122 bytes on the wire in iso87-ascii-binary-bitmap).
pub fn request() -> Message {
    let mut m = Message::new("0200".parse().expect("mti"));
    m.set(2, "4111111111111111")
        .set(3, "000000")
        .set(4, "000000001000")
        .set(7, "1127120000")
        .set(12, "120000")
        .set(13, "1127")
        .set(32, "123456")
        .set(37, "RRN000000001")
        .set(41, "TERM0001")
        .set(42, "MERCHANT0000001")
        .set(49, "840");
    m
}

/// The request encoded with a STAN behind a 2-byte length: what the bare echo sends.
pub fn bare_frame(spec: &Spec) -> Vec<u8> {
    let mut msg = request();
    msg.set(11, "000001");
    let body = spec.encode(&msg).expect("encode");
    let mut frame = (body.len() as u16).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    frame
}

/// Bare echo server: writes back whatever it reads.
pub async fn bare_echo_server(port: u16) -> String {
    let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let _ = s.set_nodelay(true);
            tokio::spawn(async move {
                let mut buf = BytesMut::with_capacity(64 * 1024);
                loop {
                    match s.read_buf(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    if s.write_all(&buf).await.is_err() {
                        return;
                    }
                    buf.clear();
                }
            });
        }
    });
    addr
}

/// Bare link: a writer task and a reader task around one socket, requests
/// paired with replies in arrival order (the echo keeps order): no codec, no
/// matching table, but the same task layout and wake-ups as the transport.
pub struct BareLink {
    /// Queue a request; the oneshot fires when its echo is back.
    pub tx: tokio::sync::mpsc::Sender<tokio::sync::oneshot::Sender<()>>,
}

pub async fn bare_link(addr: &str, frame: Vec<u8>) -> Arc<BareLink> {
    pipelined_link(
        addr,
        move |out| out.extend_from_slice(&frame),
        |inbuf, len| inbuf.advance(len),
    )
    .await
}

/// The skeleton of the bare and codec links: a writer task that queues each waiter and lets
/// `write_one` append its frame, and a reader task that hands each answer's `len` bytes (its
/// length prefix already read) to `read_one`, which consumes them, then wakes as many waiters.
async fn pipelined_link(
    addr: &str,
    mut write_one: impl FnMut(&mut BytesMut) + Send + 'static,
    mut read_one: impl FnMut(&mut BytesMut, usize) + Send + 'static,
) -> Arc<BareLink> {
    let s = TcpStream::connect(addr).await.expect("connect");
    s.set_nodelay(true).expect("nodelay");
    let (mut read, mut write) = s.into_split();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<tokio::sync::oneshot::Sender<()>>(4096);
    let waiting = Arc::new(std::sync::Mutex::new(std::collections::VecDeque::new()));
    let w = waiting.clone();
    tokio::spawn(async move {
        let mut batch = Vec::new();
        let mut out = BytesMut::with_capacity(64 * 1024);
        while rx.recv_many(&mut batch, 1024).await > 0 {
            // Same batching as the transport's writer: with other requests in
            // flight, let ready senders queue theirs before writing.
            let others_in_flight = !w.lock().expect("lock").is_empty();
            if others_in_flight {
                tokio::task::yield_now().await;
                while batch.len() < 1024 {
                    match rx.try_recv() {
                        Ok(reply) => batch.push(reply),
                        Err(_) => break,
                    }
                }
            }
            out.clear();
            {
                let mut q = w.lock().expect("lock");
                for reply in batch.drain(..) {
                    q.push_back(reply);
                    write_one(&mut out);
                }
            }
            if write.write_all(&out).await.is_err() {
                return;
            }
        }
    });
    tokio::spawn(async move {
        let mut inbuf = BytesMut::with_capacity(64 * 1024);
        loop {
            if inbuf.capacity() - inbuf.len() < 8 * 1024 {
                inbuf.reserve(64 * 1024);
            }
            match read.read_buf(&mut inbuf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let mut frames = 0;
            while inbuf.len() >= 2 {
                let len = usize::from(u16::from_be_bytes([inbuf[0], inbuf[1]]));
                if inbuf.len() < 2 + len {
                    break;
                }
                inbuf.advance(2);
                read_one(&mut inbuf, len);
                frames += 1;
            }
            let ready: Vec<_> = {
                let mut q = waiting.lock().expect("lock");
                let n = frames.min(q.len());
                q.drain(..n).collect()
            };
            for reply in ready {
                let _ = reply.send(());
            }
        }
    });
    Arc::new(BareLink { tx })
}

/// What a codec server sends back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// The request as it came (the ceiling's host: MTI 0200 back, paired in arrival order).
    Echo,
    /// The request as its response (MTI 0210, every field kept): the leanest host a real
    /// client can talk to, doing the same decoding and encoding as the echo.
    Respond,
}

/// Codec server: decodes every request with `spec` and encodes it back (the host's share of
/// the work no link can avoid), buffers reused.
pub async fn codec_echo_server(port: u16, spec: Arc<Spec>, reply: Reply) -> String {
    let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let _ = s.set_nodelay(true);
            let spec = spec.clone();
            tokio::spawn(async move {
                let mut inbuf = BytesMut::with_capacity(64 * 1024);
                let mut out = BytesMut::with_capacity(64 * 1024);
                loop {
                    match s.read_buf(&mut inbuf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    while inbuf.len() >= 2 {
                        let len = usize::from(u16::from_be_bytes([inbuf[0], inbuf[1]]));
                        if inbuf.len() < 2 + len {
                            break;
                        }
                        inbuf.advance(2);
                        let body = inbuf.split_to(len).freeze();
                        let Ok(mut msg) = spec.decode_bytes(body) else { return };
                        if reply == Reply::Respond {
                            let Some(mti) = msg.mti().response() else { return };
                            msg.set_mti(mti);
                        }
                        let start = out.len();
                        out.extend_from_slice(&[0, 0]);
                        if spec.encode_into(&msg, &mut out).is_err() {
                            return;
                        }
                        let n = (out.len() - start - 2) as u16;
                        out[start..start + 2].copy_from_slice(&n.to_be_bytes());
                    }
                    if s.write_all(&out).await.is_err() {
                        return;
                    }
                    out.clear();
                }
            });
        }
    });
    addr
}

/// Codec link: the bare link's tasks and pairing in arrival order, but every request is encoded
/// from the message and every answer decoded with `spec`: the client's share of the codec work.
pub async fn codec_link(addr: &str, spec: Arc<Spec>) -> Arc<BareLink> {
    let mut template = request();
    template.set(11, "000001");
    let wspec = spec.clone();
    let write_one = move |out: &mut BytesMut| {
        let msg = template.clone();
        let start = out.len();
        out.extend_from_slice(&[0, 0]);
        wspec.encode_into(&msg, out).expect("encode");
        let n = (out.len() - start - 2) as u16;
        out[start..start + 2].copy_from_slice(&n.to_be_bytes());
    };
    let read_one = move |inbuf: &mut BytesMut, len: usize| {
        let body = inbuf.split_to(len).freeze();
        drop(spec.decode_bytes(body).expect("decode"));
    };
    pipelined_link(addr, write_one, read_one).await
}
