//! One packet's calls, stored compactly (48 bytes per call, i.e. 24 per entry/exit event).

use vrft_events::event::{flags as ev, Context, Event, Headers, Kind, Task};
use vrft_events::session::{Flow, PacketKind, SessionInfo};

/// Node flags: the low four bits are the event flags (ORed over entry and exit).
pub mod node_flags {
    pub use vrft_events::event::flags::{DROP, FIRST_SEEN, FREED, NO_ENTRY};
    /// The exit was seen (duration and return value are valid).
    pub const EXITED: u8 = 1 << 4;
    /// A tracepoint hit: a leaf with no duration.
    pub const TRACEPOINT: u8 = 1 << 5;
    /// The exit never came: an outer call returned first, or the session ended.
    pub const LOST_EXIT: u8 = 1 << 6;
    /// Nested deeper than the tracer's call stack: a leaf whose exit was not followed.
    pub const TOO_DEEP: u8 = 1 << 7;
}
use node_flags::*;

/// Where a packet, or a clone of it, reaches a socket or the application:
/// the queueing functions of net/core/sock.c, UDP, TCP, ping and raw
/// sockets, and the tracepoint of the copy to user space.
pub(crate) const DELIVERIES: [&str; 7] = [
    "skb:skb_copy_datagram_iovec",
    "__sock_queue_rcv_skb",
    "sock_queue_rcv_skb_reason",
    "__udp_enqueue_schedule_skb",
    "tcp_queue_rcv",
    "ping_queue_rcv_skb",
    "raw_rcv_skb",
];

/// Parent index of a root call.
pub const ROOT: u32 = u32::MAX;

/// One call (or tracepoint hit, or exit without entry) of one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Node {
    /// Entry timestamp (the exit's for an exit without entry).
    pub ts: u64,
    pub ret: i64,
    dur: u32,
    pub func: u32,
    /// Index of the enclosing call of the same packet on the same stack, or [`ROOT`].
    pub parent: u32,
    pub len: u32,
    pub tid: u32,
    pub cpu: u16,
    pub clone: u16,
    /// Index into [`Packet::devs`].
    pub dev: u16,
    pub ctx: Context,
    pub flags: u8,
    /// Where this call's `--skb-fields` start in [`Packet::fields`] ([`NO_FIELDS`]: none).
    /// It fills the struct's padding, so calls stay 48 bytes.
    fields: u32,
}

/// `--skb-fields` values of the calls of a packet that have them: per call a count, then
/// that many values.
#[derive(Clone, Debug, Default, PartialEq)]
struct FieldValues(Vec<u64>);

/// [`Node`] without `--skb-fields` values.
const NO_FIELDS: u32 = u32::MAX;

// Durations up to 2.1 s keep nanoseconds; longer ones switch to microseconds (up to 35 min).
const DUR_US: u32 = 1 << 31;

fn encode_dur(ns: u64) -> u32 {
    if ns < u64::from(DUR_US) {
        ns as u32
    } else {
        DUR_US | (ns / 1000).min(u64::from(DUR_US - 1)) as u32
    }
}

impl Node {
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// Duration in ns, when both entry and exit were seen.
    pub fn duration(&self) -> Option<u64> {
        if self.has(EXITED) && !self.has(NO_ENTRY) && !self.has(TRACEPOINT) {
            Some(if self.dur & DUR_US != 0 {
                u64::from(self.dur & !DUR_US) * 1000
            } else {
                u64::from(self.dur)
            })
        } else {
            None
        }
    }

    /// Exit timestamp, when seen.
    pub fn exit_ts(&self) -> Option<u64> {
        if self.has(NO_ENTRY) {
            Some(self.ts)
        } else {
            self.duration().map(|d| self.ts + d)
        }
    }

    pub(crate) fn set_exit(&mut self, ts: u64, ret: i64, flags: u8) {
        self.dur = encode_dur(ts.saturating_sub(self.ts));
        self.ret = ret;
        self.flags |= EXITED | (flags & 0x0f);
    }

    /// A call or hit whose other half is missing: exit without entry, or entry without exit.
    pub fn is_broken(&self) -> bool {
        self.has(NO_ENTRY) || self.has(LOST_EXIT) || self.has(TOO_DEEP)
    }
}

/// Everything seen of one packet (all its clones), grown incrementally while live.
#[derive(Clone, Debug, PartialEq)]
pub struct Packet {
    pub id: u32,
    pub first_ts: u64,
    pub last_ts: u64,
    /// CPU of the first event.
    pub cpu: u16,
    /// Packet-level marks: [`ev::DROP`], [`ev::FREED`], [`ev::FIRST_SEEN`].
    pub flags: u8,
    /// Drop reason of the first drop (`skb:kfree_skb` tracepoint).
    pub drop_reason: Option<u32>,
    /// Calls entered and not returned yet (still running, or their exit will be lost).
    pub open: u32,
    /// Calls with only one half seen (see [`Node::is_broken`]).
    pub broken: u32,
    /// Boxed: most packets never get one, and the box keeps `Packet` small.
    pub flow: Option<Box<Flow>>,
    /// Devices in order of first appearance: (netns inode, ifindex); `Node::dev` indexes this.
    pub devs: Vec<(u32, u32)>,
    /// Calls in arrival order; a parent always precedes its children.
    pub nodes: Vec<Node>,
    /// Boxed, like the flow: most sessions have none, and the box keeps `Packet` small.
    fields: Option<Box<FieldValues>>,
    /// Facts kept as they arrive, in the struct's padding: [`marks`].
    marks: u8,
    /// Boxed, like the flow: what the list and the tree say about the packet besides calls.
    seen: Option<Box<Seen>>,
}

/// What a packet carried besides its calls: its headers and who ran it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Seen {
    /// Header snapshots with the node that carried each: when first readable, and again
    /// wherever the addresses or ports changed (encapsulation, decapsulation, NAT).
    pub headers: Vec<(u32, Headers)>,
    /// The process of the first call in process context whose thread the tracer had noted
    /// by then, with that call's node.
    pub task: Option<(u32, Task)>,
}

/// Bits of [`Packet::marks`].
mod marks {
    /// Bits 0-2: what the tracer's record said the packet is: 0 nothing, else 1 + the
    /// index of the kind in [`super::PacketKind::ALL`].
    pub const KIND: u8 = 0b111;
    /// Some event had a device.
    pub const DEVICE: u8 = 1 << 3;
    /// Some call delivered it (or a clone) to a socket.
    pub const DELIVERED: u8 = 1 << 4;
    /// Bits 5-7: what its network header is: 0 unknown, else 1 + the index of the kind in
    /// [`super::L3::ALL`].
    pub const L3: u8 = 0b111 << 5;
}

/// What a packet's network header is (`skb->protocol`), for the `ip`, `ip6` and `arp`
/// filter words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L3 {
    Ipv4,
    Ipv6,
    Arp,
    Other,
}

impl L3 {
    const ALL: [L3; 4] = [L3::Ipv4, L3::Ipv6, L3::Arp, L3::Other];

    fn from_ethertype(ethertype: u16) -> Option<L3> {
        match ethertype {
            0 => None,
            0x0800 => Some(L3::Ipv4),
            0x86dd => Some(L3::Ipv6),
            0x0806 => Some(L3::Arp),
            _ => Some(L3::Other),
        }
    }

    /// What an event says of the packet's network header: its ethertype, else its flow's
    /// address family (recordings before the ethertype was read have only the flow).
    fn of_event(ev: &Event) -> Option<L3> {
        let ethertype = ev.class().map(|c| c.ethertype).filter(|&e| e != 0);
        let ethertype = ethertype.or(ev.headers().map(|h| h.ethertype));
        ethertype
            .and_then(L3::from_ethertype)
            .or_else(|| ev.flow().map(|f| L3::of_addr(f.src)))
    }

    fn of_addr(a: std::net::IpAddr) -> L3 {
        if a.is_ipv4() {
            L3::Ipv4
        } else {
            L3::Ipv6
        }
    }
}

/// Which functions of the session deliver a packet to a socket ([`DELIVERIES`]), by
/// function id: names are compared once per session, not per call.
pub(crate) fn delivery_functions(info: &SessionInfo) -> Vec<bool> {
    info.functions
        .iter()
        .map(|f| DELIVERIES.contains(&f.name.as_str()))
        .collect()
}

impl Packet {
    pub(crate) fn new(id: u32, ts: u64, cpu: u16) -> Self {
        Packet {
            id,
            first_ts: ts,
            last_ts: ts,
            cpu,
            flags: 0,
            drop_reason: None,
            open: 0,
            broken: 0,
            flow: None,
            devs: Vec::new(),
            nodes: Vec::new(),
            fields: None,
            marks: 0,
            seen: None,
        }
    }

    /// Header snapshots, in arrival order, each with the node that carried it.
    pub fn headers(&self) -> &[(u32, Headers)] {
        self.seen.as_ref().map_or(&[], |s| &s.headers)
    }

    /// The process the packet first met in process context, and where.
    pub fn task(&self) -> Option<&(u32, Task)> {
        self.seen.as_ref()?.task.as_ref()
    }

    pub(crate) fn add_headers(&mut self, node: u32, h: &Headers) {
        let seen = self.seen.get_or_insert_with(Box::default);
        seen.headers.push((node, h.clone()));
    }

    pub(crate) fn set_task(&mut self, node: u32, t: &Task) {
        let seen = self.seen.get_or_insert_with(Box::default);
        if seen.task.is_none() {
            seen.task = Some((node, t.clone()));
        }
    }

    /// The kernel freed the packet (or a clone) as a drop. See [`Packet::lost`].
    pub fn dropped(&self) -> bool {
        self.flags & ev::DROP != 0
    }

    /// Some part of the packet reached a socket or the application.
    pub fn delivered(&self) -> bool {
        self.marks & marks::DELIVERED != 0
    }

    /// A drop that is one: nothing of the packet was delivered. A ping whose
    /// reply reached the ping socket through a clone, and whose original the
    /// kernel then freed with NO_SOCKET, is not lost.
    pub fn lost(&self) -> bool {
        self.dropped() && !self.delivered()
    }

    /// What the packet is (see [`PacketKind::derive`]): what the tracer read of it, else a
    /// network packet if it was ever on a device.
    pub fn kind(&self) -> PacketKind {
        let record = match self.marks & marks::KIND {
            0 => None,
            k => PacketKind::ALL.get(usize::from(k) - 1).copied(),
        };
        PacketKind::derive(record, self.marks & marks::DEVICE != 0)
    }

    /// What its network header is, from the first event that told ([`L3`]), else from its
    /// flow's addresses.
    pub fn l3(&self) -> Option<L3> {
        match (self.marks & marks::L3) >> 5 {
            0 => self.flow.as_ref().map(|f| L3::of_addr(f.src)),
            k => L3::ALL.get(usize::from(k) - 1).copied(),
        }
    }

    /// Keeps what `ev` says of the packet: its kind, a device, a delivery (`delivers`: the
    /// function delivers to a socket), its network header.
    pub(crate) fn note(&mut self, ev: &Event, delivers: bool) {
        if ev.ifindex != 0 {
            self.marks |= marks::DEVICE;
        }
        if delivers {
            self.marks |= marks::DELIVERED;
        }
        if self.marks & marks::KIND == 0 {
            if let Some(k) = ev.kind_evidence() {
                let i = PacketKind::ALL.iter().position(|&x| x == k).unwrap_or(3);
                self.marks |= (i as u8 + 1) & marks::KIND;
            }
        }
        if self.marks & marks::L3 == 0 {
            if let Some(l3) = L3::of_event(ev) {
                let i = L3::ALL.iter().position(|&x| x == l3).unwrap_or(3);
                self.marks |= ((i as u8 + 1) << 5) & marks::L3;
            }
        }
    }

    /// Some call lacks its entry or exit (or is still running).
    pub fn incomplete(&self) -> bool {
        self.open > 0 || self.broken > 0
    }

    /// Time from the first to the last event of the packet.
    pub fn duration(&self) -> u64 {
        self.last_ts - self.first_ts
    }

    pub fn dev(&self, node: &Node) -> (u32, u32) {
        self.devs[node.dev as usize]
    }

    /// The `--skb-fields` values seen at `node` (empty when none were asked for).
    pub fn fields(&self, node: &Node) -> &[u64] {
        if node.fields == NO_FIELDS {
            return &[];
        }
        let Some(FieldValues(all)) = self.fields.as_deref() else {
            return &[];
        };
        let start = node.fields as usize;
        let n = all[start] as usize;
        &all[start + 1..start + 1 + n]
    }

    /// Bytes held beyond the struct itself.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>()
            + self.devs.capacity() * std::mem::size_of::<(u32, u32)>()
            + self.fields.as_ref().map_or(0, |f| {
                std::mem::size_of::<FieldValues>() + f.0.capacity() * std::mem::size_of::<u64>()
            })
            + self
                .flow
                .as_ref()
                .map_or(0, |_| std::mem::size_of::<Flow>())
            + self.seen.as_ref().map_or(0, |s| {
                std::mem::size_of::<Seen>()
                    + s.headers
                        .iter()
                        .map(|(_, h)| 32 + h.bytes.len())
                        .sum::<usize>()
                    + s.task.as_ref().map_or(0, |(_, t)| t.comm.len())
            })
    }

    /// Drops spare capacity once the packet is over (freed, or the stream ended).
    pub(crate) fn shrink(&mut self) {
        self.nodes.shrink_to_fit();
        self.devs.shrink_to_fit();
        if let Some(f) = &mut self.fields {
            f.0.shrink_to_fit();
        }
    }

    pub(crate) fn intern_dev(&mut self, netns: u32, ifindex: u32) -> u16 {
        let key = (netns, ifindex);
        // Most packets see one to four devices; the last one is the usual hit.
        if let Some(i) = self.devs.iter().rposition(|d| *d == key) {
            return i as u16;
        }
        self.devs.push(key);
        (self.devs.len() - 1).min(u16::MAX as usize) as u16
    }

    pub(crate) fn push_node(&mut self, ev: &Event, parent: u32, flags: u8) -> u32 {
        let dev = self.intern_dev(ev.netns, ev.ifindex);
        let fields = match ev.fields() {
            [] => NO_FIELDS,
            vals => {
                let FieldValues(all) = self.fields.get_or_insert_with(Box::default).as_mut();
                let start = all.len() as u32;
                all.push(vals.len() as u64);
                all.extend_from_slice(vals);
                start
            }
        };
        self.nodes.push(Node {
            ts: ev.ts_ns,
            ret: if ev.kind == Kind::Entry { 0 } else { ev.ret },
            dur: 0,
            func: ev.func,
            parent,
            len: ev.len,
            tid: ev.tid,
            cpu: ev.cpu,
            clone: ev.clone,
            dev,
            ctx: ev.ctx,
            flags,
            fields,
        });
        (self.nodes.len() - 1) as u32
    }

    /// Node indices in display order (depth first, children in arrival order) with their depth.
    pub fn preorder(&self) -> Vec<(u32, u16)> {
        let n = self.nodes.len();
        let mut first_child = vec![ROOT; n];
        let mut next_sibling = vec![ROOT; n];
        let mut last_child = vec![ROOT; n];
        let (mut first_root, mut last_root) = (ROOT, ROOT);
        for (i, node) in self.nodes.iter().enumerate() {
            let i = i as u32;
            let (first, last) = if node.parent == ROOT {
                (&mut first_root, &mut last_root)
            } else {
                let p = node.parent as usize;
                (&mut first_child[p], &mut last_child[p])
            };
            if *last == ROOT {
                *first = i;
            } else {
                next_sibling[*last as usize] = i;
            }
            *last = i;
        }
        let mut out = Vec::with_capacity(n);
        let mut stack: Vec<(u32, u16)> = Vec::new();
        let mut cur = (first_root, 0u16);
        loop {
            while cur.0 != ROOT {
                out.push(cur);
                stack.push(cur);
                cur = (first_child[cur.0 as usize], cur.1 + 1);
            }
            match stack.pop() {
                Some((i, d)) => cur = (next_sibling[i as usize], d),
                None => break,
            }
        }
        out
    }

    /// Direct children of `node` in arrival order.
    pub fn children(&self, node: u32) -> impl Iterator<Item = u32> + '_ {
        self.nodes
            .iter()
            .enumerate()
            .skip(node as usize + 1)
            .filter(move |(_, n)| n.parent == node)
            .map(|(i, _)| i as u32)
    }
}
