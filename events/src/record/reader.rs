//! Reads a recording frame by frame, skipping what is damaged and saying what was skipped.

use std::path::Path;

use serde::de::DeserializeOwned;

use super::damage::{Damage, Problem};
use super::error::{FormatError, HeaderLoss, ReadError};
use super::frame::{decode_payload, find_sync, FrameHeader, FrameKind, HEADER_LEN};
use super::legacy::header7::{Header6, Header7};
use super::legacy::{v5::Event5, v6::Event6};
use super::{Header, Trailer, FILE_HEADER_LEN, MAGIC, OLDEST_READ, VERSION};
use crate::event::Event;
use crate::session::{Interface, Namespace};

/// A recording read back whole, with what could not be read.
#[derive(Debug)]
pub struct Recording {
    pub header: Header,
    /// Every event of the frames read, in recording order.
    pub events: Vec<Event>,
    /// `None` when the recording was cut short or its trailer is damaged.
    pub trailer: Option<Trailer>,
    /// What was skipped; empty for an intact recording.
    pub damage: Damage,
}

impl Recording {
    pub fn read(path: &Path) -> Result<Recording, ReadError> {
        let bytes = std::fs::read(path).map_err(|err| ReadError::Io {
            path: path.to_path_buf(),
            err,
        })?;
        Self::from_bytes(&bytes).map_err(|err| ReadError::Format {
            path: path.to_path_buf(),
            err,
        })
    }

    /// Reads a whole recording held in memory.
    pub fn from_bytes(b: &[u8]) -> Result<Recording, FormatError> {
        if b.len() < FILE_HEADER_LEN || &b[..MAGIC.len()] != MAGIC {
            return Err(FormatError::NotARecording);
        }
        let mut v = [0u8; 4];
        v.copy_from_slice(&b[MAGIC.len()..FILE_HEADER_LEN]);
        let found = u32::from_le_bytes(v);
        if !(OLDEST_READ..=VERSION).contains(&found) {
            return Err(FormatError::UnsupportedVersion { found });
        }
        let mut scan = Scan {
            version: found,
            ..Scan::default()
        };
        scan.run(b);
        scan.finish()
    }
}

/// The reader's state while it walks the frames.
#[derive(Default)]
struct Scan {
    /// The recording's format version.
    version: u32,
    header: Option<Header>,
    header_damaged: bool,
    events: Vec<Event>,
    interfaces: Vec<Interface>,
    namespaces: Vec<Namespace>,
    trailer: Option<Trailer>,
    /// A trailer frame was found, readable or not: the file is not cut short.
    trailer_seen: bool,
    damage: Damage,
    /// The sequence number and event index the next frame should have.
    next_seq: u32,
    next_first: u64,
    /// Whether any frame header was found (to tell an unreadable header from a cut one).
    found_frame: bool,
    event_frames: u32,
}

impl Scan {
    fn run(&mut self, b: &[u8]) {
        let mut pos = FILE_HEADER_LEN;
        // Start of bytes skipped while looking for a frame header.
        let mut skipped_from: Option<usize> = None;
        while pos < b.len() {
            if self.trailer_seen {
                self.damage.problems.push(Problem::Unreadable {
                    offset: pos as u64,
                    bytes: (b.len() - pos) as u64,
                });
                return;
            }
            let Some(h) = FrameHeader::decode(&b[pos..]) else {
                skipped_from.get_or_insert(pos);
                match find_sync(b, pos + 1) {
                    Some(next) => pos = next,
                    None => break,
                }
                continue;
            };
            let end = pos + h.frame_len();
            if end > b.len() {
                // The file ends inside this frame.
                self.found_frame = true;
                self.cut(Some(&h), (b.len() - pos) as u64);
                return;
            }
            self.found_frame = true;
            let Some(gap) = self.sequence(&h) else {
                pos = end; // a repeated frame: skipped
                continue;
            };
            if let (Some(from), false) = (skipped_from.take(), gap) {
                self.damage.problems.push(Problem::Unreadable {
                    offset: from as u64,
                    bytes: (pos - from) as u64,
                });
            }
            self.frame(&h, &b[pos + HEADER_LEN..end]);
            pos = end;
        }
        if !self.trailer_seen {
            let tail = skipped_from.map_or(0, |from| b.len() - from);
            self.cut(None, tail as u64);
        }
    }

    /// Checks that `h` follows the frames read so far and records the frames missing before
    /// it. `None` when `h` repeats an earlier sequence number (it is skipped), else whether
    /// frames were missing.
    fn sequence(&mut self, h: &FrameHeader) -> Option<bool> {
        if h.seq < self.next_seq {
            self.damage.problems.push(Problem::Skipped {
                seq: h.seq,
                why: "its sequence number repeats an earlier frame's",
            });
            return None;
        }
        let gap = self.missing_before(h);
        self.next_seq = h.seq.saturating_add(1);
        self.next_first = h.first.saturating_add(u64::from(h.count));
        Some(gap)
    }

    /// Records the frames between the last one accounted for and `h`, if any.
    fn missing_before(&mut self, h: &FrameHeader) -> bool {
        if h.seq <= self.next_seq {
            return false;
        }
        self.damage.problems.push(Problem::Missing {
            first_seq: self.next_seq,
            frames: h.seq - self.next_seq,
            events: h.first.saturating_sub(self.next_first),
        });
        true
    }

    /// The file ends before the trailer; `partial` is the frame it ends inside, if its header is whole.
    fn cut(&mut self, partial: Option<&FrameHeader>, tail_bytes: u64) {
        let frames = match partial {
            Some(h) if h.seq >= self.next_seq => {
                self.missing_before(h);
                h.seq
            }
            _ => self.next_seq,
        };
        self.damage.problems.push(Problem::CutShort {
            frames,
            partial: partial.map(|h| (h.seq, h.kind, h.count)),
            tail_bytes,
        });
    }

    /// Uses one frame whose header checked.
    fn frame(&mut self, h: &FrameHeader, stored: &[u8]) {
        self.trailer_seen |= h.kind == FrameKind::Trailer;
        let raw = match decode_payload(h, stored) {
            Ok(raw) => raw,
            Err(_) => return self.damaged(h),
        };
        let ok = match h.kind {
            FrameKind::Header if h.seq == 0 => {
                self.decode_header(&raw).map(|x| self.header = Some(x))
            }
            FrameKind::Events => self
                .decode_events(&raw)
                .filter(|batch| batch.len() == h.count as usize)
                .map(|mut batch| {
                    self.events.append(&mut batch);
                    self.event_frames += 1;
                }),
            FrameKind::Interfaces => {
                decode::<Vec<Interface>>(&raw).map(|mut list| self.interfaces.append(&mut list))
            }
            FrameKind::Namespaces => {
                decode::<Vec<Namespace>>(&raw).map(|mut list| self.namespaces.append(&mut list))
            }
            FrameKind::Trailer => decode(&raw).map(|t| self.trailer = Some(t)),
            FrameKind::Header => {
                return self.skip(h, "a second header");
            }
            FrameKind::Unknown(_) => {
                return self.skip(
                    h,
                    "of a kind this vrft-tui does not know (made by a newer one?)",
                );
            }
        };
        match ok {
            Some(()) => self.damage.frames_read += 1,
            None => self.damaged(h),
        }
    }

    /// An event batch, converted from the recording's version.
    fn decode_events(&self, raw: &[u8]) -> Option<Vec<Event>> {
        match self.version {
            5 => Some(convert(decode::<Vec<Event5>>(raw)?)),
            6 => Some(convert(decode::<Vec<Event6>>(raw)?)),
            _ => decode(raw),
        }
    }

    /// The session header, converted from the recording's version.
    fn decode_header(&self, raw: &[u8]) -> Option<Header> {
        match self.version {
            5 | 6 => decode::<Header6>(raw).map(|h| Header7::from(h).into()),
            7 => decode::<Header7>(raw).map(Header::from),
            _ => decode(raw),
        }
    }

    fn damaged(&mut self, h: &FrameHeader) {
        if h.kind == FrameKind::Header && h.seq == 0 {
            self.header_damaged = true;
        } else {
            self.damage.problems.push(Problem::Damaged {
                seq: h.seq,
                kind: h.kind,
                events: h.count,
            });
        }
    }

    fn skip(&mut self, h: &FrameHeader, why: &'static str) {
        self.damage
            .problems
            .push(Problem::Skipped { seq: h.seq, why });
    }

    fn finish(self) -> Result<Recording, FormatError> {
        let Some(mut header) = self.header else {
            let loss = if self.header_damaged {
                HeaderLoss::Damaged
            } else if self.found_frame && !self.cut_in_header() {
                HeaderLoss::Unreadable
            } else {
                HeaderLoss::Cut
            };
            return Err(FormatError::NoHeader {
                loss,
                event_frames: self.event_frames,
                events: self.events.len() as u64,
            });
        };
        for i in self.interfaces {
            if !header
                .info
                .interfaces
                .iter()
                .any(|h| h.netns == i.netns && h.ifindex == i.ifindex)
            {
                header.info.interfaces.push(i);
            }
        }
        for ns in self.namespaces {
            if !header.info.namespaces.iter().any(|h| h.inode == ns.inode) {
                header.info.namespaces.push(ns);
            }
        }
        Ok(Recording {
            header,
            events: self.events,
            trailer: self.trailer,
            damage: self.damage,
        })
    }

    /// Whether the file was cut inside the header frame (or before any frame).
    fn cut_in_header(&self) -> bool {
        self.damage.problems.iter().any(|p| {
            matches!(
                p,
                Problem::CutShort {
                    partial: Some((0, _, _)),
                    ..
                } | Problem::CutShort { frames: 0, .. }
            )
        })
    }
}

fn decode<T: DeserializeOwned>(raw: &[u8]) -> Option<T> {
    postcard::from_bytes(raw).ok()
}

fn convert<T: Into<Event>>(old: Vec<T>) -> Vec<Event> {
    old.into_iter().map(Into::into).collect()
}
