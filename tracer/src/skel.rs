//! The generated libbpf-rs skeleton of bpf/vrft.bpf.c.
#![allow(
    clippy::all,
    missing_docs,
    non_camel_case_types,
    non_snake_case,
    dead_code,
    clippy::undocumented_unsafe_blocks
)]

include!(concat!(env!("OUT_DIR"), "/vrft.skel.rs"));
