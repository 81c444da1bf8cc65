//! Classic BPF to eBPF translation.
//!
//! Register map (all caller-saved, so the subprogram needs no spills):
//! r0 = A (so `ret a` is a bare `exit`), r1 = packet buffer, r2 = valid bytes,
//! r3 = packet length for `len`, r4 = X, r5 = scratch, r6 = byte scratch (stack buffers) or marks address,
//! M[i] = 32-bit stack slots below r10.
//! See docs/filters.md for the calling convention and the bounds-check strategy.

use crate::cbpf::{self, CbpfInsn};
use crate::ebpf::{self as e, EbpfInsn, R0, R1, R10, R2, R3, R4, R5};
use crate::Error;

const A: u8 = R0;
const PKT: u8 = R1;
const CAPLEN: u8 = R2;
const WIRELEN: u8 = R3;
const XR: u8 = R4;
const TMP: u8 = R5;
const BYTE: u8 = 6;

/// Where the value of cBPF's `len` (the packet's length on the wire) comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireLen {
    /// `len` is r2 as passed, the number of valid bytes: for the two-argument stub
    /// `vrft_pcap_filter(void *pkt, u32 len)`.
    ValidBytes,
    /// `len` is r3: for a three-argument stub `(void *pkt, u32 len, u32 wire_len)`, so that
    /// `len > 1000` sees the real packet length even though only `cap` bytes were copied.
    R3,
}

/// What r1 points to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Buffer {
    /// A map value (e.g. a per-CPU array): unaligned loads are allowed.
    MapValue,
    /// An 8-byte aligned stack area: the verifier refuses unaligned stack loads, so
    /// multi-byte loads it cannot prove aligned are assembled from single bytes.
    Stack,
}

/// Options of [`translate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TranslateOptions {
    /// Bytes the verifier knows are readable at r1. Loads past it never match.
    pub cap: u16,
    pub wire_len: WireLen,
    pub buffer: Buffer,
    /// Record which packet bytes the run read (map value buffers only).
    pub marks: Option<Marks>,
}

impl Default for TranslateOptions {
    fn default() -> Self {
        TranslateOptions {
            cap: 256,
            wire_len: WireLen::ValidBytes,
            buffer: Buffer::MapValue,
            marks: None,
        }
    }
}

/// Where a run records the bytes it read, so that a caller can remember a verdict together
/// with exactly what it depended on (the tracer's rejection memo): every load of packet bytes
/// `[o, o + n)` with `o + n <= window` stores `n` bytes of 0xff at `r1 + at + o`; a load that
/// ends past `window` stores 1 at `r1 + at + window` instead. The caller zeroes the
/// `window + 1` bytes before the run. The verdict is a function of the marked bytes, the
/// number of valid bytes and the wire length (plus the overflow byte: unknown).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Marks {
    /// Offset of the marks from r1: at least `cap`, so that the marks never alias packet bytes.
    pub at: u16,
    /// Packet bytes tracked, from the start of the frame.
    pub window: u16,
}

/// Largest `cap`: packet offsets are encoded in the 16-bit signed `off` of loads.
pub const MAX_CAP: u16 = i16::MAX as u16;

/// A jump whose target is resolved once every instruction has been placed.
#[derive(Clone, Copy)]
enum Target {
    /// The first eBPF instruction of a cBPF instruction.
    Cbpf(usize),
    /// The shared "return 0" block at the end.
    NoMatch,
}

struct Emitter {
    out: Vec<EbpfInsn>,
    fixups: Vec<(usize, Target)>,
}

impl Emitter {
    fn push(&mut self, insn: EbpfInsn) {
        self.out.push(insn);
    }
    /// Emits a jump whose offset is patched later.
    fn jump(&mut self, insn: EbpfInsn, target: Target) {
        self.fixups.push((self.out.len(), target));
        self.out.push(insn);
    }
    fn no_match(&mut self) {
        self.jump(EbpfInsn::ja(0), Target::NoMatch);
    }
}

/// Translates a classic BPF program into the body of `vrft_pcap_filter` (see docs/filters.md).
pub fn translate(prog: &[CbpfInsn], opts: &TranslateOptions) -> Result<Vec<EbpfInsn>, Error> {
    if opts.cap == 0 || opts.cap > MAX_CAP {
        return Err(Error::BadOption(format!(
            "cap must be 1 to {MAX_CAP} bytes, not {}",
            opts.cap
        )));
    }
    if let Some(m) = opts.marks {
        if opts.buffer != Buffer::MapValue
            || m.at < opts.cap
            || u32::from(m.at) + u32::from(m.window) >= MAX_CAP as u32
        {
            return Err(Error::BadOption(format!(
                "marks need a map value buffer, at >= cap and at + window < {MAX_CAP}, not {m:?}"
            )));
        }
    }
    validate(prog)?;
    let cap = u64::from(opts.cap);
    let mut em = Emitter {
        out: Vec::with_capacity(prog.len() * 3 + 8),
        fixups: Vec::new(),
    };

    // Prologue. Arguments are u32: drop whatever the caller left in the upper halves.
    match opts.wire_len {
        WireLen::ValidBytes => em.push(EbpfInsn::alu32_reg(e::BPF_MOV, WIRELEN, CAPLEN)),
        WireLen::R3 => em.push(EbpfInsn::alu32_reg(e::BPF_MOV, WIRELEN, WIRELEN)),
    }
    em.push(EbpfInsn::alu32_reg(e::BPF_MOV, CAPLEN, CAPLEN));
    // cBPF starts with A = X = 0; the verifier refuses reads of unset registers.
    em.push(EbpfInsn::alu32_imm(e::BPF_MOV, A, 0));
    em.push(EbpfInsn::alu32_imm(e::BPF_MOV, XR, 0));
    // libpcap never reads a scratch word before writing it on the same path, but the verifier
    // cannot know that: zero the words that are read anywhere.
    let mut read_slots: Vec<u32> = prog
        .iter()
        .filter(|i| matches!(i.class(), cbpf::LD | cbpf::LDX) && i.code & 0xe0 == cbpf::MEM)
        .map(|i| i.k)
        .collect();
    read_slots.sort_unstable();
    read_slots.dedup();
    for k in read_slots {
        em.push(EbpfInsn::st(e::BPF_W, R10, slot(k), 0));
    }

    // The kernel verifier refuses unreachable instructions, so code after a load that can
    // never succeed (or a division by constant zero) is left out.
    let reachable = reachable(prog, cap);
    let mut starts = Vec::with_capacity(prog.len());
    for (pc, insn) in prog.iter().enumerate() {
        starts.push(em.out.len());
        if reachable[pc] {
            emit(&mut em, pc, insn, opts)?;
        }
    }

    let no_match_at = em.out.len();
    if em.fixups.iter().any(|(_, t)| matches!(t, Target::NoMatch)) {
        em.push(EbpfInsn::alu32_imm(e::BPF_MOV, R0, 0));
        em.push(EbpfInsn::exit());
    }
    for &(at, target) in &em.fixups {
        let dest = match target {
            Target::Cbpf(pc) => starts[pc],
            Target::NoMatch => no_match_at,
        };
        let off = i16::try_from(dest as i64 - at as i64 - 1)
            .map_err(|_| Error::TooLarge(em.out.len()))?;
        em.out[at].off = off;
    }
    Ok(em.out)
}

/// Rejects what the kernel's and libpcap's validators reject, plus backward jumps.
fn validate(prog: &[CbpfInsn]) -> Result<(), Error> {
    let unsupported = |pc: usize, why: &str| Error::Unsupported {
        pc,
        code: prog[pc].code,
        why: why.to_string(),
    };
    let Some(last) = prog.last() else {
        return Err(Error::BadOption("empty classic BPF program".to_string()));
    };
    if last.class() != cbpf::RET {
        return Err(unsupported(
            prog.len() - 1,
            "the program does not end with ret",
        ));
    }
    for (pc, i) in prog.iter().enumerate() {
        let next = pc as u64 + 1;
        if i.class() == cbpf::JMP {
            let targets = if i.code & 0xf0 == cbpf::JA {
                if i.k > i32::MAX as u32 {
                    // libpcap's `protochain` loop encodes its back edge as a wrapped offset.
                    return Err(unsupported(
                        pc,
                        "backward jump (protochain is not supported)",
                    ));
                }
                [next + u64::from(i.k), next]
            } else {
                [next + u64::from(i.jt), next + u64::from(i.jf)]
            };
            if targets.iter().any(|&t| t >= prog.len() as u64) {
                return Err(unsupported(pc, "jump past the end of the program"));
            }
        }
        let mem = matches!(i.class(), cbpf::ST | cbpf::STX)
            || (matches!(i.class(), cbpf::LD | cbpf::LDX) && i.code & 0xe0 == cbpf::MEM);
        if mem && i.k >= cbpf::MEMWORDS {
            return Err(unsupported(pc, "scratch memory index out of range"));
        }
    }
    Ok(())
}

/// True for an instruction that always ends the filter with "no match": a packet load
/// past `cap` or a division by constant zero.
fn always_fails(i: &CbpfInsn, cap: u64) -> bool {
    let end = |bytes: u64| u64::from(i.k) + bytes > cap;
    match (i.class(), i.code & 0xe0) {
        (cbpf::LD, cbpf::ABS | cbpf::IND) => load_size(i.code).is_some_and(|(_, b)| end(b)),
        (cbpf::LDX, cbpf::MSH) => end(1),
        (cbpf::ALU, _) => {
            matches!(i.code & 0xf0, cbpf::DIV | cbpf::MOD) && i.code & 0x08 == cbpf::K && i.k == 0
        }
        _ => false,
    }
}

/// Which instructions some path from the first one reaches (jumps only go forward).
fn reachable(prog: &[CbpfInsn], cap: u64) -> Vec<bool> {
    let mut seen = vec![false; prog.len()];
    seen[0] = true;
    for pc in 0..prog.len() {
        let i = &prog[pc];
        if !seen[pc] || i.class() == cbpf::RET || always_fails(i, cap) {
            continue;
        }
        let next = pc + 1;
        if i.class() != cbpf::JMP {
            seen[next] = true;
        } else if i.code & 0xf0 == cbpf::JA {
            seen[next + i.k as usize] = true;
        } else {
            seen[next + i.jt as usize] = true;
            seen[next + i.jf as usize] = true;
        }
    }
    seen
}

/// Stack offset of scratch word `M[k]`.
fn slot(k: u32) -> i16 {
    -4 * (k as i16 + 1)
}

fn load_size(code: u16) -> Option<(u8, u64)> {
    match code & 0x18 {
        cbpf::W => Some((e::BPF_W, 4)),
        cbpf::H => Some((e::BPF_H, 2)),
        cbpf::B => Some((e::BPF_B, 1)),
        _ => None,
    }
}

/// A = the big-endian `bytes`-byte value at `base + off`.
fn load(em: &mut Emitter, size: u8, bytes: u64, base: u8, off: i16, buffer: Buffer) {
    // bytes is 2 or 4, and the stack buffer is 8-byte aligned.
    let aligned = base == PKT && off & (bytes as i16 - 1) == 0;
    if bytes == 1 || buffer == Buffer::MapValue || aligned {
        em.push(EbpfInsn::ldx(size, A, base, off));
        if bytes > 1 {
            em.push(EbpfInsn::to_be(A, bytes as i32 * 8));
        }
        return;
    }
    em.push(EbpfInsn::ldx(e::BPF_B, A, base, off));
    for i in 1..bytes as i16 {
        em.push(EbpfInsn::alu32_imm(e::BPF_LSH, A, 8));
        em.push(EbpfInsn::ldx(e::BPF_B, BYTE, base, off + i));
        em.push(EbpfInsn::alu32_reg(e::BPF_OR, A, BYTE));
    }
}

/// Marks the bytes `[k, end)` of a load at a constant offset (see [`Marks`]).
fn mark_fixed(em: &mut Emitter, m: Marks, size: u8, k: u32, end: u64) {
    if end <= u64::from(m.window) {
        em.push(EbpfInsn::st(size, PKT, (m.at as u32 + k) as i16, -1));
    } else {
        em.push(EbpfInsn::st(e::BPF_B, PKT, (m.at + m.window) as i16, 1));
    }
}

/// Marks the bytes of a load that ends at TMP (X + k + bytes, already checked against cap).
/// Uses r6 as the address: the marks are written only with map value buffers, where the
/// loads do not need it.
fn mark_variable(em: &mut Emitter, m: Marks, size: u8, bytes: u64) {
    em.push(EbpfInsn::jmp_imm(e::BPF_JGT, TMP, i32::from(m.window), 4));
    em.push(EbpfInsn::alu64_reg(e::BPF_MOV, BYTE, TMP));
    em.push(EbpfInsn::alu64_reg(e::BPF_ADD, BYTE, PKT));
    em.push(EbpfInsn::st(size, BYTE, m.at as i16 - bytes as i16, -1));
    em.push(EbpfInsn::ja(1));
    em.push(EbpfInsn::st(e::BPF_B, PKT, (m.at + m.window) as i16, 1));
}

fn emit(em: &mut Emitter, pc: usize, i: &CbpfInsn, opts: &TranslateOptions) -> Result<(), Error> {
    let cap = u64::from(opts.cap);
    let buffer = opts.buffer;
    let unsupported = |why: &str| Error::Unsupported {
        pc,
        code: i.code,
        why: why.to_string(),
    };
    let k = i.k;
    // `k` as a 32-bit immediate: ALU32 and JMP32 read it as u32.
    let imm = k as i32;
    match i.class() {
        cbpf::LD => match i.code & 0xe0 {
            cbpf::IMM => em.push(EbpfInsn::alu32_imm(e::BPF_MOV, A, imm)),
            cbpf::MEM => em.push(EbpfInsn::ldx(e::BPF_W, A, R10, slot(k))),
            cbpf::LEN => em.push(EbpfInsn::alu32_reg(e::BPF_MOV, A, WIRELEN)),
            cbpf::ABS => {
                let (size, bytes) = load_size(i.code).ok_or_else(|| unsupported("load size"))?;
                let end = u64::from(k) + bytes;
                if end > cap {
                    // Past the copied bytes: libpcap rejects a packet this short.
                    em.no_match();
                } else {
                    // libpcap: fail unless k + size <= valid bytes.
                    em.jump(
                        EbpfInsn::jmp_imm(e::BPF_JLT, CAPLEN, end as i32, 0),
                        Target::NoMatch,
                    );
                    if let Some(m) = opts.marks {
                        mark_fixed(em, m, size, k, end);
                    }
                    load(em, size, bytes, PKT, k as i16, buffer);
                }
            }
            cbpf::IND => {
                let (size, bytes) = load_size(i.code).ok_or_else(|| unsupported("load size"))?;
                let end = u64::from(k) + bytes;
                if end > cap {
                    em.no_match();
                } else {
                    // TMP = X + k + size, computed in 64 bits so it cannot wrap. The check
                    // against the constant cap bounds TMP for the verifier on every kernel
                    // (before 6.8 it learns nothing from comparing two registers); the check
                    // against the valid length gives libpcap's semantics.
                    em.push(EbpfInsn::alu64_reg(e::BPF_MOV, TMP, XR));
                    em.push(EbpfInsn::alu64_imm(e::BPF_ADD, TMP, end as i32));
                    em.jump(
                        EbpfInsn::jmp_imm(e::BPF_JGT, TMP, cap as i32, 0),
                        Target::NoMatch,
                    );
                    em.jump(
                        EbpfInsn::jmp_reg(e::BPF_JGT, TMP, CAPLEN, 0),
                        Target::NoMatch,
                    );
                    if let Some(m) = opts.marks {
                        mark_variable(em, m, size, bytes);
                    }
                    em.push(EbpfInsn::alu64_reg(e::BPF_ADD, TMP, PKT));
                    load(em, size, bytes, TMP, -(bytes as i16), buffer);
                }
            }
            _ => return Err(unsupported("load mode")),
        },
        cbpf::LDX => match i.code & 0xe0 {
            cbpf::IMM => em.push(EbpfInsn::alu32_imm(e::BPF_MOV, XR, imm)),
            cbpf::MEM => em.push(EbpfInsn::ldx(e::BPF_W, XR, R10, slot(k))),
            cbpf::LEN => em.push(EbpfInsn::alu32_reg(e::BPF_MOV, XR, WIRELEN)),
            // X = 4 * (P[k] & 0xf): the IPv4 header length.
            cbpf::MSH if i.code & 0x18 == cbpf::B => {
                if u64::from(k) + 1 > cap {
                    em.no_match();
                } else {
                    em.jump(
                        EbpfInsn::jmp_imm(e::BPF_JLE, CAPLEN, k as i32, 0),
                        Target::NoMatch,
                    );
                    if let Some(m) = opts.marks {
                        mark_fixed(em, m, e::BPF_B, k, u64::from(k) + 1);
                    }
                    em.push(EbpfInsn::ldx(e::BPF_B, XR, PKT, k as i16));
                    em.push(EbpfInsn::alu32_imm(e::BPF_AND, XR, 0xf));
                    em.push(EbpfInsn::alu32_imm(e::BPF_LSH, XR, 2));
                }
            }
            _ => return Err(unsupported("ldx mode")),
        },
        cbpf::ST => em.push(EbpfInsn::stx(e::BPF_W, R10, A, slot(k))),
        cbpf::STX => em.push(EbpfInsn::stx(e::BPF_W, R10, XR, slot(k))),
        cbpf::ALU => emit_alu(em, i, &unsupported)?,
        cbpf::JMP => emit_jump(em, pc, i),
        cbpf::RET => match i.code & 0x18 {
            cbpf::K => {
                em.push(EbpfInsn::alu32_imm(e::BPF_MOV, R0, imm));
                em.push(EbpfInsn::exit());
            }
            cbpf::RET_A => em.push(EbpfInsn::exit()),
            _ => return Err(unsupported("ret source")),
        },
        cbpf::MISC => match i.code & 0xf8 {
            cbpf::TAX => em.push(EbpfInsn::alu32_reg(e::BPF_MOV, XR, A)),
            cbpf::TXA => em.push(EbpfInsn::alu32_reg(e::BPF_MOV, A, XR)),
            _ => return Err(unsupported("misc operation")),
        },
        _ => unreachable!("class is 3 bits"),
    }
    Ok(())
}

fn emit_alu(
    em: &mut Emitter,
    i: &CbpfInsn,
    unsupported: &dyn Fn(&str) -> Error,
) -> Result<(), Error> {
    let op = match i.code & 0xf0 {
        cbpf::ADD => e::BPF_ADD,
        cbpf::SUB => e::BPF_SUB,
        cbpf::MUL => e::BPF_MUL,
        cbpf::DIV => e::BPF_DIV,
        cbpf::MOD => e::BPF_MOD,
        cbpf::OR => e::BPF_OR,
        cbpf::AND => e::BPF_AND,
        cbpf::XOR => e::BPF_XOR,
        cbpf::LSH => e::BPF_LSH,
        cbpf::RSH => e::BPF_RSH,
        cbpf::NEG => {
            em.push(EbpfInsn::alu32_imm(e::BPF_NEG, A, 0));
            return Ok(());
        }
        _ => return Err(unsupported("alu operation")),
    };
    let shift = op == e::BPF_LSH || op == e::BPF_RSH;
    let div = op == e::BPF_DIV || op == e::BPF_MOD;
    if i.code & 0x08 == cbpf::K {
        if shift && i.k >= 32 {
            // libpcap refuses to compile these and the kernel's cBPF checker rejects them.
            return Err(unsupported("shift by 32 or more"));
        }
        if div && i.k == 0 {
            em.no_match();
        } else {
            em.push(EbpfInsn::alu32_imm(op, A, i.k as i32));
        }
    } else if div {
        // Division by zero ends the filter with "no match", as in libpcap.
        em.jump(EbpfInsn::jmp_imm(e::BPF_JEQ, XR, 0, 0), Target::NoMatch);
        em.push(EbpfInsn::alu32_reg(op, A, XR));
    } else if shift {
        // libpcap makes shifts by 32 or more give 0; eBPF masks the count instead.
        em.push(EbpfInsn::jmp_imm(e::BPF_JLT, XR, 32, 2));
        em.push(EbpfInsn::alu32_imm(e::BPF_MOV, A, 0));
        em.push(EbpfInsn::ja(1));
        em.push(EbpfInsn::alu32_reg(op, A, XR));
    } else {
        em.push(EbpfInsn::alu32_reg(op, A, XR));
    }
    Ok(())
}

fn emit_jump(em: &mut Emitter, pc: usize, i: &CbpfInsn) {
    let next = pc + 1;
    if i.code & 0xf0 == cbpf::JA {
        if i.k != 0 {
            em.jump(EbpfInsn::ja(0), Target::Cbpf(next + i.k as usize));
        }
        return;
    }
    let (jt, jf) = (next + i.jt as usize, next + i.jf as usize);
    let op = match i.code & 0xf0 {
        cbpf::JEQ => e::BPF_JEQ,
        cbpf::JGT => e::BPF_JGT,
        cbpf::JGE => e::BPF_JGE,
        _ => e::BPF_JSET,
    };
    // 32-bit compares: A and X are 32-bit, and JMP32 reads k as u32 where JMP would
    // sign-extend it.
    let cond = |op: u8| {
        if i.code & 0x08 == cbpf::X {
            EbpfInsn::jmp32_reg(op, A, XR, 0)
        } else {
            EbpfInsn::jmp32_imm(op, A, i.k as i32, 0)
        }
    };
    let inverse = match op {
        e::BPF_JEQ => Some(e::BPF_JNE),
        e::BPF_JGT => Some(e::BPF_JLE),
        e::BPF_JGE => Some(e::BPF_JLT),
        _ => None,
    };
    match (jt == next, jf == next, inverse) {
        (true, true, _) => {}
        // Fall through on true: one inverted jump instead of two.
        (true, false, Some(inv)) => em.jump(cond(inv), Target::Cbpf(jf)),
        _ => {
            em.jump(cond(op), Target::Cbpf(jt));
            if jf != next {
                em.jump(EbpfInsn::ja(0), Target::Cbpf(jf));
            }
        }
    }
}
