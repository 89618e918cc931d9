//! Frames waiting for the writer, in order, each one cut out while untaken.

use std::collections::VecDeque;

use bytes::BytesMut;

/// One frame in the outbox: where it ends in the buffer, and whether it still goes out.
#[derive(Debug, Clone, Copy)]
struct Queued {
    seq: u64,
    end: usize,
    live: bool,
}

/// The frames queued for the writer. A frame whose request ended before the
/// writer took it (deadline, cancellation) is cut out: its bytes are never
/// written. Taking swaps buffers when nothing was cut (no copy).
#[derive(Debug)]
pub(super) struct Outbox {
    buf: BytesMut,
    frames: VecDeque<Queued>,
    cut: usize,
}

impl Outbox {
    pub(super) fn new() -> Outbox {
        Outbox {
            buf: BytesMut::with_capacity(16 * 1024),
            frames: VecDeque::new(),
            cut: 0,
        }
    }

    /// Appends the frame `write` puts in the buffer as number `seq`; on error
    /// nothing of it stays.
    pub(super) fn push<E>(&mut self, seq: u64, write: impl FnOnce(&mut BytesMut) -> Result<(), E>) -> Result<(), E> {
        let start = self.buf.len();
        match write(&mut self.buf) {
            Ok(()) => {
                self.frames.push_back(Queued {
                    seq,
                    end: self.buf.len(),
                    live: true,
                });
                Ok(())
            }
            Err(e) => {
                self.buf.truncate(start);
                Err(e)
            }
        }
    }

    /// Cuts frame `seq` out if it is still queued; true if it was.
    pub(super) fn cut(&mut self, seq: u64) -> bool {
        let Ok(at) = self.frames.binary_search_by_key(&seq, |q| q.seq) else {
            return false;
        };
        match self.frames.get_mut(at) {
            Some(q) if q.live => {
                q.live = false;
                self.cut += 1;
                true
            }
            _ => false,
        }
    }

    /// Moves every live frame into `into` (emptied first); the sequence number
    /// of the last frame queued, `None` if nothing was queued.
    pub(super) fn take(&mut self, into: &mut BytesMut) -> Option<u64> {
        let last = self.frames.back()?.seq;
        into.clear();
        if self.cut == 0 {
            std::mem::swap(&mut self.buf, into);
        } else {
            let mut start = 0;
            for q in &self.frames {
                if q.live {
                    into.extend_from_slice(self.buf.get(start..q.end).unwrap_or_default());
                }
                start = q.end;
            }
            self.buf.clear();
        }
        self.frames.clear();
        self.cut = 0;
        Some(last)
    }

    /// Drops every queued frame (the link went down).
    pub(super) fn clear(&mut self) {
        self.buf.clear();
        self.frames.clear();
        self.cut = 0;
    }

    /// True if no frame is queued (cut frames count as queued until taken).
    pub(super) fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Bytes queued (cut frames included until taken).
    pub(super) fn bytes(&self) -> usize {
        self.buf.len()
    }

    /// Live frames queued.
    #[cfg(test)]
    pub(super) fn live_frames(&self) -> usize {
        self.frames.len() - self.cut
    }
}
