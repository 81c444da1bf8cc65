//! The kernel's own function_graph tracer as the judge of nesting (issue 13): the same
//! functions vrft-tui probes, traced by ftrace for the senders only, must nest exactly as the
//! packet trees do.
//!
//! ftrace sees every call the sender's task makes (interrupts included), on any skb; a packet
//! tree holds the calls on one packet. So each tree call is matched to the graph call of the
//! same function on the same CPU that entered just before it (both clocks are CLOCK_MONOTONIC;
//! ftrace's hook runs first, the probe right after), and then the nearest matched ancestor
//! must be the same on both sides.

use std::collections::{HashMap, HashSet};

use vrft_events::session::SessionInfo;
use vrft_ui::model::{node_flags, Packet, ROOT};

/// Guest shell: `graph_setup` arms function_graph on every function `vrft-tui list` offers
/// (what `record` probes), tracing nothing until a sender adds its pid; `graph_done` saves
/// the graph to $OUT/graph.txt and puts ftrace back. With NO_GRAPH set only the list is
/// written: on 5.10 function_graph does not see functions that carry a BPF trampoline,
/// and setting its filter there took minutes under emulation.
pub const HELPERS: &str = r#"
# `ip netns exec` mounts its own /sys, without tracefs: senders reach ftrace at /tracefs.
T=/tracefs
mkdir -p $T
grep -q " $T " /proc/mounts || mount -t tracefs tracefs $T
graph_setup() {
  vrft-tui list | tail -n +2 | awk '{ print $1 }' | sort -u > "$OUT/probed.txt"
  [ -z "$NO_GRAPH" ] || return 0
  awk 'NR == FNR { ok[$1] = 1; next } ok[$1]' $T/available_filter_functions "$OUT/probed.txt" > "$OUT/graph_funcs.txt"
  # By line number of available_filter_functions: a name makes ftrace look up every traced
  # function's symbol, minutes for 1,700 names under emulation (a number is one step).
  awk 'NR == FNR { ok[$1] = 1; next } ok[$1] { print FNR }' "$OUT/probed.txt" $T/available_filter_functions > "$OUT/graph_lines.txt"
  echo 0 > $T/tracing_on
  echo mono > $T/trace_clock
  echo 16384 > $T/buffer_size_kb
  echo $$ > $T/set_ftrace_pid
  stamp graph_filter
  cat "$OUT/graph_lines.txt" > $T/set_ftrace_filter
  # Line numbers count records the file may not list on some kernels: then by name after all.
  if ! awk '{ print $1 }' $T/set_ftrace_filter | sort -u | cmp -s - "$OUT/graph_funcs.txt"; then
    echo "graph: the filter by line numbers selected other functions; setting it by name"
    cat "$OUT/graph_funcs.txt" > $T/set_ftrace_filter
  fi
  stamp graph_filter_set
  echo function_graph > $T/current_tracer
  echo 1 > $T/options/funcgraph-abstime
  echo > $T/trace
}
graph_done() {
  [ -z "$NO_GRAPH" ] || return 0
  echo 0 > $T/tracing_on
  cat $T/trace > "$OUT/graph.txt"
  echo nop > $T/current_tracer
  echo > $T/set_ftrace_filter
  echo > $T/set_ftrace_pid
  echo "graph: $(wc -l < "$OUT/graph_funcs.txt") functions, $(wc -l < "$OUT/graph.txt") lines"
}
"#;

/// What a sender's own shell runs before it execs the sender: ftrace follows it from now on.
pub const SENDER: &str = r#"echo $$ >> /tracefs/set_ftrace_pid; echo $$ >> "$OUT/graph.pids"; echo 1 > /tracefs/tracing_on"#;

/// One call in the function_graph output.
#[derive(Debug)]
pub struct Call {
    pub name: String,
    pub cpu: u32,
    /// Entry time, microsecond precision (what ftrace prints).
    pub ts_ns: u64,
    pub parent: Option<usize>,
}

/// Parses `trace` output of function_graph with funcgraph-abstime:
/// `  45.123456 |   0)               |  ip_send_skb() {`, `... |    udp_send_skb();`, `... |  }`.
pub fn parse(text: &str) -> Vec<Call> {
    let mut calls: Vec<Call> = Vec::new();
    // One stack for the file, in time order: the senders traced run one after the other, and
    // a task can move to another CPU in the middle of a call (7.2: a sender's returns came on
    // CPU 1 after its entries on CPU 0; ftrace names the function on such a closing line).
    let mut open: Vec<usize> = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let mut parts = line.splitn(3, '|');
        let (Some(ts), Some(cpu), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let (Ok(secs), Some(Ok(cpu))) = (
            ts.trim().parse::<f64>(),
            cpu.split(')').next().map(|c| c.trim().parse::<u32>()),
        ) else {
            continue;
        };
        let body = body.trim();
        if body.starts_with('}') {
            open.pop();
            continue;
        }
        let (name, nests) = if let Some(n) = body.strip_suffix("() {") {
            (n, true)
        } else if let Some(n) = body.strip_suffix("();") {
            (n, false)
        } else {
            continue;
        };
        // Module functions print as `veth_xmit [veth]`; compiler clones (`.isra.0`,
        // `.constprop.0`) are the function vrft-tui names.
        let name = name.split([' ', '.']).next().unwrap_or(name);
        calls.push(Call {
            name: name.to_string(),
            cpu,
            ts_ns: (secs * 1e9).round() as u64,
            parent: open.last().copied(),
        });
        if nests {
            open.push(calls.len() - 1);
        }
    }
    calls
}

/// How long after ftrace's hook the probe of the same call may run: under TCG one hook costs
/// a few hundred microseconds.
const HOOK_GAP_NS: u64 = 2_000_000;
/// ftrace prints microseconds, rounded.
const PRINT_NS: u64 = 1_000;

/// Compared calls of one packet.
#[derive(Default)]
pub struct Matched {
    pub matched: usize,
    pub calls: usize,
    /// Functions of the calls function_graph did not see.
    pub missing: Vec<String>,
    /// Calls that ran between the two tracers' return hooks of their parent (see `compare`).
    pub between_hooks: usize,
}

impl Matched {
    pub fn add(&mut self, other: Matched) {
        self.matched += other.matched;
        self.calls += other.calls;
        self.missing.extend(other.missing);
        self.between_hooks += other.between_hooks;
    }

    /// The most often missing functions, `name×count`.
    pub fn most_missing(&self) -> String {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for m in &self.missing {
            *counts.entry(m).or_default() += 1;
        }
        let mut counts: Vec<_> = counts.into_iter().collect();
        counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let top: Vec<String> = counts
            .iter()
            .take(12)
            .map(|(n, c)| format!("{n}×{c}"))
            .collect();
        top.join(", ")
    }
}

/// Checks that the calls of `p` made by tasks `pids` nest as in `graph`.
pub fn compare(
    graph: &[Call],
    p: &Packet,
    info: &SessionInfo,
    pids: &HashSet<u32>,
) -> Result<Matched, String> {
    let mut ours: Vec<u32> = (0..p.nodes.len() as u32)
        .filter(|&i| {
            let n = &p.nodes[i as usize];
            pids.contains(&n.tid) && !n.has(node_flags::TRACEPOINT)
        })
        .collect();
    ours.sort_by_key(|&i| p.nodes[i as usize].ts);
    // Each tree call to the graph call of the same function entered at the nearest time.
    let mut to_graph = vec![None; p.nodes.len()];
    let mut from_graph = vec![None; graph.len()];
    for &i in &ours {
        let n = &p.nodes[i as usize];
        let name = info.func_name(n.func);
        // Nothing runs on that CPU between ftrace's hook and the probe but other hooks (and
        // interrupts), so the latest such entry before the probe's is this very call.
        let start = graph.partition_point(|c| c.ts_ns + HOOK_GAP_NS < n.ts);
        let end = graph.partition_point(|c| c.ts_ns <= n.ts + PRINT_NS);
        let best = (start..end).rev().find(|&g| {
            graph[g].cpu == u32::from(n.cpu) && graph[g].name == name && from_graph[g].is_none()
        });
        if let Some(g) = best {
            to_graph[i as usize] = Some(g);
            from_graph[g] = Some(i);
        }
    }
    let missing: Vec<String> = ours
        .iter()
        .filter(|&&i| to_graph[i as usize].is_none())
        .map(|&i| info.func_name(p.nodes[i as usize].func).to_string())
        .collect();
    // The nearest matched ancestor of a call in the tree.
    let matched_parent = |i: u32| {
        let mut up = p.nodes[i as usize].parent;
        while up != ROOT && to_graph[up as usize].is_none() {
            up = p.nodes[up as usize].parent;
        }
        (up != ROOT).then_some(up)
    };
    let mut between_hooks = 0;
    for &i in &ours {
        let Some(g) = to_graph[i as usize] else {
            continue;
        };
        // The nearest matched ancestor on each side.
        let mut graph_up = graph[g].parent;
        while let Some(a) = graph_up.filter(|&a| from_graph[a].is_none()) {
            graph_up = graph[a].parent;
        }
        let want = graph_up.and_then(|a| from_graph[a]);
        let got = matched_parent(i);
        if want == got {
            continue;
        }
        // A softirq run on an interrupt's exit after the probe's exit of `want` but before
        // ftrace's return hook of it (one runs after the other; under TCG a few hundred
        // microseconds apart): function_graph puts the call inside `want`, the tree just
        // after it, inside its caller. Seen once in a few runs (6.12, ip_send_skb).
        let n = &p.nodes[i as usize];
        let after_exit = want.is_some_and(|w| {
            let w_node = &p.nodes[w as usize];
            w_node.ctx != n.ctx
                && w_node.exit_ts().is_some_and(|x| x <= n.ts)
                && matched_parent(w) == got
        });
        if after_exit {
            between_hooks += 1;
        } else {
            let name =
                |n: Option<u32>| n.map_or("(top)", |n| info.func_name(p.nodes[n as usize].func));
            return Err(format!(
                "packet {}: {} at {} ns is inside {} in the tree, inside {} for function_graph",
                p.id,
                name(Some(i)),
                p.nodes[i as usize].ts,
                name(got),
                name(want)
            ));
        }
    }
    Ok(Matched {
        matched: ours.len() - missing.len(),
        calls: ours.len(),
        missing,
        between_hooks,
    })
}
