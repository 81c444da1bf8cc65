//! The Debian kernels the VM tests boot, as laid out by `scripts/vm-kernels.sh`.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Kernels booted when `VRFT_VM_KERNELS` is not set.
pub const DEFAULT_KERNELS: &str = "5.10,6.1,6.12,7.2";

/// Kernels that run the scenarios that name no kernel (the test bed's own, `filter_pcap_port`);
/// the others name theirs (`Scenario::only_on`, `also_on`), each kernel what proves something
/// about it (docs/testing.md), to keep CI's time: each boot under emulation costs minutes.
pub const EVERY_SCENARIO: &[&str] = &["6.1", "6.12"];

/// Where downloaded kernels and built initramfs images live (outside the repo, reused across runs).
pub fn cache_dir() -> PathBuf {
    std::env::var_os("VRFT_VM_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/vrft-tui/vm"))
}

/// Short kernel names chosen by `VRFT_VM_KERNELS` (comma separated), or every Debian kernel.
pub fn selected() -> Vec<String> {
    let list = std::env::var("VRFT_VM_KERNELS").unwrap_or_else(|_| DEFAULT_KERNELS.into());
    list.split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(String::from)
        .collect()
}

pub struct Kernel {
    /// Short name, e.g. "6.1".
    pub name: String,
    pub vmlinuz: PathBuf,
    /// The kernel's /lib/modules/<release> directory.
    pub modules: PathBuf,
    /// `uname -r` of the kernel, e.g. "6.1.0-56-amd64".
    pub release: String,
}

impl Kernel {
    /// Finds a kernel in the cache; the error tells the user how to get it.
    pub fn find(name: &str) -> Result<Kernel, String> {
        let dir = cache_dir().join("kernels").join(name);
        let vmlinuz = dir.join("vmlinuz");
        let modules = dir.join("modules");
        let missing = |what: &Path| {
            format!(
                "kernel {name}: {} is missing; run scripts/setup.sh (it calls scripts/vm-kernels.sh \
                 to fetch the Debian kernels into {})",
                what.display(),
                cache_dir().display()
            )
        };
        if !vmlinuz.is_file() {
            return Err(missing(&vmlinuz));
        }
        if !modules.join("modules.dep").is_file() {
            return Err(missing(&modules.join("modules.dep")));
        }
        let resolved =
            fs::canonicalize(&modules).map_err(|e| format!("{}: {e}", modules.display()))?;
        let release = resolved
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| format!("{}: no release name", resolved.display()))?
            .to_string();
        Ok(Kernel {
            name: name.into(),
            vmlinuz,
            modules: resolved,
            release,
        })
    }

    /// The module files to insmod, dependencies first, for the `wanted` module names.
    /// Modules built into this kernel are left out; a name that is neither is an error.
    pub fn module_load_order(&self, wanted: &[&str]) -> Result<Vec<PathBuf>, String> {
        let read = |file: &str| {
            fs::read_to_string(self.modules.join(file))
                .map_err(|e| format!("{}/{file}: {e}", self.modules.display()))
        };
        // modules.dep: "kernel/drivers/net/vxlan/vxlan.ko.xz: kernel/net/ipv4/udp_tunnel.ko.xz ..."
        let mut deps: HashMap<String, (String, Vec<String>)> = HashMap::new();
        for line in read("modules.dep")?.lines() {
            let Some((file, rest)) = line.split_once(':') else {
                continue;
            };
            let needs = rest.split_whitespace().map(module_name).collect();
            deps.insert(module_name(file), (file.to_string(), needs));
        }
        let builtin: HashSet<String> = read("modules.builtin")?.lines().map(module_name).collect();

        let mut order = Vec::new();
        let mut seen = HashSet::new();
        fn visit(
            name: &str,
            deps: &HashMap<String, (String, Vec<String>)>,
            seen: &mut HashSet<String>,
            order: &mut Vec<String>,
        ) {
            if !seen.insert(name.to_string()) {
                return;
            }
            if let Some((_, needs)) = deps.get(name) {
                for dep in needs {
                    visit(dep, deps, seen, order);
                }
                order.push(name.to_string());
            }
        }
        for &name in wanted {
            if !deps.contains_key(name) && !builtin.contains(name) {
                return Err(format!(
                    "kernel {}: module {name} is neither in modules.dep nor built in",
                    self.name
                ));
            }
            visit(name, &deps, &mut seen, &mut order);
        }
        Ok(order
            .iter()
            .map(|name| self.modules.join(&deps[name].0))
            .collect())
    }
}

/// "kernel/net/ipv6/ip6_udp_tunnel.ko.xz" -> "ip6_udp_tunnel" (the kernel spells '-' as '_').
pub fn module_name(path: &str) -> String {
    let file = path.trim().rsplit('/').next().unwrap_or(path);
    let stem = file.split(".ko").next().unwrap_or(file);
    stem.replace('-', "_")
}

/// A module's ELF bytes. Debian 6.12 ships modules xz-compressed; busybox insmod wants them plain.
pub fn module_bytes(path: &Path) -> Result<Vec<u8>, String> {
    let tool = match path.extension().and_then(|e| e.to_str()) {
        Some("ko") => return fs::read(path).map_err(|e| format!("{}: {e}", path.display())),
        Some("xz") => "xz",
        Some("zst") => "zstd",
        _ => return Err(format!("{}: unknown module compression", path.display())),
    };
    let out = Command::new(tool)
        .arg("-dc")
        .arg(path)
        .output()
        .map_err(|e| {
            format!(
                "{tool} -dc {}: {e} (install {tool}; see scripts/vm-kernels.sh)",
                path.display()
            )
        })?;
    if !out.status.success() {
        return Err(format!(
            "{tool} -dc {}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(out.stdout)
}
