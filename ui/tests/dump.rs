//! The plain-text function graph that `vrft-tui dump` prints.

mod common;

use vrft_ui::format::function_graph;
use vrft_ui::model::Model;

#[test]
fn function_graph_of_every_packet() {
    let s = common::Synth::scenario();
    let mut m = Model::new(&s.info);
    m.ingest(&s.events);
    m.finish();
    let text: Vec<String> = m
        .packets()
        .iter()
        .flat_map(|p| function_graph(p, &s.info))
        .collect();
    insta::assert_snapshot!(text.join("\n"));
}

/// Return values as their BTF type says: none for void, true/false for bool,
/// hex for pointers, decimal for small integers.
#[test]
fn return_values_follow_the_return_type() {
    let mut s = common::Synth::new();
    let a = common::at(0, 7, vrft_events::event::Context::Process, 1, 2);
    s.call(1, &a, "ip_rcv", 0, |s| {
        s.leaf(1, &a, "skb_clone", 0x7f00_1234_5678);
        s.leaf(1, &a, "skb_defer_rx_timestamp", 0x100);
        s.leaf(1, &a, "skb_release_data", 0x0080_0100);
        s.leaf(1, &a, "kfree_skbmem", 3);
    });
    let m = Model::from_events(&s.info, &s.events);
    let text = function_graph(&m.packets()[0], &s.info).join("\n");
    for want in [
        "skb_clone(); /* = 0x7f0012345678 */",
        // Only the low byte of a bool return is defined.
        "skb_defer_rx_timestamp(); /* = false */",
        "skb_release_data();\n",
        "kfree_skbmem();\n",
        "} /* ip_rcv = 0 */",
    ] {
        assert!(text.contains(want), "no {want:?} in:\n{text}");
    }
}
