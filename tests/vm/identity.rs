//! Packet identity with every function probed (issue 13): one packet per datagram, from its
//! construction to its free; clones inside their packet; addresses the allocator hands out
//! again start new packets; drops that are drops.

use std::collections::HashSet;

use vrft_events::record::Recording;
use vrft_events::session::SessionInfo;
use vrft_ui::model::{node_flags, Model, Node, Packet, ROOT};

use super::filtering::{flow_text, packets_of};
use super::scenario::Outcome;
use super::tracing::Tree;

/// Functions that build an sk_buff in place, or fill a clone or copy from
/// another: a packet made only of these is a fragment of another packet.
const CONSTRUCTION: [&str; 7] = [
    "__build_skb_around",
    "build_skb_around",
    "__finalize_skb_around",
    "kmalloc_reserve",
    "__skb_clone",
    "__copy_skb_header",
    "skb_copy_header",
];

/// The outlines of the packets whose every call is `part`: fragments of other packets.
pub fn made_only_of(
    model: &Model,
    info: &SessionInfo,
    part: impl Fn(&Node) -> bool,
) -> Vec<String> {
    model
        .packets()
        .iter()
        .filter(|p| p.nodes.iter().all(&part))
        .map(|p| {
            format!(
                "{}: {}",
                p.id,
                Tree { p, info }.outline().replace('\n', " ")
            )
        })
        .collect()
}

/// The datagrams of one flow, as the recording should hold them.
pub struct Datagrams {
    /// What the packet's flow text starts and ends with, e.g. ("udp 10.11.0.1:", ">10.11.0.2:7777").
    pub flow: (String, String),
    pub sent: usize,
    /// Calls to `udp_rcv` in one datagram's life: 2 for VXLAN (outer, then inner).
    pub receives: usize,
    /// The recording counted recursion misses: the kprobe backend (and fsession on 7.2, seen
    /// once: 12 misses, one datagram's receive ending at ip_local_deliver) loses a whole
    /// softirq that the kernel runs on the way out of an interrupt which hit one of its
    /// programs. Fewer receives, and no free after them, are then a counted loss, not a
    /// wrong tree; more receives are always wrong. Likewise a start lost to a preempted
    /// task's guard (see [`datagrams`]).
    pub misses: bool,
}

/// Exactly one packet per datagram, each from its construction on, sent once, received
/// `receives` times, and nothing recorded after its last free.
pub fn datagrams<'m>(
    model: &'m Model,
    info: &SessionInfo,
    want: &Datagrams,
) -> Result<Vec<&'m Packet>, String> {
    let name = |n: &Node| info.func_name(n.func).to_string();
    let (head, tail) = &want.flow;
    let found = packets_of(model, head, tail);
    if found.len() != want.sent {
        let ids: Vec<u32> = found.iter().map(|p| p.id).collect();
        return Err(format!(
            "{} packets carry the flow {head}..{tail} (ids {ids:?}), want one per datagram: {}",
            found.len(),
            want.sent
        ));
    }
    for p in &found {
        let tree = Tree { p, info };
        let first = p
            .preorder()
            .first()
            .map(|&(i, _)| name(&p.nodes[i as usize]))
            .unwrap_or_default();
        let count = |f: &str| p.nodes.iter().filter(|n| name(n) == f).count();
        let (sends, receives) = (count("udp_send_skb"), count("udp_rcv"));
        let receives_ok =
            receives == want.receives || want.misses && missed_calls(p) && receives < want.receives;
        // The construction: `__build_skb_around` up to 6.x, the data's allocation on 7.2.
        // Before 5.12 `__alloc_skb` initialised the sk_buff inline: the first call on a
        // socket's new skb is then `sock_alloc_send_pskb`'s `skb_set_owner_w`.
        let inline_alloc = info.kernel.starts_with("5.10.") && first == "skb_set_owner_w";
        let built =
            first.ends_with("build_skb_around") || first == "kmalloc_reserve" || inline_alloc;
        // A task preempted inside fsession's one program holds its recursion guard, and
        // the sender that runs next on that CPU loses its calls until it resumes (7.2's
        // lazy preemption): the packet then starts later, at a call after its send. The
        // per-function fentry recording beside it has the whole start (trace_veth_auto
        // compares the two).
        let lost_start = want.misses && !built && sends == 0;
        if !(built && sends == 1 || lost_start) || !receives_ok {
            return Err(format!(
                "packet {}: starts with {first}, {sends} udp_send_skb, {receives} udp_rcv; \
                 want its construction first, one send, {} receives:\n{}",
                p.id,
                want.receives,
                tree.outline()
            ));
        }
        // Durations never reach past the free: whatever comes after it is inside a call
        // that was already running (the free path, the callers returning), and soon.
        // Or handed to the CPU that allocated it: on 7.2 a received datagram is queued
        // there (`skb_attempt_defer_free`) and freed at that CPU's next receive softirq,
        // which an idle CPU may not run before the recording ends.
        // With recursion misses a packet may lose its last free with the rest of a softirq
        // (its receive count then shows the loss too): a counted loss, not a wrong tree.
        let lost_end = want.misses && missed_calls(p);
        let freed = p
            .nodes
            .iter()
            .filter(|n| n.has(node_flags::FREED) || name(n) == "skb_attempt_defer_free")
            .map(|n| n.ts)
            .max();
        let freed = match freed {
            Some(ts) => ts,
            None if lost_end => continue,
            None => return Err(format!("packet {}: never freed:\n{}", p.id, tree.outline())),
        };
        let root_ts = |mut i: u32| {
            while p.nodes[i as usize].parent != ROOT {
                i = p.nodes[i as usize].parent;
            }
            p.nodes[i as usize].ts
        };
        let late = (0..p.nodes.len() as u32)
            .find(|&i| p.nodes[i as usize].ts > freed && root_ts(i) > freed);
        if (late.is_some() || p.last_ts > freed + 1_000_000_000) && !lost_end {
            return Err(format!(
                "packet {}: {} starts after the last free; recorded until {} ns after it:\n{}",
                p.id,
                late.map_or("nothing", |i| info.func_name(p.nodes[i as usize].func)),
                p.last_ts - freed,
                tree.outline()
            ));
        }
    }
    Ok(found)
}

/// Calls a recording's backend could not record because its program was already running on
/// the CPU (counted in the trailer; 0 without one).
pub fn recursion_misses(rec: &Recording) -> u64 {
    rec.trailer.as_ref().map_or(0, |t| t.stats.recursion_misses)
}

/// Every item of `a` appears in `b`, in the same order: `a` is `b` with items lost (the calls
/// a recursion miss drops from one of two recordings of the same packets).
pub fn in_order<T: PartialEq>(a: &[T], b: &[T]) -> bool {
    let mut rest = b.iter();
    a.iter().all(|x| rest.any(|y| y == x))
}

/// Some tracepoint hit has no traced caller in its own context: in a full trace only calls
/// the backend missed (see [`Datagrams::misses`]) leave one, at the top of the tree or right
/// under the interrupted task's calls when the softirq ran on its stack.
pub fn missed_calls(p: &Packet) -> bool {
    p.nodes.iter().any(|n| {
        n.has(node_flags::TRACEPOINT)
            && (n.parent == ROOT || p.nodes[n.parent as usize].ctx != n.ctx)
    })
}

/// No packet is only construction or clone internals.
pub fn no_fragments(model: &Model, info: &SessionInfo) -> Result<(), String> {
    let name = |n: &Node| info.func_name(n.func).to_string();
    let fragments = made_only_of(model, info, |n| CONSTRUCTION.contains(&name(n).as_str()));
    if fragments.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{} of {} packets are only construction or clone internals: {:?}",
        fragments.len(),
        model.packets().len(),
        &fragments[..fragments.len().min(5)]
    ))
}

/// With a packet tap on the path, each packet holds its clone: the clone's construction
/// (`__skb_clone`, inlined in 6.12 down to `__copy_skb_header`) and its free, with clone index 1.
pub fn clones(packets: &[&Packet], info: &SessionInfo) -> Result<(), String> {
    for p in packets {
        let clone1 = |n: &&Node| n.clone == 1;
        let built = p
            .nodes
            .iter()
            .filter(clone1)
            .any(|n| ["__skb_clone", "__copy_skb_header"].contains(&info.func_name(n.func)));
        let freed = p
            .nodes
            .iter()
            .filter(clone1)
            .any(|n| n.has(node_flags::FREED));
        if !(built && freed) {
            return Err(format!(
                "packet {}: clone 1 built (__skb_clone or __copy_skb_header) here: {built}, freed here: {freed}; want both:\n{}",
                p.id,
                Tree { p, info }.outline()
            ));
        }
    }
    Ok(())
}

/// The burst's sk_buffs were handed out again by the allocator (ftrace's kfree_skb events
/// name fewer addresses than frees), yet each datagram is its own packet, dropped.
pub fn reuse(out: &Outcome, packets: &[&Packet], info: &SessionInfo) -> Result<String, String> {
    let frees = out.read("frees.txt")?;
    let no_socket = no_socket(info);
    let addrs: Vec<&str> = frees
        .lines()
        // Before 5.17 the event has no reason: every drop while the burst ran.
        .filter(|l| {
            l.contains(no_socket) || info.drop_reasons.is_empty() && l.contains(" kfree_skb: ")
        })
        .filter_map(|l| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix("skbaddr="))
        })
        .collect();
    let distinct: HashSet<&str> = addrs.iter().copied().collect();
    if addrs.len() < packets.len() || distinct.len() >= addrs.len() {
        return Err(format!(
            "{} NO_SOCKET frees of {} addresses: want >= {} frees and a reused address",
            addrs.len(),
            distinct.len(),
            packets.len()
        ));
    }
    for p in packets {
        let summary = vrft_ui::format::packet_summary(p, info);
        if !p.lost() || !summary.ends_with(&format!("DROP {no_socket}")) {
            return Err(format!("packet {}: {summary}, want DROP {no_socket}", p.id));
        }
    }
    Ok(format!(
        "{} datagrams freed at {} addresses, {} packets",
        addrs.len(),
        distinct.len(),
        packets.len()
    ))
}

/// The drop reason of a datagram to a closed port; kernels before 5.17 give none.
fn no_socket(info: &SessionInfo) -> &'static str {
    match info.drop_reasons.is_empty() {
        true => "unknown",
        false => "NO_SOCKET",
    }
}

/// The pings' replies reached the socket: not drops, although the kernel frees
/// the original with a drop reason once the socket has its clone. The datagram
/// to port 9 found no socket: a drop, NO_SOCKET. With `misses` (see [`Datagrams::misses`]) a
/// reply whose delivery went unseen looks lost; it shows the gap.
pub fn drops(out: &Outcome, model: &Model, info: &SessionInfo, misses: bool) -> Result<(), String> {
    let ping = out.read("ping.txt")?;
    // iputils says "2 received", busybox "2 packets received".
    if !(ping.contains(" 2 received") || ping.contains("2 packets received")) {
        return Err(format!("the pings were not answered:\n{ping}"));
    }
    let icmp: Vec<&Packet> = model
        .packets()
        .iter()
        .filter(|p| flow_text(p).starts_with("icmp "))
        .collect();
    let delivered = icmp.iter().filter(|p| p.delivered()).count();
    let lost: Vec<String> = icmp
        .iter()
        .filter(|p| p.lost() && !(misses && missed_calls(p)))
        .map(|p| vrft_ui::format::packet_summary(p, info))
        .collect();
    if delivered < 2 || !lost.is_empty() {
        return Err(format!(
            "{} icmp packets, {delivered} delivered (want >= 2: the replies), lost: {lost:?}",
            icmp.len()
        ));
    }
    let closed: Vec<&Packet> = model
        .packets()
        .iter()
        .filter(|p| flow_text(p).ends_with(":9"))
        .collect();
    let summaries: Vec<String> = closed
        .iter()
        .map(|p| vrft_ui::format::packet_summary(p, info))
        .collect();
    let no_socket = no_socket(info);
    if closed.len() != 1
        || !closed[0].lost()
        || !summaries[0].ends_with(&format!("DROP {no_socket}"))
    {
        return Err(format!(
            "want one datagram to port 9, lost with {no_socket}: {summaries:?}"
        ));
    }
    eprintln!(
        "[{}] drops: {} icmp packets, {delivered} delivered, none lost; {}",
        out.kernel,
        icmp.len(),
        summaries[0]
    );
    Ok(())
}
