//! The backends. Each enables the skeleton's programs it needs before load,
//! attaches them its own way after, and hands back what it attached. A new
//! backend is one module here implementing [`Attach`] and one arm in
//! [`attachers`]; the orchestrator (`lib.rs`) never looks inside one.

pub mod fentry;
pub mod fsession;
pub mod kprobe;
pub mod progress;
pub mod tracepoint;

use std::os::fd::OwnedFd;
use std::sync::atomic::AtomicBool;

use libbpf_rs::skel::Skel;
use libbpf_rs::Program;
use vrft_events::event::FuncInfo;
use vrft_events::session::Probe;
use vrft_events::Backend;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::plan::Target;
use crate::skel::{OpenVrftSkel, VrftSkel};
use crate::splice;
use crate::template::Template;

/// What every backend attaches with.
pub struct AttachCtx<'a> {
    pub skel: &'a VrftSkel<'static>,
    /// The functions to probe; a target's function id is its position here.
    pub targets: &'a [Target],
    pub cfg: &'a Config,
    /// Ctrl-C: stop attaching; what was attached is released by the caller.
    pub interrupted: &'a AtomicBool,
}

impl AttachCtx<'_> {
    /// A template of one of the skeleton's programs, with the pcap filter spliced in.
    pub fn template(
        &self,
        prog: &Program,
        prog_type: libbpf_sys::bpf_prog_type,
        attach_type: libbpf_sys::bpf_attach_type,
    ) -> Result<Template> {
        let mut tpl = Template::new(self.skel.object(), prog, prog_type, attach_type);
        if let Some(f) = &self.cfg.filter.pcap {
            for (stub, prog) in [("vrft_pcap_l2", &f.l2), ("vrft_pcap_l3", &f.l3)] {
                let body: Vec<_> = prog
                    .ebpf
                    .iter()
                    .map(|i| splice::insn_from_bytes(i.to_bytes()))
                    .collect();
                tpl.splice_if_present(stub, &body)
                    .map_err(|detail| Error::Splice { stub, detail })?;
            }
        }
        Ok(tpl)
    }

    /// The skeleton's program named `name`.
    pub fn program(&self, name: &str) -> Option<Program<'_>> {
        self.skel.object().progs().find(|p| p.name() == name)
    }
}

/// What a backend attached; dropping it closes everything.
#[derive(Default)]
pub struct Attached {
    /// Probe table rows.
    pub probes: Vec<Probe>,
    /// Entries this backend adds to the function table after the targets (tracepoints).
    pub functions: Vec<FuncInfo>,
    /// Programs kept for their statistics (recursion misses, verifier work),
    /// per-function probe programs apart from the others.
    pub func_progs: Vec<OwnedFd>,
    pub other_progs: Vec<OwnedFd>,
    /// Links that close at once (tracepoints, one multi-link).
    pub cheap_links: Vec<OwnedFd>,
    /// Per-function trampoline links: each close waits for an RCU grace
    /// period, so these are released in the background.
    pub slow_links: Vec<OwnedFd>,
}

impl Attached {
    pub fn merge(&mut self, o: Attached) {
        self.probes.extend(o.probes);
        self.functions.extend(o.functions);
        self.func_progs.extend(o.func_progs);
        self.other_progs.extend(o.other_progs);
        self.cheap_links.extend(o.cheap_links);
        self.slow_links.extend(o.slow_links);
    }
}

/// One way of attaching the skeleton's programs.
pub trait Attach {
    /// Before load: enable (autoload) the programs this backend attaches; the
    /// orchestrator has disabled every program first.
    fn prepare(&self, open: &mut OpenVrftSkel<'static>, targets: &[Target]) -> Result<()>;
    /// After load: attach, and hand back everything attached.
    fn attach(&self, ctx: &AttachCtx) -> Result<Attached>;
}

/// What runs for `backend`: its own attacher, then the skb tracepoints, which
/// every backend adds (with ids after the targets'). `tracepoint_btf_ids`: see
/// [`tracepoint::Tracepoints`].
pub fn attachers(
    backend: Backend,
    targets: usize,
    tracepoint_btf_ids: Vec<Option<u32>>,
) -> Vec<Box<dyn Attach>> {
    let first_tp_func = match backend {
        Backend::Tracepoint => 0,
        _ => targets as u32,
    };
    let tps: Box<dyn Attach> = Box::new(tracepoint::Tracepoints {
        btf_ids: tracepoint_btf_ids,
        first_func: first_tp_func,
    });
    match backend {
        Backend::Fentry => vec![Box::new(fentry::Fentry), tps],
        Backend::Fsession => vec![Box::new(fsession::Fsession), tps],
        Backend::Kprobe => vec![Box::new(kprobe::Kprobe), tps],
        Backend::Tracepoint => vec![tps],
    }
}
