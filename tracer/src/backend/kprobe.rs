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
        open.maps
            .kprobe_cookies
            .set_max_entries(targets.len().max(1) as u32)
            .map_err(Error::bpf("sizing the kprobe cookie map"))?;
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
        fill_cookies(&ctx.skel.maps.kprobe_cookies, &link, syms.len())?;
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

/// Copies the link's (address, cookie) pairs into `kprobe_cookies`, so that a hit
/// finds its cookie with one hash lookup instead of the kernel's binary search
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
    if count == 0 {
        return Ok(());
    }
    let bytes =
        |v: &[u64]| -> Vec<u8> { v[..count].iter().flat_map(|x| x.to_ne_bytes()).collect() };
    map.update_batch(
        &bytes(&addrs),
        &bytes(&cookies),
        count as u32,
        libbpf_rs::MapFlags::ANY,
        libbpf_rs::MapFlags::ANY,
    )
    .map_err(Error::bpf("filling the kprobe cookie map"))
}
