//! Releasing probes without making the user wait.
//!
//! The kernel needs ~140 ms per fentry/fexit function to tear its trampoline
//! down (an RCU-tasks wait under a global ftrace lock), i.e. minutes for the
//! full set. The programs are disarmed first (one store), then a detached child
//! process inherits the link fds and closes them one by one while the shell is
//! already back. A link lives while any fd names it, so the parent's exit costs nothing.
//! The child starts closing only once the parent has exited: taking a multi-link's
//! trampolines down rewrites kernel text, which under emulation slowed the parent's last
//! second of work (draining, writing the file) by 1-2 s (7.2, fsession).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use crate::error::{Error, Result};

static RUN_DIR: OnceLock<PathBuf> = OnceLock::new();

/// Where the release child writes its pid and its log, if not /run/vrft-tui
/// (the binary passes `$VRFT_RUN_DIR`). Only the first call counts.
pub fn set_run_dir(dir: PathBuf) {
    let _ = RUN_DIR.set(dir);
}

/// Where the release child writes its pid and its log.
pub fn run_dir() -> PathBuf {
    RUN_DIR
        .get()
        .cloned()
        .unwrap_or_else(|| PathBuf::from("/run/vrft-tui"))
}

fn pid_file() -> PathBuf {
    run_dir().join("release.pid")
}

pub fn log_file() -> PathBuf {
    run_dir().join("release.log")
}

/// The pid of a background release still running, if any.
pub fn running() -> Option<u32> {
    let pid: u32 = fs::read_to_string(pid_file()).ok()?.trim().parse().ok()?;
    // SAFETY: signal 0 sends nothing; it only checks that the process exists.
    (unsafe { libc::kill(pid as i32, 0) } == 0).then_some(pid)
}

/// Hands `links` to a detached child that closes them; returns its pid.
pub fn in_background(links: Vec<OwnedFd>) -> Result<u32> {
    fs::create_dir_all(run_dir())
        .map_err(Error::io(format!("cannot create {}", run_dir().display())))?;
    // The child waits for end-of-file on this pipe: the write end stays open here until
    // this process exits (however it exits), and exec closes the child's copy.
    let (parent_gone, alive) =
        std::io::pipe().map_err(Error::io("cannot create the release pipe"))?;
    let fds: Vec<RawFd> = links.iter().map(|l| l.as_raw_fd()).collect();
    for &fd in fds.iter().chain([&parent_gone.as_raw_fd()]) {
        // libbpf (and std's pipe) open everything close-on-exec; these must survive the exec.
        // SAFETY: fd is open and owned by `links` or `parent_gone`.
        unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    }
    let list = fds
        .iter()
        .map(|f| f.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let exe = std::env::current_exe().map_err(Error::io("cannot find our own executable"))?;
    let mut cmd = Command::new(exe);
    cmd.arg("release-links")
        .env("VRFT_RELEASE_FDS", list)
        .env("VRFT_RELEASE_AFTER", parent_gone.as_raw_fd().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: setsid is async-signal-safe. A new session keeps the child out
    // of the terminal's process group, so a second Ctrl-C does not kill it.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let child = cmd
        .spawn()
        .map_err(Error::io("cannot start the background release"))?;
    // Written here, not by the child, so that it exists as soon as we return.
    fs::write(pid_file(), child.id().to_string())
        .map_err(Error::io(format!("cannot write {}", pid_file().display())))?;
    // Our copies of the fds can go now: the child holds the links.
    drop(links);
    drop(parent_gone);
    // Closed by the kernel when this process exits: the child's signal to start.
    std::mem::forget(alive);
    Ok(child.id())
}

/// Closes the links here, with a progress bar (`--wait-detach`).
pub fn in_foreground(links: Vec<OwnedFd>) {
    let bar = ProgressBar::new(links.len() as u64).with_style(
        ProgressStyle::with_template(
            "releasing {bar:30} {pos}/{len} links ({per_sec}, {eta} left)",
        )
        .expect("valid template"),
    );
    let (n, start) = (links.len(), Instant::now());
    for l in links {
        drop(l);
        bar.inc(1);
    }
    bar.finish_and_clear();
    eprintln!(
        "released {n} links in {:.1} s",
        start.elapsed().as_secs_f64()
    );
}

/// The `release-links` child: closes the inherited fds and logs progress.
pub fn child_main() -> Result<()> {
    let fds: Vec<RawFd> = std::env::var("VRFT_RELEASE_FDS")
        .map_err(|_| Error::NotAReleaseChild)?
        .split(',')
        .filter_map(|s| s.parse().ok())
        .collect();
    let log_error = || Error::io(format!("cannot write {}", log_file().display()));
    fs::create_dir_all(run_dir()).map_err(log_error())?;
    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_file())
        .map_err(log_error())?;
    let waited = wait_for_parent();
    let start = Instant::now();
    let mut note = |line: String| writeln!(log, "{line}").map_err(log_error());
    note(format!(
        "pid {}: vrft-tui exited after {:.2} s",
        std::process::id(),
        waited.as_secs_f64()
    ))?;
    note(format!(
        "pid {}: releasing {} links",
        std::process::id(),
        fds.len()
    ))?;
    for (i, fd) in fds.iter().enumerate() {
        // SAFETY: inherited fds that nothing else in this process uses.
        unsafe { libc::close(*fd) };
        if (i + 1) % 100 == 0 {
            note(format!(
                "released {}/{} links ({:.1} s)",
                i + 1,
                fds.len(),
                start.elapsed().as_secs_f64()
            ))?;
        }
    }
    note(format!(
        "done: {} links released in {:.1} s",
        fds.len(),
        start.elapsed().as_secs_f64()
    ))?;
    let _ = fs::remove_file(pid_file());
    Ok(())
}

/// Blocks until the parent has exited (end-of-file on the pipe it holds open); how long.
fn wait_for_parent() -> std::time::Duration {
    let start = Instant::now();
    let Some(fd) = std::env::var("VRFT_RELEASE_AFTER")
        .ok()
        .and_then(|v| v.parse::<RawFd>().ok())
    else {
        return start.elapsed();
    };
    // SAFETY: the inherited read end, used by nothing else in this process.
    let mut pipe = fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    // Nothing is ever written: read returns 0 (or an error) once the parent is gone.
    let _ = std::io::Read::read(&mut pipe, &mut [0u8; 1]);
    start.elapsed()
}
