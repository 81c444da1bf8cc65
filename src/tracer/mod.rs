//! The tracer: choose a backend, load and attach the probes behind a progress
//! bar, arm them all at once, read the ring buffer, and release on the way out.
//!
//! Data flow: BTF scan -> [`plan`] -> backend attach -> ring buffer -> [`reader`]
//! -> crossbeam channel of `Vec<Event>` -> model / recorder.

pub mod fentry;
pub mod interfaces;
pub mod kernel_btf;
pub mod plan;
pub mod reader;
pub mod release;
pub mod skel;
pub mod splice;
pub mod template;
pub mod wire;

use std::ffi::CString;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use crossbeam_channel::Receiver;
use indicatif::{ProgressBar, ProgressStyle};
use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use libbpf_rs::{MapCore, MapFlags, OpenObject, ProgramMut};
use vrft_events::event::{Event, FuncInfo, Origin};
use vrft_events::session::{Probe, ProbeStatus, SessionInfo, Stats};

use plan::{Selection, Target};
use skel::{OpenVrftSkel, VrftSkel, VrftSkelBuilder};

pub use vrft_events::Backend;

/// What the user asked for.
#[derive(Clone, Debug)]
pub struct Config {
    /// `None`: the first backend this kernel accepts, in the order fentry, kprobe, tracepoint.
    pub backend: Option<Backend>,
    pub selection: Selection,
    /// Ring buffer size in bytes (a power of two).
    pub ring_bytes: u32,
    /// Threads that load (verify) programs in parallel; 0: each is loaded where it is attached.
    pub load_threads: usize,
    /// Close the links here with a progress bar instead of in a background process.
    pub wait_detach: bool,
    /// The filter as the user wrote it, for the status line and recordings.
    pub filter_text: String,
    pub filter: FilterConfig,
    /// `--skb-fields`, resolved in this kernel's BTF.
    pub skb_fields: Vec<vrft_btf::SkbField>,
}

/// The most interfaces and namespaces one filter holds (`MAX_FILTER_DEVS` in bpf/vrft.bpf.c).
pub const MAX_FILTER_DEVS: usize = 8;

/// What the BPF side filters on, resolved and compiled before anything loads.
#[derive(Clone, Debug, Default)]
pub struct FilterConfig {
    /// Only packets on one of these interfaces: (netns inode, ifindex); empty: any.
    pub devs: Vec<(u32, u32)>,
    /// Only packets in one of these network namespaces (inodes); empty: any.
    pub netns: Vec<u32>,
    /// The pcap/flow filter, translated to eBPF for both header starts.
    pub pcap: Option<vrft_filter::PacketFilter>,
    /// Match the inner frame of VXLAN packets.
    pub inner: bool,
    /// Packet ids from the first 32 bits of the UDP payload.
    pub payload_id: bool,
}

/// Puts the translated pcap filter into the stubs a template calls (if any).
fn splice_filter(tpl: &mut template::Template, filter: &FilterConfig) -> Result<()> {
    if let Some(f) = &filter.pcap {
        for (stub, prog) in [("vrft_pcap_l2", &f.l2), ("vrft_pcap_l3", &f.l3)] {
            let body: Vec<_> = prog
                .ebpf
                .iter()
                .map(|i| splice::insn_from_bytes(i.to_bytes()))
                .collect();
            tpl.splice_if_present(stub, &body).map_err(|e| anyhow!(e))?;
        }
    }
    Ok(())
}

/// The skb tracepoints, in the order of `enum vrft_tp` in bpf/vrft.bpf.c.
const TRACEPOINTS: [(&str, &str); 10] = [
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

fn tracepoint_prog<'a, 'obj>(
    skel: &'a mut OpenVrftSkel<'obj>,
    i: usize,
) -> &'a mut libbpf_rs::OpenProgramMut<'obj> {
    let p = &mut skel.progs;
    match i {
        0 => &mut p.tp_net_dev_queue,
        1 => &mut p.tp_net_dev_start_xmit,
        2 => &mut p.tp_net_dev_xmit,
        3 => &mut p.tp_netif_receive_skb,
        4 => &mut p.tp_netif_rx,
        5 => &mut p.tp_napi_gro_receive_entry,
        6 => &mut p.tp_netif_receive_skb_entry,
        7 => &mut p.tp_kfree_skb,
        8 => &mut p.tp_consume_skb,
        _ => &mut p.tp_skb_copy_datagram_iovec,
    }
}

fn loaded_tracepoint_prog<'a, 'obj>(skel: &'a VrftSkel<'obj>, i: usize) -> &'a ProgramMut<'obj> {
    let p = &skel.progs;
    match i {
        0 => &p.tp_net_dev_queue,
        1 => &p.tp_net_dev_start_xmit,
        2 => &p.tp_net_dev_xmit,
        3 => &p.tp_netif_receive_skb,
        4 => &p.tp_netif_rx,
        5 => &p.tp_napi_gro_receive_entry,
        6 => &p.tp_netif_receive_skb_entry,
        7 => &p.tp_kfree_skb,
        8 => &p.tp_consume_skb,
        _ => &p.tp_skb_copy_datagram_iovec,
    }
}

/// What [`Tracer::stop`] found.
#[derive(Clone, Debug, Default)]
pub struct StopReport {
    /// Every counter, final.
    pub stats: Stats,
    /// Pid of the background release, when one was started.
    pub release_pid: Option<u32>,
    pub links: usize,
    pub verified_insns_max: VerifiedInsns,
}

/// Indexes of `enum vrft_counter` (bpf/vrft.bpf.c).
/// The most instructions the verifier walked for one function probe clone and
/// for one other program (tracepoints, the kprobe session program): what loading
/// costs per traced function, and the number that explodes when the paths
/// through the BPF code multiply.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct VerifiedInsns {
    pub function_probe: u32,
    pub other: u32,
}

/// What the kernel tells of one of our programs.
pub fn prog_info(fd: RawFd) -> Option<libbpf_sys::bpf_prog_info> {
    let mut info = libbpf_sys::bpf_prog_info::default();
    let mut len = std::mem::size_of::<libbpf_sys::bpf_prog_info>() as u32;
    // SAFETY: info is a local the kernel fills up to len; no arrays are requested.
    let ok = unsafe { libbpf_sys::bpf_prog_get_info_by_fd(fd, &mut info, &mut len) } == 0;
    ok.then_some(info)
}

const CNT_RINGBUF_DROPS: u32 = 0;
const CNT_STACK_OVERFLOW: u32 = 1;
const CNT_STACK_MISSING: u32 = 2;

/// Reads the tracer's loss counters; valid while the [`Tracer`] it came from is alive.
pub struct StatsProbe {
    counters: libbpf_rs::MapHandle,
    /// Program fds owned by the tracer, for their recursion-miss counters: the
    /// function probe clones first, then the tracepoint and kprobe programs.
    progs: Vec<RawFd>,
    func_progs: usize,
    reader: Arc<reader::ReaderStats>,
}

impl StatsProbe {
    /// A per-CPU counter of `enum vrft_counter`, summed over CPUs.
    fn counter(&self, which: u32) -> u64 {
        let key = which.to_ne_bytes();
        match self.counters.lookup_percpu(&key, MapFlags::ANY) {
            Ok(Some(per_cpu)) => per_cpu
                .iter()
                .map(|v| u64::from_ne_bytes(v[..8].try_into().expect("8-byte counter")))
                .sum(),
            _ => 0,
        }
    }

    /// One pass over every program's kernel info: recursion misses (changing
    /// while live) and the verifier's work (fixed at load).
    fn prog_totals(&self) -> (u64, VerifiedInsns) {
        let mut misses = 0;
        let mut insns = VerifiedInsns::default();
        for (i, &fd) in self.progs.iter().enumerate() {
            let Some(info) = prog_info(fd) else { continue };
            misses += info.recursion_misses;
            let max = if i < self.func_progs {
                &mut insns.function_probe
            } else {
                &mut insns.other
            };
            *max = (*max).max(info.verified_insns);
        }
        (misses, insns)
    }

    pub fn read(&self) -> Stats {
        self.with_misses(self.prog_totals().0)
    }

    fn with_misses(&self, recursion_misses: u64) -> Stats {
        Stats {
            events: self.reader.events.load(Ordering::Relaxed),
            lost: self.counter(CNT_RINGBUF_DROPS),
            recursion_misses,
            stack_overflows: self.counter(CNT_STACK_OVERFLOW),
            stack_missing: self.counter(CNT_STACK_MISSING),
            malformed: self.reader.malformed.load(Ordering::Relaxed),
            ..Default::default()
        }
    }
}

impl StopReport {
    /// The line telling the user where the background release runs, if one does.
    pub fn release_line(&self) -> Option<String> {
        self.release_pid.map(|pid| {
            format!(
                "releasing {} probe links in the background (pid {pid}, log {})",
                self.links,
                release::log_file().display()
            )
        })
    }
}

/// A running trace. Probes are attached but record nothing until [`Tracer::arm`].
pub struct Tracer {
    skel: VrftSkel<'static>,
    pub backend: Backend,
    /// One line: which backend and why.
    pub backend_reason: String,
    pub info: SessionInfo,
    probed: Vec<fentry::Probed>,
    /// Programs and links that are cheap to release: tracepoints, the kprobe session link.
    cheap_progs: Vec<OwnedFd>,
    cheap_links: Vec<OwnedFd>,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<Result<()>>>,
    reader_stats: Arc<reader::ReaderStats>,
    wait_detach: bool,
    pub attach_time: Duration,
}

/// The skeleton outlives every borrow of it for the life of the process.
fn open_skel() -> Result<OpenVrftSkel<'static>> {
    let storage: &'static mut MaybeUninit<OpenObject> = Box::leak(Box::new(MaybeUninit::uninit()));
    VrftSkelBuilder::default()
        .open(storage)
        .context("cannot open the BPF object")
}

/// One clear line when the process cannot trace at all.
pub fn check_privileges() -> Result<()> {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        bail!("tracing needs root (CAP_BPF and CAP_PERFMON): run it with sudo");
    }
    Ok(())
}

/// Raises the soft open-file limit: every function costs four fds (two programs, two links).
pub fn raise_nofile(needed: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < needed {
            let want = needed.max(lim.rlim_cur);
            let raised = libc::rlimit {
                rlim_cur: want,
                rlim_max: lim.rlim_max.max(want),
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) != 0 {
                // Without CAP_SYS_RESOURCE only up to the hard limit.
                lim.rlim_cur = lim.rlim_max;
                libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            }
        }
    }
}

impl Tracer {
    /// Scans, chooses a backend and attaches everything (not armed yet).
    /// `interrupted` stops the attach early (Ctrl-C); what was attached is released.
    pub fn start(cfg: &Config, interrupted: &AtomicBool) -> Result<(Tracer, Receiver<Vec<Event>>)> {
        check_privileges()?;
        // libbpf explains every refused backend at length; our one line says
        // which backend and why. VRFT_DEBUG=1 shows libbpf's own words.
        if std::env::var_os("VRFT_DEBUG").is_none() {
            libbpf_rs::set_print(None);
        }
        let scan = vrft_btf::scan(&vrft_btf::ScanOptions::system())?;
        let (targets, skipped) = plan::plan(&scan, &cfg.selection);
        if targets.is_empty() && cfg.backend != Some(Backend::Tracepoint) {
            bail!(
                "no traceable skb function matches the selection (--funcs/--exclude-funcs/--module): \
                 see `vrft-tui list --all`"
            );
        }
        if let Some(pid) = release::running() {
            eprintln!(
                "vrft-tui: the probes of an earlier trace are still being released in the background \
                 (pid {pid}, log {}); attaching will be slower until it ends",
                release::log_file().display()
            );
        }
        raise_nofile(targets.len() as u64 * 4 + 1024);
        let vmlinux = kernel_btf::VmlinuxBtf::load()?;

        let order = match cfg.backend {
            Some(b) => vec![b],
            None => vec![Backend::Fentry, Backend::Kprobe, Backend::Tracepoint],
        };
        let mut refused = Vec::new();
        for backend in order {
            match Self::start_backend(backend, cfg, &targets, &vmlinux, interrupted) {
                Ok(mut t) => {
                    t.backend_reason = if refused.is_empty() {
                        format!(
                            "backend: {backend}{}",
                            if cfg.backend.is_some() {
                                " (as asked)"
                            } else {
                                ""
                            }
                        )
                    } else {
                        format!("backend: {backend} ({})", refused.join("; "))
                    };
                    t.info.probes.extend(skipped);
                    t.info.drop_reasons = vmlinux.drop_reasons();
                    t.info.filter = cfg.filter_text.clone();
                    t.info.interfaces = interfaces::list();
                    let (tx, rx) = crossbeam_channel::bounded(256);
                    let stop = t.stop.clone();
                    let stats = t.reader_stats.clone();
                    // The reader thread owns its own fd of the ring buffer map.
                    let ring = libbpf_rs::MapHandle::try_from(&t.skel.maps.events)?;
                    t.reader = Some(
                        std::thread::Builder::new()
                            .name("ringbuf".into())
                            .spawn(move || reader::run(&ring, tx, &stop, stats))?,
                    );
                    return Ok((t, rx));
                }
                Err(e) if cfg.backend.is_none() && !interrupted.load(Ordering::Relaxed) => {
                    refused.push(format!("{backend} refused: {e:#}"));
                }
                Err(e) => return Err(e.context(format!("the {backend} backend failed"))),
            }
        }
        bail!("no backend works on this kernel: {}", refused.join("; "))
    }

    fn start_backend(
        backend: Backend,
        cfg: &Config,
        targets: &[Target],
        vmlinux: &kernel_btf::VmlinuxBtf,
        interrupted: &AtomicBool,
    ) -> Result<Tracer> {
        let started = Instant::now();
        let mut open = open_skel()?;
        open.maps.events.set_max_entries(cfg.ring_bytes)?;
        let ro = open
            .maps
            .rodata_data
            .as_deref_mut()
            .context("the BPF object has no .rodata")?;
        let f = &cfg.filter;
        for (slot, &(netns, ifindex)) in ro.filter_devs.iter_mut().zip(&f.devs) {
            slot.netns = netns;
            slot.ifindex = ifindex;
        }
        ro.filter_ndevs = f.devs.len().min(MAX_FILTER_DEVS) as u32;
        for (slot, &ns) in ro.filter_netns.iter_mut().zip(&f.netns) {
            *slot = ns;
        }
        ro.filter_nnetns = f.netns.len().min(MAX_FILTER_DEVS) as u32;
        for (slot, sf) in ro.skb_fields.iter_mut().zip(&cfg.skb_fields) {
            slot.off = sf.offset;
            slot.size = sf.size;
            slot.shinfo = u8::from(sf.shinfo);
            slot.shift = sf.shift;
            slot.bits = sf.bits;
            slot.be = u8::from(sf.big_endian);
        }
        ro.skb_nfields = cfg.skb_fields.len().min(vrft_btf::MAX_FIELDS) as u8;
        ro.filter_pcap = u8::from(f.pcap.is_some());
        ro.filter_inner = u8::from(f.inner);
        ro.id_from_payload = u8::from(f.payload_id);
        let fentry = backend == Backend::Fentry;
        open.progs.vrft_fentry.set_autoload(fentry);
        open.progs.vrft_fexit.set_autoload(fentry);
        open.progs
            .vrft_kprobe
            .set_autoload(backend == Backend::Kprobe);
        if fentry {
            // The templates must be verified against some real function; each
            // clone is then verified again against its own target.
            let first = targets
                .iter()
                .find(|t| t.origin == Origin::Vmlinux)
                .unwrap_or(&targets[0]);
            open.progs
                .vrft_fentry
                .set_attach_target(0, Some(first.name.clone()))?;
            open.progs
                .vrft_fexit
                .set_attach_target(0, Some(first.name.clone()))?;
        }
        let present: Vec<Option<u32>> = TRACEPOINTS
            .iter()
            .map(|(_, n)| vmlinux.tracepoint_btf_id(n))
            .collect();
        for (i, p) in present.iter().enumerate() {
            tracepoint_prog(&mut open, i).set_autoload(p.is_some());
        }
        let skel = open
            .load()
            .map_err(|e| anyhow!("loading the programs: {e}"))?;

        // The function table: targets first, then the tracepoints.
        let mut info = SessionInfo {
            backend: Some(backend),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_string(),
            skb_fields: cfg.skb_fields.iter().map(|f| f.name.clone()).collect(),
            ..Default::default()
        };
        let probe_targets = backend != Backend::Tracepoint;
        if probe_targets {
            info.functions = targets.iter().map(Target::func_info).collect();
        }

        let mut tracer = Tracer {
            skel,
            backend,
            backend_reason: String::new(),
            info,
            probed: Vec::new(),
            cheap_progs: Vec::new(),
            cheap_links: Vec::new(),
            stop: Arc::new(AtomicBool::new(false)),
            reader: None,
            reader_stats: Arc::default(),
            wait_detach: cfg.wait_detach,
            attach_time: Duration::ZERO,
        };
        match backend {
            Backend::Fentry => tracer.attach_fentry(targets, cfg, interrupted)?,
            Backend::Kprobe => tracer.attach_kprobe(targets, cfg)?,
            Backend::Tracepoint => {}
        }
        tracer.attach_tracepoints(&present, cfg)?;
        // Without a probe where the sk_buff is freed, the free tracepoints end a packet.
        let frees_seen = tracer.info.probes.iter().any(|p| {
            p.name == "kfree_skbmem"
                && p.status == ProbeStatus::Attached
                && p.origin == Origin::Vmlinux
        });
        tracer.skel_bss_set(|bss| bss.tp_ends_tracking = u32::from(!frees_seen))?;
        tracer.attach_time = started.elapsed();
        if interrupted.load(Ordering::Relaxed) {
            tracer.release_now();
            bail!("interrupted while attaching; every probe attached so far was released");
        }
        Ok(tracer)
    }

    fn skel_bss_set(&mut self, f: impl FnOnce(&mut skel::types::bss)) -> Result<()> {
        let bss = self
            .skel
            .maps
            .bss_data
            .as_deref_mut()
            .context("the BPF object has no .bss")?;
        f(bss);
        Ok(())
    }

    /// A template of one of the skeleton's programs, with the filter spliced in.
    fn template(
        &self,
        prog: &libbpf_rs::ProgramMut,
        prog_type: libbpf_sys::bpf_prog_type,
        attach_type: libbpf_sys::bpf_attach_type,
        cfg: &Config,
    ) -> Result<template::Template> {
        let mut tpl = template::Template::new(self.skel.object(), prog, prog_type, attach_type);
        splice_filter(&mut tpl, &cfg.filter)?;
        Ok(tpl)
    }

    /// Verifies the entry and exit clones of every target on
    /// `cfg.load_threads` threads, then attaches them one function at a time
    /// (why not both at once: see [`fentry`]).
    fn attach_fentry(
        &mut self,
        targets: &[Target],
        cfg: &Config,
        interrupted: &AtomicBool,
    ) -> Result<()> {
        let tracing = libbpf_sys::BPF_PROG_TYPE_TRACING;
        let clones = fentry::Clones {
            entry: self.template(
                &self.skel.progs.vrft_fentry,
                tracing,
                libbpf_sys::BPF_TRACE_FENTRY,
                cfg,
            )?,
            exit: self.template(
                &self.skel.progs.vrft_fexit,
                tracing,
                libbpf_sys::BPF_TRACE_FEXIT,
                cfg,
            )?,
            modules: kernel_btf::module_btf_fds()?,
        };
        let threads = cfg.load_threads;
        let bar = ProgressBar::new(targets.len() as u64).with_style(
            ProgressStyle::with_template(
                "{prefix:>9} {bar:30} {pos}/{len} functions {msg} ({per_sec})",
            )
            .expect("valid template"),
        );
        // Without a terminal the bar is hidden; scripts and logs get the phases as lines.
        let plain = !std::io::IsTerminal::is_terminal(&std::io::stderr());
        // Each target's verified pair, in target order, or Err: the kernel
        // refuses fentry. `--load-threads 0` has no verification phase: each
        // pair is loaded where the attach loop reaches it (the plain serial loop).
        type Pair = Result<[OwnedFd; 2], String>;
        let pairs: Box<dyn Iterator<Item = Result<Pair, String>>> = if threads == 0 {
            let mut refusal = fentry::Refusal::new(targets.len());
            let clones = &clones;
            Box::new(targets.iter().map(move |t| {
                let pair = clones.verify(t);
                refusal.check(&pair).map_or(Ok(pair), Err)
            }))
        } else {
            let loaded = Self::verify_fentry(&clones, targets, threads, interrupted, &bar, plain)?;
            Box::new(
                loaded
                    .into_iter()
                    .map(|p| Ok(p.unwrap_or_else(|| Err("not verified".to_string())))),
            )
        };
        let attach_start = Instant::now();
        bar.set_position(0);
        bar.set_prefix("attaching");
        bar.reset_eta();
        let (mut attached, mut failed) = (0usize, 0usize);
        // Function ids are positions in the function table, built in target order.
        for (id, (t, progs)) in (0u32..).zip(targets.iter().zip(pairs)) {
            if interrupted.load(Ordering::Relaxed) {
                break;
            }
            let progs = progs.map_err(|e| {
                bar.finish_and_clear();
                anyhow!(e)
            })?;
            let status = match progs.and_then(|p| clones.attach_pair(p, t.cookie(id))) {
                Ok(probed) => {
                    self.probed.push(probed);
                    attached += 1;
                    ProbeStatus::Attached
                }
                Err(e) => {
                    failed += 1;
                    ProbeStatus::Failed(e)
                }
            };
            self.info.probes.push(Probe {
                name: t.name.clone(),
                origin: t.origin.clone(),
                func: (status == ProbeStatus::Attached).then_some(id),
                status,
            });
            bar.set_message(format!("attached {attached}, failed {failed}"));
            bar.inc(1);
        }
        bar.finish_and_clear();
        if plain {
            eprintln!(
                "attached in {:.1} s: {attached} attached, {failed} failed",
                attach_start.elapsed().as_secs_f64()
            );
        }
        Ok(())
    }

    /// Verifies every target's clones on `threads` threads, with the bar.
    fn verify_fentry(
        clones: &fentry::Clones,
        targets: &[Target],
        threads: usize,
        interrupted: &AtomicBool,
        bar: &ProgressBar,
        plain: bool,
    ) -> Result<fentry::Loaded> {
        bar.set_prefix("verifying");
        if plain {
            eprintln!("verifying {} functions on {threads} threads", targets.len());
        }
        let verify_start = Instant::now();
        let loaded = std::thread::scope(|s| {
            let results = clones.verify_all(s, targets, threads, interrupted);
            fentry::collect(results, targets.len(), &|| bar.inc(1))
        });
        match loaded {
            Ok(l) if !interrupted.load(Ordering::Relaxed) => {
                if plain {
                    eprintln!(
                        "attaching {} functions (verified in {:.1} s)",
                        targets.len(),
                        verify_start.elapsed().as_secs_f64()
                    );
                }
                Ok(l)
            }
            // The templates load for the first target; clones refused from
            // the first on mean the kernel refuses fentry here (e.g. lockdown).
            Err(e) => {
                bar.finish_and_clear();
                bail!("{e}");
            }
            Ok(_) => {
                bar.finish_and_clear();
                bail!("interrupted while verifying; nothing was attached");
            }
        }
    }

    fn attach_kprobe(&mut self, targets: &[Target], cfg: &Config) -> Result<()> {
        let tpl = self.template(
            &self.skel.progs.vrft_kprobe,
            libbpf_sys::BPF_PROG_TYPE_KPROBE,
            libbpf_sys::BPF_TRACE_KPROBE_SESSION,
            cfg,
        )?;
        let prog = tpl.load(0, 0).map_err(|e| anyhow!(e))?;
        let names: Vec<CString> = targets
            .iter()
            .map(|t| CString::new(t.name.as_str()))
            .collect::<Result<_, _>>()?;
        let syms: Vec<*const libc::c_char> = names.iter().map(|n| n.as_ptr()).collect();
        let cookies: Vec<u64> = (0u32..).zip(targets).map(|(i, t)| t.cookie(i)).collect();
        let mut opts = libbpf_sys::bpf_link_create_opts {
            sz: std::mem::size_of::<libbpf_sys::bpf_link_create_opts>() as _,
            ..Default::default()
        };
        opts.__bindgen_anon_1.kprobe_multi.syms = syms.as_ptr() as *mut _;
        opts.__bindgen_anon_1.kprobe_multi.cookies = cookies.as_ptr();
        opts.__bindgen_anon_1.kprobe_multi.cnt = syms.len() as u32;
        // SAFETY: the arrays live across the call; the kernel copies them.
        let fd = unsafe {
            libbpf_sys::bpf_link_create(
                prog.as_raw_fd(),
                0,
                libbpf_sys::BPF_TRACE_KPROBE_SESSION,
                &opts,
            )
        };
        let link = template::fd_or_errno("kprobe session link", fd).map_err(|e| anyhow!(e))?;
        self.cheap_progs.push(prog);
        self.cheap_links.push(link);
        for (i, t) in (0u32..).zip(targets) {
            self.info.probes.push(Probe {
                name: t.name.clone(),
                origin: t.origin.clone(),
                status: ProbeStatus::Attached,
                func: Some(i),
            });
        }
        Ok(())
    }

    fn attach_tracepoints(&mut self, present: &[Option<u32>], cfg: &Config) -> Result<()> {
        let mut ids = [0u32; 16];
        for (i, (cat, name)) in TRACEPOINTS.iter().enumerate() {
            let full = format!("{cat}:{name}");
            let Some(btf_id) = present[i] else {
                self.info.probes.push(Probe {
                    name: full,
                    origin: Origin::Tracepoint,
                    status: ProbeStatus::Skipped("not in this kernel".into()),
                    func: None,
                });
                continue;
            };
            let tpl = self.template(
                loaded_tracepoint_prog(&self.skel, i),
                libbpf_sys::BPF_PROG_TYPE_TRACING,
                libbpf_sys::BPF_TRACE_RAW_TP,
                cfg,
            )?;
            let attached = tpl.load(btf_id, 0).and_then(|prog| {
                // SAFETY: a valid BTF-typed tracepoint program; no name needed.
                let fd = unsafe {
                    libbpf_sys::bpf_raw_tracepoint_open(std::ptr::null(), prog.as_raw_fd())
                };
                template::fd_or_errno("attach", fd).map(|link| (prog, link))
            });
            let status = match attached {
                Ok((prog, link)) => {
                    self.cheap_progs.push(prog);
                    self.cheap_links.push(link);
                    ProbeStatus::Attached
                }
                Err(e) => ProbeStatus::Failed(e),
            };
            let id = self.info.functions.len() as u32;
            ids[i] = id;
            self.info.functions.push(FuncInfo {
                name: full.clone(),
                origin: Origin::Tracepoint,
                skb_arg: 0,
                nargs: 0,
            });
            self.info.probes.push(Probe {
                name: full,
                origin: Origin::Tracepoint,
                func: (status == ProbeStatus::Attached).then_some(id),
                status,
            });
        }
        self.skel_bss_set(|bss| bss.tp_func = ids)
    }

    /// Starts recording: every probe from now on reports packets.
    pub fn arm(&mut self) -> Result<()> {
        self.skel_bss_set(|bss| bss.armed = 1)
    }

    /// Counts of attached / skipped / failed probes.
    pub fn probe_counts(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for p in &self.info.probes {
            match p.status {
                ProbeStatus::Attached => c.0 += 1,
                ProbeStatus::Skipped(_) => c.1 += 1,
                ProbeStatus::Failed(_) => c.2 += 1,
            }
        }
        c
    }

    /// A handle that reads the loss counters from another thread (the UI's status line).
    pub fn stats_probe(&self) -> Result<StatsProbe> {
        let func_progs = self.probed.iter().map(|p| p.progs.len()).sum();
        let progs = self
            .probed
            .iter()
            .flat_map(|p| p.progs.iter())
            .chain(&self.cheap_progs)
            .map(|f| f.as_raw_fd())
            .collect();
        Ok(StatsProbe {
            counters: libbpf_rs::MapHandle::try_from(&self.skel.maps.counters)?,
            progs,
            func_progs,
            reader: self.reader_stats.clone(),
        })
    }

    /// Disarms every probe at once, drains the ring buffer, collects the loss
    /// counters, and releases the probes (in the background unless `--wait-detach`).
    pub fn stop(mut self) -> Result<StopReport> {
        let _ = self.skel_bss_set(|bss| bss.armed = 0);
        self.stop.store(true, Ordering::Release);
        if let Some(r) = self.reader.take() {
            r.join()
                .map_err(|_| anyhow!("the ring buffer reader panicked"))??;
        }
        let probe = self.stats_probe()?;
        let (recursion_misses, verified_insns_max) = probe.prog_totals();
        let mut report = StopReport {
            stats: probe.with_misses(recursion_misses),
            links: self.probed.len() * 2,
            verified_insns_max,
            ..Default::default()
        };
        report.release_pid = self.release_now();
        Ok(report)
    }

    /// Releases every link; returns the pid of the background release if one was started.
    fn release_now(&mut self) -> Option<u32> {
        // Tracepoint and multi-kprobe links are cheap to release: drop them here.
        self.cheap_links.clear();
        let links: Vec<OwnedFd> = self.probed.drain(..).flat_map(|p| p.links).collect();
        if links.is_empty() {
            return None;
        }
        if self.wait_detach {
            release::in_foreground(links);
            return None;
        }
        match release::in_background(links) {
            Ok(pid) => Some(pid),
            Err(e) => {
                eprintln!("vrft-tui: {e:#}; releasing here instead");
                None
            }
        }
    }
}
