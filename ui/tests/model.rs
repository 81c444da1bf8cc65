//! The call-tree model on the synthetic stream: nesting, contexts, broken pairs.

mod common;

use common::Synth;
use vrft_events::event::{flags, Context};
use vrft_ui::model::{node_flags::*, Model, Packet, ROOT};

fn model(s: &Synth) -> Model {
    let mut m = Model::new(&s.info);
    m.ingest(&s.events);
    m
}

fn name<'a>(s: &'a Synth, p: &Packet, i: u32) -> &'a str {
    s.info.func_name(p.nodes[i as usize].func)
}

#[test]
fn nests_per_packet_across_contexts() {
    let s = Synth::scenario();
    let m = model(&s);
    let p1 = m.packet(m.slot_of(1).unwrap());
    // Roots: the transmit in process context, the receive softirq, the application read.
    let roots: Vec<&str> = (0..p1.nodes.len() as u32)
        .filter(|&i| p1.nodes[i as usize].parent == ROOT)
        .map(|i| name(&s, p1, i))
        .collect();
    assert_eq!(
        roots,
        [
            "udp_send_skb",
            "__netif_receive_skb_one_core",
            "skb_consume_udp"
        ]
    );
    // Packet 5 ran in a hardirq on packet 1's stack, yet its tree holds only its own calls,
    // and packet 1's __netif_rx still nests under veth_xmit.
    let p5 = m.packet(m.slot_of(5).unwrap());
    assert_eq!(p5.nodes.len(), 2);
    assert!(p5
        .nodes
        .iter()
        .all(|n| n.ctx == Context::HardIrq && n.has(EXITED)));
    let rx = p1
        .nodes
        .iter()
        .position(|n| s.info.func_name(n.func) == "__netif_rx")
        .unwrap();
    assert_eq!(name(&s, p1, p1.nodes[rx].parent), "veth_xmit");
    assert!(!p1.incomplete() && !p5.incomplete());
    assert_eq!(p1.devs.len(), 2, "veth0 then veth1");
}

#[test]
fn duration_covers_children() {
    let m = model(&Synth::scenario());
    for p in m.packets() {
        for (i, n) in p.nodes.iter().enumerate() {
            let Some(d) = n.duration() else { continue };
            let kids: u64 = p
                .children(i as u32)
                .filter_map(|c| p.nodes[c as usize].duration())
                .sum();
            assert!(d >= kids, "packet {} node {i}: {d} < {kids}", p.id);
        }
        assert!(
            p.duration()
                >= p.nodes
                    .iter()
                    .filter_map(|n| n.duration())
                    .max()
                    .unwrap_or(0)
        );
    }
}

#[test]
fn lost_exits_and_exits_without_entry() {
    let s = Synth::scenario();
    let mut m = model(&s);
    let slot = m.slot_of(3).unwrap();
    let p = m.packet(slot);
    let by_name = |n: &str| {
        p.nodes
            .iter()
            .find(|x| s.info.func_name(x.func) == n)
            .unwrap()
    };
    assert!(by_name("dev_hard_start_xmit").has(LOST_EXIT));
    assert!(by_name("__dev_queue_xmit").has(EXITED));
    let orphan = by_name("ip_finish_output2");
    assert!(orphan.has(NO_ENTRY) && orphan.duration().is_none() && orphan.ret == -105);
    // veth_xmit is still open: running, not lost, until the stream ends.
    assert!(!by_name("veth_xmit").has(LOST_EXIT));
    assert_eq!((p.open, p.broken), (1, 2));
    m.take_touched();
    m.finish();
    assert_eq!(m.take_touched(), vec![slot]);
    let p = m.packet(slot);
    assert_eq!((p.open, p.broken), (0, 3));
    assert_eq!(m.open_calls(), 0);
}

#[test]
fn drop_is_marked_with_reason() {
    let m = model(&Synth::scenario());
    let p = m.packet(m.slot_of(2).unwrap());
    assert!(p.dropped());
    assert_eq!(p.drop_reason, Some(3));
    let tp = p.nodes.iter().find(|n| n.has(TRACEPOINT)).unwrap();
    assert!(tp.has(DROP) && tp.duration().is_none());
}

/// A ping whose reply reached the ping socket (through a clone) and whose
/// original the kernel then freed with NO_SOCKET is delivered, not lost.
#[test]
fn a_drop_after_a_delivery_is_not_a_loss() {
    let mut s = Synth::scenario();
    let lost = {
        let m = model(&s);
        let p = m.packet(m.slot_of(2).unwrap());
        assert!(p.lost() && !p.delivered());
        vrft_ui::format::packet_summary(p, &s.info)
    };
    assert!(lost.ends_with("DROP NO_SOCKET"), "{lost}");
    let rx = common::at(1, 0, Context::SoftIrq, 2, 4);
    s.call(9, &rx, "icmp_rcv", 0, |s| {
        s.leaf(9, &rx, "ping_queue_rcv_skb", 0);
        s.call(9, &rx, "kfree_skb_reason", 0, |s| {
            s.tp(9, &rx, "skb:kfree_skb", flags::DROP | flags::FREED, 3);
        });
    });
    let m = model(&s);
    let p = m.packet(m.slot_of(9).unwrap());
    assert!(p.dropped() && p.delivered() && !p.lost());
    let summary = vrft_ui::format::packet_summary(p, &s.info);
    assert!(
        summary.ends_with("delivered, original freed: NO_SOCKET"),
        "{summary}"
    );
}

#[test]
fn incremental_ingestion_matches_one_shot() {
    let s = Synth::scenario();
    let whole = model(&s);
    let mut parts = Model::new(&s.info);
    for chunk in s.events.chunks(3) {
        parts.ingest(chunk);
    }
    assert_eq!(whole.packets(), parts.packets());
}

#[test]
fn long_durations_keep_microseconds() {
    let mut s = Synth::new();
    let a = common::at(0, 1, Context::Process, 0, 0);
    s.call(9, &a, "f", 0, |s| s.wait(5_000_000_000));
    let m = model(&s);
    let d = m.packet(0).nodes[0].duration().unwrap();
    assert!((5_000_000_000..5_000_001_000).contains(&d), "{d}");
}

#[test]
fn a_node_is_48_bytes() {
    assert_eq!(std::mem::size_of::<vrft_ui::model::Node>(), 48);
}

#[test]
fn a_packet_header_is_112_bytes() {
    // docs/BENCHMARKS.md counts on this.
    assert_eq!(std::mem::size_of::<Packet>(), 112);
}

#[test]
fn the_first_flow_seen_names_the_packet() {
    let mut s = Synth::new();
    let a = common::at(0, 1, Context::Process, 0, 0);
    s.enter(7, &a, "udp_send_skb");
    s.call(7, &a, "ip_output", 0, |s| s.flow(common::udp_flow(1, 2)));
    // A later flow (say, after NAT) does not rename the packet.
    s.call(7, &a, "ip_finish_output2", 0, |s| {
        s.flow(common::udp_flow(3, 4))
    });
    s.exit(7, &a, "udp_send_skb", 0);
    let m = model(&s);
    let p = m.packet(0);
    assert_eq!(
        p.flow.as_deref().map(|f| f.to_string()).as_deref(),
        Some("udp 10.0.0.1:1>10.0.0.2:2")
    );
}

#[test]
fn skb_fields_stay_with_their_call() {
    let mut s = Synth::new();
    s.info.skb_fields = vec!["len".into(), "mark".into()];
    let a = common::at(0, 1, Context::Process, 0, 0);
    s.enter(7, &a, "ip_output");
    s.fields(&[98, 7]);
    s.enter(7, &a, "ip_finish_output2");
    s.exit(7, &a, "ip_finish_output2", 0);
    s.tp(7, &a, "net:net_dev_queue", 0, 0);
    s.fields(&[112, 7]);
    s.exit(7, &a, "ip_output", 0);
    let m = model(&s);
    let p = m.packet(0);
    let fields: Vec<&[u64]> = p.nodes.iter().map(|n| p.fields(n)).collect();
    assert_eq!(fields, [&[98u64, 7][..], &[], &[112, 7]]);
    let text = vrft_ui::format::function_graph(p, &s.info).join("\n");
    assert!(text.contains("ip_output() { /* len=98 mark=7 */"), "{text}");
    assert!(
        text.contains("/* net:net_dev_queue len=84  len=112 mark=7 */"),
        "{text}"
    );
}

/// Calls beyond the tracer's call stack arrive as marked entries without exits:
/// each is a leaf under the deepest call kept, never the parent of what follows.
#[test]
fn calls_too_deep_are_flat_marked_leaves() {
    let mut s = Synth::new();
    let a = common::at(0, 1, Context::Process, 0, 0);
    s.call(7, &a, "dev_hard_start_xmit", 0, |s| {
        s.enter_flags(7, &a, "passthru_features_check", flags::TOO_DEEP);
        s.enter_flags(7, &a, "skb_network_protocol", flags::TOO_DEEP);
    });
    s.leaf(7, &a, "kfree_skbmem", 0);
    let mut m = model(&s);
    m.finish();
    let p = m.packet(0);
    let parent = |n: &str| {
        let node = p
            .nodes
            .iter()
            .find(|x| s.info.func_name(x.func) == n)
            .unwrap();
        (
            node.has(TOO_DEEP) && node.duration().is_none(),
            (node.parent != ROOT).then(|| name(&s, p, node.parent)),
        )
    };
    assert_eq!(
        parent("passthru_features_check"),
        (true, Some("dev_hard_start_xmit"))
    );
    assert_eq!(
        parent("skb_network_protocol"),
        (true, Some("dev_hard_start_xmit"))
    );
    assert_eq!(parent("kfree_skbmem"), (false, None));
    assert!(p.nodes[0].has(EXITED) && !p.nodes[0].has(LOST_EXIT));
    assert_eq!((p.open, p.broken), (0, 2));
    let dump = vrft_ui::format::function_graph(p, &s.info).join("\n");
    assert!(dump.contains("too deep: exit not followed"), "{dump}");
}
