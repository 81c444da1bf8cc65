//! Scan time: the running kernel (what `vrft-tui list` and the tracer pay at start),
//! and Debian 6.1's vmlinux with module .ko files. Numbers: docs/BENCHMARKS.md.

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use vrft_btf::{scan, BtfObject, Checks, ScanOptions};

/// Every .ko under the given directories of the module tree.
fn kos(root: &Path, dirs: &[&str]) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "ko") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    for d in dirs {
        walk(&root.join("kernel").join(d), &mut out);
    }
    out.sort();
    out
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("scan");
    g.sample_size(20).measurement_time(Duration::from_secs(8));

    g.bench_function("running_kernel", |b| {
        b.iter(|| scan(&ScanOptions::system()).unwrap())
    });
    let btf_only = ScanOptions {
        checks: Checks::none(12),
        ..ScanOptions::system()
    };
    g.bench_function("running_kernel_btf_only", |b| {
        b.iter(|| scan(&btf_only).unwrap())
    });

    let k = support::debian61();
    let with = |modules: Vec<PathBuf>| ScanOptions {
        vmlinux: k.vmlinux_btf.clone(),
        modules_dir: None,
        module_files: modules,
        checks: Checks::none(6),
    };
    let vm = with(k.vm_modules());
    g.bench_function("debian61_vm_modules", |b| b.iter(|| scan(&vm).unwrap()));
    let net = with(kos(&k.modules_dir, &["net", "drivers/net"]));
    let label = format!("debian61_{}_net_modules", net.module_files.len());
    g.bench_function(label, |b| b.iter(|| scan(&net).unwrap()));
    g.finish();

    // Why the scanner maps vmlinux BTF instead of using btf-rs's caching backend.
    let raw = std::fs::read(support::sysfs_vmlinux()).unwrap();
    let mut g = c.benchmark_group("vmlinux_parse");
    g.sample_size(20).measurement_time(Duration::from_secs(5));
    g.bench_function("btf_rs_cache", |b| {
        b.iter(|| btf_rs::Btf::from_bytes(&raw).unwrap())
    });
    g.bench_function("memfd_mmap", |b| {
        b.iter(|| BtfObject::from_bytes("vmlinux", Path::new("vmlinux"), &raw, None).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
