//! `iso8583 demo`: what the project does, in one command on loopback, in under 10 seconds.
//! Starts the simulator in-process, signs on, sends an authorization, a decline, a reversal whose
//! first answer the host drops (so it is repeated as 0401), an echo, prints each exchange decoded
//! and masked with what it means in payments terms, then runs a 3-second bench with its progress
//! bar and summary.
//!
//! The demo gives each request its STAN (DE 11) and transmission time (DE 7) itself before sending,
//! so what it prints is what went on the wire (the client would otherwise fill them in as it sends).

use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::BytesMut;
use clap::Args;
use iso8583_client::sim::{Sim, SimConfig};
use iso8583_client::transport::framing::Framing;
use iso8583_client::transport::{network_request, ConnectionConfig, StanSequence};
use iso8583_client::{Client, RetryPolicy};
use iso8583_client::{Message, Spec};

use crate::args::WireArgs;
use crate::bench::{self, BenchArgs};
use crate::{hex, numbers, runtime, table, Outcome};

/// `iso8583 demo` options.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Seconds of bench at the end.
    #[arg(long, value_name = "S", default_value_t = 3.0, value_parser = numbers::seconds, allow_negative_numbers = true)]
    bench_seconds: f64,
}

const SPEC: &str = "iso87-ascii";

/// One step of the demo: a title, what it means, and the request.
struct Step {
    title: &'static str,
    explain: &'static str,
    request: Request,
}

/// The request of a step.
enum Request {
    /// This message (the loop gives it its STAN and DE 7).
    Message(Message),
    /// The reversal of the authorization sent earlier.
    ReversalOfTheAuthorization,
}

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
            "A host simulator (the card network / issuer side) listens on {} (spec {SPEC}, framing 2b:\n\
             each message is preceded by its length in 2 bytes). It approves with DE 39 = 00, declines\n\
             amounts ending in 51, and for this demo ignores the 4th request it receives.\n",
            sim.addr()
        );

        // STANs (DE 11, the System Trace Audit Number that pairs each answer with its request) come
        // from one sequence: 000001 for the sign-on, then one per request.
        let stans = StanSequence::default();
        let mut sign_on = network_request("001");
        sign_on.set_stan(stans.next());
        let client = Client::builder(spec.clone())
            .endpoint(sim.addr().to_string())
            .connection(ConnectionConfig {
                sign_on: Some(sign_on.clone()),
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

        println!("== 1. Sign-on: 0800, DE 70 = 001 ==");
        println!(
            "Before any card traffic the acquirer signs on: a network management request (0800) with\n\
             DE 70 = 001. The client sends it by itself each time a link opens, and the link carries\n\
             traffic only once the host has approved it (0810, DE 39 = 00).\n"
        );
        print!("{}", table::render(&spec, &sign_on, false));
        println!();

        let steps = [
            Step {
                title: "2. Authorization: 0100, USD 25.00",
                explain: "The terminal asks the issuer to approve USD 25.00 on a card. The request carries the card\n\
                          (DE 2 PAN, DE 14 expiry, DE 35 track 2 — masked here and in every log: the PAN shows at\n\
                          most its first 6 and last 4 digits, track 2 only its separator, the expiry nothing), the amount in\n\
                          cents (DE 4) and its currency (DE 49 = 840, US dollars), the terminal and merchant\n\
                          (DE 41, 42), the transmission time (DE 7, UTC) and the STAN (DE 11). The issuer approves\n\
                          with DE 39 = 00 and an approval code (DE 38) the merchant keeps as proof.",
                request: Request::Message(financial("0100", "000000002500")),
            },
            Step {
                title: "3. Decline: 0100, USD 99.51",
                explain: "The same request for USD 99.51. The simulator declines amounts ending in 51 with\n\
                          DE 39 = 51 (insufficient funds); a decline still is an answer: no approval code.",
                request: Request::Message(financial("0100", "000000009951")),
            },
            Step {
                title: "4. Reversal: 0400, repeated as 0401",
                explain: "The acquirer cancels the authorization of step 2 (say the sale was voided, or the terminal\n\
                          never saw the answer). DE 90 names the original: its MTI, STAN and DE 7. The host drops\n\
                          the first answer. A reversal must reach the issuer, and sending it twice is harmless, so\n\
                          after 300 ms the client sends it again as a repeat, 0401, with the same STAN.",
                request: Request::ReversalOfTheAuthorization,
            },
            Step {
                title: "5. Echo: 0800, DE 70 = 301",
                explain: "A network management echo: the link's heartbeat, which the client also sends on its own\n\
                          when the link is idle. No card data.",
                request: Request::Message(network_request("301")),
            },
        ];
        let mut authorization: Option<Message> = None;
        for step in steps {
            let mut request = match step.request {
                Request::Message(m) => m,
                Request::ReversalOfTheAuthorization => match &authorization {
                    Some(original) => reversal_of(original),
                    None => continue,
                },
            };
            request.set_stan(stans.next());
            request.set_transmission_time(chrono::Utc::now());
            if authorization.is_none() && request.mti().as_str() == "0100" {
                authorization = Some(request.clone());
            }
            println!("== {} ==", step.title);
            println!("{}\n", step.explain);
            println!(">> request, as sent:");
            print!("{}", table::render(&spec, &request, false));
            if !request.contains(2) {
                // No card data: the exact bytes can be shown.
                println!(">> on the wire: {}", wire_text(&spec, &request));
            }
            let t0 = Instant::now();
            let result = client.send(request.clone()).await;
            let took = t0.elapsed().as_secs_f64() * 1000.0;
            let stan = request.stan().unwrap_or_default().to_owned();
            let seen: Vec<String> = sim
                .received()
                .iter()
                .filter(|(_, s)| s.as_str() == stan)
                .map(|(m, _)| m.to_string())
                .collect();
            if seen.len() > 1 {
                println!(
                    "-- the host received STAN {stan} {} times: {}",
                    seen.len(),
                    seen.join(", then ")
                );
            }
            match result {
                Ok(answer) => {
                    println!("<< answer in {took:.1} ms: {}", verdict(&answer));
                    print!("{}", table::render(&spec, &answer, false));
                }
                Err(e) => println!("<< no answer: {e}"),
            }
            println!();
        }
        let received: Vec<String> = sim.received().iter().map(|(m, s)| format!("{m}/{s}")).collect();
        println!("The host received (MTI/STAN): {}", received.join(" "));
        for (addr, c) in client.counters() {
            println!(
                "Client counters for {addr}: sent {}, answered {}, timed out {}, retried {}\n",
                c.sent, c.answered, c.timed_out, c.retried
            );
        }
        client.close().await;
        sim.shutdown().await;

        println!(
            "== 6. Bench: {} s, 2 links x 32 requests in flight ==\n\
             Authorizations as fast as a fresh embedded simulator answers them: throughput and latency\n\
             percentiles, the figures to compare with a host's capacity and timeouts.",
            args.bench_seconds
        );
        let wire = WireArgs::with_spec(SPEC);
        let bench_args = BenchArgs {
            host: Vec::new(),
            embedded: true,
            wire: wire.clone(),
            connections: 2,
            in_flight: 32,
            duration: Some(args.bench_seconds),
            count: None,
            timeout_ms: 5000,
            json: false,
            quiet: false,
            metrics: Default::default(),
            config: Default::default(),
        };
        let summary = bench::load(bench_args, wire.load()?).await?;
        print!("{}", summary.table());
        println!("\ndemo finished in {:.1} s", started.elapsed().as_secs_f64());
        Ok(Outcome::Success)
    })?
}

/// An authorization (0100) or financial request (0200) with card data and its STAN.
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

/// The reversal (0400) of `original`: same card, amount, terminal (the caller gives it a STAN of
/// its own); DE 90 = original MTI, STAN, DE 7, and two empty institution codes.
fn reversal_of(original: &Message) -> Message {
    let mut msg = original.clone();
    msg.set_mti("0400".parse().unwrap_or(original.mti()));
    let de90 = format!(
        "{}{}{}{:011}{:011}",
        original.mti(),
        original.stan().unwrap_or("000000"),
        original.get_str(7).unwrap_or("0000000000"),
        0,
        0
    );
    msg.set(90, de90);
    msg
}

/// What an answer says, in words.
fn verdict(answer: &Message) -> String {
    let code = answer.response_code().unwrap_or("--");
    // Authorizations and financial requests are approved; reversals and network requests accepted.
    let card_traffic = matches!(answer.mti().as_str().as_bytes().get(1), Some(b'1' | b'2'));
    let meaning = match code {
        "00" if card_traffic => "approved",
        "00" => "accepted",
        "51" => "declined, insufficient funds",
        _ => "declined",
    };
    match answer.approval_code() {
        Some(a) => format!("{}, DE 39 = {code} ({meaning}), approval code {a}", answer.mti()),
        None => format!("{}, DE 39 = {code} ({meaning})", answer.mti()),
    }
}

/// The frame of `msg`: the 2-byte length in hex, then the message (ASCII in this spec) as text.
fn wire_text(spec: &Spec, msg: &Message) -> String {
    let mut out = BytesMut::new();
    match spec.encode(msg) {
        Ok(body) => match Framing::default().write_frame(&body, &mut out) {
            Ok(()) => format!(
                "{} (length: {} bytes), then \"{}\"",
                hex::encode(&out[..2]),
                body.len(),
                String::from_utf8_lossy(&body)
            ),
            Err(e) => format!("cannot frame: {e}"),
        },
        Err(e) => format!("cannot encode: {e}"),
    }
}
