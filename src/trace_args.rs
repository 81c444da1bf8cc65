//! Options shared by every command that attaches probes (`vrft-tui`, `record`).

use anyhow::{bail, Result};
use clap::Args;
use regex::Regex;

use crate::tracer::plan::Selection;
use crate::tracer::{Backend, Config};

#[derive(Args, Debug, Clone)]
pub struct TraceArgs {
    /// How to attach. fentry: cheapest per packet, but the kernel needs ~20 ms to attach and
    /// ~140 ms to release each function (the release runs in the background after you quit).
    /// kprobe: one kprobe session link for every function (Linux 6.10+), attached and released
    /// in about a second, costs more per packet. tracepoint: only the skb tracepoints (flat
    /// trees), for kernels that refuse function probes. Default: the first that works, in that order.
    #[arg(long, value_enum)]
    pub backend: Option<Backend>,
    /// Probe only functions whose name matches this regex.
    #[arg(long, value_name = "REGEX")]
    pub funcs: Option<String>,
    /// Do not probe functions whose name matches this regex.
    #[arg(long, value_name = "REGEX")]
    pub exclude_funcs: Option<String>,
    /// Probe only functions of this module ("vmlinux" for the core kernel); may be repeated.
    #[arg(long = "module", value_name = "NAME")]
    pub modules: Vec<String>,
    /// Ring buffer size in MiB (rounded up to a power of two).
    #[arg(long, default_value_t = 16, value_name = "MIB")]
    pub ring_size: u32,
    /// Threads that verify programs in parallel while attaching (default: all CPUs).
    #[arg(long, value_name = "N")]
    pub load_threads: Option<usize>,
    /// On exit, wait for the kernel to release every probe (with a progress bar) instead of
    /// releasing them in a background process.
    #[arg(long)]
    pub wait_detach: bool,
}

fn regex(flag: &str, re: &Option<String>) -> Result<Option<Regex>> {
    re.as_deref()
        .map(|r| {
            Regex::new(r).map_err(|e| {
                // The regex crate draws a multi-line picture; its last line names the problem.
                let text = e.to_string();
                let why = text
                    .lines()
                    .last()
                    .unwrap_or_default()
                    .trim_start_matches("error: ")
                    .to_string();
                anyhow::anyhow!("invalid {flag} regex '{r}': {why}; fix the pattern")
            })
        })
        .transpose()
}

impl TraceArgs {
    pub fn config(&self) -> Result<Config> {
        if self.ring_size == 0 || self.ring_size > 1024 {
            bail!(
                "--ring-size {} MiB is out of range: use 1 to 1024",
                self.ring_size
            );
        }
        Ok(Config {
            backend: self.backend,
            selection: Selection {
                funcs: regex("--funcs", &self.funcs)?,
                exclude: regex("--exclude-funcs", &self.exclude_funcs)?,
                modules: self.modules.clone(),
            },
            ring_bytes: (self.ring_size << 20).next_power_of_two(),
            load_threads: self
                .load_threads
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
            wait_detach: self.wait_detach,
            filter_text: String::new(),
        })
    }
}
