//! Fixed-count driver for instruction-count profiling (callgrind): N round
//! trips of the benchmark's 0200 through `Connection::send` against the
//! simulator, `INFLIGHT` tasks on one link.
//!
//! `cargo bench --bench profile_transport --no-run` prints the binary's path (under
//! `target/release/deps/profile_transport-*`); then
//! `valgrind --tool=callgrind <that binary> 20000 128` (a third argument `bare` runs the
//! benchmark's bare echo instead, for the floor). Plain `cargo bench` runs it once, 20,000 round trips.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use iso8583_client::sim::{Sim, SimConfig};
use iso8583_client::transport::{Connection, ConnectionConfig};
use iso8583_client::{Message, Spec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn request() -> Message {
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

fn main() {
    // `cargo bench` passes `--bench`: flags are skipped, positional arguments read in order.
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with("--"));
    let total: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let in_flight: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(128);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    if args.next().as_deref() == Some("bare") {
        rt.block_on(bare(total, in_flight));
        return;
    }
    rt.block_on(async {
        let spec = Spec::builtin("iso87-ascii-binary-bitmap").expect("spec");
        let sim = Sim::start(spec.clone(), SimConfig::default()).await.expect("sim");
        let link = Arc::new(
            Connection::connect(&sim.addr().to_string(), spec, Arc::new(ConnectionConfig::default()))
                .await
                .expect("connect"),
        );
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..in_flight {
            let link = link.clone();
            let n = total / in_flight;
            tasks.spawn(async move {
                let template = request();
                for _ in 0..n {
                    let resp = link
                        .send(template.clone(), Duration::from_secs(30))
                        .await
                        .expect("answered");
                    assert_eq!(resp.response_code(), Some("00"));
                }
            });
        }
        while tasks.join_next().await.is_some() {}
        sim.shutdown().await;
    });
}

/// The benchmark's bare echo (same layout: writer and reader task, one oneshot per request).
async fn bare(total: usize, in_flight: usize) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.expect("accept");
        let _ = s.set_nodelay(true);
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
    let spec = Spec::builtin("iso87-ascii-binary-bitmap").expect("spec");
    let mut msg = request();
    msg.set(11, "000001");
    let body = spec.encode(&msg).expect("encode");
    let mut frame = (body.len() as u16).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    let s = TcpStream::connect(addr).await.expect("connect");
    s.set_nodelay(true).expect("nodelay");
    let (mut read, mut write) = s.into_split();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<tokio::sync::oneshot::Sender<()>>(4096);
    let waiting = Arc::new(std::sync::Mutex::new(std::collections::VecDeque::new()));
    let w = waiting.clone();
    tokio::spawn(async move {
        let mut batch = Vec::new();
        let mut out = Vec::new();
        while rx.recv_many(&mut batch, 1024).await > 0 {
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
                    out.extend_from_slice(&frame);
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
                inbuf.advance(2 + len);
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
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..in_flight {
        let tx = tx.clone();
        let n = total / in_flight;
        tasks.spawn(async move {
            for _ in 0..n {
                let (reply, rx) = tokio::sync::oneshot::channel();
                tx.send(reply).await.expect("queued");
                rx.await.expect("echoed");
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}
