//! The fentry backend: one fentry and one fexit program per function. The two
//! templates are verified once in the skeleton; their clones are verified per
//! target on `--load-threads` threads, then attached one function at a time
//! (why not both at once: see [`clones`]), behind a progress bar.

pub mod clones;

use std::os::fd::OwnedFd;
use std::sync::atomic::Ordering;
use std::time::Instant;

use vrft_events::event::Origin;
use vrft_events::session::{Probe, ProbeStatus};

use super::progress::Bar;
use super::{Attach, AttachCtx, Attached};
use crate::contract::VRFT_CLONE_CONSTANT;
use crate::error::{Error, KernelError, Result};
use crate::module_btf;
use crate::plan::Target;
use crate::skel::OpenVrftSkel;
use clones::{Clones, Loaded, Refusal};

pub struct Fentry;

/// One target's verified pair, or why this function was refused.
type Pair = Result<[OwnedFd; 2], KernelError>;

impl Attach for Fentry {
    fn prepare(&self, open: &mut OpenVrftSkel<'static>, targets: &[Target]) -> Result<()> {
        // The templates must be verified against some real function; each
        // clone is then verified again against its own target.
        let first = targets
            .iter()
            .find(|t| t.origin == Origin::Vmlinux)
            .or(targets.first())
            .ok_or(Error::NothingSelected)?;
        for p in [&mut open.progs.vrft_fentry, &mut open.progs.vrft_fexit] {
            p.set_autoload(true);
            p.set_attach_target(0, Some(first.name.clone()))
                .map_err(Error::bpf("setting the fentry templates' target"))?;
        }
        Ok(())
    }

    fn attach(&self, ctx: &AttachCtx) -> Result<Attached> {
        let tracing = libbpf_sys::BPF_PROG_TYPE_TRACING;
        let progs = &ctx.skel.progs;
        let entry = ctx.template(&progs.vrft_fentry, tracing, libbpf_sys::BPF_TRACE_FENTRY)?;
        let clones = Clones {
            compat: entry.constant_sites(VRFT_CLONE_CONSTANT) > 0,
            exit: ctx.template(&progs.vrft_fexit, tracing, libbpf_sys::BPF_TRACE_FEXIT)?,
            entry,
            modules: module_btf::module_btf_fds()?,
        };
        if ctx.cfg.libbpf_debug {
            verifier_stats(&clones, ctx.targets);
        }
        let bar = Bar::new(ctx.targets.len());
        // Each target's verified pair in target order, or Err: the kernel
        // refuses fentry. `--load-threads 0` has no verification phase: each
        // pair is loaded where the attach loop reaches it (the plain serial loop).
        let pairs: Box<dyn Iterator<Item = Result<Pair>>> = if ctx.cfg.load_threads == 0 {
            let mut refusal = Refusal::new(ctx.targets.len());
            let clones = &clones;
            Box::new((0u32..).zip(ctx.targets).map(move |(id, t)| {
                let pair = clones.verify(id, t);
                match refusal.check(&pair) {
                    Some(e) => Err(Error::Refused(e.to_string())),
                    None => Ok(pair),
                }
            }))
        } else {
            let loaded = verify_all(&clones, ctx, &bar)?;
            Box::new(loaded.into_iter().map(|p| {
                // Never tried: Ctrl-C came first, and the loop below stops.
                Ok(p.unwrap_or(Err(KernelError {
                    what: "load",
                    errno: libc::EINTR,
                })))
            }))
        };
        attach_pairs(&clones, ctx, pairs, &bar)
    }
}

/// With VRFT_DEBUG: what the verifier walked for the first vmlinux target's
/// clones, from its log (the program info has no count before 5.16).
fn verifier_stats(clones: &Clones, targets: &[Target]) {
    let Some((id, t)) = (0u32..)
        .zip(targets)
        .find(|(_, t)| t.origin == Origin::Vmlinux)
    else {
        return;
    };
    let constant = clones
        .compat
        .then(|| (VRFT_CLONE_CONSTANT, t.clone_constant(id)));
    for (which, tpl) in [("fentry", &clones.entry), ("fexit", &clones.exit)] {
        if let Some(line) = tpl.verifier_stats(t.btf_id, 0, constant) {
            eprintln!("verifier: {which} clone of {}: {line}", t.name);
        }
    }
}

/// Attaches each target's pair in target order; function ids are positions
/// in the function table, built in target order.
fn attach_pairs(
    clones: &Clones,
    ctx: &AttachCtx,
    pairs: impl Iterator<Item = Result<Pair>>,
    bar: &Bar,
) -> Result<Attached> {
    let started = Instant::now();
    bar.phase("attaching");
    let mut out = Attached::default();
    let (mut attached, mut failed) = (0usize, 0usize);
    for (id, (t, pair)) in (0u32..).zip(ctx.targets.iter().zip(pairs)) {
        if ctx.interrupted.load(Ordering::Relaxed) {
            break;
        }
        let status = match pair?.and_then(|p| clones.attach_pair(p, t.cookie(id))) {
            Ok(probed) => {
                out.func_progs.extend(probed.progs);
                out.slow_links.extend(probed.links);
                attached += 1;
                ProbeStatus::Attached
            }
            Err(e) => {
                failed += 1;
                ProbeStatus::Failed(e.to_string())
            }
        };
        out.probes.push(Probe {
            name: t.name.clone(),
            origin: t.origin.clone(),
            func: (status == ProbeStatus::Attached).then_some(id),
            status,
        });
        bar.step(&format!("attached {attached}, failed {failed}"));
    }
    bar.finish(&format!(
        "attached in {:.1} s: {attached} attached, {failed} failed",
        started.elapsed().as_secs_f64()
    ));
    Ok(out)
}

/// Verifies every target's clones on `--load-threads` threads.
fn verify_all(clones: &Clones, ctx: &AttachCtx, bar: &Bar) -> Result<Loaded> {
    let (n, threads) = (ctx.targets.len(), ctx.cfg.load_threads);
    bar.phase("verifying");
    bar.line(&format!("verifying {n} functions on {threads} threads"));
    let started = Instant::now();
    let loaded = std::thread::scope(|s| {
        let results = clones.verify_all(s, ctx.targets, threads, ctx.interrupted);
        clones::collect(results, n, &|| bar.step(""))
    });
    match loaded {
        // The templates load for the first target; clones refused from
        // the first on mean the kernel refuses fentry here (e.g. lockdown).
        Err(e) => Err(Error::Refused(e.to_string())),
        Ok(_) if ctx.interrupted.load(Ordering::Relaxed) => Err(Error::InterruptedVerifying),
        Ok(l) => {
            bar.line(&format!(
                "attaching {n} functions (verified in {:.1} s)",
                started.elapsed().as_secs_f64()
            ));
            Ok(l)
        }
    }
}
