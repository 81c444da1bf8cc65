//! Replacing the body of a static BPF subprogram in a loaded program's
//! instructions: how the translated pcap filter gets into every probe clone.
//!
//! libbpf appends subprograms after the main program; func_info names where
//! each starts. A replacement of another length moves everything after it, so
//! calls that cross the replaced range and the func_info offsets are adjusted.
//! (Jumps never leave their subprogram; only calls cross.)

use libbpf_sys::{bpf_func_info, bpf_insn};

const BPF_JMP_CALL: u8 = 0x85;
const BPF_PSEUDO_CALL: u8 = 1;

fn src_reg(insn: &bpf_insn) -> u8 {
    // SAFETY: bpf_insn is 8 plain bytes; byte 1 holds dst (low nibble) and src (high nibble).
    let bytes: [u8; 8] = unsafe { std::mem::transmute(*insn) };
    bytes[1] >> 4
}

fn is_subprog_call(insn: &bpf_insn) -> bool {
    insn.code == BPF_JMP_CALL && src_reg(insn) == BPF_PSEUDO_CALL
}

/// An instruction from the 8 bytes of the kernel's `struct bpf_insn`.
pub fn insn_from_bytes(bytes: [u8; 8]) -> bpf_insn {
    // SAFETY: same size, and every bit pattern is a valid bpf_insn.
    unsafe { std::mem::transmute(bytes) }
}

/// Replaces the subprogram starting at instruction `start` with `body`.
/// Returns the new instructions and func_info.
pub fn replace_subprog(
    insns: &[bpf_insn],
    func_info: &[bpf_func_info],
    start: u32,
    body: &[bpf_insn],
) -> Result<(Vec<bpf_insn>, Vec<bpf_func_info>), String> {
    let mut starts: Vec<u32> = func_info.iter().map(|f| f.insn_off).collect();
    starts.sort_unstable();
    if !starts.contains(&start) || start == 0 {
        return Err(format!("no subprogram starts at instruction {start}"));
    }
    let end = starts
        .iter()
        .copied()
        .find(|&s| s > start)
        .unwrap_or(insns.len() as u32);
    let (s, e) = (start as i64, end as i64);
    let delta = body.len() as i64 - (e - s);

    let mut out = Vec::with_capacity((insns.len() as i64 + delta) as usize);
    for (i, insn) in insns.iter().enumerate() {
        let i = i as i64;
        if i == s {
            out.extend_from_slice(body);
        }
        if (s..e).contains(&i) {
            continue;
        }
        let mut insn = *insn;
        if is_subprog_call(&insn) {
            let target = i + 1 + insn.imm as i64;
            // Calls from before the range to after it, and back, span the change
            // (the replaced subprogram still starts where it did).
            if i < s && target >= e {
                insn.imm += delta as i32;
            } else if i >= e && target <= s {
                insn.imm -= delta as i32;
            } else if (s..e).contains(&target) && target != s {
                return Err(format!(
                    "call into the middle of the replaced subprogram at {i}"
                ));
            }
        }
        out.push(insn);
    }
    let info = func_info
        .iter()
        .map(|f| {
            let mut f = *f;
            if f.insn_off >= end {
                f.insn_off = (f.insn_off as i64 + delta) as u32;
            }
            f
        })
        .collect();
    Ok((out, info))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insn(code: u8, regs: u8, imm: i32) -> bpf_insn {
        insn_from_bytes([
            code,
            regs,
            0,
            0,
            imm as u8,
            (imm >> 8) as u8,
            (imm >> 16) as u8,
            (imm >> 24) as u8,
        ])
    }
    fn call(imm: i32) -> bpf_insn {
        insn(BPF_JMP_CALL, BPF_PSEUDO_CALL << 4, imm)
    }
    fn mov(imm: i32) -> bpf_insn {
        insn(0xb7, 0, imm)
    }
    fn exit() -> bpf_insn {
        insn(0x95, 0, 0)
    }
    fn fi(off: u32, type_id: u32) -> bpf_func_info {
        bpf_func_info {
            insn_off: off,
            type_id,
        }
    }

    /// main calls A (replaced) and B; A calls B: every call still lands on its callee.
    #[test]
    fn calls_across_the_replaced_range_are_adjusted() {
        // 0: call A  1: call B  2: exit | A: 3: call B 4: mov 5: exit | B: 6: mov 7: exit
        let insns = vec![
            call(2),
            call(4),
            exit(),
            call(2),
            mov(1),
            exit(),
            mov(2),
            exit(),
        ];
        let info = vec![fi(0, 1), fi(3, 2), fi(6, 3)];
        let body = vec![mov(7), mov(8), mov(9), mov(10), exit()];
        let (out, info) = replace_subprog(&insns, &info, 3, &body).unwrap();
        assert_eq!(out.len(), 10);
        assert_eq!(
            info.iter().map(|f| f.insn_off).collect::<Vec<_>>(),
            vec![0, 3, 8]
        );
        // main's calls: to A (still at 3) and to B (now at 8).
        assert_eq!(1 + out[0].imm, 3);
        assert_eq!(1 + 1 + out[1].imm, 8);
        assert_eq!(out[3].imm, 7, "the body is in place");
        assert_eq!(out[8].imm, 2, "B follows the body");
    }

    /// A later subprogram calling back over a shrunk range.
    #[test]
    fn backward_calls_over_a_shrunk_range() {
        // 0: call B  1: exit | A: 2: mov 3: mov 4: exit | B: 5: call C  6: exit | C (replaced target check) 7: mov 8: exit
        let insns = vec![
            call(4),
            exit(),
            mov(1),
            mov(1),
            exit(),
            call(-4),
            exit(),
            mov(3),
            exit(),
        ];
        let info = vec![fi(0, 1), fi(2, 2), fi(5, 3), fi(7, 4)];
        let (out, info) = replace_subprog(&insns, &info, 2, &[exit()]).unwrap();
        assert_eq!(
            info.iter().map(|f| f.insn_off).collect::<Vec<_>>(),
            vec![0, 2, 3, 5]
        );
        assert_eq!(1 + out[0].imm, 3, "main still calls B");
        assert_eq!(3 + 1 + out[3].imm, 2, "B still calls A");
        assert!(replace_subprog(&insns, &info, 1, &[exit()]).is_err());
    }
}
