//! Model-based test of the link core: random event sequences on a fake clock,
//! checked against a model after every step.
//!
//! Events: submit (assigned STAN, reused STAN, the client's own repeat, a
//! deadline already passed), the driver's way in (prepare: room taken, key reserved and frame
//! encoded outside the link, then queued in the inbox; admit: the inbox taken in or refused, any
//! events in between), the writer taking frames, the host answering a
//! request (in flight or late), answering twice, with the wrong MTI or
//! undecodably, time passing, a caller cancelling, the link dropping (a new
//! link then shares the registry) and close beginning.
//!
//! Invariants: every request resolves exactly once; an answer reaches only
//! the request it answers (each carries a unique amount); *not sent* only for
//! requests whose frame was never taken, and their bytes are never written;
//! nothing outlives its resolution; refusals are exactly the model's; the
//! tables stay within their caps.

use std::collections::{HashMap, HashSet};

use bytes::BytesMut;

use super::tests::{amount, amounts_written, answer, core_with, registry, request, spec, Core};
use super::{FrameNote, Inbox, Resolution};
use crate::transport::error::{Cause, SendError};
use crate::Message;

const WINDOW: u64 = 200;
const MAX_IN_FLIGHT: usize = 6;
const MAX_TIMEOUTS: u32 = 3;
const STANS: u32 = 6;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Key {
    InFlight {
        id: u64,
        shadow: Option<(u64, [u8; 4], u64, u32)>,
    },
    Unresolved {
        id: u64,
        until: u64,
        mti: [u8; 4],
        /// Written requests of the transaction whose answers may still come.
        outstanding: u32,
    },
}

#[derive(Debug)]
struct Req {
    msg: Message,
    stan: u32,
    gen: u32,
    /// The id the registry handed out (the core's).
    core_id: u64,
    /// In the inbox, not admitted yet.
    queued: bool,
    taken: bool,
    pending: bool,
    /// When it ended with an unknown outcome (the host may still answer until the window ends).
    unknown_at: Option<u64>,
    host_answered: bool,
    deadline: u64,
}

struct World {
    rng: fastrand::Rng,
    now: u64,
    gen: u32,
    closing: bool,
    core: Core,
    keys: std::sync::Arc<super::keys::KeyRegistry<u64>>,
    reqs: HashMap<u64, Req>,
    key_state: HashMap<u32, Key>,
    resolved: HashSet<u64>,
    next_amount: u64,
    timeouts_in_a_row: u32,
    last_answer: Option<Message>,
    /// Requests prepared (room taken, key reserved, frame encoded) and queued, not yet admitted
    /// by the link: the driver's way in, with other events in between.
    inbox: Inbox<u64, u64>,
    /// Their ids, in the inbox's order.
    queued: Vec<u64>,
    trace: Vec<String>,
}

fn original(mti: [u8; 4]) -> [u8; 4] {
    let mut o = mti;
    if matches!(o[3], b'1' | b'3' | b'5') {
        o[3] -= 1;
    }
    o
}

impl World {
    fn new(seed: u64) -> World {
        let keys = registry(WINDOW, 1_000_000);
        World {
            rng: fastrand::Rng::with_seed(seed),
            now: 0,
            gen: 0,
            closing: false,
            core: core_with(keys.clone(), MAX_IN_FLIGHT, MAX_TIMEOUTS),
            keys,
            reqs: HashMap::new(),
            key_state: HashMap::new(),
            resolved: HashSet::new(),
            next_amount: 1,
            timeouts_in_a_row: 0,
            last_answer: None,
            inbox: Inbox::default(),
            queued: Vec::new(),
            trace: Vec::new(),
        }
    }

    fn fail(&self, what: &str) -> ! {
        panic!("{what}\ntrace:\n{}", self.trace.join("\n"));
    }

    fn key_now(&mut self, stan: u32) -> Option<Key> {
        let now = self.now;
        match self.key_state.get(&stan) {
            Some(Key::Unresolved { until, .. }) if *until <= now => {
                self.key_state.remove(&stan);
                None
            }
            other => other.copied(),
        }
    }

    /// Callers' requests the link holds (in its tables, or queued in its inbox): its room used.
    fn pending_callers(&self) -> usize {
        self.reqs.values().filter(|r| r.pending && r.gen == self.gen).count()
    }

    /// Callers' requests in the link's tables (admitted).
    fn admitted_callers(&self) -> usize {
        self.reqs
            .values()
            .filter(|r| r.pending && !r.queued && r.gen == self.gen)
            .count()
    }

    /// The model's side of a request ending: key state and bookkeeping.
    fn model_end(&mut self, id: u64, outcome: &Result<Message, SendError>) {
        let now = self.now;
        let Some(req) = self.reqs.get_mut(&id) else {
            return;
        };
        req.pending = false;
        let stan = req.stan;
        let mti = *req.msg.mti().as_bytes();
        let unknown = matches!(outcome, Err(SendError::OutcomeUnknown(_)));
        if unknown {
            req.unknown_at = Some(now);
        }
        match self.key_state.get(&stan).copied() {
            Some(Key::InFlight { id: holder, shadow }) if holder == id => {
                if unknown {
                    let earlier = shadow.filter(|s| s.0 > now).map_or(0, |s| s.3);
                    self.key_state.insert(
                        stan,
                        Key::Unresolved {
                            id,
                            until: now + WINDOW,
                            mti,
                            outstanding: earlier + 1,
                        },
                    );
                } else {
                    match shadow {
                        Some((until, smti, original, outstanding)) if until > now => {
                            self.key_state.insert(
                                stan,
                                Key::Unresolved {
                                    id: original,
                                    until,
                                    mti: smti,
                                    outstanding,
                                },
                            );
                        }
                        _ => {
                            self.key_state.remove(&stan);
                        }
                    }
                }
            }
            _ => self.fail(&format!("request {id} ended but the model's key {stan} is not its own")),
        }
    }

    /// Checks the resolutions the core handed out and applies them to the model.
    fn settle(&mut self, out: &mut Vec<Resolution<u64>>) {
        for (id, outcome) in std::mem::take(out) {
            if !self.resolved.insert(id) {
                self.fail(&format!("request {id} resolved twice"));
            }
            let Some(req) = self.reqs.get(&id) else {
                self.fail(&format!("resolution for unknown request {id}"));
            };
            if !req.pending {
                self.fail(&format!("request {id} resolved but the model had it ended"));
            }
            match &outcome {
                Ok(answer) => {
                    // Only a repeat may be answered before it is written: by its original's answer.
                    if !req.taken && !req.msg.mti().is_repeat() {
                        self.fail(&format!("request {id} answered but never written"));
                    }
                    if amount(answer) != amount(&req.msg) {
                        self.fail(&format!(
                            "request {id} (amount {}) got the answer for amount {}",
                            amount(&req.msg),
                            amount(answer)
                        ));
                    }
                }
                Err(SendError::NotSent(_)) if req.taken => self.fail(&format!("request {id}: not sent but written")),
                Err(SendError::OutcomeUnknown(_)) if !req.taken => {
                    self.fail(&format!("request {id}: outcome unknown but never written"))
                }
                Err(_) => {}
            }
            self.trace.push(format!(
                "  resolved {id}: {}",
                match &outcome {
                    Ok(_) => "answered".to_string(),
                    Err(e) => e.to_string(),
                }
            ));
            self.model_end(id, &outcome);
        }
    }

    /// A new request: a repeat of one whose outcome is unknown, or a 0100/0200/0400 with an
    /// assigned or reused STAN, and its deadline (sometimes already passed).
    fn new_request(&mut self) -> (Message, Option<u32>, u64, u64) {
        let amount = self.next_amount;
        self.next_amount += 1;
        let roll = self.rng.u8(0..10);
        // A repeat of a request whose outcome is unknown (same STAN, same data).
        let repeat_of = if roll == 0 {
            // The request that holds its key unresolved (the transaction's latest message).
            let held: Vec<u64> = self
                .key_state
                .values()
                .filter_map(|k| match k {
                    Key::Unresolved { id, until, .. } if *until > self.now => Some(*id),
                    _ => None,
                })
                .collect();
            held.iter()
                .min()
                .and_then(|id| self.reqs.get(id))
                .filter(|r| r.msg.mti().repeat().is_some())
                .map(|r| r.msg.clone())
        } else {
            None
        };
        let (msg, stan) = match repeat_of {
            Some(orig) => {
                let mut m = orig.clone();
                m.set_mti(orig.mti().repeat().expect("has a repeat"));
                let stan = m.stan().and_then(|s| s.parse().ok()).unwrap_or(0);
                (m, Some(stan))
            }
            None => {
                let mti = ["0100", "0200", "0400"][self.rng.usize(0..3)];
                let stan = (roll < 6).then(|| self.rng.u32(1..=STANS));
                (request(mti, stan, amount), stan)
            }
        };
        let deadline = if self.rng.u8(0..20) == 0 {
            self.now
        } else {
            self.now + self.rng.u64(1..60)
        };
        let id_hint = 1_000_000 + amount;
        (msg, stan, deadline, id_hint)
    }

    /// The refusal the model expects when the link takes a request in now (down, closing,
    /// deadline passed).
    fn link_refusal(&self, deadline: u64) -> Result<(), &'static str> {
        if self.core.is_down() {
            Err("down")
        } else if self.closing {
            Err("closing")
        } else if deadline <= self.now {
            Err("timeout")
        } else {
            Ok(())
        }
    }

    /// The refusal the model expects when a request is prepared now (deadline passed, full).
    fn prepare_refusal(&self, deadline: u64) -> Result<(), &'static str> {
        if deadline <= self.now {
            Err("timeout")
        } else if self.pending_callers() >= MAX_IN_FLIGHT {
            Err("full")
        } else {
            Ok(())
        }
    }

    /// A request the link took (`queued`: into its inbox): pending, not yet written.
    fn track(&mut self, id: u64, core_id: u64, msg: Message, stan: u32, deadline: u64, queued: bool) {
        self.reqs.insert(
            id,
            Req {
                msg,
                stan,
                gen: self.gen,
                core_id,
                queued,
                taken: false,
                pending: true,
                unknown_at: None,
                host_answered: false,
                deadline,
            },
        );
    }

    /// The key refusal the model expects for `msg` (STAN `stan`) now, if any.
    fn key_refusal(&mut self, msg: &Message, stan: Option<u32>) -> Result<(), &'static str> {
        match stan.map(|s| (s, self.key_now(s))) {
            Some((_, Some(Key::InFlight { .. }))) => Err("in use"),
            Some((_, Some(Key::Unresolved { mti, .. }))) => {
                let m = *msg.mti().as_bytes();
                if msg.mti().is_repeat() && original(m) == original(mti) {
                    Ok(())
                } else {
                    Err("unresolved")
                }
            }
            _ => Ok(()),
        }
    }

    /// The shadow an accepted request takes over for `stan` (the model's key state).
    fn take_key(&mut self, stan: u32, id: u64) {
        let shadow = match self.key_now(stan) {
            Some(Key::Unresolved {
                until,
                mti,
                id,
                outstanding,
            }) => Some((until, mti, id, outstanding)),
            None => None,
            Some(k) => self.fail(&format!("accepted over a key in flight {k:?}")),
        };
        self.key_state.insert(stan, Key::InFlight { id, shadow });
    }

    /// Checks a refusal's cause against the model's reason.
    fn check_refusal(&self, why: &str, err: &SendError) {
        if !err.is_not_sent() {
            self.fail("a refusal must be not sent");
        }
        let matches = match why {
            "down" => matches!(err.cause(), Cause::LinkDown(_)),
            "closing" => matches!(err.cause(), Cause::Closing),
            "timeout" => matches!(err.cause(), Cause::Timeout),
            "full" => matches!(err.cause(), Cause::TooManyInFlight { .. }),
            "in use" => matches!(err.cause(), Cause::StanInUse { .. }),
            "unresolved" => matches!(err.cause(), Cause::StanUnresolved { .. }),
            _ => false,
        };
        if !matches {
            self.fail(&format!("expected refusal {why}, got {err}"));
        }
    }

    /// The driver's way in, step one: take room, reserve and encode outside the link, and
    /// queue in the inbox.
    fn prepare(&mut self) {
        let (mut msg, stan, deadline, id_hint) = self.new_request();
        let expected = self
            .prepare_refusal(deadline)
            .and_then(|()| self.key_refusal(&msg, stan));
        let mut frame = BytesMut::new();
        let result = self
            .core
            .preparer()
            .prepare(self.now, &mut msg, deadline, None, false, &mut frame);
        self.trace.push(format!(
            "t={} prepare {} stan={:?} amount={} deadline={} -> {:?}",
            self.now,
            msg.mti(),
            stan,
            amount(&msg),
            deadline,
            result.as_ref().map(|_| id_hint).map_err(|e| e.to_string())
        ));
        match (expected, result) {
            (Ok(()), Ok(prepared)) => {
                let Some(got) = msg.stan().and_then(|s| s.parse::<u32>().ok()) else {
                    self.fail("a prepared request has no STAN");
                };
                let core_id = prepared.id();
                match self.inbox.refuses(false) {
                    None if !self.closing => {
                        self.inbox.push(prepared, &frame, deadline, id_hint);
                        self.take_key(got, id_hint);
                        self.track(id_hint, core_id, msg, got, deadline, true);
                        self.queued.push(id_hint);
                    }
                    // Refused at once: the key and room go back, and the STAN it was given.
                    Some(Cause::Closing) if self.closing => {
                        self.core.preparer().undo(self.now, prepared, &mut msg);
                        if stan.is_none() && msg.get(11).is_some() {
                            self.fail("a refused request keeps the STAN the registry filled in");
                        }
                    }
                    None => self.fail("the inbox of a closing link took a caller's request"),
                    Some(cause) => self.fail(&format!("the inbox of a link that is up refused ({cause})")),
                }
            }
            (Err(why), Err(err)) => {
                self.check_refusal(why, &err);
                if stan.is_none() && msg.get(11).is_some() {
                    self.fail("a refused request keeps the STAN the registry filled in");
                }
            }
            (Ok(()), Err(err)) => self.fail(&format!("expected a prepared request, got {err}")),
            (Err(why), Ok(_)) => self.fail(&format!("expected refusal ({why}), got a prepared request")),
        }
    }

    /// The model's side of the link taking in its inbox (the writer's admission, or the
    /// timer's): each queued request in order is taken or refused; returns the refusals expected
    /// (id, reason), in order, and how many of them are timeouts.
    fn model_admit(&mut self) -> (Vec<(u64, &'static str)>, u32) {
        let mut refused = Vec::new();
        let mut timeouts = 0;
        for id in std::mem::take(&mut self.queued) {
            let deadline = self.reqs[&id].deadline;
            match self.link_refusal(deadline) {
                Ok(()) => self.reqs.get_mut(&id).expect("known").queued = false,
                Err(why) => {
                    timeouts += u32::from(why == "timeout");
                    refused.push((id, why));
                }
            }
        }
        (refused, timeouts)
    }

    /// Checks the refusals of an admission against the model's, in order.
    fn check_admission_refusals(&self, expected: &[(u64, &'static str)], out: &[Resolution<u64>]) {
        let got: Vec<u64> = out.iter().map(|(id, _)| *id).collect();
        let want: Vec<u64> = expected.iter().map(|(id, _)| *id).collect();
        if got != want {
            self.fail(&format!("admission refused {got:?}, model expected {want:?}"));
        }
        for ((_, why), (_, outcome)) in expected.iter().zip(out) {
            match outcome {
                Err(err) => self.check_refusal(why, err),
                Ok(_) => self.fail("an admission refusal is an answer"),
            }
        }
    }

    /// The driver's way in, step two: the writer takes the inbox in, under the link's lock.
    fn admit(&mut self) {
        let (expected, timeouts) = self.model_admit();
        let mut out = Vec::new();
        let admitted = self.core.admit(self.now, &mut self.inbox, &mut out);
        self.trace.push(format!(
            "t={} admit -> {admitted:?}, refused {:?}",
            self.now,
            out.iter().map(|(id, _)| *id).collect::<Vec<_>>()
        ));
        if admitted.timed_out != timeouts as usize {
            self.fail("admission timeouts differ from the model's");
        }
        self.timeouts_in_a_row += timeouts;
        self.check_admission_refusals(&expected, &out);
        self.settle(&mut out);
    }

    fn submit(&mut self) {
        let (mut msg, stan, deadline, id_hint) = self.new_request();
        let amount = amount(&msg);
        // What the model expects.
        let expected = self
            .link_refusal(deadline)
            .and_then(|()| self.prepare_refusal(deadline))
            .and_then(|()| self.key_refusal(&msg, stan));
        let result = self.core.submit(self.now, &mut msg, deadline, false, None, id_hint);
        self.trace.push(format!(
            "t={} submit {} stan={:?} amount={} deadline={} -> {:?}",
            self.now,
            msg.mti(),
            stan,
            amount,
            deadline,
            result.as_ref().map(|a| a.id).map_err(|e| e.to_string())
        ));
        match (expected, result) {
            (Ok(()), Ok(accepted)) => {
                let stan = accepted.key.stan();
                // The model's ids are the waiter values; remember the core's id too.
                self.take_key(stan, id_hint);
                self.track(id_hint, accepted.id, msg, stan, deadline, false);
            }
            (Err(why), Err(err)) => self.check_refusal(why, &err),
            (Ok(()), Err(err)) => self.fail(&format!("expected acceptance, got {err}")),
            (Err(why), Ok(_)) => self.fail(&format!("expected refusal ({why}), got acceptance")),
        }
    }

    fn take(&mut self) {
        let mut buf = BytesMut::new();
        let took = self.core.take_frames(&mut buf);
        let mut expected: Vec<u64> = self
            .reqs
            .values()
            .filter(|r| r.pending && !r.taken && !r.queued && r.gen == self.gen)
            .map(|r| amount(&r.msg))
            .collect();
        let mut written = amounts_written(&mut buf);
        expected.sort_unstable();
        written.sort_unstable();
        self.trace.push(format!("t={} take -> {written:?}", self.now));
        if written != expected {
            self.fail(&format!("writer took {written:?}, expected {expected:?}"));
        }
        if took == expected.is_empty() {
            self.fail("take_frames said the wrong thing");
        }
        let gen = self.gen;
        for r in self
            .reqs
            .values_mut()
            .filter(|r| r.pending && !r.queued && r.gen == gen)
        {
            r.taken = true;
        }
    }

    /// Requests the host may answer: written on this link, not answered yet,
    /// and still waiting or inside their late window.
    fn answerable(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .reqs
            .iter()
            .filter(|(_, r)| {
                r.gen == self.gen
                    && r.taken
                    && !r.host_answered
                    && (r.pending || r.unknown_at.is_some_and(|t| self.now < t + WINDOW))
            })
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids
    }

    fn host_answers(&mut self, how: u8) {
        let ids = self.answerable();
        if ids.is_empty() {
            return;
        }
        let id = ids[self.rng.usize(0..ids.len())];
        let req_msg = self.reqs[&id].msg.clone();
        let mut out = Vec::new();
        let now = self.now;
        match how {
            // Wrong MTI: must pair with nobody.
            0 => {
                let mut wrong = answer(&req_msg);
                wrong.set_mti("0830".parse().expect("mti"));
                let note = self.core.on_frame(now, Ok(wrong), &mut out);
                self.trace
                    .push(format!("t={now} wrong-MTI answer for {id} -> {note:?}"));
                if !out.is_empty() {
                    self.fail("a wrong-MTI answer was delivered");
                }
            }
            // Undecodable, key readable.
            1 => {
                let mut wire = spec().encode(&answer(&req_msg)).expect("encodes").to_vec();
                wire.truncate(wire.len() - 1);
                let err = spec().decode(&wire).expect_err("undecodable");
                let note = self.core.on_frame(now, Err(err), &mut out);
                self.trace
                    .push(format!("t={now} undecodable answer for {id} -> {note:?}"));
                self.reqs.get_mut(&id).expect("known").host_answered = true;
                self.after_answer(&mut out, true);
            }
            _ => {
                // Up to four answers in one read (one call, as the reader hands them over), to
                // the chosen request and others, in a random order.
                let mut batch = vec![id];
                if self.rng.bool() {
                    let mut others: Vec<u64> = ids.iter().copied().filter(|o| *o != id).collect();
                    self.rng.shuffle(&mut others);
                    batch.extend(others.into_iter().take(self.rng.usize(1..=3)));
                }
                let mut replies: Vec<Message> = batch.iter().map(|b| answer(&self.reqs[b].msg)).collect();
                // Now and then a wrong-MTI copy of one of them among them: it pairs with nobody,
                // whatever the answers around it freed.
                let wrong_at = self.rng.bool().then(|| self.rng.usize(0..=replies.len()));
                if let Some(at) = wrong_at {
                    let mut wrong = replies[self.rng.usize(0..replies.len())].clone();
                    wrong.set_mti("0830".parse().expect("mti"));
                    replies.insert(at, wrong);
                }
                let mut notes = Vec::new();
                self.core
                    .on_frames(now, replies.iter().cloned().map(Ok), &mut notes, &mut out);
                if notes.len() != replies.len() {
                    self.fail("a note per frame");
                }
                if let Some(at) = wrong_at {
                    let note = notes.remove(at);
                    self.trace
                        .push(format!("t={now} wrong-MTI frame in the read -> {note:?}"));
                    if matches!(note, FrameNote::Answered) {
                        self.fail("a wrong-MTI frame was taken as an answer");
                    }
                    replies.remove(at);
                }
                // The model follows the frames one by one, each answer's resolution (they come in
                // frame order) before the next frame.
                let mut resolutions = out.drain(..);
                for (id, note) in batch.iter().zip(&notes) {
                    self.trace.push(format!("t={now} answer for {id} -> {note:?}"));
                    self.reqs.get_mut(id).expect("known").host_answered = true;
                    // A late answer frees the key it held (same link, same holder).
                    if matches!(note, FrameNote::Late(_)) {
                        let stan = self.reqs[id].stan;
                        // One of the transaction's written requests is answered: free when none is left.
                        match self.key_state.get_mut(&stan) {
                            Some(Key::Unresolved { outstanding, .. }) => {
                                if *outstanding > 1 {
                                    *outstanding -= 1;
                                } else {
                                    self.key_state.remove(&stan);
                                }
                            }
                            // A repeat holds the key meanwhile: the answer counts in the window
                            // it took over (which comes back when the repeat ends).
                            Some(Key::InFlight { shadow, .. }) => {
                                if let Some(taken) = shadow.as_mut() {
                                    if taken.3 > 1 {
                                        taken.3 -= 1;
                                    } else {
                                        *shadow = None;
                                    }
                                }
                            }
                            None => {}
                        }
                    }
                    let mut one: Vec<Resolution<u64>> = Vec::new();
                    if matches!(note, FrameNote::Answered) {
                        one.extend(resolutions.next());
                    }
                    self.after_answer(&mut one, false);
                }
                if resolutions.next().is_some() {
                    self.fail("a resolution with no answer behind it");
                }
                self.last_answer = replies.last().cloned();
            }
        }
    }

    fn after_answer(&mut self, out: &mut Vec<Resolution<u64>>, decode: bool) {
        if out.iter().any(|(_, o)| o.is_ok()) && !decode {
            self.timeouts_in_a_row = 0;
        }
        self.settle(out);
    }

    fn duplicate(&mut self) {
        // Sent again only while its key is free.
        let Some(reply) = self.last_answer.clone() else {
            return;
        };
        let stan: u32 = reply.stan().and_then(|s| s.parse().ok()).unwrap_or(0);
        // (A copy arriving once the key is held again, in flight or unresolved, cannot be
        // told from that request's answer by any key-based pairing.)
        if self.key_now(stan).is_some() {
            return;
        }
        let mut out = Vec::new();
        let note = self.core.on_frame(self.now, Ok(reply), &mut out);
        self.trace.push(format!("t={} duplicate -> {note:?}", self.now));
        if !out.is_empty() {
            self.fail("a duplicate answer was delivered");
        }
    }

    fn advance(&mut self) {
        self.now += self.rng.u64(0..40);
        let now = self.now;
        // The timer takes the inbox in first (as the writer would), then looks at deadlines.
        let (refused, admit_timeouts) = self.model_admit();
        // The model's view of what times out, in deadline order (ties: any).
        let mut due: Vec<(u64, bool)> = self
            .reqs
            .values()
            .filter(|r| r.pending && !r.queued && r.gen == self.gen && r.deadline <= now)
            .map(|r| (r.deadline, r.taken))
            .collect();
        due.sort_unstable();
        let mut out = Vec::new();
        let expired = self.core.on_time(now, &mut self.inbox, &mut out);
        self.trace.push(format!("t={now} time -> {expired:?}"));
        let unknown = due.iter().filter(|(_, taken)| *taken).count();
        let not_sent = due.len() - unknown + admit_timeouts as usize;
        if (expired.unknown, expired.not_sent) != (unknown, not_sent) {
            self.fail(&format!(
                "expired {expired:?}, model expected {unknown} unknown and {not_sent} not sent"
            ));
        }
        self.check_admission_refusals(&refused, out.get(..refused.len()).unwrap_or_default());
        self.timeouts_in_a_row += due.len() as u32 + admit_timeouts;
        let must_go_down = self.timeouts_in_a_row >= MAX_TIMEOUTS;
        if expired.down.is_some() != must_go_down {
            self.fail(&format!("down {:?}, model expected {must_go_down}", expired.down));
        }
        self.settle(&mut out);
        if self
            .reqs
            .values()
            .any(|r| r.pending && r.gen == self.gen && r.deadline <= now)
        {
            self.fail("a request outlived its deadline");
        }
        if expired.down.is_some() {
            self.relink();
        }
    }

    fn cancel(&mut self) {
        let mut ids: Vec<u64> = self
            .reqs
            .iter()
            .filter(|(_, r)| r.pending && r.gen == self.gen)
            .map(|(id, _)| *id)
            .collect();
        if ids.is_empty() {
            return;
        }
        ids.sort_unstable();
        let id = ids[self.rng.usize(0..ids.len())];
        let req = &self.reqs[&id];
        let key = crate::transport::MatchKey::of(&req.msg, &[]).expect("key");
        let (core_id, queued) = (req.core_id, req.queued);
        if !queued && self.core.id_of(&key) != Some(core_id) {
            self.fail("a request in the link's tables under another id");
        }
        let mut out = Vec::new();
        self.core.cancel(self.now, &key, core_id, &mut self.inbox, &mut out);
        self.trace
            .push(format!("t={} cancel {id} (queued: {queued})", self.now));
        if out.len() != 1 || out[0].0 != id {
            self.fail("a cancel resolves exactly its request");
        }
        if queued {
            self.queued.retain(|q| *q != id);
            if !matches!(&out[0].1, Err(SendError::NotSent(Cause::Cancelled))) {
                self.fail("a request cancelled in the inbox is not sent (cancelled)");
            }
        }
        self.settle(&mut out);
    }

    fn link_down(&mut self) {
        let mut out = Vec::new();
        let changed = self.core.go_down(self.now, "reset".into(), &mut self.inbox, &mut out);
        self.trace.push(format!("t={} link down -> {changed}", self.now));
        if out.len() != self.pending_callers() {
            self.fail("link down resolves every request");
        }
        self.queued.clear();
        self.settle(&mut out);
        self.relink();
    }

    fn relink(&mut self) {
        // The inbox of the link that went down takes nothing more.
        let mut frame = BytesMut::new();
        let mut late = request("0200", None, 0);
        let prepared = self
            .core
            .preparer()
            .prepare(self.now, &mut late, self.now + 10, None, false, &mut frame);
        if let Ok(prepared) = prepared {
            if !matches!(self.inbox.refuses(true), Some(Cause::LinkDown(_))) {
                self.fail("the inbox of a link that went down takes requests");
            }
            self.core.preparer().undo(self.now, prepared, &mut late);
        }
        if !self.inbox.is_empty() || !self.queued.is_empty() {
            self.fail("requests left in the inbox of a link that went down");
        }
        self.inbox = Inbox::default();
        self.gen += 1;
        self.closing = false;
        self.timeouts_in_a_row = 0;
        self.core = core_with(self.keys.clone(), MAX_IN_FLIGHT, MAX_TIMEOUTS);
    }

    /// Close begins: what is in the inbox came before it and is taken in first.
    fn close(&mut self) {
        let (expected, timeouts) = self.model_admit();
        let mut out = Vec::new();
        let admitted = self.core.begin_close(self.now, &mut self.inbox, &mut out);
        self.trace.push(format!("t={} close -> {admitted:?}", self.now));
        self.timeouts_in_a_row += timeouts;
        self.check_admission_refusals(&expected, &out);
        self.settle(&mut out);
        self.closing = !self.core.is_down();
    }

    fn check(&mut self) {
        let (pending, deadlines, late, live) = self.core.table_sizes();
        let model_pending = self.admitted_callers();
        if self.core.room_used() != self.pending_callers() {
            self.fail(&format!(
                "room used {}, model {} requests held",
                self.core.room_used(),
                self.pending_callers()
            ));
        }
        if self.inbox.len() != self.queued.len() {
            self.fail("the inbox holds other requests than the model's");
        }
        if pending != model_pending || deadlines < pending || deadlines > 2 * pending + 66 {
            self.fail(&format!(
                "core holds {pending} requests / {deadlines} deadlines, model {model_pending}"
            ));
        }
        let untaken = self
            .reqs
            .values()
            .filter(|r| r.pending && !r.taken && !r.queued && r.gen == self.gen)
            .count();
        if live != untaken {
            self.fail(&format!("outbox holds {live} frames, model {untaken} untaken requests"));
        }
        if late > 4096 || pending > MAX_IN_FLIGHT {
            self.fail("tables over their caps");
        }
        // Registry agrees with the model on every STAN it tracks.
        for stan in 1..=STANS {
            let model = self.key_now(stan).is_some();
            let key = crate::transport::MatchKey::of(&request("0100", Some(stan), 0), &[]).expect("key");
            if self.keys.holds(self.now, &key) != model {
                self.fail(&format!("registry and model disagree on STAN {stan}"));
            }
        }
    }

    fn step(&mut self) {
        match self.rng.u8(0..100) {
            0..=21 => self.submit(),
            22..=29 => self.prepare(),
            30..=44 => self.take(),
            45..=64 => {
                let how = self.rng.u8(0..10);
                self.host_answers(how)
            }
            65..=69 => self.duplicate(),
            70..=80 => self.advance(),
            81..=86 => self.admit(),
            87..=92 => self.cancel(),
            93..=95 => self.link_down(),
            96..=97 => self.close(),
            _ => {
                // A caller's answer comes back on a link that lost it: unknown key, delivered to nobody.
                let mut out = Vec::new();
                let stray = answer(&request("0100", Some(999_000), 0));
                self.core.on_frame(self.now, Ok(stray), &mut out);
                if !out.is_empty() {
                    self.fail("an unknown answer was delivered");
                }
            }
        }
        self.check();
    }
}

#[test]
fn random_event_sequences_keep_every_promise() {
    let sequences: u64 = std::env::var("CORE_MODEL_SEQUENCES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let seed0 = std::env::var("CORE_MODEL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    for n in 0..sequences {
        let seed = seed0.wrapping_add(n);
        let mut world = World::new(seed);
        world.trace.push(format!("seed {seed}"));
        for _ in 0..40 {
            world.step();
        }
        // At the end every request is resolved once the link drops.
        world.link_down();
        if world.resolved.len() != world.reqs.len() {
            world.fail("a request was never resolved");
        }
    }
}
