//! Every probe we run is a clone of a program the skeleton verified once: its
//! instructions (as libbpf sent them: relocated, subprograms appended, map fds
//! embedded) are loaded again with another attach target, and optionally with
//! the pcap filter spliced into the filter stubs. One mechanism serves fentry,
//! fexit, the tracepoints and the kprobe session program.

use std::ffi::{CStr, CString};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use libbpf_rs::{AsRawLibbpf, Object, Program};
use libbpf_sys::{bpf_func_info, bpf_insn, bpf_line_info};

use crate::error::KernelError;
use crate::splice;

/// The verified instructions of a program and the BTF that describes them.
pub struct Template {
    insns: Vec<bpf_insn>,
    func_info: Vec<bpf_func_info>,
    line_info: Vec<bpf_line_info>,
    /// Names of the subprograms, by their first instruction.
    subprogs: Vec<(u32, String)>,
    btf_fd: RawFd,
    prog_type: libbpf_sys::bpf_prog_type,
    attach_type: libbpf_sys::bpf_attach_type,
    name: CString,
}

/// Copies `n` records of type T from a libbpf-owned array.
///
/// SAFETY: `p` must point to `n` valid records (or be null).
unsafe fn copy_records<T: Copy>(p: *const T, n: u32) -> Vec<T> {
    if p.is_null() {
        Vec::new()
    } else {
        // SAFETY: non-null, and the caller promises n valid records.
        unsafe { std::slice::from_raw_parts(p, n as usize).to_vec() }
    }
}

impl Template {
    /// A template of `prog`, a loaded program of `obj`, whose BTF fd must
    /// outlive the template.
    pub fn new(
        obj: &Object,
        prog: &Program,
        prog_type: libbpf_sys::bpf_prog_type,
        attach_type: libbpf_sys::bpf_attach_type,
    ) -> Template {
        let raw = prog.as_libbpf_object().as_ptr();
        let obj = obj.as_libbpf_object().as_ptr();
        // SAFETY: libbpf keeps the func/line info of a loaded program and the
        // object's BTF for the life of the object.
        let (func_info, line_info, subprogs, btf_fd) = unsafe {
            let btf = libbpf_sys::bpf_object__btf(obj);
            let fi = copy_records(
                libbpf_sys::bpf_program__func_info(raw),
                libbpf_sys::bpf_program__func_info_cnt(raw),
            );
            let li = copy_records(
                libbpf_sys::bpf_program__line_info(raw),
                libbpf_sys::bpf_program__line_info_cnt(raw),
            );
            let names = fi
                .iter()
                .map(|f| {
                    let t = libbpf_sys::btf__type_by_id(btf, f.type_id);
                    let name = if t.is_null() {
                        String::new()
                    } else {
                        CStr::from_ptr(libbpf_sys::btf__name_by_offset(btf, (*t).name_off))
                            .to_string_lossy()
                            .into()
                    };
                    (f.insn_off, name)
                })
                .collect();
            (fi, li, names, libbpf_sys::bpf_object__btf_fd(obj))
        };
        Template {
            insns: prog.insns().to_vec(),
            func_info,
            line_info,
            subprogs,
            btf_fd,
            prog_type,
            attach_type,
            name: CString::new(prog.name().as_encoded_bytes()).unwrap_or_default(),
        }
    }

    /// Replaces the body of subprogram `name` (a filter stub) with `body`, if
    /// the program calls it; returns whether it did.
    pub fn splice_if_present(&mut self, name: &str, body: &[bpf_insn]) -> Result<bool, String> {
        let Some(start) = self
            .subprogs
            .iter()
            .find(|(_, n)| n == name)
            .map(|(s, _)| *s)
        else {
            return Ok(false);
        };
        let (insns, func_info) =
            splice::replace_subprog(&self.insns, &self.func_info, start, body)?;
        self.subprogs = func_info
            .iter()
            .zip(&self.subprogs)
            .map(|(f, (_, n))| (f.insn_off, n.clone()))
            .collect();
        self.insns = insns;
        self.func_info = func_info;
        // Line info would need the same shifting for no gain: the verifier does
        // not require it, and a clone's log is never shown to users.
        self.line_info.clear();
        Ok(true)
    }

    /// Loads a copy for one attach target (btf_obj_fd 0: vmlinux).
    pub fn load(&self, attach_btf_id: u32, btf_obj_fd: RawFd) -> Result<OwnedFd, KernelError> {
        self.load_insns(&self.insns, attach_btf_id, btf_obj_fd, None)
    }

    /// How many 64-bit immediate loads of `placeholder` the program has.
    pub fn constant_sites(&self, placeholder: u64) -> usize {
        constant_sites(&self.insns, placeholder).count()
    }

    /// Loads a copy for one attach target with `value` in place of every
    /// 64-bit immediate `placeholder`: a per-clone constant where the kernel
    /// gives tracing programs no cookie (the compatible fentry clones).
    pub fn load_with_constant(
        &self,
        attach_btf_id: u32,
        btf_obj_fd: RawFd,
        placeholder: u64,
        value: u64,
    ) -> Result<OwnedFd, KernelError> {
        let insns = self.with_constant(placeholder, value);
        self.load_insns(&insns, attach_btf_id, btf_obj_fd, None)
    }

    fn with_constant(&self, placeholder: u64, value: u64) -> Vec<bpf_insn> {
        let mut insns = self.insns.clone();
        for at in constant_sites(&self.insns, placeholder).collect::<Vec<_>>() {
            // A 64-bit immediate spans two instructions, low half first.
            insns[at].imm = value as u32 as i32;
            insns[at + 1].imm = (value >> 32) as u32 as i32;
        }
        insns
    }

    /// The verifier's statistics line for one clone ("processed N insns ..."),
    /// loaded once more for the purpose: kernels before 5.16 do not report the
    /// count in the program's info. `constant`: (placeholder, value), as
    /// [`Template::load_with_constant`].
    pub fn verifier_stats(
        &self,
        attach_btf_id: u32,
        btf_obj_fd: RawFd,
        constant: Option<(u64, u64)>,
    ) -> Option<String> {
        let insns = match constant {
            Some((placeholder, value)) => self.with_constant(placeholder, value),
            None => self.insns.clone(),
        };
        let mut log = vec![0u8; 4096];
        self.load_insns(&insns, attach_btf_id, btf_obj_fd, Some(&mut log))
            .ok()?;
        let text = String::from_utf8_lossy(&log);
        text.lines()
            .find(|l| l.starts_with("processed "))
            .map(str::to_string)
    }

    fn load_insns(
        &self,
        insns: &[bpf_insn],
        attach_btf_id: u32,
        btf_obj_fd: RawFd,
        log: Option<&mut [u8]>,
    ) -> Result<OwnedFd, KernelError> {
        let mut opts = libbpf_sys::bpf_prog_load_opts {
            sz: std::mem::size_of::<libbpf_sys::bpf_prog_load_opts>() as _,
            expected_attach_type: self.attach_type,
            attach_btf_id,
            attach_btf_obj_fd: btf_obj_fd as u32,
            prog_btf_fd: self.btf_fd as u32,
            func_info: self.func_info.as_ptr().cast(),
            func_info_cnt: self.func_info.len() as u32,
            func_info_rec_size: std::mem::size_of::<bpf_func_info>() as u32,
            line_info: self.line_info.as_ptr().cast(),
            line_info_cnt: self.line_info.len() as u32,
            line_info_rec_size: std::mem::size_of::<bpf_line_info>() as u32,
            ..Default::default()
        };
        if let Some(log) = log {
            opts.log_level = 4; // BPF_LOG_STATS: the totals only
            opts.log_buf = log.as_mut_ptr().cast();
            opts.log_size = log.len() as u32;
        }
        // SAFETY: all pointers reference buffers owned by self (or the log) for the call.
        let fd = unsafe {
            libbpf_sys::bpf_prog_load(
                self.prog_type,
                self.name.as_ptr(),
                c"GPL".as_ptr(),
                insns.as_ptr(),
                insns.len() as _,
                &mut opts,
            )
        };
        owned_fd("load", fd)
    }

    pub fn attach_type(&self) -> libbpf_sys::bpf_attach_type {
        self.attach_type
    }
}

/// Where `insns` load the 64-bit immediate `value` into a register (`r = value ll`:
/// opcode BPF_LD | BPF_IMM | BPF_DW, no pseudo source such as a map).
fn constant_sites(insns: &[bpf_insn], value: u64) -> impl Iterator<Item = usize> + '_ {
    const LD_IMM64: u8 = 0x18;
    insns.windows(2).enumerate().filter_map(move |(i, w)| {
        let imm = w[0].imm as u32 as u64 | (w[1].imm as u32 as u64) << 32;
        (w[0].code == LD_IMM64 && w[0].src_reg() == 0 && imm == value).then_some(i)
    })
}

/// Owns the fd a syscall returned, or names its errno.
pub fn owned_fd(what: &'static str, ret: i32) -> Result<OwnedFd, KernelError> {
    let fd = KernelError::check(what, ret)?;
    // SAFETY: a fresh fd that the kernel just gave us and nothing else holds.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::splice::insn_from_bytes;

    /// `r<dst> = value ll`: two instructions, the low half of value first.
    fn ld_imm64(dst: u8, value: u64) -> [bpf_insn; 2] {
        let lo = (value as u32).to_le_bytes();
        let hi = ((value >> 32) as u32).to_le_bytes();
        [
            insn_from_bytes([0x18, dst, 0, 0, lo[0], lo[1], lo[2], lo[3]]),
            insn_from_bytes([0, 0, 0, 0, hi[0], hi[1], hi[2], hi[3]]),
        ]
    }

    #[test]
    fn finds_the_placeholder_but_not_map_loads_or_other_values() {
        let magic = crate::contract::VRFT_CLONE_CONSTANT;
        let mut insns = Vec::new();
        insns.extend(ld_imm64(1, 7));
        insns.extend(ld_imm64(8, magic));
        // The same value as a map fd load (src_reg 1) is no placeholder.
        let mut map = ld_imm64(2, magic);
        map[0].set_src_reg(1);
        insns.extend(map);
        insns.extend(ld_imm64(9, magic));
        assert_eq!(constant_sites(&insns, magic).collect::<Vec<_>>(), [2, 6]);
    }
}
