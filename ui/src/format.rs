//! ftrace function_graph-style text, shared by the tree view and `vrft-tui dump`.
//!
//! A packet becomes a list of [`Row`]s (what to show, in display order, honoring folds);
//! [`row_text`] turns one row into its line, so a view can format only the visible window.

use std::collections::HashSet;

use crate::headers;
use crate::model::{node_flags::*, Node, Packet};
use vrft_events::event::{Context, Headers, Returns};
use vrft_events::session::{PacketKind, SessionInfo};

/// Column header of [`row_text`] lines.
pub fn header() -> String {
    format!(
        "{:>4} {:>12} {:>15} |  FUNCTION CALLS",
        "CPU", "TIME(us)", "DURATION"
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowKind {
    /// `func() {`
    Open,
    /// `}` of an open call.
    Close,
    /// `func();`, a tracepoint, or an exit without entry.
    Leaf,
    /// A folded call: `func() { ... }`.
    Folded,
    /// The packet moved to another CPU or context before `node`, coming from call `from`.
    Separator { from: u32 },
    /// The packet's device or netns changed at `node`.
    Device,
    /// In recordings of several hosts merged: the packet's part on another host starts at `node`.
    Host,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row {
    pub kind: RowKind,
    /// The call this row belongs to (for separators and device rows: the call that follows).
    pub node: u32,
    pub depth: u16,
}

/// ftrace's delay marker: `$` >1 s, `@` >100 ms, `*` >10 ms, `#` >1 ms, `!` >100 us, `+` >10 us.
pub fn marker(ns: u64) -> char {
    match ns {
        n if n > 1_000_000_000 => '$',
        n if n > 100_000_000 => '@',
        n if n > 10_000_000 => '*',
        n if n > 1_000_000 => '#',
        n if n > 100_000 => '!',
        n if n > 10_000 => '+',
        _ => ' ',
    }
}

/// Human duration with a unit that keeps 3-4 significant digits: "812 ns", "12.77 us", "1.204 ms".
pub fn human_ns(ns: u64) -> String {
    match ns {
        n if n < 1_000 => format!("{n} ns"),
        n if n < 1_000_000 => format!("{:.2} us", n as f64 / 1e3),
        n if n < 1_000_000_000 => format!("{:.3} ms", n as f64 / 1e6),
        n => format!("{:.3} s", n as f64 / 1e9),
    }
}

pub fn ctx_name(ctx: Context) -> &'static str {
    match ctx {
        Context::Process => "process",
        Context::SoftIrq => "softirq",
        Context::HardIrq => "hardirq",
        Context::Nmi => "nmi",
    }
}

/// Return values: small ones in decimal (errnos, counts), the rest (pointers) in hex.
pub fn ret_text(ret: i64) -> String {
    if (-65536..=65536).contains(&ret) {
        ret.to_string()
    } else {
        format!("{:#x}", ret as u64)
    }
}

/// The return value of a call as its type says to show it; `None` for `void`
/// (the register holds whatever was left there).
pub fn returned(info: &SessionInfo, node: &Node) -> Option<String> {
    let returns = info
        .functions
        .get(node.func as usize)
        .map_or(Returns::Value, |f| f.returns);
    match returns {
        Returns::Void => None,
        Returns::Bool => Some((node.ret & 0xff != 0).to_string()),
        Returns::Pointer => Some(format!("{:#x}", node.ret as u64)),
        Returns::Value => Some(ret_text(node.ret)),
    }
}

/// `--skb-fields` of a call: "len=98 mark=7"; empty when it has none.
pub fn fields_text(p: &Packet, info: &SessionInfo, node: &Node) -> String {
    p.fields(node)
        .iter()
        .zip(&info.skb_fields)
        .map(|(v, name)| format!("{name}={}", field_value(*v)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Small values in decimal, large ones (hashes, pointers) in hex.
fn field_value(v: u64) -> String {
    if v < 65536 {
        v.to_string()
    } else {
        format!("{v:#x}")
    }
}

/// Device and netns for display: "veth0 (netns 4026531840)"; "-" when neither is known
/// (an skb before it has a device, or after the device was cleared).
pub fn dev_text(info: &SessionInfo, (netns, ifindex): (u32, u32)) -> String {
    if (netns, ifindex) == (0, 0) {
        return "-".into();
    }
    format!(
        "{} (netns {})",
        info.ifname(netns, ifindex),
        info.netns_name(netns)
    )
}

/// `host b (boot 1a2b3c4d, 6.12.74+deb13-amd64, clock +1.234567890 s ± 4.2 us)`.
pub fn host_text(info: &SessionInfo, func: u32) -> String {
    match info.host_of(func) {
        Some((_, h)) => format!(
            "host {} (boot {}, {}, clock {})",
            h.label,
            h.host.boot_id.get(..8).unwrap_or(&h.host.boot_id),
            h.kernel,
            h.clock.describe()
        ),
        None => "host ?".into(),
    }
}

/// The hosts a packet went through, in order: "a>b" (empty for one recording).
pub fn host_path(p: &Packet, info: &SessionInfo) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for n in &p.nodes {
        if let Some((_, h)) = info.host_of(n.func) {
            if !seen.contains(&h.label.as_str()) {
                seen.push(&h.label);
            }
        }
    }
    seen.join(">")
}

/// Rows of `p` in display order; calls in `folded` show as one line.
pub fn rows(p: &Packet, info: &SessionInfo, folded: &HashSet<u32>) -> Vec<Row> {
    let host = |n: &Node| info.host_of(n.func).map(|(k, _)| k);
    let order = p.preorder();
    let mut out = Vec::with_capacity(order.len() * 2);
    // Open calls waiting for their closing row: (node, depth).
    let mut open: Vec<(u32, u16)> = Vec::new();
    let mut skip_below: Option<u16> = None;
    let mut prev: Option<(u32, &Node)> = None;
    for (k, &(i, depth)) in order.iter().enumerate() {
        while let Some(&(o, d)) = open.last() {
            if d < depth {
                break;
            }
            open.pop();
            out.push(Row {
                kind: RowKind::Close,
                node: o,
                depth: d,
            });
        }
        if let Some(limit) = skip_below {
            if depth > limit {
                continue;
            }
            skip_below = None;
        }
        let node = &p.nodes[i as usize];
        let new_host = !info.hosts.is_empty() && prev.is_none_or(|(_, pr)| host(pr) != host(node));
        if new_host {
            out.push(Row {
                kind: RowKind::Host,
                node: i,
                depth,
            });
        } else if let Some((from, prev)) = prev {
            if (prev.cpu, prev.ctx) != (node.cpu, node.ctx) {
                out.push(Row {
                    kind: RowKind::Separator { from },
                    node: i,
                    depth,
                });
            }
        }
        if prev.map_or(p.dev(node).1 != 0, |(_, pr)| pr.dev != node.dev || new_host) {
            out.push(Row {
                kind: RowKind::Device,
                node: i,
                depth,
            });
        }
        prev = Some((i, node));
        let has_children = order.get(k + 1).is_some_and(|&(_, d)| d > depth);
        let kind = if !has_children {
            RowKind::Leaf
        } else if folded.contains(&i) {
            skip_below = Some(depth);
            RowKind::Folded
        } else {
            open.push((i, depth));
            RowKind::Open
        };
        out.push(Row {
            kind,
            node: i,
            depth,
        });
    }
    while let Some((o, d)) = open.pop() {
        out.push(Row {
            kind: RowKind::Close,
            node: o,
            depth: d,
        });
    }
    out
}

/// One function_graph line: CPU, time since the packet's first event, duration, call tree.
pub fn row_text(p: &Packet, info: &SessionInfo, row: &Row) -> String {
    let node = &p.nodes[row.node as usize];
    let indent = "  ".repeat(row.depth as usize + 1);
    let name = info.func_name(node.func);
    let cpu = format!("{:>3})", node.cpu);
    let rel = |ts: u64| format!("{:>12.3}", ts.saturating_sub(p.first_ts) as f64 / 1e3);
    let dur = |n: &Node| match n.duration() {
        Some(d) => format!("{:>15}", format!("{} {:.3} us", marker(d), d as f64 / 1e3)),
        None => " ".repeat(15),
    };
    let blank = " ".repeat(15);
    match row.kind {
        RowKind::Separator { from } => {
            let from = &p.nodes[from as usize];
            format!(
                "{cpu} ------------- cpu {} {} => cpu {} {} -------------",
                from.cpu,
                ctx_name(from.ctx),
                node.cpu,
                ctx_name(node.ctx)
            )
        }
        RowKind::Host => format!("{cpu} ===== {} =====", host_text(info, node.func)),
        RowKind::Device => format!(
            "{cpu} {} {blank} |{indent}/* dev {} */",
            rel(node.ts),
            dev_text(info, p.dev(node))
        ),
        RowKind::Open => {
            let fields = fields_text(p, info, node);
            let tail = if fields.is_empty() {
                String::new()
            } else {
                format!(" /* {fields} */")
            };
            format!("{cpu} {} {blank} |{indent}{name}() {{{tail}", rel(node.ts))
        }
        RowKind::Close => {
            let tail = if node.has(EXITED) {
                match returned(info, node) {
                    Some(v) => format!("/* {name} = {v} */"),
                    None => format!("/* {name} */"),
                }
            } else {
                format!("/* {name}: {} */", missing_exit(node))
            };
            let ts = node.exit_ts().map_or(" ".repeat(12), rel);
            format!("{cpu} {ts} {} |{indent}}} {tail}", dur(node))
        }
        RowKind::Folded => {
            let tail = if node.has(EXITED) {
                returned(info, node).map_or(String::new(), |v| format!("/* = {v} */"))
            } else {
                format!("/* {} */", missing_exit(node))
            };
            format!(
                "{cpu} {} {} |{indent}{name}() {{ ... }} {tail}",
                rel(node.ts),
                dur(node)
            )
        }
        RowKind::Leaf => {
            let fields = fields_text(p, info, node);
            let sep = if fields.is_empty() { "" } else { "  " };
            let text = if node.has(TRACEPOINT) {
                if node.has(DROP) {
                    format!(
                        "/* {name} reason={}{sep}{fields} */",
                        info.drop_reason(node.ret)
                    )
                } else {
                    let now = header_change(p, row.node)
                        .map_or(String::new(), |h| format!("  headers now: {h}"));
                    format!("/* {name} len={}{sep}{fields}{now} */", node.len)
                }
            } else if node.has(NO_ENTRY) {
                match returned(info, node) {
                    Some(v) => format!("{name}(); /* no entry, = {v} */"),
                    None => format!("{name}(); /* no entry */"),
                }
            } else if node.has(EXITED) {
                match returned(info, node) {
                    Some(v) => format!("{name}(); /* = {v}{sep}{fields} */"),
                    None if fields.is_empty() => format!("{name}();"),
                    None => format!("{name}(); /* {fields} */"),
                }
            } else {
                format!("{name}(); /* {}{sep}{fields} */", missing_exit(node))
            };
            format!("{cpu} {} {} |{indent}{text}", rel(node.ts), dur(node))
        }
    }
}

fn missing_exit(node: &Node) -> &'static str {
    if node.has(TOO_DEEP) {
        "too deep: exit not followed"
    } else if node.has(LOST_EXIT) {
        "no exit"
    } else {
        "running"
    }
}

/// One-line summary of a packet, used as the dump header.
pub fn packet_summary(p: &Packet, info: &SessionInfo) -> String {
    let hosts = host_path(p, info);
    let hosts = if hosts.is_empty() {
        String::new()
    } else {
        format!("  hosts {hosts}")
    };
    let mut s = format!(
        "packet {}{hosts}  first seen {:.6} s  cpu {}  {}  flow {}  calls {}  dur {}",
        info.packet_label(p.id),
        p.first_ts as f64 / 1e9,
        p.cpu,
        dev_path(p, info),
        flow_text(p),
        p.nodes.len(),
        human_ns(p.duration())
    );
    if let Some(t) = task_text(p) {
        s += &format!("  task {t}");
    }
    if let Some(f) = fate(p, info) {
        s += &format!("  {f}");
    }
    if p.incomplete() {
        s += "  INCOMPLETE";
    }
    s
}

/// The tree pane's title: the same facts as [`packet_summary`], what became of the packet
/// first, so a pane narrower than the whole line still shows it. `first_seen` is the time
/// as the list shows it (relative, wall clock or since boot).
pub fn packet_title(p: &Packet, info: &SessionInfo, first_seen: &str) -> String {
    let mut s = format!("packet {}", info.packet_label(p.id));
    let hosts = host_path(p, info);
    if !hosts.is_empty() {
        s += &format!("  hosts {hosts}");
    }
    if let Some(f) = fate(p, info) {
        s += &format!("  {f}");
    }
    if p.incomplete() {
        s += "  INCOMPLETE";
    }
    let flow = flow_text(p);
    if flow != "-" {
        s += &format!("  {flow}");
    }
    s += &format!(
        "  {}  calls {}  dur {}  cpu {}  first seen {first_seen}",
        dev_path(p, info),
        p.nodes.len(),
        human_ns(p.duration()),
        p.cpu,
    );
    if let Some(t) = task_text(p) {
        s += &format!("  task {t}");
    }
    s
}

/// What became of a packet the kernel freed with a reason: "DROP NO_SOCKET" when nothing of
/// it was delivered, "delivered, original freed: NO_SOCKET" when a clone reached a socket.
pub fn fate(p: &Packet, info: &SessionInfo) -> Option<String> {
    let r = info.drop_reason(p.drop_reason?.into());
    Some(if p.lost() {
        format!("DROP {r}")
    } else {
        format!("delivered, original freed: {r}")
    })
}

/// The flow column: what the packet's headers say (see [`list_headers`]), else its IP
/// flow; for what is no network packet, its kind ("netlink", "unix", "other"); "-" for a
/// network packet whose headers were never read.
pub fn flow_text(p: &Packet) -> String {
    if let Some(s) = list_headers(p).and_then(headers::summary) {
        return s;
    }
    match (&p.flow, p.kind()) {
        (Some(f), _) => f.to_string(),
        (None, PacketKind::Network) => "-".into(),
        (None, k) => k.name().into(),
    }
}

/// The header snapshot the packet list shows: the first that has a tunnel header (so an
/// overlay packet shows its outer addresses and VNI whichever way it goes), else the first.
/// The tree marks every change ([`header_change`]).
pub fn list_headers(p: &Packet) -> Option<&Headers> {
    let all = p.headers();
    all.iter()
        .find(|(_, h)| headers::tunnel(h).is_some())
        .or(all.first())
        .map(|(_, h)| h)
}

/// What the headers became at `node`, when they changed there (encapsulation,
/// decapsulation, NAT). The tracer also snapshots a packet on each new device, with the
/// same headers: those are no change.
pub fn header_change(p: &Packet, node: u32) -> Option<String> {
    let all = p.headers();
    let i = all.iter().position(|(n, _)| *n == node)?;
    let summary = |h| headers::summary(h).unwrap_or_else(|| "unreadable".into());
    let now = summary(&all[i].1);
    (i > 0 && summary(&all[i - 1].1) != now).then_some(now)
}

/// Who ran the packet: `ping[812]`, the process of its first call in process context.
pub fn task_text(p: &Packet) -> Option<String> {
    p.task().map(|(_, t)| format!("{}[{}]", t.comm, t.pid))
}

/// The interfaces the packet went through, in order: "veth0>veth1".
pub fn dev_path(p: &Packet, info: &SessionInfo) -> String {
    let names: Vec<String> = p
        .devs
        .iter()
        .filter(|d| d.1 != 0)
        .map(|&(ns, ifi)| info.ifname(ns, ifi))
        .collect();
    if names.is_empty() {
        "-".into()
    } else {
        names.join(">")
    }
}

/// The whole packet as plain text (for `vrft-tui dump`): a summary, the column header, and
/// every row unfolded.
pub fn function_graph(p: &Packet, info: &SessionInfo) -> Vec<String> {
    let mut out = vec![
        format!("# {}", packet_summary(p, info)),
        format!("# {}", header()),
    ];
    out.extend(
        rows(p, info, &HashSet::new())
            .iter()
            .map(|r| row_text(p, info, r)),
    );
    out
}

/// Wall-clock time of a monotonic timestamp, in local time as `tcpdump -tttt` prints it
/// (`2026-12-04 10:15:02.123456`). `realtime_offset_ns` is [`SessionInfo::realtime_offset_ns`].
pub fn wall_clock(ts_ns: u64, realtime_offset_ns: i64) -> String {
    let unix_ns = ts_ns as i64 + realtime_offset_ns;
    chrono::DateTime::from_timestamp_nanos(unix_ns)
        .with_timezone(&chrono::Local)
        .format("%Y-%m-%d %H:%M:%S%.6f")
        .to_string()
}

#[cfg(test)]
mod wall_clock_tests {
    #[test]
    fn wall_clock_adds_the_offset() {
        std::env::set_var("TZ", "UTC");
        // 1 s after boot, booted at 2026-12-04 10:00:00 UTC.
        let s = super::wall_clock(1_000_000_000, 1_796_378_399_000_000_000);
        assert_eq!(s, "2026-12-04 10:00:00.000000");
    }
}
