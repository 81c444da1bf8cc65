//! Trivial BPF programs (`r0 = IMM; exit`) and their links: the floor that any probe costs,
//! whatever it does. The attach benchmark's serial loop (bench.rs) and the per-hit benchmark
//! (bench_hits.rs) both measure vrft-tui against these.

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// A fresh fd, or the errno of a negative syscall result.
fn fd_or_errno(fd: i32) -> Result<OwnedFd, i32> {
    if fd < 0 {
        Err(-fd)
    } else {
        // SAFETY: a fresh fd nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}

/// Loads `r0 = ret; exit` as a program of `prog_type` for `attach_type` (and, for tracing
/// programs, the function `btf_id` of BTF object `obj_fd`, 0 for vmlinux).
pub fn load(
    prog_type: libbpf_sys::bpf_prog_type,
    attach_type: libbpf_sys::bpf_attach_type,
    btf_id: u32,
    obj_fd: i32,
    name: &CStr,
    ret: i32,
) -> Result<OwnedFd, i32> {
    let insn = |code: u8, imm: i32| libbpf_sys::bpf_insn {
        code,
        _bitfield_align_1: [],
        _bitfield_1: Default::default(), // dst_reg = src_reg = r0
        off: 0,
        imm,
    };
    // BPF_ALU64 | BPF_MOV | BPF_K, BPF_JMP | BPF_EXIT
    let insns = [insn(0xb7, ret), insn(0x95, 0)];
    let mut opts = libbpf_sys::bpf_prog_load_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_prog_load_opts>() as _,
        expected_attach_type: attach_type,
        attach_btf_id: btf_id,
        attach_btf_obj_fd: obj_fd as u32,
        ..Default::default()
    };
    // SAFETY: the instructions and options live across the call.
    fd_or_errno(unsafe {
        libbpf_sys::bpf_prog_load(
            prog_type,
            name.as_ptr(),
            c"GPL".as_ptr(),
            insns.as_ptr(),
            insns.len() as _,
            &mut opts,
        )
    })
}

/// A trivial fentry/fexit program on one function.
pub fn load_trivial(
    attach_type: libbpf_sys::bpf_attach_type,
    btf_id: u32,
    obj_fd: i32,
) -> Result<OwnedFd, i32> {
    load(
        libbpf_sys::BPF_PROG_TYPE_TRACING,
        attach_type,
        btf_id,
        obj_fd,
        c"base",
        0,
    )
}

/// Links a tracing program to the function it was loaded for.
pub fn attach(prog: &OwnedFd, attach_type: libbpf_sys::bpf_attach_type) -> Result<OwnedFd, i32> {
    // SAFETY: a valid program fd; no options.
    fd_or_errno(unsafe {
        libbpf_sys::bpf_link_create(prog.as_raw_fd(), 0, attach_type, std::ptr::null())
    })
}

/// One kprobe.multi (or kprobe session) link of `prog` on every function in `syms`.
pub fn attach_kprobe_multi(
    prog: &OwnedFd,
    attach_type: libbpf_sys::bpf_attach_type,
    syms: &[CString],
    flags: u32,
) -> Result<OwnedFd, i32> {
    let ptrs: Vec<*const libc::c_char> = syms.iter().map(|s| s.as_ptr()).collect();
    let mut opts = libbpf_sys::bpf_link_create_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_link_create_opts>() as _,
        ..Default::default()
    };
    opts.__bindgen_anon_1.kprobe_multi.syms = ptrs.as_ptr() as *mut _;
    opts.__bindgen_anon_1.kprobe_multi.cnt = ptrs.len() as u32;
    opts.__bindgen_anon_1.kprobe_multi.flags = flags;
    // SAFETY: the name array lives across the call; the kernel copies it.
    fd_or_errno(unsafe { libbpf_sys::bpf_link_create(prog.as_raw_fd(), 0, attach_type, &opts) })
}
