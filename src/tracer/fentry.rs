//! fentry/fexit mass attach: the two template programs are verified once in the
//! skeleton, then their instructions are loaded again per target function with
//! that function's BTF id (as retsnoop does), and each clone gets a link whose
//! BPF cookie tells the program which function it is on.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

use libbpf_rs::{AsRawLibbpf, Program};

use super::plan::Target;

/// The verified instructions of a template and the BTF that describes them.
pub struct Template {
    insns: Vec<libbpf_sys::bpf_insn>,
    func_info: Vec<u8>,
    func_info_cnt: u32,
    line_info: Vec<u8>,
    line_info_cnt: u32,
    btf_fd: RawFd,
    attach_type: libbpf_sys::bpf_attach_type,
    name: &'static std::ffi::CStr,
}

impl Template {
    /// Copies what is needed to load `prog` again elsewhere. `btf_fd` is the
    /// object's BTF fd, which must outlive the template.
    pub fn new(prog: &Program, btf_fd: RawFd, exit: bool) -> Template {
        let raw = prog.as_libbpf_object().as_ptr();
        // SAFETY: libbpf keeps the func/line info arrays for the life of the
        // loaded object; we copy them out.
        let (func_info, func_info_cnt, line_info, line_info_cnt) = unsafe {
            let fi_cnt = libbpf_sys::bpf_program__func_info_cnt(raw);
            let li_cnt = libbpf_sys::bpf_program__line_info_cnt(raw);
            let fi = libbpf_sys::bpf_program__func_info(raw) as *const u8;
            let li = libbpf_sys::bpf_program__line_info(raw) as *const u8;
            let copy = |p: *const u8, n: usize| {
                if p.is_null() || n == 0 {
                    Vec::new()
                } else {
                    std::slice::from_raw_parts(p, n).to_vec()
                }
            };
            (
                copy(
                    fi,
                    fi_cnt as usize * std::mem::size_of::<libbpf_sys::bpf_func_info>(),
                ),
                if fi.is_null() { 0 } else { fi_cnt },
                copy(
                    li,
                    li_cnt as usize * std::mem::size_of::<libbpf_sys::bpf_line_info>(),
                ),
                if li.is_null() { 0 } else { li_cnt },
            )
        };
        Template {
            insns: prog.insns().to_vec(),
            func_info,
            func_info_cnt,
            line_info,
            line_info_cnt,
            btf_fd,
            attach_type: if exit {
                libbpf_sys::BPF_TRACE_FEXIT
            } else {
                libbpf_sys::BPF_TRACE_FENTRY
            },
            name: if exit { c"vrft_fexit" } else { c"vrft_fentry" },
        }
    }

    /// Loads a copy of the template for one function (btf_obj_fd 0: vmlinux).
    pub fn load_for(&self, btf_id: u32, btf_obj_fd: RawFd) -> Result<OwnedFd, String> {
        let mut opts = libbpf_sys::bpf_prog_load_opts {
            sz: std::mem::size_of::<libbpf_sys::bpf_prog_load_opts>() as _,
            expected_attach_type: self.attach_type,
            attach_btf_id: btf_id,
            attach_btf_obj_fd: btf_obj_fd as u32,
            prog_btf_fd: self.btf_fd as u32,
            func_info: self.func_info.as_ptr().cast(),
            func_info_cnt: self.func_info_cnt,
            func_info_rec_size: std::mem::size_of::<libbpf_sys::bpf_func_info>() as u32,
            line_info: self.line_info.as_ptr().cast(),
            line_info_cnt: self.line_info_cnt,
            line_info_rec_size: std::mem::size_of::<libbpf_sys::bpf_line_info>() as u32,
            ..Default::default()
        };
        // SAFETY: all pointers reference buffers owned by self for the call.
        let fd = unsafe {
            libbpf_sys::bpf_prog_load(
                libbpf_sys::BPF_PROG_TYPE_TRACING,
                self.name.as_ptr(),
                c"GPL".as_ptr(),
                self.insns.as_ptr(),
                self.insns.len() as _,
                &mut opts,
            )
        };
        if fd < 0 {
            return Err(format!("load: {}", errno_name(-fd)));
        }
        // SAFETY: a fresh fd we own.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// Attaches a loaded clone; the cookie identifies the function to the program.
    pub fn attach(&self, prog: &OwnedFd, cookie: u64) -> Result<OwnedFd, String> {
        let mut opts = libbpf_sys::bpf_link_create_opts {
            sz: std::mem::size_of::<libbpf_sys::bpf_link_create_opts>() as _,
            ..Default::default()
        };
        opts.__bindgen_anon_1.tracing.cookie = cookie;
        // SAFETY: prog is a valid program fd; opts lives across the call.
        let fd =
            unsafe { libbpf_sys::bpf_link_create(prog.as_raw_fd(), 0, self.attach_type, &opts) };
        if fd < 0 {
            return Err(format!("attach: {}", errno_name(-fd)));
        }
        // SAFETY: a fresh fd we own.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
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
                                .load_for(t.btf_id, fd)
                                .and_then(|e| exit.load_for(t.btf_id, fd).map(|x| [e, x]));
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
    let e = entry.attach(&progs[0], cookie)?;
    let x = exit.attach(&progs[1], cookie)?;
    Ok(Probed {
        progs,
        links: [e, x],
    })
}

/// A readable name for the errors the kernel gives when loading or attaching.
pub fn errno_name(errno: i32) -> String {
    match errno {
        524 => "ENOTSUPP (the trampoline cannot take this prototype)".to_string(),
        libc::EBUSY => "EBUSY (ftrace cannot patch it: inlined copy or shared address)".to_string(),
        e => {
            let msg = std::io::Error::from_raw_os_error(e);
            format!("{msg}")
        }
    }
}
