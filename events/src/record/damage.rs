//! What a reader could not use, said precisely: which frames, how many events, whether
//! the recording ends before its trailer.

use std::fmt;

use super::frame::FrameKind;

/// Everything a reader skipped, in file order. Empty for an intact recording.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Damage {
    /// Frames read intact, the header frame included.
    pub frames_read: u32,
    pub problems: Vec<Problem>,
}

/// One thing a reader skipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// A frame whose header checked but whose payload did not: its kind and event count are known.
    Damaged {
        seq: u32,
        kind: FrameKind,
        events: u32,
    },
    /// Frames missing from the sequence numbers around them (their headers were unreadable);
    /// the events they held are counted from the next readable frame's event index.
    Missing {
        first_seq: u32,
        frames: u32,
        events: u64,
    },
    /// The file ends before the trailer: `frames` frames were accounted for (read, damaged or
    /// missing). `partial` is the frame the cut went through, when its header is whole;
    /// `tail_bytes` the bytes after the last whole frame.
    CutShort {
        frames: u32,
        partial: Option<(u32, FrameKind, u32)>,
        tail_bytes: u64,
    },
    /// A sound frame this reader does not use: a second header, a repeated sequence number,
    /// or a kind written by a newer vrft-tui.
    Skipped { seq: u32, why: &'static str },
    /// Bytes that belong to no frame and hide no missing one (after the trailer, or between
    /// two consecutive frames).
    Unreadable { offset: u64, bytes: u64 },
}

fn kind_name(kind: FrameKind) -> String {
    match kind {
        FrameKind::Header => "the header".into(),
        FrameKind::Events => "events".into(),
        FrameKind::Interfaces => "interface names".into(),
        FrameKind::Namespaces => "namespace names".into(),
        FrameKind::Trailer => "the trailer: loss counters and duration".into(),
        FrameKind::Unknown(c) => format!("unknown kind {c}"),
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Damaged {
                seq,
                kind: FrameKind::Events,
                events,
            } => write!(f, "frame {seq} damaged ({events} events), skipped"),
            Problem::Damaged { seq, kind, .. } => {
                write!(f, "frame {seq} damaged ({}), skipped", kind_name(*kind))
            }
            Problem::Missing {
                first_seq,
                frames: 1,
                events,
            } => write!(f, "frame {first_seq} unreadable ({events} events), skipped"),
            Problem::Missing {
                first_seq,
                frames,
                events,
            } => write!(
                f,
                "frames {first_seq}-{} unreadable ({events} events), skipped",
                first_seq + frames - 1
            ),
            Problem::CutShort {
                frames,
                partial,
                tail_bytes,
            } => {
                write!(f, "cut short after {frames} frames (no trailer)")?;
                match partial {
                    Some((seq, FrameKind::Events, n)) => {
                        write!(f, "; frame {seq} is incomplete ({n} events)")
                    }
                    Some((seq, kind, _)) => {
                        write!(f, "; frame {seq} ({}) is incomplete", kind_name(*kind))
                    }
                    None if *tail_bytes > 0 => {
                        write!(f, "; the last {tail_bytes} bytes are not a whole frame")
                    }
                    None => Ok(()),
                }
            }
            Problem::Skipped { seq, why } => write!(f, "frame {seq} skipped: {why}"),
            Problem::Unreadable { offset, bytes } => {
                write!(f, "{bytes} unreadable bytes at offset {offset}, skipped")
            }
        }
    }
}

impl Damage {
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }

    /// Events known to be lost (damaged, missing and incomplete frames). A recording cut short
    /// may have lost more after the cut; [`Damage::cut_short`] says so.
    pub fn events_lost(&self) -> u64 {
        let partial: u64 = self
            .problems
            .iter()
            .map(|p| match p {
                Problem::CutShort {
                    partial: Some((_, _, n)),
                    ..
                } => u64::from(*n),
                _ => 0,
            })
            .sum();
        self.events_skipped() + partial
    }

    /// Events of the frames skipped as damaged or missing.
    pub fn events_skipped(&self) -> u64 {
        self.problems
            .iter()
            .map(|p| match p {
                Problem::Damaged { events, .. } => u64::from(*events),
                Problem::Missing { events, .. } => *events,
                _ => 0,
            })
            .sum()
    }

    /// Frames skipped as damaged or missing (not counting a frame cut through).
    pub fn frames_lost(&self) -> u64 {
        self.problems
            .iter()
            .map(|p| match p {
                Problem::Damaged { .. } => 1,
                Problem::Missing { frames, .. } => u64::from(*frames),
                _ => 0,
            })
            .sum()
    }

    pub fn cut_short(&self) -> bool {
        self.problems
            .iter()
            .any(|p| matches!(p, Problem::CutShort { .. }))
    }

    /// One line per problem, in file order.
    pub fn lines(&self) -> Vec<String> {
        self.problems.iter().map(|p| p.to_string()).collect()
    }

    /// A few words for a status bar ("damaged: 128 events lost, cut short"). `None` when intact.
    pub fn short(&self) -> Option<String> {
        if self.is_clean() {
            return None;
        }
        let mut parts = Vec::new();
        let lost = self.events_lost();
        if lost > 0 {
            parts.push(format!("{lost} events lost"));
        }
        if self.cut_short() {
            parts.push("cut short".to_string());
        }
        if parts.is_empty() {
            parts.push(format!("{} parts skipped", self.problems.len()));
        }
        Some(format!("damaged: {}", parts.join(", ")))
    }

    /// One line for a message: what was lost in all. `None` when intact.
    pub fn summary(&self) -> Option<String> {
        if self.is_clean() {
            return None;
        }
        let mut parts = Vec::new();
        let frames = self.frames_lost();
        if frames > 0 {
            let s = if frames == 1 { "" } else { "s" };
            parts.push(format!(
                "{frames} frame{s} lost ({} events)",
                self.events_skipped()
            ));
        }
        for p in &self.problems {
            if let Problem::CutShort { .. } = p {
                parts.push(p.to_string());
            }
        }
        let other = self
            .problems
            .iter()
            .filter(|p| matches!(p, Problem::Skipped { .. } | Problem::Unreadable { .. }))
            .count();
        if other > 0 {
            parts.push(format!("{other} unreadable parts skipped"));
        }
        Some(format!("recording damaged: {}", parts.join("; ")))
    }
}
