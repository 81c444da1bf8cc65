//! Older kernels (issue 20). On Debian 11's 5.10 the backends run the
//! programs built for 5.10-5.18 (`VRFT_COMPAT`, tracer/build.rs): the
//! tracepoint backend records real packets, and the automatic choice is the
//! fentry backend's compatible clones, with every traceable vmlinux function
//! attached and the same tree checks as on 6.1 (`trace_veth_compat`, in
//! tests/vm/tracing.rs). A backend the kernel cannot run says in one line
//! which feature is missing and from which version it exists, and `list`
//! says why the loaded modules' functions cannot be traced. 6.1 proves the
//! kprobe line too.

use std::collections::{BTreeMap, HashSet};

use vrft_events::event::Origin;
use vrft_events::record::Recording;
use vrft_events::session::SessionInfo;
use vrft_ui::model::{node_flags, Model, Packet, ROOT};

use super::filtering::packets_of;
use super::scenario::{Outcome, Scenario};
use super::topology::{veth, Flow};
use super::tracing::RECORD_HELPERS;

pub fn scenarios() -> Vec<Scenario> {
    vec![
        kernel_gaps(),
        compat_programs(),
        // Last: its background release keeps the kernel busy until the power-off.
        super::tracing::trace_veth("trace_veth_compat", "compat", &["5.10"]),
    ]
}

/// What 5.10 lacks, named where the compatible programs are chosen.
const FENTRY_GAP: &str =
    "fentry: this kernel (5.10) has no bpf_get_func_arg (5.17+); using compatible clones";
const TRACEPOINT_GAP: &str =
    "tracepoint: this kernel (5.10) has no BPF atomic fetch-add (nor pointer \
                              arguments to global functions) (5.12+); using compatible programs";

fn kernel_gaps() -> Scenario {
    // A narrow --funcs: refusals come before anything loads, whatever the set.
    let script = r#"
vrft-tui list > "$OUT/list.txt" 2> "$OUT/list.err"
if vrft-tui record -o "$OUT/rec.vrft" --funcs '^ip_rcv$' --duration 1 --backend kprobe \
    > "$OUT/record.out" 2> "$OUT/record.err"; then
  echo "record should have been refused" >&2
  exit 1
fi
cat "$OUT/list.err" "$OUT/record.err"
"#;
    Scenario::new("kernel_gaps", script, |out: &Outcome| {
        let err = out.read("record.err")?;
        let want = format!(
            "the kprobe backend failed: this kernel ({}) has no kprobe sessions (6.10+) \
             (without --backend, the first backend that works is used)",
            out.kernel
        );
        if !err
            .lines()
            .any(|l| l.strip_prefix("vrft-tui: ").unwrap_or(l) == want)
        {
            return Err(format!("record.err lacks the line {want:?}:\n{err}"));
        }
        let list_err = out.read("list.err")?;
        let module_line = list_err
            .lines()
            .find(|l| l.starts_with("module functions ("));
        match (out.kernel.as_str(), module_line) {
            ("5.10", Some(l)) => {
                let tail = "): not traceable: this kernel (5.10) has no module BTF (5.11+), so \
                            only vmlinux functions are scanned and traced";
                if !l.ends_with(tail) || !l.contains("veth") {
                    return Err(format!("list's module line is {l:?}"));
                }
            }
            ("5.10", None) => return Err(format!("list names no module gap:\n{list_err}")),
            (_, Some(l)) => return Err(format!("{} has module BTF, yet: {l}", out.kernel)),
            (_, None) => {}
        }
        // vmlinux functions stay traceable (about 1,270 on Debian's 5.10).
        let list = out.read("list.txt")?;
        let traceable = list
            .lines()
            .last()
            .and_then(|l| l.split(" / ").nth(1))
            .and_then(|t| t.strip_prefix("traceable "))
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| format!("list has no summary line:\n{list}"))?;
        if traceable < 1000 {
            return Err(format!("list found only {traceable} traceable functions"));
        }
        Ok(())
    })
    .timeout(300)
    .only_on(&["5.10", "6.1"])
}

/// The compatible programs on 5.10. The tracepoint backend: UDP datagrams across
/// a veth pair, one to a closed port, each its own packet through the device and
/// socket tracepoints. The fentry clones of a few functions: what the verifier
/// walked for each, from its log (5.10 reports no count in the program info).
fn compat_programs() -> Scenario {
    let udp = Flow {
        count: 20,
        rate: 50,
        ..Flow::udp("udp", "a", "b", veth::B, 7777)
    };
    let script = format!(
        r#"{RECORD_HELPERS}{setup}
start_record --json --backend tracepoint
wait_armed 120
{udp}
at a trafgen send --proto udp --to {b}:9 --count 1 --rate 0
sleep 1
stop_record INT
VRFT_DEBUG=1 vrft-tui record -o "$OUT/clones.vrft" --duration 1 --wait-detach \
  --funcs '^(ip_rcv|kfree_skbmem|__build_skb_around|skb_clone|__dev_queue_xmit)$' \
  > /dev/null 2> "$OUT/clones.err"
grep '^verifier: ' "$OUT/clones.err"
"#,
        setup = veth::setup(),
        udp = udp.script(),
        b = veth::B,
    );
    Scenario::new("compat_programs", script, |out: &Outcome| {
        out.expect_ids("udp", 20)?;
        let err = out.read("record.err")?;
        let want = format!("backend: tracepoint (as asked; {TRACEPOINT_GAP})");
        if !err.lines().any(|l| l == want) {
            return Err(format!("record.err lacks the line {want:?}:\n{err}"));
        }
        let rec = Recording::read(&out.path("rec.vrft")).map_err(|e| format!("{e:#}"))?;
        let info = &rec.header.info;
        let model = Model::from_events(info, &rec.events);
        let trailer = rec.trailer.as_ref().ok_or("the recording has no trailer")?;
        if trailer.stats.lost != 0 {
            return Err(format!(
                "the ring buffer lost {} events",
                trailer.stats.lost
            ));
        }
        let of_flow = |port: &str| packets_of(&model, &format!("udp {}:", veth::A), port);
        let names = |p: &vrft_ui::model::Packet| -> Vec<String> {
            p.nodes
                .iter()
                .filter(|n| n.has(node_flags::TRACEPOINT))
                .map(|n| info.func_name(n.func).to_string())
                .collect()
        };
        // Each datagram one packet (ids from the per-CPU counters: a shared id
        // would merge two), queued on a's device, received on b's and consumed
        // there (5.10's UDP copies a linear datagram without the copy tracepoint).
        let udp = of_flow(&format!(">{}:7777", veth::B));
        if udp.len() != 20 {
            return Err(format!("{} packets of the UDP flow, want 20", udp.len()));
        }
        for p in &udp {
            let seen = names(p);
            for tp in [
                "net:net_dev_queue",
                "net:netif_receive_skb",
                "skb:consume_skb",
            ] {
                if !seen.iter().any(|n| n == tp) {
                    return Err(format!("packet {}: no {tp} in {seen:?}", p.id));
                }
            }
        }
        // The datagram to the closed port is dropped: kfree_skb without a reason before 5.17.
        let closed = of_flow(&format!(">{}:9", veth::B));
        let dropped = closed.iter().any(|p| {
            p.nodes
                .iter()
                .any(|n| info.func_name(n.func) == "skb:kfree_skb" && n.has(node_flags::DROP))
        });
        if !dropped {
            let seen: Vec<_> = closed.iter().map(|p| names(p)).collect();
            return Err(format!("no dropped datagram to port 9: {seen:?}"));
        }
        eprintln!(
            "[{}] tracepoint backend: 20 datagrams queued, received and consumed, one \
             dropped at kfree_skb; {} packets, {} events",
            out.kernel,
            model.packets().len(),
            rec.events.len()
        );
        verifier_budget(out)
    })
    .timeout(300)
    .only_on(&["5.10"])
}

/// What the verifier walked for one fentry and one fexit compatible clone, from
/// the lines `verifier: fentry clone of F: processed N insns (limit ...) ...`.
/// The budget is that of the current clones on 6.1 (tests/vm/tracing.rs).
fn verifier_budget(out: &Outcome) -> Result<(), String> {
    let err = out.read("clones.err")?;
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("verifier: "))
        .collect();
    for which in ["fentry", "fexit"] {
        let line = lines
            .iter()
            .find(|l| l.starts_with(&format!("verifier: {which} clone of ")))
            .ok_or_else(|| {
                format!(
                    "no verifier line for a {which} clone in clones.err:\n{}",
                    lines.join("\n")
                )
            })?;
        let insns: u64 = line
            .split("processed ")
            .nth(1)
            .and_then(|t| t.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("no count in {line:?}"))?;
        eprintln!("[{}] {line}", out.kernel);
        if !(1..=2_000).contains(&insns) {
            return Err(format!("{line}: budget 2000 instructions per clone"));
        }
    }
    Ok(())
}

/// The automatic choice on 5.10 (`trace_veth_compat`): the fentry backend's
/// compatible clones, saying why, with every traceable function attached.
pub fn check_compatible_choice(
    out: &Outcome,
    stats: &serde_json::Value,
    err: &str,
) -> Result<(), String> {
    super::filtering::automatic_choice(out, err)?;
    let line = err
        .lines()
        .find(|l| l.starts_with("backend: "))
        .unwrap_or("");
    if !line.ends_with(&format!("; {FENTRY_GAP})")) {
        return Err(format!(
            "the choice line is '{line}', want it to end '{FENTRY_GAP})'"
        ));
    }
    if stats["backend"] != "Fentry" {
        return Err(format!(
            "record --json names backend {}, want Fentry",
            stats["backend"]
        ));
    }
    // Every function `list` offers (what record probes) attached, none failed:
    // `attached in 42.6 s: 1270 attached, 0 failed`.
    let attach = err
        .lines()
        .find(|l| l.starts_with("attached in "))
        .ok_or_else(|| format!("no 'attached in' line in:\n{err}"))?;
    let numbers: Vec<usize> = attach
        .split([' ', ','])
        .filter_map(|w| w.parse().ok())
        .collect();
    // probed.txt: the names `list` prints, and the first word of its summary line.
    let listed = out
        .read("probed.txt")?
        .lines()
        .filter(|l| *l != "found")
        .count();
    match numbers[..] {
        [attached, 0] if attached >= listed => eprintln!(
            "[{}] compatible fentry clones: {attach}; list offers {listed} functions",
            out.kernel
        ),
        _ => {
            return Err(format!(
                "{attach}; list offers {listed} functions: want all attached, none failed"
            ))
        }
    }
    nested_as_on_6_1(out)
}

/// The same scenario recorded on Debian's 6.1 (docs/user-guide.md: the fixture of the UI tests).
const REFERENCE_6_1: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/veth-udp-6.1-fentry.vrft"
);

/// The veth UDP datagrams of the 5.10 recording nest as those of the same scenario on 6.1:
/// the vmlinux functions that a datagram calls on both kernels, each under its nearest
/// caller of that set (5.10 has wrappers 6.1 inlines, and 6.1 calls functions 5.10 has
/// but does not call there, and the reverse), give the same (depth, name) sequences,
/// within each context. Where a softirq runs inside a task's calls is where the
/// kernel re-enables bottom halves, which moved: on 5.10 the receive softirq of a
/// veth datagram runs in `ip_finish_output2` (its `rcu_read_unlock_bh`), on 6.1 in
/// `__dev_queue_xmit` (first seen here: the trees were otherwise equal). So a call
/// in another context than its caller's starts a tree of its own. A datagram's calls come in several trees (the sender's task, the receiving
/// softirq, the reader); their order between two recordings depends on timing, so a
/// datagram is compared as the sorted list of its trees.
fn nested_as_on_6_1(out: &Outcome) -> Result<(), String> {
    let read = |path: &std::path::Path| {
        Recording::read(path).map_err(|e| format!("{}: {e:#}", path.display()))
    };
    let old = read(&out.path("rec.vrft"))?;
    let new = read(std::path::Path::new(REFERENCE_6_1))?;
    let vmlinux = |info: &SessionInfo| -> HashSet<String> {
        info.functions
            .iter()
            .filter(|f| f.origin == Origin::Vmlinux)
            .map(|f| f.name.clone())
            .collect()
    };
    let traced: HashSet<String> = vmlinux(&old.header.info)
        .intersection(&vmlinux(&new.header.info))
        .cloned()
        .collect();
    let shapes = |rec: &Recording, common: &HashSet<String>| -> BTreeMap<Shape, usize> {
        let info = &rec.header.info;
        let model = Model::from_events(info, &rec.events);
        let (head, tail) = (format!("udp {}:", veth::A), format!(">{}:7777", veth::B));
        let mut count = BTreeMap::new();
        for p in packets_of(&model, &head, &tail) {
            *count.entry(shape(p, info, common)).or_default() += 1;
        }
        count
    };
    // The datagrams sent once the neighbour was resolved (all but the first) nest alike
    // on one kernel: the shape most of them have.
    let typical = |s: &BTreeMap<Shape, usize>| {
        s.iter()
            .max_by_key(|(_, n)| **n)
            .map(|(k, n)| (k.clone(), *n))
    };
    let (Some((a, _)), Some((b, _))) = (
        typical(&shapes(&old, &traced)),
        typical(&shapes(&new, &traced)),
    ) else {
        return Err("no UDP datagram of the veth flow in one of the recordings".into());
    };
    // The functions the typical datagram calls on both kernels.
    let called =
        |s: &Shape| -> HashSet<String> { s.iter().flatten().map(|(_, n)| n.clone()).collect() };
    let common: HashSet<String> = called(&a).intersection(&called(&b)).cloned().collect();
    let (on_5_10, on_6_1) = (shapes(&old, &common), shapes(&new, &common));
    let (Some((a, na)), Some((b, nb))) = (typical(&on_5_10), typical(&on_6_1)) else {
        return Err("no UDP datagram of the veth flow in one of the recordings".into());
    };
    if a != b {
        let only = |x: &Shape, y: &Shape| -> String {
            x.iter()
                .filter(|t| !y.contains(t))
                .map(|t| outline(t))
                .collect::<Vec<_>>()
                .join("\n--\n")
        };
        return Err(format!(
            "the veth UDP datagrams nest otherwise than on 6.1 ({} functions called on both)\n\
             trees only on 5.10 ({na} datagrams):\n{}\ntrees only on 6.1 ({nb} datagrams):\n{}",
            common.len(),
            only(&a, &b),
            only(&b, &a)
        ));
    }
    eprintln!(
        "[{}] nesting: {na} of {} veth datagrams nest as {nb} of {} on 6.1: {} trees, {} calls \
         of the {} functions called on both",
        out.kernel,
        on_5_10.values().sum::<usize>(),
        on_6_1.values().sum::<usize>(),
        a.len(),
        a.iter().map(Vec::len).sum::<usize>(),
        common.len()
    );
    Ok(())
}

/// A packet's trees (sorted), each its calls as (depth, function name) in preorder.
type Shape = Vec<Vec<(usize, String)>>;

/// The calls of `p` to functions in `keep`, each nested under its nearest ancestor in
/// `keep` of its own context (process, softirq, ...); tracepoints and the rest left out.
fn shape(p: &Packet, info: &SessionInfo, keep: &HashSet<String>) -> Shape {
    let kept = |i: u32| {
        let n = &p.nodes[i as usize];
        !n.has(node_flags::TRACEPOINT) && keep.contains(info.func_name(n.func))
    };
    // Its depth among the kept calls of its context, and the outermost of them (its tree).
    let place = |i: u32| {
        let ctx = p.nodes[i as usize].ctx;
        let (mut d, mut top, mut at) = (0, i, p.nodes[i as usize].parent);
        while at != ROOT && p.nodes[at as usize].ctx == ctx {
            if kept(at) {
                d += 1;
                top = at;
            }
            at = p.nodes[at as usize].parent;
        }
        (d, top)
    };
    let mut trees: BTreeMap<u32, Vec<(usize, String)>> = BTreeMap::new();
    for (i, _) in p.preorder() {
        if kept(i) {
            let (d, top) = place(i);
            let name = info.func_name(p.nodes[i as usize].func).to_string();
            trees.entry(top).or_default().push((d, name));
        }
    }
    let mut trees: Shape = trees.into_values().collect();
    trees.sort();
    trees
}

fn outline(tree: &[(usize, String)]) -> String {
    tree.iter()
        .map(|(d, n)| format!("{}{n}", "  ".repeat(*d)))
        .collect::<Vec<_>>()
        .join("\n")
}
