//! `-f perfetto`: the calls as a Perfetto protobuf trace (ui.perfetto.dev, trace_processor).
//!
//! One track per CPU, each call a slice with its duration, nested as the tree nests it
//! (a call stack lives on one CPU; the context is the slice's category), tracepoints and
//! calls missing an entry or exit as instants, a flow arrow from each of a packet's
//! outermost calls to its next one (across CPUs and contexts), and under a `packets` track
//! one track per packet with a slice for its lifetime.
//!
//! Protobuf rather than Perfetto's JSON trace-event format: Perfetto reads JSON on a
//! best-effort basis (no flows between tracks of different processes, sorting quirks),
//! while the protobuf TrackEvent is its native format.

use std::io::Write;

use prost::Message;
use vrft_events::session::SessionInfo;
use vrft_ui::format;
use vrft_ui::model::{node_flags as nf, Node, Packet, ROOT};

use super::Source;

/// The few messages of Perfetto's `protos/perfetto/trace/perfetto_trace.proto` we write,
/// with its field numbers (tests decode our output with that file itself).
pub mod proto {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TracePacket {
        #[prost(uint64, optional, tag = "8")]
        pub timestamp: Option<u64>,
        #[prost(uint32, optional, tag = "10")]
        pub trusted_packet_sequence_id: Option<u32>,
        #[prost(message, optional, tag = "11")]
        pub track_event: Option<TrackEvent>,
        #[prost(uint32, optional, tag = "13")]
        pub sequence_flags: Option<u32>,
        #[prost(message, optional, tag = "60")]
        pub track_descriptor: Option<TrackDescriptor>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TrackEvent {
        #[prost(message, repeated, tag = "4")]
        pub debug_annotations: Vec<DebugAnnotation>,
        #[prost(int32, optional, tag = "9")]
        pub r#type: Option<i32>,
        #[prost(uint64, optional, tag = "11")]
        pub track_uuid: Option<u64>,
        #[prost(string, repeated, tag = "22")]
        pub categories: Vec<String>,
        #[prost(string, optional, tag = "23")]
        pub name: Option<String>,
        #[prost(fixed64, repeated, packed = "false", tag = "47")]
        pub flow_ids: Vec<u64>,
    }

    /// `TrackEvent.Type`.
    pub const SLICE_BEGIN: i32 = 1;
    pub const SLICE_END: i32 = 2;
    pub const INSTANT: i32 = 3;

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TrackDescriptor {
        #[prost(uint64, optional, tag = "1")]
        pub uuid: Option<u64>,
        #[prost(string, optional, tag = "2")]
        pub name: Option<String>,
        #[prost(uint64, optional, tag = "5")]
        pub parent_uuid: Option<u64>,
        /// `ChildTracksOrdering`: 2 is CHRONOLOGICAL.
        #[prost(int32, optional, tag = "11")]
        pub child_ordering: Option<i32>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct DebugAnnotation {
        #[prost(uint64, optional, tag = "3")]
        pub uint_value: Option<u64>,
        #[prost(int64, optional, tag = "4")]
        pub int_value: Option<i64>,
        #[prost(string, optional, tag = "6")]
        pub string_value: Option<String>,
        #[prost(string, optional, tag = "10")]
        pub name: Option<String>,
    }

    /// `SEQ_INCREMENTAL_STATE_CLEARED`: set on the first packet of our one sequence.
    pub const SEQ_CLEARED: u32 = 1;
}

use proto::{DebugAnnotation, TracePacket, TrackDescriptor, TrackEvent};

/// Our one packet sequence.
const SEQUENCE: u32 = 1;
/// Track uuids: CPU tracks are `CPU_TRACK + (host << 16) + cpu` (host: 0 but in merged
/// recordings), packet lifetimes `PACKET_TRACK + id`
/// under `PACKETS`.
const CPU_TRACK: u64 = 1 << 32;
const PACKETS: u64 = 2 << 32;
const PACKET_TRACK: u64 = 3 << 32;

/// A packet's flow id: non-zero, and apart from anything else in the trace.
pub fn flow_id(packet: u32) -> u64 {
    (1 << 40) | u64::from(packet)
}

/// One call or hit, placed on its CPU's track.
struct Item<'a> {
    begin: u64,
    /// `None`: an instant.
    end: Option<u64>,
    p: &'a Packet,
    node: u32,
}

pub fn write(src: &Source, out: &mut dyn Write) -> std::io::Result<()> {
    let mut w = Writer { out, first: true };
    // A CPU of one host: merged recordings have a CPU 0 each.
    let host = |n: &Node| src.info.host_of(n.func).map_or(0, |(k, _)| k as u64);
    let mut cpus: Vec<(u64, u16)> = src
        .packets
        .iter()
        .flat_map(|p| p.nodes.iter().map(|n| (host(n), n.cpu)))
        .collect();
    cpus.sort_unstable();
    cpus.dedup();
    let track = |(h, cpu): (u64, u16)| CPU_TRACK + (h << 16) + u64::from(cpu);
    for &(h, cpu) in &cpus {
        let name = match src.info.hosts.get(h as usize) {
            Some(part) => format!("{} CPU {cpu}", part.label),
            None => format!("CPU {cpu}"),
        };
        w.track(track((h, cpu)), name, None)?;
    }
    w.track(PACKETS, "packets".into(), None)?;
    for p in &src.packets {
        lifetime(&mut w, src.info, p)?;
    }
    for &key in &cpus {
        let mut items: Vec<Item> = src
            .packets
            .iter()
            .flat_map(|p| {
                p.nodes
                    .iter()
                    .enumerate()
                    .filter(move |(_, n)| (host(n), n.cpu) == key)
                    .map(move |(i, n)| Item {
                        begin: n.ts,
                        end: n.duration().map(|d| n.ts + d),
                        p,
                        node: i as u32,
                    })
            })
            .collect();
        // Outer calls first when two begin together; a parent precedes its children.
        items.sort_by_key(|it| (it.begin, std::cmp::Reverse(it.end.unwrap_or(0)), it.node));
        cpu_track(&mut w, src.info, track(key), &items)?;
    }
    Ok(())
}

/// Writes a CPU track's calls as begin/end pairs that nest. A call that would overlap the
/// enclosing one without nesting (its thread was preempted mid-call and another ran)
/// becomes an instant rather than a slice Perfetto would have to cut.
fn cpu_track(
    w: &mut Writer,
    info: &SessionInfo,
    track: u64,
    items: &[Item],
) -> std::io::Result<()> {
    let mut open: Vec<u64> = Vec::new();
    for it in items {
        while open.last().is_some_and(|&end| end <= it.begin) {
            let end = open.pop().unwrap_or_default();
            w.event(
                end,
                track,
                proto::SLICE_END,
                None,
                Vec::new(),
                Vec::new(),
                Vec::new(),
            )?;
        }
        let n = &it.p.nodes[it.node as usize];
        let nests = match (it.end, open.last()) {
            (Some(end), Some(&outer)) => end <= outer,
            (Some(_), None) => true,
            (None, _) => false,
        };
        let ty = if nests {
            proto::SLICE_BEGIN
        } else {
            proto::INSTANT
        };
        let flows = if outermost(it.p, n) {
            vec![flow_id(it.p.id)]
        } else {
            Vec::new()
        };
        let name = info
            .functions
            .get(n.func as usize)
            .map_or_else(|| format!("func#{}", n.func), |f| f.name.clone());
        let cats = vec![format::ctx_name(n.ctx).to_string()];
        w.event(
            it.begin,
            track,
            ty,
            Some(name),
            cats,
            args(it.p, info, it.node),
            flows,
        )?;
        if nests {
            open.push(it.end.unwrap_or(it.begin));
        }
    }
    while let Some(end) = open.pop() {
        w.event(
            end,
            track,
            proto::SLICE_END,
            None,
            Vec::new(),
            Vec::new(),
            Vec::new(),
        )?;
    }
    Ok(())
}

/// A call with no enclosing call of its packet on the same CPU: where a flow arrow lands.
fn outermost(p: &Packet, n: &Node) -> bool {
    n.parent == ROOT || p.nodes[n.parent as usize].cpu != n.cpu
}

/// A packet's lifetime, on its own track under `packets`.
fn lifetime(w: &mut Writer, info: &SessionInfo, p: &Packet) -> std::io::Result<()> {
    let track = PACKET_TRACK + u64::from(p.id);
    let title = format!("packet {} {}", p.id, format::flow_text(p));
    w.track(track, title.clone(), Some(PACKETS))?;
    let mut a = vec![
        uint("packet", p.id.into()),
        string("path", format::dev_path(p, info)),
        uint("calls", p.nodes.len() as u64),
    ];
    if let Some(f) = format::fate(p, info) {
        a.push(string("fate", f));
    }
    w.event(
        p.first_ts,
        track,
        proto::SLICE_BEGIN,
        Some(title),
        Vec::new(),
        a,
        Vec::new(),
    )?;
    w.event(
        p.last_ts,
        track,
        proto::SLICE_END,
        None,
        Vec::new(),
        Vec::new(),
        Vec::new(),
    )
}

/// A call's args: packet id, clone, context, device, skb->len, return value, skb fields.
fn args(p: &Packet, info: &SessionInfo, node: u32) -> Vec<DebugAnnotation> {
    let n = &p.nodes[node as usize];
    let mut a = vec![
        uint("packet", p.id.into()),
        uint("clone", n.clone.into()),
        uint("tid", n.tid.into()),
        string("device", format::dev_text(info, p.dev(n))),
        uint("len", n.len.into()),
    ];
    if n.has(nf::EXITED) && !n.has(nf::TRACEPOINT) {
        if let Some(r) = format::returned(info, n) {
            a.push(string("ret", r));
        }
    }
    if n.is_broken() {
        a.push(string(
            "broken",
            if n.has(nf::NO_ENTRY) {
                "no entry"
            } else {
                "no exit"
            }
            .into(),
        ));
    }
    for (v, name) in p.fields(n).iter().zip(&info.skb_fields) {
        a.push(uint(name, *v));
    }
    a
}

fn uint(name: &str, v: u64) -> DebugAnnotation {
    DebugAnnotation {
        name: Some(name.into()),
        uint_value: Some(v),
        ..Default::default()
    }
}

fn string(name: &str, v: String) -> DebugAnnotation {
    DebugAnnotation {
        name: Some(name.into()),
        string_value: Some(v),
        ..Default::default()
    }
}

/// Writes `Trace.packet` fields one at a time, so the trace is never whole in memory.
struct Writer<'a> {
    out: &'a mut dyn Write,
    first: bool,
}

impl Writer<'_> {
    fn packet(&mut self, mut p: TracePacket) -> std::io::Result<()> {
        p.trusted_packet_sequence_id = Some(SEQUENCE);
        if std::mem::take(&mut self.first) {
            p.sequence_flags = Some(proto::SEQ_CLEARED);
        }
        // Field 1 of `Trace`, length-delimited.
        self.out.write_all(&[0x0a])?;
        self.out.write_all(&p.encode_length_delimited_to_vec())
    }

    fn track(&mut self, uuid: u64, name: String, parent: Option<u64>) -> std::io::Result<()> {
        self.packet(TracePacket {
            track_descriptor: Some(TrackDescriptor {
                uuid: Some(uuid),
                name: Some(name),
                parent_uuid: parent,
                child_ordering: (uuid == PACKETS).then_some(2),
            }),
            ..Default::default()
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn event(
        &mut self,
        ts: u64,
        track: u64,
        ty: i32,
        name: Option<String>,
        categories: Vec<String>,
        debug_annotations: Vec<DebugAnnotation>,
        flow_ids: Vec<u64>,
    ) -> std::io::Result<()> {
        self.packet(TracePacket {
            timestamp: Some(ts),
            track_event: Some(TrackEvent {
                r#type: Some(ty),
                track_uuid: Some(track),
                name,
                categories,
                debug_annotations,
                flow_ids,
            }),
            ..Default::default()
        })
    }
}
