//! What the running kernel can do for our programs, asked of the kernel itself
//! (its BTF, one tiny program load) rather than guessed from its version:
//! helpers, attach types, fentry cookies, atomic fetch-add, module BTF. A
//! backend that needs something missing is refused before anything loads,
//! with one line naming the feature and the first Linux version that has it.

use std::collections::HashSet;
use std::path::Path;

use vrft_btf::BtfObject;
use vrft_events::Backend;

use crate::error::KernelError;
use crate::template::owned_fd;

/// One kernel feature our programs use, and the Linux release that added it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Feature {
    pub name: &'static str,
    pub since: &'static str,
}

pub const FUNC_ARG: Feature = Feature::new("bpf_get_func_arg", "5.17");
pub const FUNC_RET: Feature = Feature::new("bpf_get_func_ret", "5.17");
pub const FUNC_IP: Feature = Feature::new("bpf_get_func_ip", "5.15");
pub const TRACING_COOKIES: Feature = Feature::new("BPF cookies on fentry/fexit links", "5.19");
pub const KPROBE_SESSION: Feature = Feature::new("kprobe sessions", "6.10");
pub const FETCH_ADD: Feature = Feature::new(
    "BPF atomic fetch-add (nor pointer arguments to global functions)",
    "5.12",
);
pub const KFREE_SKB_REASON: Feature = Feature::new("reason argument in skb:kfree_skb", "5.17");
pub const MODULE_BTF: Feature = Feature::new("module BTF", "5.11");

impl Feature {
    const fn new(name: &'static str, since: &'static str) -> Feature {
        Feature { name, since }
    }
}

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
    /// `tp_kfree_skb` reads its third argument, the drop reason (5.17).
    kfree_skb_reason: bool,
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
            // Without the tracepoint at all, its program is simply not loaded.
            kfree_skb_reason: vmlinux.tracepoint_nargs("kfree_skb").is_none_or(|n| n >= 3),
        }
    }

    fn has(&self, f: Feature) -> bool {
        match f {
            FUNC_ARG | FUNC_RET | FUNC_IP => self.helpers.contains(&f.name["bpf_".len()..]),
            TRACING_COOKIES => self.tracing_cookies,
            KPROBE_SESSION => self.attach_types.contains("TRACE_KPROBE_SESSION"),
            FETCH_ADD => self.fetch_add,
            KFREE_SKB_REASON => self.kfree_skb_reason,
            _ => true,
        }
    }

    /// Which object `backend` loads on this kernel: the current programs when
    /// it has all they use, else the compatible ones (`VRFT_COMPAT`, built for
    /// 5.10-5.18) where the backend has them, else `Err` with the first
    /// feature missing. The kprobe backend has no compatible programs: it
    /// needs kprobe sessions (6.10+), whose kernels have everything else.
    pub fn programs(&self, backend: Backend) -> Result<Programs, Feature> {
        match (self.missing(backend), backend) {
            (None, _) => Ok(Programs::Current),
            (Some(gap), Backend::Fentry | Backend::Tracepoint) => Ok(Programs::Compatible(gap)),
            (Some(gap), _) => Err(gap),
        }
    }

    /// The first feature `backend` needs that this kernel lacks. Every backend
    /// also loads the skb tracepoint programs, hence their needs last for all.
    /// fsession asks for its multi-link itself (backend/fsession.rs), first.
    pub fn missing(&self, backend: Backend) -> Option<Feature> {
        let own: &[Feature] = match backend {
            Backend::Fentry => &[FUNC_ARG, FUNC_RET, TRACING_COOKIES],
            Backend::Kprobe => &[KPROBE_SESSION, FUNC_IP],
            Backend::Tracepoint => &[],
            Backend::Fsession => return None,
        };
        own.iter()
            .chain(&[FETCH_ADD, KFREE_SKB_REASON])
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

/// Which build of bpf/vrft.bpf.c a backend loads (tracer/build.rs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Programs {
    /// The programs for kernels with everything they use.
    Current,
    /// The `VRFT_COMPAT` build, because the kernel lacks this feature: packet
    /// ids from per-CPU counters, static subprograms, no drop reason, and for
    /// fentry clones with their cookie written into their instructions.
    Compatible(Feature),
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
    load_probe(libbpf_sys::BPF_PROG_TYPE_SOCKET_FILTER, 0, &insns).map_err(|e| e.errno)
}

/// Loads `insns` as a throw-away program, to learn whether the kernel takes it.
pub fn load_probe(
    prog_type: libbpf_sys::bpf_prog_type,
    attach_type: libbpf_sys::bpf_attach_type,
    insns: &[u64],
) -> Result<(), KernelError> {
    let mut opts = libbpf_sys::bpf_prog_load_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_prog_load_opts>() as _,
        expected_attach_type: attach_type,
        ..Default::default()
    };
    // SAFETY: insns and opts live across the call; the kernel copies them.
    let fd = unsafe {
        libbpf_sys::bpf_prog_load(
            prog_type,
            c"vrft_probe".as_ptr(),
            c"GPL".as_ptr(),
            insns.as_ptr().cast(),
            insns.len() as _,
            &mut opts,
        )
    };
    owned_fd("load", fd).map(drop)
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

    /// A kernel with these features; `old`: before 5.12 (no fetch-add, no kfree_skb reason).
    fn kernel(helpers: &[&str], attach: &[&str], cookies: bool, old: bool) -> Features {
        Features {
            version: "5.10".into(),
            helpers: helpers.iter().map(|s| s.to_string()).collect(),
            attach_types: attach.iter().map(|s| s.to_string()).collect(),
            tracing_cookies: cookies,
            fetch_add: !old,
            kfree_skb_reason: !old,
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
        let k = kernel(&["get_attach_cookie"], &["TRACE_FENTRY"], false, true);
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
        // The refusals of the current programs that the compatible ones answer.
        assert_eq!(
            k.programs(Backend::Fentry),
            Ok(Programs::Compatible(FUNC_ARG))
        );
        assert_eq!(
            k.programs(Backend::Tracepoint),
            Ok(Programs::Compatible(FETCH_ADD))
        );
        assert_eq!(k.programs(Backend::Kprobe), Err(KPROBE_SESSION));
        assert_eq!(
            line(Backend::Tracepoint).unwrap(),
            "this kernel (5.10) has no BPF atomic fetch-add (nor pointer arguments to global \
             functions) (5.12+)"
        );
    }

    #[test]
    fn linux_5_15_tracepoints_lack_the_drop_reason() {
        let mut k = kernel(&["get_func_ip"], &[], false, false);
        k.kfree_skb_reason = false;
        assert_eq!(k.missing(Backend::Tracepoint), Some(KFREE_SKB_REASON));
        assert_eq!(k.missing(Backend::Fentry), Some(FUNC_ARG));
        assert_eq!(
            k.programs(Backend::Tracepoint),
            Ok(Programs::Compatible(KFREE_SKB_REASON))
        );
    }

    #[test]
    fn linux_6_1_lacks_only_kprobe_sessions() {
        let helpers = ["get_func_arg", "get_func_ret", "get_func_ip"];
        let k = kernel(&helpers, &["TRACE_KPROBE_MULTI"], true, false);
        assert_eq!(k.missing(Backend::Fentry), None);
        assert_eq!(k.missing(Backend::Tracepoint), None);
        assert_eq!(k.missing(Backend::Kprobe), Some(KPROBE_SESSION));
        assert_eq!(k.programs(Backend::Fentry), Ok(Programs::Current));
        assert_eq!(k.programs(Backend::Tracepoint), Ok(Programs::Current));
    }
}
