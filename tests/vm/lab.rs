//! The lab of issue 16, recorded for the UI's tests: namespaces `a` and `b` joined by a plain
//! veth pair and by a VXLAN overlay across a bridge in namespace `br`; ping on both paths, UDP
//! with and without a listener, a TCP exchange, every skb function probed (kprobe backend,
//! 6.12). The host checks what the packet list says of each kind of packet in the fresh
//! recording; with `VRFT_VM_SAVE_LAB=FILE` it also keeps it (the fixture
//! `tests/data/lab-6.12-kprobe.vrft` was made so).

use vrft_events::record::Recording;
use vrft_ui::format::{flow_text, function_graph, task_text};
use vrft_ui::model::Model;

use super::scenario::{Outcome, Scenario};
use super::topology::{veth, vxlan_bridge, Flow};
use super::tracing::RECORD_HELPERS;

pub fn scenarios() -> Vec<Scenario> {
    vec![lab()]
}

fn lab() -> Scenario {
    let udp = Flow {
        count: 3,
        rate: 10,
        ..Flow::udp("udp", "a", "b", veth::B, 7777)
    };
    let tcp = Flow {
        count: 3,
        rate: 10,
        ..Flow::tcp("tcp", "a", "b", veth::B, 7778)
    };
    let script = format!(
        r#"{RECORD_HELPERS}{setup}{overlay_setup}
start_record --json --count-hits --backend kprobe
wait_armed 300
at a ping -c 2 -i 0.3 {b} > "$OUT/ping.txt"
at a ping -c 2 -i 0.3 {overlay_b} > "$OUT/ping_vxlan.txt"
{udp}
at a trafgen send --proto udp --to {b}:9 --count 1 --rate 0
{tcp}
sleep 1
stop_record INT
"#,
        setup = veth::setup(),
        overlay_setup = vxlan_bridge::setup(),
        b = veth::B,
        overlay_b = vxlan_bridge::OVERLAY_B,
        udp = udp.script(),
        tcp = tcp.script(),
    );
    Scenario::new("lab", script, |out: &Outcome| {
        out.expect_ids("udp", 3)?;
        out.expect_ids("tcp", 3)?;
        let rec = Recording::read(&out.path("rec.vrft")).map_err(|e| format!("{e:#}"))?;
        check_summaries(&rec)?;
        check_hits(out, &rec)?;
        if let Ok(keep) = std::env::var("VRFT_VM_SAVE_LAB") {
            std::fs::copy(out.path("rec.vrft"), &keep).map_err(|e| format!("{keep}: {e}"))?;
            eprintln!("[{}] lab: recording kept as {keep}", out.kernel);
        }
        Ok(())
    })
    .timeout(600)
    .only_on(&["6.12"])
}

/// `--count-hits`: every probe ran at least as often as it recorded an entry (it also ran
/// for what nobody followed), and the veth driver's transmit was counted.
fn check_hits(out: &Outcome, rec: &Recording) -> Result<(), String> {
    let info = &rec.header.info;
    let stats = &rec.trailer.as_ref().ok_or("no trailer")?.stats;
    if stats.probe_hits.len() != info.probes.len() {
        return Err(format!(
            "{} hit counts for {} probes",
            stats.probe_hits.len(),
            info.probes.len()
        ));
    }
    let mut entries = vec![0u64; info.functions.len()];
    for e in rec
        .events
        .iter()
        .filter(|e| e.kind != vrft_events::Kind::Exit)
    {
        entries[e.func as usize] += 1;
    }
    for (p, &hits) in info.probes.iter().zip(&stats.probe_hits) {
        let Some(f) = p.func else { continue };
        if hits < entries[f as usize] {
            return Err(format!(
                "{}: {hits} hits but {} entries recorded",
                p.name, entries[f as usize]
            ));
        }
    }
    let veth = info
        .probes
        .iter()
        .position(|p| p.name == "veth_xmit")
        .ok_or("veth_xmit not a probe")?;
    let total: u64 = stats.probe_hits.iter().sum();
    eprintln!(
        "[{}] lab: veth_xmit ran {} times; {total} probe runs in all",
        out.kernel, stats.probe_hits[veth]
    );
    if stats.probe_hits[veth] == 0 {
        return Err("veth_xmit was never counted".into());
    }
    Ok(())
}

/// Each kind of packet of the lab has its line in the list: what `tcpdump` would tell apart.
pub fn check_summaries(rec: &Recording) -> Result<(), String> {
    let info = &rec.header.info;
    let model = Model::from_events(info, &rec.events);
    let lines: Vec<String> = model.packets().iter().map(flow_text).collect();
    let (a, b) = (veth::A, veth::B);
    let (oa, ob) = (vxlan_bridge::OVERLAY_A, vxlan_bridge::OVERLAY_B);
    let (ua, ub) = (vxlan_bridge::UNDERLAY_A, vxlan_bridge::UNDERLAY_B);
    let vni = vxlan_bridge::VNI;
    let wanted: Vec<(&str, String)> = vec![
        ("echo request", format!("icmp {a}>{b} echo request id ")),
        ("echo reply", format!("icmp {b}>{a} echo reply id ")),
        (
            "VXLAN echo request",
            format!("vxlan {ua}>{ub} vni {vni} | icmp {oa}>{ob} echo request id "),
        ),
        (
            "VXLAN echo reply",
            format!("vxlan {ub}>{ua} vni {vni} | icmp {ob}>{oa} echo reply id "),
        ),
        (
            "port unreachable",
            format!("icmp {b}>{a} port unreachable for udp {a}:"),
        ),
        ("UDP to a listener", format!("udp {a}:")),
        ("TCP SYN", format!("tcp {a}:")),
        ("ARP request", "arp who-has ".to_string()),
        ("ARP reply", "arp reply ".to_string()),
    ];
    for (what, prefix) in &wanted {
        if !lines.iter().any(|l| l.starts_with(prefix.as_str())) {
            return Err(format!(
                "no {what} ('{prefix}...') among:\n{}",
                lines.join("\n")
            ));
        }
    }
    let has = |pred: &dyn Fn(&str) -> bool, what: &str| {
        if lines.iter().any(|l| pred(l)) {
            Ok(())
        } else {
            Err(format!("no {what} among:\n{}", lines.join("\n")))
        }
    };
    has(&|l| l.contains(":7778 [S] seq "), "TCP SYN to 7778")?;
    has(
        &|l| l.contains(":7778>") && l.contains(" [S.] seq "),
        "TCP SYN-ACK",
    )?;
    has(
        &|l| l.contains(" [P.] seq ") && !l.ends_with(" len 0"),
        "TCP data",
    )?;
    has(&|l| l.contains(":7777 len "), "UDP datagram length")?;
    // Who sent the echo requests, and the encapsulation marked in a tree.
    let senders: Vec<String> = model
        .packets()
        .iter()
        .filter(|p| flow_text(p).contains("echo request"))
        .filter_map(task_text)
        .collect();
    if !senders.iter().any(|t| t.starts_with("ping[")) {
        return Err(format!(
            "no echo request names ping as its sender: {senders:?}"
        ));
    }
    let encapsulated = model.packets().iter().find(|p| {
        flow_text(p).starts_with("vxlan ")
            && function_graph(p, info)
                .iter()
                .any(|l| l.contains("headers now: "))
    });
    if encapsulated.is_none() {
        return Err("no VXLAN packet's tree marks where its headers changed".into());
    }
    Ok(())
}
