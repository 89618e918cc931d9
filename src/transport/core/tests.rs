//! Unit tests of the link core, one event at a time, on a fake clock (ms).

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio_util::codec::Decoder;

use super::keys::{KeyRegistry, MatchKey, StanSequence};
use super::{FrameNote, Inbox, Limits, LinkCore, Resolution};
use crate::transport::error::{Cause, SendError};
use crate::transport::framing::Framing;
use crate::{Message, Spec};

pub(super) type Core = LinkCore<u64, u64>;

pub(super) fn spec() -> Arc<Spec> {
    Spec::builtin("iso87-ascii").expect("built-in")
}

pub(super) fn registry(window_ms: u64, capacity: usize) -> Arc<KeyRegistry<u64>> {
    Arc::new(KeyRegistry::new(
        StanSequence::default(),
        Duration::from_millis(window_ms),
        capacity,
    ))
}

pub(super) fn core_with(keys: Arc<KeyRegistry<u64>>, max_in_flight: usize, max_timeouts: u32) -> Core {
    let limits = Limits {
        max_in_flight,
        late_memory: 4096,
        max_consecutive_timeouts: max_timeouts,
        max_reply_backlog: 1 << 20,
        deadline_slack: Duration::ZERO,
    };
    LinkCore::new(
        spec(),
        Framing::default(),
        Vec::new(),
        limits,
        keys,
        Duration::from_millis(300_000),
        0,
    )
}

fn core() -> Core {
    core_with(registry(300_000, 1_000_000), 10_000, 0)
}

/// A request with amount `amount` (so answers can be told apart) and STAN `stan` (None: assigned).
pub(super) fn request(mti: &str, stan: Option<u32>, amount: u64) -> Message {
    let mut m = Message::new(mti.parse().expect("mti"));
    m.set(3, "000000").set(4, format!("{amount:012}")).set(41, "TERM0001");
    if let Some(stan) = stan {
        m.set_stan(stan);
    }
    m
}

/// The host's answer to `req`: the response MTI, its STAN and amount, approved.
pub(super) fn answer(req: &Message) -> Message {
    let mut m = Message::new(req.mti().response().expect("a request"));
    for f in [3, 4, 11, 41] {
        if let Some(v) = req.get_bytes(f) {
            m.set(f, v.clone());
        }
    }
    m.set(39, "00");
    m
}

/// Amount (DE 4) of a message.
pub(super) fn amount(m: &Message) -> u64 {
    std::str::from_utf8(m.get(4).unwrap_or_default())
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The amounts of the frames in a buffer the writer took.
pub(super) fn amounts_written(buf: &mut BytesMut) -> Vec<u64> {
    let mut framing = Framing::default();
    let spec = spec();
    let mut out = Vec::new();
    while let Ok(Some(frame)) = framing.decode(buf) {
        out.push(spec.decode_bytes(frame.message).map(|m| amount(&m)).unwrap_or(0));
    }
    out
}

fn outcome(out: &mut Vec<Resolution<u64>>, waiter: u64) -> Result<Message, SendError> {
    let at = out.iter().position(|(w, _)| *w == waiter).expect("resolved");
    out.remove(at).1
}

/// The 0401 repeat of a reversal: same STAN and data.
fn repeat_of(reversal: &Message) -> Message {
    let mut repeat = reversal.clone();
    repeat.set_mti("0401".parse().expect("mti"));
    repeat
}

/// Sends `msg` on `core` at `at` (request `id`), the writer takes it, and its deadline passes
/// unanswered: its outcome is unknown.
fn written_then_timed_out(core: &mut Core, msg: &mut Message, at: u64, deadline: u64, id: u64) {
    core.submit(at, msg, deadline, false, None, id).expect("accepted");
    core.take_frames(&mut BytesMut::new());
    let mut out = Vec::new();
    core.on_time(deadline, &mut Inbox::default(), &mut out);
    assert!(outcome(&mut out, id).expect_err("timed out").is_outcome_unknown());
}

#[test]
fn a_reused_stan_whose_outcome_is_unknown_is_refused_and_never_gets_the_late_answer() {
    let mut core = core();
    let mut out = Vec::new();
    let mut first = request("0200", Some(42), 1000);
    core.submit(0, &mut first, 100, false, None, 1).expect("accepted");
    core.take_frames(&mut BytesMut::new());
    core.on_time(100, &mut Inbox::default(), &mut out);
    assert!(outcome(&mut out, 1).expect_err("timed out").is_outcome_unknown());
    // The caller reuses STAN 42 for another amount: refused, not sent.
    let mut second = request("0200", Some(42), 9999);
    let err = core
        .submit(101, &mut second, 5_000, false, None, 2)
        .expect_err("refused");
    assert!(
        err.is_not_sent() && matches!(err.cause(), Cause::StanUnresolved { .. }),
        "{err}"
    );
    // The late answer comes: counted late, handed to nobody; the key is free again.
    let note = core.on_frame(102, Ok(answer(&first)), &mut out);
    assert!(matches!(note, FrameNote::Late(_)) && out.is_empty(), "{note:?}");
    core.submit(103, &mut second, 5_000, false, None, 3)
        .expect("free after the late answer");
}

#[test]
fn an_unresolved_key_is_free_again_after_the_late_window() {
    let keys = registry(1_000, 1_000_000);
    let mut core = core_with(keys, 10, 0);
    let mut out = Vec::new();
    core.submit(0, &mut request("0200", Some(7), 1), 10, false, None, 1)
        .expect("accepted");
    core.take_frames(&mut BytesMut::new());
    core.on_time(10, &mut Inbox::default(), &mut out);
    assert!(core
        .submit(1_009, &mut request("0200", Some(7), 2), 5_000, false, None, 2)
        .is_err());
    core.submit(1_010, &mut request("0200", Some(7), 2), 5_000, false, None, 3)
        .expect("window over");
}

#[test]
fn the_clients_own_repeat_goes_through_and_gets_the_answer() {
    let mut core = core();
    let mut out = Vec::new();
    let mut reversal = request("0400", Some(9), 500);
    core.submit(0, &mut reversal, 10, false, None, 1).expect("accepted");
    core.take_frames(&mut BytesMut::new());
    core.on_time(10, &mut Inbox::default(), &mut out);
    out.clear();
    let mut repeat = reversal.clone();
    repeat.set_mti("0401".parse().expect("mti"));
    core.submit(11, &mut repeat, 5_000, false, None, 2)
        .expect("a repeat is let through");
    core.take_frames(&mut BytesMut::new());
    core.on_frame(12, Ok(answer(&reversal)), &mut out); // 0410, answering both
    assert_eq!(amount(&outcome(&mut out, 2).expect("answered")), 500);
    // The original's window comes back: an unrelated reuse is still refused.
    let err = core
        .submit(13, &mut request("0200", Some(9), 1), 5_000, false, None, 3)
        .expect_err("refused");
    assert!(matches!(err.cause(), Cause::StanUnresolved { .. }));
}

/// A reversal times out on link a; its repeat goes out on link b (taking the key over); the
/// original's late answer reaches a while the repeat still holds the key, then b's answer comes:
/// every written request of the transaction is answered, so the STAN is free again (it was
/// refused for the whole late window: the late answer on a was lost while b held the key).
#[test]
fn a_late_answer_on_one_link_while_the_repeat_is_in_flight_on_another_counts() {
    let keys = registry(300_000, 1_000_000);
    let mut a = core_with(keys.clone(), 10, 0);
    let mut b = core_with(keys, 10, 0);
    let mut out = Vec::new();
    let mut reversal = request("0400", Some(8), 500);
    written_then_timed_out(&mut a, &mut reversal, 0, 10, 1);
    let mut repeat = repeat_of(&reversal);
    b.submit(11, &mut repeat, 5_000, false, None, 2).expect("the repeat");
    b.take_frames(&mut BytesMut::new());
    assert!(matches!(
        a.on_frame(12, Ok(answer(&reversal)), &mut out),
        FrameNote::Late(_)
    ));
    assert!(matches!(
        b.on_frame(13, Ok(answer(&repeat)), &mut out),
        FrameNote::Answered
    ));
    a.submit(14, &mut request("0200", Some(8), 1), 5_000, false, None, 3)
        .expect("every request of the transaction answered: the STAN is free");
}

/// As above, but the repeat on link b times out too before any answer: the original's late
/// answer on a and the repeat's on b are both of the transaction, and together they free the STAN.
#[test]
fn late_answers_on_two_links_to_an_original_and_its_timed_out_repeat_free_the_key() {
    let keys = registry(300_000, 1_000_000);
    let mut a = core_with(keys.clone(), 10, 0);
    let mut b = core_with(keys, 10, 0);
    let mut out = Vec::new();
    let mut reversal = request("0400", Some(9), 500);
    written_then_timed_out(&mut a, &mut reversal, 0, 10, 1);
    let mut repeat = repeat_of(&reversal);
    written_then_timed_out(&mut b, &mut repeat, 11, 20, 2);
    assert!(matches!(
        a.on_frame(21, Ok(answer(&reversal)), &mut out),
        FrameNote::Late(_)
    ));
    let err = a
        .submit(22, &mut request("0200", Some(9), 1), 5_000, false, None, 3)
        .expect_err("the repeat's answer may still come");
    assert!(matches!(err.cause(), Cause::StanUnresolved { .. }), "{err}");
    assert!(matches!(
        b.on_frame(23, Ok(answer(&repeat)), &mut out),
        FrameNote::Late(_)
    ));
    a.submit(24, &mut request("0200", Some(9), 1), 5_000, false, None, 4)
        .expect("every request of the transaction answered: the STAN is free");
}

/// A reversal and two repeats, each on its own link, all time out; the late answers come in any
/// order, each on its link: every one counts (the middle repeat's too, although a later repeat
/// took the key over after it), and once all three came the STAN is free.
#[test]
fn late_answers_of_an_original_and_two_repeats_on_three_links_all_count() {
    for order in [[0, 1, 2], [1, 2, 0], [2, 0, 1], [1, 0, 2]] {
        let keys = registry(300_000, 1_000_000);
        let mut links: Vec<Core> = (0..3).map(|_| core_with(keys.clone(), 10, 0)).collect();
        let mut out = Vec::new();
        let original = request("0400", Some(10), 500);
        let mut sent = Vec::new();
        for (i, link) in links.iter_mut().enumerate() {
            let mut msg = if i == 0 { original.clone() } else { repeat_of(&original) };
            let at = 20 * i as u64;
            written_then_timed_out(link, &mut msg, at, at + 10, i as u64 + 1);
            sent.push(msg);
        }
        for (n, &i) in order.iter().enumerate() {
            let note = links[i].on_frame(100 + n as u64, Ok(answer(&sent[i])), &mut out);
            assert!(matches!(note, FrameNote::Late(_)), "{order:?}: {note:?}");
            let reuse = links[0].submit(101 + n as u64, &mut request("0200", Some(10), 1), 5_000, false, None, 9);
            if n < 2 {
                let err = reuse.expect_err("an answer may still come");
                assert!(matches!(err.cause(), Cause::StanUnresolved { .. }), "{order:?}: {err}");
            } else {
                reuse.unwrap_or_else(|e| panic!("{order:?}: every answer came, the STAN is free: {e}"));
            }
        }
    }
}

/// A read cut short by a panic (here the frames' iterator, as a panicking decoder would) takes
/// the link down: the keys of the answers handled before the panic leave the registry too.
#[test]
fn a_read_cut_short_by_a_panic_frees_the_keys_it_answered_when_the_link_goes_down() {
    let keys = registry(300_000, 1_000_000);
    let mut core = core_with(keys.clone(), 10, 0);
    let mut out = Vec::new();
    let first = request("0200", Some(21), 1);
    core.submit(0, &mut first.clone(), 100, false, None, 1)
        .expect("accepted");
    core.take_frames(&mut BytesMut::new());
    let frames = [Some(Ok(answer(&first))), None]
        .into_iter()
        .map(|f| f.expect("the decoder panics"));
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        core.on_frames(1, frames, &mut Vec::new(), &mut out);
    }));
    assert!(panicked.is_err());
    core.go_down(2, "reader task panicked".into(), &mut Inbox::default(), &mut out);
    assert_eq!(keys.len(), 0, "no key left held in flight");
}

/// The writer is woken by the frame that finds the outbox empty, and only by it: frames behind
/// it (cut ones included) are taken with it by the take its wake-up leads to.
#[test]
fn the_writer_is_woken_by_the_first_frame_after_each_take() {
    let mut core = core();
    let mut out = Vec::new();
    let wake = |core: &mut Core, now: u64, deadline: u64, id: u64| {
        let mut frame = BytesMut::new();
        let mut msg = request("0200", None, id);
        let prepared = core
            .preparer()
            .prepare(now, &mut msg, deadline, None, false, &mut frame)
            .expect("prepared");
        core.commit(now, prepared, &frame, deadline, id)
            .map_err(|(e, _)| e)
            .expect("accepted")
            .wake_writer
    };
    assert!(wake(&mut core, 0, 1_000, 1), "into an empty outbox");
    assert!(!wake(&mut core, 0, 1_000, 2), "behind a frame not taken yet");
    core.take_frames(&mut BytesMut::new());
    assert!(wake(&mut core, 0, 5, 3), "first after a take");
    core.on_time(5, &mut Inbox::default(), &mut out); // cut before the writer took it
    assert!(
        !wake(&mut core, 6, 1_000, 4),
        "behind a cut frame the writer was woken for"
    );
    let mut buf = BytesMut::new();
    core.take_frames(&mut buf);
    assert_eq!(amounts_written(&mut buf), [4]);
    assert!(
        wake(&mut core, 7, 1_000, 5),
        "first after a take of cut and live frames"
    );
}

#[test]
fn duplicate_keys_are_refused_across_links_sharing_a_registry() {
    let keys = registry(300_000, 1_000_000);
    let mut a = core_with(keys.clone(), 10, 0);
    let mut b = core_with(keys, 10, 0);
    a.submit(0, &mut request("0200", Some(5), 1), 100, false, None, 1)
        .expect("accepted");
    let err = b
        .submit(0, &mut request("0200", Some(5), 2), 100, false, None, 2)
        .expect_err("in flight on a");
    assert!(err.is_not_sent() && matches!(err.cause(), Cause::StanInUse { .. }));
}

#[test]
fn no_stan_left_refuses_and_never_overwrites() {
    let keys = registry(300_000, 3);
    let mut core = core_with(keys.clone(), 10, 0);
    for id in 1..=3 {
        core.submit(0, &mut request("0200", None, id), 100, false, None, id)
            .expect("room");
    }
    let err = core
        .submit(0, &mut request("0200", None, 4), 100, false, None, 4)
        .expect_err("full");
    assert!(err.is_not_sent() && matches!(err.cause(), Cause::NoStanFree), "{err}");
    assert_eq!((core.in_flight(), keys.len()), (3, 3));
}

#[test]
fn every_stan_in_use_refuses_an_assigned_stan() {
    let keys = registry(300_000, 2_000_000);
    let mut core = core_with(keys, 2_000_000, 0);
    let mut stan_of_first = None;
    for id in 0..999_999u64 {
        let mut m = request("0800", None, 0);
        let accepted = core.submit(0, &mut m, 100, false, None, id).expect("a STAN is free");
        stan_of_first.get_or_insert(accepted.key.stan());
    }
    let err = core
        .submit(0, &mut request("0800", None, 0), 100, false, None, 1_000_000)
        .expect_err("no STAN left");
    assert!(matches!(err.cause(), Cause::NoStanFree), "{err}");
    assert_eq!(core.in_flight(), 999_999);
}

#[test]
fn in_flight_cap_refuses_above_it() {
    let mut core = core_with(registry(300_000, 1_000), 2, 0);
    core.submit(0, &mut request("0200", None, 1), 100, false, None, 1)
        .expect("room");
    core.submit(0, &mut request("0200", None, 2), 100, false, None, 2)
        .expect("room");
    let err = core
        .submit(0, &mut request("0200", None, 3), 100, false, None, 3)
        .expect_err("full");
    assert!(matches!(err.cause(), Cause::TooManyInFlight { max: 2 }));
    core.submit(0, &mut request("0800", None, 4), 100, true, None, 4)
        .expect("the link's own requests pass");
}

#[test]
fn a_queued_frame_whose_deadline_passes_is_cut_and_not_sent() {
    let mut core = core();
    let mut out = Vec::new();
    core.submit(0, &mut request("0200", None, 111), 10, false, None, 1)
        .expect("accepted");
    core.submit(0, &mut request("0200", None, 222), 50, false, None, 2)
        .expect("accepted");
    let expired = core.on_time(10, &mut Inbox::default(), &mut out);
    assert_eq!((expired.not_sent, expired.unknown), (1, 0));
    let err = outcome(&mut out, 1).expect_err("timed out");
    assert!(err.is_not_sent() && err.is_timeout(), "{err}");
    let mut written = BytesMut::new();
    assert!(core.take_frames(&mut written));
    assert_eq!(
        amounts_written(&mut written),
        vec![222],
        "the cut frame is never written"
    );
    // A taken frame that times out is outcome unknown.
    core.on_time(50, &mut Inbox::default(), &mut out);
    assert!(outcome(&mut out, 2).expect_err("timed out").is_outcome_unknown());
}

#[test]
fn a_deadline_already_passed_writes_nothing() {
    let mut core = core();
    let err = core
        .submit(10, &mut request("0200", None, 1), 10, false, None, 1)
        .expect_err("refused");
    assert!(err.is_not_sent() && err.is_timeout());
    assert!(!core.take_frames(&mut BytesMut::new()));
}

#[test]
fn an_undecodable_answer_fails_exactly_its_caller() {
    let mut core = core();
    let mut out = Vec::new();
    let mut req = request("0100", Some(77), 1);
    core.submit(0, &mut req, 100, false, None, 1).expect("accepted");
    core.submit(0, &mut request("0100", Some(78), 2), 100, false, None, 2)
        .expect("accepted");
    core.take_frames(&mut BytesMut::new());
    let mut wire = spec().encode(&answer(&req)).expect("encodes").to_vec();
    wire.truncate(wire.len() - 1); // DE 39 cut short
    let err = spec().decode(&wire).expect_err("undecodable");
    assert!(err.partial().is_some(), "the STAN is readable");
    let note = core.on_frame(1, Err(err), &mut out);
    assert!(matches!(
        note,
        FrameNote::Undecodable {
            failed_request: true,
            ..
        }
    ));
    assert!(outcome(&mut out, 1).expect_err("failed").is_decode());
    assert!(
        out.is_empty() && core.in_flight() == 1,
        "the other request keeps waiting"
    );
}

#[test]
fn link_down_splits_not_sent_from_unknown_and_frees_only_unsent_keys() {
    let keys = registry(300_000, 1_000);
    let mut core = core_with(keys.clone(), 10, 0);
    let mut out = Vec::new();
    core.submit(0, &mut request("0200", Some(1), 1), 100, false, None, 1)
        .expect("accepted");
    core.take_frames(&mut BytesMut::new());
    core.submit(0, &mut request("0200", Some(2), 2), 100, false, None, 2)
        .expect("accepted");
    assert!(core.go_down(1, "reset".into(), &mut Inbox::default(), &mut out));
    assert!(outcome(&mut out, 1).expect_err("down").is_outcome_unknown());
    assert!(outcome(&mut out, 2).expect_err("down").is_not_sent());
    assert!(!core.go_down(2, "again".into(), &mut Inbox::default(), &mut out) && out.is_empty());
    let mut next = core_with(keys, 10, 0);
    assert!(next
        .submit(3, &mut request("0200", Some(1), 3), 100, false, None, 3)
        .is_err());
    next.submit(3, &mut request("0200", Some(2), 4), 100, false, None, 4)
        .expect("key 2 was never sent");
}

#[test]
fn timeouts_in_a_row_take_the_link_down_and_an_answer_resets_the_count() {
    let mut core = core_with(registry(300_000, 1_000), 10, 2);
    let mut out = Vec::new();
    let mut first = request("0200", Some(1), 1);
    core.submit(0, &mut first, 10, false, None, 1).expect("accepted");
    core.submit(0, &mut request("0200", Some(2), 2), 100, false, None, 2)
        .expect("accepted");
    core.take_frames(&mut BytesMut::new());
    assert_eq!(core.on_time(10, &mut Inbox::default(), &mut out).down, None);
    core.submit(11, &mut request("0200", Some(3), 3), 20, false, None, 3)
        .expect("accepted");
    core.take_frames(&mut BytesMut::new());
    let expired = core.on_time(20, &mut Inbox::default(), &mut out);
    assert!(expired.down.is_some() && core.is_down());
    assert_eq!(out.len(), 3, "every request resolved");
}

#[test]
fn closing_takes_only_the_links_own_requests() {
    let mut core = core();
    let mut inbox = Inbox::default();
    core.begin_close(0, &mut inbox, &mut Vec::new());
    let err = core
        .submit(0, &mut request("0200", None, 1), 10, false, None, 1)
        .expect_err("closing");
    assert!(matches!(err.cause(), Cause::Closing));
    core.submit(0, &mut request("0800", None, 2), 10, true, None, 2)
        .expect("sign-off passes");
}

#[test]
fn idle_time_counts_complete_frames_only() {
    let mut core = core();
    let mut out = Vec::new();
    assert_eq!(core.last_frame_at(), 0);
    core.on_frame(5, Ok(answer(&request("0100", Some(1), 1))), &mut out);
    assert_eq!(core.last_frame_at(), 5);
}

#[test]
fn a_key_stays_unresolved_until_every_written_request_of_its_transaction_is_answered() {
    let mut core = core();
    let mut out = Vec::new();
    let mut reversal = request("0400", Some(6), 3);
    core.submit(0, &mut reversal, 10, false, None, 1).expect("accepted");
    core.take_frames(&mut BytesMut::new());
    core.on_time(10, &mut Inbox::default(), &mut out);
    let mut repeat = reversal.clone();
    repeat.set_mti("0401".parse().expect("mti"));
    core.submit(11, &mut repeat, 20, false, None, 2).expect("the repeat");
    core.take_frames(&mut BytesMut::new());
    core.on_time(20, &mut Inbox::default(), &mut out); // both written, both unanswered
    assert!(matches!(
        core.on_frame(21, Ok(answer(&reversal)), &mut out),
        FrameNote::Late(_)
    ));
    // The host may still answer the other one: the STAN is not handed out again yet.
    let err = core
        .submit(22, &mut request("0200", Some(6), 9), 5_000, false, None, 3)
        .expect_err("still unresolved");
    assert!(matches!(err.cause(), Cause::StanUnresolved { .. }), "{err}");
    for id in 4..50 {
        let accepted = core
            .submit(22, &mut request("0800", None, 0), 5_000, false, None, id)
            .expect("room");
        assert_ne!(accepted.key.stan(), 6, "an assigned STAN skips it too");
    }
}

#[test]
fn an_answer_for_a_request_still_queued_is_not_its_answer() {
    let mut core = core();
    let mut out = Vec::new();
    let mut first = request("0200", Some(42), 1);
    core.submit(0, &mut first, 100, false, None, 1).expect("accepted");
    core.take_frames(&mut BytesMut::new());
    core.on_frame(1, Ok(answer(&first)), &mut out);
    out.clear();
    // STAN 42 reused for another amount; a copy of the first answer arrives before it is written.
    core.submit(2, &mut request("0200", Some(42), 2), 100, false, None, 2)
        .expect("free again");
    let note = core.on_frame(3, Ok(answer(&first)), &mut out);
    assert!(matches!(note, FrameNote::Unmatched(_)) && out.is_empty(), "{note:?}");
    let mut written = BytesMut::new();
    assert!(core.take_frames(&mut written));
    assert_eq!(
        amounts_written(&mut written),
        vec![2],
        "the second request still goes out"
    );
}

#[test]
fn an_undecodable_answer_leaves_its_key_unresolved_and_never_touches_a_queued_request() {
    let mut core = core();
    let mut out = Vec::new();
    let mut req = request("0100", Some(77), 1);
    core.submit(0, &mut req, 100, false, None, 1).expect("accepted");
    let mut wire = spec().encode(&answer(&req)).expect("encodes").to_vec();
    wire.truncate(wire.len() - 1);
    let garbled = || spec().decode(&wire).expect_err("undecodable");
    let note = core.on_frame(1, Err(garbled()), &mut out);
    assert!(
        matches!(
            note,
            FrameNote::Undecodable {
                failed_request: false,
                ..
            }
        ) && out.is_empty()
    );
    core.take_frames(&mut BytesMut::new());
    core.on_frame(2, Err(garbled()), &mut out);
    assert!(outcome(&mut out, 1).expect_err("failed").is_outcome_unknown());
    let err = core
        .submit(3, &mut request("0100", Some(77), 2), 100, false, None, 2)
        .expect_err("its real answer may still come");
    assert!(matches!(err.cause(), Cause::StanUnresolved { .. }), "{err}");
}

#[test]
fn requests_timing_out_in_the_queue_count_toward_taking_the_link_down() {
    let mut core = core_with(registry(300_000, 1_000), 10, 2);
    let mut out = Vec::new();
    core.submit(0, &mut request("0200", None, 1), 10, false, None, 1)
        .expect("accepted");
    core.submit(0, &mut request("0200", None, 2), 10, false, None, 2)
        .expect("accepted");
    // The writer is stuck: nothing is taken; both time out in the queue.
    let expired = core.on_time(10, &mut Inbox::default(), &mut out);
    assert_eq!(expired.not_sent, 2);
    assert!(
        expired.down.is_some() && core.is_down(),
        "a link that carries nothing is dropped"
    );
}

#[test]
fn a_free_stan_is_found_past_a_run_as_long_as_every_key_held() {
    // 1,000 keys in flight on STANs 1..=1000 (the sequence's next values): the search for a
    // free STAN is bounded by the keys held plus one, and that is just enough.
    let keys = registry(300_000, 5_000);
    let mut core = core_with(keys.clone(), 10_000, 0);
    for stan in 1..=1_000 {
        core.submit(
            0,
            &mut request("0200", Some(stan), 1),
            10_000,
            false,
            None,
            u64::from(stan),
        )
        .expect("accepted");
    }
    let mut msg = request("0200", None, 2);
    core.submit(0, &mut msg, 10_000, false, None, 0)
        .expect("a STAN was free");
    assert_eq!(msg.stan(), Some("001001"));
    // Held keys at the cap: refused, not sent, whatever the STAN.
    let full = registry(300_000, 3);
    let mut core = core_with(full, 10_000, 0);
    for waiter in 0..3 {
        core.submit(0, &mut request("0200", None, 1), 10_000, false, None, waiter)
            .expect("accepted");
    }
    let err = core
        .submit(0, &mut request("0200", None, 1), 10_000, false, None, 9)
        .expect_err("no key free");
    assert!(matches!(err, SendError::NotSent(Cause::NoStanFree)));
}

/// Prepares `msg` on `core` at `now` and queues it in `inbox` (request `id`), as a sender does.
fn queue(
    core: &Core,
    inbox: &mut Inbox<u64, u64>,
    now: u64,
    msg: &mut Message,
    deadline: u64,
    id: u64,
) -> super::inbox::Pushed {
    let mut frame = BytesMut::new();
    let prepared = core
        .preparer()
        .prepare(now, msg, deadline, None, false, &mut frame)
        .expect("prepared");
    assert!(inbox.refuses(false).is_none());
    inbox.push(prepared, &frame, deadline, id)
}

/// The timer learns when it runs next from its pass; a push wakes it only when its deadline
/// comes before that (or when the timer sleeps with nothing due).
#[test]
fn a_queued_request_wakes_the_timer_only_when_it_is_due_before_the_timers_next_run() {
    let mut core = core();
    let mut inbox = Inbox::default();
    let mut out = Vec::new();
    let first = queue(&core, &mut inbox, 0, &mut request("0200", None, 1), 100, 1);
    assert!(
        first.wake_writer && first.wake_timer,
        "the timer sleeps with nothing due"
    );
    let second = queue(&core, &mut inbox, 0, &mut request("0200", None, 2), 200, 2);
    assert!(
        !second.wake_writer && !second.wake_timer,
        "behind the first, due after it"
    );
    let third = queue(&core, &mut inbox, 0, &mut request("0200", None, 3), 50, 3);
    assert!(third.wake_timer, "due before the earliest the timer knows of");
    core.on_time(1, &mut inbox, &mut out);
    assert!(
        out.is_empty() && core.in_flight() == 3,
        "the timer's pass takes the inbox in"
    );
    let later = queue(&core, &mut inbox, 1, &mut request("0200", None, 4), 60, 4);
    assert!(!later.wake_timer, "due after the timer's next run (50)");
    let sooner = queue(&core, &mut inbox, 1, &mut request("0200", None, 5), 40, 5);
    assert!(sooner.wake_timer, "due before the timer's next run (50)");
}

/// A request that waits in the inbox past its deadline (the writer never came to take it in) is
/// not sent, its key and room are free again, and it counts toward taking the link down.
#[test]
fn a_request_stuck_in_the_inbox_past_its_deadline_is_not_sent_and_counts_as_a_timeout() {
    let keys = registry(300_000, 1_000_000);
    let mut core = core_with(keys.clone(), 1, 2);
    let mut inbox = Inbox::default();
    let mut out = Vec::new();
    queue(&core, &mut inbox, 0, &mut request("0200", Some(7), 1), 10, 1);
    let err = core
        .preparer()
        .prepare(0, &mut request("0200", None, 2), 10, None, false, &mut BytesMut::new())
        .expect_err("room for one");
    assert!(matches!(err.cause(), Cause::TooManyInFlight { max: 1 }));
    let expired = core.on_time(10, &mut inbox, &mut out);
    assert_eq!((expired.not_sent, expired.unknown), (1, 0));
    let err = outcome(&mut out, 1).expect_err("timed out");
    assert!(err.is_not_sent() && matches!(err.cause(), Cause::Timeout));
    assert_eq!(keys.len(), 0, "its key is free");
    assert_eq!(core.room_used(), 0, "its room is free");
    assert!(!core.take_frames(&mut BytesMut::new()), "its bytes are never written");
    queue(&core, &mut inbox, 10, &mut request("0200", Some(7), 3), 20, 3);
    let expired = core.on_time(20, &mut inbox, &mut out);
    assert!(
        expired.down.is_some(),
        "two timeouts in a row, one of them in the inbox"
    );
}

/// A cancelled request still in the inbox leaves it: not sent, key and room given back, and the
/// writer's next take does not carry it; the others keep their place.
#[test]
fn a_request_cancelled_in_the_inbox_is_never_written() {
    let keys = registry(300_000, 1_000_000);
    let mut core = core_with(keys.clone(), 10, 0);
    let mut inbox = Inbox::default();
    let mut out = Vec::new();
    for id in 1..=3 {
        queue(&core, &mut inbox, 0, &mut request("0200", Some(id as u32), id), 100, id);
    }
    let key = MatchKey::of(&request("0200", Some(2), 2), &[]).expect("key");
    let core_id = 1_000_000; // not the id the registry gave: nothing happens
    core.cancel(1, &key, core_id, &mut inbox, &mut out);
    assert!(out.is_empty());
    // A fresh registry hands out ids in reservation order from 1: the second request has id 2.
    core.cancel(1, &key, 2, &mut inbox, &mut out);
    let err = outcome(&mut out, 2).expect_err("cancelled");
    assert!(err.is_not_sent() && matches!(err.cause(), Cause::Cancelled));
    assert_eq!((keys.len(), core.room_used()), (2, 2));
    core.admit(2, &mut inbox, &mut out);
    let mut buf = BytesMut::new();
    core.take_frames(&mut buf);
    assert_eq!(amounts_written(&mut buf), [1, 3]);
}

/// The link going down refuses what waits in its inbox (not sent, link down, keys and room
/// free) and every later push; a close takes in what was queued before it and refuses callers'
/// requests after it.
#[test]
fn down_and_close_decide_for_the_inbox_too() {
    let keys = registry(300_000, 1_000_000);
    let mut core = core_with(keys.clone(), 10, 0);
    let mut inbox = Inbox::default();
    let mut out = Vec::new();
    queue(&core, &mut inbox, 0, &mut request("0200", Some(1), 1), 100, 1);
    core.begin_close(1, &mut inbox, &mut out);
    assert!(
        out.is_empty() && core.in_flight() == 1,
        "queued before the close: taken in"
    );
    assert!(matches!(inbox.refuses(false), Some(Cause::Closing)));
    assert!(inbox.refuses(true).is_none(), "the link's own sign-off still goes");
    let mut frame = BytesMut::new();
    let mut sign_off = request("0800", None, 2);
    let prepared = core
        .preparer()
        .prepare(1, &mut sign_off, 100, None, true, &mut frame)
        .expect("prepared");
    inbox.push(prepared, &frame, 100, 2);
    assert!(core.go_down(2, "reset".into(), &mut inbox, &mut out));
    let err = outcome(&mut out, 2).expect_err("down");
    assert!(err.is_not_sent() && matches!(err.cause(), Cause::LinkDown(_)));
    assert!(
        outcome(&mut out, 1).expect_err("down").is_not_sent(),
        "never taken by the writer"
    );
    assert_eq!((keys.len(), core.room_used()), (0, 0));
    assert!(matches!(inbox.refuses(true), Some(Cause::LinkDown(_))));
}
