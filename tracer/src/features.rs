//! What the running kernel can do for our programs, asked of the kernel itself
//! (its BTF, one tiny program load) rather than guessed from its version:
//! helpers, attach types, fentry cookies, atomic fetch-add, module BTF. A
//! backend that needs something missing is refused before anything loads,
//! with one line naming the feature and the first Linux version that has it.

use std::collections::HashSet;
use std::path::Path;

use vrft_btf::BtfObject;
use vrft_events::Backend;

use crate::template::owned_fd;

/// One kernel feature our programs use, and the Linux release that added it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Feature {
    pub name: &'static str,
    pub since: &'static str,
}

pub const FUNC_ARG: Feature = Feature {
    name: "bpf_get_func_arg",
    since: "5.17",
};
pub const FUNC_RET: Feature = Feature {
    name: "bpf_get_func_ret",
    since: "5.17",
};
pub const FUNC_IP: Feature = Feature {
    name: "bpf_get_func_ip",
    since: "5.15",
};
pub const TRACING_COOKIES: Feature = Feature {
    name: "BPF cookies on fentry/fexit links",
    since: "5.19",
};
pub const KPROBE_SESSION: Feature = Feature {
    name: "kprobe sessions",
    since: "6.10",
};
pub const FETCH_ADD: Feature = Feature {
    name: "BPF atomic fetch-add (nor pointer arguments to global functions)",
    since: "5.12",
};
pub const MODULE_BTF: Feature = Feature {
    name: "module BTF",
    since: "5.11",
};

/// What the running kernel has, of what our programs use.
#[derive(Clone, Debug)]
pub struct Features {
    /// "5.10" for 5.10.0-46-amd64: only for the messages, never for decisions.
    pub version: String,
    /// `enum bpf_func_id` names without `BPF_FUNC_`.
    helpers: HashSet<String>,
    /// `enum bpf_attach_type` names without `BPF_`.
    attach_types: HashSet<String>,
    /// `struct bpf_tramp_link` (5.19) carries the cookie of an fentry/fexit link.
    tracing_cookies: bool,
    /// An atomic fetch-add whose result is used verifies (5.12).
    fetch_add: bool,
}

impl Features {
    /// Asks the kernel whose BTF `vmlinux` is (the running one).
    pub fn probe(vmlinux: &BtfObject) -> Features {
        let names = |e: &str, strip: &str| -> HashSet<String> {
            vmlinux
                .enum_names(e, strip)
                .into_iter()
                .map(|(_, n)| n)
                .collect()
        };
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        Features {
            version: short_version(&release),
            helpers: names("bpf_func_id", "BPF_FUNC_"),
            attach_types: names("bpf_attach_type", "BPF_"),
            // Later kernels may move the cookie into `bpf_tramp_node`.
            tracing_cookies: ["bpf_tramp_link", "bpf_tramp_node"]
                .iter()
                .any(|s| vmlinux.has_struct(s)),
            // A load refused for another reason (e.g. no privilege) says nothing
            // about the instruction: the real load will tell.
            fetch_add: probe_fetch_add() != Err(libc::EINVAL),
        }
    }

    fn has(&self, f: Feature) -> bool {
        match f {
            FUNC_ARG | FUNC_RET | FUNC_IP => self.helpers.contains(&f.name["bpf_".len()..]),
            TRACING_COOKIES => self.tracing_cookies,
            KPROBE_SESSION => self.attach_types.contains("TRACE_KPROBE_SESSION"),
            FETCH_ADD => self.fetch_add,
            _ => true,
        }
    }

    /// The first feature `backend` needs that this kernel lacks. Every backend
    /// also loads the skb tracepoint programs, hence fetch-add last for all.
    /// fsession asks for its multi-link itself (backend/fsession.rs), first.
    pub fn missing(&self, backend: Backend) -> Option<Feature> {
        let own: &[Feature] = match backend {
            Backend::Fentry => &[FUNC_ARG, FUNC_RET, TRACING_COOKIES],
            Backend::Kprobe => &[KPROBE_SESSION, FUNC_IP],
            Backend::Tracepoint => &[],
            Backend::Fsession => return None,
        };
        own.iter()
            .chain(&[FETCH_ADD])
            .copied()
            .find(|&f| !self.has(f))
    }

    /// "this kernel (5.10) has no bpf_get_func_arg (5.17+)".
    pub fn gap(&self, f: Feature) -> String {
        format!(
            "this kernel ({}) has no {} ({}+)",
            self.version, f.name, f.since
        )
    }
}

/// "5.10.0-46-amd64" -> "5.10".
pub fn short_version(release: &str) -> String {
    release
        .trim()
        .split(|c: char| c != '.' && !c.is_ascii_digit())
        .next()
        .unwrap_or_default()
        .split('.')
        .take(2)
        .collect::<Vec<_>>()
        .join(".")
}

/// Loads `r1 = 1; r1 = atomic_fetch_add(*(u64 *)(r10 - 8), r1); r0 = 0;
/// exit` as a socket filter: kernels before 5.12 refuse the fetch with EINVAL.
fn probe_fetch_add() -> Result<(), i32> {
    // (code, dst | src << 4, off, imm) little-endian in one u64 each.
    const fn insn(code: u8, regs: u8, off: i16, imm: i32) -> u64 {
        code as u64 | (regs as u64) << 8 | (off as u16 as u64) << 16 | (imm as u32 as u64) << 32
    }
    let insns = [
        insn(0xb7, 0x01, 0, 0),  // r1 = 0
        insn(0x7b, 0x1a, -8, 0), // *(u64 *)(r10 - 8) = r1
        insn(0xb7, 0x01, 0, 1),  // r1 = 1
        insn(0xdb, 0x1a, -8, 1), // r1 = atomic_fetch_add((u64 *)(r10 - 8), r1)
        insn(0xb7, 0x00, 0, 0),  // r0 = 0
        insn(0x95, 0x00, 0, 0),  // exit
    ];
    // SAFETY: insns lives across the call; the kernel copies it.
    let fd = unsafe {
        libbpf_sys::bpf_prog_load(
            libbpf_sys::BPF_PROG_TYPE_SOCKET_FILTER,
            c"vrft_probe".as_ptr(),
            c"GPL".as_ptr(),
            insns.as_ptr().cast(),
            insns.len() as _,
            std::ptr::null_mut(),
        )
    };
    owned_fd("load", fd).map(drop).map_err(|e| e.errno)
}

/// Why module functions cannot be traced on this kernel, if they cannot:
/// modules are loaded but none has BTF under `/sys/kernel/btf` (before 5.11,
/// or a kernel built without module BTF). `None` without loaded modules.
pub fn module_btf_gap() -> Option<String> {
    let modules = std::fs::read_to_string("/proc/modules").ok()?;
    let loaded: Vec<&str> = modules
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let btf = Path::new(vrft_btf::SYSFS_BTF_DIR);
    if loaded.is_empty() || loaded.iter().any(|m| btf.join(m).exists()) {
        return None;
    }
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    Some(format!(
        "module functions ({}): not traceable: this kernel ({}) has no {} ({}+), so only vmlinux \
         functions are scanned and traced",
        loaded.join(", "),
        short_version(&release),
        MODULE_BTF.name,
        MODULE_BTF.since
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernel(helpers: &[&str], attach: &[&str], cookies: bool, fetch_add: bool) -> Features {
        Features {
            version: "5.10".into(),
            helpers: helpers.iter().map(|s| s.to_string()).collect(),
            attach_types: attach.iter().map(|s| s.to_string()).collect(),
            tracing_cookies: cookies,
            fetch_add,
        }
    }

    #[test]
    fn short_versions() {
        assert_eq!(short_version("5.10.0-46-amd64\n"), "5.10");
        assert_eq!(short_version("6.12.118+deb12-amd64"), "6.12");
        assert_eq!(short_version("7.2.13+deb14-amd64"), "7.2");
    }

    #[test]
    fn linux_5_10_lines() {
        let k = kernel(&["get_attach_cookie"], &["TRACE_FENTRY"], false, false);
        let line = |b| k.missing(b).map(|f| k.gap(f));
        assert_eq!(
            line(Backend::Fentry).unwrap(),
            "this kernel (5.10) has no bpf_get_func_arg (5.17+)"
        );
        assert_eq!(
            line(Backend::Kprobe).unwrap(),
            "this kernel (5.10) has no kprobe sessions (6.10+)"
        );
        assert_eq!(line(Backend::Fsession), None);
        assert_eq!(
            line(Backend::Tracepoint).unwrap(),
            "this kernel (5.10) has no BPF atomic fetch-add (nor pointer arguments to global \
             functions) (5.12+)"
        );
    }

    #[test]
    fn linux_6_1_lacks_only_kprobe_sessions() {
        let helpers = ["get_func_arg", "get_func_ret", "get_func_ip"];
        let k = kernel(&helpers, &["TRACE_KPROBE_MULTI"], true, true);
        assert_eq!(k.missing(Backend::Fentry), None);
        assert_eq!(k.missing(Backend::Tracepoint), None);
        assert_eq!(k.missing(Backend::Kprobe), Some(KPROBE_SESSION));
    }
}
