//! The kprobe backend: one kprobe-session program on every target at once,
//! through a single multi-kprobe link (kernels with fentry refused, e.g.
//! lockdown). The BPF cookie of each address tells the program which function it is.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};

use libbpf_rs::MapCore;

use vrft_events::session::{Probe, ProbeStatus};

use super::{Attach, AttachCtx, Attached};
use crate::error::{Error, KernelError, Result};
use crate::plan::Target;
use crate::skel::OpenVrftSkel;
use crate::template::owned_fd;

pub struct Kprobe;

impl Attach for Kprobe {
    fn prepare(&self, open: &mut OpenVrftSkel<'static>, targets: &[Target]) -> Result<()> {
        open.progs.vrft_kprobe.set_autoload(true);
        let slots = table_slots(targets.len());
        open.maps
            .kprobe_slots
            .set_max_entries(slots)
            .map_err(Error::bpf("sizing the kprobe cookie table"))?;
        open.maps
            .rodata_data
            .as_deref_mut()
            .ok_or(Error::MissingSection(".rodata"))?
            .kprobe_slot_mask = slots - 1;
        Ok(())
    }

    fn attach(&self, ctx: &AttachCtx) -> Result<Attached> {
        let tpl = ctx.template(
            &ctx.skel.progs.vrft_kprobe,
            libbpf_sys::BPF_PROG_TYPE_KPROBE,
            libbpf_sys::BPF_TRACE_KPROBE_SESSION,
        )?;
        let prog = tpl.load(0, 0)?;
        // Kernel symbol names hold no NUL; one that did could not be a target.
        let names: Vec<CString> = ctx
            .targets
            .iter()
            .filter_map(|t| CString::new(t.name.as_str()).ok())
            .collect();
        let syms: Vec<*const libc::c_char> = names.iter().map(|n| n.as_ptr()).collect();
        let cookies: Vec<u64> = (0u32..)
            .zip(ctx.targets)
            .map(|(i, t)| t.cookie(i))
            .collect();
        let mut opts = libbpf_sys::bpf_link_create_opts {
            sz: std::mem::size_of::<libbpf_sys::bpf_link_create_opts>() as _,
            ..Default::default()
        };
        opts.__bindgen_anon_1.kprobe_multi.syms = syms.as_ptr() as *mut _;
        opts.__bindgen_anon_1.kprobe_multi.cookies = cookies.as_ptr();
        opts.__bindgen_anon_1.kprobe_multi.cnt = syms.len() as u32;
        // SAFETY: prog is a loaded program; syms, the names they point to and
        // cookies live across the call, and the kernel copies them.
        let fd = unsafe {
            libbpf_sys::bpf_link_create(
                prog.as_raw_fd(),
                0,
                libbpf_sys::BPF_TRACE_KPROBE_SESSION,
                &opts,
            )
        };
        let link = owned_fd("kprobe session link", fd)?;
        fill_cookies(&ctx.skel.maps.kprobe_slots, &link, syms.len())?;
        let probes = (0u32..)
            .zip(ctx.targets)
            .map(|(i, t)| Probe {
                name: t.name.clone(),
                origin: t.origin.clone(),
                status: ProbeStatus::Attached,
                func: Some(i),
            })
            .collect();
        Ok(Attached {
            probes,
            other_progs: vec![prog],
            cheap_links: vec![link],
            ..Default::default()
        })
    }
}

/// Slots of the cookie table for n addresses: a power of two, at least 4n, so that an
/// address almost always sits in its home slot or the next few.
fn table_slots(n: usize) -> u32 {
    (n.max(1) * 4).next_power_of_two() as u32
}

/// The slots where `ip` may sit, in the order `kprobe_cookie()` tries them: its home
/// (`VRFT_KPROBE_HASH` of bpf/event.h), then the next `VRFT_KPROBE_PROBES - 1`.
fn candidate_slots(ip: u64, slots: u32) -> impl Iterator<Item = usize> {
    let home = (ip.wrapping_mul(crate::contract::VRFT_KPROBE_GOLDEN as u64) >> 32) as u32;
    (0..crate::contract::VRFT_KPROBE_PROBES)
        .map(move |i| (home.wrapping_add(i) & (slots - 1)) as usize)
}

/// The cookie table's content: (ip, cookie) by slot, each address in the first free slot of
/// the `VRFT_KPROBE_PROBES` from its home; one that finds none is left out (its hits fall
/// back to the kernel's search).
fn table(pairs: impl Iterator<Item = (u64, u64)>, slots: u32) -> Vec<(u64, u64)> {
    let mut t = vec![(0u64, 0u64); slots as usize];
    for (ip, cookie) in pairs.filter(|&(ip, _)| ip != 0) {
        if let Some(k) = candidate_slots(ip, slots).find(|&k| t[k].0 == 0) {
            t[k] = (ip, cookie);
        }
    }
    t
}

/// Copies the link's (address, cookie) pairs into the `kprobe_slots` table, so that a hit
/// finds its cookie with an inlined array lookup instead of the kernel's binary search
/// over every address of the link (see `kprobe_cookie()` in the BPF program).
fn fill_cookies(map: &libbpf_rs::Map, link: &OwnedFd, n: usize) -> Result<()> {
    let (mut addrs, mut cookies) = (vec![0u64; n], vec![0u64; n]);
    let mut info = libbpf_sys::bpf_link_info::default();
    // SAFETY: the kprobe_multi member is the one a kprobe.multi link fills.
    unsafe {
        let km = &mut info.__bindgen_anon_1.kprobe_multi;
        km.addrs = addrs.as_mut_ptr() as u64;
        km.cookies = cookies.as_mut_ptr() as u64;
        km.count = n as u32;
    }
    let mut len = std::mem::size_of::<libbpf_sys::bpf_link_info>() as u32;
    // SAFETY: info and the arrays it points to hold n entries and outlive the call.
    KernelError::check("reading the kprobe session link", unsafe {
        libbpf_sys::bpf_link_get_info_by_fd(link.as_raw_fd(), &mut info, &mut len)
    })?;
    // SAFETY: as above; the kernel wrote how many it copied.
    let count = (unsafe { info.__bindgen_anon_1.kprobe_multi.count } as usize).min(n);
    let slots = table_slots(n);
    let t = table(
        addrs[..count]
            .iter()
            .copied()
            .zip(cookies[..count].iter().copied()),
        slots,
    );
    let keys: Vec<u8> = (0..slots).flat_map(|k| k.to_ne_bytes()).collect();
    let values: Vec<u8> = t
        .iter()
        .flat_map(|&(ip, c)| ip.to_ne_bytes().into_iter().chain(c.to_ne_bytes()))
        .collect();
    map.update_batch(
        &keys,
        &values,
        slots,
        libbpf_rs::MapFlags::ANY,
        libbpf_rs::MapFlags::ANY,
    )
    .map_err(Error::bpf("filling the kprobe cookie table"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every address of a link is found within VRFT_KPROBE_PROBES slots of its home, as the
    /// BPF lookup searches, for a link as large as a full trace (addresses 16-byte aligned).
    #[test]
    fn every_address_is_found_where_the_program_looks() {
        let n = 2_000;
        let pairs: Vec<(u64, u64)> = (0..n as u64)
            .map(|i| (0xffff_ffff_8100_0000 + i * 16 * 37, i))
            .collect();
        let slots = table_slots(n);
        let t = table(pairs.iter().copied(), slots);
        let found = pairs
            .iter()
            .filter(|&&(ip, c)| candidate_slots(ip, slots).any(|k| t[k] == (ip, c)))
            .count();
        assert_eq!(found, n);
    }
}
