//! The skb tracepoints (`tp_btf`), attached by every backend: where the kernel
//! queues, transmits, receives and frees packets. With the tracepoint backend
//! they are all there is (kernels that refuse fentry and kprobe sessions).

use std::os::fd::AsRawFd;

use libbpf_rs::skel::OpenSkel;
use vrft_events::event::{FuncInfo, Origin};
use vrft_events::session::{Probe, ProbeStatus};

use super::{Attach, AttachCtx, Attached};
use crate::contract::vrft_tp;
use crate::error::Result;
use crate::plan::Target;
use crate::skel::OpenVrftSkel;
use crate::template::owned_fd;

/// The skb tracepoints, in the order of `enum vrft_tp` (bpf/event.h); the
/// program of each is `tp_<name>` in bpf/vrft.bpf.c.
pub const TRACEPOINTS: [(&str, &str); vrft_tp::TP_COUNT as usize] = [
    ("net", "net_dev_queue"),
    ("net", "net_dev_start_xmit"),
    ("net", "net_dev_xmit"),
    ("net", "netif_receive_skb"),
    ("net", "netif_rx"),
    ("net", "napi_gro_receive_entry"),
    ("net", "netif_receive_skb_entry"),
    ("skb", "kfree_skb"),
    ("skb", "consume_skb"),
    ("skb", "skb_copy_datagram_iovec"),
];

/// Slots of `tp_func[]` in bpf/vrft.bpf.c.
pub const TP_FUNC_SLOTS: usize = 16;
const _: () = assert!(TRACEPOINTS.len() <= TP_FUNC_SLOTS);

fn prog_name(name: &str) -> String {
    format!("tp_{name}")
}

/// The BTF id of each of [`TRACEPOINTS`] in this kernel, `None` where it is missing.
pub fn btf_ids(vmlinux: &vrft_btf::BtfObject) -> Vec<Option<u32>> {
    TRACEPOINTS
        .iter()
        .map(|(_, n)| vmlinux.tracepoint_btf_id(n))
        .collect()
}

/// The value of `tp_func[]`: each tracepoint's function id, from the probe table.
pub fn func_ids(probes: &[Probe]) -> [u32; TP_FUNC_SLOTS] {
    let mut ids = [0; TP_FUNC_SLOTS];
    for (slot, (cat, name)) in ids.iter_mut().zip(TRACEPOINTS) {
        let full = format!("{cat}:{name}");
        let found = probes
            .iter()
            .find(|p| p.origin == Origin::Tracepoint && p.name == full);
        if let Some(id) = found.and_then(|p| p.func) {
            *slot = id;
        }
    }
    ids
}

pub struct Tracepoints {
    /// From [`btf_ids`].
    pub btf_ids: Vec<Option<u32>>,
    /// The function id of the first tracepoint: after the targets.
    pub first_func: u32,
}

impl Attach for Tracepoints {
    fn prepare(&self, open: &mut OpenVrftSkel<'static>, _targets: &[Target]) -> Result<()> {
        for ((_, name), id) in TRACEPOINTS.iter().zip(&self.btf_ids) {
            let prog = prog_name(name);
            let found = open
                .open_object_mut()
                .progs_mut()
                .find(|p| p.name() == prog.as_str());
            if let Some(mut p) = found {
                p.set_autoload(id.is_some());
            }
        }
        Ok(())
    }

    fn attach(&self, ctx: &AttachCtx) -> Result<Attached> {
        let mut out = Attached::default();
        for ((cat, name), btf_id) in TRACEPOINTS.iter().zip(&self.btf_ids) {
            let full = format!("{cat}:{name}");
            let (status, func) = match (btf_id, ctx.program(&prog_name(name))) {
                (Some(btf_id), Some(prog)) => {
                    let status = match attach_one(ctx, &prog, *btf_id, &mut out) {
                        Ok(()) => ProbeStatus::Attached,
                        Err(e) => ProbeStatus::Failed(e.to_string()),
                    };
                    let id = self.first_func + out.functions.len() as u32;
                    out.functions.push(FuncInfo {
                        name: full.clone(),
                        origin: Origin::Tracepoint,
                        skb_arg: 0,
                        nargs: 0,
                        returns: Default::default(),
                    });
                    let func = (status == ProbeStatus::Attached).then_some(id);
                    (status, func)
                }
                _ => (ProbeStatus::Skipped("not in this kernel".into()), None),
            };
            out.probes.push(Probe {
                name: full,
                origin: Origin::Tracepoint,
                status,
                func,
            });
        }
        Ok(out)
    }
}

/// Loads a clone of `prog` (with the filter spliced in) and attaches it.
fn attach_one(
    ctx: &AttachCtx,
    prog: &libbpf_rs::Program,
    btf_id: u32,
    out: &mut Attached,
) -> Result<()> {
    let tpl = ctx.template(
        prog,
        libbpf_sys::BPF_PROG_TYPE_TRACING,
        libbpf_sys::BPF_TRACE_RAW_TP,
    )?;
    let prog = tpl.load(btf_id, 0)?;
    // SAFETY: prog is a loaded BTF-typed tracepoint program, which needs no name.
    let fd = unsafe { libbpf_sys::bpf_raw_tracepoint_open(std::ptr::null(), prog.as_raw_fd()) };
    let link = owned_fd("attach", fd)?;
    out.other_progs.push(prog);
    out.cheap_links.push(link);
    Ok(())
}
