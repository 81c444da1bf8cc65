//! The clones of the fentry/fexit templates: loaded again per target function
//! with that function's BTF id (as retsnoop does), each attached with a link
//! whose BPF cookie tells the program which function it is on.
//!
//! Kernels without fentry cookies or `bpf_get_func_arg` (5.10-5.18) load the
//! compatible object's templates instead: each clone gets its cookie (and the
//! slot of its return value) written into its instructions, and is attached
//! with `BPF_RAW_TRACEPOINT_OPEN`, which needs no cookie and works from 5.5 on
//! (5.10 has no `BPF_LINK_CREATE` for tracing programs).
//!
//! Verifying a pair of clones is CPU work, independent per target, so loader
//! threads share it. Attaching stays serial (the kernel serialises it under
//! global locks) and starts only once everything is verified: overlapping the
//! two was measured slower in the VM (docs/BENCHMARKS.md): with loaders beside
//! it the attach loop ran about 1.5x slower, which cost far more time than the
//! verification it hid. `--load-threads 0` skips the verification phase and
//! loads each pair where the attach loop reaches it: the plain serial loop
//! that the attach benchmark compares with.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::Scope;

use crossbeam_channel::{Receiver, Sender};
use vrft_events::Origin;

use crate::contract::VRFT_CLONE_CONSTANT;
use crate::error::KernelError;
use crate::plan::Target;
use crate::template::{owned_fd, Template};

/// Attaches a loaded clone; the cookie identifies the function to the
/// program, unless it is `compat`ible (the cookie is in its instructions).
pub fn attach(
    tpl: &Template,
    prog: &OwnedFd,
    cookie: u64,
    compat: bool,
) -> Result<OwnedFd, KernelError> {
    if compat {
        // SAFETY: prog is a loaded tracing program with its attach target, which needs no name.
        let fd = unsafe { libbpf_sys::bpf_raw_tracepoint_open(std::ptr::null(), prog.as_raw_fd()) };
        return owned_fd("attach", fd);
    }
    let mut opts = libbpf_sys::bpf_link_create_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_link_create_opts>() as _,
        ..Default::default()
    };
    opts.__bindgen_anon_1.tracing.cookie = cookie;
    // SAFETY: prog is a valid program fd; opts lives across the call.
    let fd = unsafe { libbpf_sys::bpf_link_create(prog.as_raw_fd(), 0, tpl.attach_type(), &opts) };
    owned_fd("attach", fd)
}

/// One function with both probes attached. The program fds are kept to read
/// their statistics; the links keep the programs alive on their own.
pub struct Probed {
    pub progs: [OwnedFd; 2],
    pub links: [OwnedFd; 2],
}

/// The entry and exit templates, and the module BTF objects their clones attach into.
pub struct Clones {
    pub entry: Template,
    pub exit: Template,
    /// BTF object fds of the loaded modules, by module name (vmlinux is fd 0).
    pub modules: HashMap<String, OwnedFd>,
    /// The templates are the compatible object's: they hold the placeholder
    /// [`VRFT_CLONE_CONSTANT`] where the others ask for their cookie.
    pub compat: bool,
}

/// The two clones of `targets[index]`, verified, or why the kernel refused them.
pub struct Verified {
    pub index: usize,
    pub progs: Result<[OwnedFd; 2], KernelError>,
}

impl Clones {
    fn obj_fd(&self, origin: &Origin) -> RawFd {
        match origin {
            Origin::Module(m) => self.modules.get(m).map_or(0, |fd| fd.as_raw_fd()),
            Origin::Vmlinux | Origin::Tracepoint => 0,
        }
    }

    /// Loads (the kernel verifies) both clones for one target, function `id`.
    pub fn verify(&self, id: u32, t: &Target) -> Result<[OwnedFd; 2], KernelError> {
        let fd = self.obj_fd(&t.origin);
        let load = |tpl: &Template| match self.compat {
            false => tpl.load(t.btf_id, fd),
            true => tpl.load_with_constant(t.btf_id, fd, VRFT_CLONE_CONSTANT, t.clone_constant(id)),
        };
        Ok([load(&self.entry)?, load(&self.exit)?])
    }

    /// Starts `threads` loader threads in `scope` that verify every target
    /// until all are done, `stop` is set (Ctrl-C) or the results are dropped.
    /// Results come in the order they finish, about target order, since the
    /// threads take the targets in turn.
    pub fn verify_all<'scope, 'env>(
        &'env self,
        scope: &'scope Scope<'scope, 'env>,
        targets: &'env [Target],
        threads: usize,
        stop: &'env AtomicBool,
    ) -> Receiver<Verified> {
        let (tx, results) = crossbeam_channel::unbounded();
        let next = Arc::new(AtomicUsize::new(0));
        for _ in 0..threads.max(1) {
            let (tx, next) = (tx.clone(), next.clone());
            scope.spawn(move || self.verify_from(&next, targets, stop, &tx));
        }
        results
    }

    /// One loader: takes the next unverified target until there is none.
    fn verify_from(
        &self,
        next: &AtomicUsize,
        targets: &[Target],
        stop: &AtomicBool,
        tx: &Sender<Verified>,
    ) {
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            if index >= targets.len() || stop.load(Ordering::Relaxed) {
                return;
            }
            let progs = self.verify(index as u32, &targets[index]);
            // A closed channel: the caller has given up (backend refused).
            if tx.send(Verified { index, progs }).is_err() {
                return;
            }
        }
    }

    /// Attaches both clones of one function, or neither: an entry without its
    /// exit would leave frames on the call stack that nothing pops.
    pub fn attach_pair(&self, progs: [OwnedFd; 2], cookie: u64) -> Result<Probed, KernelError> {
        let e = attach(&self.entry, &progs[0], cookie, self.compat)?;
        let x = attach(&self.exit, &progs[1], cookie, self.compat)?;
        Ok(Probed {
            progs,
            links: [e, x],
        })
    }
}

/// Loaded clones by target index; `None` for targets never tried (Ctrl-C).
pub type Loaded = Vec<Option<Result<[OwnedFd; 2], KernelError>>>;

/// Gathers the loaders' results by target index until they are done (every
/// target verified, or Ctrl-C), calling `progress` for each. `Err(first error)`
/// as soon as the results show that the kernel refuses every clone.
pub fn collect(
    results: Receiver<Verified>,
    targets: usize,
    progress: &dyn Fn(),
) -> Result<Loaded, KernelError> {
    let mut loaded: Loaded = (0..targets).map(|_| None).collect();
    let mut refusal = Refusal::new(targets);
    for v in results {
        if let Some(e) = refusal.check(&v.progs) {
            return Err(e);
        }
        loaded[v.index] = Some(v.progs);
        progress();
    }
    Ok(loaded)
}

/// Results looked at before deciding that the kernel refuses fentry clones
/// altogether: enough that single refused functions cannot look like it, few
/// enough that the automatic backend choice falls back at once.
const REFUSAL_WINDOW: usize = 16;

/// Tells a kernel that refuses every clone (e.g. lockdown) from one that
/// refuses single functions: the templates loaded for the first target, so if
/// the first results (all of them, for few targets) failed to load, no target
/// will load and the backend counts as refused, with the first error.
pub struct Refusal {
    /// Results still to see before deciding; 0 once decided.
    undecided: usize,
    first_error: Option<KernelError>,
}

impl Refusal {
    pub fn new(targets: usize) -> Refusal {
        Refusal {
            undecided: targets.min(REFUSAL_WINDOW),
            first_error: None,
        }
    }

    /// Takes every load result in arrival order; `Some(error)`: the backend is refused.
    pub fn check<T>(&mut self, loaded: &Result<T, KernelError>) -> Option<KernelError> {
        if self.undecided == 0 {
            return None;
        }
        match loaded {
            Ok(_) => {
                self.undecided = 0;
                None
            }
            Err(e) => {
                self.first_error.get_or_insert_with(|| e.clone());
                self.undecided -= 1;
                if self.undecided == 0 {
                    self.first_error.take()
                } else {
                    None
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds load results (an errno for a refusal); returns the errno of each verdict.
    fn feed(r: &mut Refusal, results: &[Result<(), i32>]) -> Vec<Option<i32>> {
        results
            .iter()
            .map(|x| {
                let x = x.map_err(|errno| KernelError {
                    what: "load",
                    errno,
                });
                r.check(&x).map(|e| e.errno)
            })
            .collect()
    }

    #[test]
    fn refused_after_the_window_with_the_first_error() {
        let mut r = Refusal::new(1000);
        let eperm: Vec<Result<(), i32>> = (0..REFUSAL_WINDOW)
            .map(|i| Err(if i == 0 { libc::EPERM } else { libc::EINVAL }))
            .collect();
        let got = feed(&mut r, &eperm);
        assert!(got[..REFUSAL_WINDOW - 1].iter().all(Option::is_none));
        assert_eq!(got[REFUSAL_WINDOW - 1], Some(libc::EPERM));
    }

    #[test]
    fn few_targets_all_refused() {
        let mut r = Refusal::new(3);
        let got = feed(&mut r, &[Err(1), Err(2), Err(3)]);
        assert_eq!(got, [None, None, Some(1)]);
    }

    #[test]
    fn one_load_decides_the_backend_works() {
        let mut r = Refusal::new(1000);
        let mut results = vec![Err(libc::EINVAL), Ok(())];
        results.extend(std::iter::repeat_n(Err(libc::EINVAL), 100));
        assert!(feed(&mut r, &results).iter().all(Option::is_none));
    }
}
