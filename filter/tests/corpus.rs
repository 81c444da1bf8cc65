//! The translated filters agree with libpcap on real packet bytes, for every corpus
//! expression, both starts, every truncation of every sample packet, and several caps.

mod common;

use common::*;
use pcap::{Capture, Linktype};
use proptest::prelude::*;
use std::collections::BTreeSet;
use std::sync::OnceLock;
use vrft_filter::{
    cbpf, compile_pcap, translate, CbpfInsn, EbpfInsn, Marks, Start, TranslateOptions, WireLen,
};

fn packets(start: Start) -> Vec<(&'static str, Vec<u8>)> {
    samples()
        .into_iter()
        .filter_map(|s| match start {
            Start::L2 => Some((s.name, s.l2.clone())),
            Start::L3 => s.l3().map(|b| (s.name, b.to_vec())),
        })
        .collect()
}

/// libpcap's compiled program straight from the pcap crate, for `BpfProgram::filter`.
fn libpcap_program(expr: &str, start: Start) -> Option<pcap::BpfProgram> {
    let linktype = match start {
        Start::L2 => Linktype::ETHERNET,
        Start::L3 => Linktype(12),
    };
    Capture::dead(linktype).unwrap().compile(expr, true).ok()
}

#[test]
fn translated_filters_agree_with_libpcap() {
    let mut runs = 0usize;
    for &expr in CORPUS {
        for start in [Start::L2, Start::L3] {
            let Some(oracle) = libpcap_program(expr, start) else {
                // Link-layer expressions have no raw-IP form; PacketFilter rejects all there.
                assert_eq!(start, Start::L3, "'{expr}' must compile for Ethernet");
                continue;
            };
            let cbpf = compile_pcap(expr, start).unwrap();
            for opts in CONFIGS {
                let prog = translate(&cbpf, opts)
                    .unwrap_or_else(|e| panic!("'{expr}' {start:?} {opts:?}: {e}"));
                let cap = opts.cap as usize;
                for (name, pkt) in packets(start) {
                    for len in 0..=pkt.len() {
                        let wire = &pkt[..len];
                        let valid = &wire[..len.min(cap)];
                        let want = match opts.wire_len {
                            WireLen::ValidBytes => libpcap_run(&cbpf, valid, valid.len() as u32),
                            WireLen::R3 => libpcap_run(&cbpf, valid, len as u32),
                        };
                        if opts.wire_len == WireLen::ValidBytes {
                            assert_eq!(oracle.filter(valid), want != 0, "oracles disagree");
                        }
                        let got = ebpf_run(&prog, wire, opts.cap, len as u32);
                        assert_eq!(
                            got, want,
                            "'{expr}' {start:?} {opts:?} on '{name}' cut to {len} bytes"
                        );
                        runs += 1;
                    }
                }
            }
        }
    }
    eprintln!("{runs} packet runs agreed with libpcap");
}

/// The tracer's configuration: 256 bytes of packet, the first 128 of them tracked.
const MARKS: Marks = Marks {
    at: 256,
    window: 128,
};
const MARKED: TranslateOptions = TranslateOptions {
    cap: MARKS.at,
    wire_len: WireLen::R3,
    buffer: vrft_filter::Buffer::MapValue,
    marks: Some(MARKS),
};

/// A sample packet's Ethernet frame, by name.
fn sample(name: &str) -> Vec<u8> {
    samples()
        .into_iter()
        .find(|s| s.name == name)
        .expect("sample")
        .l2
}

/// With marks, a run records every byte its verdict depends on: changing any byte it left
/// unmarked (inside the window, when nothing was read past it) never changes the verdict. The
/// tracer's rejection memo relies on this to compare only those bytes.
#[test]
fn marks_name_every_byte_a_verdict_reads() {
    let opts = MARKED;
    let (mut runs, mut past) = (0usize, 0usize);
    for &expr in CORPUS {
        for start in [Start::L2, Start::L3] {
            let Ok(cbpf) = compile_pcap(expr, start) else {
                continue;
            };
            let prog = translate(&cbpf, &opts).unwrap();
            for (name, pkt) in packets(start) {
                let wire = pkt.len() as u32;
                let (verdict, marks) = ebpf_run_marked(&prog, &pkt, opts.cap, MARKS, wire);
                let valid = &pkt[..pkt.len().min(usize::from(opts.cap))];
                assert_eq!(
                    verdict,
                    libpcap_run(&cbpf, valid, wire),
                    "'{expr}' on '{name}'"
                );
                if marks[usize::from(MARKS.window)] != 0 {
                    past += 1;
                    continue;
                }
                let tracked = pkt.len().min(usize::from(MARKS.window));
                for i in (0..tracked).filter(|&i| marks[i] == 0) {
                    for flip in [0xff, 0x01, 0x10] {
                        let mut other = pkt.clone();
                        other[i] ^= flip;
                        let (v, _) = ebpf_run_marked(&prog, &other, opts.cap, MARKS, wire);
                        assert_eq!(
                            v, verdict,
                            "'{expr}' {start:?} on '{name}': unmarked byte {i} changed the verdict"
                        );
                        runs += 1;
                    }
                }
            }
        }
    }
    assert!(runs > 10_000, "only {runs} runs");
    eprintln!("{runs} runs with an unmarked byte changed; {past} verdicts read past the window");
}

/// `udp dst port 9` on an IPv4 UDP frame marks exactly what it reads: the ethertype, the
/// protocol, the fragment offset, the header length and the destination port. Checksums,
/// lengths and addresses stay unmarked, so a sender writing them does not re-run the filter.
#[test]
fn marks_of_a_port_filter() {
    let opts = MARKED;
    let prog = translate(&compile_pcap("udp dst port 9", Start::L2).unwrap(), &opts).unwrap();
    let pkt = sample("udp4 7777");
    let (verdict, marks) = ebpf_run_marked(&prog, &pkt, opts.cap, MARKS, pkt.len() as u32);
    assert_eq!(verdict, 0);
    let marked: Vec<usize> = (0..marks.len()).filter(|&i| marks[i] != 0).collect();
    assert_eq!(marked, [12, 13, 14, 20, 21, 23, 36, 37]);
    // A read past the window sets the byte after it: the verdict cannot be remembered.
    let far = translate(&compile_pcap("ether[200] = 1", Start::L2).unwrap(), &opts).unwrap();
    let big = sample("udp4 large");
    let (_, marks) = ebpf_run_marked(&far, &big, opts.cap, MARKS, big.len() as u32);
    assert_eq!(marks[usize::from(MARKS.window)], 1);
}

/// Each corpus expression separates the samples: it matches some and rejects others,
/// so agreement above is not agreement on a constant.
#[test]
fn corpus_expressions_discriminate() {
    let constant: Vec<&str> = CORPUS
        .iter()
        .copied()
        .filter(|e| !e.is_empty())
        .filter(|expr| {
            let oracle = libpcap_program(expr, Start::L2).unwrap();
            let verdicts: BTreeSet<bool> = samples().iter().map(|s| oracle.filter(&s.l2)).collect();
            verdicts.len() != 2
        })
        .collect();
    assert!(
        constant.is_empty(),
        "same verdict on every sample: {constant:?}"
    );
}

/// Every opcode libpcap emits for the corpus is one the translator handles and the
/// opcode tests (tests/opcodes.rs) exercise; the corpus reaches the tricky ones.
#[test]
fn corpus_opcodes_are_all_covered() {
    let known: BTreeSet<u16> = ALL_OPCODES.iter().map(|&(c, _)| c).collect();
    let mut seen = BTreeSet::new();
    for &expr in CORPUS {
        for start in [Start::L2, Start::L3] {
            if let Ok(prog) = compile_pcap(expr, start) {
                seen.extend(prog.iter().map(|i| i.code));
            }
        }
    }
    let unknown: Vec<_> = seen.difference(&known).collect();
    assert!(unknown.is_empty(), "opcodes without a test: {unknown:#x?}");
    let must = [
        cbpf::LD | cbpf::W | cbpf::IND,
        cbpf::LD | cbpf::H | cbpf::IND,
        cbpf::LD | cbpf::B | cbpf::IND,
        cbpf::LDX | cbpf::B | cbpf::MSH,
        cbpf::LD | cbpf::MEM,
        cbpf::ST,
        cbpf::LD | cbpf::LEN,
        cbpf::ALU | cbpf::DIV | cbpf::X,
        cbpf::ALU | cbpf::MOD | cbpf::X,
        cbpf::ALU | cbpf::LSH | cbpf::X,
        cbpf::ALU | cbpf::NEG,
        cbpf::JMP | cbpf::JGT | cbpf::X,
        cbpf::JMP | cbpf::JSET | cbpf::K,
        cbpf::MISC | cbpf::TAX,
    ];
    for code in must {
        assert!(seen.contains(&code), "the corpus no longer emits {code:#x}");
    }
    let missing: Vec<_> = ALL_OPCODES
        .iter()
        .filter(|(c, _)| !seen.contains(c))
        .map(|(_, n)| *n)
        .collect();
    eprintln!(
        "opcodes libpcap did not emit for the corpus (covered by tests/opcodes.rs): {missing:?}"
    );
}

/// One corpus expression compiled for one start and translated for every config.
struct Translated {
    expr: &'static str,
    start: Start,
    cbpf: Vec<CbpfInsn>,
    progs: Vec<(TranslateOptions, Vec<EbpfInsn>)>,
}

fn translated() -> &'static [Translated] {
    static CELL: OnceLock<Vec<Translated>> = OnceLock::new();
    CELL.get_or_init(|| {
        let mut v = Vec::new();
        for &expr in CORPUS {
            for start in [Start::L2, Start::L3] {
                let Ok(cbpf) = compile_pcap(expr, start) else {
                    continue;
                };
                let progs = CONFIGS
                    .iter()
                    .map(|o| (*o, translate(&cbpf, o).unwrap()))
                    .collect();
                v.push(Translated {
                    expr,
                    start,
                    cbpf,
                    progs,
                });
            }
        }
        v
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// Sample packets with random bytes overwritten (odd header lengths, ethertypes,
    /// protocols, fragment bits) and random truncation still agree with libpcap.
    #[test]
    fn mutated_packets_agree_with_libpcap(
        which in 0usize..64,
        l3 in any::<bool>(),
        edits in proptest::collection::vec((0usize..512, any::<u8>()), 0..6),
        cut in 0usize..600,
    ) {
        let all = samples();
        let sample = &all[which % all.len()];
        let (start, mut pkt) = match (l3, sample.l3()) {
            (true, Some(b)) => (Start::L3, b.to_vec()),
            _ => (Start::L2, sample.l2.clone()),
        };
        for (at, byte) in edits {
            let n = pkt.len();
            pkt[at % n] = byte;
        }
        pkt.truncate(cut);
        for t in translated().iter().filter(|t| t.start == start) {
            for (opts, prog) in &t.progs {
                let valid = &pkt[..pkt.len().min(opts.cap as usize)];
                let want = match opts.wire_len {
                    WireLen::ValidBytes => libpcap_run(&t.cbpf, valid, valid.len() as u32),
                    WireLen::R3 => libpcap_run(&t.cbpf, valid, pkt.len() as u32),
                };
                let got = ebpf_run(prog, &pkt, opts.cap, pkt.len() as u32);
                prop_assert_eq!(got, want, "'{}' {:?} {:?} on {:02x?}", t.expr, start, opts, pkt);
            }
        }
    }
}
