//! Decoding of the ring-buffer record `struct vrft_event` (bpf/event.h) and
//! its optional tail: `nfields` u64 values of `--skb-fields`, then a
//! `struct vrft_flow` when `VRFT_F_FLOW` is set. The structs are bindgen's
//! (see [`crate::contract`]); this module only turns them into [`Event`]s.

use std::mem::size_of;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use vrft_events::event::{flags, Context, Event, Extra, Headers, Kind, Task};
use vrft_events::session::{Flow, SkbClass};

use crate::contract::{
    self as c, vrft_ctx, vrft_event, vrft_flow, vrft_headers, vrft_kind, vrft_task,
};

/// Byte size of one ring-buffer record without a tail; the ring buffer adds an 8-byte header.
pub const EVENT_SIZE: usize = size_of::<vrft_event>();
/// Byte size of `struct vrft_flow`.
pub const FLOW_SIZE: usize = size_of::<vrft_flow>();
/// `VRFT_F_FLOW`: a flow follows the field values. Not a node flag, so the decoder clears it.
const F_FLOW: u8 = c::VRFT_F_FLOW as u8;

// The node flags pass from BPF to the events unchanged: both sides must agree.
const _: () = {
    assert!(flags::NO_ENTRY as u32 == c::VRFT_F_NO_ENTRY);
    assert!(flags::FIRST_SEEN as u32 == c::VRFT_F_FIRST_SEEN);
    assert!(flags::FREED as u32 == c::VRFT_F_FREED);
    assert!(flags::DROP as u32 == c::VRFT_F_DROP);
    assert!(flags::TOO_DEEP as u32 == c::VRFT_F_TOO_DEEP);
    assert!(EVENT_SIZE == 48 && FLOW_SIZE == 44);
    assert!(size_of::<vrft_headers>() == 8 + c::VRFT_HDR_BYTES as usize);
    assert!(size_of::<vrft_task>() == 20);
};

/// A `T` read from the start of `b`, if `b` is long enough.
fn read<T: Copy>(b: &[u8]) -> Option<T> {
    (b.len() >= size_of::<T>()).then(|| {
        // SAFETY: `b` holds at least size_of::<T>() bytes (checked above), the
        // read is unaligned-safe, and T is a bindgen record of plain integers,
        // valid for any bit pattern.
        unsafe { std::ptr::read_unaligned(b.as_ptr().cast::<T>()) }
    })
}

fn flow_from(f: &vrft_flow) -> Option<Flow> {
    let addr = |a: &[u8; 16]| -> Option<IpAddr> {
        match f.ipv {
            4 => Some(Ipv4Addr::new(a[0], a[1], a[2], a[3]).into()),
            6 => Some(Ipv6Addr::from(*a).into()),
            _ => None,
        }
    };
    Some(Flow {
        src: addr(&f.saddr)?,
        dst: addr(&f.daddr)?,
        sport: f.sport,
        dport: f.dport,
        proto: f.proto,
    })
}

/// One ring-buffer record: an event, or a note about the next event of its packet.
#[derive(Debug, PartialEq)]
pub enum Record {
    Event(Event),
    Note(Note),
}

/// Something the BPF side tells about the next event of `packet`/`clone` on the stack
/// `stack` (see [`Event::stack_key`]): it is sent just before that event.
#[derive(Clone, Debug, PartialEq)]
pub struct Note {
    pub stack: u64,
    pub packet: u32,
    pub clone: u16,
    pub what: NoteKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum NoteKind {
    Headers(Headers),
    Task(Task),
}

/// Decodes one record, or `None` if it is too short or names an unknown kind.
pub fn decode_record(b: &[u8]) -> Option<Record> {
    let r: vrft_event = read(b)?;
    let tail = &b[EVENT_SIZE..];
    let what = match u32::from(r.kind) {
        vrft_kind::VRFT_NOTE_HEADERS => {
            let h: vrft_headers = read(tail)?;
            let len = (h.len as usize).min(h.bytes.len());
            NoteKind::Headers(Headers {
                ethertype: h.ethertype,
                net_offset: h.net_offset,
                bytes: h.bytes[..len].to_vec(),
            })
        }
        vrft_kind::VRFT_NOTE_TASK => {
            let t: vrft_task = read(tail)?;
            let end = t.comm.iter().position(|&c| c == 0).unwrap_or(t.comm.len());
            NoteKind::Task(Task {
                pid: t.pid,
                comm: String::from_utf8_lossy(&t.comm[..end]).into_owned(),
            })
        }
        _ => return decode(b).map(Record::Event),
    };
    let stack = vrft_events::event::stack_key(r.tid, r.cpu);
    Some(Record::Note(Note {
        stack,
        packet: r.packet,
        clone: r.clone,
        what,
    }))
}

/// Decodes one event record, or `None` if it is too short or names an unknown kind.
pub fn decode(b: &[u8]) -> Option<Event> {
    let r: vrft_event = read(b)?;
    let kind = match u32::from(r.kind) {
        vrft_kind::VRFT_ENTRY => Kind::Entry,
        vrft_kind::VRFT_EXIT => Kind::Exit,
        vrft_kind::VRFT_TRACEPOINT => Kind::Tracepoint,
        _ => return None,
    };
    let ctx = match u32::from(r.ctx) {
        vrft_ctx::VRFT_CTX_PROCESS => Context::Process,
        vrft_ctx::VRFT_CTX_SOFTIRQ => Context::SoftIrq,
        vrft_ctx::VRFT_CTX_HARDIRQ => Context::HardIrq,
        _ => Context::Nmi,
    };
    let tail = &b[EVENT_SIZE..];
    let fields: Vec<u64> = (0..r.nfields as usize)
        .map(|i| read::<u64>(tail.get(i * 8..)?))
        .collect::<Option<_>>()?;
    let (flow, class) = if r.flags & F_FLOW != 0 {
        let f: vrft_flow = read(tail.get(fields.len() * 8..)?)?;
        // ipv 0: no IP header, the ethertype and family say what it is instead.
        let flow = match f.ipv {
            0 => None,
            _ => Some(flow_from(&f)?),
        };
        let class = SkbClass {
            ethertype: f.ethertype,
            family: f.family,
        };
        (flow, Some(class))
    } else {
        (None, None)
    };
    let extra = (class.is_some() || !fields.is_empty()).then(|| {
        Box::new(Extra {
            flow,
            fields,
            class,
            headers: None,
            task: None,
        })
    });
    Some(Event {
        ts_ns: r.ts_ns,
        ret: r.ret,
        packet: r.packet,
        clone: r.clone,
        cpu: r.cpu,
        func: r.func,
        tid: r.tid,
        ifindex: r.ifindex,
        netns: r.netns,
        len: r.len,
        kind,
        ctx,
        flags: r.flags & !F_FLOW,
        extra,
        host: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (name, offset, size) of each field of `struct NAME` in bpf/event.h, read from the C
    /// header itself so that this test cannot share a wrong assumption with the decoder.
    fn c_layout(name: &str) -> Vec<(String, usize, usize)> {
        let header = include_str!("../bpf/event.h");
        let body = header
            .split(&format!("struct {name} {{"))
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
                let decl = l[3..].split(';').next().unwrap().trim();
                let (name, count) = match decl.split_once('[') {
                    Some((n, c)) => (n, c.trim_end_matches(']').parse::<usize>().unwrap()),
                    None => (decl, 1),
                };
                let field = (name.to_string(), off, size * count);
                off += size * count;
                field
            })
            .collect()
    }

    fn put(b: &mut [u8], layout: &[(String, usize, usize)], name: &str, v: &[u8]) {
        let (_, off, size) = layout.iter().find(|f| f.0 == name).unwrap();
        b[*off..off + size].copy_from_slice(&v[..*size]);
    }

    #[test]
    fn decodes_the_c_layout() {
        let layout = c_layout("vrft_event");
        assert_eq!(layout.iter().map(|f| f.2).sum::<usize>(), EVENT_SIZE);
        let mut b = [0u8; EVENT_SIZE];
        let mut set = |name: &str, v: u64| put(&mut b, &layout, name, &v.to_ne_bytes());
        set("ts_ns", 123_456_789);
        set("ret", (-22i64) as u64);
        set("packet", 7);
        set("clone", 2);
        set("cpu", 1);
        set("func", 42);
        set("tid", 99);
        set("ifindex", 3);
        set("netns", 4026531840);
        set("len", 98);
        set("kind", 1);
        set("ctx", 1);
        set("flags", 4);
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
        assert!(e.extra.is_none());
        assert!(decode(&b[..EVENT_SIZE - 1]).is_none());
    }

    /// An entry with two field values and the flow, laid out as `emit()` in bpf/vrft.bpf.c does.
    #[test]
    fn decodes_fields_and_flow_tail() {
        let ev = c_layout("vrft_event");
        let fl = c_layout("vrft_flow");
        assert_eq!(fl.iter().map(|f| f.2).sum::<usize>(), FLOW_SIZE);
        let mut b = vec![0u8; EVENT_SIZE + 16 + FLOW_SIZE];
        put(&mut b, &ev, "nfields", &[2]);
        put(&mut b, &ev, "flags", &[F_FLOW | 2]);
        b[EVENT_SIZE..EVENT_SIZE + 8].copy_from_slice(&98u64.to_ne_bytes());
        b[EVENT_SIZE + 8..EVENT_SIZE + 16].copy_from_slice(&0x800u64.to_ne_bytes());
        let flow = &mut b[EVENT_SIZE + 16..];
        put(
            flow,
            &fl,
            "saddr",
            &[10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        );
        put(
            flow,
            &fl,
            "daddr",
            &[10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        );
        put(flow, &fl, "sport", &40000u16.to_ne_bytes());
        put(flow, &fl, "dport", &7777u16.to_ne_bytes());
        put(flow, &fl, "ipv", &[4]);
        put(flow, &fl, "proto", &[17]);
        let e = decode(&b).unwrap();
        assert_eq!(e.flags, 2, "the tail flag is not a node flag");
        assert_eq!(e.fields(), &[98, 0x800]);
        assert_eq!(
            e.flow().unwrap().to_string(),
            "udp 10.0.0.1:40000>10.0.0.2:7777"
        );
        // A v6 flow, no fields.
        let mut b = vec![0u8; EVENT_SIZE + FLOW_SIZE];
        put(&mut b, &ev, "flags", &[F_FLOW]);
        let flow = &mut b[EVENT_SIZE..];
        let mut a = [0u8; 16];
        a[..2].copy_from_slice(&[0xfd, 0]);
        a[15] = 1;
        put(flow, &fl, "saddr", &a);
        a[15] = 2;
        put(flow, &fl, "daddr", &a);
        put(flow, &fl, "ipv", &[6]);
        put(flow, &fl, "proto", &[58]);
        let e = decode(&b).unwrap();
        assert_eq!(e.flow().unwrap().to_string(), "icmp6 [fd00::1]>[fd00::2]");
        // A tail cut short is malformed, not a guess.
        assert!(decode(&b[..EVENT_SIZE + 20]).is_none());
        // A netlink message: no IP header, the socket's family.
        let mut b = vec![0u8; EVENT_SIZE + FLOW_SIZE];
        put(&mut b, &ev, "flags", &[F_FLOW]);
        put(&mut b[EVENT_SIZE..], &fl, "family", &16u16.to_ne_bytes());
        let e = decode(&b).unwrap();
        assert!(e.flow().is_none());
        assert_eq!(
            e.class(),
            Some(&SkbClass {
                ethertype: 0,
                family: 16
            })
        );
        assert_eq!(e.kind_evidence(), Some(vrft_events::PacketKind::Netlink));
        // ARP: an ethertype.
        put(&mut b[EVENT_SIZE..], &fl, "family", &[0, 0]);
        put(
            &mut b[EVENT_SIZE..],
            &fl,
            "ethertype",
            &0x806u16.to_ne_bytes(),
        );
        let e = decode(&b).unwrap();
        assert_eq!(e.class().unwrap().ethertype, 0x806);
        assert_eq!(e.kind_evidence(), Some(vrft_events::PacketKind::Network));
    }
}
