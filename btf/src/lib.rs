//! BTF scanner: see docs/btf.md.
