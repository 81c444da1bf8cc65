//! Two hosts' recordings merged (issue 19), checked on what the two-guest bed recorded: the
//! clock estimate within bounds computed here from the raw recordings, each datagram one
//! packet from the sender's socket to the receiver's socket, the sender's part first, the
//! wire in the latency view, and the same in `dump` and in `replay` in a real terminal.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use vrft_events::event::{Context, Kind};
use vrft_events::merge;
use vrft_events::record::Recording;
use vrft_ui::format;
use vrft_ui::latency::{self, HopKind};
use vrft_ui::model::{Model, Packet};

// Shared with tests/tmux_replay.rs, which uses the parts this file does not.
#[allow(dead_code)]
#[path = "../common/tmux.rs"]
mod tmux;

const BIN: &str = env!("CARGO_BIN_EXE_vrft-tui");

/// One direction of the bed's traffic: payload ids sent from `from` to `to`.
pub struct Sent {
    pub from: &'static str,
    pub to: &'static str,
    pub ids: std::ops::RangeInclusive<u32>,
}

/// Per payload id of `rec`: (first event, last `net:net_dev_start_xmit`, starts in a process).
fn times(rec: &Recording) -> BTreeMap<u32, (u64, Option<u64>, bool)> {
    let info = &rec.header.info;
    let mut out: BTreeMap<u32, (u64, Option<u64>, bool)> = BTreeMap::new();
    let mut events: Vec<_> = rec
        .events
        .iter()
        .filter(|e| e.packet & 1 << 31 == 0)
        .collect();
    events.sort_by_key(|e| e.ts_ns);
    for e in events {
        let t = out
            .entry(e.packet)
            .or_insert((e.ts_ns, None, e.ctx == Context::Process));
        if e.kind == Kind::Tracepoint && info.func_name(e.func) == "net:net_dev_start_xmit" {
            t.1 = Some(e.ts_ns);
        }
    }
    out
}

/// The bounds of b's clock offset (added to b's times) from the raw recordings: a packet
/// from a left a (its last driver transmit) before b first saw it; one from b the reverse.
fn bounds(a: &Recording, b: &Recording) -> (Option<i64>, Option<i64>) {
    let (ta, tb) = (times(a), times(b));
    let (mut lower, mut upper) = (None::<i64>, None::<i64>);
    for (id, &(a_first, a_xmit, a_sent)) in &ta {
        let Some(&(b_first, b_xmit, b_sent)) = tb.get(id) else {
            continue;
        };
        if a_sent && !b_sent {
            let l = a_xmit.unwrap_or(a_first) as i64 - b_first as i64;
            lower = Some(lower.map_or(l, |x| x.max(l)));
        } else if b_sent && !a_sent {
            let u = a_first as i64 - b_xmit.unwrap_or(b_first) as i64;
            upper = Some(upper.map_or(u, |x| x.min(u)));
        }
    }
    (lower, upper)
}

/// Everything issue 19 asks of the merge, on recordings `a` and `b` of hosts `a` and `b`.
/// Returns a summary line for the log.
pub fn check_merged(a: &Path, b: &Path, sent: &[Sent], work: &Path) -> Result<String, String> {
    let read = |p: &Path| Recording::read(p).map_err(|e| format!("{e:#}"));
    let (ra, rb) = (read(a)?, read(b)?);
    let (lower, upper) = bounds(&ra, &rb);
    let m = merge::merge(vec![(a.to_path_buf(), ra), (b.to_path_buf(), rb)], &[])?;
    let info = &m.header.info;
    let clock = &info.hosts[1].clock;
    let off = clock.offset_ns;
    if lower.is_some_and(|l| off < l) || upper.is_some_and(|u| off > u) {
        return Err(format!(
            "b's clock offset {off} ns is outside the measured bounds [{lower:?}, {upper:?}]"
        ));
    }
    if lower.is_none() || upper.is_none() {
        return Err(format!(
            "traffic both ways should bound both sides: {lower:?} {upper:?}"
        ));
    }

    let model = Model::from_events(info, &m.events);
    let roles = latency::Roles::new(info);
    let by_id: BTreeMap<u32, &Packet> = model.packets().iter().map(|p| (p.id, p)).collect();
    let host = |p: &Packet, i: usize| info.host_of(p.nodes[i].func).map(|(_, h)| h.label.clone());
    for s in sent {
        for id in s.ids.clone() {
            let p = by_id
                .get(&id)
                .ok_or_else(|| format!("payload id {id} is not a packet of the merge"))?;
            let path = format::host_path(p, info);
            let want = format!("{}>{}", s.from, s.to);
            if path != want {
                return Err(format!("packet {id}: hosts {path}, want {want}"));
            }
            // The sender's part first, whole, then the receiver's.
            let first_other = (0..p.nodes.len())
                .position(|i| host(p, i).as_deref() != Some(s.from))
                .ok_or_else(|| format!("packet {id}: nothing on {}", s.to))?;
            if (first_other..p.nodes.len()).any(|i| host(p, i).as_deref() != Some(s.to)) {
                return Err(format!("packet {id}: the hosts' parts interleave"));
            }
            let names = |r: std::ops::Range<usize>| -> Vec<&str> {
                r.map(|i| info.func_name(p.nodes[i].func)).collect()
            };
            let (sender, receiver) = (names(0..first_other), names(first_other..p.nodes.len()));
            // From the socket's send, or the first probe after the filter matched (a
            // `udp dst port` filter matches once udp_send_skb wrote the header).
            if p.nodes[0].ctx != Context::Process || !sender.contains(&"ip_send_skb") {
                return Err(format!(
                    "packet {id}: {}'s part does not start at the socket's send: {sender:?}",
                    s.from
                ));
            }
            if !receiver.contains(&"__udp_enqueue_schedule_skb") {
                return Err(format!(
                    "packet {id}: {}'s part does not reach the socket: {receiver:?}",
                    s.to
                ));
            }
            // In the aligned clock the receiver starts after the sender's first call.
            if p.nodes[first_other].ts < p.nodes[0].ts {
                return Err(format!(
                    "packet {id}: {} starts before {} sent it",
                    s.to, s.from
                ));
            }
            // Past the wire, the receiver's first stage is measured from its first call, in
            // the driver's NAPI poll (softirq).
            let hops = latency::hops(p, &roles, info);
            let after = hops
                .iter()
                .skip_while(|h| h.kind != HopKind::Wire)
                .nth(1)
                .ok_or_else(|| format!("packet {id}: no hop after the wire"))?;
            let first_stage = after.stages().next();
            let from_first = first_stage
                .as_ref()
                .is_some_and(|(_, b, _)| b.node as usize == first_other);
            if p.nodes[first_other].ctx != Context::SoftIrq || !from_first {
                return Err(format!(
                    "packet {id}: {}'s first stage {:?} is not measured from its first call, \
                     {} in {:?}",
                    s.to,
                    first_stage.map(|(name, _, _)| name),
                    receiver[0],
                    p.nodes[first_other].ctx
                ));
            }
        }
    }
    let total: usize = sent.iter().map(|s| s.ids.clone().count()).sum();
    let lat = latency::compute(model.packets().iter(), &roles, info);
    let wire = lat
        .kinds
        .iter()
        .find(|k| k.kind == HopKind::Wire)
        .ok_or("no wire hop in the latency view")?;
    if wire.packets < total {
        return Err(format!(
            "the wire hop has {} packets, want {total}",
            wire.packets
        ));
    }

    // The command line: every id once in `dump --oneline`, with its hosts.
    let out = Command::new(BIN)
        .args(["dump", "--oneline"])
        .arg(a)
        .arg(b)
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    for s in sent {
        for id in s.ids.clone() {
            let want = format!(" {id} hosts {}>{} ", s.from, s.to);
            let n = text.lines().filter(|l| l.contains(&want)).count();
            if n != 1 {
                return Err(format!("dump --oneline shows '{want}' {n} times:\n{text}"));
            }
        }
    }
    let tree = Command::new(BIN)
        .args(["dump", "--packet", "1"])
        .arg(a)
        .arg(b)
        .output()
        .map_err(|e| e.to_string())?;
    let tree = String::from_utf8_lossy(&tree.stdout).into_owned();
    std::fs::write(work.join("merged-packet-1.txt"), &tree).map_err(|e| e.to_string())?;
    for marker in ["===== host a (", "===== host b ("] {
        if !tree.contains(marker) {
            return Err(format!("dump of packet 1 lacks '{marker}':\n{tree}"));
        }
    }

    // A real terminal: the list's HOSTS column, then the latency view's wire row.
    let t = tmux::Tmux::start(
        160,
        45,
        &format!("{BIN} replay {} {}; sleep 30", a.display(), b.display()),
    );
    let list = t.try_wait("the merged packet list", |s| {
        s.contains("HOSTS") && s.lines().any(|l| l.contains(" a>b "))
    })?;
    t.key("2");
    let lat_screen = t.try_wait("the wire row", |s| s.contains("wire"))?;
    t.key("q");
    std::fs::write(
        work.join("merged-replay.txt"),
        format!("{list}\n{lat_screen}"),
    )
    .map_err(|e| e.to_string())?;
    Ok(format!(
        "merged {total} datagrams; b's clock {} (bounds {lower:?}..{upper:?}); wire p50 {:?} ns",
        clock.describe(),
        wire.total.percentile(50)
    ))
}
