//! `iso8583 record --listen ADDR --upstream ADDR --out FILE`: a transparent recording proxy.
//! Every frame in both directions is forwarded unchanged and written, in wire order, to the
//! recording format of `fixtures/README.md`. Card data is masked in the file by the library's one
//! rule (never on the wire), keeping lengths and encoding, unless `--reveal`. The proxy listens
//! on loopback only unless `--allow-remote`; the file is created readable by its owner only (0600);
//! a session with no traffic either way for `--idle-timeout` seconds is closed.

use std::fs::File;
use std::io::BufWriter;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::BytesMut;
use clap::Args;
use iso8583_client::message::mask_in_place;
use iso8583_client::recording::{Direction, Recording, RecordingWriter, Side};
use iso8583_client::spec::Sensitivity;
use iso8583_client::transport::framing::Framing;
use iso8583_client::transport::LinkStream;
use iso8583_client::{Message, Spec};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::Decoder;

use crate::args::WireArgs;
use crate::{numbers, runtime, Outcome};

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
    /// Mask card data in the recording (same lengths, valid encoding): the default, kept for
    /// scripts that ask for it.
    #[arg(long, conflicts_with = "reveal")]
    mask: bool,
    /// Keep card data in clear in the recording (test cards only).
    #[arg(long)]
    reveal: bool,
    /// Listen on an address other than loopback (anyone who reaches it is relayed to the host).
    #[arg(long)]
    allow_remote: bool,
    /// Close a proxied session after this many seconds without a byte either way.
    #[arg(long, value_name = "S", default_value_t = 300.0, value_parser = numbers::seconds, allow_negative_numbers = true)]
    idle_timeout: f64,
    /// Stop after this many client connections have ended (default: run until killed).
    #[arg(long, value_name = "N", value_parser = numbers::connections, allow_negative_numbers = true)]
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
    if !addr.ip().is_loopback() && !args.allow_remote {
        bail!(
            "the recorder listens on loopback only (127.0.0.1), not {}: anyone who reaches it is relayed to the host; --allow-remote to listen there anyway",
            addr.ip()
        );
    }
    let idle = Duration::from_secs_f64(args.idle_timeout);
    let upstream_addr = runtime::parse_addr(&args.upstream).context("--upstream")?;
    let rec = Recording::new(
        &wire.spec_name,
        wire.framing.prefix.name(),
        &wire.framing.header,
        wire.framing.length_includes_header,
    );
    let file = create_private(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let mut writer = RecordingWriter::start(BufWriter::new(file), &rec)?;
    writer.note(&format!(
        "recorded by iso8583 record, upstream {}{}",
        upstream_addr,
        if args.reveal {
            ", card data in clear (--reveal)"
        } else {
            ", card data masked"
        }
    ))?;
    let writer: Writer = Arc::new(Mutex::new(writer));
    let upstream_config = Arc::new(wire.connection_config());
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
        let mask = (!args.reveal).then_some(spec);
        let mut sessions = tokio::task::JoinSet::new();
        let mut number = 0u32;
        let mut ended = 0u32;
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let client = match accepted {
                        Ok((client, _)) => client,
                        Err(e) => {
                            // Out of file descriptors, a connection reset before it was taken: the
                            // listener is still good. A pause keeps a lasting cause from spinning.
                            eprintln!("iso8583: accept failed: {e}");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    };
                    number += 1;
                    let session = Session { n: number, framing: framing.clone(), writer: writer.clone(), mask: mask.clone(), idle };
                    let config = upstream_config.clone();
                    // Connected in the session's own task (TLS when asked, within the connect
                    // timeout): a slow upstream never holds up the next accept.
                    sessions.spawn(async move {
                        let addr = upstream_addr.to_string();
                        match config.connector.connect(&addr, &config).await {
                            Ok(upstream) => session.proxy(client, upstream).await,
                            Err(e) => eprintln!("iso8583: cannot connect to upstream {addr}: {e}"),
                        }
                    });
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

/// What a proxied session needs.
struct Session {
    n: u32,
    framing: Framing,
    writer: Writer,
    mask: Option<Arc<Spec>>,
    idle: Duration,
}

impl Session {
    /// Forwards one client connection both ways until either side closes or no byte went either
    /// way for `idle`.
    async fn proxy(self, client: TcpStream, upstream: LinkStream) {
        let _ = client.set_nodelay(true);
        let (cr, cw) = client.into_split();
        let (ur, uw): (Box<dyn AsyncRead + Send + Unpin>, Box<dyn AsyncWrite + Send + Unpin>) = match upstream {
            LinkStream::Tcp(tcp) => {
                let (r, w) = tcp.into_split();
                (Box::new(r), Box::new(w))
            }
            LinkStream::Other(io) => {
                let (r, w) = tokio::io::split(io);
                (Box::new(r), Box::new(w))
            }
        };
        // When bytes last went either way, in milliseconds since the session began.
        let started = Instant::now();
        let last = AtomicU64::new(0);
        let to_host = self.pump(Direction::ToHost, cr, uw, &last, started);
        let from_host = self.pump(Direction::FromHost, ur, cw, &last, started);
        let idle = async {
            loop {
                let since = Duration::from_millis(last.load(Relaxed));
                let quiet = started.elapsed().saturating_sub(since);
                if quiet >= self.idle {
                    return;
                }
                tokio::time::sleep(self.idle - quiet).await;
            }
        };
        // The first side to close ends the session; the other half is dropped (closed) with it.
        let by = tokio::select! {
            _ = to_host => Some(Side::Client),
            _ = from_host => Some(Side::Host),
            _ = idle => None,
        };
        if let Ok(mut w) = self.writer.lock() {
            let _ = match by {
                Some(by) => w.closed(self.n, by),
                None => w.note(&format!(
                    "connection {}: idle for {:.3} s, the recorder closed the connection for the client",
                    self.n,
                    self.idle.as_secs_f64()
                )),
            };
        }
    }

    /// Copies frames from `from` to `to`, recording each.
    async fn pump<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
        &self,
        direction: Direction,
        mut from: R,
        mut to: W,
        last: &AtomicU64,
        started: Instant,
    ) {
        let (n, writer, mask) = (self.n, &self.writer, &self.mask);
        let mut framing = self.framing.clone();
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
                let recorded = match mask {
                    None => Some(wire.to_vec()),
                    Some(spec) => masked_frame(spec, &framing, &frame.header, &frame.message),
                };
                if let Ok(mut w) = writer.lock() {
                    let _ = match recorded {
                        Some(bytes) => w.frame(n, direction, &bytes),
                        None => {
                            w.note("a frame that does not decode was forwarded but not recorded (card data masked)")
                        }
                    };
                }
            }
            match from.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    let now = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                    last.fetch_max(now, Relaxed);
                }
            }
        }
    }
}

/// Creates (or truncates) `path` readable and writable by its owner only: a recording holds
/// card data unless masked, and host traffic either way.
fn create_private(path: &std::path::Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options.open(path)?;
        // An existing file keeps its mode on open: set it.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        Ok(file)
    }
    #[cfg(not(unix))]
    options.open(path)
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

/// Masks card data in place by the library's one rule ([`mask_in_place`]): hidden PAN digits,
/// track data but for its separators, and secrets become `0` (0x00 in binary fields). Lengths
/// never change, and the message still encodes.
pub fn mask_message(spec: &Spec, msg: &mut Message) {
    let fields: Vec<(u8, Vec<u8>)> = msg.fields().map(|(n, v)| (n, v.to_vec())).collect();
    for (n, mut value) in fields {
        let Some(field) = spec.field(n) else { continue };
        if field.sensitivity() == Sensitivity::None {
            continue;
        }
        mask_in_place(&mut value, field.sensitivity(), field.is_binary());
        msg.set(n, value);
    }
}
