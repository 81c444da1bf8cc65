//! One frame of a recording: a fixed 40-byte header, then its payload compressed on its own.
//!
//! Header layout (little-endian):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | sync marker [`SYNC`] |
//! | 4 | 1 | kind ([`FrameKind`]) |
//! | 5 | 3 | reserved, zero |
//! | 8 | 4 | sequence number (the header frame is 0, each next frame one more) |
//! | 12 | 4 | events in this frame (0 unless an event batch) |
//! | 16 | 8 | index of this frame's first event in the whole recording |
//! | 24 | 4 | payload length before compression |
//! | 28 | 4 | payload length as stored (zstd) |
//! | 32 | 4 | CRC-32 of the stored payload |
//! | 36 | 4 | CRC-32 of bytes 0..36 of this header |
//!
//! The header has its own checksum so that a reader trusts its lengths and counts even when
//! the payload is damaged ("frame 7 damaged (4096 events)"), and a sync marker so that after
//! an unreadable header it can find the next frame by scanning. The running event index lets
//! it count exactly the events of frames whose headers were lost.

/// Starts every frame. Not ASCII, so text never looks like a frame; a chance match inside
/// compressed data is rejected by the header checksum.
pub const SYNC: [u8; 4] = [0xF7, b'v', b'R', 0x9E];
pub const HEADER_LEN: usize = 40;
/// Largest payload a reader will decompress (a header's function table is well under 1 MiB;
/// an event frame about 100 KiB): a forged length cannot make it allocate gigabytes.
pub const MAX_RAW: u32 = 64 << 20;

/// What a frame holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameKind {
    /// The session: function and probe tables, kernel, backend (frame 0).
    Header,
    /// A batch of events.
    Events,
    /// Interface names known at the end.
    Interfaces,
    /// Names of the network namespaces learned while recording (at the end).
    Namespaces,
    /// Loss counters and duration (the last frame).
    Trailer,
    /// A kind this version does not know (written by a newer vrft-tui).
    Unknown(u8),
}

impl FrameKind {
    fn code(self) -> u8 {
        match self {
            FrameKind::Header => 1,
            FrameKind::Events => 2,
            FrameKind::Interfaces => 3,
            FrameKind::Trailer => 4,
            FrameKind::Namespaces => 5,
            FrameKind::Unknown(c) => c,
        }
    }

    fn from_code(c: u8) -> FrameKind {
        match c {
            1 => FrameKind::Header,
            2 => FrameKind::Events,
            3 => FrameKind::Interfaces,
            4 => FrameKind::Trailer,
            5 => FrameKind::Namespaces,
            c => FrameKind::Unknown(c),
        }
    }
}

/// A frame header, as written and as read back once its checksum matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    pub kind: FrameKind,
    pub seq: u32,
    /// Events in this frame.
    pub count: u32,
    /// Index of the first event of this frame among all the recording's events; for frames
    /// without events, the number of events written before it.
    pub first: u64,
    pub raw_len: u32,
    pub stored_len: u32,
    pub payload_crc: u32,
}

fn le32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn le64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

impl FrameHeader {
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[0..4].copy_from_slice(&SYNC);
        h[4] = self.kind.code();
        h[8..12].copy_from_slice(&self.seq.to_le_bytes());
        h[12..16].copy_from_slice(&self.count.to_le_bytes());
        h[16..24].copy_from_slice(&self.first.to_le_bytes());
        h[24..28].copy_from_slice(&self.raw_len.to_le_bytes());
        h[28..32].copy_from_slice(&self.stored_len.to_le_bytes());
        h[32..36].copy_from_slice(&self.payload_crc.to_le_bytes());
        let crc = crc32fast::hash(&h[..36]);
        h[36..40].copy_from_slice(&crc.to_le_bytes());
        h
    }

    /// The header at the start of `b`, if there is a whole one with a sync marker, a
    /// matching checksum and zero reserved bytes.
    pub fn decode(b: &[u8]) -> Option<FrameHeader> {
        let h = b.get(..HEADER_LEN)?;
        if h[0..4] != SYNC || h[5..8] != [0, 0, 0] || crc32fast::hash(&h[..36]) != le32(h, 36) {
            return None;
        }
        Some(FrameHeader {
            kind: FrameKind::from_code(h[4]),
            seq: le32(h, 8),
            count: le32(h, 12),
            first: le64(h, 16),
            raw_len: le32(h, 24),
            stored_len: le32(h, 28),
            payload_crc: le32(h, 32),
        })
    }

    /// Bytes the whole frame takes in the file.
    pub fn frame_len(&self) -> usize {
        HEADER_LEN + self.stored_len as usize
    }
}

/// Why a frame whose header was sound could not be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadError {
    Checksum,
    /// Checksum matched but the payload did not decompress or decode (a writer bug, or a
    /// payload larger than [`MAX_RAW`]).
    Decode,
}

/// Compresses `raw` (at most [`MAX_RAW`] bytes) into a frame (header + payload) appended to `out`.
pub fn encode_frame(
    z: &mut zstd::bulk::Compressor<'_>,
    mut header: FrameHeader,
    raw: &[u8],
    out: &mut Vec<u8>,
) -> std::io::Result<()> {
    header.raw_len = raw.len() as u32;
    let stored = z.compress(raw)?;
    header.stored_len = stored.len() as u32;
    header.payload_crc = crc32fast::hash(&stored);
    out.extend_from_slice(&header.encode());
    out.extend_from_slice(&stored);
    Ok(())
}

/// The frame's payload, checked and decompressed. `stored` is exactly `stored_len` bytes.
pub fn decode_payload(h: &FrameHeader, stored: &[u8]) -> Result<Vec<u8>, PayloadError> {
    if crc32fast::hash(stored) != h.payload_crc {
        return Err(PayloadError::Checksum);
    }
    if h.raw_len > MAX_RAW {
        return Err(PayloadError::Decode);
    }
    let raw =
        zstd::bulk::decompress(stored, h.raw_len as usize).map_err(|_| PayloadError::Decode)?;
    if raw.len() != h.raw_len as usize {
        return Err(PayloadError::Decode);
    }
    Ok(raw)
}

/// Offset of the next sync marker at or after `from`, if any.
pub fn find_sync(b: &[u8], from: usize) -> Option<usize> {
    b.get(from..)?
        .windows(SYNC.len())
        .position(|w| w == SYNC)
        .map(|p| from + p)
}
