//! eBPF instruction encoding (the kernel's `struct bpf_insn`, 8 bytes each).

/// One eBPF instruction, laid out as the kernel's `struct bpf_insn`:
/// `code:8, dst_reg:4, src_reg:4, off:16, imm:32`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EbpfInsn {
    pub code: u8,
    pub dst: u8,
    pub src: u8,
    pub off: i16,
    pub imm: i32,
}

// Instruction classes.
pub const BPF_LD: u8 = 0x00;
pub const BPF_LDX: u8 = 0x01;
pub const BPF_ST: u8 = 0x02;
pub const BPF_STX: u8 = 0x03;
pub const BPF_ALU: u8 = 0x04;
pub const BPF_JMP: u8 = 0x05;
pub const BPF_JMP32: u8 = 0x06;
pub const BPF_ALU64: u8 = 0x07;

// Sizes and modes for loads and stores.
pub const BPF_W: u8 = 0x00;
pub const BPF_H: u8 = 0x08;
pub const BPF_B: u8 = 0x10;
pub const BPF_DW: u8 = 0x18;
pub const BPF_IMM: u8 = 0x00;
pub const BPF_MEM: u8 = 0x60;

// Source operand.
pub const BPF_K: u8 = 0x00;
pub const BPF_X: u8 = 0x08;

// ALU operations.
pub const BPF_ADD: u8 = 0x00;
pub const BPF_SUB: u8 = 0x10;
pub const BPF_MUL: u8 = 0x20;
pub const BPF_DIV: u8 = 0x30;
pub const BPF_OR: u8 = 0x40;
pub const BPF_AND: u8 = 0x50;
pub const BPF_LSH: u8 = 0x60;
pub const BPF_RSH: u8 = 0x70;
pub const BPF_NEG: u8 = 0x80;
pub const BPF_MOD: u8 = 0x90;
pub const BPF_XOR: u8 = 0xa0;
pub const BPF_MOV: u8 = 0xb0;
pub const BPF_END: u8 = 0xd0;
/// Source flag of `BPF_END`: convert to big endian (network order).
pub const BPF_TO_BE: u8 = 0x08;

// Jump operations.
pub const BPF_JA: u8 = 0x00;
pub const BPF_JEQ: u8 = 0x10;
pub const BPF_JGT: u8 = 0x20;
pub const BPF_JGE: u8 = 0x30;
pub const BPF_JSET: u8 = 0x40;
pub const BPF_JNE: u8 = 0x50;
pub const BPF_CALL: u8 = 0x80;
pub const BPF_EXIT: u8 = 0x90;
pub const BPF_JLT: u8 = 0xa0;
pub const BPF_JLE: u8 = 0xb0;

/// `src_reg` of a `BPF_CALL` to a bpf-to-bpf subprogram (imm = relative target).
pub const BPF_PSEUDO_CALL: u8 = 1;
/// `src_reg` of a `BPF_LD | BPF_IMM | BPF_DW` that loads a map by file descriptor.
pub const BPF_PSEUDO_MAP_FD: u8 = 1;

/// Register numbers.
pub const R0: u8 = 0;
pub const R1: u8 = 1;
pub const R2: u8 = 2;
pub const R3: u8 = 3;
pub const R4: u8 = 4;
pub const R5: u8 = 5;
pub const R10: u8 = 10;

impl EbpfInsn {
    pub const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Self {
        EbpfInsn {
            code,
            dst,
            src,
            off,
            imm,
        }
    }

    /// The register byte of `struct bpf_insn`: its bitfields follow the host's byte order.
    pub const fn regs(&self) -> u8 {
        if cfg!(target_endian = "little") {
            (self.src << 4) | (self.dst & 0x0f)
        } else {
            (self.dst << 4) | (self.src & 0x0f)
        }
    }

    /// The instruction as the kernel reads it on this host.
    pub fn to_bytes(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[0] = self.code;
        b[1] = self.regs();
        b[2..4].copy_from_slice(&self.off.to_ne_bytes());
        b[4..8].copy_from_slice(&self.imm.to_ne_bytes());
        b
    }

    // Constructors for the forms the translator and its tests emit.

    /// 32-bit ALU operation with an immediate (the result is zero-extended to 64 bits).
    pub const fn alu32_imm(op: u8, dst: u8, imm: i32) -> Self {
        Self::new(BPF_ALU | op | BPF_K, dst, 0, 0, imm)
    }
    pub const fn alu32_reg(op: u8, dst: u8, src: u8) -> Self {
        Self::new(BPF_ALU | op | BPF_X, dst, src, 0, 0)
    }
    pub const fn alu64_imm(op: u8, dst: u8, imm: i32) -> Self {
        Self::new(BPF_ALU64 | op | BPF_K, dst, 0, 0, imm)
    }
    pub const fn alu64_reg(op: u8, dst: u8, src: u8) -> Self {
        Self::new(BPF_ALU64 | op | BPF_X, dst, src, 0, 0)
    }
    /// Byte-swap the low `bits` (16, 32 or 64) of `dst` from host to network order.
    pub const fn to_be(dst: u8, bits: i32) -> Self {
        Self::new(BPF_ALU | BPF_END | BPF_TO_BE, dst, 0, 0, bits)
    }
    /// `dst = *(size *)(src + off)`, zero-extended.
    pub const fn ldx(size: u8, dst: u8, src: u8, off: i16) -> Self {
        Self::new(BPF_LDX | BPF_MEM | size, dst, src, off, 0)
    }
    /// `*(size *)(dst + off) = src`.
    pub const fn stx(size: u8, dst: u8, src: u8, off: i16) -> Self {
        Self::new(BPF_STX | BPF_MEM | size, dst, src, off, 0)
    }
    /// `*(size *)(dst + off) = imm`.
    pub const fn st(size: u8, dst: u8, off: i16, imm: i32) -> Self {
        Self::new(BPF_ST | BPF_MEM | size, dst, 0, off, imm)
    }
    /// 64-bit compare of `dst` with a sign-extended immediate; jump `off` if true.
    pub const fn jmp_imm(op: u8, dst: u8, imm: i32, off: i16) -> Self {
        Self::new(BPF_JMP | op | BPF_K, dst, 0, off, imm)
    }
    pub const fn jmp_reg(op: u8, dst: u8, src: u8, off: i16) -> Self {
        Self::new(BPF_JMP | op | BPF_X, dst, src, off, 0)
    }
    /// 32-bit compare (low halves only, immediate taken as u32).
    pub const fn jmp32_imm(op: u8, dst: u8, imm: i32, off: i16) -> Self {
        Self::new(BPF_JMP32 | op | BPF_K, dst, 0, off, imm)
    }
    pub const fn jmp32_reg(op: u8, dst: u8, src: u8, off: i16) -> Self {
        Self::new(BPF_JMP32 | op | BPF_X, dst, src, off, 0)
    }
    pub const fn ja(off: i16) -> Self {
        Self::new(BPF_JMP | BPF_JA, 0, 0, off, 0)
    }
    /// Call a bpf-to-bpf subprogram `imm` instructions after the next one.
    pub const fn call_subprog(imm: i32) -> Self {
        Self::new(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, imm)
    }
    /// Call a kernel helper by id.
    pub const fn call_helper(id: i32) -> Self {
        Self::new(BPF_JMP | BPF_CALL, 0, 0, 0, id)
    }
    pub const fn exit() -> Self {
        Self::new(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
    }
    /// `BPF_LD | BPF_IMM | BPF_DW` is two instructions: the low then the high 32 bits.
    pub const fn ld_imm64(dst: u8, src: u8, imm: u64) -> [Self; 2] {
        [
            Self::new(BPF_LD | BPF_IMM | BPF_DW, dst, src, 0, imm as u32 as i32),
            Self::new(0, 0, 0, 0, (imm >> 32) as u32 as i32),
        ]
    }
}

impl From<EbpfInsn> for u64 {
    /// The 8 bytes of the instruction as one native-endian word.
    fn from(insn: EbpfInsn) -> u64 {
        u64::from_ne_bytes(insn.to_bytes())
    }
}

/// The bytes of a whole program, ready for `bpf_attr.insns` or an ELF section.
pub fn program_bytes(prog: &[EbpfInsn]) -> Vec<u8> {
    prog.iter().flat_map(|i| i.to_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_endian = "little")]
    fn encodes_like_struct_bpf_insn() {
        // ldxh r5, [r3 - 2]: code 0x69, dst 5 in the low nibble, src 3 in the high one.
        let insn = EbpfInsn::ldx(BPF_H, R5, R3, -2);
        assert_eq!(insn.to_bytes(), [0x69, 0x35, 0xfe, 0xff, 0, 0, 0, 0]);
        // be32 r0 and mov32 r0, 0xdeadbeef.
        assert_eq!(
            EbpfInsn::to_be(R0, 32).to_bytes(),
            [0xdc, 0, 0, 0, 32, 0, 0, 0]
        );
        let mov = EbpfInsn::alu32_imm(BPF_MOV, R0, 0xdeadbeefu32 as i32);
        assert_eq!(mov.to_bytes(), [0xb4, 0, 0, 0, 0xef, 0xbe, 0xad, 0xde]);
        assert_eq!(u64::from(mov), 0xdeadbeef_000000b4);
        assert_eq!(program_bytes(&[mov, EbpfInsn::exit()]).len(), 16);
    }
}
