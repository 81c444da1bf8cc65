//! Which functions to probe: the scanner's traceable set, narrowed by the
//! user's selection, each with its role in following a packet's identity.

use regex::Regex;

use crate::contract::vrft_role;
use vrft_btf::{Function, Scan};
use vrft_events::event::{FuncInfo, Origin, Returns};
use vrft_events::session::{Probe, ProbeStatus};

/// What a function does to the identity of the skb it is given (bpf/event.h
/// `enum vrft_role`). docs/design.md ("Packet identity") says how the BPF side
/// uses each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Plain = vrft_role::VRFT_ROLE_PLAIN as isize,
    /// Releases the sk_buff itself: after its last call the address may name another packet.
    Free = vrft_role::VRFT_ROLE_FREE as isize,
    /// Returns a clone or copy that belongs to the same packet.
    Clone = vrft_role::VRFT_ROLE_CLONE as isize,
    /// Initialises the sk_buff in place: a new life of the address.
    Birth = vrft_role::VRFT_ROLE_BIRTH as isize,
    /// Fills its skb (a new clone or copy) from another skb argument.
    CopyInto = vrft_role::VRFT_ROLE_COPY_INTO as isize,
    /// Part of releasing an skb: still the packet after a free tracepoint.
    FreePath = vrft_role::VRFT_ROLE_FREE_PATH as isize,
}

/// Functions that end an sk_buff's life: back to the slab or the NAPI cache,
/// or reset for the next packet (`napi_reuse_skb`). Read from net/core/skbuff.c
/// and net/core/gro.c; the free tracepoints cover what is missing here.
const FREES: [&str; 4] = [
    "kfree_skbmem",
    "napi_skb_cache_put",
    "kfree_skb_partial",
    "napi_reuse_skb",
];

/// What runs on an skb after its last reference went (net/core/skbuff.c,
/// sock.c): its state, data and socket accounting are released.
const FREE_PATH: [&str; 6] = [
    "sock_wfree",
    "__sock_wfree",
    "sock_rfree",
    "sock_efree",
    "tcp_wfree",
    "skb_free_head",
];

/// Functions that return a new sk_buff belonging to their argument's packet
/// (clones, copies, GSO segments); BTF must confirm they return one.
const CLONES: [&str; 8] = [
    "skb_clone",
    "skb_copy",
    "pskb_copy",
    "__pskb_copy_fclone",
    "skb_copy_expand",
    "skb_realloc_headroom",
    "skb_expand_head",
    "skb_segment",
];

/// Parameter names (BTF) of the new skb and of its source in the functions that
/// fill a clone or copy: `__skb_clone(n, skb)`, `__copy_skb_header(new, old)`,
/// `skb_copy_header(new, old)`, `skb_zerocopy_clone(nskb, orig, ..)`. Other
/// pairs are left out on purpose: `to`/`from` merge two packets
/// (`skb_try_coalesce`), and `nf_ct_attach(new, skb)` gives a new packet (an
/// ICMP error, a reset) the conntrack of the one it answers.
const COPY_PAIRS: [(&str, &str); 3] = [("n", "skb"), ("new", "old"), ("nskb", "orig")];

impl Role {
    /// The role of `f` and, for [`Role::CopyInto`], the index of the source skb.
    pub fn of(f: &Function) -> (Role, u8) {
        let name = f.name.as_str();
        let arg = |i: usize| f.arg_names.get(i).map(String::as_str).unwrap_or("");
        if FREES.contains(&name) {
            return (Role::Free, 0);
        }
        if FREE_PATH.contains(&name) || name.starts_with("skb_release_") {
            return (Role::FreePath, 0);
        }
        if CLONES.contains(&name) && f.returns_skb {
            return (Role::Clone, 0);
        }
        // Where an sk_buff struct is initialised around its data:
        // `__build_skb_around(skb, data, ...)`, `__finalize_skb_around(...)`.
        let around = name.ends_with("build_skb_around") || name.ends_with("finalize_skb_around");
        if around && f.skb_arg == 0 && arg(1) == "data" {
            return (Role::Birth, 0);
        }
        // 7.2's `__alloc_skb` clears the struct, then allocates its data with
        // `kmalloc_reserve(size, flags, node, skb)` and finalises it inline:
        // the allocation is the first call that sees the new skb.
        if name == "kmalloc_reserve" && arg(f.skb_arg) == "skb" {
            return (Role::Birth, 0);
        }
        if let [dst, src, ..] = f.skb_args[..] {
            if dst == f.skb_arg && COPY_PAIRS.contains(&(arg(dst), arg(src))) {
                return (Role::CopyInto, src as u8);
            }
        }
        (Role::Plain, 0)
    }
}

/// One function to attach to.
#[derive(Clone, Debug)]
pub struct Target {
    pub name: String,
    pub origin: Origin,
    pub btf_id: u32,
    pub skb_arg: u8,
    pub nargs: u8,
    pub role: Role,
    /// For [`Role::CopyInto`]: the argument index of the source skb.
    pub src_arg: u8,
    pub returns: Returns,
}

impl Target {
    /// The BPF cookie: function id, skb argument index and role (bpf/event.h).
    pub fn cookie(&self, func_id: u32) -> u64 {
        use crate::contract::{
            VRFT_COOKIE_ROLE_SHIFT, VRFT_COOKIE_SKB_ARG_SHIFT, VRFT_COOKIE_SRC_ARG_SHIFT,
        };
        func_id as u64
            | (self.skb_arg as u64) << VRFT_COOKIE_SKB_ARG_SHIFT
            | (self.role as u64) << VRFT_COOKIE_ROLE_SHIFT
            | (self.src_arg as u64) << VRFT_COOKIE_SRC_ARG_SHIFT
    }

    /// What a compatible fentry clone has written into it instead of a
    /// cookie: the cookie, and where fexit finds the return value (bpf/event.h).
    pub fn clone_constant(&self, func_id: u32) -> u64 {
        use crate::contract::VRFT_COOKIE_RET_SLOT_SHIFT;
        let ret_slot = match self.returns {
            // fexit must not read a void function's return slot.
            Returns::Void => 0,
            _ => self.nargs as u64 + 1,
        };
        self.cookie(func_id) | ret_slot << VRFT_COOKIE_RET_SLOT_SHIFT
    }

    pub fn func_info(&self) -> FuncInfo {
        FuncInfo {
            name: self.name.clone(),
            origin: self.origin.clone(),
            skb_arg: self.skb_arg,
            nargs: self.nargs,
            returns: self.returns,
        }
    }
}

/// How to show what `f` returns, from its BTF return type.
fn returns(f: &Function) -> Returns {
    match f.ret {
        vrft_btf::Kind::Void => Returns::Void,
        vrft_btf::Kind::Bool => Returns::Bool,
        vrft_btf::Kind::Ptr => Returns::Pointer,
        _ => Returns::Value,
    }
}

/// The user's narrowing of the probed set (`--funcs`, `--exclude-funcs`, `--module`).
#[derive(Clone, Debug, Default)]
pub struct Selection {
    pub funcs: Option<Regex>,
    pub exclude: Option<Regex>,
    pub modules: Vec<String>,
}

impl Selection {
    fn wants(&self, f: &Function) -> bool {
        self.funcs.as_ref().is_none_or(|r| r.is_match(&f.name))
            && !self.excludes(f)
            && (self.modules.is_empty() || self.modules.contains(&f.module))
    }

    fn excludes(&self, f: &Function) -> bool {
        self.exclude.as_ref().is_some_and(|r| r.is_match(&f.name))
    }

    /// Births and frees delimit a packet's life, so a narrowed selection keeps
    /// them unless `--exclude-funcs` names them: an skb whose free went unseen
    /// would run into the next life of its address (7.2 frees a received UDP
    /// datagram into the NAPI cache with no free tracepoint on the way).
    fn keeps(&self, f: &Function, role: Role) -> bool {
        self.wants(f) || (matches!(role, Role::Birth | Role::Free) && !self.excludes(f))
    }
}

/// The functions to attach, in scan order, and the probe table rows of those the
/// scanner rejected (so the user sees every candidate and why it is not traced).
pub fn plan(scan: &Scan, sel: &Selection) -> (Vec<Target>, Vec<Probe>) {
    let mut targets = Vec::new();
    let mut skipped = Vec::new();
    // Nothing the user named matches: no births and frees on their own either.
    if !scan.functions.iter().any(|f| sel.wants(f)) {
        return (targets, skipped);
    }
    for f in &scan.functions {
        let (role, src_arg) = Role::of(f);
        if !sel.keeps(f, role) {
            continue;
        }
        match f.traceability.reason() {
            None => targets.push(Target {
                name: f.name.clone(),
                origin: Origin::of_module(&f.module),
                btf_id: f.btf_id,
                skb_arg: f.skb_arg as u8,
                nargs: f.nargs() as u8,
                role,
                src_arg,
                returns: returns(f),
            }),
            Some(reason) => skipped.push(Probe {
                name: f.name.clone(),
                origin: Origin::of_module(&f.module),
                status: ProbeStatus::Skipped(reason.message().to_string()),
                func: None,
            }),
        }
    }
    (targets, skipped)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn cookie_packs_id_arg_role_and_source() {
        let t = Target {
            name: "__skb_clone".into(),
            origin: Origin::Vmlinux,
            btf_id: 1,
            skb_arg: 3,
            nargs: 4,
            role: Role::CopyInto,
            src_arg: 1,
            returns: Returns::Void,
        };
        assert_eq!(t.cookie(0x1234), 0x1234 | 3 << 32 | 4 << 40 | 1 << 48);
    }

    /// Roles come from names and BTF shapes: checked on this machine's kernel.
    #[test]
    fn roles_in_the_running_kernel() {
        let path = Path::new(vrft_btf::SYSFS_BTF_DIR).join(vrft_btf::VMLINUX);
        let vmlinux = vrft_btf::BtfObject::vmlinux_from_file(&path).unwrap();
        let scan = vrft_btf::scan_objects(&[&vmlinux], &vrft_btf::Checks::none(12)).unwrap();
        let role = |name: &str| {
            let f = scan.functions.iter().find(|f| f.name == name);
            Role::of(f.unwrap_or_else(|| panic!("{name} not in BTF")))
        };
        assert_eq!(role("__build_skb_around"), (Role::Birth, 0));
        // Every role other than plain, for the test log.
        for f in &scan.functions {
            let r = Role::of(f);
            if r.0 != Role::Plain {
                eprintln!("{} {:?}", f.name, r);
            }
        }
        // Inlined in some builds (this machine's), a function in Debian's.
        if let Some(f) = scan.functions.iter().find(|f| f.name == "__skb_clone") {
            assert_eq!(Role::of(f), (Role::CopyInto, 1));
        }
        assert_eq!(role("__copy_skb_header"), (Role::CopyInto, 1));
        assert_eq!(role("skb_clone"), (Role::Clone, 0));
        assert_eq!(role("kfree_skbmem"), (Role::Free, 0));
        assert_eq!(role("skb_release_data"), (Role::FreePath, 0));
        assert_eq!(role("sock_wfree"), (Role::FreePath, 0));
        // Merging two packets is not copying one.
        assert_eq!(role("skb_try_coalesce"), (Role::Plain, 0));
        assert_eq!(role("nf_ct_attach"), (Role::Plain, 0));
        assert_eq!(role("ip_rcv"), (Role::Plain, 0));
    }

    #[test]
    fn a_narrow_selection_keeps_births_and_frees_unless_excluded() {
        let path = Path::new(vrft_btf::SYSFS_BTF_DIR).join(vrft_btf::VMLINUX);
        let vmlinux = vrft_btf::BtfObject::vmlinux_from_file(&path).unwrap();
        let scan = vrft_btf::scan_objects(&[&vmlinux], &vrft_btf::Checks::none(12)).unwrap();
        let names = |funcs: &str, exclude: Option<&str>| -> Vec<String> {
            let sel = Selection {
                funcs: Some(Regex::new(funcs).unwrap()),
                exclude: exclude.map(|e| Regex::new(e).unwrap()),
                modules: Vec::new(),
            };
            plan(&scan, &sel).0.into_iter().map(|t| t.name).collect()
        };
        let kept = names("^ip_rcv$", None);
        for f in ["ip_rcv", "kfree_skbmem", "__build_skb_around"] {
            assert!(kept.iter().any(|n| n == f), "{f} not in {kept:?}");
        }
        assert!(!kept.iter().any(|n| n == "ip_output"), "{kept:?}");
        let without = names("^ip_rcv$", Some("^kfree_skbmem$"));
        assert!(!without.iter().any(|n| n == "kfree_skbmem"), "{without:?}");
        assert!(names("^no_such_function$", None).is_empty());
    }
}
