//! Boots one kernel + initramfs under QEMU (software emulation) and collects what the guest left.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::kernel::Kernel;
use super::scenario::marker;

/// Size of the raw disk the guest writes /out to as a tar stream (sparse on the host).
const OUT_DISK_BYTES: u64 = 1 << 30;

pub struct Boot {
    /// Everything the guest printed on its serial console, '\r' removed.
    pub console: String,
    /// The console, also saved to a file for inspection after the run.
    pub console_log: PathBuf,
    /// The guest's /out, unpacked.
    pub out: PathBuf,
    pub wall: Duration,
}

/// One host thread per vCPU, except for the 7.2 scenarios: there the guest died on the int3 of
/// kernel text patching (a trampoline's ip_after_call rewritten while fsession's links were
/// released, a static branch while function_graph was switched on), twice in three runs of
/// trace_veth_auto on 2026-12-04. With every vCPU on one host thread no vCPU runs a translation
/// of the code another one is patching. Benchmarks keep one thread per vCPU: the flood and its
/// sink run on separate CPUs.
fn tcg_threads(kernel: &Kernel) -> &'static str {
    if kernel.name.starts_with("7.") && std::env::var_os("VRFT_VM_BENCH").is_none() {
        "tcg,thread=single"
    } else {
        "tcg,thread=multi"
    }
}

/// Boots `kernel` with `initrd`, working in `work` (console log, output disk, unpacked /out).
/// Fails if QEMU cannot start, the guest runs past `timeout` (QEMU is then killed), or the guest
/// did not end with `VRFT-EXIT 0`; the error carries the whole console.
pub fn boot(
    kernel: &Kernel,
    initrd: &Path,
    work: &Path,
    timeout: Duration,
) -> Result<Boot, String> {
    let disk = work.join("out.img");
    let file = fs::File::create(&disk).map_err(|e| format!("{}: {e}", disk.display()))?;
    file.set_len(OUT_DISK_BYTES)
        .map_err(|e| format!("{}: {e}", disk.display()))?;

    let start = Instant::now();
    let mut child = Command::new("qemu-system-x86_64")
        .args([
            "-accel",
            tcg_threads(kernel),
            "-cpu",
            "max",
            "-smp",
            "2",
            "-m",
            "2048",
        ])
        .arg("-kernel")
        .arg(&kernel.vmlinuz)
        .arg("-initrd")
        .arg(initrd)
        // tsc=reliable: under emulation the TSC drifts against the other clocks, the
        // clocksource watchdog then marks it unstable and flips sched_clock's static key,
        // patching kernel text while packets run through it; a 7.2 guest died on the int3
        // of that patch (clocksource_watchdog_work -> sched_clock_cpu) in bench_hits.
        .args(["-append", "console=ttyS0 quiet panic=-1 tsc=reliable"])
        .arg("-drive")
        .arg(format!("file={},format=raw,if=virtio", disk.display()))
        // No network card: guest traffic stays inside the guest's own namespaces.
        .args(["-nic", "none", "-nographic", "-no-reboot"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start qemu-system-x86_64: {e}; run scripts/setup.sh"))?;

    // Drain the console while the guest runs; echo it live when asked to.
    let console = Arc::new(Mutex::new(Vec::new()));
    let reader = {
        let console = Arc::clone(&console);
        let mut stdout = child.stdout.take().unwrap();
        let echo = std::env::var_os("VRFT_VM_VERBOSE").is_some();
        std::thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            while let Ok(n @ 1..) = stdout.read(&mut chunk) {
                if echo {
                    eprint!("{}", String::from_utf8_lossy(&chunk[..n]));
                }
                console.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
        })
    };

    let status = loop {
        if let Some(status) = child
            .try_wait()
            .map_err(|e| format!("waiting for qemu: {e}"))?
        {
            break Some(status);
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let wall = start.elapsed();
    reader.join().unwrap();
    let mut stderr = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);

    let console = String::from_utf8_lossy(&console.lock().unwrap()).replace('\r', "");
    let console_log = work.join("console.log");
    fs::write(&console_log, &console).map_err(|e| format!("{}: {e}", console_log.display()))?;
    let fail = |why: String| {
        Err(format!(
            "{why}\n--- guest console ({}) ---\n{console}\n--- qemu stderr ---\n{stderr}",
            console_log.display()
        ))
    };
    let Some(status) = status else {
        return fail(format!(
            "kernel {}: guest still running after {timeout:?}; killed",
            kernel.name
        ));
    };
    match exit_marker(&console) {
        Some(0) => {}
        Some(code) => {
            return fail(format!(
                "kernel {}: guest init failed (VRFT-EXIT {code})",
                kernel.name
            ))
        }
        None => {
            return fail(format!(
                "kernel {}: guest stopped without a VRFT-EXIT line (qemu {status})",
                kernel.name
            ))
        }
    }

    let out = work.join("out");
    if out.exists() {
        fs::remove_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    }
    fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let disk = fs::File::open(&disk).map_err(|e| format!("{}: {e}", disk.display()))?;
    tar::Archive::new(disk)
        .unpack(&out)
        .map_err(|e| format!("unpacking the guest's /out: {e}"))?;
    Ok(Boot {
        console,
        console_log,
        out,
        wall,
    })
}

/// The status in the guest's last `VRFT-EXIT <code>` line.
fn exit_marker(console: &str) -> Option<i32> {
    console
        .lines()
        .rev()
        .find_map(|l| marker(l, "VRFT-EXIT"))
        .and_then(|words| words.first()?.parse().ok())
}
