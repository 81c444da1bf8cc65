//! What `dump`, `replay` and `export` read: one recording, or the recordings of several
//! hosts merged into one session (`vrft_events::merge`).

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use clap::Args;
use vrft_events::merge::{self, GivenOffset};
use vrft_events::record::Recording;

#[derive(Args, Debug, Default, Clone)]
pub struct MergeArgs {
    /// With recordings of several hosts: add NS nanoseconds to HOST's timestamps to put
    /// them on the first recording's clock, instead of the estimate from the packets both
    /// saw (HOST as in the tree's host markers: the hostname). Repeat for several hosts.
    #[arg(long, value_name = "HOST=NS", allow_hyphen_values = true)]
    pub clock_offset: Vec<GivenOffset>,
}

/// Reads `files`: one is a recording as it is, several are merged.
pub fn open(files: &[PathBuf], m: &MergeArgs) -> Result<Recording> {
    match files {
        [one] if m.clock_offset.is_empty() => Ok(Recording::read(one)?),
        [_] => Err(anyhow!(
            "--clock-offset aligns the recordings of several hosts: give two or more files"
        )),
        _ => {
            let mut recs = Vec::with_capacity(files.len());
            for f in files {
                recs.push((f.clone(), Recording::read(f)?));
            }
            merge::merge(recs, &m.clock_offset).map_err(|e| anyhow!(e))
        }
    }
}

/// The files in `files` as one name for messages: `a.vrft` or `a.vrft+b.vrft`.
pub fn display(files: &[PathBuf]) -> String {
    files
        .iter()
        .map(|f| f.display().to_string())
        .collect::<Vec<_>>()
        .join("+")
}

/// Whether a word of `dump`'s command line is a recording rather than a filter word.
pub fn is_recording(word: &str) -> bool {
    let p = Path::new(word);
    p.extension().is_some_and(|e| e == "vrft") || p.is_file()
}
