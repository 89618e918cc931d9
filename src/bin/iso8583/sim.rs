//! `iso8583 sim`: the host simulator of the library (`iso8583_client::sim`) as a process.
//!
//! The first line on standard output is `listening on ADDR (spec NAME, framing F)`, so scripts and
//! tests can start it on port 0 and read where it is. Then one summary line per second when
//! something happened; with `--verbose`, one line per request received (MTI and STAN only).

use std::io::Write;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use iso8583_client::sim::{Sim, SimConfig, SimCounters};

use crate::args::{Wire, WireArgs};
use crate::{numbers, runtime, Outcome};

/// `iso8583 sim --listen ADDR` with fault options.
#[derive(Args, Debug, Clone)]
pub struct SimArgs {
    /// Where to listen: 127.0.0.1:PORT (port 0 picks a free one). The simulator binds loopback only.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8583")]
    pub listen: String,
    #[command(flatten)]
    pub wire: WireArgs,
    /// Delay every answer by this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0, value_parser = numbers::delay_ms, allow_negative_numbers = true)]
    pub delay_ms: u64,
    /// Add a random extra delay of up to this many milliseconds to each answer.
    #[arg(long, value_name = "MS", default_value_t = 0, value_parser = numbers::delay_ms, allow_negative_numbers = true)]
    pub jitter_ms: u64,
    /// Answer each batch of N requests in reverse order of arrival.
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = numbers::batch, allow_negative_numbers = true)]
    pub reverse_order: usize,
    /// Leave every Nth request of a connection unanswered.
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = numbers::every, allow_negative_numbers = true)]
    pub drop_every: usize,
    /// Close the connection when its Nth request arrives (unanswered).
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = numbers::every, allow_negative_numbers = true)]
    pub close_after: usize,
    /// Send the host's own echo request (0800, DE 70 = 301) every S seconds.
    #[arg(long, value_name = "S", value_parser = numbers::seconds, allow_negative_numbers = true)]
    pub echo_every: Option<f64>,
    /// Print one line per request received (MTI and STAN).
    #[arg(long, short)]
    pub verbose: bool,
    /// Stop after this many seconds (default: run until killed).
    #[arg(long, value_name = "S", value_parser = numbers::seconds, allow_negative_numbers = true)]
    pub duration: Option<f64>,
    #[command(flatten)]
    pub metrics: crate::metrics_args::MetricsArgs,
    #[command(flatten)]
    pub config: crate::config_args::ConfigArgs,
}

impl SimArgs {
    /// The library configuration these options describe.
    pub fn config(&self, wire: &Wire) -> anyhow::Result<SimConfig> {
        let echo_every = match self.echo_every {
            Some(s) if !(s > 0.0 && s.is_finite()) => bail!("--echo-every must be a positive number of seconds"),
            Some(s) => Some(Duration::from_secs_f64(s)),
            None => None,
        };
        Ok(SimConfig {
            delay: Duration::from_millis(self.delay_ms),
            jitter: Duration::from_millis(self.jitter_ms),
            reverse_order: self.reverse_order,
            drop_every: self.drop_every,
            close_after: self.close_after,
            echo_every,
            ..wire.sim_config()
        })
    }
}

/// Runs `sim` until killed (or `--duration`).
pub fn run(args: SimArgs) -> anyhow::Result<Outcome> {
    runtime::init_logging();
    let file = args.config.load()?;
    let wire = crate::config_args::wire(&args.wire, file.as_ref())?;
    let config = args.config(&wire)?;
    let spec = wire.spec.clone();
    let addr = runtime::parse_addr(&args.listen)?;
    if !addr.ip().is_loopback() {
        bail!("the simulator listens on loopback only (127.0.0.1), not {}", addr.ip());
    }
    runtime::block_on(async move {
        args.metrics.serve()?;
        let sim = Sim::start_on(addr.port(), spec.clone(), config)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let mut out = std::io::stdout();
        writeln!(out, "listening on {} ({})", sim.addr(), wire.describe())?;
        out.flush()?;
        let stop_at = args
            .duration
            .map(|s| tokio::time::Instant::now() + Duration::from_secs_f64(s.max(0.0)));
        report_until(&sim, args.verbose, stop_at).await?;
        sim.shutdown().await;
        Ok(Outcome::Success)
    })?
}

/// Prints a summary each second something changed (and each request with `verbose`).
async fn report_until(sim: &Sim, verbose: bool, stop_at: Option<tokio::time::Instant>) -> anyhow::Result<()> {
    let started = tokio::time::Instant::now();
    let mut last = SimCounters::default();
    let mut shown = 0usize;
    let mut tick = tokio::time::interval(Duration::from_millis(if verbose { 50 } else { 1000 }));
    let mut next_summary = started + Duration::from_secs(1);
    loop {
        tick.tick().await;
        let now = tokio::time::Instant::now();
        let mut out = std::io::stdout().lock();
        if verbose {
            let received = sim.received();
            for (mti, stan) in received.iter().skip(shown) {
                writeln!(out, "request {mti} stan {stan}")?;
            }
            shown = received.len();
        }
        export(&sim.counters());
        if now >= next_summary {
            next_summary += Duration::from_secs(1);
            let c = sim.counters();
            if c != last {
                writeln!(
                    out,
                    "{:>5}s  connections {}  received {} (+{})  answered {} (+{})  dropped {}  undecodable {}  echo answers {}",
                    started.elapsed().as_secs(),
                    c.connections,
                    c.received,
                    c.received - last.received,
                    c.answered,
                    c.answered - last.answered,
                    c.dropped,
                    c.undecodable,
                    c.echo_answers
                )?;
                last = c;
            }
        }
        out.flush()?;
        if stop_at.is_some_and(|t| now >= t) {
            return Ok(());
        }
    }
}

/// The simulator's counters as metrics (served with `--metrics`).
fn export(c: &SimCounters) {
    metrics::counter!("iso8583_sim_connections_total").absolute(c.connections);
    metrics::counter!("iso8583_sim_requests_received_total").absolute(c.received);
    metrics::counter!("iso8583_sim_requests_answered_total").absolute(c.answered);
    metrics::counter!("iso8583_sim_requests_dropped_total").absolute(c.dropped);
    metrics::counter!("iso8583_sim_frames_undecodable_total").absolute(c.undecodable);
    metrics::counter!("iso8583_sim_echo_answers_total").absolute(c.echo_answers);
}
