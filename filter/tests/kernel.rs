//! The translated filters on this machine's real kernel: the verifier accepts every corpus
//! filter called as a bpf-to-bpf subprogram on a map value or a stack buffer, and the
//! loaded programs, run with BPF_PROG_TEST_RUN on real packets, give libpcap's verdicts.
//! Needs root; fails (never skips) without it.

mod common;

use common::*;
use std::io;
use vrft_filter::ebpf::{self as e, EbpfInsn, R0, R1, R10, R2, R3, R4};
use vrft_filter::{
    compile_pcap, program_bytes, translate, Buffer, Marks, Start, TranslateOptions, WireLen,
};

const R6: u8 = 6;
const R7: u8 = 7;
const R8: u8 = 8;
const R9: u8 = 9;

const BPF_MAP_CREATE: i32 = 0;
const BPF_PROG_LOAD: i32 = 5;
const BPF_PROG_TEST_RUN: i32 = 10;
const BPF_MAP_TYPE_PERCPU_ARRAY: u32 = 6;
const BPF_PROG_TYPE_SOCKET_FILTER: u32 = 1;
const BPF_PROG_TYPE_SCHED_CLS: u32 = 3;
const HELPER_MAP_LOOKUP_ELEM: i32 = 1;
const HELPER_GET_PRANDOM_U32: i32 = 7;
const HELPER_SKB_LOAD_BYTES: i32 = 26;

#[repr(C)]
#[derive(Default)]
struct MapCreateAttr {
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
}

#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

#[repr(C)]
#[derive(Default)]
struct TestRunAttr {
    prog_fd: u32,
    retval: u32,
    data_size_in: u32,
    data_size_out: u32,
    data_in: u64,
    data_out: u64,
    repeat: u32,
    duration: u32,
}

fn sys_bpf<T>(cmd: i32, attr: &mut T) -> io::Result<i32> {
    // SAFETY: attr is a live, exclusively borrowed bpf_attr-shaped struct of the size passed.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T,
            std::mem::size_of::<T>() as u32,
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as i32)
    }
}

struct Fd(i32);
impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: Fd owns this descriptor; it is closed once, here.
        unsafe { libc::close(self.0) };
    }
}

fn require_root() {
    assert_eq!(
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() },
        0,
        "the kernel tests load BPF programs and must run as root (CI does): \
         run them with sudo, e.g. sudo -E cargo test -p vrft-filter --test kernel"
    );
}

fn buffer_map(cap: u16) -> Fd {
    let mut attr = MapCreateAttr {
        map_type: BPF_MAP_TYPE_PERCPU_ARRAY,
        key_size: 4,
        value_size: u32::from(cap),
        max_entries: 1,
        map_flags: 0,
    };
    Fd(sys_bpf(BPF_MAP_CREATE, &mut attr).expect("BPF_MAP_CREATE"))
}

/// Loads `prog`; on rejection returns the verifier's log.
fn load(prog_type: u32, prog: &[EbpfInsn]) -> Result<Fd, String> {
    let bytes = program_bytes(prog);
    let license = c"GPL";
    let attempt = |log_level: u32, log: &mut Vec<u8>| {
        let mut attr = ProgLoadAttr {
            prog_type,
            insn_cnt: prog.len() as u32,
            insns: bytes.as_ptr() as u64,
            license: license.as_ptr() as u64,
            log_level,
            // The kernel refuses a log buffer with log level 0.
            log_size: if log_level == 0 { 0 } else { log.len() as u32 },
            log_buf: if log_level == 0 {
                0
            } else {
                log.as_mut_ptr() as u64
            },
            ..Default::default()
        };
        attr.prog_name[..8].copy_from_slice(b"vrft_flt");
        sys_bpf(BPF_PROG_LOAD, &mut attr)
    };
    match attempt(0, &mut Vec::new()) {
        Ok(fd) => Ok(Fd(fd)),
        Err(first) => {
            // Load again with the full verifier log to show why.
            let mut log = vec![0u8; 16 << 20];
            let _ = attempt(1, &mut log);
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            let text = String::from_utf8_lossy(&log[..end]);
            let tail: Vec<&str> = text.lines().rev().take(60).collect();
            Err(format!(
                "{first}; last lines of the verifier log:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            ))
        }
    }
}

/// r2 (and r3) = random numbers: the verifier must accept any length.
fn random_lengths() -> Vec<EbpfInsn> {
    vec![
        EbpfInsn::call_helper(HELPER_GET_PRANDOM_U32),
        EbpfInsn::alu64_reg(e::BPF_MOV, R7, R0),
        EbpfInsn::call_helper(HELPER_GET_PRANDOM_U32),
        EbpfInsn::alu64_reg(e::BPF_MOV, R3, R0),
        EbpfInsn::alu64_reg(e::BPF_MOV, R2, R7),
        EbpfInsn::alu64_reg(e::BPF_MOV, R1, R6),
    ]
}

/// Appends `call filter; exit` and the filter as the subprogram after it.
fn call_filter(mut main: Vec<EbpfInsn>, filter: &[EbpfInsn]) -> Vec<EbpfInsn> {
    main.push(EbpfInsn::call_subprog(1));
    main.push(EbpfInsn::exit());
    main.extend_from_slice(filter);
    main
}

/// A socket filter that looks up a `cap`-byte per-CPU map value and hands it to the filter.
fn on_map_value(map: &Fd, filter: &[EbpfInsn]) -> Vec<EbpfInsn> {
    let mut main = vec![
        EbpfInsn::st(e::BPF_W, R10, -4, 0),
        EbpfInsn::alu64_reg(e::BPF_MOV, R2, R10),
        EbpfInsn::alu64_imm(e::BPF_ADD, R2, -4),
    ];
    main.extend(EbpfInsn::ld_imm64(R1, e::BPF_PSEUDO_MAP_FD, map.0 as u64));
    main.push(EbpfInsn::call_helper(HELPER_MAP_LOOKUP_ELEM));
    main.push(EbpfInsn::jmp_imm(e::BPF_JNE, R0, 0, 1));
    main.push(EbpfInsn::exit());
    main.push(EbpfInsn::alu64_reg(e::BPF_MOV, R6, R0));
    main.extend(random_lengths());
    call_filter(main, filter)
}

/// A socket filter that zeroes `cap` bytes of its stack and hands them to the filter.
fn on_stack(cap: u16, filter: &[EbpfInsn]) -> Vec<EbpfInsn> {
    let mut main: Vec<EbpfInsn> = (1..=i16::try_from(cap / 8).unwrap())
        .map(|i| EbpfInsn::st(e::BPF_DW, R10, -8 * i, 0))
        .collect();
    main.push(EbpfInsn::alu64_reg(e::BPF_MOV, R6, R10));
    main.push(EbpfInsn::alu64_imm(e::BPF_ADD, R6, -i32::from(cap)));
    main.extend(random_lengths());
    call_filter(main, filter)
}

/// A tc program that copies the packet from byte `from` (up to `cap` bytes) into the map
/// value with bpf_skb_load_bytes and returns the filter's verdict; r3 = bytes after `from`.
fn on_skb(map: &Fd, cap: u16, from: i32, filter: &[EbpfInsn]) -> Vec<EbpfInsn> {
    let cap = i32::from(cap);
    let mut main = vec![
        EbpfInsn::alu64_reg(e::BPF_MOV, R9, R1),
        EbpfInsn::ldx(e::BPF_W, R8, R9, 0), // __sk_buff.len
        EbpfInsn::jmp_imm(e::BPF_JGT, R8, from, 2),
        EbpfInsn::alu32_imm(e::BPF_MOV, R0, 0xdead),
        EbpfInsn::exit(),
        EbpfInsn::alu64_imm(e::BPF_SUB, R8, from),
        EbpfInsn::alu64_reg(e::BPF_MOV, R7, R8),
        EbpfInsn::jmp_imm(e::BPF_JLE, R8, cap, 1),
        EbpfInsn::alu64_imm(e::BPF_MOV, R8, cap),
        EbpfInsn::st(e::BPF_W, R10, -4, 0),
        EbpfInsn::alu64_reg(e::BPF_MOV, R2, R10),
        EbpfInsn::alu64_imm(e::BPF_ADD, R2, -4),
    ];
    main.extend(EbpfInsn::ld_imm64(R1, e::BPF_PSEUDO_MAP_FD, map.0 as u64));
    main.extend([
        EbpfInsn::call_helper(HELPER_MAP_LOOKUP_ELEM),
        EbpfInsn::jmp_imm(e::BPF_JNE, R0, 0, 2),
        EbpfInsn::alu32_imm(e::BPF_MOV, R0, 0xdead),
        EbpfInsn::exit(),
        EbpfInsn::alu64_reg(e::BPF_MOV, R6, R0),
        EbpfInsn::alu64_reg(e::BPF_MOV, R1, R9),
        EbpfInsn::alu64_imm(e::BPF_MOV, R2, from),
        EbpfInsn::alu64_reg(e::BPF_MOV, R3, R6),
        EbpfInsn::alu64_reg(e::BPF_MOV, R4, R8),
        EbpfInsn::call_helper(HELPER_SKB_LOAD_BYTES),
        EbpfInsn::jmp_imm(e::BPF_JEQ, R0, 0, 2),
        EbpfInsn::alu32_imm(e::BPF_MOV, R0, 0xdead),
        EbpfInsn::exit(),
        EbpfInsn::alu64_reg(e::BPF_MOV, R1, R6),
        EbpfInsn::alu64_reg(e::BPF_MOV, R2, R8),
        EbpfInsn::alu64_reg(e::BPF_MOV, R3, R7),
    ]);
    call_filter(main, filter)
}

/// BPF_PROG_TEST_RUN refuses a packet without a whole Ethernet header, or whose
/// ethertype announces IPv4 or IPv6 without a whole header of that kind.
fn test_run_takes(data: &[u8]) -> bool {
    let need = match data.get(12..14) {
        None => return false,
        Some([0x08, 0x00]) => 14 + 20,
        Some([0x86, 0xdd]) => 14 + 40,
        Some(_) => 14,
    };
    data.len() >= need
}

fn test_run(prog: &Fd, data: &[u8]) -> u32 {
    let mut attr = TestRunAttr {
        prog_fd: prog.0 as u32,
        data_size_in: data.len() as u32,
        data_in: data.as_ptr() as u64,
        repeat: 1,
        ..Default::default()
    };
    sys_bpf(BPF_PROG_TEST_RUN, &mut attr)
        .unwrap_or_else(|e| panic!("BPF_PROG_TEST_RUN on {} bytes: {e}", data.len()));
    attr.retval
}

fn corpus_programs() -> Vec<(String, Start, Vec<vrft_filter::CbpfInsn>)> {
    let mut v = Vec::new();
    for &expr in CORPUS {
        for start in [Start::L2, Start::L3] {
            if let Ok(cbpf) = compile_pcap(expr, start) {
                v.push((expr.to_string(), start, cbpf));
            }
        }
    }
    v
}

#[test]
fn verifier_accepts_every_corpus_filter() {
    require_root();
    let mut failures = Vec::new();
    let mut loaded = 0;
    for opts in CONFIGS {
        let map = buffer_map(opts.cap);
        for (expr, start, cbpf) in corpus_programs() {
            let filter = translate(&cbpf, opts).unwrap();
            let stack_opts = TranslateOptions {
                buffer: Buffer::Stack,
                marks: None,
                ..*opts
            };
            let stack_filter = translate(&cbpf, &stack_opts).unwrap();
            for (what, prog) in [
                ("map value", on_map_value(&map, &filter)),
                ("stack", on_stack(opts.cap, &stack_filter)),
            ] {
                match load(BPF_PROG_TYPE_SOCKET_FILTER, &prog) {
                    Ok(_) => loaded += 1,
                    Err(log) => {
                        failures.push(format!("'{expr}' {start:?} {opts:?} on {what}: {log}"))
                    }
                }
            }
        }
    }
    // The tracer's configuration: marks after 256 packet bytes, for the first 128.
    let marks = Marks {
        at: 256,
        window: 128,
    };
    let opts = TranslateOptions {
        cap: 256,
        wire_len: WireLen::R3,
        buffer: Buffer::MapValue,
        marks: Some(marks),
    };
    let map = buffer_map(marks.at + marks.window + 1);
    for (expr, start, cbpf) in corpus_programs() {
        let prog = on_map_value(&map, &translate(&cbpf, &opts).unwrap());
        match load(BPF_PROG_TYPE_SOCKET_FILTER, &prog) {
            Ok(_) => loaded += 1,
            Err(log) => failures.push(format!("'{expr}' {start:?} with marks: {log}")),
        }
    }
    assert!(
        failures.is_empty(),
        "the verifier rejected:\n{}",
        failures.join("\n\n")
    );
    eprintln!("{loaded} programs loaded");
}

#[test]
fn kernel_runs_agree_with_libpcap() {
    require_root();
    let mut runs = 0;
    for opts in CONFIGS {
        let map = buffer_map(opts.cap);
        for (expr, start, cbpf) in corpus_programs() {
            let filter = translate(&cbpf, opts).unwrap();
            // The test run needs an Ethernet header: L3 packets get a dummy one, skipped by `from`.
            let from = if start == Start::L2 { 0 } else { 14 };
            let prog = load(
                BPF_PROG_TYPE_SCHED_CLS,
                &on_skb(&map, opts.cap, from, &filter),
            )
            .unwrap_or_else(|log| panic!("'{expr}' {start:?} {opts:?}: {log}"));
            for sample in samples() {
                let Some(pkt) = (match start {
                    Start::L2 => Some(sample.l2.as_slice()),
                    Start::L3 => sample.l3(),
                }) else {
                    continue;
                };
                for len in (1..=pkt.len()).rev().step_by(5) {
                    let wire = &pkt[..len];
                    let mut data = vec![0u8; from as usize];
                    if from > 0 {
                        data[12..14].copy_from_slice(&ETH_IP.to_be_bytes());
                    }
                    data.extend_from_slice(wire);
                    if !test_run_takes(&data) {
                        continue;
                    }
                    let valid = &wire[..len.min(opts.cap as usize)];
                    let want = match opts.wire_len {
                        WireLen::ValidBytes => libpcap_run(&cbpf, valid, valid.len() as u32),
                        WireLen::R3 => libpcap_run(&cbpf, valid, len as u32),
                    };
                    let got = test_run(&prog, &data);
                    assert_eq!(
                        got, want,
                        "'{expr}' {start:?} {opts:?} on '{}' cut to {len} bytes",
                        sample.name
                    );
                    runs += 1;
                }
            }
        }
    }
    eprintln!("{runs} in-kernel runs agreed with libpcap");
}
