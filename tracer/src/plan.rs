//! Which functions to probe: the scanner's traceable set, narrowed by the
//! user's selection, each with its role in following a packet's identity.

use regex::Regex;

use crate::contract::vrft_role;
use vrft_btf::{Function, Scan};
use vrft_events::event::{FuncInfo, Origin};
use vrft_events::session::{Probe, ProbeStatus};

/// What a function does to the identity of the skb it is given (bpf/event.h `enum vrft_role`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Plain = vrft_role::VRFT_ROLE_PLAIN as isize,
    /// Releases the sk_buff itself: the address may name another packet afterwards.
    Free = vrft_role::VRFT_ROLE_FREE as isize,
    /// Returns a clone or copy that belongs to the same packet.
    Clone = vrft_role::VRFT_ROLE_CLONE as isize,
}

impl Role {
    fn of(name: &str) -> Role {
        match name {
            "kfree_skbmem" | "napi_skb_cache_put" | "kfree_skb_partial" => Role::Free,
            "skb_clone"
            | "skb_copy"
            | "pskb_copy"
            | "__pskb_copy_fclone"
            | "skb_copy_expand"
            | "skb_realloc_headroom" => Role::Clone,
            _ => Role::Plain,
        }
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
}

impl Target {
    /// The BPF cookie: function id, skb argument index and role (bpf/event.h).
    pub fn cookie(&self, func_id: u32) -> u64 {
        use crate::contract::{VRFT_COOKIE_ROLE_SHIFT, VRFT_COOKIE_SKB_ARG_SHIFT};
        func_id as u64
            | (self.skb_arg as u64) << VRFT_COOKIE_SKB_ARG_SHIFT
            | (self.role as u64) << VRFT_COOKIE_ROLE_SHIFT
    }

    pub fn func_info(&self) -> FuncInfo {
        FuncInfo {
            name: self.name.clone(),
            origin: self.origin.clone(),
            skb_arg: self.skb_arg,
            nargs: self.nargs,
        }
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
            && !self.exclude.as_ref().is_some_and(|r| r.is_match(&f.name))
            && (self.modules.is_empty() || self.modules.contains(&f.module))
    }
}

/// The functions to attach, in scan order, and the probe table rows of those the
/// scanner rejected (so the user sees every candidate and why it is not traced).
pub fn plan(scan: &Scan, sel: &Selection) -> (Vec<Target>, Vec<Probe>) {
    let mut targets = Vec::new();
    let mut skipped = Vec::new();
    for f in scan.functions.iter().filter(|f| sel.wants(f)) {
        match f.traceability.reason() {
            None => targets.push(Target {
                name: f.name.clone(),
                origin: Origin::of_module(&f.module),
                btf_id: f.btf_id,
                skb_arg: f.skb_arg as u8,
                nargs: f.nargs() as u8,
                role: Role::of(&f.name),
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
    use super::*;

    #[test]
    fn cookie_packs_id_arg_and_role() {
        let t = Target {
            name: "skb_clone".into(),
            origin: Origin::Vmlinux,
            btf_id: 1,
            skb_arg: 3,
            nargs: 4,
            role: Role::of("skb_clone"),
        };
        assert_eq!(t.cookie(0x1234), 0x1234 | 3 << 32 | 2 << 40);
        assert_eq!(Role::of("kfree_skbmem"), Role::Free);
        assert_eq!(Role::of("ip_rcv"), Role::Plain);
    }
}
