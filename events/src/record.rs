//! Recordings: a versioned, compact file of one trace session.
//!
//! Layout: the magic `VRFTREC\0`, a little-endian u32 format version, then a
//! zstd stream of frames, each a little-endian u32 length and a postcard-encoded
//! [`Frame`]: one `Header`, any number of `Events` batches, and a `Trailer`
//! with the loss counters. A recording cut short (power loss, kill -9) still
//! reads up to its last whole frame, and says it has no trailer.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::event::Event;
use crate::session::{Interface, SessionInfo, Stats};

const MAGIC: &[u8; 8] = b"VRFTREC\0";
/// 2: events carry flows and `--skb-fields` values; the session lists the field names.
/// 3: the contract crate: backend and probe origins are enums, every loss counter in `Stats`.
pub const VERSION: u32 = 3;

/// Facts known when recording starts.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Header {
    pub info: SessionInfo,
    /// One line: which backend and why.
    pub backend_reason: String,
    /// Wall clock at the start, nanoseconds since the Unix epoch.
    pub started_unix_ns: u64,
}

/// Facts known when recording ends.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Trailer {
    pub stats: Stats,
    pub duration_ns: u64,
}

#[derive(Deserialize)]
enum Frame {
    Header(Header),
    Events(Vec<Event>),
    Trailer(Trailer),
    /// Interfaces listed at the end (namespaces made while recording have them too).
    Interfaces(Vec<Interface>),
}

/// The writing side of [`Frame`]: same variants in the same order, so the same
/// encoding, but borrowing so that event batches are not copied.
#[derive(Serialize)]
enum FrameRef<'a> {
    Header(&'a Header),
    Events(&'a [Event]),
    Trailer(&'a Trailer),
    Interfaces(&'a [Interface]),
}

/// Writes a recording frame by frame, so that a crash leaves a readable prefix.
pub struct Writer {
    out: zstd::stream::AutoFinishEncoder<'static, BufWriter<File>>,
    buf: Vec<u8>,
}

impl Writer {
    pub fn create(path: &Path, header: Header) -> Result<Writer> {
        let mut file = BufWriter::new(
            File::create(path)
                .with_context(|| format!("cannot create the recording {}", path.display()))?,
        );
        file.write_all(MAGIC)?;
        file.write_all(&VERSION.to_le_bytes())?;
        let out = zstd::stream::Encoder::new(file, 3)?.auto_finish();
        let mut w = Writer {
            out,
            buf: Vec::new(),
        };
        w.frame(&FrameRef::Header(&header))?;
        Ok(w)
    }

    fn frame(&mut self, f: &FrameRef) -> Result<()> {
        let bytes = postcard::to_extend(f, std::mem::take(&mut self.buf))?;
        self.out.write_all(&(bytes.len() as u32).to_le_bytes())?;
        self.out.write_all(&bytes)?;
        self.buf = bytes;
        self.buf.clear();
        Ok(())
    }

    pub fn events(&mut self, events: &[Event]) -> Result<()> {
        self.frame(&FrameRef::Events(events))
    }

    /// Interface names known at the end, merged into the header's on reading.
    pub fn interfaces(&mut self, list: &[Interface]) -> Result<()> {
        self.frame(&FrameRef::Interfaces(list))
    }

    /// Writes the trailer and flushes everything to disk.
    pub fn finish(mut self, trailer: Trailer) -> Result<()> {
        self.frame(&FrameRef::Trailer(&trailer))?;
        self.out.flush()?;
        Ok(())
    }
}

/// A recording read back whole.
#[derive(Debug)]
pub struct Recording {
    pub header: Header,
    pub events: Vec<Event>,
    /// `None` when the recording was cut short.
    pub trailer: Option<Trailer>,
}

impl Recording {
    pub fn read(path: &Path) -> Result<Recording> {
        let file = File::open(path)
            .with_context(|| format!("cannot open the recording {}", path.display()))?;
        Self::from_reader(BufReader::new(file)).with_context(|| format!("{}", path.display()))
    }

    pub fn from_reader(mut r: impl Read) -> Result<Recording> {
        let mut head = [0u8; 12];
        if r.read_exact(&mut head).is_err() || &head[..8] != MAGIC {
            bail!("not a vrft-tui recording (make one with `vrft-tui record -o FILE`)");
        }
        let version = u32::from_le_bytes(head[8..].try_into().expect("4 bytes"));
        if version != VERSION {
            bail!(
                "recording format version {version} is not supported (this vrft-tui reads version \
                 {VERSION}): record it again, or open it with the vrft-tui that made it"
            );
        }
        let mut z = zstd::stream::Decoder::new(r)?;
        let mut header = None;
        let mut events = Vec::new();
        let mut trailer = None;
        let mut interfaces = Vec::new();
        let mut buf = Vec::new();
        loop {
            let mut len = [0u8; 4];
            if z.read_exact(&mut len).is_err() {
                break; // end of stream, or cut short in a length
            }
            buf.resize(u32::from_le_bytes(len) as usize, 0);
            if z.read_exact(&mut buf).is_err() {
                break; // cut short inside a frame: keep what came before
            }
            match postcard::from_bytes::<Frame>(&buf).context("corrupt recording frame")? {
                Frame::Header(h) if header.is_none() => header = Some(h),
                Frame::Header(_) => bail!("corrupt recording: a second header"),
                Frame::Events(mut batch) => events.append(&mut batch),
                Frame::Trailer(t) => trailer = Some(t),
                Frame::Interfaces(mut list) => interfaces.append(&mut list),
            }
        }
        let mut header: Header = header.context("corrupt recording: no header")?;
        for i in interfaces {
            if !header
                .info
                .interfaces
                .iter()
                .any(|h| h.netns == i.netns && h.ifindex == i.ifindex)
            {
                header.info.interfaces.push(i);
            }
        }
        Ok(Recording {
            header,
            events,
            trailer,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Context, Extra, Kind};

    fn event(i: u32) -> Event {
        Event {
            ts_ns: 1_000 + i as u64,
            packet: i / 3,
            clone: 0,
            cpu: 1,
            func: i % 5,
            tid: 42,
            kind: Kind::Entry,
            ctx: Context::SoftIrq,
            flags: 0,
            ifindex: 2,
            netns: 4026531840,
            len: 98,
            ret: -1,
            extra: i.is_multiple_of(7).then(|| {
                Box::new(Extra {
                    flow: None,
                    fields: vec![i as u64, 0x800],
                })
            }),
        }
    }

    fn header() -> Header {
        Header {
            info: SessionInfo {
                backend: Some(crate::Backend::Fentry),
                kernel: "6.1.0".into(),
                ..Default::default()
            },
            backend_reason: "backend: fentry".into(),
            started_unix_ns: 7,
        }
    }

    #[test]
    fn round_trips_and_survives_truncation() {
        let dir = std::env::temp_dir().join(format!("vrft-rec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.vrft");
        let mut w = Writer::create(&path, header()).unwrap();
        let all: Vec<Event> = (0..10_000).map(event).collect();
        for chunk in all.chunks(1000) {
            w.events(chunk).unwrap();
        }
        w.finish(Trailer {
            duration_ns: 5,
            ..Default::default()
        })
        .unwrap();
        let rec = Recording::read(&path).unwrap();
        assert_eq!(rec.header, header());
        assert_eq!(rec.events, all);
        assert_eq!(rec.trailer.unwrap().duration_ns, 5);
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(size < 10_000 * 8, "compact: {size} bytes for 10k events");

        // Cut in the middle of the compressed stream: the prefix still reads.
        let bytes = std::fs::read(&path).unwrap();
        let cut = Recording::from_reader(&bytes[..bytes.len() * 2 / 3]);
        if let Ok(rec) = cut {
            assert!(rec.trailer.is_none());
            assert!(rec.events.len() < all.len());
            assert_eq!(rec.events[..], all[..rec.events.len()]);
        }
        let err = Recording::from_reader(&b"garbage!!!!!!!!"[..]).unwrap_err();
        assert!(err.to_string().contains("not a vrft-tui recording"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
