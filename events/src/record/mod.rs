//! Recordings: a versioned, compact file of one trace session that survives damage.
//!
//! Layout: the magic `VRFTREC\0` and a little-endian u32 format version, then frames. Each
//! frame has a 40-byte header (sync marker, sequence number, kind, event count, lengths,
//! checksums: [`frame`]) and a payload compressed on its own with zstd: a postcard-encoded
//! [`Header`] (frame 0), batches of events, the interface names, and a [`Trailer`] with the
//! loss counters (the last frame). Frames decode independently, so a cut or a bad byte loses
//! only the frames it touches: the reader skips them, finds the next frame by its sync marker,
//! and says in [`Damage`] what it skipped.

mod damage;
mod error;
pub mod frame;
mod legacy;
mod reader;
mod writer;

use serde::{Deserialize, Serialize};

use crate::session::{SessionInfo, Stats};

pub use damage::{Damage, Problem};
pub use error::{FormatError, HeaderLoss, ReadError, WriteError};
pub use frame::FrameKind;
pub use reader::Recording;
pub use writer::{Writer, FRAME_AGE, FRAME_EVENTS};

const MAGIC: &[u8; 8] = b"VRFTREC\0";
/// The magic and the version.
const FILE_HEADER_LEN: usize = 12;
/// 2: events carry flows and `--skb-fields` values; the session lists the field names.
/// 3: the contract crate: backend and probe origins are enums, every loss counter in `Stats`.
/// 4: independent frames, each with a sync marker, sequence number and checksums.
/// 5: each function says what it returns (void, bool, pointer, value).
/// 6: events carry the packet's ethertype and socket family (what kind of packet it is).
/// 7: events carry header bytes and the task; the session names namespaces and its clock offset.
/// 8: the session holds the snaplen and the host (name, boot id, clock).
pub const VERSION: u32 = 8;
/// The oldest version still read (its events are converted: `legacy.rs`).
pub const OLDEST_READ: u32 = 5;

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

#[cfg(test)]
mod tests;
