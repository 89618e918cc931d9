//! The client-wide key registry over real links (TCP on 127.0.0.1, the real driver):
//! - a caller's STAN is free again the moment its answer is handed over, even when the host
//!   answers many requests in one write (one read, several frames through `on_frames`);
//! - a reversal and its repeat sent on two links of one pool, both timed out: the STAN stays
//!   refused until the late answer of each came, on its own link, and is then free again;
//! - a late or stray answer is never handed to the new request that reuses the STAN.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use deadpool::managed::{Object, Pool};
use iso8583_client::transport::framing::Framing;
use iso8583_client::transport::{Cause, Connection, ConnectionConfig, Counters, Endpoint, LinkManager};
use iso8583_client::{Client, Message, RetryPolicy, SendError, SendOptions, Spec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tokio_util::codec::Decoder;

fn spec() -> Arc<Spec> {
    Spec::builtin("iso87-ascii-binary-bitmap").expect("built-in spec")
}

/// Bound of each test, well under the 10 s the whole file may take.
const TEST_LIMIT: Duration = Duration::from_secs(8);

/// Runs `body` within [`TEST_LIMIT`].
async fn bounded<F: std::future::Future<Output = ()>>(body: F) {
    tokio::time::timeout(TEST_LIMIT, body)
        .await
        .expect("the test finished within its time limit");
}

/// Polls `done` every 2 ms; fails the test if it does not hold within 5 s.
async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let limit = Instant::now() + Duration::from_secs(5);
    while !done() {
        assert!(Instant::now() < limit, "not within 5 s: {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// The answer a host gives `req`: its response MTI, DE 4, 11 and 41 copied, DE 39 = 00.
fn respond(req: &Message) -> Message {
    let mut resp = Message::new(req.mti().response().expect("a request"));
    for field in [4, 11, 41, 90] {
        if let Some(value) = req.get_bytes(field) {
            resp.set(field, value);
        }
    }
    resp.set(39, "00");
    resp
}

fn purchase(stan: u32, amount: &str) -> Message {
    let mut m = Message::new("0200".parse().expect("mti"));
    m.set(2, "4111111111111111")
        .set(3, "000000")
        .set(4, amount.to_owned())
        .set(41, "TERM0001")
        .set(49, "840");
    m.set_stan(stan);
    m
}

// ---- 1. immediate STAN reuse under batched answers --------------------------------------

/// What the batching host saw.
#[derive(Default)]
struct BatchStats {
    frames: AtomicUsize,
    /// Writes that carried more than one answer (the client reads several frames at once).
    multi_frame_writes: AtomicUsize,
    largest_write: AtomicUsize,
    /// Requests whose STAN was already in flight at the host (sent before its answer went out).
    stan_twice_in_flight: AtomicUsize,
    connections: AtomicUsize,
}

/// A host on 127.0.0.1 that answers every request, gathering what the client sends meanwhile
/// so that the answers to everything it read go out in one write.
struct BatchHost {
    addr: String,
    stats: Arc<BatchStats>,
    task: JoinHandle<()>,
}

impl BatchHost {
    async fn start() -> BatchHost {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let stats = Arc::new(BatchStats::default());
        let seen = stats.clone();
        let task = tokio::spawn(async move {
            let mut conns = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                seen.connections.fetch_add(1, Ordering::SeqCst);
                conns.spawn(serve_in_batches(stream, seen.clone()));
            }
        });
        BatchHost { addr, stats, task }
    }
}

impl Drop for BatchHost {
    fn drop(&mut self) {
        self.task.abort(); // its JoinSet aborts the connections' tasks
    }
}

async fn serve_in_batches(mut stream: TcpStream, stats: Arc<BatchStats>) {
    let spec = spec();
    let mut framing = Framing::default();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut out = BytesMut::new();
    loop {
        match stream.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        // Let the client's other senders run, and take what they sent meanwhile too.
        for _ in 0..3 {
            tokio::task::yield_now().await;
            match stream.try_read_buf(&mut buf) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
        }
        let mut in_batch = HashSet::new();
        let mut answers = 0;
        while let Some(frame) = framing.decode(&mut buf).expect("well-framed request") {
            let req = spec.decode_bytes(frame.message).expect("decodable request");
            if !in_batch.insert(req.stan().expect("DE 11").to_owned()) {
                stats.stan_twice_in_flight.fetch_add(1, Ordering::SeqCst);
            }
            let body = spec.encode(&respond(&req)).expect("encodable answer");
            framing.write_frame(&body, &mut out).expect("framed answer");
            answers += 1;
        }
        if answers == 0 {
            continue;
        }
        stats.frames.fetch_add(answers, Ordering::SeqCst);
        if answers > 1 {
            stats.multi_frame_writes.fetch_add(1, Ordering::SeqCst);
        }
        stats.largest_write.fetch_max(answers, Ordering::SeqCst);
        if stream.write_all(&out).await.is_err() {
            return;
        }
        out.clear();
    }
}

const SENDERS: u32 = 4;
const ROUNDS: u32 = 2_000;

/// One sender: `ROUNDS` requests with the same STAN, each sent the moment the previous one's
/// answer is in hand; every answer must be its own (its STAN and its amount).
async fn reuse_one_stan<S, F>(sender: u32, send: S)
where
    S: Fn(Message) -> F,
    F: std::future::Future<Output = Result<Message, SendError>>,
{
    let stan = 42 + sender;
    for round in 0..ROUNDS {
        let amount = format!("{sender:06}{round:06}");
        let answer = match send(purchase(stan, &amount)).await {
            Ok(answer) => answer,
            Err(e) => panic!("sender {sender}, STAN {stan:06}, round {round}: refused or failed: {e} ({e:?})"),
        };
        assert_eq!(answer.mti().as_str(), "0210", "round {round}");
        assert_eq!(answer.stan(), Some(format!("{stan:06}").as_str()), "round {round}");
        assert_eq!(
            answer.get_str(4),
            Some(amount.as_str()),
            "round {round}: not its own answer"
        );
    }
}

fn check_batches(host: &BatchHost) {
    let stats = &host.stats;
    assert_eq!(
        stats.frames.load(Ordering::SeqCst),
        (SENDERS * ROUNDS) as usize,
        "each request reached the host once"
    );
    assert_eq!(
        stats.stan_twice_in_flight.load(Ordering::SeqCst),
        0,
        "a STAN went out again before its answer"
    );
    // Else the test did not exercise what it is about: several answers in one read.
    assert!(
        stats.multi_frame_writes.load(Ordering::SeqCst) > 0,
        "no write carried more than one answer (largest: {})",
        stats.largest_write.load(Ordering::SeqCst)
    );
}

/// Breaks if a caller could see its answer before its key left the registry: e.g. if
/// `LinkCore::on_frames` freed the keys of a read after the driver handed the answers out
/// (`read_loop` delivering before `release_all`), or freed only the last frame's key, the
/// immediate resend would be refused `StanInUse` (or `StanUnresolved` if an answered key were
/// marked unresolved). Several senders on two worker threads make the answer of one read reach
/// callers that resend while the reader is still in `on_frames` for the other frames.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stan_is_free_again_the_moment_its_answer_is_handed_over_on_a_connection() {
    bounded(async {
        let host = BatchHost::start().await;
        let config = ConnectionConfig {
            max_consecutive_timeouts: 0,
            ..ConnectionConfig::default()
        };
        let link = Arc::new(
            Connection::connect(&host.addr, spec(), Arc::new(config))
                .await
                .expect("connect"),
        );
        let mut senders = JoinSet::new();
        for sender in 0..SENDERS {
            let link = link.clone();
            senders.spawn(async move {
                reuse_one_stan(sender, |m| {
                    let link = link.clone();
                    async move { link.send(m, Duration::from_secs(5)).await }
                })
                .await;
            });
        }
        while let Some(done) = senders.join_next().await {
            done.expect("sender");
        }
        check_batches(&host);
        // The reader counts an answer just after handing it over: wait for the last counts.
        wait_until("every answer counted", || {
            link.counters().answered == u64::from(SENDERS * ROUNDS)
        })
        .await;
        let counters = link.counters();
        assert_eq!(
            (counters.answered, counters.late, counters.unmatched, counters.duplicate),
            (u64::from(SENDERS * ROUNDS), 0, 0, 0),
            "{counters:?}"
        );
        Arc::try_unwrap(link).expect("the senders are done").close().await;
    })
    .await;
}

/// The same through the `Client` and a pool of two links (both open under this load): a STAN
/// answered on one link may be reused at once whichever link the next send checks out, since
/// the pool's links share one registry. Breaks as the test above.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stan_is_free_again_the_moment_its_answer_is_handed_over_through_the_client() {
    bounded(async {
        let host = BatchHost::start().await;
        let client = Client::builder(spec())
            .endpoint(host.addr.clone())
            .pool_size(2)
            .retry(RetryPolicy::none())
            .timeout(Duration::from_secs(5))
            .build()
            .expect("client");
        let mut senders = JoinSet::new();
        for sender in 0..SENDERS {
            let client = client.clone();
            senders.spawn(async move {
                reuse_one_stan(sender, |m| {
                    let client = client.clone();
                    async move { client.send(m).await }
                })
                .await;
            });
        }
        while let Some(done) = senders.join_next().await {
            done.expect("sender");
        }
        check_batches(&host);
        let answered = || client.counters().into_iter().next().map_or(0, |(_, c)| c.answered);
        // The reader counts an answer just after handing it over: wait for the last counts.
        wait_until("every answer counted", || answered() == u64::from(SENDERS * ROUNDS)).await;
        let (_, counters) = client.counters().into_iter().next().expect("one endpoint");
        assert_eq!(
            (counters.answered, counters.late, counters.unmatched, counters.duplicate),
            (u64::from(SENDERS * ROUNDS), 0, 0, 0),
            "{counters:?}"
        );
        client.close().await;
    })
    .await;
}

// ---- 2 and 3. a reversal and its repeat on two links of one pool ------------------------

/// A host on 127.0.0.1 the test drives by hand over any number of connections: it reports each
/// request with the number of the connection it came on, and writes answers on the connection
/// the test names, several in one write.
struct ManualHost {
    addr: String,
    requests: mpsc::UnboundedReceiver<(usize, Message)>,
    writers: Arc<tokio::sync::Mutex<Vec<OwnedWriteHalf>>>,
    task: JoinHandle<()>,
}

impl ManualHost {
    async fn start() -> ManualHost {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let (tx, requests) = mpsc::unbounded_channel();
        let writers = Arc::new(tokio::sync::Mutex::new(Vec::new()));
        let registered = writers.clone();
        let task = tokio::spawn(async move {
            let mut readers = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let (mut read, write) = stream.into_split();
                let conn = {
                    let mut writers = registered.lock().await;
                    writers.push(write);
                    writers.len() - 1
                };
                let tx: mpsc::UnboundedSender<(usize, Message)> = tx.clone();
                readers.spawn(async move {
                    let spec = spec();
                    let mut framing = Framing::default();
                    let mut buf = BytesMut::with_capacity(4096);
                    loop {
                        match read.read_buf(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(_) => {}
                        }
                        while let Ok(Some(frame)) = framing.decode(&mut buf) {
                            let req = spec.decode_bytes(frame.message).expect("decodable request");
                            if tx.send((conn, req)).is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        ManualHost {
            addr,
            requests,
            writers,
            task,
        }
    }

    /// The next request, with its connection (fails the test after 5 s).
    async fn next(&mut self) -> (usize, Message) {
        tokio::time::timeout(Duration::from_secs(5), self.requests.recv())
            .await
            .expect("a request within 5 s")
            .expect("host running")
    }

    /// Writes `answers` on connection `conn`, in one write.
    async fn write(&self, conn: usize, answers: &[&Message]) {
        let spec = spec();
        let framing = Framing::default();
        let mut out = BytesMut::new();
        for answer in answers {
            let body = spec.encode(answer).expect("encodable");
            framing.write_frame(&body, &mut out).expect("framed");
        }
        let mut writers = self.writers.lock().await;
        let writer = writers.get_mut(conn).expect("a connection of the host");
        writer.write_all(&out).await.expect("written");
    }
}

impl Drop for ManualHost {
    fn drop(&mut self) {
        self.task.abort(); // its JoinSet aborts the readers
    }
}

const STAN: u32 = 42;
/// What the original purchase and the reversal carry.
const REVERSED_AMOUNT: &str = "000000001000";
/// What the new purchase reusing the STAN asks for.
const NEW_AMOUNT: &str = "000000004242";
/// What the host answers the new purchase with: in no other message of the test.
const DISTINCT_AMOUNT: &str = "000000000777";
/// A wait for an answer the host holds back.
const SHORT: Duration = Duration::from_millis(150);

fn reversal() -> Message {
    let mut m = purchase(STAN, REVERSED_AMOUNT);
    m.set_mti("0400".parse().expect("mti"));
    m.set(90, format!("0200{:06}{}{:011}{:011}", 7, "1231235959", 0, 0));
    m
}

/// When the late answers come.
#[derive(Debug, Clone, Copy)]
enum Late {
    /// Both requests time out; then the original's answer (link A), then the repeat's (link B).
    OriginalFirst,
    /// Both time out; then the repeat's answer (link B), then the original's (link A).
    RepeatFirst,
    /// The original's answer comes (link A) while the repeat is still in flight on link B;
    /// then the repeat times out; then its answer comes.
    OriginalWhileRepeatInFlight,
}

fn counters_of(link: &Connection) -> Counters {
    link.counters()
}

/// `send` must be refused as not sent with `StanUnresolved`.
async fn assert_unresolved(link: &Connection, when: &str) {
    let err = link
        .send(purchase(STAN, NEW_AMOUNT), Duration::from_secs(2))
        .await
        .expect_err(when);
    assert!(
        err.is_not_sent() && matches!(err.cause(), Cause::StanUnresolved { .. }),
        "{when}: {err} ({err:?})"
    );
}

/// A 0400 with STAN 000042 on link A and its 0401 repeat (same STAN, same data) on link B of
/// one pool (one `LinkManager`, so one key registry) both time out. The STAN is refused
/// (`StanUnresolved`) on both links until the late answer of each came, each on the link its
/// request went out on; then a new 0200 with STAN 000042 is accepted and gets exactly its own
/// answer, not the late 0410 sent again nor a stray 0210 on the other link.
///
/// Breaks if the registry freed the key at the first late answer (the refusal after one answer
/// fails), if it did not count the original's answer once the repeat on the other link took the
/// key over (`KeyRegistry::late_answer` ignoring `txn`, or the shadow's count lost: the new
/// 0200 is refused after both answers), if a link forgot its own late key, or if pairing
/// ignored the response MTI or the link (the new caller gets DE 4 other than 000000000777).
async fn reversal_and_repeat_on_two_links(late: Late) {
    let mut host = ManualHost::start().await;
    let config = ConnectionConfig {
        max_consecutive_timeouts: 0,
        ..ConnectionConfig::default()
    };
    let manager = LinkManager::new(vec![Endpoint::new(host.addr.clone())], spec(), Arc::new(config));
    let pool: Pool<LinkManager> = Pool::builder(manager).max_size(2).build().expect("pool");
    // Both checked out at once: two links, sharing the manager's registry.
    let a = pool.get().await.expect("link A");
    let b = pool.get().await.expect("link B");

    // The original, on link A: the host holds it.
    let original = reversal();
    let err = a.send(original.clone(), SHORT).await.expect_err("the host holds it");
    assert!(err.is_outcome_unknown() && err.is_timeout(), "{err}");
    let (conn_a, got) = host.next().await;
    assert_eq!((got.mti().as_str(), got.stan()), ("0400", Some("000042")));
    assert_unresolved(&a, "the 0400's outcome is unknown (link A)").await;
    assert_unresolved(&b, "the 0400's outcome is unknown (link B)").await;

    // Its repeat, on link B: let through (a repeat of the unresolved original), held too.
    let mut repeat = original.clone();
    repeat.set_mti("0401".parse().expect("mti"));
    // Long enough, on a loaded machine, for the original's late answer to come while it waits.
    let repeat_deadline = Instant::now()
        + match late {
            Late::OriginalWhileRepeatInFlight => Duration::from_millis(1_500),
            _ => SHORT * 2,
        };
    let pending_repeat = b
        .dispatch(&mut repeat, repeat_deadline)
        .await
        .expect("a repeat is let through");
    let (conn_b, got_repeat) = host.next().await;
    assert_eq!((got_repeat.mti().as_str(), got_repeat.stan()), ("0401", Some("000042")));
    assert_ne!(conn_a, conn_b, "the repeat went out on the other link");
    for field in [2, 4, 41, 90] {
        assert_eq!(
            got_repeat.get(field),
            got.get(field),
            "the repeat carries DE {field} as is"
        );
    }
    let original_answer = respond(&got);
    let repeat_answer = respond(&got_repeat);

    if let Late::OriginalWhileRepeatInFlight = late {
        host.write(conn_a, &[&original_answer]).await;
        wait_until("the original's late answer", || counters_of(&a).late == 1).await;
        assert_eq!(b.in_flight(), 1, "the repeat is still in flight");
        let err = a
            .send(purchase(STAN, NEW_AMOUNT), Duration::from_secs(2))
            .await
            .expect_err("the repeat holds the STAN");
        assert!(
            err.is_not_sent() && matches!(err.cause(), Cause::StanInUse { .. }),
            "{err} ({err:?})"
        );
    }
    let err = pending_repeat.response().await.expect_err("the host holds the repeat");
    assert!(err.is_outcome_unknown() && err.is_timeout(), "{err}");
    assert_unresolved(&a, "both outcomes unknown (link A)").await;
    assert_unresolved(&b, "both outcomes unknown (link B)").await;

    match late {
        Late::OriginalFirst => {
            host.write(conn_a, &[&original_answer]).await;
            wait_until("the original's late answer", || counters_of(&a).late == 1).await;
            assert_unresolved(&a, "the repeat's answer may still come (link A)").await;
            assert_unresolved(&b, "the repeat's answer may still come (link B)").await;
            host.write(conn_b, &[&repeat_answer]).await;
        }
        Late::RepeatFirst => {
            host.write(conn_b, &[&repeat_answer]).await;
            wait_until("the repeat's late answer", || counters_of(&a).late == 1).await;
            assert_unresolved(&a, "the original's answer may still come (link A)").await;
            assert_unresolved(&b, "the original's answer may still come (link B)").await;
            host.write(conn_a, &[&original_answer]).await;
        }
        Late::OriginalWhileRepeatInFlight => {
            // The original's answer came already; the repeat's has not.
            host.write(conn_b, &[&repeat_answer]).await;
        }
    }
    wait_until("both late answers", || counters_of(&a).late == 2).await;

    // Free again: a new purchase with the same STAN goes out (on link A).
    let mut fresh = purchase(STAN, NEW_AMOUNT);
    let pending = a
        .dispatch(&mut fresh, Instant::now() + Duration::from_secs(3))
        .await
        .unwrap_or_else(|e| panic!("the STAN is free once both late answers came: {e} ({e:?})"));
    let (conn, got_fresh) = host.next().await;
    assert_eq!(
        (conn, got_fresh.mti().as_str(), got_fresh.stan()),
        (conn_a, "0200", Some("000042"))
    );
    // A stray 0210 with its STAN on the other link, then, in one write on its own link, the late
    // 0410 again and its real answer.
    let mut stray = respond(&got_fresh);
    stray.set(4, "000000008888");
    host.write(conn_b, &[&stray]).await;
    let dropped = |c: Counters| c.unmatched + c.duplicate;
    wait_until("the stray answer on link B dropped", || dropped(counters_of(&a)) == 1).await;
    let mut real = respond(&got_fresh);
    real.set(4, DISTINCT_AMOUNT);
    host.write(conn_a, &[&original_answer, &real]).await;
    let answer = pending.response().await.expect("answered");
    assert_eq!(
        (
            answer.mti().as_str(),
            answer.stan(),
            answer.get_str(4),
            answer.response_code()
        ),
        ("0210", Some("000042"), Some(DISTINCT_AMOUNT), Some("00")),
        "the new purchase gets exactly its own answer"
    );
    wait_until("the 0410 sent again dropped", || dropped(counters_of(&a)) == 2).await;
    let counters = counters_of(&a);
    assert_eq!(
        (counters.answered, counters.late, counters.timed_out, counters.in_flight),
        (1, 2, 2, 0),
        "{counters:?}"
    );

    // No refused request reached the host.
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(host.requests.try_recv().is_err(), "nothing else was written");

    Object::take(a).close().await;
    Object::take(b).close().await;
    pool.close();
    pool.manager().shutdown().await;
}

#[tokio::test]
async fn reversal_and_repeat_on_two_links_original_answered_first() {
    bounded(reversal_and_repeat_on_two_links(Late::OriginalFirst)).await;
}

#[tokio::test]
async fn reversal_and_repeat_on_two_links_repeat_answered_first() {
    bounded(reversal_and_repeat_on_two_links(Late::RepeatFirst)).await;
}

#[tokio::test]
async fn reversal_and_repeat_on_two_links_original_answered_while_the_repeat_waits() {
    bounded(reversal_and_repeat_on_two_links(Late::OriginalWhileRepeatInFlight)).await;
}

/// The client's own path: its 0400 times out and it repeats it as 0401 (same STAN and data) on
/// its one link, which times out too. The STAN is refused `StanUnresolved` (not retried, never
/// written) while an answer may still come. The host then sends a 0410 for each, on that one
/// link: the second cannot be told from a duplicate of the first (same key, same MTI, same
/// link), and if it were a duplicate the repeat's real answer could still come and reach a new
/// reversal with the STAN. So the link counts one late answer per key, and the STAN stays
/// refused until the late window ends (the README's refusals say so); then a new 0200 with the
/// STAN is accepted and gets exactly its own answer. (On two links, each late answer counts:
/// see the tests above.)
///
/// Breaks if the second 0410 freed the STAN early, if the window never ended, or if a late
/// answer were handed to the new request.
#[tokio::test]
async fn through_the_client_a_reversal_and_its_repeat_on_one_link_keep_the_stan_until_the_window_ends() {
    bounded(async {
        const WINDOW: Duration = Duration::from_millis(600);
        let mut host = ManualHost::start().await;
        let client = Client::builder(spec())
            .endpoint(host.addr.clone())
            .pool_size(1)
            .connection(ConnectionConfig {
                max_consecutive_timeouts: 0,
                late_window: WINDOW,
                ..ConnectionConfig::default()
            })
            .retry(RetryPolicy {
                attempts: 2,
                attempt_timeout: Some(SHORT),
                ..RetryPolicy::default()
            })
            .build()
            .expect("client");
        let opts = SendOptions {
            timeout: Some(Duration::from_secs(2)),
            ..SendOptions::default()
        };
        let err = client.send_with(reversal(), opts).await.expect_err("the host holds it");
        assert!(err.is_outcome_unknown(), "{err}");
        let timed_out = Instant::now();
        let sent = [host.next().await, host.next().await];
        let mtis: Vec<String> = sent.iter().map(|(_, m)| m.mti().as_str().to_owned()).collect();
        assert_eq!(mtis, ["0400", "0401"]);
        assert_eq!(sent[0].0, sent[1].0, "one link");
        // Both late answers, on the one link.
        for (conn, req) in &sent {
            host.write(*conn, &[&respond(req)]).await;
        }
        let counters = || client.counters().first().map(|(_, c)| *c).expect("one endpoint");
        wait_until("both answers taken in", || {
            let c = counters();
            c.late + c.duplicate + c.unmatched == 2
        })
        .await;
        let c = counters();
        assert_eq!((c.late, c.duplicate), (1, 1), "{c:?}");
        let err = client
            .send(purchase(STAN, NEW_AMOUNT))
            .await
            .expect_err("refused until the window ends");
        assert!(
            err.is_not_sent() && matches!(err.cause(), Cause::StanUnresolved { .. }),
            "{err} ({err:?})"
        );
        tokio::time::sleep_until(timed_out + WINDOW + Duration::from_millis(50)).await;
        let fresh = purchase(STAN, NEW_AMOUNT);
        let c = client.clone();
        // Its own deadline and no retry: the host side of this test answers it when it can.
        let own = SendOptions {
            timeout: Some(Duration::from_secs(3)),
            retry: Some(RetryPolicy::none()),
            ..SendOptions::default()
        };
        let mut answering = tokio::spawn(async move { c.send_with(fresh, own).await });
        let (conn, got) = tokio::select! {
            ended = &mut answering => match ended.expect("task") {
                Ok(answer) => panic!("answered without reaching the host: {answer}"),
                Err(e) => panic!("the STAN is free once the window ended: {e} ({e:?})"),
            },
            request = host.next() => request,
        };
        assert_eq!(got.mti().as_str(), "0200");
        let mut real = respond(&got);
        real.set(4, DISTINCT_AMOUNT);
        host.write(conn, &[&real]).await;
        let answer = answering.await.expect("task").expect("answered");
        assert_eq!(answer.get_str(4), Some(DISTINCT_AMOUNT));
        let c = counters();
        assert_eq!((c.late, c.duplicate, c.answered), (1, 1, 1), "{c:?}");
        client.close().await;
    })
    .await;
}
