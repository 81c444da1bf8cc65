//! The fsession backend: one session program per BTF object (vmlinux, each
//! module), attached to all of that object's targets through one tracing
//! multi-link (Linux 7.2+). The kernel batches the ftrace update of a link, so
//! attaching and releasing take seconds where per-function fentry takes minutes.
//!
//! The template is verified once as a per-function fsession program in the
//! skeleton; its instructions are loaded again as `BPF_TRACE_FSESSION_MULTI`
//! with no attach target (`attach_btf_id` 0) and the BTF object's fd, and
//! linked with `BPF_LINK_CREATE` (libbpf 1.7 has no API for it yet).

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::Ordering;
use std::time::Instant;

use vrft_events::event::Origin;
use vrft_events::session::{Probe, ProbeStatus};

use super::progress::Bar;
use super::{Attach, AttachCtx, Attached};
use crate::error::{Error, KernelError, Result};
use crate::features;
use crate::module_btf;
use crate::plan::Target;
use crate::skel::OpenVrftSkel;
use crate::template::{owned_fd, Template};

/// `enum bpf_attach_type` of Linux 7.2 (include/uapi/linux/bpf.h); libbpf-sys
/// 1.7 stops at `BPF_TRACE_FSESSION`.
pub const BPF_TRACE_FSESSION_MULTI: libbpf_sys::bpf_attach_type = 61;

pub struct Fsession;

impl Attach for Fsession {
    fn prepare(&self, open: &mut OpenVrftSkel<'static>, targets: &[Target]) -> Result<()> {
        // Asked before the skeleton loads, so that a kernel without the
        // multi-link says so in one line and the automatic choice moves on.
        probe_multi_link().map_err(|e| {
            Error::Refused(format!(
                "this kernel has no tracing multi-link (Linux 7.2+): {e}"
            ))
        })?;
        let first = targets
            .iter()
            .find(|t| t.origin == Origin::Vmlinux)
            .ok_or(Error::NothingSelected)?;
        let p = &mut open.progs.vrft_fsession;
        p.set_autoload(true);
        p.set_attach_target(0, Some(first.name.clone()))
            .map_err(Error::bpf("setting the fsession template's target"))?;
        Ok(())
    }

    fn attach(&self, ctx: &AttachCtx) -> Result<Attached> {
        let tpl = ctx.template(
            &ctx.skel.progs.vrft_fsession,
            libbpf_sys::BPF_PROG_TYPE_TRACING,
            BPF_TRACE_FSESSION_MULTI,
        )?;
        let modules = module_btf::module_btf_fds()?;
        let bar = Bar::new(ctx.targets.len());
        bar.phase("attaching");
        let started = Instant::now();
        let mut out = Attached::default();
        let mut status: Vec<Option<ProbeStatus>> = vec![None; ctx.targets.len()];
        for (origin, ids) in by_btf_object(ctx.targets) {
            if ctx.interrupted.load(Ordering::Relaxed) {
                break;
            }
            let btf_fd = match origin {
                Origin::Module(m) => modules.get(m).map(|fd| fd.as_raw_fd()),
                _ => Some(0),
            };
            let msg = match link_object(&tpl, btf_fd, ctx.targets, &ids) {
                Ok((prog, links)) => {
                    for (i, e) in &links.refused {
                        status[ids[*i] as usize] = Some(ProbeStatus::Failed(e.to_string()));
                    }
                    for &id in &ids {
                        status[id as usize].get_or_insert(ProbeStatus::Attached);
                    }
                    let msg = format!("{origin}: {} link(s)", links.fds.len());
                    out.slow_links.extend(links.fds);
                    out.func_progs.push(prog);
                    msg
                }
                Err(e) => {
                    for &id in &ids {
                        status[id as usize] = Some(ProbeStatus::Failed(e.to_string()));
                    }
                    format!("{origin}: {e}")
                }
            };
            bar.advance(ids.len(), &msg);
        }
        out.probes = probe_rows(ctx.targets, status);
        let attached = out.probes.iter().filter(|p| p.func.is_some()).count();
        bar.finish(&format!(
            "attached in {:.1} s: {attached} attached, {} failed, {} links",
            started.elapsed().as_secs_f64(),
            ctx.targets.len() - attached,
            out.slow_links.len()
        ));
        if attached == 0 && !ctx.targets.is_empty() {
            let why = out
                .probes
                .iter()
                .map(|p| p.status.reason())
                .find(|r| !r.is_empty());
            return Err(Error::Refused(why.unwrap_or_default().to_string()));
        }
        Ok(out)
    }
}

/// The targets' function ids by BTF object (a link cannot mix them), in target order.
fn by_btf_object(targets: &[Target]) -> Vec<(&Origin, Vec<u32>)> {
    let mut groups: Vec<(&Origin, Vec<u32>)> = Vec::new();
    for (id, t) in (0u32..).zip(targets) {
        match groups.iter_mut().find(|(o, _)| *o == &t.origin) {
            Some((_, ids)) => ids.push(id),
            None => groups.push((&t.origin, vec![id])),
        }
    }
    groups
}

/// Loads the template for one BTF object (`btf_fd` 0: vmlinux; `None`: the module's
/// BTF is gone) and links it to the targets `ids`.
fn link_object(
    tpl: &Template,
    btf_fd: Option<RawFd>,
    targets: &[Target],
    ids: &[u32],
) -> std::result::Result<(OwnedFd, Links), KernelError> {
    let btf_fd = btf_fd.ok_or(KernelError {
        what: "finding the module's BTF",
        errno: libc::ENOENT,
    })?;
    let prog = tpl.load(0, btf_fd)?;
    let funcs: Vec<(u32, u64)> = ids
        .iter()
        .map(|&id| (targets[id as usize].btf_id, targets[id as usize].cookie(id)))
        .collect();
    let links = link_functions(prog.as_raw_fd(), &funcs);
    Ok((prog, links))
}

/// One probe row per target; a target never reached was cut short by Ctrl-C.
fn probe_rows(targets: &[Target], status: Vec<Option<ProbeStatus>>) -> Vec<Probe> {
    (0u32..)
        .zip(targets)
        .zip(status)
        .map(|((id, t), st)| {
            let st = st.unwrap_or_else(|| ProbeStatus::Failed("interrupted".into()));
            Probe {
                name: t.name.clone(),
                origin: t.origin.clone(),
                func: (st == ProbeStatus::Attached).then_some(id),
                status: st,
            }
        })
        .collect()
}

/// The links made for one program, and the functions the kernel refused.
#[derive(Default)]
pub struct Links {
    pub fds: Vec<OwnedFd>,
    /// Positions in the functions asked for, and why each was refused.
    pub refused: Vec<(usize, KernelError)>,
    /// Link attempts made.
    pub attempts: usize,
}

/// Links `prog` (loaded for this BTF object) to `funcs`, (BTF id, cookie) each.
/// One refused function fails the whole link, so a refused set is split in
/// halves until the refused functions stand alone: a few extra attempts (each
/// fails before any trampoline is touched) instead of repeating every rule of
/// the kernel here.
pub fn link_functions(prog: RawFd, funcs: &[(u32, u64)]) -> Links {
    let mut links = Links::default();
    links.split(prog, funcs, 0);
    links
}

impl Links {
    fn split(&mut self, prog: RawFd, funcs: &[(u32, u64)], first: usize) {
        if funcs.is_empty() {
            return;
        }
        self.attempts += 1;
        match link_create(prog, funcs) {
            Ok(fd) => self.fds.push(fd),
            Err(e) if funcs.len() == 1 => self.refused.push((first, e)),
            Err(_) => {
                let half = funcs.len() / 2;
                self.split(prog, &funcs[..half], first);
                self.split(prog, &funcs[half..], first + half);
            }
        }
    }
}

/// `union bpf_attr` for `BPF_LINK_CREATE` of a tracing multi-link (Linux 7.2).
#[repr(C)]
#[derive(Default)]
struct LinkCreateTracingMulti {
    prog_fd: u32,
    target_fd: u32,
    attach_type: u32,
    flags: u32,
    ids: u64,
    cookies: u64,
    cnt: u32,
    _pad: u32,
}

fn link_create(prog: RawFd, funcs: &[(u32, u64)]) -> std::result::Result<OwnedFd, KernelError> {
    let (ids, cookies): (Vec<u32>, Vec<u64>) = funcs.iter().copied().unzip();
    let attr = LinkCreateTracingMulti {
        prog_fd: prog as u32,
        attach_type: BPF_TRACE_FSESSION_MULTI,
        ids: ids.as_ptr() as u64,
        cookies: cookies.as_ptr() as u64,
        cnt: funcs.len() as u32,
        ..Default::default()
    };
    owned_fd("link", bpf(libbpf_sys::BPF_LINK_CREATE, &attr))
}

/// Whether the kernel loads a multi-link fsession program: `r0 = 0; exit`
/// with no attach target. Older kernels refuse the attach type.
fn probe_multi_link() -> std::result::Result<(), KernelError> {
    // BPF_MOV64_IMM(BPF_REG_0, 0); BPF_EXIT_INSN()
    let insns: [u64; 2] = [0x0000_0000_0000_00b7, 0x0000_0000_0000_0095];
    features::load_probe(
        libbpf_sys::BPF_PROG_TYPE_TRACING,
        BPF_TRACE_FSESSION_MULTI,
        &insns,
    )
}

/// The bpf(2) syscall, for commands libbpf does not wrap yet: the fd or -errno
/// as libbpf's wrappers return them.
fn bpf<T>(cmd: libbpf_sys::bpf_cmd, attr: &T) -> i32 {
    // SAFETY: attr is a live, fully initialised bpf_attr prefix of its size.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd as libc::c_long,
            attr as *const T,
            std::mem::size_of::<T>(),
        )
    };
    if ret < 0 {
        -std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EINVAL)
    } else {
        ret as i32
    }
}
