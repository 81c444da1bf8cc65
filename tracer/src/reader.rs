//! The ring-buffer reader: decodes records and hands them on in batches, so the
//! consumer (the UI or the recorder) never slows the kernel side down.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crossbeam_channel::Sender;
use libbpf_rs::{MapCore, RingBufferBuilder};
use vrft_events::event::Event;

use crate::notes::Pending;
use crate::wire::{self, Record};

/// Events per batch: large enough to amortise channel costs, small enough to keep the UI live.
pub(crate) const BATCH: usize = 4096;

/// How long events may wait in the ring: the UI's refresh granularity.
const POLL: Duration = Duration::from_millis(50);

/// Counts what the reader saw, for the status line and the recording trailer.
#[derive(Default)]
pub struct ReaderStats {
    pub events: AtomicU64,
    /// Records that did not decode (never expected; counted so nothing is lost silently).
    pub malformed: AtomicU64,
}

/// Reads `ring` until `stop` is set and the ring is drained, sending batches on `tx`.
/// `mapped` is told once the ring is mapped (its pages then count in our resident set).
pub fn run(
    ring: &dyn MapCore,
    tx: Sender<Vec<Event>>,
    stop: &AtomicBool,
    stats: Arc<ReaderStats>,
    mapped: std::sync::mpsc::SyncSender<()>,
) -> Result<()> {
    let batch = std::cell::RefCell::new(Vec::with_capacity(BATCH));
    let mut notes = Pending::default();
    let flush = || {
        let mut b = batch.borrow_mut();
        if !b.is_empty() {
            stats.events.fetch_add(b.len() as u64, Ordering::Relaxed);
            // A closed receiver means the consumer is gone; keep draining anyway.
            let _ = tx.send(std::mem::replace(&mut *b, Vec::with_capacity(BATCH)));
        }
    };
    let mut builder = RingBufferBuilder::new();
    builder
        .add(ring, |data: &[u8]| {
            match wire::decode_record(data) {
                Some(Record::Event(mut e)) => {
                    notes.attach(&mut e);
                    let full = {
                        let mut b = batch.borrow_mut();
                        b.push(e);
                        b.len() >= BATCH
                    };
                    // A full batch goes at once: draining a full ring (a UI that lagged)
                    // must not gather it all here (it did: 18-60 MB in one vector).
                    if full {
                        flush();
                    }
                }
                Some(Record::Note(n)) => notes.add(n),
                None => {
                    stats.malformed.fetch_add(1, Ordering::Relaxed);
                }
            }
            0
        })
        .map_err(Error::bpf("reading the ring buffer"))?;
    let rb = builder
        .build()
        .map_err(Error::bpf("reading the ring buffer"))?;
    let _ = mapped.send(());
    loop {
        if stop.load(Ordering::Acquire) {
            // Disarmed: take what is left without waiting, then stop.
            rb.consume()
                .map_err(Error::bpf("reading the ring buffer"))?;
            flush();
            return Ok(());
        }
        // The programs wake this thread only when the ring fills up (see
        // wake_flag() in vrft.bpf.c), so most polls end by timeout: take
        // what is there either way.
        rb.poll(POLL)
            .map_err(Error::bpf("reading the ring buffer"))?;
        rb.consume()
            .map_err(Error::bpf("reading the ring buffer"))?;
        flush();
    }
}
