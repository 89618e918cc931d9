//! `iso8583 bench`: load a host through the library's pooled [`Client`] — what a service gets:
//! the pool, reconnects, failover across `--host`s, deadlines and the retry policy — with up to C
//! links and C × K requests in flight, for a duration or a count; then print throughput, latency
//! percentiles, errors by kind and by outcome, and the client's counters. A host that drops its
//! links does not end the run: the pool opens new ones.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use iso8583_client::sim::Sim;
use iso8583_client::transport::{network_request, ConnectionConfig, Counters};
use iso8583_client::{Client, RetryPolicy};
use iso8583_client::{Message, Mti};
use serde_json::json;

use crate::args::{Wire, WireArgs};
use crate::link::{error_kind, outcome_name};
use crate::{numbers, runtime, Outcome};

/// `iso8583 bench` options. A timed run ends on time: requests still waiting for their answer
/// when it ends are given up and not counted.
#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// The host to load: HOST:PORT. Give it several times for a failover list (primary first).
    #[arg(
        long,
        value_name = "ADDR",
        conflicts_with = "embedded",
        required_unless_present_any = ["embedded", "config"]
    )]
    pub host: Vec<String>,
    /// Start the simulator in this process on a free loopback port and load it.
    #[arg(long)]
    pub embedded: bool,
    #[command(flatten)]
    pub wire: WireArgs,
    /// Links the pool may open.
    #[arg(long, value_name = "C", default_value_t = 1, value_parser = numbers::links, allow_negative_numbers = true)]
    pub connections: usize,
    /// Requests in flight per link (C x K in all).
    #[arg(long, value_name = "K", default_value_t = 16, value_parser = numbers::in_flight, allow_negative_numbers = true)]
    pub in_flight: usize,
    /// Run this many seconds (default 10 unless --count).
    #[arg(long, value_name = "S", conflicts_with = "count", value_parser = numbers::seconds, allow_negative_numbers = true)]
    pub duration: Option<f64>,
    /// Send this many requests.
    #[arg(long, value_name = "N", value_parser = numbers::requests, allow_negative_numbers = true)]
    pub count: Option<u64>,
    /// Time allowed for each request, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 5000, value_parser = numbers::timeout_ms, allow_negative_numbers = true)]
    pub timeout_ms: u64,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    pub metrics: crate::metrics_args::MetricsArgs,
    #[command(flatten)]
    pub config: crate::config_args::ConfigArgs,
}

/// The most requests in flight a run keeps (one task each).
const MAX_WORKERS: usize = 100_000;

/// The result of a run.
pub struct Summary {
    requests: u64,
    answered: u64,
    errors: BTreeMap<&'static str, u64>,
    /// Errors by outcome: `not_sent`, `unknown`.
    outcomes: BTreeMap<&'static str, u64>,
    /// The client's counters, summed over its endpoints.
    client: Counters,
    elapsed: Duration,
    latency: Histogram<u64>,
    connections: usize,
    in_flight: usize,
}

/// Runs `bench`.
pub fn run(args: BenchArgs) -> anyhow::Result<Outcome> {
    // Timeouts and other failures are counted in the summary, not logged one by one.
    runtime::init_logging_at("error");
    let config = args.config.load()?;
    let wire = crate::config_args::wire(&args.wire, config.as_ref())?;
    let summary = runtime::block_on(load(args.clone(), wire))??;
    print!(
        "{}",
        if args.json {
            summary.to_json() + "\n"
        } else {
            summary.table()
        }
    );
    Ok(if summary.answered == summary.requests {
        Outcome::Success
    } else {
        Outcome::SomeFailed
    })
}

/// Runs the load (and the embedded simulator if asked) inside a runtime.
pub async fn load(args: BenchArgs, wire: Wire) -> anyhow::Result<Summary> {
    if args.connections == 0 || args.in_flight == 0 {
        bail!("--connections and --in-flight must be at least 1");
    }
    if args.connections.saturating_mul(args.in_flight) > MAX_WORKERS {
        bail!(
            "--connections x --in-flight must be at most {MAX_WORKERS} requests in flight, not {} x {}",
            args.connections,
            args.in_flight
        );
    }
    args.metrics.serve()?;
    let file = args.config.load()?;
    let spec = wire.spec.clone();
    let (_sim, addrs) = if args.embedded {
        let sim = Sim::start(spec.clone(), wire.sim_config())
            .await
            .context("cannot start the embedded simulator")?;
        let addr = sim.addr().to_string();
        (Some(sim), vec![addr])
    } else {
        let hosts = crate::config_args::hosts(&args.host, file.as_ref());
        if hosts.is_empty() {
            bail!("--host, --embedded or a --config with endpoints is needed");
        }
        let addrs = hosts
            .iter()
            .map(|h| runtime::host_addr(h))
            .collect::<anyhow::Result<Vec<_>>>()?;
        (None, addrs)
    };
    let timeout = Duration::from_millis(args.timeout_ms);
    let config = ConnectionConfig {
        max_consecutive_timeouts: 0,
        ..crate::config_args::connection_config(&wire, file.as_ref())?
    };
    let mut builder = Client::builder(spec.clone());
    for addr in &addrs {
        builder = builder.endpoint(addr.clone());
    }
    let client = builder
        .connection(config)
        .pool_size(args.connections)
        .timeout(timeout)
        .retry(RetryPolicy {
            attempt_timeout: Some(timeout),
            ..RetryPolicy::default()
        })
        .build()
        .context("cannot build the client")?;
    // One echo first: a host that cannot be reached is an error before the clock starts.
    if let Err(e) = client.send(network_request("301")).await {
        if e.is_not_sent() {
            // The library's error names the cause; the addresses are added here.
            bail!("cannot connect to {}: {e}", addrs.join(", "));
        }
    }
    let duration = match (args.count, args.duration) {
        (Some(_), _) => None,
        (None, Some(s)) if s > 0.0 && s.is_finite() => Some(Duration::from_secs_f64(s)),
        (None, Some(_)) => bail!("--duration must be a positive number of seconds"),
        (None, None) => Some(Duration::from_secs(10)),
    };
    let bar = progress_bar(&args, duration);
    let tickets = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..args.connections {
        for _ in 0..args.in_flight {
            let w = Worker {
                client: client.clone(),
                template: template(),
                count: args.count,
                tickets: tickets.clone(),
                done: done.clone(),
                stop: stop.clone(),
                end: duration.map(|d| tokio::time::Instant::from_std(started) + d),
            };
            workers.spawn(w.run());
        }
    }
    let watcher = {
        let (bar, done, stop) = (bar.clone(), done.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                match duration {
                    Some(d) => {
                        bar.set_position(started.elapsed().as_millis().min(d.as_millis()) as u64);
                        bar.set_message(format!("{} answered", done.load(Relaxed)));
                        if started.elapsed() >= d {
                            stop.store(true, Relaxed);
                        }
                    }
                    None => bar.set_position(done.load(Relaxed)),
                }
                if stop.load(Relaxed) {
                    break;
                }
            }
        })
    };
    let mut summary = Summary {
        requests: 0,
        answered: 0,
        errors: BTreeMap::new(),
        outcomes: BTreeMap::new(),
        client: Counters::default(),
        elapsed: Duration::ZERO,
        latency: Histogram::new_with_bounds(1, 3_600_000_000, 3)?,
        connections: args.connections,
        in_flight: args.in_flight,
    };
    while let Some(result) = workers.join_next().await {
        let part = result.context("a load task failed")??;
        summary.requests += part.requests;
        summary.answered += part.answered;
        for (k, v) in part.errors {
            *summary.errors.entry(k).or_default() += v;
        }
        for (k, v) in part.outcomes {
            *summary.outcomes.entry(k).or_default() += v;
        }
        summary.latency.add(&part.latency)?;
    }
    summary.elapsed = started.elapsed();
    stop.store(true, Relaxed);
    let _ = watcher.await;
    bar.finish_and_clear();
    summary.client = client_counters(&client);
    client.close().await;
    Ok(summary)
}

fn progress_bar(args: &BenchArgs, duration: Option<Duration>) -> ProgressBar {
    if args.quiet {
        return ProgressBar::hidden();
    }
    let (len, template) = match (duration, args.count) {
        (Some(d), _) => (d.as_millis() as u64, "{spinner} [{elapsed_precise}] {bar:40} {msg}"),
        (None, n) => (
            n.unwrap_or(0),
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} answered ({per_sec})",
        ),
    };
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}

/// MTI 0200, checked at compile time.
const FINANCIAL_REQUEST: Mti = match Mti::new(*b"0200") {
    Some(mti) => mti,
    None => panic!("0200 is four digits"),
};

/// A typical 0200: PAN, processing code, amount, DE 7, terminal, merchant, currency. DE 11 is
/// assigned by the link.
pub fn template() -> Message {
    let mut msg = Message::new(FINANCIAL_REQUEST);
    msg.set(2, "4111111111111111")
        .set(3, "000000")
        .set(4, "000000001000")
        .set(41, "TERM0001")
        .set(42, "MERCHANT0000001")
        .set(49, "840");
    msg.set_transmission_time(chrono::Utc::now());
    msg
}

/// The client's counters summed over its endpoints.
fn client_counters(client: &Client) -> Counters {
    client
        .counters()
        .into_iter()
        .fold(Counters::default(), |mut sum, (_, c)| {
            sum.connects += c.connects;
            sum.reconnects += c.reconnects;
            sum.late += c.late;
            sum.duplicate += c.duplicate;
            sum.unmatched += c.unmatched;
            sum.timed_out += c.timed_out;
            sum.retried += c.retried;
            sum.broken += c.broken;
            sum
        })
}

struct Worker {
    client: Client,
    template: Message,
    count: Option<u64>,
    tickets: Arc<AtomicU64>,
    done: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    /// The end of a timed run: requests still waiting then are given up, not counted.
    end: Option<tokio::time::Instant>,
}

struct Part {
    requests: u64,
    answered: u64,
    errors: BTreeMap<&'static str, u64>,
    outcomes: BTreeMap<&'static str, u64>,
    latency: Histogram<u64>,
}

impl Worker {
    async fn run(self) -> anyhow::Result<Part> {
        let mut part = Part {
            requests: 0,
            answered: 0,
            errors: BTreeMap::new(),
            outcomes: BTreeMap::new(),
            latency: Histogram::new_with_bounds(1, 3_600_000_000, 3)?,
        };
        loop {
            if self.stop.load(Relaxed) {
                break;
            }
            if let Some(n) = self.count {
                if self.tickets.fetch_add(1, Relaxed) >= n {
                    break;
                }
            }
            let t0 = Instant::now();
            let send = self.client.send(self.template.clone());
            let result = match self.end {
                None => send.await,
                Some(end) => tokio::select! {
                    r = send => r,
                    // The run is over: a request still waiting is given up (the client cancels it).
                    _ = tokio::time::sleep_until(end) => break,
                },
            };
            part.requests += 1;
            match result {
                Ok(_) => {
                    part.answered += 1;
                    let us = t0.elapsed().as_micros().max(1) as u64;
                    let _ = part.latency.record(us);
                    self.done.fetch_add(1, Relaxed);
                }
                Err(e) => {
                    *part.errors.entry(error_kind(&e)).or_default() += 1;
                    *part.outcomes.entry(outcome_name(&e)).or_default() += 1;
                    if e.is_not_sent() {
                        // No link at the moment (the pool is reconnecting): a pause, not a spin.
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
            }
        }
        Ok(part)
    }
}

impl Summary {
    fn throughput(&self) -> f64 {
        self.answered as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn ms(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }

    /// The summary as a table.
    pub fn table(&self) -> String {
        let mut s = format!(
            "requests    {}  ({} links x {} in flight)\nanswered    {}\nelapsed     {:.2} s\nthroughput  {:.0} /s\nlatency ms  p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}\n",
            self.requests,
            self.connections,
            self.in_flight,
            self.answered,
            self.elapsed.as_secs_f64(),
            self.throughput(),
            self.ms(0.5),
            self.ms(0.9),
            self.ms(0.99),
            self.ms(0.999),
            self.latency.max() as f64 / 1000.0
        );
        if self.errors.is_empty() {
            s.push_str("errors      none\n");
        } else {
            let list: Vec<String> = self.errors.iter().map(|(k, v)| format!("{k} {v}")).collect();
            let outcomes: Vec<String> = self
                .outcomes
                .iter()
                .map(|(k, v)| format!("{} {v}", if *k == "unknown" { "outcome unknown" } else { "not sent" }))
                .collect();
            s.push_str(&format!("errors      {} ({})\n", list.join(", "), outcomes.join(", ")));
        }
        let c = &self.client;
        s.push_str(&format!(
            "client      connects {}, reconnects {}, late {}, duplicate {}, unmatched {}\n",
            c.connects, c.reconnects, c.late, c.duplicate, c.unmatched
        ));
        s
    }

    /// The summary as one JSON object.
    pub fn to_json(&self) -> String {
        json!({
            "requests": self.requests,
            "answered": self.answered,
            "errors": self.errors,
            "errors_by_outcome": self.outcomes,
            "client": {
                "connects": self.client.connects,
                "reconnects": self.client.reconnects,
                "late": self.client.late,
                "duplicate": self.client.duplicate,
                "unmatched": self.client.unmatched,
                "timed_out": self.client.timed_out,
                "retried": self.client.retried,
                "broken": self.client.broken,
            },
            "connections": self.connections,
            "in_flight": self.in_flight,
            "seconds": self.elapsed.as_secs_f64(),
            "throughput_per_s": self.throughput(),
            "latency_ms": {
                "p50": self.ms(0.5), "p90": self.ms(0.9), "p99": self.ms(0.99),
                "p99_9": self.ms(0.999), "max": self.latency.max() as f64 / 1000.0,
            },
        })
        .to_string()
    }
}
