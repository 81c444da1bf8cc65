//! The kernel's own BTF objects: module BTF fds to attach to module functions,
//! and which tracepoints exist in this kernel.

use std::collections::HashMap;
use std::ffi::CString;
use std::os::fd::{FromRawFd, OwnedFd};

use anyhow::{bail, Result};

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
        let raw = unsafe { libbpf_sys::bpf_btf_get_fd_by_id(id) };
        if raw < 0 {
            continue; // freed meanwhile (a module unloaded)
        }
        // SAFETY: a fresh fd we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut name = [0u8; 64];
        let mut info = libbpf_sys::bpf_btf_info {
            name: name.as_mut_ptr() as u64,
            name_len: name.len() as u32,
            ..Default::default()
        };
        let mut len = std::mem::size_of::<libbpf_sys::bpf_btf_info>() as u32;
        if unsafe { libbpf_sys::bpf_btf_get_info_by_fd(raw, &mut info, &mut len) } != 0 {
            continue;
        }
        if info.kernel_btf == 0 {
            continue; // a BPF program's BTF, not the kernel's
        }
        let end = name.iter().position(|&c| c == 0).unwrap_or(name.len());
        let name = String::from_utf8_lossy(&name[..end]).into_owned();
        if name != "vmlinux" {
            fds.insert(name, fd);
        }
    }
    Ok(fds)
}

/// The running kernel's vmlinux BTF, as libbpf reads it.
pub struct VmlinuxBtf(*mut libbpf_sys::btf);

impl VmlinuxBtf {
    pub fn load() -> Result<Self> {
        // SAFETY: returns an owned object or an error pointer.
        let btf = unsafe { libbpf_sys::btf__load_vmlinux_btf() };
        if btf.is_null() || (btf as isize) < 0 && (btf as isize) > -4096 {
            bail!("cannot read the kernel's BTF (/sys/kernel/btf/vmlinux): is CONFIG_DEBUG_INFO_BTF enabled?");
        }
        Ok(VmlinuxBtf(btf))
    }

    /// The BTF id a tp_btf program attaches with, if the tracepoint `name`
    /// (e.g. "net_dev_queue") exists in this kernel.
    pub fn tracepoint_btf_id(&self, name: &str) -> Option<u32> {
        let c = CString::new(format!("btf_trace_{name}")).ok()?;
        // SAFETY: valid btf object and NUL-terminated name.
        let id = unsafe {
            libbpf_sys::btf__find_by_name_kind(self.0, c.as_ptr(), libbpf_sys::BTF_KIND_TYPEDEF)
        };
        (id > 0).then_some(id as u32)
    }

    /// Names of `enum skb_drop_reason`, by value, to show why packets were dropped.
    pub fn drop_reasons(&self) -> Vec<(u32, String)> {
        let Ok(c) = CString::new("skb_drop_reason") else {
            return Vec::new();
        };
        // SAFETY: valid object; the returned pointers live as long as it does.
        unsafe {
            let id =
                libbpf_sys::btf__find_by_name_kind(self.0, c.as_ptr(), libbpf_sys::BTF_KIND_ENUM);
            if id <= 0 {
                return Vec::new();
            }
            let t = libbpf_sys::btf__type_by_id(self.0, id as u32);
            let vlen = ((*t).info & 0xffff) as usize;
            let members = t.add(1) as *const libbpf_sys::btf_enum;
            (0..vlen)
                .map(|i| {
                    let m = &*members.add(i);
                    let name = std::ffi::CStr::from_ptr(libbpf_sys::btf__name_by_offset(
                        self.0, m.name_off,
                    ));
                    let name = name.to_string_lossy();
                    (
                        m.val as u32,
                        name.trim_start_matches("SKB_DROP_REASON_").to_string(),
                    )
                })
                .collect()
        }
    }
}

impl Drop for VmlinuxBtf {
    fn drop(&mut self) {
        // SAFETY: we own the object.
        unsafe { libbpf_sys::btf__free(self.0) }
    }
}
