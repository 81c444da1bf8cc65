//! Writes a recording frame by frame, each frame straight to the file, so that a crash or a
//! kill leaves every whole frame readable.

use std::fs::File;
use std::io::Write;
use std::mem;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::error::WriteError;
use super::frame::{encode_frame, FrameHeader, FrameKind, MAX_RAW};
use super::{Header, Trailer, MAGIC, VERSION};
use crate::event::Event;
use crate::session::{Interface, Namespace};

/// Events per frame: enough for zstd to find the repetition between events (docs/BENCHMARKS.md
/// measures the ratio against frame size), few enough that one bad byte costs little.
pub const FRAME_EVENTS: u32 = 4096;
/// Pending events are written at least this often, so a killed recorder loses at most this
/// much (plus what the tracer had not handed over yet).
pub const FRAME_AGE: Duration = Duration::from_secs(1);
/// A frame is written early once its encoded events reach this size (events with many
/// `--skb-fields` values), far below the reader's limit.
const FRAME_BYTES: usize = 4 << 20;
const LEVEL: i32 = 3;

/// Writes a recording: [`Writer::create`] writes the header frame, [`Writer::events`] batches
/// events into frames, [`Writer::finish`] writes the trailer.
pub struct Writer {
    file: File,
    path: PathBuf,
    z: zstd::bulk::Compressor<'static>,
    /// Sequence number of the next frame.
    seq: u32,
    /// Events in the frames written so far.
    written: u64,
    /// Bytes of the whole frames written so far: a failed write is cut back to here.
    whole: u64,
    /// A write failed: nothing more is written (the file ends at its last whole frame).
    failed: bool,
    /// Postcard encoding of the pending events, without the sequence length.
    pending: Vec<u8>,
    pending_count: u32,
    pending_since: Option<Instant>,
    frame_events: u32,
    out: Vec<u8>,
}

impl Writer {
    pub fn create(path: &Path, header: Header) -> Result<Writer, WriteError> {
        let file = File::create(path).map_err(|err| WriteError::Create {
            path: path.to_path_buf(),
            err,
        })?;
        let z = zstd::bulk::Compressor::new(LEVEL).map_err(WriteError::Compress)?;
        let mut w = Writer {
            file,
            path: path.to_path_buf(),
            z,
            seq: 0,
            written: 0,
            whole: 0,
            failed: false,
            pending: Vec::new(),
            pending_count: 0,
            pending_since: None,
            frame_events: FRAME_EVENTS,
            out: Vec::new(),
        };
        w.out.extend_from_slice(MAGIC);
        w.out.extend_from_slice(&VERSION.to_le_bytes());
        w.frame(FrameKind::Header, &header)?;
        Ok(w)
    }

    /// Changes how many events go into one frame (tests and benchmarks).
    pub fn set_frame_events(&mut self, n: u32) {
        self.frame_events = n.max(1);
    }

    /// Adds events; a frame is written whenever [`FRAME_EVENTS`] are pending or the oldest
    /// pending one is [`FRAME_AGE`] old.
    pub fn events(&mut self, events: &[Event]) -> Result<(), WriteError> {
        for e in events {
            self.pending =
                postcard::to_extend(e, mem::take(&mut self.pending)).map_err(WriteError::Encode)?;
            self.pending_count += 1;
            self.pending_since.get_or_insert_with(Instant::now);
            if self.pending_count >= self.frame_events || self.pending.len() >= FRAME_BYTES {
                self.flush()?;
            }
        }
        self.flush_if_due()
    }

    /// Writes the pending events if the oldest is [`FRAME_AGE`] old; call it while idle.
    pub fn flush_if_due(&mut self) -> Result<(), WriteError> {
        if self.pending_since.is_some_and(|t| t.elapsed() >= FRAME_AGE) {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the pending events as one frame now.
    pub fn flush(&mut self) -> Result<(), WriteError> {
        if self.pending_count == 0 {
            return Ok(());
        }
        let count = self.pending_count;
        // The same bytes as postcard's `Vec<Event>`: the length as a varint, then the elements.
        let mut raw = postcard::to_extend(&(count as usize), Vec::with_capacity(10))
            .map_err(WriteError::Encode)?;
        raw.extend_from_slice(&self.pending);
        self.pending.clear();
        self.pending_count = 0;
        self.pending_since = None;
        self.write_frame(FrameKind::Events, count, &raw)
    }

    /// Interface names known at the end, merged into the header's on reading.
    pub fn interfaces(&mut self, list: &[Interface]) -> Result<(), WriteError> {
        self.flush()?;
        self.frame(FrameKind::Interfaces, &list)
    }

    /// Namespace names learned after the header was written (read back into its list).
    pub fn namespaces(&mut self, list: &[Namespace]) -> Result<(), WriteError> {
        self.flush()?;
        self.frame(FrameKind::Namespaces, &list)
    }

    /// Writes the pending events and the trailer, and syncs the file to disk.
    pub fn finish(mut self, trailer: Trailer) -> Result<(), WriteError> {
        self.flush()?;
        self.frame(FrameKind::Trailer, &trailer)?;
        self.file.sync_data().map_err(|err| WriteError::Write {
            path: self.path.clone(),
            err,
        })
    }

    fn frame(&mut self, kind: FrameKind, value: &impl Serialize) -> Result<(), WriteError> {
        let raw = postcard::to_stdvec(value).map_err(WriteError::Encode)?;
        self.write_frame(kind, 0, &raw)
    }

    /// Appends one frame to `out` (which may already hold the file header) and writes it.
    fn write_frame(&mut self, kind: FrameKind, count: u32, raw: &[u8]) -> Result<(), WriteError> {
        if raw.len() > MAX_RAW as usize {
            return Err(WriteError::TooLarge { bytes: raw.len() });
        }
        let header = FrameHeader {
            kind,
            seq: self.seq,
            count,
            first: self.written,
            raw_len: 0,
            stored_len: 0,
            payload_crc: 0,
        };
        if self.failed {
            return Err(WriteError::Stopped);
        }
        encode_frame(&mut self.z, header, raw, &mut self.out).map_err(WriteError::Compress)?;
        let result = self.file.write_all(&self.out);
        let len = self.out.len() as u64;
        self.out.clear();
        if let Err(err) = result {
            // Cut the partial frame off, so the file ends with a whole one and reads back
            // cleanly up to there (truncating needs no space).
            self.failed = true;
            let _ = self.file.set_len(self.whole);
            let path = self.path.clone();
            return Err(if err.kind() == std::io::ErrorKind::StorageFull {
                WriteError::Full {
                    path,
                    events: self.written,
                }
            } else {
                WriteError::Write { path, err }
            });
        }
        self.whole += len;
        self.seq += 1;
        self.written += u64::from(count);
        Ok(())
    }
}

impl Drop for Writer {
    /// A writer dropped on an error path still writes the events it holds.
    fn drop(&mut self) {
        let _ = self.flush();
    }
}
