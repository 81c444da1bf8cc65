//! The kernel's BTF objects of loaded modules, as fds: a probe on a module
//! function names its module's BTF object when it loads. (Reading BTF is the
//! btf crate's job; this only asks the kernel for object handles.)

use std::collections::HashMap;
use std::os::fd::{FromRawFd, OwnedFd};

use crate::error::Result;

/// Opens every kernel BTF object and keeps those of modules, by module name.
/// vmlinux functions need no object fd (0 means vmlinux to the kernel).
pub fn module_btf_fds() -> Result<HashMap<String, OwnedFd>> {
    let mut fds = HashMap::new();
    let mut id = 0u32;
    loop {
        let mut next = 0u32;
        // SAFETY: plain syscall wrappers writing into the locals passed.
        if unsafe { libbpf_sys::bpf_btf_get_next_id(id, &mut next) } != 0 {
            break;
        }
        id = next;
        // SAFETY: a plain syscall wrapper; a negative result is checked below.
        let raw = unsafe { libbpf_sys::bpf_btf_get_fd_by_id(id) };
        if raw < 0 {
            continue; // freed meanwhile (a module unloaded)
        }
        // SAFETY: a fresh fd that the kernel just gave us and nothing else holds.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut name = [0u8; 64];
        let mut info = libbpf_sys::bpf_btf_info {
            name: name.as_mut_ptr() as u64,
            name_len: name.len() as u32,
            ..Default::default()
        };
        let mut len = std::mem::size_of::<libbpf_sys::bpf_btf_info>() as u32;
        // SAFETY: info points at `name`, a local of name_len bytes, and len is info's size.
        if unsafe { libbpf_sys::bpf_btf_get_info_by_fd(raw, &mut info, &mut len) } != 0 {
            continue;
        }
        if info.kernel_btf == 0 {
            continue; // a BPF program's BTF, not the kernel's
        }
        let end = name.iter().position(|&c| c == 0).unwrap_or(name.len());
        let name = String::from_utf8_lossy(&name[..end]).into_owned();
        if name != vrft_btf::VMLINUX {
            fds.insert(name, fd);
        }
    }
    Ok(fds)
}
