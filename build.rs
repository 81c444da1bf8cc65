//! Compiles bpf/vrft.bpf.c with clang and generates its libbpf-rs skeleton.

use std::env;
use std::path::PathBuf;

use libbpf_cargo::SkeletonBuilder;

const SRC: &str = "bpf/vrft.bpf.c";

fn main() {
    let out =
        PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("vrft.skel.rs");
    SkeletonBuilder::new()
        .source(SRC)
        .clang_args(["-I", "bpf", "-mcpu=v3", "-Wall", "-Wno-unused-function"])
        .build_and_generate(&out)
        .expect("failed to build the BPF programs (is clang installed? run scripts/setup.sh)");
    for f in [SRC, "bpf/event.h", "bpf/vmlinux.h"] {
        println!("cargo:rerun-if-changed={f}");
    }
}
