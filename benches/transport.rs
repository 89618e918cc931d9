//! Round trips per second and p50/p99 latency over loopback: the transport
//! (Connection + codec) against the simulator and against the codec host (a host doing only
//! the codec echo's decoding and encoding, answering with the response MTI), beside a bare
//! length-prefixed echo (no codec, no matching) and the codec echo (the bare echo plus the
//! codec on both sides) in the same runtime and process layout.
//!
//! `cargo bench --bench transport` (each case runs ~2 s; set
//! `ISO8583_BENCH_SECS` to change it, `ISO8583_BENCH_ONLY="x 128"` to run one
//! arrangement).
//!
//! Client and hosts in separate processes: start the hosts with
//! `ISO8583_BENCH_SERVE=7000 cargo bench --bench transport` (simulator on
//! 127.0.0.1:7000, bare echo on 7001, codec echo on 7002, codec host on 7003, for 60 s), then
//! run the client side with
//! `ISO8583_BENCH_REMOTE=7000 cargo bench --bench transport`.

mod support;
use support::{bare_echo_server, bare_frame, bare_link, codec_echo_server, codec_link, request, BareLink, Reply};

use std::sync::Arc;
use std::time::{Duration, Instant};

use iso8583_client::sim::{Sim, SimConfig};
use iso8583_client::transport::{Connection, ConnectionConfig};
use iso8583_client::Spec;

const SPEC: &str = "iso87-ascii-binary-bitmap";

/// mimalloc for both sides of the comparison: with glibc's allocator the
/// responses decoded on the reader's thread and freed on the caller's thread
/// serialise on malloc arena locks (futex), which measures glibc, not the
/// transport. Services that care about throughput make the same choice.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Outcome {
    round_trips: usize,
    elapsed: Duration,
    latencies_us: Vec<u32>,
}

impl Outcome {
    fn rate(&self) -> f64 {
        self.round_trips as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&mut self, p: f64) -> u32 {
        self.latencies_us.sort_unstable();
        let i = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        self.latencies_us.get(i).copied().unwrap_or(0)
    }
}

/// Our transport: `links` connections, `per_link` tasks each keeping one request in flight.
async fn iso_case(addr: &str, links: usize, per_link: usize, run: Duration) -> Outcome {
    let spec = Spec::builtin(SPEC).expect("spec");
    let config = Arc::new(ConnectionConfig::default());
    let mut tasks = tokio::task::JoinSet::new();
    let start = Instant::now();
    let stop_at = start + run;
    for _ in 0..links {
        let link = Arc::new(
            Connection::connect(addr, spec.clone(), config.clone())
                .await
                .expect("connect"),
        );
        for _ in 0..per_link {
            let link = link.clone();
            tasks.spawn(async move {
                let template = request();
                let mut lat = Vec::with_capacity(1 << 14);
                while Instant::now() < stop_at {
                    let t = Instant::now();
                    let resp = link
                        .send(template.clone(), Duration::from_secs(5))
                        .await
                        .expect("answered");
                    debug_assert_eq!(resp.response_code(), Some("00"));
                    lat.push(t.elapsed().as_micros() as u32);
                }
                lat
            });
        }
    }
    collect(tasks, start).await
}

/// The public client over a pool of `pool` links, `senders` tasks each keeping one request in flight.
async fn client_case(addr: &str, pool: usize, senders: usize, run: Duration) -> Outcome {
    let client = iso8583_client::Client::builder(Spec::builtin(SPEC).expect("spec"))
        .endpoint(addr)
        .pool_size(pool)
        .build()
        .expect("client");
    let mut tasks = tokio::task::JoinSet::new();
    let start = Instant::now();
    let stop_at = start + run;
    for _ in 0..senders {
        let client = client.clone();
        tasks.spawn(async move {
            let template = request();
            let mut lat = Vec::with_capacity(1 << 14);
            while Instant::now() < stop_at {
                let t = Instant::now();
                client.send(template.clone()).await.expect("answered");
                lat.push(t.elapsed().as_micros() as u32);
            }
            lat
        });
    }
    let outcome = collect(tasks, start).await;
    client.close().await;
    outcome
}

async fn collect(mut tasks: tokio::task::JoinSet<Vec<u32>>, start: Instant) -> Outcome {
    let mut latencies_us = Vec::new();
    while let Some(done) = tasks.join_next().await {
        latencies_us.extend(done.expect("task"));
    }
    Outcome {
        round_trips: latencies_us.len(),
        elapsed: start.elapsed(),
        latencies_us,
    }
}

async fn bare_case(addr: &str, links: usize, per_link: usize, run: Duration) -> Outcome {
    let frame = bare_frame(&Spec::builtin(SPEC).expect("spec"));
    let mut opened = Vec::new();
    for _ in 0..links {
        opened.push(bare_link(addr, frame.clone()).await);
    }
    echo_case(opened, per_link, run).await
}

/// The codec echo: the bare echo's layout, plus encoding and decoding the same 0200 with the
/// same spec on both sides — the work no link can avoid.
async fn codec_case(addr: &str, links: usize, per_link: usize, run: Duration) -> Outcome {
    let spec = Spec::builtin(SPEC).expect("spec");
    let mut opened = Vec::new();
    for _ in 0..links {
        opened.push(codec_link(addr, spec.clone()).await);
    }
    echo_case(opened, per_link, run).await
}

async fn echo_case(opened: Vec<Arc<BareLink>>, per_link: usize, run: Duration) -> Outcome {
    let mut tasks = tokio::task::JoinSet::new();
    let start = Instant::now();
    let stop_at = start + run;
    for link in opened {
        for _ in 0..per_link {
            let link = link.clone();
            tasks.spawn(async move {
                let mut lat = Vec::with_capacity(1 << 14);
                while Instant::now() < stop_at {
                    let t = Instant::now();
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    link.tx.send(tx).await.expect("queued");
                    rx.await.expect("echoed");
                    lat.push(t.elapsed().as_micros() as u32);
                }
                lat
            });
        }
    }
    collect(tasks, start).await
}

fn main() {
    let secs: f64 = std::env::var("ISO8583_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let run = Duration::from_secs_f64(secs);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let port = |name: &str| std::env::var(name).ok().and_then(|p| p.parse::<u16>().ok());
    rt.block_on(async {
        if let Some(serve) = port("ISO8583_BENCH_SERVE") {
            let spec = Spec::builtin(SPEC).expect("spec");
            let sim = Sim::start_on(serve, spec, SimConfig::default()).await.expect("sim");
            bare_echo_server(serve + 1).await;
            codec_echo_server(serve + 2, Spec::builtin(SPEC).expect("spec"), Reply::Echo).await;
            codec_echo_server(serve + 3, Spec::builtin(SPEC).expect("spec"), Reply::Respond).await;
            // `ISO8583_BENCH_SERVE_SECS`: how long to serve (60 s unless given), e.g. for slow profiled clients.
            let serve_secs = std::env::var("ISO8583_BENCH_SERVE_SECS")
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(60);
            println!(
                "simulator on {}, bare echo on port {}, codec echo on port {}, codec host on port {}; serving for {serve_secs} s",
                sim.addr(),
                serve + 1,
                serve + 2,
                serve + 3
            );
            tokio::time::sleep(Duration::from_secs(serve_secs)).await;
            return;
        }
        let (sim, sim_addr, echo_addr, codec_addr, host_addr) = match port("ISO8583_BENCH_REMOTE") {
            Some(remote) => (
                None,
                format!("127.0.0.1:{remote}"),
                format!("127.0.0.1:{}", remote + 1),
                format!("127.0.0.1:{}", remote + 2),
                format!("127.0.0.1:{}", remote + 3),
            ),
            None => {
                let sim = Sim::start(Spec::builtin(SPEC).expect("spec"), SimConfig::default())
                    .await
                    .expect("sim");
                let addr = sim.addr().to_string();
                let codec = codec_echo_server(0, Spec::builtin(SPEC).expect("spec"), Reply::Echo).await;
                let host = codec_echo_server(0, Spec::builtin(SPEC).expect("spec"), Reply::Respond).await;
                (Some(sim), addr, bare_echo_server(0).await, codec, host)
            }
        };
        // Warm-up.
        let _ = iso_case(&sim_addr, 1, 16, Duration::from_millis(300)).await;
        let _ = bare_case(&echo_addr, 1, 16, Duration::from_millis(300)).await;
        let _ = codec_case(&codec_addr, 1, 16, Duration::from_millis(300)).await;
        let _ = iso_case(&host_addr, 1, 16, Duration::from_millis(300)).await;
        // `ISO8583_BENCH_PAIRS=N`: the goal's measurement alone, robust to a noisy machine. For
        // 1 link x 128 and 4 links x 32, N rounds of (transport vs codec host, codec echo), the
        // order swapped every round, each case `ISO8583_BENCH_SECS` long; per round the ratio
        // host/codec, then the median ratio and the ratio of the summed round trips.
        if let Some(pairs) = std::env::var("ISO8583_BENCH_PAIRS").ok().and_then(|n| n.parse::<usize>().ok()) {
            for (links, per_link, name) in [(1, 128, "1 link x 128"), (4, 32, "4 links x 32")] {
                let mut ratios = Vec::new();
                let (mut host_sum, mut codec_sum) = (0.0, 0.0);
                for round in 0..pairs {
                    let (host, codec) = if round % 2 == 0 {
                        let host = iso_case(&host_addr, links, per_link, run).await;
                        (host, codec_case(&codec_addr, links, per_link, run).await)
                    } else {
                        let codec = codec_case(&codec_addr, links, per_link, run).await;
                        (iso_case(&host_addr, links, per_link, run).await, codec)
                    };
                    host_sum += host.rate();
                    codec_sum += codec.rate();
                    ratios.push(host.rate() / codec.rate());
                    println!(
                        "{name:<14} round {round:>2}: host {:>9.0} rt/s, codec {:>9.0} rt/s, host/codec {:>4.0}%",
                        host.rate(),
                        codec.rate(),
                        100.0 * host.rate() / codec.rate()
                    );
                }
                ratios.sort_by(f64::total_cmp);
                let median = ratios.get(ratios.len() / 2).copied().unwrap_or(0.0);
                println!(
                    "{name:<14} {pairs} rounds: median host/codec {:>4.0}%, summed {:>4.0}%, host {:>9.0} rt/s, codec {:>9.0} rt/s (means)",
                    100.0 * median,
                    100.0 * host_sum / codec_sum,
                    host_sum / pairs.max(1) as f64,
                    codec_sum / pairs.max(1) as f64
                );
            }
            if let Some(sim) = sim {
                sim.shutdown().await;
            }
            return;
        }
        println!("iso: the transport against the simulator; host: the transport against the codec host");
        println!(
            "{:<16} {:>10} {:>6} {:>6} | {:>10} {:>6} {:>6} | {:>10} {:>6} {:>6} | {:>10} {:>6} {:>6} | {:>9} {:>10} {:>11}",
            "arrangement",
            "iso rt/s",
            "p50",
            "p99",
            "host rt/s",
            "p50",
            "p99",
            "bare rt/s",
            "p50",
            "p99",
            "codec rt/s",
            "p50",
            "p99",
            "iso/bare",
            "iso/codec",
            "host/codec"
        );
        let only = std::env::var("ISO8583_BENCH_ONLY").unwrap_or_default();
        // The last row goes through the public Client (deadpool checkout per
        // request, pool of 4), beside the bare echo on 4 links x 32.
        let cases = [
            (1, 1, "1 link x 1", false),
            (1, 16, "1 link x 16", false),
            (1, 128, "1 link x 128", false),
            (4, 32, "4 links x 32", false),
            (4, 32, "Client 4 x 128", true),
        ];
        for (links, per_link, name, via_client) in cases
            .into_iter()
            .filter(|(_, _, name, _)| only.is_empty() || name.contains(only.as_str()))
        {
            let side = std::env::var("ISO8583_BENCH_SIDE").unwrap_or_default();
            let skip = Duration::from_millis(1);
            let iso_run = if side == "bare" { skip } else { run };
            let mut iso = if via_client {
                client_case(&sim_addr, links, links * per_link, iso_run).await
            } else {
                iso_case(&sim_addr, links, per_link, iso_run).await
            };
            let mut host = if via_client {
                client_case(&host_addr, links, links * per_link, iso_run).await
            } else {
                iso_case(&host_addr, links, per_link, iso_run).await
            };
            let echo_run = if side == "iso" { skip } else { run };
            let mut bare = bare_case(&echo_addr, links, per_link, echo_run).await;
            let mut codec = codec_case(&codec_addr, links, per_link, echo_run).await;
            println!(
                "{:<16} {:>10.0} {:>6} {:>6} | {:>10.0} {:>6} {:>6} | {:>10.0} {:>6} {:>6} | {:>10.0} {:>6} {:>6} | {:>8.0}% {:>9.0}% {:>10.0}%",
                name,
                iso.rate(),
                iso.percentile(0.5),
                iso.percentile(0.99),
                host.rate(),
                host.percentile(0.5),
                host.percentile(0.99),
                bare.rate(),
                bare.percentile(0.5),
                bare.percentile(0.99),
                codec.rate(),
                codec.percentile(0.5),
                codec.percentile(0.99),
                100.0 * iso.rate() / bare.rate(),
                100.0 * iso.rate() / codec.rate(),
                100.0 * host.rate() / codec.rate()
            );
        }
        if let Some(sim) = sim {
            sim.shutdown().await;
        }
    });
}
