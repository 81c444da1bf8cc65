//! Size of the translated filters and their cost in rbpf's interpreter (the per-hit cost in
//! the kernel is measured in the VM benchmarks). Prints the instruction-count table of
//! docs/filters.md first.

#[path = "../tests/common/mod.rs"]
mod common;

use common::{ebpf_run, samples, CORPUS};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use vrft_filter::{compile_pcap, translate, Buffer, Start, TranslateOptions};

fn counts() {
    let map = TranslateOptions::default();
    let stack = TranslateOptions {
        buffer: Buffer::Stack,
        marks: None,
        ..map
    };
    println!("| expression | L2 cBPF | L2 eBPF | L2 eBPF (stack) | L3 cBPF | L3 eBPF |");
    println!("|---|---:|---:|---:|---:|---:|");
    for &expr in CORPUS {
        let mut row = format!("| `{expr}` |");
        for start in [Start::L2, Start::L3] {
            match compile_pcap(expr, start) {
                Ok(cbpf) => {
                    row += &format!(
                        " {} | {} |",
                        cbpf.len(),
                        translate(&cbpf, &map).unwrap().len()
                    );
                    if start == Start::L2 {
                        row += &format!(" {} |", translate(&cbpf, &stack).unwrap().len());
                    }
                }
                Err(_) => row += " - | - |",
            }
        }
        println!("{row}");
    }
}

fn bench(c: &mut Criterion) {
    counts();
    let opts = TranslateOptions::default();
    // A TCP SYN: rejected by the UDP filters after a few loads, as most traffic would be.
    let pkt = samples()
        .into_iter()
        .find(|s| s.name == "tcp4 syn")
        .unwrap()
        .l2;
    for expr in [
        "udp dst port 7777",
        "host 10.0.0.1",
        "vlan and udp",
        "ip[2:2] - ((ip[0] & 0xf) << 2) > 28",
    ] {
        let cbpf = compile_pcap(expr, Start::L2).unwrap();
        c.bench_function(&format!("translate '{expr}'"), |b| {
            b.iter(|| translate(black_box(&cbpf), &opts).unwrap())
        });
        let prog = translate(&cbpf, &opts).unwrap();
        c.bench_function(&format!("rbpf '{expr}' on tcp4 syn"), |b| {
            b.iter(|| {
                ebpf_run(
                    black_box(&prog),
                    black_box(&pkt),
                    opts.cap,
                    pkt.len() as u32,
                )
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
