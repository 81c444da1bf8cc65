//! Attach/detach benchmarks in the VM (issue 4), run with `VRFT_VM_BENCH=1`:
//! full fentry/fexit attach and release take minutes under emulation, too long for CI.
//!
//! Baselines, measured in the same boot: the plain serial loop over every
//! traceable function with vrft-tui's own programs (`--load-threads 0`: load
//! and attach one function after the other), and the same loop with a trivial
//! program (`r0 = 0; exit`) per fentry and fexit, the floor any probe costs.

use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Instant;

use super::scenario::{Outcome, Scenario};
use super::trivial::{attach_fentry_pair, load_fentry_pair};

pub fn scenarios() -> Vec<Scenario> {
    match std::env::var("VRFT_VM_BENCH").as_deref() {
        Ok("baseline") => vec![Scenario::new(
            "bench_baseline",
            "trafgen attach-baseline\n",
            |_: &Outcome| Ok(()),
        )
        .timeout(1500)],
        // 5.10: the compatible fentry clones (its rows without kprobe session and fsession).
        Ok("hits") => vec![super::bench_hits::bench_hits().also_on(&["7.2", "5.10"])],
        Ok(_) => vec![bench_attach().also_on(&["7.2"])],
        Err(_) => Vec::new(),
    }
}

/// Runs of vrft-tui in the benchmark boot, in order: (output file, arguments).
/// The first is the plain serial loop that the others are compared with. Each
/// releases in the foreground, so that no release runs beside the next attach,
/// except the one-loader-thread run: it goes last and releases in the background: its
/// attach is what it is there for, and the guest powers off instead of waiting
/// minutes for a second foreground release. fsession (7.2+) releases in the
/// background as users get it, and the kernel must hold no link 15 s later.
const RUNS: [(&str, &str); 5] = [
    (
        "serial.txt",
        "--backend fentry --load-threads 0 --wait-detach",
    ),
    ("fentry.txt", "--backend fentry --wait-detach"),
    ("kprobe.txt", "--backend kprobe"),
    ("fsession.txt", "--backend fsession"),
    ("fentry1.txt", "--backend fentry --load-threads 1"),
];

fn bench_attach() -> Scenario {
    // Each line vrft-tui prints is stamped with the guest's uptime when it
    // arrives, after a "start" stamp: start-to-armed needs no clock in vrft-tui.
    let mut script = String::from(
        r#"
stamped() {
  f=$1; shift
  read -r now _ < /proc/uptime; echo "$now start" > "$f"
  { "$@" 2>&1 >/dev/null || echo "exit status $?"; } | while IFS= read -r line; do
    read -r now _ < /proc/uptime; echo "$now $line"
  done >> "$f"
}
trafgen attach-baseline > "$OUT/baseline.txt"
"#,
    );
    // VRFT_VM_BENCH_RUNS=serial,fsession: only these runs (file stems), for a shorter boot.
    let only = std::env::var("VRFT_VM_BENCH_RUNS").ok();
    let wanted = |file: &str| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|r| file.strip_suffix(".txt") == Some(r)))
    };
    for (file, args) in RUNS.into_iter().filter(|(f, _)| wanted(f)) {
        let run =
            format!("stamped \"$OUT/{file}\" vrft-tui record -o /tmp/b.vrft {args} --duration 1\n");
        if args.contains("kprobe") {
            // Kprobe sessions (6.10+): bpf_session_cookie is their kfunc.
            script.push_str(&format!(
                "if grep -q bpf_session_cookie /proc/kallsyms; then\n  {run}fi\n"
            ));
        } else if args.contains("fsession") {
            // The tracing multi-link (7.2+), and its trivial floor in the same boot.
            script.push_str(&format!(
                "if grep -q bpf_tracing_multi_attach /proc/kallsyms; then\n  {run}  \
                 sleep 15\n  trafgen bpf-objects > \"$OUT/fsession.left\"\n  \
                 cat /run/vrft-tui/release.log > \"$OUT/fsession.release\"\n  \
                 trafgen trivial-probes --kind fsession-multi --ready /tmp/t.ready --until /tmp/t.ready \
                 > \"$OUT/trivial_fsession.txt\" 2>&1\nfi\n"
            ));
        } else {
            script.push_str(&run);
        }
    }
    Scenario::new("bench_attach", script, |out: &Outcome| {
        let baseline = out.read("baseline.txt").unwrap_or_default();
        eprintln!("[{}] baseline.txt:\n{baseline}", out.kernel);
        let trivial = loop_scan_load_attach(&baseline);
        let serial = out.read(RUNS[0].0).ok().as_deref().and_then(start_to_armed);
        for (file, args) in RUNS {
            if let Ok(text) = out.read(file) {
                eprintln!("[{}] {file} ({args}):\n{text}", out.kernel);
                let line = match start_to_armed(&text) {
                    Some(a) => format!(
                        "start to armed {a:.2} s = {} x the serial loop's, {} x the trivial loop's \
                         scan + load + attach",
                        ratio(a, serial),
                        ratio(a, trivial)
                    ),
                    None => "never armed".to_string(),
                };
                eprintln!("[{}] {file}: {line}", out.kernel);
            }
        }
        fsession_goals(out)
    })
    .timeout(3000)
}

/// Where the kernel has the tracing multi-link: fsession's start to armed at
/// most twice kprobe session's, and no BPF object left 15 s after its stop.
fn fsession_goals(out: &Outcome) -> Result<(), String> {
    let Ok(text) = out.read("fsession.txt") else {
        return Ok(());
    };
    for f in ["trivial_fsession.txt", "fsession.release"] {
        if let Ok(t) = out.read(f) {
            eprintln!("[{}] {f}:\n{t}", out.kernel);
        }
    }
    let armed = |f: &str| out.read(f).ok().as_deref().and_then(start_to_armed);
    let (fs, kp) = (start_to_armed(&text), armed("kprobe.txt"));
    let left = out.read("fsession.left")?;
    eprintln!(
        "[{}] fsession start to armed = {} x kprobe session's; 15 s after its stop: {}",
        out.kernel,
        fs.map_or("?".into(), |a| ratio(a, kp)),
        left.trim()
    );
    match (fs, kp) {
        (Some(a), Some(b)) if a <= 2.0 * b => {}
        _ => return Err("fsession's start to armed is not within 2x kprobe session's".into()),
    }
    if left.trim() != "programs 0 links 0" {
        return Err(format!(
            "15 s after fsession's stop the kernel holds {left}"
        ));
    }
    Ok(())
}

/// Seconds from the "start" stamp to the "armed" line of a stamped log (see the script above).
fn start_to_armed(log: &str) -> Option<f64> {
    let stamp = |prefix: &str| {
        log.lines().find_map(|l| {
            let (t, rest) = l.split_once(' ')?;
            rest.starts_with(prefix).then(|| t.parse::<f64>().ok())?
        })
    };
    Some(stamp("armed")? - stamp("start")?)
}

/// `a / b` with three decimals, or "?" without `b`.
fn ratio(a: f64, b: Option<f64>) -> String {
    b.map_or("?".to_string(), |b| format!("{:.3}", a / b))
}

/// The trivial loop's scan + load + attach seconds, from its "scan X s, load Y s, attach Z s" line.
fn loop_scan_load_attach(baseline: &str) -> Option<f64> {
    let secs = |key: &str| -> Option<f64> {
        let rest = baseline.split(key).nth(1)?;
        rest.split_whitespace().next()?.parse().ok()
    };
    Some(secs("scan ")? + secs("load ")? + secs("attach ")?)
}

/// `vm attach-baseline`: the serial loop over every traceable function, timed per phase.
pub fn attach_baseline() -> i32 {
    let t = Instant::now();
    let scan = vrft_btf::scan(&vrft_btf::ScanOptions::system()).expect("BTF scan");
    let modules = vrft_tui::tracer::module_btf::module_btf_fds().expect("module BTF");
    let targets: Vec<_> = scan.traceable().collect();
    let scan_time = t.elapsed();
    vrft_tui::tracer::raise_nofile(targets.len() as u64 * 4 + 1024);
    let obj = |m: &str| modules.get(m).map_or(0, |f| f.as_raw_fd());

    let t = Instant::now();
    let progs: Vec<_> = targets
        .iter()
        .map(|f| load_fentry_pair(f.btf_id, obj(&f.module)))
        .collect();
    let load = t.elapsed();
    let t = Instant::now();
    let links: Vec<OwnedFd> = progs
        .iter()
        .filter_map(|p| p.as_ref().ok())
        .filter_map(|p| attach_fentry_pair(p).ok())
        .flatten()
        .collect();
    let attach_time = t.elapsed();
    let attached = links.len() / 2;
    if let Some(Err(e)) = progs.iter().find(|p| p.is_err()) {
        let failed = progs.iter().filter(|p| p.is_err()).count();
        println!(
            "baseline: {failed} functions failed to load, first: {}",
            std::io::Error::from_raw_os_error(*e)
        );
    }
    drop(progs);
    let t = Instant::now();
    drop(links);
    let detach = t.elapsed();
    println!(
        "baseline: {} candidates, {attached} attached; scan {:.1} s, load {:.1} s, attach {:.1} s, \
         detach {:.1} s",
        targets.len(),
        scan_time.as_secs_f64(),
        load.as_secs_f64(),
        attach_time.as_secs_f64(),
        detach.as_secs_f64()
    );
    0
}
