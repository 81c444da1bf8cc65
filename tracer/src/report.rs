//! What [`crate::Tracer::stop`] found.

use vrft_events::session::Stats;

use crate::release;
use crate::stats::VerifiedInsns;

#[derive(Clone, Debug, Default)]
pub struct StopReport {
    /// Every counter, final.
    pub stats: Stats,
    /// Pid of the background release, when one was started.
    pub release_pid: Option<u32>,
    pub links: usize,
    pub verified_insns_max: VerifiedInsns,
    /// Filter decisions the BPF side made (see `CNT_FILTER_RUNS`).
    pub filter_runs: u64,
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
