//! The tracer: choose a backend, load and attach the probes behind a progress
//! bar, arm them all at once, read the ring buffer, and release on the way out.
//!
//! Data flow: BTF scan -> [`plan`] -> [`backend`] attach -> ring buffer ->
//! [`reader`] -> crossbeam channel of `Vec<Event>` -> model / recorder.
//! The BPF side is `bpf/`; its contract with this crate is `bpf/event.h`,
//! generated into [`contract`].

pub mod backend;
pub mod config;
pub mod contract;
pub mod error;
pub mod features;
pub mod interfaces;
pub mod module_btf;
pub mod netns_names;
pub mod notes;
pub mod plan;
pub mod privileges;
pub mod reader;
pub mod release;
pub mod report;
pub mod rodata;
pub mod skel;
pub mod splice;
pub mod stats;
pub mod template;
pub mod wire;

use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use libbpf_rs::skel::{OpenSkel, SkelBuilder};
use libbpf_rs::OpenObject;
use vrft_events::event::{Event, Origin};
use vrft_events::session::{ProbeStatus, SessionInfo};

use backend::{AttachCtx, Attached};
use plan::Target;
use skel::{OpenVrftSkel, VrftSkel, VrftSkelBuilder};

pub use config::{pcap_options, Config, FilterConfig, MAX_FILTER_DEVS};
pub use error::{Error, Result};
pub use privileges::{check_privileges, raise_nofile};
pub use report::StopReport;
pub use stats::{prog_info, StatsProbe, VerifiedInsns};
pub use vrft_events::Backend;

/// A running trace. Probes are attached but record nothing until [`Tracer::arm`].
pub struct Tracer {
    skel: VrftSkel<'static>,
    pub backend: Backend,
    /// One line: which backend and why.
    pub backend_reason: String,
    /// "fentry: this kernel (5.10) has no ...; using compatible clones" when
    /// the backend runs the compatible programs.
    compat_note: Option<String>,
    pub info: SessionInfo,
    /// Every program and link, until released.
    attached: Attached,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<Result<()>>>,
    reader_stats: Arc<reader::ReaderStats>,
    wait_detach: bool,
    /// `--count-hits`: the `hits` map counts every probe run.
    count_hits: bool,
    pub attach_time: Duration,
}

/// The skeleton outlives every borrow of it for the life of the process.
/// `compat`: the object built for kernels 5.10-5.18 (see [`features::Programs`]).
fn open_skel(compat: bool) -> Result<OpenVrftSkel<'static>> {
    let storage: &'static mut MaybeUninit<OpenObject> = Box::leak(Box::new(MaybeUninit::uninit()));
    skel::open_compat(compat);
    VrftSkelBuilder::default()
        .open(storage)
        .map_err(Error::bpf("cannot open the BPF object"))
}

/// The compatible programs' packet id counters (bpf/vrft.bpf.c, compat_packet_id):
/// per CPU, in two slots after the counters: CPU i starts at i + 1 and steps
/// by the number of CPUs, so that no two CPUs ever hand out the same id.
fn start_packet_ids(skel: &VrftSkel) -> Result<()> {
    use libbpf_rs::MapCore;
    let cpus = libbpf_rs::num_possible_cpus().map_err(Error::bpf("counting the CPUs"))?;
    let per_cpu = |v: &dyn Fn(u64) -> u64| -> Vec<Vec<u8>> {
        (0..cpus as u64)
            .map(|i| v(i).to_ne_bytes().to_vec())
            .collect()
    };
    let next = crate::contract::vrft_counter::CNT_MAX;
    for (key, values) in [
        (next, per_cpu(&|i| i + 1)),
        (next + 1, per_cpu(&|_| cpus as u64)),
    ] {
        skel.maps
            .counters
            .update_percpu(&key.to_ne_bytes(), &values, libbpf_rs::MapFlags::ANY)
            .map_err(Error::bpf("starting the packet id counters"))?;
    }
    Ok(())
}

/// What every backend attempt shares: the targets and the kernel's facts.
struct Plan {
    targets: Vec<Target>,
    /// Probe table rows of the functions the scan rejected.
    skipped: Vec<vrft_events::session::Probe>,
    tracepoint_btf_ids: Vec<Option<u32>>,
    drop_reasons: Vec<(u32, String)>,
    features: features::Features,
}

/// Which identity rules the attached probes allow (docs/design.md, "Packet identity").
struct Identity {
    /// `kfree_skbmem` is probed: the exit of the free functions ends a packet;
    /// otherwise the free tracepoints do.
    frees: bool,
    /// A function that builds an sk_buff in place is probed: a new life of an
    /// address is seen where it starts.
    births: bool,
}

impl Identity {
    fn of(probes: &[vrft_events::session::Probe], targets: &[Target]) -> Identity {
        let attached = || {
            probes
                .iter()
                .filter(|p| p.status == ProbeStatus::Attached && p.origin != Origin::Tracepoint)
                .filter_map(|p| targets.get(p.func? as usize))
        };
        Identity {
            frees: attached().any(|t| t.name == "kfree_skbmem" && t.origin == Origin::Vmlinux),
            births: attached().any(|t| t.role == plan::Role::Birth),
        }
    }
}

impl Tracer {
    /// Scans, chooses a backend and attaches everything (not armed yet).
    /// `interrupted` stops the attach early (Ctrl-C); what was attached is released.
    pub fn start(cfg: &Config, interrupted: &AtomicBool) -> Result<(Tracer, Receiver<Vec<Event>>)> {
        check_privileges()?;
        // libbpf explains every refused backend at length; our one line says
        // which backend and why. The binary sets libbpf_debug for libbpf's own words.
        if !cfg.libbpf_debug {
            libbpf_rs::set_print(None);
        }
        let plan = Self::plan(cfg)?;
        if let Some(pid) = release::running() {
            eprintln!(
                "vrft-tui: the probes of an earlier trace are still being released in the background \
                 (pid {pid}, log {}); attaching will be slower until it ends",
                release::log_file().display()
            );
        }
        raise_nofile(plan.targets.len() as u64 * 4 + 1024);

        let order = match cfg.backend {
            Some(b) => vec![b],
            None => vec![
                Backend::Fsession,
                Backend::Fentry,
                Backend::Kprobe,
                Backend::Tracepoint,
            ],
        };
        let mut refused = Vec::new();
        for backend in order {
            match Self::start_backend(backend, cfg, &plan, interrupted) {
                Ok(mut t) => {
                    let mut why = refused.clone();
                    if cfg.backend.is_some() {
                        why.insert(0, "as asked".to_string());
                    }
                    why.extend(t.compat_note.clone());
                    t.backend_reason = match why.is_empty() {
                        true => format!("backend: {backend}"),
                        false => format!("backend: {backend} ({})", why.join("; ")),
                    };
                    t.info.probes.extend(plan.skipped);
                    t.info.drop_reasons = plan.drop_reasons;
                    t.info.filter = cfg.filter_text.clone();
                    t.info.interfaces = interfaces::list();
                    t.info.namespaces = netns_names::scan();
                    t.info.realtime_offset_ns = Some(interfaces::realtime_offset_ns());
                    let rx = t.start_reader(cfg.queue_bytes)?;
                    return Ok((t, rx));
                }
                Err(e) if cfg.backend.is_none() && !interrupted.load(Ordering::Relaxed) => {
                    refused.push(format!("{backend} refused: {e}"));
                }
                Err(e) => {
                    return Err(Error::Backend {
                        backend,
                        cause: Box::new(e),
                    })
                }
            }
        }
        Err(Error::NoBackend(refused.join("\n  ")))
    }

    /// The scan, the targets, and what the kernel's BTF says of tracepoints and drops.
    fn plan(cfg: &Config) -> Result<Plan> {
        let scan = vrft_btf::scan(&vrft_btf::ScanOptions::system())?;
        let (targets, skipped) = plan::plan(&scan, &cfg.selection);
        if targets.is_empty() && cfg.backend != Some(Backend::Tracepoint) {
            return Err(Error::NothingSelected);
        }
        let vmlinux_path = Path::new(vrft_btf::SYSFS_BTF_DIR).join(vrft_btf::VMLINUX);
        let vmlinux = vrft_btf::BtfObject::vmlinux_from_file(&vmlinux_path)?;
        Ok(Plan {
            targets,
            skipped,
            tracepoint_btf_ids: backend::tracepoint::btf_ids(&vmlinux),
            drop_reasons: vmlinux.drop_reasons(),
            features: features::Features::probe(&vmlinux),
        })
    }

    /// Loads the skeleton for `backend` and attaches everything it needs.
    fn start_backend(
        backend: Backend,
        cfg: &Config,
        plan: &Plan,
        interrupted: &AtomicBool,
    ) -> Result<Tracer> {
        let started = Instant::now();
        let programs = plan
            .features
            .programs(backend)
            .map_err(|f| Error::Refused(plan.features.gap(f)))?;
        let compat_note = match programs {
            features::Programs::Current => None,
            features::Programs::Compatible(gap) => Some(format!(
                "{backend}: {}; using compatible {}",
                plan.features.gap(gap),
                if backend == Backend::Fentry {
                    "clones"
                } else {
                    "programs"
                }
            )),
        };
        let targets = &plan.targets;
        let attachers = backend::attachers(backend, targets.len(), plan.tracepoint_btf_ids.clone());
        let mut open = open_skel(compat_note.is_some())?;
        open.maps
            .events
            .set_max_entries(cfg.ring_bytes)
            .map_err(Error::bpf("sizing the ring buffer"))?;
        // With --count-hits, a slot per function id: the targets, then the tracepoints
        // appended after them; else the one slot the map must have.
        let slots = match cfg.count_hits {
            true => targets.len() + crate::contract::vrft_tp::TP_COUNT as usize,
            false => 1,
        };
        open.maps
            .hits
            .set_max_entries(slots as u32)
            .map_err(Error::bpf("sizing the hit counters"))?;
        let ro = open
            .maps
            .rodata_data
            .as_deref_mut()
            .ok_or(Error::MissingSection(".rodata"))?;
        rodata::fill(ro, cfg);
        // Only what the chosen backend attaches is loaded (and verified).
        for mut p in open.open_object_mut().progs_mut() {
            p.set_autoload(false);
        }
        for a in &attachers {
            a.prepare(&mut open, targets)?;
        }
        let skel = open.load().map_err(Error::bpf("loading the programs"))?;
        if compat_note.is_some() {
            start_packet_ids(&skel)?;
        }

        let mut tracer = Tracer {
            skel,
            backend,
            backend_reason: String::new(),
            compat_note,
            info: Self::session_info(backend, cfg, targets),
            attached: Attached::default(),
            stop: Arc::new(AtomicBool::new(false)),
            reader: None,
            reader_stats: Arc::default(),
            wait_detach: cfg.wait_detach,
            count_hits: cfg.count_hits,
            attach_time: Duration::ZERO,
        };
        for a in &attachers {
            let ctx = AttachCtx {
                skel: &tracer.skel,
                targets,
                cfg,
                interrupted,
            };
            let attached = a.attach(&ctx);
            // What attached so far is kept (and released) even if this one failed.
            match attached {
                Ok(done) => tracer.attached.merge(done),
                Err(e) => {
                    tracer.release_now();
                    return Err(e);
                }
            }
        }
        tracer.info.probes = std::mem::take(&mut tracer.attached.probes);
        tracer.info.functions.append(&mut tracer.attached.functions);
        let tp_func = backend::tracepoint::func_ids(&tracer.info.probes);
        let identity = Identity::of(&tracer.info.probes, targets);
        tracer.set_bss(|bss| {
            bss.tp_func = tp_func;
            bss.tp_ends_tracking = u32::from(!identity.frees);
            bss.frees_probed = u32::from(identity.frees && identity.births);
        })?;
        tracer.attach_time = started.elapsed();
        if interrupted.load(Ordering::Relaxed) {
            tracer.release_now();
            return Err(Error::Interrupted);
        }
        Ok(tracer)
    }

    /// The session description before attaching: the function table holds the
    /// targets (function id = position) unless only tracepoints are used.
    fn session_info(backend: Backend, cfg: &Config, targets: &[Target]) -> SessionInfo {
        SessionInfo {
            backend: Some(backend),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_string(),
            skb_fields: cfg.skb_fields.iter().map(|f| f.name.clone()).collect(),
            functions: match backend {
                Backend::Tracepoint => Vec::new(),
                _ => targets.iter().map(Target::func_info).collect(),
            },
            snaplen: Some(cfg.snaplen.min(config::MAX_SNAPLEN)),
            host: Some(vrft_events::session::Host::this()),
            ..Default::default()
        }
    }

    /// Starts the ring-buffer reader thread, which owns its own fd of the map.
    fn start_reader(&mut self, queue_bytes: Option<usize>) -> Result<Receiver<Vec<Event>>> {
        let batches = queue_bytes.map_or(256, |b| {
            (b / (reader::BATCH * std::mem::size_of::<Event>())).clamp(2, 256)
        });
        let (tx, rx) = crossbeam_channel::bounded(batches);
        let stop = self.stop.clone();
        let stats = self.reader_stats.clone();
        let ring = libbpf_rs::MapHandle::try_from(&self.skel.maps.events)
            .map_err(Error::bpf("opening the ring buffer"))?;
        let (mapped_tx, mapped) = std::sync::mpsc::sync_channel(1);
        let handle = std::thread::Builder::new()
            .name("ringbuf".into())
            .spawn(move || reader::run(&ring, tx, &stop, stats, mapped_tx))
            .map_err(Error::io("starting the ring buffer reader"))?;
        // Start returns with the ring mapped, so what it costs shows in the resident set
        // (live mode's memory budget measures it). A reader that failed says why on join.
        let _ = mapped.recv();
        self.reader = Some(handle);
        Ok(rx)
    }

    fn set_bss(&mut self, f: impl FnOnce(&mut skel::types::bss)) -> Result<()> {
        let bss = self
            .skel
            .maps
            .bss_data
            .as_deref_mut()
            .ok_or(Error::MissingSection(".bss"))?;
        f(bss);
        Ok(())
    }

    /// Starts recording: every probe from now on reports packets.
    pub fn arm(&mut self) -> Result<()> {
        self.set_bss(|bss| bss.armed = 1)
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
        let a = &self.attached;
        let progs = a.func_progs.iter().chain(&a.other_progs);
        Ok(StatsProbe {
            counters: libbpf_rs::MapHandle::try_from(&self.skel.maps.counters)
                .map_err(Error::bpf("opening the counters"))?,
            progs: progs.map(|f| f.as_raw_fd()).collect(),
            func_progs: a.func_progs.len(),
            reader: self.reader_stats.clone(),
            hits: match self.count_hits {
                true => Some(
                    libbpf_rs::MapHandle::try_from(&self.skel.maps.hits)
                        .map_err(Error::bpf("opening the hit counters"))?,
                ),
                false => None,
            },
            probe_funcs: self.info.probes.iter().map(|p| p.func).collect(),
        })
    }

    /// Disarms every probe at once, drains the ring buffer, collects the loss
    /// counters, and releases the probes (in the background unless `--wait-detach`).
    pub fn stop(mut self) -> Result<StopReport> {
        let _ = self.set_bss(|bss| bss.armed = 0);
        self.stop.store(true, Ordering::Release);
        if let Some(r) = self.reader.take() {
            r.join().map_err(|_| Error::ReaderPanicked)??;
        }
        let probe = self.stats_probe()?;
        let (recursion_misses, verified_insns_max) = probe.prog_totals();
        let mut report = StopReport {
            stats: probe.with_misses(recursion_misses),
            links: self.attached.slow_links.len() + self.attached.cheap_links.len(),
            verified_insns_max,
            filter_runs: probe.filter_runs(),
            ..Default::default()
        };
        report.release_pid = self.release_now();
        Ok(report)
    }

    /// Releases every link; returns the pid of the background release if one was started.
    fn release_now(&mut self) -> Option<u32> {
        let slow: Vec<OwnedFd> = std::mem::take(&mut self.attached.slow_links);
        let cheap: Vec<OwnedFd> = std::mem::take(&mut self.attached.cheap_links);
        if slow.is_empty() || self.wait_detach {
            // Tracepoint and multi-kprobe links take well under a second: closed here.
            drop(cheap);
            if !slow.is_empty() {
                release::in_foreground(slow);
            }
            return None;
        }
        // With a background release anyway, the cheap links go there too: the six
        // tracepoints alone took 0.5 s of the stop on 7.2 under emulation.
        let links: Vec<OwnedFd> = cheap.into_iter().chain(slow).collect();
        match release::in_background(links) {
            Ok(pid) => Some(pid),
            Err(e) => {
                eprintln!("vrft-tui: {e}; releasing here instead");
                None
            }
        }
    }
}
