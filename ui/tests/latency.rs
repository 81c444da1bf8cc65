//! Latency per hop, on the synthetic stream and on the real recording (its VXLAN overlay
//! crosses a tunnel device, a veth pair, a bridge and back).

mod common;

use vrft_ui::app::{App, Pane, View};
use vrft_ui::latency::{self, HopKind, Line, Roles};
use vrft_ui::model::Packet;
use vrft_ui::testkit::{self, keys, screen, selected_func, selected_id};

fn real() -> App {
    testkit::replay(testkit::real_recording())
}

fn packet(app: &App, id: u32) -> &Packet {
    app.model.packet(app.model.slot_of(id).unwrap())
}

fn stage_names(hop: &latency::Hop) -> Vec<String> {
    hop.stages().map(|(name, _, _)| name).collect()
}

#[test]
fn one_packet_across_a_veth_pair_per_hop() {
    let s = common::Synth::scenario();
    let a = s.app(false);
    let hops = latency::hops(packet(&a, 1), &Roles::new(&a.info), &a.info);
    let devs: Vec<(u32, u32)> = hops.iter().map(|h| h.dev).collect();
    assert_eq!(devs, [(common::NS1, 5), (common::NS2, 4)]);
    assert!(hops.iter().all(|h| h.kind == HopKind::Veth), "{hops:?}");
    assert_eq!(
        stage_names(&hops[0]),
        [
            "L4 send -> IP output",
            "IP output -> neighbour",
            "neighbour -> dev queue",
            "dev queue -> driver xmit"
        ]
    );
    assert_eq!(
        stage_names(&hops[1]),
        [
            "rx enqueue -> rx core",
            "rx core -> ip_rcv",
            "ip_rcv -> ip_local_deliver",
            "ip_local_deliver -> L4 receive",
            "L4 receive -> socket queue",
            "socket queue -> app read"
        ]
    );
    // The application read 150 us after the datagram was queued to its socket.
    let (_, q, r) = hops[1].stages().last().unwrap();
    assert!(
        (150_000..170_000).contains(&(r.ts - q.ts)),
        "{}",
        r.ts - q.ts
    );
    // The first hop ends where the second starts.
    assert_eq!(hops[0].end, hops[1].start);
}

/// Every stage is counted where both its ends ran on one hop, so a hop's stages add up
/// to its whole, and the table's counts agree with each other.
#[test]
fn counts_are_consistent_on_the_real_recording() {
    let a = real();
    let roles = Roles::new(&a.info);
    for p in a.model.packets() {
        for hop in latency::hops(p, &roles, &a.info) {
            let sum: u64 = hop.stages().map(|(_, x, y)| y.ts - x.ts).sum();
            if let (Some(f), Some(l)) = (hop.bounds.first(), hop.bounds.last()) {
                assert_eq!(sum, l.ts - f.ts, "packet {}", p.id);
            }
        }
    }
    let lat = latency::compute(a.shown.iter().map(|&s| a.model.packet(s)), &roles, &a.info);
    assert_eq!(lat.packets, a.shown.len());
    for k in &lat.kinds {
        assert!(k.packets <= k.hops && k.total.samples.len() <= k.hops);
        for s in &k.stages {
            assert!(
                s.samples.len() <= k.total.samples.len(),
                "{}: {} {} > {}",
                k.kind.name(),
                s.name,
                s.samples.len(),
                k.total.samples.len()
            );
        }
    }
}

/// A VXLAN datagram: its own hops for the sender's socket, the tunnel device, the underlay
/// veth, both bridge ports, the underlay receive (decapsulation) and the tunnel device
/// again; no stage mixes two of them.
#[test]
fn a_vxlan_packet_per_hop() {
    let a = real();
    let p = a
        .model
        .packets()
        .iter()
        .find(|p| {
            p.flow.as_ref().is_some_and(|f| f.proto == 17)
                && vrft_ui::format::dev_path(p, &a.info).starts_with("vxlan0>")
        })
        .unwrap();
    let hops = latency::hops(p, &Roles::new(&a.info), &a.info);
    let kinds: Vec<HopKind> = hops.iter().map(|h| h.kind).collect();
    use HopKind::*;
    assert_eq!(
        kinds,
        [NoDevice, Tunnel, Veth, Bridge, Bridge, Tunnel, Tunnel],
        "packet {}",
        p.id
    );
    let names: Vec<String> = hops
        .iter()
        .map(|h| a.info.ifname(h.dev.0, h.dev.1))
        .collect();
    assert_eq!(
        names,
        ["-", "vxlan0", "eth1", "port-a", "port-b", "eth1", "vxlan0"]
    );
    assert!(stage_names(&hops[1]).contains(&"driver xmit -> tunnel encap".to_string()));
    assert!(stage_names(&hops[3]).contains(&"bridge -> bridge fwd".to_string()));
    assert!(stage_names(&hops[5]).contains(&"L4 receive -> tunnel decap".to_string()));
    assert!(stage_names(&hops[6]).contains(&"socket queue -> app read".to_string()));
    // Each device shows its own receive path: ip_rcv of the underlay and of the inner packet
    // are stages of different hops.
    let ip_rcv = latency::GROUPS
        .iter()
        .position(|(n, _)| *n == "ip_rcv")
        .unwrap() as u8;
    let with_ip_rcv: Vec<usize> = (0..hops.len())
        .filter(|&h| hops[h].bounds.iter().any(|b| b.group == ip_rcv))
        .collect();
    assert_eq!(with_ip_rcv, [5, 6]);
}

#[test]
fn snapshot_latency_of_one_vxlan_packet() {
    let mut a = real();
    keys(&mut a, ":57\n2");
    // Tall enough for the whole breakdown (the view gives it up to half its rows).
    let s = screen(&mut a, 140, 72);
    assert!(s.contains("socket queue -> app read"), "{s}");
    assert!(s.contains("Packet 57 per hop: 7 hops"), "{s}");
    assert!(s.contains("hop 2  vxlan0 (netns 4026532194)"), "{s}");
    assert!(s.contains("tunnel encap -> IP output"), "{s}");
    insta::assert_snapshot!("latency_vxlan_packet", s);
}

/// Enter on a percentile of a stage: the packet that took that long, with its tree at the
/// stage's first call.
#[test]
fn enter_on_a_percentile_goes_to_its_packet() {
    let mut a = real();
    keys(&mut a, "2");
    let lines = a.latency().lines();
    let (at, line) = lines
        .iter()
        .enumerate()
        .find(|(_, &l)| {
            matches!(l, Line::Stage(..))
                && a.latency().stage(l).unwrap().name == "dev queue -> driver xmit"
        })
        .map(|(i, &l)| (i, l))
        .unwrap();
    let max = *a.latency().stage(line).unwrap().samples.last().unwrap();
    keys(&mut a, &"j".repeat(at));
    assert_eq!(a.lat_sel, at);
    keys(&mut a, "llll\n");
    assert_eq!(a.view, View::Packets);
    assert_eq!(a.pane, Pane::Tree);
    assert_eq!(selected_id(&a), max.packet);
    assert_eq!(a.selected_node(), Some(max.node));
    assert_eq!(selected_func(&mut a), "__dev_queue_xmit");
    assert!(a
        .message
        .as_deref()
        .unwrap()
        .contains("MAX of dev queue -> driver xmit"));
    // P50 from there: h goes back to the first column.
    keys(&mut a, "2hhhh\n");
    let p50 = *a.latency().stage(line).unwrap().at(50).unwrap();
    assert_eq!(selected_id(&a), p50.packet);
    // A heading has no percentile: Enter says what to do.
    keys(&mut a, "2g\n");
    assert_eq!(a.view, View::Latency);
    assert!(a.message.as_deref().unwrap().contains("select a stage"));
}

/// Tab selects a line of the packet's own breakdown; Enter opens its tree there.
#[test]
fn enter_on_a_hop_opens_its_tree() {
    let mut a = real();
    keys(&mut a, ":57\n2\t");
    assert!(a.lat_packet_focus);
    // hop 1 and its two stages, then hop 2 (vxlan0).
    keys(&mut a, "jjj\n");
    assert_eq!((a.view, a.pane), (View::Packets, Pane::Tree));
    assert_eq!(selected_id(&a), 57);
    assert_eq!(selected_func(&mut a), "nf_hook_slow");
}

/// J/K in the latency view walk the packets: the breakdown follows the selection.
#[test]
fn next_packet_in_the_latency_view() {
    let mut a = real();
    keys(&mut a, ":57\n2J");
    assert_eq!(a.view, View::Latency);
    assert_eq!(selected_id(&a), 58);
    assert!(screen(&mut a, 140, 40).contains("Packet 58 per hop"));
}

/// The table across packets keeps its scroll within its lines when a filter shrinks it.
#[test]
fn the_table_fills_after_a_filter() {
    let mut a = real();
    keys(&mut a, "2G");
    screen(&mut a, 120, 30);
    assert!(a.lat_offset > 0, "scrolled to the end");
    let before = a.latency().lines().len();
    keys(&mut a, "fproto=icmp\n");
    let s = screen(&mut a, 120, 30);
    let lines = a.latency().lines().len();
    assert!(lines < before);
    // Below the header, every row of the pane holds a line.
    let rows: Vec<&str> = s
        .lines()
        .skip_while(|l| !l.contains("┌ Across"))
        .skip(2)
        .take_while(|l| !l.contains('└'))
        .collect();
    let blank = rows
        .iter()
        .filter(|r| {
            r.trim_matches(|c| c == '"' || c == '│' || c == ' ')
                .is_empty()
        })
        .count();
    assert_eq!(blank, 0, "{s}");
    assert_eq!(a.lat_offset, lines - rows.len(), "{s}");
}
