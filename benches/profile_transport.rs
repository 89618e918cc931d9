//! Fixed-count driver for instruction-count profiling (callgrind): N round
//! trips of the benchmark's 0200 through `Connection::send` against the
//! simulator, `INFLIGHT` tasks on one link.
//!
//! `cargo bench --bench profile_transport --no-run` prints the binary's path (under
//! `target/release/deps/profile_transport-*`); then
//! `valgrind --tool=callgrind <that binary> 20000 128` (a third argument `bare` runs the
//! benchmark's bare echo instead, for the floor; `codec` the codec-equipped echo, the ceiling;
//! `host` the transport against the codec host, which does the echo's decoding and encoding and
//! answers with the response MTI). Plain `cargo bench` runs it once, 20,000 round trips.
//!
//! `ISO8583_PROFILE_THREADS=N` sets the runtime's worker threads (2 unless given);
//! `ISO8583_PROFILE_LINKS=N` spreads the `INFLIGHT` tasks over N links (1 unless given).
//!
//! `ISO8583_PROFILE_REMOTE=PORT` profiles the client side alone: the hosts run in another
//! process (`ISO8583_BENCH_SERVE=PORT cargo bench --bench transport`: the codec echo on PORT+2,
//! the codec host on PORT+3, the simulator on PORT), and this one only connects to them.

mod support;
use support::{bare_echo_server, bare_frame, bare_link, codec_echo_server, codec_link, request, BareLink, Reply};

use std::sync::Arc;
use std::time::Duration;

use iso8583_client::sim::{Sim, SimConfig};
use iso8583_client::transport::{Connection, ConnectionConfig};
use iso8583_client::Spec;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // `cargo bench` passes `--bench`: flags are skipped, positional arguments read in order.
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with("--"));
    let total: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let in_flight: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(128);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(
            std::env::var("ISO8583_PROFILE_THREADS")
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(2),
        )
        .enable_all()
        .build()
        .expect("runtime");
    let mut args = args.peekable();
    match args.peek().map(String::as_str) {
        Some("bare") => return rt.block_on(bare(total, in_flight)),
        Some("codec") => return rt.block_on(codec(total, in_flight)),
        _ => {}
    }
    let against_codec_host = args.next().as_deref() == Some("host");
    rt.block_on(async {
        let spec = Spec::builtin("iso87-ascii-binary-bitmap").expect("spec");
        let sim = Sim::start(spec.clone(), SimConfig::default()).await.expect("sim");
        let addr = match (remote(), against_codec_host) {
            (Some(port), true) => format!("127.0.0.1:{}", port + 3),
            (Some(port), false) => format!("127.0.0.1:{port}"),
            (None, true) => codec_echo_server(0, spec.clone(), Reply::Respond).await,
            (None, false) => sim.addr().to_string(),
        };
        let mut links = Vec::new();
        for _ in 0..links_wanted() {
            let link = Connection::connect(&addr, spec.clone(), Arc::new(ConnectionConfig::default()))
                .await
                .expect("connect");
            links.push(Arc::new(link));
        }
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..in_flight {
            let link = links[n % links.len()].clone();
            let n = total / in_flight;
            tasks.spawn(async move {
                let template = request();
                let answer: iso8583_client::Mti = "0210".parse().expect("mti");
                for _ in 0..n {
                    let resp = link
                        .send(template.clone(), Duration::from_secs(30))
                        .await
                        .expect("answered");
                    // The codec host answers with the request's fields only (no DE 39).
                    assert!(against_codec_host || resp.response_code() == Some("00"));
                    assert_eq!(resp.mti(), answer);
                }
            });
        }
        while tasks.join_next().await.is_some() {}
        sim.shutdown().await;
    });
}

/// The links of `ISO8583_PROFILE_LINKS` (at least one).
fn links_wanted() -> usize {
    std::env::var("ISO8583_PROFILE_LINKS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1usize)
        .max(1)
}

/// The port of `ISO8583_PROFILE_REMOTE`: the hosts run in another process.
fn remote() -> Option<u16> {
    std::env::var("ISO8583_PROFILE_REMOTE").ok()?.parse().ok()
}

/// The benchmark's bare echo (same layout: writer and reader task, one oneshot per request).
async fn bare(total: usize, in_flight: usize) {
    let addr = bare_echo_server(0).await;
    let link = bare_link(
        &addr,
        bare_frame(&Spec::builtin("iso87-ascii-binary-bitmap").expect("spec")),
    )
    .await;
    drive(link, total, in_flight).await;
}

/// The codec echo: the bare echo plus encoding and decoding the 0200 on both sides.
async fn codec(total: usize, in_flight: usize) {
    let spec = Spec::builtin("iso87-ascii-binary-bitmap").expect("spec");
    let addr = match remote() {
        Some(port) => format!("127.0.0.1:{}", port + 2),
        None => codec_echo_server(0, spec.clone(), Reply::Echo).await,
    };
    let mut links = Vec::new();
    for _ in 0..links_wanted() {
        links.push(codec_link(&addr, spec.clone()).await);
    }
    drive_all(links, total, in_flight).await;
}

async fn drive(link: Arc<BareLink>, total: usize, in_flight: usize) {
    drive_all(vec![link], total, in_flight).await;
}

async fn drive_all(links: Vec<Arc<BareLink>>, total: usize, in_flight: usize) {
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..in_flight {
        let link = links[n % links.len()].clone();
        let n = total / in_flight;
        tasks.spawn(async move {
            for _ in 0..n {
                let (reply, rx) = tokio::sync::oneshot::channel();
                link.tx.send(reply).await.expect("queued");
                rx.await.expect("echoed");
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}
