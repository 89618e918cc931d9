//! `iso8583 record --listen ADDR --upstream ADDR --out FILE`: a transparent recording proxy.
//! Every frame in both directions is forwarded unchanged and written, in wire order, to the
//! recording format of `fixtures/README.md`. `--mask` masks PAN and track digits (and zeroes
//! PIN blocks and other secrets) in the file — never on the wire — keeping lengths and encoding.

use std::fs::File;
use std::io::BufWriter;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use bytes::BytesMut;
use clap::Args;
use iso8583_client::recording::{Direction, Recording, RecordingWriter, Side};
use iso8583_client::spec::Sensitivity;
use iso8583_client::transport::framing::Framing;
use iso8583_client::{Message, Spec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::Decoder;

use crate::args::WireArgs;
use crate::{runtime, Outcome};

/// `iso8583 record` options.
#[derive(Args, Debug)]
pub struct RecordArgs {
    /// Where clients connect: HOST:PORT (port 0 picks a free one; the address is printed first).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8584")]
    listen: String,
    /// The real host: HOST:PORT.
    #[arg(long, value_name = "ADDR")]
    upstream: String,
    /// The recording to write.
    #[arg(long, value_name = "FILE")]
    out: std::path::PathBuf,
    /// Mask card data in the recording (same lengths, valid encoding).
    #[arg(long)]
    mask: bool,
    /// Stop after this many client connections have ended (default: run until killed).
    #[arg(long, value_name = "N")]
    max_connections: Option<u32>,
    #[command(flatten)]
    wire: WireArgs,
}

type Writer = Arc<Mutex<RecordingWriter<BufWriter<File>>>>;

/// Runs `record`.
pub fn run(args: RecordArgs) -> anyhow::Result<Outcome> {
    runtime::init_logging();
    let wire = args.wire.load()?;
    let (spec, framing) = (wire.spec.clone(), wire.framing());
    let addr = runtime::parse_addr(&args.listen)?;
    let upstream_addr = runtime::parse_addr(&args.upstream).context("--upstream")?;
    let rec = Recording::new(
        &wire.spec_name,
        wire.framing.prefix.name(),
        &wire.framing.header,
        wire.framing.length_includes_header,
    );
    let file = File::create(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let mut writer = RecordingWriter::start(BufWriter::new(file), &rec)?;
    writer.note(&format!(
        "recorded by iso8583 record, upstream {}{}",
        upstream_addr,
        if args.mask { ", card data masked" } else { "" }
    ))?;
    let writer: Writer = Arc::new(Mutex::new(writer));
    runtime::block_on(async move {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        println!(
            "listening on {} (upstream {}, recording to {})",
            listener.local_addr()?,
            upstream_addr,
            args.out.display()
        );
        let mask = args.mask.then_some(spec);
        let mut sessions = tokio::task::JoinSet::new();
        let mut number = 0u32;
        let mut ended = 0u32;
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let (client, _) = accepted.context("accept failed")?;
                    number += 1;
                    let upstream = match TcpStream::connect(upstream_addr).await {
                        Ok(u) => u,
                        Err(e) => {
                            eprintln!("iso8583: cannot connect to upstream {upstream_addr}: {e}");
                            continue;
                        }
                    };
                    sessions.spawn(proxy(number, client, upstream, framing.clone(), writer.clone(), mask.clone()));
                }
                Some(_) = sessions.join_next(), if !sessions.is_empty() => {
                    ended += 1;
                    if args.max_connections.is_some_and(|m| ended >= m) {
                        break;
                    }
                }
            }
        }
        Ok(Outcome::Success)
    })?
}

/// Forwards one client connection both ways until either side closes.
async fn proxy(
    n: u32,
    client: TcpStream,
    upstream: TcpStream,
    framing: Framing,
    writer: Writer,
    mask: Option<Arc<Spec>>,
) {
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (cr, cw) = client.into_split();
    let (ur, uw) = upstream.into_split();
    let to_host = pump(
        n,
        Direction::ToHost,
        cr,
        uw,
        framing.clone(),
        writer.clone(),
        mask.clone(),
    );
    let from_host = pump(n, Direction::FromHost, ur, cw, framing, writer.clone(), mask);
    // The first side to close ends the session; the other half is dropped (closed) with it.
    let by = tokio::select! {
        _ = to_host => Side::Client,
        _ = from_host => Side::Host,
    };
    if let Ok(mut w) = writer.lock() {
        let _ = w.closed(n, by);
    }
}

/// Copies frames from `from` to `to`, recording each.
async fn pump(
    n: u32,
    direction: Direction,
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut framing: Framing,
    writer: Writer,
    mask: Option<Arc<Spec>>,
) {
    let mut buf = BytesMut::with_capacity(16 * 1024);
    loop {
        loop {
            let frame = match framing.decode(&mut buf) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    if let Ok(mut w) = writer.lock() {
                        let _ = w.note(&format!("bad frame ({e}); connection {n} dropped"));
                    }
                    return;
                }
            };
            let mut wire = BytesMut::new();
            if framing
                .write_frame_with_header(&frame.header, &frame.message, &mut wire)
                .is_err()
            {
                return;
            }
            if to.write_all(&wire).await.is_err() {
                return;
            }
            let recorded = match &mask {
                None => Some(wire.to_vec()),
                Some(spec) => masked_frame(spec, &framing, &frame.header, &frame.message),
            };
            if let Ok(mut w) = writer.lock() {
                let _ = match recorded {
                    Some(bytes) => w.frame(n, direction, &bytes),
                    None => w.note("a frame that does not decode was forwarded but not recorded (--mask)"),
                };
            }
        }
        match from.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// The frame with card data masked, or `None` if the message does not decode.
fn masked_frame(spec: &Spec, framing: &Framing, header: &[u8], message: &[u8]) -> Option<Vec<u8>> {
    let mut msg = spec.decode(message).ok()?;
    mask_message(spec, &mut msg);
    let body = spec.encode(&msg).ok()?;
    let mut wire = BytesMut::new();
    framing.write_frame_with_header(header, &body, &mut wire).ok()?;
    Some(wire.to_vec())
}

/// Masks card data in place: PAN digits other than the first 6 and last 4 become 0, every digit of
/// track data after its PAN part likewise, secrets become zeros. Lengths never change.
pub fn mask_message(spec: &Spec, msg: &mut Message) {
    let fields: Vec<(u8, Vec<u8>)> = msg.fields().map(|(n, v)| (n, v.to_vec())).collect();
    for (n, mut value) in fields {
        let Some(field) = spec.field(n) else { continue };
        match field.sensitivity() {
            Sensitivity::None => continue,
            Sensitivity::Pan | Sensitivity::Track => {
                // Digits between the first 6 and the last 4 of the PAN part, and everything after
                // the separator, become '0'; separators stay.
                let pan_end = value.iter().position(|b| !b.is_ascii_digit()).unwrap_or(value.len());
                for (i, b) in value.iter_mut().enumerate() {
                    let keep = i < 6 || (i < pan_end && i + 4 >= pan_end);
                    if b.is_ascii_digit() && !keep {
                        *b = b'0';
                    }
                }
            }
            Sensitivity::Secret => {
                let zero = if field.is_binary() { 0 } else { b'0' };
                value.iter_mut().for_each(|b| *b = zero);
            }
        }
        msg.set(n, value);
    }
}
