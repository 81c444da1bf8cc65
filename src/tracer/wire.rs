//! Decoding of the ring-buffer record `struct vrft_event` (bpf/event.h).

use vrft_ui::event::{Context, Event, Kind};

/// Byte size of one ring-buffer record; the ring buffer adds an 8-byte header.
pub const EVENT_SIZE: usize = 48;

fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_ne_bytes([b[off], b[off + 1]])
}
fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_ne_bytes(b[off..off + 4].try_into().expect("4 bytes"))
}
fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_ne_bytes(b[off..off + 8].try_into().expect("8 bytes"))
}

/// Decodes one record, or `None` if it is too short or names an unknown kind.
pub fn decode(b: &[u8]) -> Option<Event> {
    if b.len() < EVENT_SIZE {
        return None;
    }
    let kind = match b[44] {
        0 => Kind::Entry,
        1 => Kind::Exit,
        2 => Kind::Tracepoint,
        _ => return None,
    };
    let ctx = match b[45] {
        0 => Context::Process,
        1 => Context::SoftIrq,
        2 => Context::HardIrq,
        _ => Context::Nmi,
    };
    Some(Event {
        ts_ns: u64_at(b, 0),
        ret: u64_at(b, 8) as i64,
        packet: u32_at(b, 16),
        clone: u16_at(b, 20),
        cpu: u16_at(b, 22),
        func: u32_at(b, 24),
        tid: u32_at(b, 28),
        ifindex: u32_at(b, 32),
        netns: u32_at(b, 36),
        len: u32_at(b, 40),
        kind,
        ctx,
        flags: b[46],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (name, offset, size) of each field of `struct vrft_event`, read from the C header
    /// itself so that this test cannot share a wrong assumption with the decoder.
    fn c_layout() -> Vec<(String, usize, usize)> {
        let header = include_str!("../../bpf/event.h");
        let body = header
            .split("struct vrft_event {")
            .nth(1)
            .unwrap()
            .split("};")
            .next()
            .unwrap();
        let mut off = 0;
        body.lines()
            .filter_map(|l| l.trim().strip_prefix("__"))
            .map(|l| {
                let size = match &l[..3] {
                    "u64" | "s64" => 8,
                    "u32" | "s32" => 4,
                    "u16" => 2,
                    _ => 1,
                };
                let name = l[3..].trim().trim_end_matches(';').to_string();
                let field = (name, off, size);
                off += size;
                field
            })
            .collect()
    }

    #[test]
    fn decodes_the_c_layout() {
        let layout = c_layout();
        assert_eq!(layout.iter().map(|f| f.2).sum::<usize>(), EVENT_SIZE);
        let mut b = [0u8; EVENT_SIZE];
        let mut put = |name: &str, v: u64| {
            let (_, off, size) = layout.iter().find(|f| f.0 == name).unwrap();
            b[*off..off + size].copy_from_slice(&v.to_ne_bytes()[..*size]);
        };
        put("ts_ns", 123_456_789);
        put("ret", (-22i64) as u64);
        put("packet", 7);
        put("clone", 2);
        put("cpu", 1);
        put("func", 42);
        put("tid", 99);
        put("ifindex", 3);
        put("netns", 4026531840);
        put("len", 98);
        put("kind", 1);
        put("ctx", 1);
        put("flags", 4);
        let e = decode(&b).unwrap();
        assert_eq!(
            (e.ts_ns, e.ret, e.packet, e.clone, e.cpu),
            (123_456_789, -22, 7, 2, 1)
        );
        assert_eq!(
            (e.func, e.tid, e.ifindex, e.netns, e.len),
            (42, 99, 3, 4026531840, 98)
        );
        assert_eq!((e.kind, e.ctx, e.flags), (Kind::Exit, Context::SoftIrq, 4));
        assert!(decode(&b[..EVENT_SIZE - 1]).is_none());
    }
}
