//! The UI on the lab recording of issue 16 (tests/data/lab-6.12-kprobe.vrft, made by the VM
//! scenario `6.12::lab`, see tests/vm/lab.rs): namespaces `a` and `b` joined by a plain veth
//! pair (10.11.0.0/24) and by a VXLAN overlay (VNI 44, 10.52.0.0/24) over a bridge in
//! namespace `br` (underlay 10.51.0.0/24); ping on both paths, UDP to a listener and to a
//! closed port, a TCP exchange; Debian 6.12, kprobe backend, every skb function probed.

use std::path::Path;

use vrft_events::record::Recording;
use vrft_ui::app::App;
use vrft_ui::format::{dev_path, flow_text, function_graph, task_text};
use vrft_ui::testkit;

const LAB: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/lab-6.12-kprobe.vrft"
);

fn lab() -> Recording {
    Recording::read(Path::new(LAB)).expect("the lab recording reads")
}

fn app() -> App {
    testkit::replay(lab())
}

/// The packet list as a user reads it: id, interfaces, what the headers say, who ran it.
fn list(app: &App) -> String {
    app.shown
        .iter()
        .map(|&s| {
            let p = app.model.packet(s);
            let task = task_text(p).map_or(String::new(), |t| format!("  [{t}]"));
            format!(
                "{:>3} {:<40} {}{task}",
                p.id,
                dev_path(p, &app.info),
                flow_text(p)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every kind of packet of the lab has a line that tells it apart, as tcpdump would: echo
/// request and reply, port unreachable with the datagram it answers, TCP flags, sequence and
/// length, UDP length, ARP, and VXLAN with its outer addresses and VNI beside the inner flow.
#[test]
fn snapshot_the_lab_packet_list() {
    let a = app();
    let text = list(&a);
    for want in [
        "icmp 10.11.0.1>10.11.0.2 echo request id ",
        "icmp 10.11.0.2>10.11.0.1 echo reply id ",
        "icmp 10.11.0.2>10.11.0.1 port unreachable for udp 10.11.0.1:",
        " [S] seq ",
        " [S.] seq ",
        " [P.] seq ",
        "udp 10.11.0.1:",
        "arp who-has 10.11.0.2 tell 10.11.0.1",
        "arp reply 10.11.0.2 is-at ",
        "vxlan 10.51.0.1>10.51.0.2 vni 44 | icmp 10.52.0.1>10.52.0.2 echo request id ",
        "vxlan 10.51.0.2>10.51.0.1 vni 44 | icmp 10.52.0.2>10.52.0.1 echo reply id ",
    ] {
        assert!(
            text.contains(want),
            "'{want}' missing from the list:\n{text}"
        );
    }
    insta::assert_snapshot!(text);
}

/// A VXLAN echo request was seen first as the inner packet on vxlan0; the tree says where
/// the outer headers appeared and where they were taken off again.
#[test]
fn the_tree_marks_where_the_headers_changed() {
    let a = app();
    let p = a
        .shown
        .iter()
        .map(|&s| a.model.packet(s))
        .find(|p| flow_text(p).starts_with("vxlan 10.51.0.1>10.51.0.2 vni 44 | icmp"))
        .expect("a VXLAN echo request");
    let changes: Vec<String> = function_graph(p, &a.info)
        .into_iter()
        .filter(|l| l.contains("headers now: "))
        .map(|l| l.trim_start_matches(|c: char| c != '/').to_string())
        .collect();
    assert!(
        changes
            .iter()
            .any(|l| l.contains("headers now: vxlan 10.51.0.1>10.51.0.2 vni 44 | icmp")),
        "encapsulation marked: {changes:?}"
    );
    assert!(
        changes
            .iter()
            .any(|l| l.contains("headers now: icmp 10.52.0.1>10.52.0.2 echo request")),
        "decapsulation marked: {changes:?}"
    );
}
