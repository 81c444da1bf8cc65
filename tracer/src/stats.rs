//! Reading what the tracer could not record: the BPF loss counters (every one
//! of `enum vrft_counter`), the programs' recursion misses, the reader's
//! counts, and what the verifier spent on each program.

use std::os::fd::RawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use libbpf_rs::{MapCore, MapFlags};
use vrft_events::session::Stats;

use crate::contract::vrft_counter;
use crate::reader::ReaderStats;

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

/// Reads the tracer's loss counters; valid while the [`crate::Tracer`] it came from is alive.
pub struct StatsProbe {
    pub(crate) counters: libbpf_rs::MapHandle,
    /// Program fds owned by the tracer, for their recursion-miss counters: the
    /// function probe programs first, then the tracepoint and kprobe programs.
    pub(crate) progs: Vec<RawFd>,
    pub(crate) func_progs: usize,
    pub(crate) reader: Arc<ReaderStats>,
    /// The per-function run counters, with `--count-hits`.
    pub(crate) hits: Option<libbpf_rs::MapHandle>,
    /// The function id of each row of the session's probe table (`None`: not attached).
    pub(crate) probe_funcs: Vec<Option<u32>>,
}

impl StatsProbe {
    /// A per-CPU counter of `enum vrft_counter`, summed over CPUs.
    fn counter(&self, which: vrft_counter::Type) -> u64 {
        percpu_sum(&self.counters, which)
    }

    /// Runs per row of the probe table, with `--count-hits` (else empty: not counted).
    fn probe_hits(&self) -> Vec<u64> {
        let Some(hits) = &self.hits else {
            return Vec::new();
        };
        self.probe_funcs
            .iter()
            .map(|f| f.map_or(0, |f| percpu_sum(hits, f)))
            .collect()
    }

    /// One pass over every program's kernel info: recursion misses (changing
    /// while live) and the verifier's work (fixed at load).
    pub(crate) fn prog_totals(&self) -> (u64, VerifiedInsns) {
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

    /// How many times the filter decided (every other hit of an unfollowed packet was
    /// answered by the rejection memo).
    pub fn filter_runs(&self) -> u64 {
        self.counter(vrft_counter::CNT_FILTER_RUNS)
    }

    pub fn read(&self) -> Stats {
        self.with_misses(self.prog_totals().0)
    }

    pub(crate) fn with_misses(&self, recursion_misses: u64) -> Stats {
        Stats {
            events: self.reader.events.load(Ordering::Relaxed),
            lost: self.counter(vrft_counter::CNT_RINGBUF_DROPS),
            recursion_misses,
            stack_overflows: self.counter(vrft_counter::CNT_STACK_OVERFLOW),
            stack_missing: self.counter(vrft_counter::CNT_STACK_MISSING),
            malformed: self.reader.malformed.load(Ordering::Relaxed),
            probe_hits: self.probe_hits(),
            ..Default::default()
        }
    }
}

/// Slot `key` of a per-CPU array of u64, summed over CPUs (0 when unreadable).
fn percpu_sum(map: &libbpf_rs::MapHandle, key: u32) -> u64 {
    match map.lookup_percpu(&key.to_ne_bytes(), MapFlags::ANY) {
        Ok(Some(per_cpu)) => per_cpu
            .iter()
            .filter_map(|v| Some(u64::from_ne_bytes(v.get(..8)?.try_into().ok()?)))
            .sum(),
        _ => 0,
    }
}

// Every counter BPF keeps is read above or below: a new one must be added too.
const _: () = assert!(vrft_counter::CNT_MAX == 4);
