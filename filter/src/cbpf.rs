//! Classic BPF instructions, as libpcap emits them (`struct bpf_insn` of `<pcap/bpf.h>`).

/// One classic BPF instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CbpfInsn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

// Classes (`code & 0x07`).
pub const LD: u16 = 0x00;
pub const LDX: u16 = 0x01;
pub const ST: u16 = 0x02;
pub const STX: u16 = 0x03;
pub const ALU: u16 = 0x04;
pub const JMP: u16 = 0x05;
pub const RET: u16 = 0x06;
pub const MISC: u16 = 0x07;

// Load sizes (`code & 0x18`).
pub const W: u16 = 0x00;
pub const H: u16 = 0x08;
pub const B: u16 = 0x10;

// Load modes (`code & 0xe0`).
pub const IMM: u16 = 0x00;
pub const ABS: u16 = 0x20;
pub const IND: u16 = 0x40;
pub const MEM: u16 = 0x60;
pub const LEN: u16 = 0x80;
pub const MSH: u16 = 0xa0;

// ALU and jump operations (`code & 0xf0`).
pub const ADD: u16 = 0x00;
pub const SUB: u16 = 0x10;
pub const MUL: u16 = 0x20;
pub const DIV: u16 = 0x30;
pub const OR: u16 = 0x40;
pub const AND: u16 = 0x50;
pub const LSH: u16 = 0x60;
pub const RSH: u16 = 0x70;
pub const NEG: u16 = 0x80;
pub const MOD: u16 = 0x90;
pub const XOR: u16 = 0xa0;
pub const JA: u16 = 0x00;
pub const JEQ: u16 = 0x10;
pub const JGT: u16 = 0x20;
pub const JGE: u16 = 0x30;
pub const JSET: u16 = 0x40;

// Operand source (`code & 0x08`) and return value (`code & 0x18`).
pub const K: u16 = 0x00;
pub const X: u16 = 0x08;
pub const RET_A: u16 = 0x10;

// MISC operations (`code & 0xf8`).
pub const TAX: u16 = 0x00;
pub const TXA: u16 = 0x80;

/// Number of 32-bit scratch memory words, `M[0]` to `M[15]`.
pub const MEMWORDS: u32 = 16;

impl CbpfInsn {
    /// A statement (`BPF_STMT`).
    pub const fn stmt(code: u16, k: u32) -> Self {
        CbpfInsn {
            code,
            jt: 0,
            jf: 0,
            k,
        }
    }

    /// A conditional jump (`BPF_JUMP`).
    pub const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Self {
        CbpfInsn { code, jt, jf, k }
    }

    pub const fn class(&self) -> u16 {
        self.code & 0x07
    }
}

/// True when no `ret` of the program can return non-zero, i.e. it rejects every packet.
/// libpcap's optimizer folds a filter that can never match down to a lone `ret #0`.
pub fn never_matches(prog: &[CbpfInsn]) -> bool {
    !prog
        .iter()
        .any(|i| i.class() == RET && (i.code & 0x18 != K || i.k != 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_matches_only_when_every_ret_is_zero() {
        assert!(never_matches(&[CbpfInsn::stmt(RET | K, 0)]));
        assert!(!never_matches(&[CbpfInsn::stmt(RET | K, 65535)]));
        assert!(!never_matches(&[CbpfInsn::stmt(RET | RET_A, 0)]));
        let prog = [
            CbpfInsn::stmt(LD | H | ABS, 12),
            CbpfInsn::jump(JMP | JEQ | K, 0x800, 0, 1),
            CbpfInsn::stmt(RET | K, 0),
            CbpfInsn::stmt(RET | K, 0),
        ];
        assert!(never_matches(&prog));
    }
}
