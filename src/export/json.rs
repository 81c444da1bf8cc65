//! `-f json`: one object per packet (JSON Lines) with its calls nested as in the tree.
//! The lines follow `schema.json` (`vrft-tui export --schema`); `version` changes only
//! when a field changes meaning or goes away, never when one is added.

use std::io::Write;

use serde_json::{json, Map, Value};
use vrft_events::session::SessionInfo;
use vrft_events::Origin;
use vrft_ui::format;
use vrft_ui::model::{node_flags as nf, Node, Packet, ROOT};

use super::Source;

/// The version of the lines' shape, written in every line.
pub const VERSION: u32 = 1;

/// The JSON Schema of a line.
pub const SCHEMA: &str = include_str!("schema.json");

pub fn write(src: &Source, out: &mut dyn Write) -> std::io::Result<()> {
    for p in &src.packets {
        serde_json::to_writer(&mut *out, &packet(p, src.info))?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// One packet as its JSON line.
pub fn packet(p: &Packet, info: &SessionInfo) -> Value {
    let mut children: Vec<Vec<u32>> = vec![Vec::new(); p.nodes.len()];
    let mut roots = Vec::new();
    for (i, n) in p.nodes.iter().enumerate() {
        match n.parent {
            ROOT => roots.push(i as u32),
            parent => children[parent as usize].push(i as u32),
        }
    }
    let devices: Vec<Value> = p
        .devs
        .iter()
        .map(|&(netns, ifindex)| {
            json!({
                "netns": netns,
                "netns_name": info.netns_name(netns),
                "ifindex": ifindex,
                "name": (ifindex != 0).then(|| info.ifname(netns, ifindex)),
            })
        })
        .collect();
    let headers: Vec<Value> = p
        .headers()
        .iter()
        .map(|(node, h)| {
            json!({
                "call": node,
                "ethertype": h.ethertype,
                "net_offset": h.net_offset,
                "bytes": hex(&h.bytes),
            })
        })
        .collect();
    let mut line = json!({
        "version": VERSION,
        "id": p.id,
        "first_ts_ns": p.first_ts,
        "last_ts_ns": p.last_ts,
        "wall_clock": info.realtime_offset_ns.map(|off| format::wall_clock(p.first_ts, off)),
        "kind": p.kind().name(),
        "summary": format::flow_text(p),
        "flow": p.flow.as_ref().map(|f| json!({
            "proto": f.proto,
            "src": f.src.to_string(),
            "dst": f.dst.to_string(),
            "sport": f.sport,
            "dport": f.dport,
        })),
        "devices": devices,
        "headers": headers,
        "task": p.task().map(|(_, t)| json!({"pid": t.pid, "comm": t.comm})),
        "marks": {
            "dropped": p.dropped(),
            "drop_reason": p.drop_reason.map(|r| info.drop_reason(r.into())),
            "delivered": p.delivered(),
            "incomplete": p.incomplete(),
        },
        "calls": roots.iter().map(|&i| call(p, info, &children, i)).collect::<Vec<_>>(),
    });
    // Recordings of several hosts merged: which hosts, and the id as shown ("17#2").
    if !info.hosts.is_empty() {
        line["label"] = json!(info.packet_label(p.id));
        line["hosts"] = json!(format::host_path(p, info).split('>').collect::<Vec<_>>());
    }
    line
}

fn call(p: &Packet, info: &SessionInfo, children: &[Vec<u32>], i: u32) -> Value {
    let n = &p.nodes[i as usize];
    let f = info.functions.get(n.func as usize);
    let fields: Map<String, Value> = p
        .fields(n)
        .iter()
        .zip(&info.skb_fields)
        .map(|(v, name)| (name.clone(), json!(v)))
        .collect();
    let mut c = json!({
        "id": i,
        "func": f.map_or_else(|| format!("func#{}", n.func), |f| f.name.clone()),
        "origin": f.map_or("unknown".into(), |f| match &f.origin {
            Origin::Tracepoint => "tracepoint".to_string(),
            o => o.to_string(),
        }),
        "ts_ns": n.ts,
        "dur_ns": n.duration(),
        "ret": (n.has(nf::EXITED) && !n.has(nf::TRACEPOINT)).then_some(n.ret),
        "cpu": n.cpu,
        "ctx": format::ctx_name(n.ctx),
        "tid": n.tid,
        "clone": n.clone,
        "len": n.len,
        "device": n.dev,
        "fields": fields,
        "marks": marks(n),
        "calls": children[i as usize]
            .iter()
            .map(|&c| call(p, info, children, c))
            .collect::<Vec<_>>(),
    });
    if let Some((_, h)) = info.host_of(n.func) {
        c["host"] = json!(h.label);
    }
    c
}

/// The node's flags by name, for `select(.marks | index("drop"))`.
fn marks(n: &Node) -> Vec<&'static str> {
    const NAMES: [(u8, &str); 7] = [
        (nf::TRACEPOINT, "tracepoint"),
        (nf::FIRST_SEEN, "first_seen"),
        (nf::FREED, "freed"),
        (nf::DROP, "drop"),
        (nf::NO_ENTRY, "no_entry"),
        (nf::LOST_EXIT, "no_exit"),
        (nf::TOO_DEEP, "too_deep"),
    ];
    NAMES
        .iter()
        .filter(|(f, _)| n.has(*f))
        .map(|(_, name)| *name)
        .collect()
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
