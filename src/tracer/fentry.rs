//! fentry/fexit mass attach: the two template programs are verified once in the
//! skeleton, then their instructions are loaded again per target function with
//! that function's BTF id (as retsnoop does), and each clone gets a link whose
//! BPF cookie tells the program which function it is on.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

use super::plan::Target;
use super::template::{fd_or_errno, Template};

/// Attaches a loaded clone; the cookie identifies the function to the program.
pub fn attach(tpl: &Template, prog: &OwnedFd, cookie: u64) -> Result<OwnedFd, String> {
    let mut opts = libbpf_sys::bpf_link_create_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_link_create_opts>() as _,
        ..Default::default()
    };
    opts.__bindgen_anon_1.tracing.cookie = cookie;
    // SAFETY: prog is a valid program fd; opts lives across the call.
    let fd = unsafe { libbpf_sys::bpf_link_create(prog.as_raw_fd(), 0, tpl.attach_type(), &opts) };
    fd_or_errno("attach", fd)
}

/// One function with both probes attached. The program fds are kept to read
/// their statistics; the links keep the programs alive on their own.
pub struct Probed {
    pub progs: [OwnedFd; 2],
    pub links: [OwnedFd; 2],
}

/// Loads the entry and exit clones of every target, on `threads` threads:
/// verification is CPU-bound and independent per program, unlike attaching.
pub fn load_all(
    entry: &Template,
    exit: &Template,
    targets: &[Target],
    obj_fd: &(dyn Fn(&str) -> RawFd + Sync),
    threads: usize,
    stop: &AtomicBool,
    progress: &(dyn Fn() + Sync),
) -> Vec<Result<[OwnedFd; 2], String>> {
    let chunk = targets.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|s| {
        let workers: Vec<_> = targets
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|t| {
                            if stop.load(Ordering::Relaxed) {
                                return Err("interrupted".to_string());
                            }
                            let fd = obj_fd(&t.module);
                            let r = entry
                                .load(t.btf_id, fd)
                                .and_then(|e| exit.load(t.btf_id, fd).map(|x| [e, x]));
                            progress();
                            r
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("loader thread panicked"))
            .collect()
    })
}

/// Attaches both clones of one function, or neither: an entry without its
/// exit would leave frames on the call stack that nothing pops.
pub fn attach_pair(
    entry: &Template,
    exit: &Template,
    progs: [OwnedFd; 2],
    cookie: u64,
) -> Result<Probed, String> {
    let e = attach(entry, &progs[0], cookie)?;
    let x = attach(exit, &progs[1], cookie)?;
    Ok(Probed {
        progs,
        links: [e, x],
    })
}
