//! Ctrl-C and SIGTERM set one flag that every loop checks, so every exit takes
//! the same path: disarm, drain, release.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::Result;

/// Installs the handlers and returns the flag they set.
pub fn interrupted_flag() -> Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, flag.clone())?;
    }
    Ok(flag)
}
