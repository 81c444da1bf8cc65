//! What stops a recording from being read or written at all. Each message is one line
//! naming the problem and the fix; damage a reader can skip is a [`super::Damage`] instead.

use std::path::PathBuf;

use thiserror::Error;

use super::{OLDEST_READ, VERSION};

/// Why these bytes cannot be read as a recording.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum FormatError {
    #[error("not a vrft-tui recording (it does not start with VRFTREC): make one with `vrft-tui record -o FILE`")]
    NotARecording,
    #[error("{}", version_message(*found))]
    UnsupportedVersion { found: u32 },
    #[error("{}", header_message(*loss, *event_frames, *events))]
    NoHeader {
        loss: HeaderLoss,
        /// Event frames read intact after the lost header.
        event_frames: u32,
        /// Events in them.
        events: u64,
    },
}

/// What happened to the header frame (frame 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderLoss {
    /// Its header checked, its payload did not.
    Damaged,
    /// Its frame header is unreadable (a later frame was found).
    Unreadable,
    /// The file ends inside it, or before it.
    Cut,
}

fn version_message(found: u32) -> String {
    if found < OLDEST_READ {
        format!(
            "recording format version {found} is older than the versions {OLDEST_READ} to \
             {VERSION} this vrft-tui reads: open it with the vrft-tui that made it, or record it \
             again"
        )
    } else {
        format!(
            "recording format version {found} is newer than the versions {OLDEST_READ} to \
             {VERSION} this vrft-tui reads: open it with a newer vrft-tui"
        )
    }
}

fn header_message(loss: HeaderLoss, event_frames: u32, events: u64) -> String {
    let what = match loss {
        HeaderLoss::Damaged => "its header (frame 0) is damaged",
        HeaderLoss::Unreadable => "its header (frame 0) is unreadable",
        HeaderLoss::Cut => "it is cut short inside its header (frame 0)",
    };
    if event_frames == 0 {
        format!("{what} and no events follow it: nothing to show; record again")
    } else {
        format!(
            "{what}, but the {event_frames} event frames after it ({events} events) are intact; \
             without the header's function table they cannot be shown: record again"
        )
    }
}

/// A recording file that cannot be read.
#[derive(Debug, Error)]
pub enum ReadError {
    #[error("cannot open the recording {}: {err}", path.display())]
    Io { path: PathBuf, err: std::io::Error },
    #[error("{}: {err}", path.display())]
    Format { path: PathBuf, err: FormatError },
}

impl ReadError {
    /// The format problem, when the file could be read.
    pub fn format(&self) -> Option<&FormatError> {
        match self {
            ReadError::Format { err, .. } => Some(err),
            ReadError::Io { .. } => None,
        }
    }
}

/// A recording that cannot be written.
#[derive(Debug, Error)]
pub enum WriteError {
    #[error("cannot create the recording {}: {err} (does the directory exist and is it writable?)", path.display())]
    Create { path: PathBuf, err: std::io::Error },
    #[error("cannot write the recording {}: {err} (is the disk full?)", path.display())]
    Write { path: PathBuf, err: std::io::Error },
    #[error(
        "the disk holding {} is full: recording stopped after {events} events, readable up to \
         there (free space, or record less: --duration, --max-packets or a filter)",
        path.display()
    )]
    Full { path: PathBuf, events: u64 },
    #[error("the recording stopped at an earlier write error")]
    Stopped,
    #[error("cannot encode a recording frame: {0} (a bug: please report it)")]
    Encode(postcard::Error),
    #[error("cannot compress a recording frame: {0} (a bug: please report it)")]
    Compress(std::io::Error),
    #[error(
        "a recording frame of {bytes} bytes is over the 64 MiB limit (a bug: please report it)"
    )]
    TooLarge { bytes: usize },
}
