//! `iso8583 demo`: what the project does, in one command on loopback, in under 10 seconds.
//! Starts the simulator in-process, signs on, sends an authorization, a decline, a reversal whose
//! first answer the host drops (so it is repeated as 0401), an echo, prints each exchange decoded
//! and masked, then runs a 3-second bench with its progress bar and summary.

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use iso8583_client::client::{Client, RetryPolicy};
use iso8583_client::sim::{Sim, SimConfig};
use iso8583_client::transport::{network_request, ConnectionConfig};
use iso8583_client::{Message, Spec};

use crate::args::WireArgs;
use crate::bench::{self, BenchArgs};
use crate::{runtime, table, Outcome};

/// `iso8583 demo` options.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Seconds of bench at the end.
    #[arg(long, value_name = "S", default_value_t = 3.0)]
    bench_seconds: f64,
}

const SPEC: &str = "iso87-ascii";

/// Runs the demo.
pub fn run(args: DemoArgs) -> anyhow::Result<Outcome> {
    runtime::init_logging_at("error");
    let spec = Spec::load(SPEC)?;
    let started = Instant::now();
    runtime::block_on(async move {
        // The 4th request on the link (the reversal) goes unanswered: the client repeats it as 0401.
        let config = SimConfig {
            drop_every: 4,
            ..SimConfig::default()
        };
        let sim = Sim::start(spec.clone(), config)
            .await
            .context("cannot start the simulator")?;
        println!(
            "host simulator on {} (spec {SPEC}, framing 2b); it drops the 4th request it receives\n",
            sim.addr()
        );
        let client = Client::builder(spec.clone())
            .endpoint(sim.addr().to_string())
            .connection(ConnectionConfig {
                sign_on: Some(network_request("001")),
                ..ConnectionConfig::default()
            })
            .pool_size(1)
            .timeout(Duration::from_secs(3))
            .retry(RetryPolicy {
                attempts: 3,
                attempt_timeout: Some(Duration::from_millis(300)),
                ..RetryPolicy::default()
            })
            .build()?;
        println!("signing on (0800, DE 70 = 001) as the link opens, then:\n");
        let steps: [(&str, Message); 4] = [
            ("authorization", financial("0100", "000000002500")),
            ("decline (amount ending in 51)", financial("0100", "000000009951")),
            (
                "reversal (first answer dropped by the host)",
                financial("0400", "000000002500"),
            ),
            ("echo", network_request("301")),
        ];
        for (title, mut request) in steps {
            request.set_transmission_time(chrono::Utc::now());
            let t0 = Instant::now();
            let result = client.send(request.clone()).await;
            let took = t0.elapsed();
            println!("== {title}: {} ==", request.mti());
            print!("{}", table::render(&spec, &request, false));
            match result {
                Ok(answer) => {
                    println!("-> answered in {:.1} ms", took.as_secs_f64() * 1000.0);
                    print!("{}", table::render(&spec, &answer, false));
                }
                Err(e) => println!("-> {e}"),
            }
            println!();
        }
        let received: Vec<String> = sim.received().iter().map(|(m, s)| format!("{m}/{s}")).collect();
        println!("the host received (MTI/STAN): {}", received.join(" "));
        for (addr, c) in client.counters() {
            println!(
                "client counters for {addr}: sent {}, answered {}, timed out {}, retried {}\n",
                c.sent, c.answered, c.timed_out, c.retried
            );
        }
        client.close().await;
        sim.shutdown().await;

        println!(
            "bench: {} s, 2 links x 32 in flight, against a fresh embedded simulator",
            args.bench_seconds
        );
        let bench_args = BenchArgs {
            host: None,
            embedded: true,
            wire: WireArgs::with_spec(SPEC),
            connections: 2,
            in_flight: 32,
            duration: Some(args.bench_seconds),
            count: None,
            timeout_ms: 5000,
            json: false,
            quiet: false,
        };
        let summary = bench::load(bench_args, WireArgs::with_spec(SPEC).load()?).await?;
        print!("{}", summary.table());
        println!("\ndemo finished in {:.1} s", started.elapsed().as_secs_f64());
        Ok(Outcome::Success)
    })?
}

/// An authorization (0100), financial request (0200) or reversal (0400) with card data.
fn financial(mti: &str, amount: &'static str) -> Message {
    let mut msg = Message::new(mti.parse().unwrap_or(network_request("301").mti()));
    msg.set(2, "4111111111111111")
        .set(3, "000000")
        .set(4, amount)
        .set(14, "2812")
        .set(22, "051")
        .set(35, "4111111111111111=28121010000000000")
        .set(41, "TERM0001")
        .set(42, "MERCHANT0000001")
        .set(49, "840");
    msg
}
