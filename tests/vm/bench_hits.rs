//! Per-hit cost of the probes on packets that the filter rejects (issue 5), run with
//! `VRFT_VM_BENCH=hits` (not part of `cargo test`: a full fentry set costs minutes to attach
//! and release under emulation).
//!
//! In one boot, a 64-byte UDP flood from netns `a` to `b` over a veth pair is measured with no
//! probes, with trivial programs (`r0 = 0; exit`) on every traceable skb function, and with
//! vrft-tui's own programs and a filter that matches none of the flood. Throughput says what the
//! user pays; `kernel.bpf_stats_enabled` gives each program's run count and run time, so ours
//! minus trivial is the filter's cost per hit.
//!
//! Releasing a full fentry set costs the kernel ~140 ms per function, so the full set is
//! released once (the trivial programs); the extra filter configurations probe only the
//! functions the flood really runs through (found by the trivial programs' run counts): per-hit
//! cost depends only on the functions on the packet's path, and the same boot checks that
//! claim on both the trivial and vrft-tui's programs. vrft-tui's full set goes last; its
//! background release runs into the power-off.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use super::scenario::{Outcome, Scenario};
use super::topology::veth;
use super::trafgen::{ProgGroup, Round};

const PORT: u16 = 7777;
/// Seconds of flood before the first round, and the rounds of SECS seconds. A configuration
/// that probes every function is measured for ROUNDS rounds in one go; the narrow ones take
/// REPS turns of one round each. With probes, one more flood runs one round with
/// kernel.bpf_stats_enabled=1 (per-program run time).
const WARMUP: f64 = 1.0;
const SECS: f64 = 5.0;
const ROUNDS: u32 = 3;
const REPS: u32 = 5;
/// A filter that matches every other datagram of the flood: the lowest bit of the sequence
/// number that `trafgen flood` writes into the first four payload bytes.
const HALF: &str = "'udp[11] & 1 = 1'";

/// Run with `VRFT_VM_BENCH=hits` (see bench.rs).
pub fn bench_hits() -> Scenario {
    // For a quick try of the bench itself: narrow the "every function" sets.
    let full = std::env::var("VRFT_VM_BENCH_FUNCS")
        .map(|re| format!("--funcs '{re}'"))
        .unwrap_or_default();
    let script = r#"
# An earlier scenario's background release must not run beside the measurements.
wait_released 1500 > /dev/null
# flood TAG REP N [SINK ARGS]: flood a -> b for N rounds; the sink in b prints one JSON line per
# round, then stops the flood and reads what is left.
flood() {
  tag=$1; rep=$2; n=$3; shift 3
  rm -f "$OUT/$tag.ready" "$OUT/$tag.stop"
  at b trafgen sink --bind 0.0.0.0:@PORT@ --warmup @WARMUP@ --rounds $n --secs @SECS@ --cpu 1 --rep $rep \
    --ready "$OUT/$tag.ready" --done "$OUT/$tag.stop" "$@" >> "$OUT/$tag.rounds" &
  sink=$!
  wait_for "$OUT/$tag.ready" $sink 20
  at a trafgen flood --to @B@:@PORT@ --seconds 300 --until "$OUT/$tag.stop" --size 64 --cpu 0 > "$OUT/$tag.flood" &
  fl=$!
  wait $sink
  wait $fl
  cat "$OUT/$tag.flood" >> "$OUT/$tag.sent"
  echo "$tag $rep: $(cat "$OUT/$tag.flood")"
}
# measure TAG REP N [stats]: N rounds for throughput, then (stats) one more with BPF statistics on.
# Switching the statistics patches kernel text (a static key), as attaching and releasing do;
# under emulation a CPU running through a site being patched has died on the int3 (6.12, in
# bpf_trace_run1 and at ip_send_skb's fentry call), so the text is patched only while no packet flows.
measure() {
  echo "$1 $2 $(cut -d' ' -f1 /proc/uptime)" >> "$OUT/timeline"
  flood $1 $2 $3
  if [ "$4" = stats ]; then
    echo 1 > /proc/sys/kernel/bpf_stats_enabled
    flood $1 $2 1 --bpf-stats
    echo 0 > /proc/sys/kernel/bpf_stats_enabled
  fi
}
# trivial TAG REP N ARGS...: trivial programs held while the flood is measured, then released.
trivial() {
  tag=$1; rep=$2; n=$3; shift 3
  rm -f "$OUT/$tag.armed" "$OUT/$tag.release"
  trafgen trivial-probes --ready "$OUT/$tag.armed" --until "$OUT/$tag.release" "$@" > "$OUT/$tag.probes" 2>&1 &
  tp=$!
  wait_for "$OUT/$tag.armed" $tp 1500
  measure $tag $rep $n stats
  touch "$OUT/$tag.release"
  wait $tp
  cat "$OUT/$tag.probes"
}
# vrft TAG REP N ARGS...: vrft-tui record ARGS while the flood is measured, then stopped.
vrft() {
  tag=$1; rep=$2; n=$3; shift 3
  # The child truncates the file only once it runs: the last turn's "armed" must be gone first
  # (attaching while the flood runs can kill the emulated guest, as above).
  rm -f "$OUT/$tag.err"
  vrft-tui record --json -o "/tmp/$tag.vrft" "$@" 2> "$OUT/$tag.err" >> "$OUT/$tag.json" &
  rp=$!
  wait_for "$OUT/$tag.err" $rp 1500 armed
  measure $tag $rep $n stats
  kill -INT $rp
  wait $rp
  rm -f "/tmp/$tag.vrft"  # the half-matching filter records hundreds of megabytes
  cat "$OUT/$tag.err"
}
@SETUP@
cat /proc/loadavg > "$OUT/loadavg"
# VRFT_VM_BENCH_HITS=multi: only the single-program backends (kprobe session, fsession);
# =kprobe or =fsession: only that one.
if [ -z "@ONLY@" ]; then
# Every function: attached and released once (trivial), or never released (vrft-tui, last).
measure noprobe_full 1 @ROUNDS@
trivial trivial_full 1 @ROUNDS@ --kind fentry @FULL@ --hits "$OUT/hits"
# The functions the flood runs through: cheap to attach and release, so the configurations
# take turns, @REPS@ times, and each is compared with its neighbours of the same turn.
FUNCS=$(cat "$OUT/hits")
for rep in $(seq @REPS@); do
  measure noprobe_narrow $rep 1
  trivial trivial_narrow $rep 1 --kind fentry --funcs "$FUNCS"
  vrft vrft_narrow_pcap $rep 1 --backend fentry --wait-detach --funcs "$FUNCS" udp dst port 9
  vrft vrft_narrow_daddr $rep 1 --backend fentry --wait-detach --funcs "$FUNCS" --daddr 192.0.2.1
  vrft vrft_narrow_iface $rep 1 --backend fentry --wait-detach --funcs "$FUNCS" --iface lo
  vrft vrft_narrow_half $rep 1 --backend fentry --wait-detach --funcs "$FUNCS" @HALF@
done
fi
# kprobe.multi and sessions (6.12): one link for every function, cheap both ways.
if [ "@ONLY@" != fsession ] && grep -q bpf_session_cookie /proc/kallsyms; then
  for rep in $(seq @REPS@); do
    measure noprobe_kprobe $rep 1
    trivial trivial_kmulti $rep 1 --kind kprobe-multi @FULL@
    trivial trivial_session $rep 1 --kind session @FULL@
    trivial trivial_session_entry $rep 1 --kind session-entry @FULL@
    vrft vrft_kprobe_pcap $rep 1 --backend kprobe @FULL@ udp dst port 9
    vrft vrft_kprobe_daddr $rep 1 --backend kprobe @FULL@ --daddr 192.0.2.1
    vrft vrft_kprobe_iface $rep 1 --backend kprobe @FULL@ --iface lo
    vrft vrft_kprobe_half $rep 1 --backend kprobe @FULL@ @HALF@
  done
fi
# The tracing multi-link (7.2+): one fsession program per BTF object, cheap both ways.
if [ "@ONLY@" != kprobe ] && grep -q bpf_tracing_multi_attach /proc/kallsyms; then
  for rep in $(seq @REPS@); do
    measure noprobe_fsession $rep 1
    trivial trivial_fsession $rep 1 --kind fsession-multi @FULL@
    vrft vrft_fsession_pcap $rep 1 --backend fsession --wait-detach @FULL@ udp dst port 9
    vrft vrft_fsession_daddr $rep 1 --backend fsession --wait-detach @FULL@ --daddr 192.0.2.1
    vrft vrft_fsession_iface $rep 1 --backend fsession --wait-detach @FULL@ --iface lo
    vrft vrft_fsession_half $rep 1 --backend fsession --wait-detach @FULL@ @HALF@
  done
fi
# Last: the kernel releases this full set in the background while the guest powers off.
if [ -z "@ONLY@" ]; then
measure noprobe_last 1 @ROUNDS@
vrft vrft_full_pcap 1 @ROUNDS@ --backend fentry @FULL@ udp dst port 9
fi
echo "done $(cut -d' ' -f1 /proc/uptime)" >> "$OUT/timeline"
"#
    .replace("@FULL@", &full)
    .replace(
        "@ONLY@",
        &std::env::var("VRFT_VM_BENCH_HITS").unwrap_or_default(),
    )
    .replace("@SETUP@", &veth::setup())
    .replace("@B@", veth::B)
    .replace("@PORT@", &PORT.to_string())
    .replace("@WARMUP@", &WARMUP.to_string())
    .replace("@ROUNDS@", &ROUNDS.to_string())
    .replace("@HALF@", HALF)
    .replace(
        "@REPS@",
        &std::env::var("VRFT_VM_BENCH_REPS").unwrap_or(REPS.to_string()),
    )
    .replace("@SECS@", &SECS.to_string());
    Scenario::new("bench_hits", script, |out: &Outcome| {
        let report = report(out)?;
        eprintln!("[{}] bench_hits:\n{report}", out.kernel);
        std::fs::write(out.path("report.md"), &report).map_err(|e| e.to_string())?;
        Ok(())
    })
    .timeout(5400)
}

// ---- host side: the report ----

/// A measured configuration: its tag (file names in $OUT), what it is, the no-probe
/// measurement and the trivial configuration it is compared with.
struct Config {
    tag: &'static str,
    label: &'static str,
    noprobe: &'static str,
    trivial: Option<&'static str>,
}

const fn config(
    tag: &'static str,
    label: &'static str,
    noprobe: &'static str,
    trivial: Option<&'static str>,
) -> Config {
    Config {
        tag,
        label,
        noprobe,
        trivial,
    }
}

const CONFIGS: &[Config] = &[
    config("noprobe_full", "no probes", "noprobe_full", None),
    config(
        "trivial_full",
        "trivial fentry+fexit, every traceable function",
        "noprobe_full",
        None,
    ),
    config(
        "noprobe_last",
        "no probes (before the last one)",
        "noprobe_last",
        None,
    ),
    config(
        "vrft_full_pcap",
        "vrft-tui fentry, every traceable function, `udp dst port 9` (measured last)",
        "noprobe_last",
        Some("trivial_full"),
    ),
    config(
        "noprobe_narrow",
        "no probes (narrow turns)",
        "noprobe_narrow",
        None,
    ),
    config(
        "trivial_narrow",
        "trivial fentry+fexit, the functions the flood runs",
        "noprobe_narrow",
        Some("trivial_full"),
    ),
    config(
        "vrft_narrow_pcap",
        "vrft-tui fentry, same functions, `udp dst port 9`",
        "noprobe_narrow",
        Some("trivial_narrow"),
    ),
    config(
        "vrft_narrow_daddr",
        "vrft-tui fentry, same functions, `--daddr 192.0.2.1`",
        "noprobe_narrow",
        Some("trivial_narrow"),
    ),
    config(
        "vrft_narrow_iface",
        "vrft-tui fentry, same functions, `--iface lo`",
        "noprobe_narrow",
        Some("trivial_narrow"),
    ),
    config(
        "vrft_narrow_half",
        "vrft-tui fentry, same functions, half the flood matches (`udp[11] & 1 = 1`)",
        "noprobe_narrow",
        Some("trivial_narrow"),
    ),
    config(
        "noprobe_kprobe",
        "no probes (kprobe turns)",
        "noprobe_kprobe",
        None,
    ),
    config(
        "trivial_kmulti",
        "trivial kprobe.multi + kretprobe.multi, every function",
        "noprobe_kprobe",
        None,
    ),
    config(
        "trivial_session",
        "trivial kprobe session, entry + return (r0 = 0)",
        "noprobe_kprobe",
        None,
    ),
    config(
        "trivial_session_entry",
        "trivial kprobe session, entry only (r0 = 1)",
        "noprobe_kprobe",
        None,
    ),
    config(
        "vrft_kprobe_pcap",
        "vrft-tui kprobe session, every function, `udp dst port 9`",
        "noprobe_kprobe",
        Some("trivial_session_entry"),
    ),
    config(
        "vrft_kprobe_daddr",
        "vrft-tui kprobe session, every function, `--daddr 192.0.2.1`",
        "noprobe_kprobe",
        Some("trivial_session_entry"),
    ),
    config(
        "vrft_kprobe_iface",
        "vrft-tui kprobe session, every function, `--iface lo`",
        "noprobe_kprobe",
        Some("trivial_session_entry"),
    ),
    config(
        "vrft_kprobe_half",
        "vrft-tui kprobe session, every function, half the flood matches",
        "noprobe_kprobe",
        Some("trivial_session_entry"),
    ),
    config(
        "noprobe_fsession",
        "no probes (fsession turns)",
        "noprobe_fsession",
        None,
    ),
    config(
        "trivial_fsession",
        "trivial fsession.multi (entry + exit), every function",
        "noprobe_fsession",
        None,
    ),
    config(
        "vrft_fsession_pcap",
        "vrft-tui fsession, every function, `udp dst port 9`",
        "noprobe_fsession",
        Some("trivial_fsession"),
    ),
    config(
        "vrft_fsession_daddr",
        "vrft-tui fsession, every function, `--daddr 192.0.2.1`",
        "noprobe_fsession",
        Some("trivial_fsession"),
    ),
    config(
        "vrft_fsession_iface",
        "vrft-tui fsession, every function, `--iface lo`",
        "noprobe_fsession",
        Some("trivial_fsession"),
    ),
    config(
        "vrft_fsession_half",
        "vrft-tui fsession, every function, half the flood matches",
        "noprobe_fsession",
        Some("trivial_fsession"),
    ),
];

/// Which side of a call a program runs on, by its name (a session program runs on
/// both: its runs count as entries).
fn role(name: &str) -> &'static str {
    match name {
        "vrft_fentry" | "triv_fentry" | "triv_kmulti" | "vrft_kprobe" | "triv_session"
        | "triv_sess_entry" | "vrft_fsession" | "triv_fsession" => "entry",
        "vrft_fexit" | "triv_fexit" | "triv_kretmulti" => "exit",
        n if n.starts_with("tp_") => "tracepoints",
        _ => "other",
    }
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// One turn of a configuration: its throughput rounds and its statistics round.
#[derive(Default)]
struct Turn {
    pps: Vec<f64>,
    stats: Option<Round>,
    dropped: u64,
}

impl Turn {
    fn pps(&self) -> f64 {
        median(self.pps.clone()).unwrap_or(0.0)
    }

    /// Runs and run time of the programs of one role in the statistics round.
    fn role(&self, role_name: &str) -> Option<(u64, u64)> {
        let (runs, ns) = self
            .stats
            .as_ref()?
            .progs
            .iter()
            .filter(|g| role_name == "all" || role(&g.name) == role_name)
            .fold((0, 0), |(r, n), g| (r + g.runs, n + g.run_ns));
        (runs > 0).then_some((runs, ns))
    }

    fn ns_per_run(&self, role_name: &str) -> Option<f64> {
        self.role(role_name).map(|(r, n)| n as f64 / r as f64)
    }

    /// Program runs and nanoseconds of BPF run time per datagram.
    fn per_packet(&self) -> Option<(f64, f64)> {
        let packets = self.stats.as_ref()?.packets_mid;
        let (runs, ns) = self.role("all")?;
        (packets > 0.0).then(|| (runs as f64 / packets, ns as f64 / packets))
    }
}

/// Every turn of one configuration, by repetition.
struct Measured(BTreeMap<u32, Turn>);

impl Measured {
    fn read(out: &Outcome, tag: &str) -> Result<Option<Measured>, String> {
        let Ok(text) = out.read(&format!("{tag}.rounds")) else {
            return Ok(None);
        };
        let mut turns: BTreeMap<u32, Turn> = BTreeMap::new();
        for line in text.lines() {
            let r: Round =
                serde_json::from_str(line).map_err(|e| format!("{tag}.rounds: {e}: {line}"))?;
            let turn = turns.entry(r.rep).or_default();
            turn.dropped += r.dropped;
            if r.bpf_stats {
                turn.stats = Some(r);
            } else {
                turn.pps.push(r.rx as f64 / r.secs);
            }
        }
        Ok(Some(Measured(turns)))
    }

    /// The median over turns of `f`, and its range.
    fn over_turns(&self, f: impl Fn(&Turn) -> Option<f64>) -> Option<(f64, f64, f64)> {
        let v: Vec<f64> = self.0.values().filter_map(f).collect();
        let (lo, hi) = range(&v);
        Some((median(v)?, lo, hi))
    }

    fn pps(&self) -> f64 {
        median(self.0.values().map(Turn::pps).collect()).unwrap_or(0.0)
    }

    /// This configuration's throughput as a share of `other`'s: the median of the ratios of
    /// the turns both took part in, or (when they did not take turns) the ratio of medians.
    fn share_of(&self, other: &Measured) -> (f64, &'static str) {
        let paired: Vec<f64> = self
            .0
            .iter()
            .filter_map(|(rep, t)| Some(t.pps() / other.0.get(rep)?.pps()))
            .collect();
        if paired.len() == self.0.len() && paired.len() > 1 {
            (median(paired).unwrap_or(0.0), "paired")
        } else {
            (self.pps() / other.pps(), "")
        }
    }

    /// Median over turns of `f(ours) - f(reference)`, paired by turn (or against the
    /// reference's only turn).
    fn paired_diff(&self, other: &Measured, f: impl Fn(&Turn) -> Option<f64>) -> Option<f64> {
        let paired: Vec<f64> = self
            .0
            .iter()
            .filter_map(|(rep, t)| {
                let o = other.0.get(rep).or_else(|| other.0.values().next())?;
                Some(f(t)? - f(o)?)
            })
            .collect();
        median(paired)
    }
}

/// The smallest and largest of `v`.
fn range(v: &[f64]) -> (f64, f64) {
    v.iter()
        .fold((f64::MAX, f64::MIN), |(l, h), &x| (l.min(x), h.max(x)))
}

/// Number of functions probed, from the probe holder's or vrft-tui's own report.
fn functions(out: &Outcome, tag: &str) -> Result<String, String> {
    if tag.starts_with("noprobe") {
        return Ok("0".into());
    }
    if let Ok(text) = out.read(&format!("{tag}.probes")) {
        // "trivial fentry: 1743 candidates, 1667 attached; ..."
        return text
            .lines()
            .find_map(|l| l.split_once(" candidates, ")?.1.split(' ').next())
            .map(str::to_string)
            .ok_or_else(|| format!("{tag}.probes: no attach count in:\n{text}"));
    }
    let err = out.read(&format!("{tag}.err"))?;
    // vrft-tui recorded packets only if the filter matched some of the flood.
    let recorded = err
        .lines()
        .find_map(|l| l.strip_prefix("recorded "))
        .ok_or_else(|| format!("{tag}.err: no 'recorded' line:\n{err}"))?;
    if !tag.ends_with("_half") && !recorded.contains(" events of 0 packets") {
        return Err(format!(
            "{tag}: the filter matched part of the flood: recorded {recorded}"
        ));
    }
    err.lines()
        .find_map(|l| l.strip_prefix("probes: ")?.split(' ').next())
        .map(str::to_string)
        .ok_or_else(|| format!("{tag}.err: no 'probes: N attached' line:\n{err}"))
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("-".into(), |v| format!("{v:.digits$}"))
}

fn fmt_range(v: Option<(f64, f64, f64)>, digits: usize) -> String {
    match v {
        Some((m, lo, hi)) if hi > lo => format!("{m:.digits$} ({lo:.digits$}-{hi:.digits$})"),
        Some((m, _, _)) => format!("{m:.digits$}"),
        None => "-".into(),
    }
}

fn report(out: &Outcome) -> Result<String, String> {
    let mut m: HashMap<&str, Measured> = HashMap::new();
    for c in CONFIGS {
        if let Some(x) = Measured::read(out, c.tag)? {
            m.insert(c.tag, x);
        }
    }
    // VRFT_VM_BENCH_HITS=multi, kprobe or fsession measured only those backends.
    let need: &[&str] = if m.contains_key("noprobe_full") {
        &[
            "noprobe_full",
            "trivial_full",
            "vrft_full_pcap",
            "vrft_narrow_pcap",
        ]
    } else if m.contains_key("noprobe_fsession") {
        &["trivial_fsession", "vrft_fsession_pcap"]
    } else {
        &["trivial_session_entry", "vrft_kprobe_pcap"]
    };
    for &need in need {
        if !m.contains_key(need) {
            return Err(format!("no measurement {need}"));
        }
    }
    let mut s = String::new();
    let _ = writeln!(
        s,
        "guest load average before the first flood: {}; host load average at the end: {}",
        out.read("loadavg").unwrap_or_default().trim(),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    let _ = writeln!(
        s,
        "\n| configuration | functions | turns x rounds | pkt/s | % of no probes | % of trivial | \
         runs/packet | BPF ns/packet | ns/run entry | ns/run exit | ns/run tracepoints |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|");
    for c in CONFIGS {
        let Some(x) = m.get(c.tag) else { continue };
        let rounds = x.0.values().map(|t| t.pps.len()).max().unwrap_or(0);
        let all: Vec<f64> = x.0.values().flat_map(|t| t.pps.iter().copied()).collect();
        let (lo, hi) = range(&all);
        let share = |other: Option<&str>| -> String {
            let Some((o, r)) = other.and_then(|o| Some((o, m.get(o)?))) else {
                return "-".into();
            };
            if o == c.tag {
                return "-".into();
            }
            let (mut share, mut how) = x.share_of(r);
            // Measured minutes apart (the full sets): each against the no-probe run next to it.
            let own = CONFIGS.iter().find(|k| k.tag == o).map(|k| k.noprobe);
            if let (Some(own), true) = (own, c.trivial == Some(o)) {
                if own != c.noprobe {
                    if let (Some(a), Some(b)) = (m.get(c.noprobe), m.get(own)) {
                        share = share * b.pps() / a.pps();
                        how = "each against its own no-probe run";
                    }
                }
            }
            let how = if how.is_empty() {
                String::new()
            } else {
                format!(", {how}")
            };
            format!("{:.1}% (of {o}{how})", 100.0 * share)
        };
        let _ = writeln!(
            s,
            "| {} | {} | {}x{rounds} | {:.0} ({lo:.0}-{hi:.0}) | {} | {} | {} | {} | {} | {} | {} |",
            c.label,
            functions(out, c.tag)?,
            x.0.len(),
            x.pps(),
            share(Some(c.noprobe)),
            share(c.trivial),
            fmt_range(x.over_turns(|t| t.per_packet().map(|p| p.0)), 1),
            fmt_range(x.over_turns(|t| t.per_packet().map(|p| p.1)), 0),
            fmt_range(x.over_turns(|t| t.ns_per_run("entry")), 0),
            fmt_range(x.over_turns(|t| t.ns_per_run("exit")), 0),
            fmt_range(x.over_turns(|t| t.ns_per_run("tracepoints")), 0),
        );
    }
    let _ = writeln!(
        s,
        "\nThe filter's cost per hit of a rejected packet (ours minus trivial, ns per run, median of the turns):"
    );
    for c in CONFIGS.iter().filter(|c| c.tag.starts_with("vrft_")) {
        let (Some(x), Some(r)) = (m.get(c.tag), c.trivial.and_then(|r| m.get(r))) else {
            continue;
        };
        let _ = writeln!(
            s,
            "- {}: entry {} ns, exit {} ns; BPF time per packet {} ns more than {}",
            c.label,
            fmt_opt(x.paired_diff(r, |t| t.ns_per_run("entry")), 0),
            fmt_opt(x.paired_diff(r, |t| t.ns_per_run("exit")), 0),
            fmt_opt(x.paired_diff(r, |t| Some(t.per_packet()?.1)), 0),
            c.trivial.unwrap_or("-"),
        );
    }
    let _ = writeln!(
        s,
        "\nFilter decisions per datagram sent while vrft-tui recorded (the rest of the hits were \
         answered by the rejection memo):"
    );
    for c in CONFIGS.iter().filter(|c| c.tag.starts_with("vrft_")) {
        if let Some(per) = filter_runs_per_datagram(out, c.tag) {
            let _ = writeln!(s, "- {}: {per:.1}", c.label);
        }
    }
    let _ = writeln!(
        s,
        "\nPrograms in the statistics rounds (runs and time summed over the turns):\n"
    );
    let _ = writeln!(
        s,
        "| configuration | program | programs (ran) | insns | runs/packet | ns/run | recursion misses |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|");
    for c in CONFIGS {
        let Some(x) = m.get(c.tag) else { continue };
        let mut by_name: BTreeMap<&str, ProgGroup> = BTreeMap::new();
        let mut packets = 0.0;
        for st in x.0.values().filter_map(|t| t.stats.as_ref()) {
            packets += st.packets_mid;
            for g in &st.progs {
                let e = by_name.entry(&g.name).or_insert_with(|| ProgGroup {
                    name: g.name.clone(),
                    progs: g.progs,
                    ran: g.ran,
                    insns: g.insns,
                    ..Default::default()
                });
                e.ran = e.ran.max(g.ran);
                e.runs += g.runs;
                e.run_ns += g.run_ns;
                e.misses += g.misses;
            }
        }
        for g in by_name.values().filter(|g| g.runs > 0) {
            let _ = writeln!(
                s,
                "| {} | {} | {} ({}) | {} | {:.2} | {:.0} | {} |",
                c.tag,
                g.name,
                g.progs,
                g.ran,
                g.insns,
                g.runs as f64 / packets,
                g.run_ns as f64 / g.runs as f64,
                g.misses
            );
        }
    }
    let dropped: Vec<String> = CONFIGS
        .iter()
        .filter_map(|c| Some((c.tag, m.get(c.tag)?.0.values().map(|t| t.dropped).sum())))
        .filter(|(_, d): &(&str, u64)| *d > 0)
        .map(|(t, d)| format!("{t} {d}"))
        .collect();
    let _ = writeln!(
        s,
        "\nDatagrams dropped at the full socket: {}",
        if dropped.is_empty() {
            "none".to_string()
        } else {
            dropped.join(", ")
        }
    );
    if let Ok(hits) = out.read("hits.list") {
        let _ = writeln!(
            s,
            "Functions the flood ran ({}; runs in trivial_full's statistics round): {}",
            hits.lines().count(),
            hits.lines()
                .filter_map(|l| l.split_once(' '))
                .map(|(r, n)| format!("{n} {r}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let _ = writeln!(
        s,
        "Guest timeline (tag, turn, uptime at the start of its flood):\n{}",
        out.read("timeline").unwrap_or_default()
    );
    for c in CONFIGS {
        for ext in ["probes", "err"] {
            if let Ok(text) = out.read(&format!("{}.{ext}", c.tag)) {
                let _ = writeln!(s, "{}.{ext}: {}", c.tag, text.trim().replace('\n', " | "));
            }
        }
    }
    Ok(s)
}

/// vrft-tui's filter decisions (`record --json`, summed over the turns) per datagram the
/// flood sent while it recorded.
fn filter_runs_per_datagram(out: &Outcome, tag: &str) -> Option<f64> {
    let runs: u64 = out
        .read(&format!("{tag}.json"))
        .ok()?
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()?["filter_runs"].as_u64())
        .sum();
    // "trafgen: flood sent 68096 datagrams of 64 bytes ..."
    let sent: u64 = out
        .read(&format!("{tag}.sent"))
        .ok()?
        .lines()
        .filter_map(|l| {
            l.split_once(" sent ")?
                .1
                .split(' ')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum();
    (sent > 0 && runs > 0).then(|| runs as f64 / sent as f64)
}
