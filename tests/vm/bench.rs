//! Attach/detach benchmarks in the VM (issue 4), run with `VRFT_VM_BENCH=1`:
//! full fentry/fexit attach and release take minutes under emulation, too long for CI.
//!
//! Baseline, measured in the same boot: the plain serial loop, one trivial
//! program (`r0 = 0; exit`) per fentry and per fexit of every traceable function.

use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Instant;

use super::scenario::{Outcome, Scenario};
use super::trivial::{attach, load_trivial};

pub fn scenarios() -> Vec<Scenario> {
    match std::env::var("VRFT_VM_BENCH").as_deref() {
        Ok("baseline") => vec![Scenario::new(
            "bench_baseline",
            "trafgen attach-baseline\n",
            |_: &Outcome| Ok(()),
        )
        .timeout(1500)],
        // The per-hit benchmark (bench_hits.rs) alone.
        Ok("hits") => Vec::new(),
        Ok(_) => vec![bench_attach()],
        Err(_) => Vec::new(),
    }
}

fn bench_attach() -> Scenario {
    let script = r#"
trafgen attach-baseline > "$OUT/baseline.txt"
t0=$(cut -d' ' -f1 /proc/uptime)
vrft-tui record -o /tmp/b.vrft --backend fentry --wait-detach --duration 1 2> "$OUT/fentry.txt"
t1=$(cut -d' ' -f1 /proc/uptime)
echo "total $t0 $t1" >> "$OUT/fentry.txt"
if [ -e /sys/kernel/btf/vmlinux ] && grep -q bpf_session_cookie /proc/kallsyms; then
  t0=$(cut -d' ' -f1 /proc/uptime)
  vrft-tui record -o /tmp/k.vrft --backend kprobe --duration 1 2> "$OUT/kprobe.txt"
  t1=$(cut -d' ' -f1 /proc/uptime)
  echo "total $t0 $t1" >> "$OUT/kprobe.txt"
fi
"#;
    Scenario::new("bench_attach", script, |out: &Outcome| {
        for f in ["baseline.txt", "fentry.txt", "kprobe.txt"] {
            if let Ok(text) = out.read(f) {
                eprintln!("[{}] {f}:\n{text}", out.kernel);
            }
        }
        Ok(())
    })
    .timeout(3000)
}

/// `vm attach-baseline`: the serial loop over every traceable function, timed per phase.
pub fn attach_baseline() -> i32 {
    let scan = vrft_btf::scan(&vrft_btf::ScanOptions::system()).expect("BTF scan");
    let modules = vrft_tui::tracer::kernel_btf::module_btf_fds().expect("module BTF");
    let targets: Vec<_> = scan.traceable().collect();
    vrft_tui::tracer::raise_nofile(targets.len() as u64 * 4 + 1024);
    let obj = |m: &str| modules.get(m).map_or(0, |f| f.as_raw_fd());
    let (entry, exit) = (libbpf_sys::BPF_TRACE_FENTRY, libbpf_sys::BPF_TRACE_FEXIT);

    let t = Instant::now();
    let progs: Vec<_> = targets
        .iter()
        .map(|f| {
            let o = obj(&f.module);
            load_trivial(entry, f.btf_id, o)
                .and_then(|e| load_trivial(exit, f.btf_id, o).map(|x| (e, x)))
        })
        .collect();
    let load = t.elapsed();
    let t = Instant::now();
    let links: Vec<OwnedFd> = progs
        .iter()
        .filter_map(|p| p.as_ref().ok())
        .filter_map(|(e, x)| {
            let le = attach(e, entry).ok()?;
            let lx = attach(x, exit).ok()?;
            Some([le, lx])
        })
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
        "baseline: {} candidates, {attached} attached; load {:.1} s, attach {:.1} s, detach {:.1} s",
        targets.len(),
        load.as_secs_f64(),
        attach_time.as_secs_f64(),
        detach.as_secs_f64()
    );
    0
}
