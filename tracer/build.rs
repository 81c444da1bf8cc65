//! Compiles bpf/vrft.bpf.c with clang, generates its libbpf-rs skeleton, and
//! generates the Rust side of the BPF/Rust contract (bpf/event.h) with bindgen,
//! so the records, enums and constants exist once, in C.

use std::env;
use std::path::PathBuf;

use libbpf_cargo::SkeletonBuilder;

const SRC: &str = "bpf/vrft.bpf.c";
const CONTRACT: &str = "bpf/event.h";

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    SkeletonBuilder::new()
        .source(SRC)
        .clang_args(["-I", "bpf", "-mcpu=v3", "-Wall", "-Wno-unused-function"])
        .build_and_generate(out.join("vrft.skel.rs"))
        .expect("failed to build the BPF programs (is clang installed? run scripts/setup.sh)");
    contract(&out.join("contract.rs"));
    for f in [SRC, CONTRACT, "bpf/vmlinux.h"] {
        println!("cargo:rerun-if-changed={f}");
    }
}

/// bindgen of bpf/event.h. In BPF the kernel's types come from vmlinux.h; here
/// the few the header uses are declared, so nothing of the build machine's
/// kernel headers leaks in.
fn contract(out: &PathBuf) {
    let wrapper = format!(
        "typedef unsigned char __u8; typedef unsigned short __u16;\n\
         typedef unsigned int __u32; typedef unsigned long long __u64;\n\
         typedef long long __s64;\n#include \"{CONTRACT}\"\n"
    );
    bindgen::Builder::default()
        .header_contents("contract.h", &wrapper)
        .clang_arg("-I.")
        .allowlist_type("vrft_.*")
        .allowlist_var("VRFT_.*")
        // Enums become modules of constants: a byte from the ring buffer may hold any value.
        .constified_enum_module("vrft_.*")
        .derive_default(true)
        .use_core()
        .generate()
        .expect("bindgen could not read bpf/event.h (is libclang installed? run scripts/setup.sh)")
        .write_to_file(out)
        .expect("write the generated contract");
}
