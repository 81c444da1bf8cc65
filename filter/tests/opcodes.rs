//! Every classic BPF opcode, in hand-written programs, agrees with libpcap's interpreter
//! on fixed and random packets, for several caps and both sources of `len`.

mod common;

use common::*;
use proptest::prelude::*;
use std::collections::BTreeSet;
use vrft_filter::cbpf::*;
use vrft_filter::{translate, Buffer, Error, TranslateOptions, WireLen};

fn s(code: u16, k: u32) -> CbpfInsn {
    CbpfInsn::stmt(code, k)
}
fn j(code: u16, k: u32, jt: u8, jf: u8) -> CbpfInsn {
    CbpfInsn::jump(code, k, jt, jf)
}

const ALU_OPS: &[u16] = &[ADD, SUB, MUL, DIV, MOD, OR, AND, XOR, LSH, RSH];
const JMP_OPS: &[u16] = &[JEQ, JGT, JGE, JSET];
const CONSTANTS: &[u32] = &[
    0,
    1,
    3,
    31,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x0102_0304,
];

/// Hand-written programs that together use every opcode in `ALL_OPCODES`.
fn programs() -> Vec<(String, Vec<CbpfInsn>)> {
    let ret_a = s(RET | RET_A, 0);
    let mut p: Vec<(String, Vec<CbpfInsn>)> = vec![
        ("ld #k".into(), vec![s(LD | IMM, 0xdead_beef), ret_a]),
        ("ld [k]".into(), vec![s(LD | W | ABS, 2), ret_a]),
        ("ldh [k]".into(), vec![s(LD | H | ABS, 3), ret_a]),
        ("ldb [k]".into(), vec![s(LD | B | ABS, 5), ret_a]),
        ("ld [k] past cap".into(), vec![s(LD | W | ABS, 300), ret_a]),
        (
            "ld [x+k]".into(),
            vec![s(LDX | B | MSH, 0), s(LD | W | IND, 1), ret_a],
        ),
        (
            "ldh [x+k]".into(),
            vec![s(LDX | B | MSH, 0), s(LD | H | IND, 2), ret_a],
        ),
        (
            "ldb [x+k]".into(),
            vec![s(LDX | B | MSH, 0), s(LD | B | IND, 3), ret_a],
        ),
        (
            "ld [x+k] huge x".into(),
            vec![
                s(LD | W | ABS, 0),
                s(MISC | TAX, 0),
                s(LD | B | IND, 1),
                ret_a,
            ],
        ),
        (
            "ld [x+k] huge k".into(),
            vec![s(LD | B | IND, 0xffff_fff0), ret_a],
        ),
        (
            "ld M[k], st".into(),
            vec![
                s(LD | W | ABS, 0),
                s(ST, 3),
                s(LD | IMM, 0),
                s(LD | MEM, 3),
                ret_a,
            ],
        ),
        ("ld #pktlen".into(), vec![s(LD | W | LEN, 0), ret_a]),
        (
            "ldx #k, txa".into(),
            vec![s(LDX | W | IMM, 7), s(MISC | TXA, 0), ret_a],
        ),
        (
            "ldx M[k]".into(),
            vec![
                s(LD | W | ABS, 0),
                s(ST, 15),
                s(LDX | W | MEM, 15),
                s(MISC | TXA, 0),
                ret_a,
            ],
        ),
        (
            "ldx #pktlen".into(),
            vec![s(LDX | W | LEN, 0), s(MISC | TXA, 0), ret_a],
        ),
        (
            "ldxb 4*([k]&0xf)".into(),
            vec![s(LDX | B | MSH, 1), s(MISC | TXA, 0), ret_a],
        ),
        (
            "stx M[k]".into(),
            vec![s(LDX | B | MSH, 0), s(STX, 0), s(LD | MEM, 0), ret_a],
        ),
        (
            "neg".into(),
            vec![s(LD | W | ABS, 0), s(ALU | NEG, 0), ret_a],
        ),
        (
            "ja".into(),
            vec![
                s(LD | B | ABS, 0),
                j(JMP | JEQ | K, 0, 0, 1),
                s(JMP | JA, 1),
                s(RET | K, 1),
                s(RET | K, 2),
            ],
        ),
        ("ret #k".into(), vec![s(RET | K, 0x0004_0000)]),
        ("ret #0".into(), vec![s(RET | K, 0)]),
    ];
    for &op in ALU_OPS {
        for &c in CONSTANTS {
            let shift = op == LSH || op == RSH;
            // libpcap and the kernel refuse these when compiling or loading.
            if (shift && c >= 32) || ((op == DIV || op == MOD) && c == 0) {
                continue;
            }
            p.push((
                format!("alu {op:#x} #{c:#x}"),
                vec![s(LD | W | ABS, 0), s(ALU | op | K, c), ret_a],
            ));
        }
        // X from byte 4 (0..=255): covers division by zero and shifts by 32 or more.
        p.push((
            format!("alu {op:#x} x"),
            vec![
                s(LD | B | ABS, 4),
                s(MISC | TAX, 0),
                s(LD | W | ABS, 0),
                s(ALU | op | X, 0),
                ret_a,
            ],
        ));
    }
    let rets = [s(RET | K, 10), s(RET | K, 20), s(RET | K, 30)];
    for &op in JMP_OPS {
        for (jt, jf) in [(0, 1), (1, 0), (1, 2), (0, 0)] {
            for &c in CONSTANTS {
                let mut prog = vec![s(LD | W | ABS, 0), j(JMP | op | K, c, jt, jf)];
                prog.extend_from_slice(&rets);
                p.push((format!("jmp {op:#x} #{c:#x} {jt}/{jf}"), prog));
            }
            // A = byte 5 against X = byte 4: small values, so equality happens.
            let mut prog = vec![
                s(LD | B | ABS, 4),
                s(MISC | TAX, 0),
                s(LD | B | ABS, 5),
                j(JMP | op | X, 0, jt, jf),
            ];
            prog.extend_from_slice(&rets);
            p.push((format!("jmp {op:#x} x {jt}/{jf}"), prog));
        }
    }
    p
}

const CONFIGS: &[TranslateOptions] = &[
    TranslateOptions {
        cap: 256,
        wire_len: WireLen::ValidBytes,
        buffer: Buffer::MapValue,
        marks: None,
    },
    TranslateOptions {
        cap: 256,
        wire_len: WireLen::R3,
        buffer: Buffer::Stack,
        marks: None,
    },
    TranslateOptions {
        cap: 6,
        wire_len: WireLen::R3,
        buffer: Buffer::MapValue,
        marks: None,
    },
    TranslateOptions {
        cap: 6,
        wire_len: WireLen::R3,
        buffer: Buffer::Stack,
        marks: None,
    },
];

/// Our verdict and libpcap's for `pkt` of `wire` bytes on the wire.
fn check(name: &str, prog: &[CbpfInsn], pkt: &[u8], wire: u32) {
    for opts in CONFIGS {
        let ebpf = translate(prog, opts).unwrap_or_else(|e| panic!("{name}: {e}"));
        let valid = &pkt[..pkt.len().min(opts.cap as usize)];
        let want = match opts.wire_len {
            WireLen::ValidBytes => libpcap_run(prog, valid, valid.len() as u32),
            WireLen::R3 => libpcap_run(prog, valid, wire),
        };
        let got = ebpf_run(&ebpf, pkt, opts.cap, wire);
        assert_eq!(got, want, "{name} {opts:?} on {pkt:02x?} (wire {wire})");
    }
}

fn fixed_packets() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = (0..=12).map(|n| vec![0u8; n]).collect();
    v.extend((0..=12).map(|n| vec![0xffu8; n]));
    v.extend((0..=70).map(|n| (0..n as u8).collect()));
    // X = 4 * (0x4f & 0xf) = 60 with and without enough bytes behind it.
    v.push([vec![0x4f, 0x21], vec![0x5a; 64]].concat());
    v.push([vec![0x45, 0x07, 0, 0, 32, 40], vec![0x33; 10]].concat());
    v.push(vec![0x80, 0, 0, 0, 0x80, 0x80, 1]);
    v.extend(samples().into_iter().map(|s| s.l2));
    v
}

#[test]
fn every_opcode_agrees_with_libpcap_on_fixed_packets() {
    for (name, prog) in programs() {
        for pkt in fixed_packets() {
            for wire in [pkt.len() as u32, pkt.len() as u32 + 1000] {
                check(&name, &prog, &pkt, wire);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn every_opcode_agrees_with_libpcap_on_random_packets(
        pkt in proptest::collection::vec(any::<u8>(), 0..80),
        extra in 0u32..2000,
    ) {
        for (name, prog) in programs() {
            check(&name, &prog, &pkt, pkt.len() as u32 + extra);
        }
    }
}

#[test]
fn programs_use_every_opcode() {
    let used: BTreeSet<u16> = programs()
        .iter()
        .flat_map(|(_, p)| p.iter().map(|i| i.code))
        .collect();
    let all: BTreeSet<u16> = ALL_OPCODES.iter().map(|&(c, _)| c).collect();
    assert_eq!(used, all);
}

#[test]
fn loads_are_big_endian() {
    let opts = TranslateOptions::default();
    let run =
        |prog: &[CbpfInsn]| ebpf_run(&translate(prog, &opts).unwrap(), &[1, 2, 3, 4, 5], 256, 5);
    assert_eq!(run(&[s(LD | W | ABS, 0), s(RET | RET_A, 0)]), 0x0102_0304);
    assert_eq!(run(&[s(LD | H | ABS, 1), s(RET | RET_A, 0)]), 0x0203);
    assert_eq!(
        run(&[s(LDX | W | IMM, 1), s(LD | H | IND, 2), s(RET | RET_A, 0)]),
        0x0405
    );
    // One byte short: no match.
    assert_eq!(run(&[s(LD | W | ABS, 2), s(RET | K, 1)]), 0);
}

#[test]
fn division_by_zero_and_wide_shifts_give_libpcap_results() {
    let opts = TranslateOptions::default();
    let run = |prog: &[CbpfInsn]| ebpf_run(&translate(prog, &opts).unwrap(), &[0; 4], 256, 4);
    let with_x = |x: u32, op: u16| {
        vec![
            s(LDX | W | IMM, x),
            s(LD | IMM, 0xdefc0),
            s(ALU | op | X, 0),
            s(RET | RET_A, 0),
        ]
    };
    assert_eq!(run(&with_x(0, DIV)), 0);
    assert_eq!(run(&with_x(0, MOD)), 0);
    assert_eq!(run(&with_x(32, LSH)), 0);
    assert_eq!(run(&with_x(33, RSH)), 0);
    assert_eq!(run(&with_x(9, LSH)), 0xdefc0 << 9);
    // Constant zero divisors (libpcap refuses to compile them) end with no match.
    assert_eq!(
        run(&[s(LD | IMM, 5), s(ALU | DIV | K, 0), s(RET | K, 1)]),
        0
    );
    assert_eq!(
        run(&[s(LD | IMM, 5), s(ALU | MOD | K, 0), s(RET | K, 1)]),
        0
    );
}

/// r2 is untrusted: whatever the caller claims, reads stay inside the cap-sized buffer
/// (rbpf fails the run on any access outside it), with libpcap's verdict for cap bytes.
#[test]
fn untrusted_length_never_reads_past_cap() {
    let cap = 64u16;
    let buf: Vec<u8> = (0..cap as u8).collect();
    for buffer in [Buffer::MapValue, Buffer::Stack] {
        let opts = TranslateOptions {
            cap,
            wire_len: WireLen::ValidBytes,
            buffer,
            marks: None,
        };
        for (name, prog) in programs() {
            let ebpf = translate(&prog, &opts).unwrap();
            for claimed in [cap as u32, cap as u32 + 1, 1000, 0x7fff_ffff, u32::MAX] {
                let got = ebpf_run_raw(&ebpf, &buf, claimed, 0);
                // libpcap with the same cap-sized buffer; `len` is the claimed length.
                let want = libpcap_run(&prog, &buf, claimed);
                assert_eq!(got, want, "{name} {buffer:?} with r2 = {claimed}");
            }
        }
    }
}

#[test]
fn unsupported_programs_are_refused_with_a_reason() {
    let opts = TranslateOptions::default();
    let why = |prog: &[CbpfInsn]| match translate(prog, &opts) {
        Err(Error::Unsupported { why, .. }) => why,
        other => panic!("{prog:?} gave {other:?}"),
    };
    assert!(why(&[s(JMP | JA, 0xffff_fff0), s(RET | K, 1)]).contains("protochain"));
    assert!(why(&[j(JMP | JEQ | K, 0, 5, 0), s(RET | K, 1)]).contains("past the end"));
    assert!(why(&[s(LD | IMM, 1)]).contains("does not end with ret"));
    assert!(why(&[s(ST, 16), s(RET | K, 1)]).contains("scratch"));
    assert!(why(&[s(ALU | LSH | K, 32), s(RET | K, 1)]).contains("shift"));
    assert!(why(&[s(RET | X, 0)]).contains("ret"));
    assert!(why(&[s(LD | 0x18 | ABS, 0), s(RET | K, 1)]).contains("size"));
    assert!(matches!(translate(&[], &opts), Err(Error::BadOption(_))));
    let zero_cap = TranslateOptions { cap: 0, ..opts };
    assert!(matches!(
        translate(&[s(RET | K, 1)], &zero_cap),
        Err(Error::BadOption(_))
    ));
    // protochain compiles to a loop: refused with the expression's instruction.
    let err = vrft_filter::FilterProgram::new("ip6 protochain 6", vrft_filter::Start::L2, &opts)
        .unwrap_err();
    assert!(
        err.to_string().contains("protochain is not supported"),
        "{err}"
    );
}

#[test]
fn jumps_beyond_16_bit_offsets_are_refused() {
    let mut prog = vec![s(JMP | JA, 40_000)];
    prog.extend(std::iter::repeat_n(s(LD | IMM, 1), 40_000));
    prog.push(s(RET | K, 1));
    // The loads are unreachable and left out, so this one fits...
    assert!(translate(&prog, &TranslateOptions::default()).is_ok());
    // ...but a reachable run of 40,000 does not.
    prog.splice(0..0, [s(LD | B | ABS, 0), j(JMP | JEQ | K, 0, 0, 1)]);
    assert!(matches!(
        translate(&prog, &TranslateOptions::default()),
        Err(Error::TooLarge(_))
    ));
}
