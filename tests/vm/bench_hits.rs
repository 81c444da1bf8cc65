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

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::CString;
use std::fmt::Write as _;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use serde::{Deserialize, Serialize};

use super::scenario::{Outcome, Scenario};
use super::topology::veth;
use super::trivial;

const PORT: u16 = 7777;
/// Seconds of flood before the first round, and the rounds of SECS seconds. A configuration
/// that probes every function is measured for ROUNDS rounds in one go; the narrow ones take
/// REPS turns of one round each. With probes, one more flood runs one round with
/// kernel.bpf_stats_enabled=1 (per-program run time).
const WARMUP: f64 = 1.0;
const SECS: f64 = 5.0;
const ROUNDS: u32 = 3;
const REPS: u32 = 5;

pub fn scenarios() -> Vec<Scenario> {
    match std::env::var("VRFT_VM_BENCH").as_deref() {
        Ok("hits") => vec![bench_hits()],
        _ => Vec::new(),
    }
}

fn bench_hits() -> Scenario {
    // For a quick try of the bench itself: narrow the "every function" sets.
    let full = std::env::var("VRFT_VM_BENCH_FUNCS")
        .map(|re| format!("--funcs '{re}'"))
        .unwrap_or_default();
    let script = r#"
# An earlier scenario's background release must not run beside the measurements.
while [ -e /run/vrft-tui/release.pid ] && kill -0 "$(cat /run/vrft-tui/release.pid)" 2>/dev/null; do sleep 1; done
# wait_for FILE PID SECS [PATTERN]: until FILE exists (with a line starting with PATTERN), failing if PID died.
wait_for() {
  i=0
  until [ -e "$1" ] && { [ -z "$4" ] || grep -q "^$4" "$1"; }; do
    kill -0 "$2" 2>/dev/null || { cat "$1" >&2 2>/dev/null; echo "process $2 ended before $1 was ready" >&2; return 1; }
    i=$((i + 1))
    [ "$i" -le $(($3 * 5)) ] || { echo "timed out waiting for $1" >&2; return 1; }
    sleep 0.2
  done
}
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
  vrft-tui record -o "/tmp/$tag.vrft" "$@" 2> "$OUT/$tag.err" &
  rp=$!
  wait_for "$OUT/$tag.err" $rp 1500 armed
  measure $tag $rep $n stats
  kill -INT $rp
  wait $rp
  cat "$OUT/$tag.err"
}
@SETUP@
cat /proc/loadavg > "$OUT/loadavg"
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
done
# kprobe.multi and sessions (6.12): one link for every function, cheap both ways.
if grep -q bpf_session_cookie /proc/kallsyms; then
  for rep in $(seq @REPS@); do
    measure noprobe_kprobe $rep 1
    trivial trivial_kmulti $rep 1 --kind kprobe-multi @FULL@
    trivial trivial_session $rep 1 --kind session @FULL@
    trivial trivial_session_entry $rep 1 --kind session-entry @FULL@
    vrft vrft_kprobe_pcap $rep 1 --backend kprobe @FULL@ udp dst port 9
    vrft vrft_kprobe_daddr $rep 1 --backend kprobe @FULL@ --daddr 192.0.2.1
    vrft vrft_kprobe_iface $rep 1 --backend kprobe @FULL@ --iface lo
  done
fi
# Last: the kernel releases this full set in the background while the guest powers off.
measure noprobe_last 1 @ROUNDS@
vrft vrft_full_pcap 1 @ROUNDS@ --backend fentry @FULL@ udp dst port 9
echo "done $(cut -d' ' -f1 /proc/uptime)" >> "$OUT/timeline"
"#
    .replace("@FULL@", &full)
    .replace("@SETUP@", &veth::setup())
    .replace("@B@", veth::B)
    .replace("@PORT@", &PORT.to_string())
    .replace("@WARMUP@", &WARMUP.to_string())
    .replace("@ROUNDS@", &ROUNDS.to_string())
    .replace("@REPS@", &REPS.to_string())
    .replace("@SECS@", &SECS.to_string());
    Scenario::new("bench_hits", script, |out: &Outcome| {
        let report = report(out)?;
        eprintln!("[{}] bench_hits:\n{report}", out.kernel);
        std::fs::write(out.path("report.md"), &report).map_err(|e| e.to_string())?;
        Ok(())
    })
    .timeout(5400)
}

/// One round of the sink (`trafgen sink`), as it prints it.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Round {
    pub rep: u32,
    pub round: u32,
    pub bpf_stats: bool,
    pub secs: f64,
    /// Packets the receiving device took in: the rate the sender's path sustains.
    pub rx: u64,
    /// Datagrams that reached UDP in the receiving namespace (read or dropped at the socket).
    pub reached_udp: u64,
    /// Datagrams the sink read.
    pub read: u64,
    /// Datagrams dropped at the socket (full receive buffer).
    pub dropped: u64,
    /// Packets received between the middles of the two program snapshots.
    pub packets_mid: f64,
    /// Per program name: what ran during the round.
    pub progs: Vec<ProgGroup>,
}

/// The programs of one name, summed over the round.
#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct ProgGroup {
    pub name: String,
    pub progs: u32,
    /// Programs that ran at least once.
    pub ran: u32,
    pub runs: u64,
    pub run_ns: u64,
    pub misses: u64,
    /// Translated instructions of the largest program.
    pub insns: u32,
}

#[derive(Clone)]
struct ProgSample {
    name: String,
    runs: u64,
    run_ns: u64,
    misses: u64,
    insns: u32,
}

fn prog_info(fd: i32) -> Option<libbpf_sys::bpf_prog_info> {
    let mut info = libbpf_sys::bpf_prog_info::default();
    let mut len = std::mem::size_of::<libbpf_sys::bpf_prog_info>() as u32;
    // SAFETY: info is a local the kernel fills up to len; no arrays are requested.
    (unsafe { libbpf_sys::bpf_prog_get_info_by_fd(fd, &mut info, &mut len) } == 0).then_some(info)
}

/// Every BPF program's counters at one moment, by program id.
pub struct ProgSnapshot(HashMap<u32, ProgSample>);

impl ProgSnapshot {
    pub fn take() -> ProgSnapshot {
        let mut all = HashMap::new();
        let mut id = 0u32;
        // SAFETY: the libbpf wrappers only write the next id into the local.
        while unsafe { libbpf_sys::bpf_prog_get_next_id(id, &mut id) } == 0 {
            // SAFETY: plain syscall; a program released meanwhile gives an error.
            let fd = unsafe { libbpf_sys::bpf_prog_get_fd_by_id(id) };
            if fd < 0 {
                continue;
            }
            // SAFETY: a fresh fd we own.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            if let Some(info) = prog_info(fd.as_raw_fd()) {
                let name: Vec<u8> = info
                    .name
                    .iter()
                    .take_while(|&&c| c != 0)
                    .map(|&c| c as u8)
                    .collect();
                all.insert(
                    id,
                    ProgSample {
                        name: String::from_utf8_lossy(&name).into_owned(),
                        runs: info.run_cnt,
                        run_ns: info.run_time_ns,
                        misses: info.recursion_misses,
                        insns: info.xlated_prog_len / 8,
                    },
                );
            }
        }
        ProgSnapshot(all)
    }

    /// What ran between `start` and this snapshot, grouped by program name.
    pub fn since(&self, start: &ProgSnapshot) -> Vec<ProgGroup> {
        let mut groups: BTreeMap<&str, ProgGroup> = BTreeMap::new();
        for (id, e) in &self.0 {
            let s = start.0.get(id);
            let delta = |f: fn(&ProgSample) -> u64| f(e) - s.map_or(0, f);
            let g = groups.entry(&e.name).or_insert_with(|| ProgGroup {
                name: e.name.clone(),
                ..Default::default()
            });
            let runs = delta(|p| p.runs);
            g.progs += 1;
            g.ran += u32::from(runs > 0);
            g.runs += runs;
            g.run_ns += delta(|p| p.run_ns);
            g.misses += delta(|p| p.misses);
            g.insns = g.insns.max(e.insns);
        }
        groups.into_values().collect()
    }
}

#[derive(Parser)]
#[command(
    name = "vm trafgen trivial-probes",
    about = "Attach trivial programs to every traceable skb function and hold them"
)]
struct TrivialArgs {
    #[arg(long, value_enum)]
    kind: Kind,
    /// Only functions whose name matches this regex.
    #[arg(long)]
    funcs: Option<String>,
    /// Created once everything is attached.
    #[arg(long)]
    ready: PathBuf,
    /// The links are released once this file exists.
    #[arg(long)]
    until: PathBuf,
    /// Before releasing (fentry): write a regex of the functions whose programs ran to this
    /// file, and their run counts to FILE.list. Run counts need kernel.bpf_stats_enabled=1.
    #[arg(long)]
    hits: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Kind {
    /// One fentry and one fexit program per function.
    Fentry,
    /// One kprobe.multi and one kretprobe.multi link over all functions.
    KprobeMulti,
    /// One kprobe session link, returning 0 at entry: the return probe runs too.
    Session,
    /// One kprobe session link, returning 1 at entry: no return probe.
    SessionEntry,
}

/// Trivial programs and their links.
struct Held {
    /// Fentry: each function's programs, to read their run counts.
    funcs: Vec<(String, [OwnedFd; 2])>,
    progs: Vec<OwnedFd>,
    links: Vec<OwnedFd>,
}

fn errno(what: &str, e: i32) -> String {
    format!("{what}: {}", std::io::Error::from_raw_os_error(e))
}

/// `vm trafgen trivial-probes ...`: attach, wait, report what ran, release.
pub fn trivial_probes(args: &[String]) -> i32 {
    let args = TrivialArgs::parse_from(
        std::iter::once("trivial-probes".to_string()).chain(args.iter().cloned()),
    );
    match hold(&args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("trivial-probes: {e}");
            1
        }
    }
}

fn hold(args: &TrivialArgs) -> Result<(), String> {
    let scan = vrft_btf::scan(&vrft_btf::ScanOptions::system()).map_err(|e| format!("{e:#}"))?;
    let re = args
        .funcs
        .as_deref()
        .map(regex::Regex::new)
        .transpose()
        .map_err(|e| e.to_string())?;
    let targets: Vec<&vrft_btf::Function> = scan
        .traceable()
        .filter(|f| re.as_ref().is_none_or(|r| r.is_match(&f.name)))
        .collect();
    vrft_tui::tracer::raise_nofile(targets.len() as u64 * 4 + 1024);
    let t = Instant::now();
    let held = match args.kind {
        Kind::Fentry => fentry(&targets)?,
        kind => kprobe(kind, &targets)?,
    };
    println!(
        "trivial {}: {} candidates, {} attached; {} programs, {} links in {:.1} s",
        args.kind.to_possible_value().expect("named").get_name(),
        targets.len(),
        if args.kind == Kind::Fentry {
            held.funcs.len()
        } else {
            targets.len()
        },
        held.progs.len() + held.funcs.len() * 2,
        held.links.len(),
        t.elapsed().as_secs_f64()
    );
    std::fs::write(&args.ready, "").map_err(|e| e.to_string())?;
    while !args.until.exists() {
        std::thread::sleep(Duration::from_millis(100));
    }
    if let Some(path) = &args.hits {
        write_hits(&held, path)?;
    }
    let n = held.links.len();
    let t = Instant::now();
    drop(held);
    println!("released {n} links in {:.1} s", t.elapsed().as_secs_f64());
    Ok(())
}

fn fentry(targets: &[&vrft_btf::Function]) -> Result<Held, String> {
    let modules = vrft_tui::tracer::kernel_btf::module_btf_fds().map_err(|e| format!("{e:#}"))?;
    let obj = |m: &str| modules.get(m).map_or(0, |f| f.as_raw_fd());
    let tracing = libbpf_sys::BPF_PROG_TYPE_TRACING;
    let (entry, exit) = (libbpf_sys::BPF_TRACE_FENTRY, libbpf_sys::BPF_TRACE_FEXIT);
    let mut held = Held {
        funcs: Vec::new(),
        progs: Vec::new(),
        links: Vec::new(),
    };
    let (mut load_failed, mut attach_failed) = (0, 0);
    for f in targets {
        let o = obj(&f.module);
        let progs = trivial::load(tracing, entry, f.btf_id, o, c"triv_fentry", 0).and_then(|e| {
            trivial::load(tracing, exit, f.btf_id, o, c"triv_fexit", 0).map(|x| [e, x])
        });
        let Ok(progs) = progs else {
            load_failed += 1;
            continue;
        };
        // Both or neither, as vrft-tui does.
        match trivial::attach(&progs[0], entry)
            .and_then(|e| trivial::attach(&progs[1], exit).map(|x| [e, x]))
        {
            Ok(links) => {
                held.links.extend(links);
                held.funcs.push((f.name.clone(), progs));
            }
            Err(_) => attach_failed += 1,
        }
    }
    println!("trivial fentry: {load_failed} functions failed to load, {attach_failed} to attach");
    Ok(held)
}

fn kprobe(kind: Kind, targets: &[&vrft_btf::Function]) -> Result<Held, String> {
    let names: Vec<CString> = targets
        .iter()
        .map(|f| CString::new(f.name.as_str()).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let load = |attach: libbpf_sys::bpf_attach_type, name: &std::ffi::CStr, ret: i32| {
        trivial::load(libbpf_sys::BPF_PROG_TYPE_KPROBE, attach, 0, 0, name, ret)
            .map_err(|e| errno("load", e))
    };
    let link = |prog: &OwnedFd, attach: libbpf_sys::bpf_attach_type, flags: u32| {
        trivial::attach_kprobe_multi(prog, attach, &names, flags)
            .map_err(|e| errno("kprobe.multi link", e))
    };
    let (multi, session) = (
        libbpf_sys::BPF_TRACE_KPROBE_MULTI,
        libbpf_sys::BPF_TRACE_KPROBE_SESSION,
    );
    let mut held = Held {
        funcs: Vec::new(),
        progs: Vec::new(),
        links: Vec::new(),
    };
    match kind {
        Kind::KprobeMulti => {
            let e = load(multi, c"triv_kmulti", 0)?;
            let x = load(multi, c"triv_kretmulti", 0)?;
            held.links.push(link(&e, multi, 0)?);
            held.links
                .push(link(&x, multi, libbpf_sys::BPF_F_KPROBE_MULTI_RETURN)?);
            held.progs.extend([e, x]);
        }
        Kind::Session | Kind::SessionEntry => {
            let (name, ret) = if kind == Kind::Session {
                (c"triv_session", 0)
            } else {
                (c"triv_sess_entry", 1)
            };
            let p = load(session, name, ret)?;
            held.links.push(link(&p, session, 0)?);
            held.progs.push(p);
        }
        Kind::Fentry => unreachable!("handled by fentry()"),
    }
    Ok(held)
}

/// The functions whose trivial programs ran: a `--funcs` regex, and the run counts.
fn write_hits(held: &Held, path: &PathBuf) -> Result<(), String> {
    let mut ran: Vec<(u64, &str)> = held
        .funcs
        .iter()
        .map(|(name, progs)| {
            let runs = progs
                .iter()
                .filter_map(|p| prog_info(p.as_raw_fd()))
                .map(|i| i.run_cnt)
                .sum();
            (runs, name.as_str())
        })
        .filter(|(runs, _)| *runs > 0)
        .collect();
    ran.sort_by(|a, b| b.cmp(a));
    if ran.is_empty() {
        return Err("no trivial program ran: were BPF statistics on during the flood?".into());
    }
    let names: BTreeSet<&str> = ran.iter().map(|(_, n)| *n).collect();
    let escaped: Vec<String> = names.iter().map(|n| regex::escape(n)).collect();
    let regex = format!("^({})$", escaped.join("|"));
    let list: String = ran.iter().map(|(r, n)| format!("{r} {n}\n")).collect();
    let mut list_path = path.clone().into_os_string();
    list_path.push(".list");
    std::fs::write(path, regex).map_err(|e| e.to_string())?;
    std::fs::write(list_path, list).map_err(|e| e.to_string())
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
];

/// Which side of a call a program runs on, by its name.
fn role(name: &str) -> &'static str {
    match name {
        "vrft_fentry" | "triv_fentry" | "triv_kmulti" | "vrft_kprobe" | "triv_session"
        | "triv_sess_entry" => "entry",
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
        let (lo, hi) = v
            .iter()
            .fold((f64::MAX, f64::MIN), |(l, h), &x| (l.min(x), h.max(x)));
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

    /// Median over turns of (ours - reference) ns per run of one role, paired by turn.
    fn ns_diff(&self, other: &Measured, role_name: &str) -> Option<f64> {
        let paired: Vec<f64> = self
            .0
            .iter()
            .filter_map(|(rep, t)| {
                let o = other.0.get(rep).or_else(|| other.0.values().next())?;
                Some(t.ns_per_run(role_name)? - o.ns_per_run(role_name)?)
            })
            .collect();
        median(paired)
    }

    fn ns_per_packet_diff(&self, other: &Measured) -> Option<f64> {
        let paired: Vec<f64> = self
            .0
            .iter()
            .filter_map(|(rep, t)| {
                let o = other.0.get(rep).or_else(|| other.0.values().next())?;
                Some(t.per_packet()?.1 - o.per_packet()?.1)
            })
            .collect();
        median(paired)
    }
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
    if !recorded.contains(" events of 0 packets") {
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
    for need in [
        "noprobe_full",
        "trivial_full",
        "vrft_full_pcap",
        "vrft_narrow_pcap",
    ] {
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
        let (lo, hi) = all
            .iter()
            .fold((f64::MAX, f64::MIN), |(l, h), &v| (l.min(v), h.max(v)));
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
            fmt_opt(x.ns_diff(r, "entry"), 0),
            fmt_opt(x.ns_diff(r, "exit"), 0),
            fmt_opt(x.ns_per_packet_diff(r), 0),
            c.trivial.unwrap_or("-"),
        );
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
