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

/// The first VXLAN echo request of the list.
fn vxlan_request(app: &App) -> u32 {
    app.shown
        .iter()
        .map(|&s| app.model.packet(s))
        .find(|p| flow_text(p).starts_with("vxlan 10.51.0.1>10.51.0.2 vni 44 | icmp"))
        .expect("a VXLAN echo request")
        .id
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

/// IDs of the packets the list shows.
fn shown_ids(app: &App) -> Vec<u32> {
    app.shown.iter().map(|&s| app.model.packet(s).id).collect()
}

/// IDs of the shown packets whose list line satisfies `pred`, computed from the text the
/// user reads rather than through the filter under test.
fn ids_where(app: &App, pred: impl Fn(&str, &str) -> bool) -> Vec<u32> {
    app.shown
        .iter()
        .map(|&s| app.model.packet(s))
        .filter(|p| pred(&flow_text(p), &dev_path(p, &app.info)))
        .map(|p| p.id)
        .collect()
}

/// Types `expr` in the filter bar (which opens on the current filter: Ctrl-U clears it)
/// and applies it.
fn filter(app: &mut App, expr: &str) -> Vec<u32> {
    testkit::keys(app, "f");
    testkit::ctrl(app, 'u');
    testkit::keys(app, &format!("{expr}\n"));
    assert!(app.input_error.is_none(), "{expr}: {:?}", app.input_error);
    shown_ids(app)
}

/// The filter bar on the lab: OR, NOT, parentheses, protocol words, namespace names from
/// the recording, prefixes that match a VXLAN packet's outer header.
#[test]
fn filter_bar_expressions_on_the_lab() {
    let mut a = app();
    let all = ids_where(&a, |_, _| true);
    // `arp` is what the packet is: ARP inside the VXLAN overlay is ARP too.
    let tcp_or_arp = ids_where(&a, |f, _| {
        f.starts_with("tcp ") || f.starts_with("arp ") || f.contains("| arp ")
    });
    assert_eq!(filter(&mut a, "tcp or arp"), tcp_or_arp);
    assert!(tcp_or_arp.len() >= 12 + 4, "{tcp_or_arp:?}");

    let not_either = all
        .iter()
        .copied()
        .filter(|id| !tcp_or_arp.contains(id))
        .collect::<Vec<_>>();
    assert_eq!(filter(&mut a, "not (tcp or arp)"), not_either);

    // `b` is an `ip netns` name the recording carries; replies start there.
    let replies_in_b = ids_where(&a, |f, _| f.starts_with("icmp 10.11.0.2>10.11.0.1"));
    assert_eq!(
        filter(&mut a, "icmp and netns=b and src=10.11.0.2"),
        replies_in_b
    );
    assert_eq!(
        replies_in_b.len(),
        3,
        "two echo replies and a port unreachable"
    );

    // The underlay prefix matches the overlay packets by their outer header (ARP on the
    // underlay has no IP header: host= does not name it).
    let overlay = ids_where(&app(), |f, _| {
        f.starts_with("vxlan 10.51.") && !f.contains("icmp6")
    });
    assert_eq!(overlay.len(), 6, "two pings and an ARP exchange over VXLAN");
    assert_eq!(filter(&mut a, "host=10.51.0.0/24 and not icmp6"), overlay);

    // A name that is not in the recording is an error that lists the known ones.
    testkit::keys(&mut a, "f");
    testkit::ctrl(&mut a, 'u');
    testkit::keys(&mut a, "netns=nowhere");
    let e = a.input_error.clone().expect("unknown namespace").message;
    assert!(e.contains("nowhere") && e.contains('b'), "{e}");
}

/// After a filter that leaves a few packets and after collapsing everything, the panes
/// show what is there from the top: no stale scroll leaves blank rows above the end.
#[test]
fn panes_clamp_after_filter_and_collapse() {
    let mut a = app();
    testkit::keys(&mut a, "G"); // the list scrolled to its end
    filter(&mut a, "tcp and src=10.11.0.2");
    let s = testkit::screen(&mut a, 120, 40);
    let rows: Vec<&str> = s
        .lines()
        .filter(|l| l.contains("tcp 10.11.0.2:7778>") && !l.contains("packet "))
        .collect();
    assert_eq!(
        rows.len(),
        shown_ids(&a).len(),
        "every match on screen:\n{s}"
    );
    // The tree of a long packet, scrolled down, then collapsed: the root calls fill it.
    testkit::keys(&mut a, "\tGC");
    let s = testkit::screen(&mut a, 120, 40);
    let calls = s
        .lines()
        .filter(|l| l.contains("() {") || l.contains("();"))
        .count();
    assert!(calls >= 3, "collapsed roots on screen:\n{s}");
}

/// 80x24: ID, the flow summary, the marks and every loss counter stay. 200x50: the whole
/// VXLAN path and the longest summaries fit without cutting.
#[test]
fn snapshot_lab_layouts() {
    let mut a = app();
    // The first ping on the veth path, with its reply below.
    let ping = a
        .shown
        .iter()
        .map(|&s| a.model.packet(s))
        .find(|p| flow_text(p).starts_with("icmp 10.11.0.1>10.11.0.2 echo request"))
        .expect("an echo request")
        .id;
    testkit::keys(&mut a, &format!(":{ping}\n"));
    let small = testkit::screen(&mut a, 80, 24);
    for want in [
        "ID",
        "FLOW",
        "echo reply",
        "delivered",
        "lost 0",
        "recursion 0",
        "overflow 0",
    ] {
        assert!(small.contains(want), "'{want}' at 80x24:\n{small}");
    }
    insta::assert_snapshot!("lab_80x24", small);
    let mut a = app();
    let id = vxlan_request(&a);
    testkit::keys(&mut a, &format!(":{id}\n"));
    let wide = testkit::screen(&mut a, 200, 50);
    assert!(
        wide.contains("vxlan0>eth1>port-a>port-b>eth1>vxlan0 "),
        "{wide}"
    );
    assert!(
        wide.contains(
            "vxlan 10.51.0.1>10.51.0.2 vni 44 | icmp 10.52.0.1>10.52.0.2 echo request id "
        ),
        "{wide}"
    );
    assert!(!wide.contains('…'), "nothing cut at 200 columns:\n{wide}");
    insta::assert_snapshot!("lab_200x50", wide);
}

/// The latency of one VXLAN echo request, hop by hop: the sender, the tunnel device, the
/// underlay veth, both bridge ports, decapsulation and the tunnel device in `b`.
#[test]
fn snapshot_per_hop_latency_of_a_vxlan_packet() {
    let mut a = app();
    let id = vxlan_request(&a);
    testkit::keys(&mut a, &format!(":{id}\n2"));
    let s = testkit::screen(&mut a, 140, 72);
    let title = format!("Packet {id} per hop");
    for want in [title.as_str(), "vxlan0", "port-a", "port-b", "tunnel encap"] {
        assert!(s.contains(want), "'{want}' missing:\n{s}");
    }
    insta::assert_snapshot!("lab_latency_vxlan_packet", s);
}

/// At 80x24 the `?` overlay cannot hold every key: it scrolls to the last one, and any
/// other key closes it.
#[test]
fn the_help_scrolls_on_a_short_terminal() {
    let mut a = app();
    testkit::keys(&mut a, "?");
    let s = testkit::screen(&mut a, 80, 24);
    assert!(s.contains("Keys 1-"), "{s}");
    let last = vrft_ui::keys::HELP.last().unwrap().1;
    assert!(!s.contains(last), "the last key is below:\n{s}");
    for _ in 0..vrft_ui::keys::HELP.len() {
        testkit::keys(&mut a, "j");
    }
    let s = testkit::screen(&mut a, 80, 24);
    let shown: String = last.chars().take(30).collect();
    assert!(s.contains(&shown), "scrolled to the last key:\n{s}");
    testkit::keys(&mut a, "x");
    assert_eq!(a.mode, vrft_ui::app::Mode::Normal);
}
