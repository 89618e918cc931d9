//! `iso8583 bench`: load a host with C links × K requests in flight, for a duration or a count,
//! then print throughput, latency percentiles and errors by kind.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use clap::Args;
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use iso8583_client::sim::Sim;
use iso8583_client::transport::{Connection, ConnectionConfig};
use iso8583_client::{Message, Mti};
use serde_json::json;

use crate::args::{Wire, WireArgs};
use crate::link::error_kind;
use crate::{runtime, Outcome};

/// `iso8583 bench` options.
#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// The host to load: HOST:PORT.
    #[arg(
        long,
        value_name = "ADDR",
        conflicts_with = "embedded",
        required_unless_present_any = ["embedded", "config"]
    )]
    pub host: Option<String>,
    /// Start the simulator in this process on a free loopback port and load it.
    #[arg(long)]
    pub embedded: bool,
    #[command(flatten)]
    pub wire: WireArgs,
    /// Links to open.
    #[arg(long, value_name = "C", default_value_t = 1)]
    pub connections: usize,
    /// Requests in flight on each link.
    #[arg(long, value_name = "K", default_value_t = 16)]
    pub in_flight: usize,
    /// Run this many seconds (default 10 unless --count).
    #[arg(long, value_name = "S", conflicts_with = "count")]
    pub duration: Option<f64>,
    /// Send this many requests.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Time allowed for each request, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 5000)]
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

/// The result of a run.
pub struct Summary {
    requests: u64,
    answered: u64,
    errors: BTreeMap<&'static str, u64>,
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
    args.metrics.serve()?;
    let file = args.config.load()?;
    let spec = wire.spec.clone();
    let (_sim, addr) = if args.embedded {
        let sim = Sim::start(spec.clone(), wire.sim_config())
            .await
            .context("cannot start the embedded simulator")?;
        let addr = sim.addr().to_string();
        (Some(sim), addr)
    } else {
        let host = crate::config_args::host(args.host.as_deref(), file.as_ref())
            .ok_or_else(|| anyhow!("--host, --embedded or a --config with endpoints is needed"))?;
        (None, runtime::host_addr(&host)?)
    };
    let config = Arc::new(ConnectionConfig {
        max_consecutive_timeouts: 0,
        ..crate::config_args::connection_config(&wire, file.as_ref())?
    });
    let mut links = Vec::new();
    for _ in 0..args.connections {
        let link = Connection::connect(&addr, spec.clone(), config.clone())
            .await
            // The library's error names the address and the cause already.
            .map_err(|e| anyhow!("cannot connect: {e}"))?;
        links.push(Arc::new(link));
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
    for link in &links {
        for _ in 0..args.in_flight {
            let w = Worker {
                link: link.clone(),
                template: template(),
                count: args.count,
                tickets: tickets.clone(),
                done: done.clone(),
                stop: stop.clone(),
                timeout: Duration::from_millis(args.timeout_ms),
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
        summary.latency.add(&part.latency)?;
    }
    summary.elapsed = started.elapsed();
    stop.store(true, Relaxed);
    let _ = watcher.await;
    bar.finish_and_clear();
    for link in links {
        if let Ok(link) = Arc::try_unwrap(link) {
            link.close().await;
        }
    }
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

struct Worker {
    link: Arc<Connection>,
    template: Message,
    count: Option<u64>,
    tickets: Arc<AtomicU64>,
    done: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    timeout: Duration,
}

struct Part {
    requests: u64,
    answered: u64,
    errors: BTreeMap<&'static str, u64>,
    latency: Histogram<u64>,
}

impl Worker {
    async fn run(self) -> anyhow::Result<Part> {
        let mut part = Part {
            requests: 0,
            answered: 0,
            errors: BTreeMap::new(),
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
            part.requests += 1;
            let t0 = Instant::now();
            match self.link.send(self.template.clone(), self.timeout).await {
                Ok(_) => {
                    part.answered += 1;
                    let us = t0.elapsed().as_micros().max(1) as u64;
                    let _ = part.latency.record(us);
                    self.done.fetch_add(1, Relaxed);
                }
                Err(e) => {
                    *part.errors.entry(error_kind(&e)).or_default() += 1;
                    if e.is_link_down() {
                        // A dead link stays dead: stop this worker rather than spin.
                        break;
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
            s.push_str(&format!("errors      {}\n", list.join(", ")));
        }
        s
    }

    /// The summary as one JSON object.
    pub fn to_json(&self) -> String {
        json!({
            "requests": self.requests,
            "answered": self.answered,
            "errors": self.errors,
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
