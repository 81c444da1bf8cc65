//! Filters and packet identity end to end (issue 5): each scenario traces a
//! narrow set of functions (enough to see every device and namespace a packet
//! crosses) and releases before the next, so they stay quick.

use std::collections::{BTreeMap, HashMap};

use vrft_events::record::Recording;
use vrft_ui::model::node_flags::{NO_ENTRY, TRACEPOINT};
use vrft_ui::model::{Model, Packet};

use super::identity;
use super::scenario::{Outcome, Scenario};
use super::topology::{geneve, veth, vxlan, Flow};

pub fn scenarios() -> Vec<Scenario> {
    vec![
        vxlan_inner(),
        geneve_inner(),
        iface_and_netns(),
        pcap_port(),
        nat(),
        match_later(),
    ]
}

/// The flow a packet is named by, as the UI prints it ("" without one).
pub fn flow_text(p: &Packet) -> String {
    p.flow.as_ref().map(|f| f.to_string()).unwrap_or_default()
}

/// The packets whose flow text starts with `head` and ends with `tail`, e.g.
/// ("udp 10.11.0.1:", ">10.11.0.2:7777"): one UDP flow whatever its source port.
pub fn packets_of<'m>(model: &'m Model, head: &str, tail: &str) -> Vec<&'m Packet> {
    model
        .packets()
        .iter()
        .filter(|p| {
            let f = flow_text(p);
            f.starts_with(head) && f.ends_with(tail)
        })
        .collect()
}

/// The functions that show every hop of UDP over veth, VXLAN and GENEVE.
const FUNCS: &str = "--funcs '^(ip_output|ip_finish_output2|__dev_queue_xmit|dev_hard_start_xmit|veth_xmit|\
vxlan_xmit|vxlan_xmit_one|udp_tunnel_xmit_skb|iptunnel_xmit|__netif_receive_skb_core|ip_rcv|ip_local_deliver|\
udp_rcv|udp_queue_rcv_skb|vxlan_rcv|gro_cells_receive|kfree_skbmem|skb_clone|\
geneve_xmit|geneve_udp_encap_recv|geneve_rx)$'";

/// Records with `args` while `traffic` runs, into $OUT/<tag>.vrft; namespace inodes go to $OUT/ns.
/// The backend is the automatic choice: fentry on 6.1 and 6.12, fsession on 7.2.
/// The packets whose id is a payload sequence number (not a counter id), by id.
pub fn payload_packets(model: &Model) -> BTreeMap<u32, &Packet> {
    model
        .packets()
        .iter()
        .filter(|p| p.id & 0x8000_0000 == 0)
        .map(|p| (p.id, p))
        .collect()
}

fn record_during(tag: &str, args: &str, traffic: &str) -> String {
    format!(
        "{NS_INODES}{}{traffic}\nsleep 1\n{}",
        start_recording(tag, FUNCS, args),
        stop_recording(tag)
    )
}

/// Shell that writes the namespaces' inodes to $OUT/ns (see `Traced::read`).
const NS_INODES: &str =
    "for ns in $(ls /run/netns); do echo \"$ns $(stat -L -c %i /run/netns/$ns)\"; done > \"$OUT/ns\"\n";

/// Shell that starts `vrft-tui record` into $OUT/<tag>.vrft in the background and waits until
/// it is armed; `tag` names its pid variable too, so several can run at once.
fn start_recording(tag: &str, funcs: &str, args: &str) -> String {
    format!(
        r#"vrft-tui record -o "$OUT/{tag}.vrft" --wait-detach {funcs} {args} 2> "$OUT/{tag}.err" &
rec_{tag}=$!
wait_for "$OUT/{tag}.err" $rec_{tag} 300 armed
"#
    )
}

/// Shell that stops a recording of [`start_recording`] and waits for its release.
fn stop_recording(tag: &str) -> String {
    format!("kill -INT $rec_{tag}\nwait $rec_{tag}\ncat \"$OUT/{tag}.err\"\n")
}

/// Both flows at once: `b` in the background, `a` in the foreground.
fn concurrently(a: &Flow, b: &Flow) -> String {
    format!("( {} ) &\nbg=$!\n{}\nwait $bg\n", b.script(), a.script())
}

struct Traced {
    rec: Recording,
    model: Model,
    /// Namespace name by inode.
    ns: HashMap<u32, String>,
}

impl Traced {
    fn read(out: &Outcome, tag: &str) -> Result<Traced, String> {
        let rec =
            Recording::read(&out.path(&format!("{tag}.vrft"))).map_err(|e| format!("{e:#}"))?;
        let model = Model::from_events(&rec.header.info, &rec.events);
        let ns = out
            .read("ns")?
            .lines()
            .filter_map(|l| {
                let (name, ino) = l.split_once(' ')?;
                Some((ino.trim().parse().ok()?, name.to_string()))
            })
            .collect();
        Ok(Traced { rec, model, ns })
    }

    /// "ns:device" for each device the packet was seen on, in order.
    fn path(&self, p: &Packet) -> Vec<String> {
        let info = &self.rec.header.info;
        let mut path: Vec<String> = Vec::new();
        for n in &p.nodes {
            let (netns, ifindex) = p.dev(n);
            if ifindex == 0 {
                continue;
            }
            let ns = self
                .ns
                .get(&netns)
                .cloned()
                .unwrap_or_else(|| netns.to_string());
            let dev = info.ifname(netns, ifindex);
            let hop = format!("{ns}:{dev}");
            if path.last() != Some(&hop) {
                path.push(hop);
            }
        }
        path
    }

    /// The packets with payload ids, which must be exactly 1..=count.
    fn expect_payload_ids(&self, tag: &str, count: u32) -> Result<BTreeMap<u32, &Packet>, String> {
        let ids = payload_packets(&self.model);
        if ids.keys().copied().ne(1..=count) {
            return Err(format!(
                "{tag}: want ids 1..={count} once each, got:\n{}",
                self.describe()
            ));
        }
        Ok(ids)
    }

    fn describe(&self) -> String {
        self.model
            .packets()
            .iter()
            .map(|p| format!("{:#x}: {:?}\n", p.id, self.path(p)))
            .collect()
    }
}

/// One overlay: its topology, the tunnel device's name, and the overlay address sent to.
struct Overlay {
    name: &'static str,
    setup: String,
    dev: &'static str,
    dst: &'static str,
}

fn vxlan_inner() -> Scenario {
    tunnel_filters(Overlay {
        name: "filter_vxlan_inner",
        setup: vxlan::setup(),
        dev: "vxlan0",
        dst: vxlan::OVERLAY_B,
    })
}

fn geneve_inner() -> Scenario {
    tunnel_filters(Overlay {
        name: "filter_geneve_inner",
        setup: geneve::setup(),
        dev: "gnv0",
        dst: geneve::OVERLAY_B,
    })
}

/// UDP datagrams with sequence ids across an overlay, recorded four ways:
/// - `inner`: `--inner --daddr <overlay> --payload-id`: every sent id once, followed through
///   encapsulation, the underlay and decapsulation, named by its overlay flow;
/// - `underlay_inner`: the same on the underlay device only (`--netns a --iface eth0`);
/// - `outer`: without `--inner` the overlay address is still the packet's only address
///   before encapsulation, so each id is chosen there (on the tunnel device), then followed;
/// - `underlay_outer`: without `--inner` on the underlay device, where the outer headers
///   carry the underlay addresses: nothing matches.
fn tunnel_filters(o: Overlay) -> Scenario {
    let udp = Flow {
        count: 20,
        rate: 50,
        ..Flow::udp("udp", "a", "b", o.dst, 7777)
    };
    // --snaplen below the window: the snapshots the exports read must stop there.
    let inner = format!("--inner --daddr {} --payload-id --snaplen {SNAPLEN}", o.dst);
    let outer = format!("--daddr {} --payload-id", o.dst);
    let underlay = "--netns a --iface eth0";
    let script = format!(
        "{}{}{}{}{}",
        o.setup,
        record_during("inner", &inner, &udp.script()),
        record_during(
            "underlay_inner",
            &format!("{underlay} {inner}"),
            &udp.script()
        ),
        record_during("outer", &outer, &udp.script()),
        record_during(
            "underlay_outer",
            &format!("{underlay} {outer}"),
            &udp.script()
        ),
    );
    let (dev, dst) = (o.dev, o.dst);
    Scenario::new(o.name, script, move |out: &Outcome| {
        let want_path = [
            format!("a:{dev}"),
            "a:eth0".into(),
            "b:eth0".into(),
            format!("b:{dev}"),
        ];
        automatic_choice(out, &out.read("inner.err")?)?;
        for tag in ["inner", "underlay_inner", "outer"] {
            let t = Traced::read(out, tag)?;
            let ids = t.expect_payload_ids(tag, 20)?;
            // Chosen on the underlay, a packet is followed from there on.
            let want = &want_path[if tag == "underlay_inner" { 1 } else { 0 }..];
            for (id, p) in &ids {
                let path = t.path(p);
                let mut at = 0;
                for hop in &path {
                    if at < want.len() && *hop == want[at] {
                        at += 1;
                    }
                }
                if path.first() != want.first() || at < want.len() {
                    return Err(format!(
                        "{tag}: packet {id}: path {path:?} does not pass {want:?} in order"
                    ));
                }
                // The flow names the overlay datagram, whichever header the filter read.
                let flow = flow_text(p);
                if !(flow.starts_with("udp ") && flow.ends_with(&format!(">{dst}:7777"))) {
                    return Err(format!("{tag}: packet {id}: flow '{flow}'"));
                }
            }
        }
        let t = Traced::read(out, "underlay_outer")?;
        if !t.model.packets().is_empty() {
            return Err(format!(
                "underlay_outer: the overlay address must not match outer headers, got:\n{}",
                t.describe()
            ));
        }
        if o.name == "filter_vxlan_inner" {
            check_exports(out, "inner", 20)?;
        }
        Ok(())
    })
    .timeout(900)
    .only_on(if o.name == "filter_vxlan_inner" {
        // The deepest filter program (inner headers, pcap, exports) on every verifier.
        &["6.1", "6.12", "7.2"]
    } else {
        &["6.12"]
    })
}

/// The `--snaplen` of the tunnel scenarios' `inner` recordings.
const SNAPLEN: usize = 96;

/// The fresh VXLAN recording `tag` exported and read back (tests/common/export.rs): tshark
/// decodes the inner UDP datagram of each of the `datagrams` on the underlay, the Perfetto
/// slices nest as the trees, the JSON lines follow the schema. With `VRFT_VM_SAVE_VXLAN=FILE`
/// the recording is kept (the fixture `tests/data/vxlan-udp-6.12-fentry.vrft` was made so).
fn check_exports(out: &Outcome, tag: &str, datagrams: usize) -> Result<(), String> {
    use crate::export_checks as checks;
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_vrft-tui"));
    let rec = out.path(&format!("{tag}.vrft"));
    let dir = out.path("export");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let r = Recording::read(&rec).map_err(|e| format!("{e:#}"))?;
    let longest = r
        .events
        .iter()
        .filter_map(|e| Some(e.headers()?.bytes.len()))
        .max();
    if longest != Some(SNAPLEN) {
        return Err(format!(
            "{tag}: longest snapshot {longest:?} bytes, --snaplen {SNAPLEN}"
        ));
    }
    let pcap = checks::check_pcapng(bin, &rec, &dir)?;
    // A capture on each interface the packet crossed: a snapshot at every device and
    // namespace change, not only where the headers changed.
    let m = vrft_ui::model::Model::from_events(&r.header.info, &r.events);
    for p in m.packets().iter().filter(|p| p.id & 0x8000_0000 == 0) {
        let crossed: std::collections::BTreeSet<(u32, u32)> =
            p.devs.iter().copied().filter(|d| d.1 != 0).collect();
        // Beside those, snapshots off any device (ifindex 0): the first probe in the sending
        // socket's namespace (fsession), a header change at the receiving socket's copy.
        let mut captured = pcap.ifaces_of.get(&p.id).cloned().unwrap_or_default();
        captured.retain(|d| d.1 != 0);
        if captured != crossed {
            // The tree says where the snapshots were taken (`headers now`) and where not.
            let tree = checks::run(
                std::process::Command::new(bin)
                    .arg("dump")
                    .arg(&rec)
                    .args(["--packet", &p.id.to_string()]),
            )
            .unwrap_or_else(|e| e);
            return Err(format!(
                "{tag}: packet {}: pcap-ng frames on {captured:?}, devices crossed \
                 {crossed:?}; its tree:\n{tree}",
                p.id
            ));
        }
    }
    if pcap.inner_udp < datagrams {
        return Err(format!(
            "{tag}: tshark decoded {} inner UDP datagrams in {} frames ({} VXLAN), want {datagrams}",
            pcap.inner_udp, pcap.frames, pcap.vxlan
        ));
    }
    let (slices, crossing) = checks::check_perfetto(bin, &rec, &dir)?;
    let lines = checks::check_json(bin, &rec)?;
    eprintln!(
        "[{}] {tag}: pcap-ng {} frames, {} inner UDP; perfetto {slices} slices, {crossing} \
         cross-CPU flow links; {lines} JSON lines",
        out.kernel, pcap.frames, pcap.inner_udp
    );
    if let Ok(keep) = std::env::var("VRFT_VM_SAVE_VXLAN") {
        std::fs::copy(&rec, &keep).map_err(|e| format!("{keep}: {e}"))?;
        eprintln!("[{}] {tag}: recording kept as {keep}", out.kernel);
    }
    Ok(())
}

/// The automatic choice and its one-line reason: fsession where the kernel has the
/// tracing multi-link (7.2), else fentry saying why not.
pub fn automatic_choice(out: &Outcome, err: &str) -> Result<(), String> {
    let line = err
        .lines()
        .find(|l| l.starts_with("backend: "))
        .unwrap_or("");
    let want = if out.kernel == "7.2" {
        "backend: fsession"
    } else {
        "backend: fentry (fsession refused: this kernel has no tracing multi-link (Linux 7.2+): load: "
    };
    if !line.starts_with(want) {
        return Err(format!(
            "on {} the choice line is '{line}', want '{want}...'",
            out.kernel
        ));
    }
    eprintln!("[{}] {line}", out.kernel);
    Ok(())
}

/// Two veth pairs with traffic on both: `--iface` and `--netns` keep one pair's packets.
fn iface_and_netns() -> Scenario {
    let second = r#"
ip netns add c
ip netns add d
ip -n c link add eth0 type veth peer name eth0 netns d
ip -n c addr add 10.12.0.1/24 dev eth0
ip -n d addr add 10.12.0.2/24 dev eth0
for ns in c d; do ip -n $ns link set lo up; ip -n $ns link set eth0 up; done
"#;
    let ab = Flow {
        count: 15,
        rate: 50,
        ..Flow::udp("ab", "a", "b", veth::B, 7777)
    };
    let cd = Flow {
        count: 25,
        rate: 50,
        ..Flow::udp("cd", "c", "d", "10.12.0.2", 7777)
    };
    let both = concurrently(&ab, &cd);
    let script = format!(
        "{}{second}{}{}",
        veth::setup(),
        record_during("iface", "--netns a --iface eth0 --payload-id", &both),
        record_during("netns", "--netns c --payload-id", &both),
    );
    Scenario::new("filter_iface_netns", script, |out: &Outcome| {
        for (tag, first, ends, count) in [
            ("iface", "a", ["a", "b"], 15u32),
            ("netns", "c", ["c", "d"], 25),
        ] {
            let t = Traced::read(out, tag)?;
            for p in t.model.packets() {
                let path = t.path(p);
                let hop_ns = |hop: &String| hop.split(':').next().unwrap_or_default().to_string();
                if path.iter().any(|h| !ends.contains(&hop_ns(h).as_str())) {
                    return Err(format!("{tag}: packet {:#x} left {ends:?}: {path:?}", p.id));
                }
                if path.first().map(hop_ns).as_deref() != Some(first) {
                    return Err(format!(
                        "{tag}: packet {:#x} not first seen in {first}: {path:?}",
                        p.id
                    ));
                }
            }
            t.expect_payload_ids(tag, count)?;
        }
        Ok(())
    })
    .timeout(900)
    .only_on(&["6.12"])
}

/// 'udp dst port 7777' selects exactly the 12 datagrams to that port, none of
/// the 30 sent to 7778 at the same time; each is named by its flow, and every
/// entry carries the `--skb-fields` read by the fentry programs.
fn pcap_port() -> Scenario {
    let wanted = Flow {
        count: 12,
        rate: 40,
        ..Flow::udp("p7777", "a", "b", veth::B, 7777)
    };
    let other = Flow {
        count: 30,
        rate: 100,
        ..Flow::udp("p7778", "a", "b", veth::B, 7778)
    };
    let script = format!(
        "{}{}",
        veth::setup(),
        record_during(
            "pcap",
            "--payload-id --skb-fields len,protocol,gso_segs udp dst port 7777",
            &concurrently(&wanted, &other)
        ),
    );
    Scenario::new("filter_pcap_port", script, |out: &Outcome| {
        let t = Traced::read(out, "pcap")?;
        let got: Vec<u32> = t.model.packets().iter().map(|p| p.id).collect();
        if got
            .iter()
            .copied()
            .collect::<std::collections::BTreeSet<_>>()
            != (1..=12).collect()
            || got.len() != 12
        {
            return Err(format!(
                "want ids 1..=12 once each (port 7777 only), got:\n{}",
                t.describe()
            ));
        }
        // A 7778 datagram with the same sequence number would have merged into
        // one of these ids: each must have crossed the veth pair exactly once.
        let info = &t.rec.header.info;
        if info.skb_fields != ["len", "protocol", "gso_segs"] {
            return Err(format!("skb_fields {:?}", info.skb_fields));
        }
        for p in t.model.packets() {
            let flow = flow_text(p);
            let want = format!(">{}:7777", veth::B);
            if !(flow.starts_with(&format!("udp {}:", veth::A)) && flow.ends_with(&want)) {
                return Err(format!("packet {}: flow '{flow}'", p.id));
            }
            for n in p
                .nodes
                .iter()
                .filter(|n| !n.has(TRACEPOINT) && !n.has(NO_ENTRY))
            {
                let v = p.fields(n);
                if v.len() != 3 || v[0] != u64::from(n.len) || v[1] != 0x0800 {
                    return Err(format!(
                        "packet {}: {} has fields {v:?} (len {}), want [len, 0x800, _]",
                        p.id,
                        info.func_name(n.func),
                        n.len
                    ));
                }
            }
            let xmits = p
                .nodes
                .iter()
                .filter(|n| info.func_name(n.func) == "veth_xmit")
                .count();
            if xmits != 1 {
                return Err(format!(
                    "packet {} crossed veth_xmit {xmits} times:\n{}",
                    p.id,
                    t.describe()
                ));
            }
        }
        Ok(())
    })
    .timeout(900)
}

/// The address a sends to and b's ingress rewrites to b's own (see [`nat_setup`]).
const NAT_PUBLIC: &str = "10.11.0.99";

/// Namespaces a and b over a veth pair; b's eth0 ingress rewrites the destination NAT_PUBLIC
/// to b's own address with tc's stateless `nat` action (a sends to it through a static
/// neighbour entry).
fn nat_setup() -> String {
    format!(
        r#"{}
mac=$(ip -n b -br link show eth0 | awk '{{print $3}}')
ip -n a neigh add {NAT_PUBLIC} lladdr "$mac" dev eth0
at b tc qdisc add dev eth0 clsact
at b tc filter add dev eth0 ingress matchall action nat ingress {NAT_PUBLIC}/32 {}
"#,
        veth::setup(),
        veth::B
    )
}

/// 20 datagrams from a to NAT_PUBLIC:7777, 50 per second.
fn nat_flow() -> Flow {
    Flow {
        count: 20,
        rate: 50,
        ..Flow::udp("udp", "a", "b", NAT_PUBLIC, 7777)
    }
}

/// Stateless NAT: tc's `nat` action on b's eth0 ingress rewrites the destination 10.11.0.99 to
/// b's own address (a sends to .99 through a static neighbour entry). Recorded two ways:
/// - `pre`: `--daddr <public>`: chosen in a by the address the rewrite removes, each id is still
///   followed to the same skb's UDP receive in b, after the rewrite;
/// - `post`: `--daddr <b>`: the address exists only from the rewrite on, so each packet is
///   chosen in b, at a probe after it (filters run at every probe until a packet is chosen).
fn nat() -> Scenario {
    let udp = nat_flow();
    let script = format!(
        "{}{}{}",
        nat_setup(),
        record_during(
            "pre",
            &format!("--daddr {NAT_PUBLIC} --payload-id"),
            &udp.script()
        ),
        record_during(
            "post",
            &format!("--daddr {} --payload-id", veth::B),
            &udp.script()
        ),
    );
    Scenario::new("filter_nat", script, |out: &Outcome| {
        for (tag, path_starts) in [("pre", "a:eth0"), ("post", "b:eth0")] {
            let t = Traced::read(out, tag)?;
            let info = &t.rec.header.info;
            let ids = t.expect_payload_ids(tag, 20)?;
            let b =
                t.ns.iter()
                    .find_map(|(ino, name)| (name == "b").then_some(*ino))
                    .ok_or("no inode for netns b")?;
            for (id, p) in &ids {
                let path = t.path(p);
                if path.first().map(String::as_str) != Some(path_starts)
                    || path.last().map(String::as_str) != Some("b:eth0")
                {
                    return Err(format!(
                        "{tag}: packet {id}: path {path:?}, want {path_starts} .. b:eth0"
                    ));
                }
                // Followed past the rewrite: the same id reaches UDP in b.
                let udp_rcv = p
                    .nodes
                    .iter()
                    .any(|n| info.func_name(n.func) == "udp_rcv" && p.dev(n).0 == b);
                if !udp_rcv {
                    return Err(format!("{tag}: packet {id} has no udp_rcv in b"));
                }
                // Named by the address it was chosen by: read at the first tracepoint after that.
                let flow = flow_text(p);
                if tag == "pre" && !flow.ends_with(&format!(">{NAT_PUBLIC}:7777")) {
                    return Err(format!("pre: packet {id}: flow '{flow}'"));
                }
            }
        }
        Ok(())
    })
    .timeout(900)
    .only_on(&["6.12"])
}

/// A packet the filter turns down at first and that matches later, in the same skb: the NAT of
/// `filter_nat` rewrites its destination in place, inside `tcf_nat_act`, to the filtered address.
/// The rejection memo must not hide the change (issue 15). Two recordings of the same datagrams
/// at once: `ref` follows every datagram from its start, `later` only those to b's address. In
/// `later` each datagram must start exactly at the first probe that `ref` shows after the entry of
/// `tcf_nat_act`, and go on through the same calls as `ref` from there.
fn match_later() -> Scenario {
    const FUNCS: &str = "--funcs '^(tcf_nat_act|inet_proto_csum_replace4|ip_rcv|ip_rcv_finish|\
ip_local_deliver|ip_local_deliver_finish|udp_rcv|udp_queue_rcv_skb|veth_xmit|__dev_queue_xmit|\
ip_finish_output2|skb_copy_datagram_iter)$'";
    let udp = nat_flow();
    let script = format!(
        "{}{NS_INODES}{}{}{}\nsleep 1\n{}{}",
        nat_setup(),
        start_recording("ref", FUNCS, "--payload-id"),
        start_recording("later", FUNCS, &format!("--payload-id --daddr {}", veth::B)),
        udp.script(),
        stop_recording("ref"),
        stop_recording("later"),
    );
    Scenario::new("filter_match_later", script, |out: &Outcome| {
        let (reference, later) = (Traced::read(out, "ref")?, Traced::read(out, "later")?);
        let names = |t: &Traced, p: &Packet| -> Vec<String> {
            p.nodes
                .iter()
                .map(|n| t.rec.header.info.func_name(n.func).to_string())
                .collect()
        };
        let want = reference.expect_payload_ids("ref", 20)?;
        let got = later.expect_payload_ids("later", 20)?;
        // A recursion miss loses one call of one recording (7.2's fsession, preempted lazily or
        // interrupted by a softirq inside its one program; counted, never silent): a packet may
        // then differ from the other recording by calls lost, at most one packet per miss.
        let misses =
            identity::recursion_misses(&reference.rec) + identity::recursion_misses(&later.rec);
        let mut tolerated = 0;
        for (id, p) in &want {
            let all = names(&reference, p);
            let nat = all
                .iter()
                .position(|n| n == "tcf_nat_act")
                .ok_or_else(|| format!("ref: packet {id} has no tcf_nat_act: {all:?}"))?;
            let from_nat = &all[nat + 1..];
            let seen = names(&later, got[id]);
            // `ref` stops first: `later` may also hold the end of the last datagrams' lives
            // (their free), never less and never a different start.
            if !seen.starts_with(from_nat) {
                let calls_lost = seen.first() == from_nat.first()
                    && (identity::in_order(&seen, from_nat) || identity::in_order(from_nat, &seen));
                if !calls_lost || tolerated == misses {
                    return Err(format!(
                        "packet {id}: after the rewrite, ref shows\n  {from_nat:?}\nlater followed\n  {seen:?}"
                    ));
                }
                tolerated += 1;
            }
            // Its bytes, already rewritten: from the first probe that saw it with fsession (7.2),
            // from the next tracepoint with fentry clones (6.1, 6.12: see on_entry's note_first).
            let p = got[id];
            let first = p.headers().first();
            let summary = first.and_then(|(_, h)| vrft_ui::headers::summary(h));
            let to_b = format!(">{}:7777", veth::B);
            let want_at = if later.rec.header.info.backend == Some(vrft_events::Backend::Fentry) {
                p.nodes.iter().position(|n| n.has(TRACEPOINT)).map(|i| i as u32)
            } else {
                Some(0)
            };
            if first.map(|f| f.0) != want_at
                || !summary.as_deref().is_some_and(|s| s.contains(&to_b))
            {
                return Err(format!(
                    "later: packet {id}: first snapshot {summary:?} at call {:?}, want {to_b} at \
                     call {want_at:?}",
                    first.map(|f| f.0)
                ));
            }
        }
        eprintln!(
            "[{}] filter_match_later: 20 datagrams followed from {:?} ({tolerated} with calls lost \
             to the {misses} recursion misses)",
            out.kernel,
            names(&later, got[&1]).first()
        );
        Ok(())
    })
    .timeout(900)
    .only_on(&["6.12", "7.2"])
}
