//! The generated libbpf-rs skeleton of bpf/vrft.bpf.c. It opens either of the
//! two objects built from that source (tracer/build.rs): the one for current
//! kernels, or the one built with `VRFT_COMPAT` for 5.10-5.18 ([`open_compat`]).

#![allow(
    clippy::all,
    missing_docs,
    non_camel_case_types,
    non_snake_case,
    dead_code,
    clippy::undocumented_unsafe_blocks
)]

use std::sync::atomic::{AtomicBool, Ordering};

/// The `VRFT_COMPAT` object: same maps, programs and globals, other code.
static COMPAT_DATA: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/compat/vrft.o"));

/// Whether the next skeleton opened is the compatible object.
static COMPAT: AtomicBool = AtomicBool::new(false);

/// Makes the skeletons opened from now on the compatible object (`true`) or
/// the current one. The generated skeleton takes no object of our choosing,
/// so build.rs has it ask [`object_data`].
pub fn open_compat(compat: bool) {
    COMPAT.store(compat, Ordering::Relaxed);
}

fn object_data(modern: &'static [u8]) -> &'static [u8] {
    match COMPAT.load(Ordering::Relaxed) {
        true => COMPAT_DATA,
        false => modern,
    }
}

include!(concat!(env!("OUT_DIR"), "/vrft.skel.rs"));
