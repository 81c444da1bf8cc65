//! Builds the guest's initramfs: a cpio "newc" archive the kernel unpacks into its root filesystem.
//!
//! The image is two archives back to back (the kernel unpacks each in turn):
//! - a run part, rebuilt for every boot: the binaries under test, the test binary (traffic generator),
//!   `/init` and the scenario scripts; left uncompressed, so nothing has to be inflated under emulation;
//! - a base part per kernel, gzip'd and cached: busybox, the real `ip`, `ping` and `tmux`, their
//!   libraries (and tmux's locale and terminfo), and the kernel modules with the order to load them in.

use std::collections::hash_map::DefaultHasher;
use std::collections::BTreeSet;
use std::fs;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use super::kernel::{self, Kernel};

/// Modules the scenarios need (when the kernel has them as modules): the topologies' devices,
/// and virtio for the disk that carries /out back to the host.
const MODULES: &[&str] = &[
    "veth",
    "udp_tunnel",
    "ip6_udp_tunnel",
    "vxlan",
    "geneve",
    "bridge",
    // Stateless NAT for the filter_nat scenario: tc's clsact qdisc, matchall and the nat action.
    "sch_ingress",
    "cls_matchall",
    "act_nat",
    "virtio_pci",
    "virtio_blk",
];

/// The network card's driver, for the two-host bed (tests/vm/pair.rs). Copied into every base
/// image but loaded only by the scripts that want it (`/etc/modules-nic`, in load order): the
/// single-guest scenarios have no card, and their function counts stay as they were.
const NIC_MODULES: &[&str] = &["virtio_net"];

/// Bump when the base layout changes, so cached base images are rebuilt.
const BASE_FORMAT: u32 = 4;

/// What `tmux` needs besides its libraries, for the live UI scenario (tests/vm/live.rs): it
/// refuses to start without a UTF-8 locale (glibc's C.UTF-8 is a file, not built in), and
/// the terminfo entries of the terminals a pane may claim to be. Copied at the same paths.
const TMUX_LOCALE: &str = "/usr/lib/locale/C.utf8";
const TERMINFO: &[&str] = &[
    "/lib/terminfo/s/screen",
    "/lib/terminfo/s/screen-256color",
    "/lib/terminfo/t/tmux",
    "/lib/terminfo/t/tmux-256color",
    "/lib/terminfo/x/xterm-256color",
    "/lib/terminfo/l/linux",
    "/lib/terminfo/d/dumb",
];

/// A cpio archive in the "newc" format (see the kernel's Documentation/driver-api/early-userspace).
#[derive(Default)]
pub struct Cpio {
    buf: Vec<u8>,
    ino: u32,
    entries: BTreeSet<String>,
}

impl Cpio {
    /// Adds a regular file (and its parent directories); a path added twice keeps the first.
    pub fn file(&mut self, path: &str, mode: u32, data: &[u8]) {
        if self.parents_and_claim(path) {
            self.entry(path, 0o100000 | mode, data, (0, 0));
        }
    }

    pub fn symlink(&mut self, path: &str, target: &str) {
        if self.parents_and_claim(path) {
            self.entry(path, 0o120777, target.as_bytes(), (0, 0));
        }
    }

    pub fn dir(&mut self, path: &str) {
        if self.parents_and_claim(path) {
            self.entry(path, 0o040755, &[], (0, 0));
        }
    }

    pub fn char_dev(&mut self, path: &str, major: u32, minor: u32) {
        if self.parents_and_claim(path) {
            self.entry(path, 0o020600, &[], (major, minor));
        }
    }

    /// Copies a host executable (without debug info) to `dest` with every shared library `ldd`
    /// lists, at the same paths.
    pub fn host_binary(&mut self, dest: &str, src: &Path) -> Result<(), String> {
        self.file(dest, 0o755, &without_debug_info(src)?);
        for lib in shared_libs(src)? {
            let data = fs::read(&lib).map_err(|e| format!("{lib}: {e}"))?;
            self.file(&lib, 0o755, &data);
        }
        Ok(())
    }

    /// Ends the archive and returns its bytes.
    pub fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, &[], (0, 0));
        self.buf
    }

    /// Creates missing parent directories; returns false if `path` itself is already in the archive.
    fn parents_and_claim(&mut self, path: &str) -> bool {
        let path = path.trim_start_matches('/');
        let mut parent = String::new();
        for part in path.split('/').collect::<Vec<_>>().split_last().unwrap().1 {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(part);
            if self.entries.insert(parent.clone()) {
                self.entry(&parent.clone(), 0o040755, &[], (0, 0));
            }
        }
        self.entries.insert(path.to_string())
    }

    fn entry(&mut self, path: &str, mode: u32, data: &[u8], (rmajor, rminor): (u32, u32)) {
        let name = path.trim_start_matches('/');
        self.ino += 1;
        let nlink = if mode & 0o170000 == 0o040000 { 2 } else { 1 };
        let fields = [
            self.ino,
            mode,
            0, // uid
            0, // gid
            nlink,
            0, // mtime
            data.len() as u32,
            0, // dev major
            0, // dev minor
            rmajor,
            rminor,
            name.len() as u32 + 1,
            0, // checksum (unused by "070701")
        ];
        self.buf.extend_from_slice(b"070701");
        for field in fields {
            write!(self.buf, "{field:08x}").unwrap();
        }
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.push(0);
        self.pad();
        self.buf.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.buf.len().is_multiple_of(4) {
            self.buf.push(0);
        }
    }
}

/// The executable's bytes minus its debug info: most of a debug build's size, which the guest
/// would otherwise unpack under emulation on every boot. Symbols stay, so backtraces keep names.
fn without_debug_info(src: &Path) -> Result<Vec<u8>, String> {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let tmp = std::env::temp_dir().join(format!(
        "vrft-vm-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let out = Command::new("strip")
        .arg("--strip-debug")
        .arg("-o")
        .arg(&tmp)
        .arg(src)
        .output()
        .map_err(|e| format!("strip {}: {e} (install binutils)", src.display()))?;
    let data = fs::read(&tmp);
    let _ = fs::remove_file(&tmp);
    if !out.status.success() {
        return Err(format!(
            "strip {}: {}",
            src.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    data.map_err(|e| format!("{}: {e}", tmp.display()))
}

/// Absolute paths of the shared libraries (and the ELF interpreter) `ldd` reports for `bin`.
fn shared_libs(bin: &Path) -> Result<Vec<String>, String> {
    let out = Command::new("ldd")
        .arg(bin)
        .output()
        .map_err(|e| format!("ldd {}: {e}", bin.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        // Static binaries: nothing to copy.
        return Ok(Vec::new());
    }
    let mut libs = Vec::new();
    for line in text.lines() {
        // "libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
        let line = line.trim();
        if line.contains("not found") {
            return Err(format!("ldd {}: {line}", bin.display()));
        }
        let path = line.split_once(" => ").map_or(line, |(_, p)| p);
        let path = path.split(" (").next().unwrap_or(path);
        if path.starts_with('/') {
            libs.push(path.to_string());
        }
    }
    Ok(libs)
}

fn which(program: &str) -> Result<PathBuf, String> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .ok_or_else(|| format!("{program} not found: run scripts/setup.sh"))
}

/// The locale and terminfo files `tmux` needs in the guest (see [`TMUX_LOCALE`]): every file of
/// the C.UTF-8 locale, which must exist, and the terminfo entries the host has.
fn tmux_files() -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    let mut dirs = vec![PathBuf::from(TMUX_LOCALE)];
    while let Some(dir) = dirs.pop() {
        let entries = fs::read_dir(&dir).map_err(|e| {
            format!(
                "{}: {e} (tmux needs the C.UTF-8 locale in the guest; run scripts/setup.sh)",
                dir.display()
            )
        })?;
        for entry in entries {
            let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    if !files.iter().any(|f| f.ends_with("LC_CTYPE")) {
        return Err(format!(
            "{TMUX_LOCALE}/LC_CTYPE is missing: tmux needs it in the guest"
        ));
    }
    files.sort();
    files.extend(TERMINFO.iter().map(PathBuf::from).filter(|p| p.is_file()));
    Ok(files)
}

/// The cached gzip'd base archive for `kernel`, built on first use.
pub fn base_image(kernel: &Kernel) -> Result<PathBuf, String> {
    let busybox = which("busybox")?;
    let ip = which("ip")?;
    let ping = which("ping")?;
    let tc = which("tc")?;
    let tmux = which("tmux")?;
    let terminal_files = tmux_files()?;
    let modules = kernel.module_load_order(MODULES)?;
    // virtio_net's own dependencies (net_failover, failover; virtio and virtio_ring on 6.1,
    // already loaded for the disk) minus what the list above loads anyway.
    let nic_modules: Vec<PathBuf> = kernel
        .module_load_order(NIC_MODULES)?
        .into_iter()
        .filter(|m| !modules.contains(m))
        .collect();

    // Rebuild when any input changes: key the file name on the inputs' paths, sizes and mtimes.
    let mut inputs = vec![
        busybox.clone(),
        ip.clone(),
        ping.clone(),
        tc.clone(),
        tmux.clone(),
    ];
    inputs.extend(terminal_files.iter().cloned());
    inputs.extend(modules.iter().cloned());
    inputs.extend(nic_modules.iter().cloned());
    let mut hasher = DefaultHasher::new();
    (BASE_FORMAT, &kernel.release).hash(&mut hasher);
    for path in &inputs {
        let meta = fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
        (path, meta.len(), meta.modified().ok()).hash(&mut hasher);
    }
    let dir = kernel::cache_dir().join("initramfs");
    let image = dir.join(format!(
        "{}-{:016x}.cpio.gz",
        kernel.release,
        hasher.finish()
    ));
    if image.is_file() {
        return Ok(image);
    }

    let mut cpio = Cpio::default();
    for d in ["proc", "sys", "dev", "run", "tmp", "out"] {
        cpio.dir(d);
    }
    // The kernel opens /dev/console for /init before devtmpfs is mounted.
    cpio.char_dev("dev/console", 5, 1);
    cpio.host_binary("bin/busybox", &busybox)?;
    cpio.host_binary("bin/ip", &ip)?;
    cpio.host_binary("bin/ping", &ping)?;
    cpio.host_binary("bin/tc", &tc)?;
    cpio.host_binary("bin/tmux", &tmux)?;
    for path in &terminal_files {
        let data = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        cpio.file(&path.to_string_lossy(), 0o644, &data);
    }
    let applets = Command::new(&busybox)
        .arg("--list")
        .output()
        .map_err(|e| format!("busybox --list: {e}"))?;
    for applet in String::from_utf8_lossy(&applets.stdout).lines() {
        cpio.symlink(&format!("bin/{applet}"), "busybox"); // keeps the real ip, ping and tc
    }
    for (list, paths) in [("etc/modules", &modules), ("etc/modules-nic", &nic_modules)] {
        let mut order = String::new();
        for path in paths {
            let name = kernel::module_name(&path.to_string_lossy());
            cpio.file(
                &format!("lib/modules/{name}.ko"),
                0o644,
                &kernel::module_bytes(path)?,
            );
            order += &format!("{name}\n");
        }
        cpio.file(list, 0o644, order.as_bytes());
    }

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&cpio.finish()).unwrap();
    let bytes = gz.finish().unwrap();
    fs::create_dir_all(&dir).map_err(|e| {
        format!(
            "{}: {e} (set VRFT_VM_CACHE to a writable directory)",
            dir.display()
        )
    })?;
    // Write then rename, so a concurrent run never reads half an image.
    let tmp = dir.join(format!(".{}.tmp", std::process::id()));
    fs::write(&tmp, bytes).map_err(|e| format!("{}: {e}", tmp.display()))?;
    fs::rename(&tmp, &image).map_err(|e| format!("{}: {e}", image.display()))?;
    Ok(image)
}

/// What a boot adds to the base: the binaries under test, `/init` and the scenario scripts.
pub struct RunFiles<'a> {
    pub init: &'a str,
    /// (name, script) pairs, installed as /scenarios/<name>.sh.
    pub scenarios: Vec<(&'a str, String)>,
}

/// Writes the complete initramfs for one boot of `kernel` to `dest`.
pub fn build(kernel: &Kernel, run: &RunFiles, dest: &Path) -> Result<(), String> {
    let base = base_image(kernel)?;
    let mut cpio = Cpio::default();
    cpio.host_binary("bin/vrft-tui", Path::new(env!("CARGO_BIN_EXE_vrft-tui")))?;
    let me = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    cpio.host_binary("bin/vm", &me)?;
    cpio.file(
        "bin/trafgen",
        0o755,
        b"#!/bin/sh\nexec /bin/vm trafgen \"$@\"\n",
    );
    cpio.file("init", 0o755, run.init.as_bytes());
    for (name, script) in &run.scenarios {
        cpio.file(&format!("scenarios/{name}.sh"), 0o755, script.as_bytes());
    }
    // The uncompressed part first: it ends 4-byte aligned, as the kernel wants for the next archive.
    let mut image = cpio.finish();
    image.extend(fs::read(&base).map_err(|e| format!("{}: {e}", base.display()))?);
    fs::write(dest, image).map_err(|e| format!("{}: {e}", dest.display()))
}
