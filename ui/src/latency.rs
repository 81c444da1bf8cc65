//! Per-layer latency: the time a packet spends between well-known functions of each layer.
//!
//! Each stage boundary is the first entry of any function in its group; a stage is counted
//! for a packet when both its boundaries were seen, in order.

use crate::model::Packet;
use vrft_events::session::SessionInfo;

/// Receive path boundaries, in order.
pub const RX: &[(&str, &[&str])] = &[
    (
        "driver/NAPI",
        &[
            "napi_gro_receive",
            "gro_receive_skb",
            "netif_receive_skb",
            "netif_receive_skb_list_internal",
            "netif_rx",
            "__netif_rx",
            "veth_xmit",
            "__dev_forward_skb",
        ],
    ),
    ("eth_type_trans", &["eth_type_trans"]),
    (
        "ip_rcv",
        &["ip_rcv", "ipv6_rcv", "ip_list_rcv", "ipv6_list_rcv"],
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
        "socket queue",
        &[
            "__udp_enqueue_schedule_skb",
            "sock_queue_rcv_skb_reason",
            "__sock_queue_rcv_skb",
            "tcp_queue_rcv",
            "tcp_data_queue",
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
];

/// Transmit path boundaries, in order (the receive path reversed).
pub const TX: &[(&str, &[&str])] = &[
    (
        "app send",
        &[
            "ip_generic_getfrag",
            "skb_set_owner_w",
            "tcp_skb_entail",
            "skb_entail",
        ],
    ),
    (
        "L4 send",
        &[
            "udp_send_skb",
            "udp_v6_send_skb",
            "__tcp_transmit_skb",
            "raw_send_hdrinc",
        ],
    ),
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
];

/// Histogram bucket upper bounds (ns): <1us, <10us, ..., <1s, and >=1s.
pub const BUCKETS: [&str; 8] = ["<1u", "<10u", "<100u", "<1m", "<10m", "<100m", "<1s", ">1s"];

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stage {
    /// "ip_rcv -> ip_local_deliver"; the last stage of each path is the whole path.
    pub name: String,
    /// Sorted durations in ns.
    pub samples: Vec<u64>,
}

impl Stage {
    /// Nearest-rank percentile (0 < q <= 100).
    pub fn percentile(&self, q: u32) -> Option<u64> {
        let n = self.samples.len();
        if n == 0 {
            return None;
        }
        let rank = (q as usize * n).div_ceil(100).max(1);
        Some(self.samples[rank - 1])
    }

    pub fn histogram(&self) -> [u64; 8] {
        let mut h = [0u64; 8];
        for &s in &self.samples {
            let mut b = 0;
            let mut bound = 1_000u64;
            while b < 7 && s >= bound {
                b += 1;
                bound *= 10;
            }
            h[b] += 1;
        }
        h
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Latency {
    pub rx: Vec<Stage>,
    pub tx: Vec<Stage>,
    pub packets: usize,
}

/// Which boundary (path, index) each function-table entry is, if any.
pub fn boundaries(info: &SessionInfo) -> Vec<Option<(bool, u8)>> {
    info.functions
        .iter()
        .map(|f| {
            let find = |path: &[(&str, &[&str])]| {
                path.iter()
                    .position(|(_, names)| names.contains(&f.name.as_str()))
                    .map(|i| i as u8)
            };
            find(RX).map(|i| (true, i)).or(find(TX).map(|i| (false, i)))
        })
        .collect()
}

fn stages(path: &[(&str, &[&str])]) -> Vec<Stage> {
    let mut v: Vec<Stage> = path
        .windows(2)
        .map(|w| Stage {
            name: format!("{} -> {}", w[0].0, w[1].0),
            samples: Vec::new(),
        })
        .collect();
    v.push(Stage {
        name: format!("{} -> {} (total)", path[0].0, path[path.len() - 1].0),
        samples: Vec::new(),
    });
    v
}

fn add(stages: &mut [Stage], first: &[Option<u64>]) {
    for i in 0..first.len() - 1 {
        if let (Some(a), Some(b)) = (first[i], first[i + 1]) {
            if b >= a {
                stages[i].samples.push(b - a);
            }
        }
    }
    if let (Some(a), Some(b)) = (first[0], first[first.len() - 1]) {
        if b >= a {
            stages[first.len() - 1].samples.push(b - a);
        }
    }
}

/// Latency over the given packets; `bounds` comes from [`boundaries`].
pub fn compute<'a>(
    packets: impl Iterator<Item = &'a Packet>,
    bounds: &[Option<(bool, u8)>],
) -> Latency {
    let mut out = Latency {
        rx: stages(RX),
        tx: stages(TX),
        packets: 0,
    };
    let mut rx = vec![None; RX.len()];
    let mut tx = vec![None; TX.len()];
    for p in packets {
        out.packets += 1;
        rx.fill(None);
        tx.fill(None);
        for n in &p.nodes {
            if let Some(Some((is_rx, i))) = bounds.get(n.func as usize) {
                let slot = if *is_rx {
                    &mut rx[*i as usize]
                } else {
                    &mut tx[*i as usize]
                };
                if slot.is_none() {
                    *slot = Some(n.ts);
                }
            }
        }
        add(&mut out.rx, &rx);
        add(&mut out.tx, &tx);
    }
    for s in out.rx.iter_mut().chain(out.tx.iter_mut()) {
        s.samples.sort_unstable();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_buckets() {
        let s = Stage {
            name: "x".into(),
            samples: (1..=100).map(|i| i * 1000).collect(),
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
}
