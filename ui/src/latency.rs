//! Latency per hop: where a packet spends its time on each device it crosses.
//!
//! A packet's calls are cut into hops: runs of calls (in time order) on one device of one
//! namespace, (netns, ifindex). Calls without a device (the socket before routing, or after
//! delivery) belong to the hop they are in; at the start they make a hop of their own. In
//! each hop the first entry of each well-known function group ([`GROUPS`]) is a boundary,
//! and a stage is the time between two consecutive boundaries of that hop, so a stage never
//! spans two devices and the stages of a hop add up to its total. Across packets the stages
//! are grouped by what the hop is ([`HopKind`]: veth, bridge, tunnel, ...), from the
//! functions seen in it, else the device's name.

use crate::model::Packet;
use vrft_events::event::Context;
use vrft_events::session::SessionInfo;

/// Boundary groups: a name and the functions whose first entry in a hop marks it. Their
/// order is the order stages are listed in.
pub const GROUPS: &[(&str, &[&str])] = &[
    (
        "app send",
        &[
            "ip_generic_getfrag",
            "skb_set_owner_w",
            "tcp_skb_entail",
            "skb_entail",
            "ping_getfrag",
            "raw_getfrag",
            "icmp_glue_bits",
        ],
    ),
    (
        "L4 send",
        &[
            "udp_send_skb",
            "udp_v6_send_skb",
            "__tcp_transmit_skb",
            "raw_send_hdrinc",
            "ip_push_pending_frames",
            "icmp_push_reply",
        ],
    ),
    ("ip forward", &["ip_forward", "ip6_forward"]),
    (
        "IP output",
        &[
            "ip_local_out",
            "__ip_local_out",
            "ip6_local_out",
            "ip_output",
            "ip6_output",
        ],
    ),
    (
        "neighbour",
        &[
            "ip_finish_output2",
            "ip6_finish_output2",
            "neigh_resolve_output",
        ],
    ),
    ("dev queue", &["__dev_queue_xmit"]),
    ("driver xmit", &["dev_hard_start_xmit"]),
    // A packet a driver built in its NAPI poll: its first call (see `driver_rx`).
    ("driver rx", &[]),
    (
        "tunnel encap",
        &[
            "vxlan_xmit",
            "geneve_xmit",
            "ip_tunnel_xmit",
            "ip6_tnl_xmit",
            "ipip_tunnel_xmit",
        ],
    ),
    (
        "rx enqueue",
        &[
            "netif_rx",
            "__netif_rx",
            "enqueue_to_backlog",
            "napi_gro_receive",
            "gro_receive_skb",
            "netif_receive_skb",
            "netif_receive_skb_list_internal",
            "gro_cells_receive",
        ],
    ),
    (
        "rx core",
        &[
            "__netif_receive_skb",
            "__netif_receive_skb_one_core",
            "__netif_receive_skb_core",
            "__netif_receive_skb_list_core",
        ],
    ),
    ("bridge", &["br_handle_frame", "br_handle_frame_finish"]),
    (
        "bridge fwd",
        &[
            "br_forward",
            "br_flood",
            "br_forward_finish",
            "br_dev_queue_push_xmit",
            "br_pass_frame_up",
        ],
    ),
    (
        "ip_rcv",
        &[
            "ip_rcv",
            "ip_rcv_core",
            "ipv6_rcv",
            "ip_list_rcv",
            "ipv6_list_rcv",
        ],
    ),
    ("ip_local_deliver", &["ip_local_deliver", "ip6_input"]),
    (
        "L4 receive",
        &[
            "udp_rcv",
            "udpv6_rcv",
            "tcp_v4_rcv",
            "tcp_v6_rcv",
            "icmp_rcv",
            "icmpv6_rcv",
        ],
    ),
    (
        "tunnel decap",
        &[
            "vxlan_rcv",
            "geneve_udp_encap_recv",
            "ip_tunnel_rcv",
            "ip6_tnl_rcv",
            "gre_rcv",
        ],
    ),
    (
        "socket queue",
        &[
            "__udp_enqueue_schedule_skb",
            "sock_queue_rcv_skb_reason",
            "__sock_queue_rcv_skb",
            "tcp_queue_rcv",
            "tcp_data_queue",
            "ping_queue_rcv_skb",
            "raw_rcv_skb",
        ],
    ),
    (
        "app read",
        &[
            "skb_consume_udp",
            "skb_copy_datagram_iter",
            "__skb_datagram_iter",
        ],
    ),
    // The ends of the wire between two hosts of a merged session: no function marks them.
    ("wire out", &[]),
    ("wire in", &[]),
];

const DRIVER_XMIT: u8 = 6;
const DRIVER_RX: u8 = 7;
/// Groups up to this one ("neighbour") are a local send's.
const LAST_SEND: u8 = 4;
const WIRE_OUT: u8 = GROUPS.len() as u8 - 2;
const WIRE_IN: u8 = GROUPS.len() as u8 - 1;

/// What a hop is, from what ran in it. Listed in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HopKind {
    /// No device yet: the socket and the stack above routing on the sending side, or a
    /// driver before it set the device (calls without a device later on stay in their hop).
    NoDevice,
    Veth,
    Bridge,
    /// VXLAN, Geneve, GRE, IPIP: encapsulation or decapsulation ran in the hop, or its
    /// device is a tunnel's.
    Tunnel,
    Other,
    /// Between two hosts of a merged session: from the sender's driver transmit to the
    /// receiver's first call, in the aligned clock.
    Wire,
}

impl HopKind {
    pub fn name(self) -> &'static str {
        match self {
            HopKind::NoDevice => "no device",
            HopKind::Veth => "veth",
            HopKind::Bridge => "bridge",
            HopKind::Tunnel => "tunnel",
            HopKind::Other => "other device",
            HopKind::Wire => "wire",
        }
    }

    /// Functions that tell a hop's kind; the strongest kind seen wins (a tunnel's
    /// underlay hop also runs veth or bridge code).
    fn of_function(name: &str) -> Option<HopKind> {
        const TUNNEL: &[&str] = &[
            "vxlan_",
            "geneve_",
            "ip_tunnel_",
            "ip6_tnl_",
            "gre_",
            "ipip_",
        ];
        if TUNNEL.iter().any(|t| name.starts_with(t)) || name == "gro_cells_receive" {
            Some(HopKind::Tunnel)
        } else if name.starts_with("br_") || name.starts_with("nbp_") {
            Some(HopKind::Bridge)
        } else if name.starts_with("veth_") {
            Some(HopKind::Veth)
        } else {
            None
        }
    }

    /// The kind a device's name suggests, when no function told.
    fn of_ifname(name: &str) -> Option<HopKind> {
        const TUNNEL: &[&str] = &["vxlan", "vx", "geneve", "gnv", "gre", "tun", "ipip"];
        if TUNNEL.iter().any(|t| name.starts_with(t)) {
            Some(HopKind::Tunnel)
        } else if name.starts_with("br") {
            Some(HopKind::Bridge)
        } else if name.starts_with("veth") {
            Some(HopKind::Veth)
        } else {
            None
        }
    }

    /// How strongly a kind describes a hop: a tunnel over a veth is a tunnel hop.
    fn rank(self) -> u8 {
        match self {
            HopKind::Tunnel => 3,
            HopKind::Bridge => 2,
            HopKind::Veth => 1,
            HopKind::NoDevice | HopKind::Other | HopKind::Wire => 0,
        }
    }
}

/// What each function of a session means here, by function id (names compared once).
#[derive(Clone, Debug, Default)]
pub struct Roles {
    group: Vec<Option<u8>>,
    kind: Vec<Option<HopKind>>,
}

impl Roles {
    pub fn new(info: &SessionInfo) -> Self {
        let group = info
            .functions
            .iter()
            .map(|f| {
                GROUPS
                    .iter()
                    .position(|(_, names)| names.contains(&f.name.as_str()))
                    .map(|i| i as u8)
            })
            .collect();
        let kind = info
            .functions
            .iter()
            .map(|f| HopKind::of_function(&f.name))
            .collect();
        Roles { group, kind }
    }
}

/// One boundary of a hop: the group, the call that marked it, and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Boundary {
    pub group: u8,
    pub node: u32,
    pub ts: u64,
}

/// A run of a packet's calls on one device of one namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hop {
    /// (netns, ifindex); ifindex 0 for the socket hop.
    pub dev: (u32, u32),
    pub kind: HopKind,
    /// When its first call entered, and when the packet moved on: the next hop's start,
    /// or for the last hop the end of its last call. (Not the hop's last exit: the callers
    /// of a synchronous transmit return only after the next hops ran.)
    pub start: u64,
    pub end: u64,
    /// The hop's first call.
    pub first: u32,
    /// Boundaries in time order, one per group.
    pub bounds: Vec<Boundary>,
}

impl Hop {
    /// Stages of the hop: (name, start boundary, end boundary).
    pub fn stages(&self) -> impl Iterator<Item = (String, Boundary, Boundary)> + '_ {
        self.bounds
            .windows(2)
            .map(|w| (stage_name(w[0].group, w[1].group), w[0], w[1]))
    }
}

/// "ip_rcv -> ip_local_deliver": the stage from a boundary of group `a` to one of `b`.
pub fn stage_name(a: u8, b: u8) -> String {
    format!("{} -> {}", GROUPS[a as usize].0, GROUPS[b as usize].0)
}

/// The hops of `p`, in time order; in a merged session each host's in turn, with the wire
/// between them.
pub fn hops(p: &Packet, roles: &Roles, info: &SessionInfo) -> Vec<Hop> {
    let mut order: Vec<u32> = (0..p.nodes.len() as u32).collect();
    // Merged, the calls are already each host's part in time order (a sender's transmit
    // completion may come after the receiver started: it stays in the sender's part).
    if info.hosts.is_empty() {
        order.sort_by_key(|&i| p.nodes[i as usize].ts);
    }
    let mut hops: Vec<Hop> = Vec::new();
    for i in order {
        let node = &p.nodes[i as usize];
        let (netns, ifindex) = p.dev(node);
        let end = node.exit_ts().unwrap_or(node.ts);
        // A call without a device stays in the hop it is in, on its host: the next host's
        // part may start in its driver, before the device is set.
        let host = info.host_of(node.func).map(|(k, _)| k);
        let same = hops.last().is_some_and(|h| {
            hop_host(p, info, h) == host && (ifindex == 0 || h.dev.1 == ifindex && h.dev.0 == netns)
        });
        if !same {
            hops.push(Hop {
                dev: (netns, ifindex),
                kind: if ifindex == 0 {
                    HopKind::NoDevice
                } else {
                    HopKind::of_ifname(&info.ifname(netns, ifindex)).unwrap_or(HopKind::Other)
                },
                start: node.ts,
                end,
                first: i,
                bounds: Vec::new(),
            });
        }
        let hop = hops.last_mut().expect("pushed above");
        if hop.dev.0 == 0 {
            // The socket hop takes the first namespace it learns.
            hop.dev.0 = netns;
        }
        hop.end = hop.end.max(end);
        let f = node.func as usize;
        if let Some(Some(k)) = roles.kind.get(f) {
            if hop.dev.1 != 0 && k.rank() > hop.kind.rank() {
                hop.kind = *k;
            }
        }
        if let Some(Some(g)) = roles.group.get(f) {
            if !hop.bounds.iter().any(|b| b.group == *g) {
                hop.bounds.push(Boundary {
                    group: *g,
                    node: i,
                    ts: node.ts,
                });
            }
        }
    }
    hops = driver_rx(p, info, hops);
    if !info.hosts.is_empty() {
        hops = with_wires(p, info, hops);
    }
    for k in 1..hops.len() {
        hops[k - 1].end = hops[k].start;
    }
    hops
}

/// A packet that starts in a softirq without a device was built by a driver's receive (its
/// NAPI poll) before the driver set the device: those calls belong to the device's hop, whose
/// first stage is then measured from the driver, at a `driver rx` boundary. Also where a
/// merged packet's part on the next host starts.
fn driver_rx(p: &Packet, info: &SessionInfo, hops: Vec<Hop>) -> Vec<Hop> {
    let host = |h: &Hop| hop_host(p, info, h);
    let mut out: Vec<Hop> = Vec::with_capacity(hops.len());
    let mut pending: Option<Hop> = None;
    for mut h in hops {
        if let Some(mut d) = pending.take() {
            // Received: the device's hop goes on with the receive path, not with a send.
            let receives = h.bounds.first().is_none_or(|b| b.group > DRIVER_RX);
            if h.dev.1 != 0 && host(&h) == host(&d) && receives {
                h.start = d.start;
                h.first = d.first;
                d.bounds
                    .retain(|b| !h.bounds.iter().any(|x| x.group == b.group));
                d.bounds.append(&mut h.bounds);
                h.bounds = d.bounds;
            } else {
                d.bounds.retain(|b| b.group != DRIVER_RX);
                out.push(d);
            }
        }
        let starts_part = out.last().is_none_or(|prev| host(prev) != host(&h));
        let first = &p.nodes[h.first as usize];
        // A reply the stack builds in a softirq (ICMP, TCP's RST) is sent, not received.
        let sends = h.bounds.iter().any(|b| b.group <= LAST_SEND);
        if starts_part && h.kind == HopKind::NoDevice && first.ctx == Context::SoftIrq && !sends {
            h.bounds.insert(
                0,
                Boundary {
                    group: DRIVER_RX,
                    node: h.first,
                    ts: h.start,
                },
            );
            pending = Some(h);
        } else {
            out.push(h);
        }
    }
    out.extend(pending.map(|mut d| {
        d.bounds.retain(|b| b.group != DRIVER_RX);
        d
    }));
    out
}

/// The host of a merged session a hop ran on (`None` for one recording).
fn hop_host(p: &Packet, info: &SessionInfo, h: &Hop) -> Option<usize> {
    info.host_of(p.nodes[h.first as usize].func).map(|(k, _)| k)
}

/// A wire hop wherever the packet passes to another host: from the sender's last hop's
/// driver transmit (else that hop's start) to the receiver's first call (never before).
fn with_wires(p: &Packet, info: &SessionInfo, hops: Vec<Hop>) -> Vec<Hop> {
    let host = |h: &Hop| hop_host(p, info, h);
    let mut out: Vec<Hop> = Vec::with_capacity(hops.len() + 1);
    for h in hops {
        if let Some(prev) = out.last().filter(|prev| host(prev) != host(&h)) {
            let out_of = prev
                .bounds
                .iter()
                .rfind(|b| b.group == DRIVER_XMIT)
                .copied()
                .unwrap_or(Boundary {
                    group: DRIVER_XMIT,
                    node: prev.first,
                    ts: prev.start,
                });
            let arrived = h.start.max(out_of.ts);
            out.push(Hop {
                dev: (0, 0),
                kind: HopKind::Wire,
                start: out_of.ts,
                end: arrived,
                first: out_of.node,
                bounds: vec![
                    Boundary {
                        group: WIRE_OUT,
                        node: out_of.node,
                        ts: out_of.ts,
                    },
                    Boundary {
                        group: WIRE_IN,
                        node: h.first,
                        ts: arrived,
                    },
                ],
            });
        }
        out.push(h);
    }
    out
}

/// The lines of one packet's breakdown: each hop (stage `None`), then its stages (index of
/// the stage's first boundary).
pub fn packet_lines(hops: &[Hop]) -> Vec<(usize, Option<usize>)> {
    let mut out = Vec::new();
    for (h, hop) in hops.iter().enumerate() {
        out.push((h, None));
        out.extend((0..hop.bounds.len().saturating_sub(1)).map(|i| (h, Some(i))));
    }
    out
}

/// Histogram bucket upper bounds (ns): <1us, <10us, ..., <1s, and >=1s.
pub const BUCKETS: [&str; 8] = ["<1u", "<10u", "<100u", "<1m", "<10m", "<100m", "<1s", ">1s"];

/// One measured stage of one packet: how long, and where (for jumping to it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    pub ns: u64,
    /// The packet's ID (not its slot: slots move when a memory budget evicts packets).
    pub packet: u32,
    /// The call the stage starts at.
    pub node: u32,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stage {
    /// "ip_rcv -> ip_local_deliver", or "whole hop" for the hop's total.
    pub name: String,
    /// Sorted by duration.
    pub samples: Vec<Sample>,
}

impl Stage {
    /// The sample at the nearest-rank percentile (0 < q <= 100).
    pub fn at(&self, q: u32) -> Option<&Sample> {
        let n = self.samples.len();
        if n == 0 {
            return None;
        }
        let rank = (q as usize * n).div_ceil(100).max(1);
        self.samples.get(rank - 1)
    }

    pub fn percentile(&self, q: u32) -> Option<u64> {
        self.at(q).map(|s| s.ns)
    }

    pub fn histogram(&self) -> [u64; 8] {
        let mut h = [0u64; 8];
        for s in &self.samples {
            let mut b = 0;
            let mut bound = 1_000u64;
            while b < 7 && s.ns >= bound {
                b += 1;
                bound *= 10;
            }
            h[b] += 1;
        }
        h
    }
}

/// The stages of every hop of one kind, across packets.
#[derive(Clone, Debug, PartialEq)]
pub struct KindStats {
    pub kind: HopKind,
    /// Hops of this kind, and packets that had one.
    pub hops: usize,
    pub packets: usize,
    /// Stages in group order; each counted only where both its ends were seen.
    pub stages: Vec<Stage>,
    /// First to last boundary of each hop with at least two.
    pub total: Stage,
}

/// One line of the across-packets table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Line {
    /// The kind's heading (index into [`Latency::kinds`]).
    Kind(usize),
    Stage(usize, usize),
    Total(usize),
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Latency {
    /// Packets looked at, and those with at least one stage.
    pub packets: usize,
    pub contributed: usize,
    pub kinds: Vec<KindStats>,
}

impl Latency {
    /// Every line of the table, in order.
    pub fn lines(&self) -> Vec<Line> {
        let mut out = Vec::new();
        for (k, ks) in self.kinds.iter().enumerate() {
            out.push(Line::Kind(k));
            out.extend((0..ks.stages.len()).map(|s| Line::Stage(k, s)));
            out.push(Line::Total(k));
        }
        out
    }

    /// The stage a line measures (none for a heading).
    pub fn stage(&self, line: Line) -> Option<&Stage> {
        match line {
            Line::Kind(_) => None,
            Line::Stage(k, s) => self.kinds.get(k)?.stages.get(s),
            Line::Total(k) => Some(&self.kinds.get(k)?.total),
        }
    }
}

/// Latency over `packets`.
pub fn compute<'a>(
    packets: impl Iterator<Item = &'a Packet>,
    roles: &Roles,
    info: &SessionInfo,
) -> Latency {
    use std::collections::BTreeMap;
    struct Acc {
        hops: usize,
        packets: usize,
        stages: BTreeMap<(u8, u8), Vec<Sample>>,
        total: Vec<Sample>,
    }
    let mut kinds: BTreeMap<HopKind, Acc> = BTreeMap::new();
    let mut out = Latency::default();
    for p in packets {
        out.packets += 1;
        let mut seen: Vec<HopKind> = Vec::new();
        let mut any = false;
        for hop in hops(p, roles, info) {
            let acc = kinds.entry(hop.kind).or_insert_with(|| Acc {
                hops: 0,
                packets: 0,
                stages: BTreeMap::new(),
                total: Vec::new(),
            });
            acc.hops += 1;
            if !seen.contains(&hop.kind) {
                seen.push(hop.kind);
                acc.packets += 1;
            }
            for (_, a, b) in hop.stages() {
                any = true;
                acc.stages
                    .entry((a.group, b.group))
                    .or_default()
                    .push(Sample {
                        ns: b.ts - a.ts,
                        packet: p.id,
                        node: a.node,
                    });
            }
            if let (Some(a), Some(b)) = (hop.bounds.first(), hop.bounds.last()) {
                if hop.bounds.len() >= 2 {
                    acc.total.push(Sample {
                        ns: b.ts - a.ts,
                        packet: p.id,
                        node: a.node,
                    });
                }
            }
        }
        out.contributed += usize::from(any);
    }
    let sorted = |mut v: Vec<Sample>| {
        v.sort_by_key(|s| s.ns);
        v
    };
    out.kinds = kinds
        .into_iter()
        .map(|(kind, acc)| KindStats {
            kind,
            hops: acc.hops,
            packets: acc.packets,
            stages: acc
                .stages
                .into_iter()
                .map(|(key, samples)| Stage {
                    name: stage_name(key.0, key.1),
                    samples: sorted(samples),
                })
                .collect(),
            total: Stage {
                name: "whole hop".into(),
                samples: sorted(acc.total),
            },
        })
        .collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_constants_name_their_groups() {
        assert_eq!(GROUPS[DRIVER_XMIT as usize].0, "driver xmit");
        assert_eq!(GROUPS[DRIVER_RX as usize].0, "driver rx");
        assert_eq!(GROUPS[LAST_SEND as usize].0, "neighbour");
        assert_eq!(GROUPS[WIRE_OUT as usize].0, "wire out");
        assert_eq!(GROUPS[WIRE_IN as usize].0, "wire in");
    }

    fn sample(ns: u64) -> Sample {
        Sample {
            ns,
            packet: 0,
            node: 0,
        }
    }

    #[test]
    fn percentiles_and_buckets() {
        let s = Stage {
            name: "x".into(),
            samples: (1..=100).map(|i| sample(i * 1000)).collect(),
        };
        assert_eq!(s.percentile(50), Some(50_000));
        assert_eq!(s.percentile(99), Some(99_000));
        assert_eq!(s.percentile(100), Some(100_000));
        let h = s.histogram();
        assert_eq!(h[1], 9); // 1us..9us
        assert_eq!(h[2], 90);
        assert_eq!(h[3], 1);
        assert_eq!(Stage::default().percentile(50), None);
    }

    #[test]
    fn kinds_from_functions_and_names() {
        assert_eq!(HopKind::of_function("vxlan_rcv"), Some(HopKind::Tunnel));
        assert_eq!(
            HopKind::of_function("br_handle_frame"),
            Some(HopKind::Bridge)
        );
        assert_eq!(HopKind::of_function("veth_xmit"), Some(HopKind::Veth));
        assert_eq!(HopKind::of_function("ip_rcv"), None);
        assert_eq!(HopKind::of_ifname("vx0"), Some(HopKind::Tunnel));
        assert_eq!(HopKind::of_ifname("br0"), Some(HopKind::Bridge));
        assert_eq!(HopKind::of_ifname("eth0"), None);
    }
}
