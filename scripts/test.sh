#!/usr/bin/env bash
# Every check CI runs: format, lints, unit/integration tests on this kernel, and
# the end-to-end tests inside real Debian kernels under QEMU.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
step() { printf '\n== %s (%ds)\n' "$*" $((SECONDS - start)); }

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets -- -D warnings
step "cargo test"
cargo test --workspace
step "done in $((SECONDS - start)) s"
