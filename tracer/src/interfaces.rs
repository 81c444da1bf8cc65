//! Interface names per network namespace, so the UI shows `eth0` instead of
//! `if2`: every namespace the system knows of is entered from a short-lived
//! thread (setns changes only the calling thread) and its interfaces listed.

use std::collections::BTreeMap;
use std::ffi::CStr;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use vrft_events::session::Interface;

/// One path per network namespace: named ones (/run/netns) and those of processes.
pub fn namespace_paths() -> BTreeMap<u64, PathBuf> {
    let mut found = BTreeMap::new();
    let named = std::fs::read_dir("/run/netns")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path());
    let of_tasks = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .map(|e| e.path().join("ns/net"));
    for path in named.chain(of_tasks) {
        if let Ok(meta) = std::fs::metadata(&path) {
            found.entry(meta.ino()).or_insert(path);
        }
    }
    found
}

/// The interfaces of the namespace the calling thread is in.
fn here() -> Vec<(u32, String)> {
    let mut out = Vec::new();
    // SAFETY: if_nameindex returns an array terminated by a zero entry, freed below.
    unsafe {
        let list = libc::if_nameindex();
        if list.is_null() {
            return out;
        }
        let mut p = list;
        while (*p).if_index != 0 {
            out.push((
                (*p).if_index,
                CStr::from_ptr((*p).if_name).to_string_lossy().into_owned(),
            ));
            p = p.add(1);
        }
        libc::if_freenameindex(list);
    }
    out
}

/// Every interface of every network namespace, by namespace inode.
pub fn list() -> Vec<Interface> {
    let mut all = Vec::new();
    for (ino, path) in namespace_paths() {
        let listed = std::thread::spawn(move || {
            let ns = File::open(path).ok()?;
            // SAFETY: setns on this thread only; the thread ends right after.
            (unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } == 0).then(here)
        })
        .join()
        .ok()
        .flatten()
        .unwrap_or_default();
        all.extend(listed.into_iter().map(|(ifindex, name)| Interface {
            netns: ino as u32,
            ifindex,
            name,
        }));
    }
    all
}

/// CLOCK_REALTIME minus CLOCK_MONOTONIC (the clock of `bpf_ktime_get_ns`), in nanoseconds.
pub fn realtime_offset_ns() -> i64 {
    let now = |clock| {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: ts is a valid, writable timespec for the call's duration.
        unsafe { libc::clock_gettime(clock, &mut ts) };
        ts.tv_sec * 1_000_000_000 + ts.tv_nsec
    };
    let mono = now(libc::CLOCK_MONOTONIC);
    let real = now(libc::CLOCK_REALTIME);
    real - mono
}
