//! Compiles bpf/vrft.bpf.c with clang, generates its libbpf-rs skeleton, and
//! generates the Rust side of the BPF/Rust contract (bpf/event.h) with bindgen,
//! so the records, enums and constants exist once, in C.

use std::env;
use std::path::{Path, PathBuf};

use libbpf_cargo::SkeletonBuilder;

const SRC: &str = "bpf/vrft.bpf.c";
const CONTRACT: &str = "bpf/event.h";

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    // The same source twice: as is, and for kernels 5.10-5.18 (-DVRFT_COMPAT,
    // see the top of bpf/vrft.bpf.c). Each object is named `vrft` (its file
    // name), so that both generate the same skeleton but for their bytes.
    let modern = skeleton(&out.join("vrft.o"), &[], &out.join("modern.skel.rs"));
    let compat = skeleton(
        &out.join("compat").join("vrft.o"),
        &["-DVRFT_COMPAT"],
        &out.join("compat.skel.rs"),
    );
    // One skeleton type opens either object (src/skel.rs picks the bytes):
    // both must have the same maps and programs, and the same layout of the
    // global variables that user space writes through the skeleton.
    assert_eq!(
        shape(&modern),
        shape(&compat),
        "bpf/vrft.bpf.c: the VRFT_COMPAT object differs from the other in maps, programs or \
         the layout of its globals (clang places uninitialised ones where first used)"
    );
    let open = "ObjectSkeletonConfigBuilder::new(&DATA)";
    assert!(
        modern.contains(open),
        "libbpf-cargo changed how skeletons open"
    );
    let skel = modern.replace(
        open,
        "ObjectSkeletonConfigBuilder::new(super::object_data(&DATA))",
    );
    std::fs::write(out.join("vrft.skel.rs"), skel).expect("write the skeleton");
    contract(&out.join("contract.rs"));
    for f in [SRC, CONTRACT, "bpf/vmlinux.h"] {
        println!("cargo:rerun-if-changed={f}");
    }
}

/// What a skeleton assumes of its object: the names of its maps and programs
/// (looked up by name when it opens), and its global variables' structs.
fn shape(skel: &str) -> (Vec<&str>, Vec<&str>) {
    let mut names: Vec<&str> = skel
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with(".map(\"") || l.starts_with(".prog(\""))
        .collect();
    names.sort_unstable();
    let mut globals = Vec::new();
    for sec in [
        "pub struct rodata {",
        "pub struct bss {",
        "pub struct data {",
    ] {
        if let Some(at) = skel.find(sec) {
            let body = &skel[at..];
            globals.push(&body[..body.find('}').expect("a struct ends")]);
        }
    }
    (names, globals)
}

/// Compiles bpf/vrft.bpf.c with `defines` into `obj` and returns its skeleton's source.
fn skeleton(obj: &Path, defines: &[&str], skel: &Path) -> String {
    std::fs::create_dir_all(obj.parent().expect("obj has a directory"))
        .expect("create OUT_DIR/compat");
    let mut args = vec!["-I", "bpf", "-mcpu=v3", "-Wall", "-Wno-unused-function"];
    args.extend(defines);
    SkeletonBuilder::new()
        .source(SRC)
        .obj(obj)
        .clang_args(args)
        .build_and_generate(skel)
        .expect("failed to build the BPF programs (is clang installed? run scripts/setup.sh)");
    std::fs::read_to_string(skel).expect("read the generated skeleton")
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
