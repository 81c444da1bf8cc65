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

/// The emulated machine: its vCPUs and, for the two-host bed (tests/vm/pair.rs), a network card.
pub struct Machine {
    pub cpus: u32,
    pub nic: Option<Nic>,
}

impl Default for Machine {
    /// Two vCPUs and no network card: the single-guest scenarios.
    fn default() -> Self {
        Machine { cpus: 2, nic: None }
    }
}

/// A virtio-net card whose wire is a UDP socket pair on the host's loopback address: QEMU sends
/// each Ethernet frame the guest transmits as one datagram from `local` to `remote`, and hands
/// the guest every datagram that arrives on `local`. Two guests with their ports crossed share
/// one wire; nothing leaves 127.0.0.1.
pub struct Nic {
    pub local: u16,
    pub remote: u16,
    pub mac: String,
}

impl Nic {
    /// QEMU's arguments for the card: the `dgram` backend (QEMU 7.2+) and a virtio-net PCI device.
    fn args(&self) -> [String; 4] {
        [
            "-netdev".into(),
            format!(
                "dgram,id=wire,local.type=inet,local.host=127.0.0.1,local.port={},\
                 remote.type=inet,remote.host=127.0.0.1,remote.port={}",
                self.local, self.remote
            ),
            "-device".into(),
            format!("virtio-net-pci,netdev=wire,mac={}", self.mac),
        ]
    }
}

/// A UDP port on 127.0.0.1 that nothing holds right now: bound to port 0, read back, released.
/// Another process could take it before QEMU binds it, but parallel runs pick different ports.
pub fn free_udp_port() -> Result<u16, String> {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    Ok(sock.local_addr().map_err(|e| e.to_string())?.port())
}

pub struct Boot {
    /// Everything the guest printed on its serial console, '\r' removed.
    pub console: String,
    /// The console, also saved to a file for inspection after the run.
    pub console_log: PathBuf,
    /// The guest's /out, unpacked.
    pub out: PathBuf,
    pub wall: Duration,
}

/// Every vCPU on one host thread, except for benchmarks. With one host thread per vCPU the guest
/// died on the int3 of kernel text patching: on 7.2 (a trampoline's ip_after_call rewritten while
/// fsession's links were released, a static branch while function_graph was switched on), twice
/// in three runs of trace_veth_auto on 2026-12-04, and on 6.12 in busy_host (an int3 left in a
/// static branch of __dev_queue_xmit while the kprobe backend attached under a flood, same day).
/// A vCPU kept running its translation of code another vCPU was patching; with one host thread no
/// vCPU runs while another patches. Benchmarks keep one thread per vCPU: the flood and its sink
/// run on separate CPUs.
fn tcg_threads() -> &'static str {
    if std::env::var_os("VRFT_VM_BENCH").is_none() {
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
    machine: &Machine,
) -> Result<Boot, String> {
    let disk = work.join("out.img");
    let file = fs::File::create(&disk).map_err(|e| format!("{}: {e}", disk.display()))?;
    file.set_len(OUT_DISK_BYTES)
        .map_err(|e| format!("{}: {e}", disk.display()))?;

    let start = Instant::now();
    let mut child = Command::new("qemu-system-x86_64")
        .args(["-accel", tcg_threads(), "-cpu", "max", "-m", "2048"])
        .arg("-smp")
        .arg(machine.cpus.to_string())
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
        .args(match &machine.nic {
            Some(nic) => nic.args().to_vec(),
            // No network card: guest traffic stays inside the guest's own namespaces.
            None => vec!["-nic".into(), "none".into()],
        })
        .args(["-nographic", "-no-reboot"])
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
