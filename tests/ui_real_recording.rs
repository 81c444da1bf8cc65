//! Every UI view, and the key handling, on a REAL recording: Debian 6.1 under QEMU, fentry
//! backend, the full-trace VM scenario unfiltered (UDP across a tapped veth pair and over VXLAN,
//! pings, datagrams to closed ports, ARP and netlink notifications). The recording is read with
//! the same code `vrft-tui replay` uses, then driven through `vrft_ui::app::App` and drawn on a
//! ratatui `TestBackend`. States this run never reached (lost records, live mode) are
//! snapshotted on the synthetic stream in ui/tests/views.rs instead; each view or state has one
//! snapshot.

use ratatui::style::Color;
use vrft_ui::app::{App, Mode, Pane, Prompt, View};
use vrft_ui::format::RowKind;
use vrft_ui::testkit::{self, draw, keys, screen, selected_func, selected_id};

/// The app as `vrft-tui replay` opens the real recording.
fn app() -> App {
    testkit::replay(testkit::real_recording())
}

fn calls(app: &App, id: u32, func: &str) -> bool {
    let p = app.model.packet(app.model.slot_of(id).unwrap());
    p.nodes.iter().any(|n| app.info.func_name(n.func) == func)
}

/// The first packet (in list order) whose tree contains `__udp4_lib_rcv`: a UDP datagram
/// that crossed the veth pair and reached the socket.
fn udp_packet(app: &App) -> u32 {
    app.shown
        .iter()
        .map(|&s| app.model.packet(s).id)
        .find(|&id| calls(app, id, "__udp4_lib_rcv"))
        .expect("a UDP packet reached __udp4_lib_rcv")
}

/// Rows of the selected packet's tree as text.
fn tree_text(app: &mut App) -> Vec<String> {
    let slot = app.selected_slot().unwrap();
    let rows = app.tree_rows().to_vec();
    let p = app.model.packet(slot);
    rows.iter()
        .map(|r| vrft_ui::format::row_text(p, &app.info, r))
        .collect()
}

/// Selected tree row's kind.
fn row_kind(app: &mut App) -> RowKind {
    let sel = app.tree_sel;
    app.tree_rows()[sel].kind
}

// ---------------------------------------------------------------- snapshots

#[test]
fn snapshot_packet_list_and_udp_tree() {
    let mut a = app();
    let u = udp_packet(&a);
    keys(&mut a, &format!(":{u}\n\t"));
    let s = screen(&mut a, 160, 50);
    assert!(
        s.contains(&format!("packet {u} ")),
        "tree title names packet {u}"
    );
    assert!(s.contains("udp_send_skb() {"));
    insta::assert_snapshot!(s);
}

#[test]
fn snapshot_details_of_udp4_lib_rcv() {
    let mut a = app();
    let u = udp_packet(&a);
    keys(&mut a, &format!(":{u}\n\t/__udp4_lib_rcv\n"));
    assert_eq!(selected_func(&mut a), "__udp4_lib_rcv");
    let s = screen(&mut a, 160, 50);
    assert!(s.contains("function  __udp4_lib_rcv"));
    insta::assert_snapshot!(s);
}

#[test]
fn snapshot_tree_folded() {
    let mut a = app();
    let u = udp_packet(&a);
    // Fold the neighbour resolution under ip_finish_output2, then look at the whole packet.
    keys(&mut a, &format!(":{u}\n\t/neigh_resolve_output\n\n"));
    assert_eq!(row_kind(&mut a), RowKind::Folded);
    let s = screen(&mut a, 160, 40);
    assert!(s.contains("neigh_resolve_output() { ... }"));
    insta::assert_snapshot!("tree_one_call_folded", s);
    keys(&mut a, "C");
    let s = screen(&mut a, 160, 40);
    assert!(s.contains("udp_send_skb() { ... }"));
    insta::assert_snapshot!("tree_collapsed_all", s);
    // From there L opens only the hot path: the longest call of each level, one per key.
    keys(&mut a, "LLLL");
    assert_eq!(selected_func(&mut a), "__ip_finish_output");
    let s = screen(&mut a, 160, 40);
    assert!(
        s.contains("nf_hook_slow() { ... }"),
        "a call off the path stays folded"
    );
    insta::assert_snapshot!("tree_collapsed_hot_path", s);
}

#[test]
fn snapshot_narrow_terminal_details_below() {
    let mut a = app();
    let u = udp_packet(&a);
    keys(&mut a, &format!(":{u}\n\t/veth_xmit\n"));
    let s = screen(&mut a, 100, 44);
    assert!(s.contains("function  veth_xmit"));
    insta::assert_snapshot!(s);
}

#[test]
fn snapshot_latency_view() {
    let mut a = app();
    keys(&mut a, "2");
    let s = screen(&mut a, 130, 24);
    for h in [
        "P50",
        "P90",
        "P99",
        "MAX",
        "Packet 1 per hop",
        "app send -> L4 send",
    ] {
        assert!(s.contains(h), "latency view shows {h}");
    }
    insta::assert_snapshot!(s);
}

#[test]
fn snapshot_probes_view() {
    let mut a = app();
    keys(&mut a, "3");
    let s = screen(&mut a, 140, 30);
    let (att, skip, fail) = a.info.probe_counts();
    assert!(s.contains(&format!(
        "Probes: {att} attached, {skip} skipped, {fail} failed"
    )));
    insta::assert_snapshot!("probes_by_name", s);
    // Sorted by events recorded: the busiest functions of this recording first.
    // Hits are not counted by this tracer, so the sort goes from status to events.
    keys(&mut a, "sss");
    let s = screen(&mut a, 140, 30);
    assert!(s.contains("EVENTS SEEN*"));
    insta::assert_snapshot!("probes_by_events", s);
}

#[test]
fn snapshot_help_overlay() {
    let mut a = app();
    keys(&mut a, "?");
    let s = screen(&mut a, 130, 34);
    assert!(s.contains("Keys (any key closes)"));
    insta::assert_snapshot!(s);
}

#[test]
fn snapshot_filter_bar_valid_invalid_applied() {
    let mut a = app();
    keys(&mut a, "fiface=eth0 dur>5");
    let t = draw(&mut a, 130, 20);
    let s = t.backend().to_string();
    assert!(s.contains("'5' needs a unit"));
    // The text being typed is red while invalid, and the term the error is about (dur>5,
    // from column 20) white on red.
    let cell = |x: u16| t.backend().buffer()[(x, 19)].clone();
    assert_eq!((cell(9).fg, cell(9).bg), (Color::Red, Color::Reset));
    assert_eq!(cell(19).symbol(), "d");
    assert_eq!((cell(19).fg, cell(19).bg), (Color::White, Color::Red));
    assert_eq!(cell(23).bg, Color::Red, "the whole term is marked");
    insta::assert_snapshot!("filter_invalid", s);

    keys(&mut a, "ms");
    let t = draw(&mut a, 130, 20);
    assert_eq!(t.backend().buffer()[(9, 19)].fg, Color::Reset);
    assert_ne!(t.backend().buffer()[(19, 19)].bg, Color::Red);
    insta::assert_snapshot!("filter_valid_typing", t.backend().to_string());

    keys(&mut a, "\n");
    let s = screen(&mut a, 130, 20);
    assert!(s.contains("filter: iface=eth0 dur>5ms"));
    insta::assert_snapshot!("filter_applied", s);
}

#[test]
fn snapshot_status_line_with_message() {
    let mut a = app();
    keys(&mut a, ":999\n");
    let s = screen(&mut a, 170, 8);
    assert!(s.contains("REPLAY"));
    let (att, skip, fail) = a.info.probe_counts();
    assert!(s.contains(&format!("probes {att}/{skip}/{fail} att/skip/fail")));
    let (n, shown) = (a.model.packets().len(), a.shown.len());
    assert!(s.contains(&format!("packets {n} shown {shown}")));
    assert!(s.contains("no packet 999"));
    insta::assert_snapshot!(s);
}

// ---------------------------------------------------------------- key handling

#[test]
fn jump_to_packet_id_lands_on_it() {
    let mut a = app();
    assert_eq!(selected_id(&a), 1, "a replay opens on the first packet");
    keys(&mut a, "3"); // probes view: a jump returns to the packets
    keys(&mut a, ":14\n");
    assert_eq!(selected_id(&a), 14);
    assert_eq!(a.view, View::Packets);
    keys(&mut a, "#20\n");
    assert_eq!(selected_id(&a), 20);
    // '' goes back to where the last jump started.
    keys(&mut a, "''");
    assert_eq!(selected_id(&a), 14);
    // An unknown ID says so and leaves the selection alone.
    keys(&mut a, ":999\n");
    assert_eq!(selected_id(&a), 14);
    assert_eq!(a.message.as_deref(), Some("no packet 999"));
    // Only digits are taken at the prompt.
    keys(&mut a, ":1x2\n");
    assert_eq!(selected_id(&a), 12);
}

#[test]
fn next_and_previous_packet_keep_the_tree_focused() {
    let mut a = app();
    let u = udp_packet(&a);
    keys(&mut a, &format!(":{u}\n\t"));
    assert_eq!(a.pane, Pane::Tree);
    // The next shown packets (ARP without a device is hidden as "other" in this recording).
    let at = a
        .shown
        .iter()
        .position(|&s| a.model.packet(s).id == u)
        .unwrap();
    let next = |k: usize| a.model.packet(a.shown[at + k]).id;
    let (next1, next2) = (next(1), next(2));
    keys(&mut a, "J");
    assert_eq!(selected_id(&a), next1);
    assert_eq!(a.pane, Pane::Tree);
    a.tree_rows();
    assert_eq!(a.tree_sel, 0, "a new packet's tree starts at its first row");
    keys(&mut a, "JJK");
    assert_eq!(selected_id(&a), next2);
    assert_eq!(a.pane, Pane::Tree);
    // At the last packet J stops.
    let last = a.model.packets().last().unwrap().id;
    keys(&mut a, &format!(":{last}\nJ"));
    assert_eq!(selected_id(&a), last);
}

#[test]
fn longest_child_follows_the_hot_path_and_u_climbs_back() {
    let mut a = app();
    let u = udp_packet(&a);
    keys(&mut a, &format!(":{u}\n\t/udp_send_skb\n"));
    assert_eq!(selected_func(&mut a), "udp_send_skb");
    let slot = a.selected_slot().unwrap();
    let mut path = vec![a.selected_node().unwrap()];
    loop {
        let before = a.selected_node().unwrap();
        keys(&mut a, "L");
        let now = a.selected_node().unwrap();
        if now == before {
            break; // a leaf: L stays
        }
        let p = a.model.packet(slot);
        assert_eq!(
            p.nodes[now as usize].parent, before,
            "L goes one level down"
        );
        let longest = p
            .children(before)
            .map(|c| p.nodes[c as usize].duration())
            .max()
            .unwrap();
        assert_eq!(
            p.nodes[now as usize].duration(),
            longest,
            "to the longest child"
        );
        path.push(now);
    }
    let names: Vec<String> = {
        let p = a.model.packet(slot);
        path.iter()
            .map(|&n| a.info.func_name(p.nodes[n as usize].func).to_string())
            .collect()
    };
    // On this packet the time went into resolving the neighbour (ARP) before the first send.
    assert_eq!(
        names[..4],
        [
            "udp_send_skb",
            "ip_send_skb",
            "ip_output",
            "ip_finish_output"
        ]
    );
    assert!(
        names.contains(&"neigh_resolve_output".to_string()),
        "{names:?}"
    );
    // u climbs the same path back up, and stops at the root.
    for &n in path.iter().rev().skip(1) {
        keys(&mut a, "u");
        assert_eq!(a.selected_node(), Some(n));
    }
    keys(&mut a, "u");
    assert_eq!(selected_func(&mut a), "udp_send_skb");
}

#[test]
fn search_with_n_and_shift_n() {
    let mut a = app();
    // In the list, / finds the next packet after the selection that calls the
    // function (the first row, packet 1, is a datagram itself).
    keys(&mut a, "g");
    let first = selected_id(&a);
    keys(&mut a, "/__udp4_lib_rcv\n");
    let u = selected_id(&a);
    assert!(u > first && calls(&a, u, "__udp4_lib_rcv"));
    for skipped in first + 1..u {
        assert!(!calls(&a, skipped, "__udp4_lib_rcv"));
    }
    keys(&mut a, "n");
    let second = selected_id(&a);
    assert!(second > u && calls(&a, second, "__udp4_lib_rcv"));
    for skipped in u + 1..second {
        assert!(!calls(&a, skipped, "__udp4_lib_rcv"));
    }
    keys(&mut a, "N");
    assert_eq!(selected_id(&a), u);
    // In the tree, / n N walk the matching calls in tree order.
    keys(&mut a, "\t/skb_\n");
    assert!(selected_func(&mut a).contains("skb_"));
    let at = a.tree_sel;
    keys(&mut a, "n");
    assert!(a.tree_sel > at);
    assert!(selected_func(&mut a).contains("skb_"));
    keys(&mut a, "N");
    assert_eq!(a.tree_sel, at);
    // Only the first datagram had to resolve the neighbour.
    keys(&mut a, &format!(":{first}\n/arp_solicit\n"));
    assert_eq!(selected_func(&mut a), "arp_solicit");
    keys(&mut a, ":14\n/arp_solicit\n");
    assert_eq!(
        a.message.as_deref(),
        Some("'arp_solicit' not found in this packet")
    );
}

#[test]
fn enter_folds_and_unfolds_a_call() {
    let mut a = app();
    let u = udp_packet(&a);
    keys(&mut a, &format!(":{u}\n\t"));
    let full = a.tree_rows().len();
    keys(&mut a, "/ip_local_deliver\n");
    assert_eq!(row_kind(&mut a), RowKind::Open);
    let sel = a.tree_sel;
    keys(&mut a, "\n");
    assert_eq!(row_kind(&mut a), RowKind::Folded);
    assert_eq!(a.tree_sel, sel, "the folded call stays selected");
    assert!(a.tree_rows().len() < full);
    let text = tree_text(&mut a);
    assert!(
        text[sel].contains("ip_local_deliver() { ... } /* = 0 */"),
        "{}",
        text[sel]
    );
    assert!(!text.iter().any(|l| l.contains("__udp4_lib_rcv")));
    keys(&mut a, "\n");
    assert_eq!(row_kind(&mut a), RowKind::Open);
    assert_eq!(a.tree_rows().len(), full);
    // Space toggles too; h folds, l unfolds.
    keys(&mut a, " ");
    assert_eq!(row_kind(&mut a), RowKind::Folded);
    keys(&mut a, "l");
    assert_eq!(row_kind(&mut a), RowKind::Open);
    keys(&mut a, "h");
    assert_eq!(row_kind(&mut a), RowKind::Folded);
}

#[test]
fn collapse_all_and_expand_all() {
    let mut a = app();
    let u = udp_packet(&a);
    keys(&mut a, &format!(":{u}\n\t/__udp4_lib_rcv\n"));
    let full = a.tree_rows().len();
    keys(&mut a, "C");
    let rows = a.tree_rows().to_vec();
    assert!(rows.len() < full / 4, "{} of {full}", rows.len());
    assert!(rows.iter().all(|r| r.depth == 0));
    // The selection moved to the root the selected call belongs to.
    assert_eq!(selected_func(&mut a), "udp_send_skb");
    assert_eq!(row_kind(&mut a), RowKind::Folded);
    keys(&mut a, "E");
    assert_eq!(a.tree_rows().len(), full);
    assert_eq!(selected_func(&mut a), "udp_send_skb");
}

#[test]
fn filter_by_interface_netns_and_function() {
    let mut a = app();
    let veth: Vec<u32> = a
        .shown
        .iter()
        .map(|&s| a.model.packet(s))
        .filter(|p| {
            p.devs
                .iter()
                .any(|&(ns, ifi)| a.info.ifname(ns, ifi) == "eth0")
        })
        .map(|p| p.id)
        .collect();
    assert!(veth.len() >= 20, "the 20 datagrams crossed the veth pair");
    // Both ends of the veth pair are eth0, each in its namespace.
    keys(&mut a, "fiface=eth0\n");
    assert_eq!(a.mode, Mode::Normal);
    let shown: Vec<u32> = a.shown.iter().map(|&s| a.model.packet(s).id).collect();
    assert_eq!(shown, veth);
    // The receiving namespace: the last one a datagram's devices were in.
    let rx_ns = {
        let p = a.model.packet(a.model.slot_of(udp_packet(&a)).unwrap());
        p.devs.iter().rfind(|d| d.1 != 0).unwrap().0
    };
    // Editing starts from the current filter text.
    keys(&mut a, "f");
    assert_eq!(a.mode, Mode::Input(Prompt::Filter));
    assert_eq!(a.input.text(), "iface=eth0");
    keys(&mut a, &format!(" netns={rx_ns} func=__udp4_lib_rcv\n"));
    assert!(!a.shown.is_empty());
    assert!(a.shown.len() < veth.len());
    for &s in &a.shown {
        assert!(calls(&a, a.model.packet(s).id, "__udp4_lib_rcv"));
    }
    // An invalid filter keeps the bar open with the error and changes nothing.
    let before = a.shown.clone();
    keys(&mut a, "f dur>\n");
    assert_eq!(a.mode, Mode::Input(Prompt::Filter));
    assert!(a
        .input_error
        .as_ref()
        .unwrap()
        .message
        .contains("missing value"));
    assert_eq!(a.shown, before);
    keys(&mut a, "\x1b");
    assert_eq!(a.mode, Mode::Normal);
    assert_eq!(a.shown, before);
}

/// The filter language on real packets: protocol words, OR, NOT, parentheses, prefixes,
/// ethertypes and CLI names; the counts add up.
#[test]
fn filter_language_or_not_names_prefixes() {
    let mut a = app();
    let mut shown = |f: &str| {
        let q = vrft_ui::query::Query::parse(f, &a.info).unwrap_or_else(|e| panic!("{f}: {e}"));
        a.set_filter(Some(q));
        a.shown.len()
    };
    assert_eq!(shown("udp"), 91);
    assert_eq!(shown("arp"), 8);
    assert_eq!(shown("udp or arp"), 99);
    assert_eq!(shown("udp || arp"), 99);
    // The 122 listed network packets: 99 of them, and the rest.
    assert_eq!(shown("not (udp or arp)"), 122 - 99);
    assert_eq!(shown("ip"), 105);
    assert_eq!(shown("ip6 and icmp6"), 9);
    assert_eq!(shown("ipv=4"), shown("ip"));
    // The VXLAN datagrams of the overlay, by prefix; the veth pair's by CLI name.
    assert_eq!(shown("udp and host=10.52.0.0/16"), 20);
    assert_eq!(shown("saddr=10.11.0.1 daddr=10.11.0.2 dport=7777"), 20);
    // Precedence: NOT before AND before OR.
    assert_eq!(
        shown("udp and dport=7777 or icmp"),
        shown("(udp and dport=7777) or icmp")
    );
    assert_eq!(shown("udp and dport=7777 or icmp"), 20 + 14);
    assert_eq!(shown("!udp and !arp and ip"), 14);
}

/// `=` on a real datagram and a real ping: the flow, both directions, nothing else.
#[test]
fn follow_flow_on_real_packets() {
    let mut a = app();
    keys(&mut a, ":13\n=");
    assert_eq!(
        a.filter.as_ref().unwrap().text(),
        "proto=udp and ((src=10.11.0.1 and sport=59459 and dst=10.11.0.2 and dport=7777) or \
         (src=10.11.0.2 and sport=7777 and dst=10.11.0.1 and dport=59459))"
    );
    assert_eq!(a.shown.len(), 20);
    assert_eq!(selected_id(&a), 13, "the packet followed stays selected");
    // A ping over the overlay: request and reply, no ports.
    a.set_filter(None);
    let ping = a
        .shown
        .iter()
        .map(|&s| a.model.packet(s))
        .find(|p| {
            p.flow
                .as_ref()
                .is_some_and(|f| f.proto == 1 && f.src.to_string() == "10.52.0.1")
        })
        .map(|p| p.id)
        .unwrap();
    keys(&mut a, &format!(":{ping}\n="));
    assert_eq!(
        a.filter.as_ref().unwrap().text(),
        "proto=icmp and ((src=10.52.0.1 and dst=10.52.0.2) or (src=10.52.0.2 and dst=10.52.0.1))"
    );
    assert_eq!(a.shown.len(), 4);
}
