//! End-to-end tests inside real Debian kernels booted under QEMU (see docs/testing.md).
//!
//! Every test is `<kernel>::<scenario>`. The selected scenarios of one kernel share one boot: the
//! first test of a kernel to run boots it, the others wait and read their part of the result.
//! Invoked as `vm trafgen ...`, this binary is instead the guest's traffic generator.

mod bench;
mod bench_hits;
mod bpf_objects;
mod busy;
mod compat;
#[path = "../common/export.rs"]
mod export_checks;
mod filtering;
mod graph;
mod identity;
mod initramfs;
mod kernel;
mod lab;
mod live;
mod merged;
mod pair;
mod qemu;
mod scenario;
mod testbed;
mod topology;
mod tracing;
mod trafgen;
mod trivial;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};

use kernel::Kernel;
use scenario::{Outcome, Scenario};

/// One boot at a time: the CI machine has 2 cores and each guest runs 2 emulated CPUs, and
/// scenarios that measure timing must not compete with another guest.
static BOOT_LOCK: Mutex<()> = Mutex::new(());

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("trafgen") {
        match argv.get(2).map(String::as_str) {
            Some("bpf-objects") => std::process::exit(bpf_objects::main()),
            Some("attach-baseline") => std::process::exit(bench::attach_baseline()),
            Some("trivial-probes") => std::process::exit(trivial::trivial_probes(&argv[3..])),
            _ => {}
        }
        std::process::exit(trafgen::main(&argv[2..]));
    }
    let args = Arguments::from_args();
    let scenarios: Vec<Arc<Scenario>> = testbed::scenarios()
        .into_iter()
        .chain(filtering::scenarios())
        .chain(live::scenarios())
        .chain(lab::scenarios())
        .chain(busy::scenarios())
        .chain(tracing::scenarios())
        .chain(bench::scenarios())
        .chain(compat::scenarios())
        .map(Arc::new)
        .collect();

    let plans: Vec<Arc<Plan>> = kernel::selected()
        .into_iter()
        .map(|kernel| {
            let selected = scenarios
                .iter()
                .filter(|sc| sc.runs_on(&kernel))
                .filter(|sc| {
                    !args.is_filtered_out(&Trial::test(trial_name(&kernel, sc), || Ok(())))
                })
                .cloned()
                .collect();
            Arc::new(Plan {
                kernel,
                scenarios: selected,
                boot: OnceLock::new(),
            })
        })
        .collect();

    let mut trials = Vec::new();
    for sc in &scenarios {
        for plan in plans.iter().filter(|p| sc.runs_on(&p.kernel)) {
            let (plan, sc) = (Arc::clone(plan), Arc::clone(sc));
            trials.push(Trial::test(trial_name(&plan.kernel, &sc), move || {
                plan.run(&sc)
            }));
        }
    }
    // Two guests at once on their own wire: a boot of its own, not shared with the scenarios.
    trials.extend(pair::trial(&kernel::selected()));
    libtest_mimic::run(&args, trials).exit();
}

fn trial_name(kernel: &str, sc: &Scenario) -> String {
    format!("{kernel}::{}", sc.name)
}

/// The scenarios one kernel runs, and its boot once it has happened.
struct Plan {
    kernel: String,
    scenarios: Vec<Arc<Scenario>>,
    boot: OnceLock<Result<Booted, String>>,
}

struct Booted {
    console: String,
    console_log: PathBuf,
    out: PathBuf,
}

impl Plan {
    fn run(&self, sc: &Scenario) -> Result<(), Failed> {
        let booted = self
            .boot
            .get_or_init(|| self.boot())
            .as_ref()
            .map_err(Failed::from)?;
        let show = |why: String| {
            Failed::from(format!(
                "{why}\n--- guest console, scenario {} on {} ---\n{}--- full console: {}",
                sc.name,
                self.kernel,
                outcome_log(booted, sc),
                booted.console_log.display()
            ))
        };
        let (exit, log) = scenario::split_console(&booted.console, sc.name)
            .ok_or_else(|| show("the guest did not report this scenario's end".into()))?;
        if exit != sc.expect_exit {
            return Err(show(format!(
                "guest script exited {exit}, want {}",
                sc.expect_exit
            )));
        }
        let outcome = Outcome {
            kernel: self.kernel.clone(),
            log,
            dir: booted.out.join(sc.name),
        };
        (sc.check)(&outcome).map_err(show)
    }

    fn boot(&self) -> Result<Booted, String> {
        let _one_at_a_time = BOOT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let kernel = Kernel::find(&self.kernel)?;
        let work = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("vm")
            .join(&kernel.name);
        std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
        // A developer's shortcut: check again what the last boot of this kernel left.
        if std::env::var_os("VRFT_VM_RECHECK").is_some() {
            let console_log = work.join("console.log");
            let console = std::fs::read_to_string(&console_log)
                .map_err(|e| format!("VRFT_VM_RECHECK: {}: {e}", console_log.display()))?;
            eprintln!("vm: kernel {}: checking the last boot again", kernel.name);
            return Ok(Booted {
                console,
                console_log,
                out: work.join("out"),
            });
        }

        let scenarios: Vec<&Scenario> = self.scenarios.iter().map(|s| s.as_ref()).collect();
        let init = scenario::init_script(&scenarios);
        let run = initramfs::RunFiles {
            init: &init,
            scenarios: scenarios
                .iter()
                .map(|s| (s.name, scenario::guest_script(s)))
                .collect(),
        };
        let initrd = work.join("initrd.img");
        let started = Instant::now();
        initramfs::build(&kernel, &run, &initrd)?;
        let built = started.elapsed();

        // Generous: a hung guest is killed, a slow one is not.
        let timeout = match std::env::var("VRFT_VM_TIMEOUT") {
            Ok(secs) => secs
                .parse()
                .map_err(|e| format!("VRFT_VM_TIMEOUT={secs}: {e}"))?,
            Err(_) => 120 + scenarios.iter().map(|s| u64::from(s.timeout)).sum::<u64>(),
        };
        let boot = qemu::boot(
            &kernel,
            &initrd,
            &work,
            Duration::from_secs(timeout),
            &qemu::Machine::default(),
        )?;
        eprintln!(
            "vm: kernel {} ({}): {} scenario(s); initramfs {:.1} s, guest at /init after {} s, boot wall time {:.1} s",
            kernel.name,
            kernel.release,
            scenarios.len(),
            built.as_secs_f64(),
            booted_at(&boot.console).unwrap_or("?"),
            boot.wall.as_secs_f64()
        );
        Ok(Booted {
            console: boot.console,
            console_log: boot.console_log,
            out: boot.out,
        })
    }
}

/// The scenario's console section, or the whole console if its markers are missing.
fn outcome_log(booted: &Booted, sc: &Scenario) -> String {
    scenario::split_console(&booted.console, sc.name)
        .map_or_else(|| booted.console.clone(), |(_, log)| log)
}

/// Guest uptime when /init started, from its `VRFT-BOOTED <release> <uptime>` line.
fn booted_at(console: &str) -> Option<&str> {
    console
        .lines()
        .find_map(|l| scenario::marker(l, "VRFT-BOOTED"))
        .and_then(|words| words.get(1).copied())
}
