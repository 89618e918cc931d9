//! Fixed-count driver for instruction-count profiling (callgrind): N round
//! trips of the benchmark's 0200 through `Connection::send` against the
//! simulator, `INFLIGHT` tasks on one link.
//!
//! `valgrind --tool=callgrind target/release/examples/profile_transport 20000 128`

use std::sync::Arc;
use std::time::Duration;

use iso8583_client::sim::{Sim, SimConfig};
use iso8583_client::transport::{Connection, ConnectionConfig};
use iso8583_client::{Message, Spec};

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
    let mut args = std::env::args().skip(1);
    let total: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let in_flight: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(128);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
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
                    let resp = link.send(template.clone(), Duration::from_secs(30)).await.expect("answered");
                    assert_eq!(resp.response_code(), Some("00"));
                }
            });
        }
        while tasks.join_next().await.is_some() {}
        sim.shutdown().await;
    });
}
