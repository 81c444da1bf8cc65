#!/usr/bin/env bash
# Install everything vrft-tui needs to build, run and test, on a Debian 12 machine.
# Idempotent: packages already present are left alone; kernels are cached.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# Build: clang compiles the BPF programs (its libclang also runs bindgen on bpf/event.h); libelf/zlib/pkg-config build libbpf;
# libpcap compiles pcap filter expressions.
build_pkgs=(clang llvm libelf-dev zlib1g-dev pkg-config libpcap-dev make)
# Tests: QEMU boots real Debian kernels; busybox, iproute2 and ping go into the
# guest; bpftool checks that nothing stays attached; tmux drives the real-terminal test;
# python3 sends UDP GSO datagrams in the host tests; tshark, tcpdump, protoc with Python's protobuf and
# jq read the exports back (tests/export.rs).
test_pkgs=(qemu-system-x86 busybox-static iproute2 iputils-ping bpftool tmux cpio linux-image-amd64 python3
  tshark tcpdump protobuf-compiler python3-protobuf jq)

want=()
for p in "${build_pkgs[@]}" "${test_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || want+=("$p")
done
if [ ${#want[@]} -gt 0 ]; then
  echo "setup: installing ${want[*]}"
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${want[@]}" >/dev/null
fi

# Kernels for the VM tests (Debian 6.1 and 6.12), cached outside the repo.
if [ -x scripts/vm-kernels.sh ]; then
  scripts/vm-kernels.sh
fi
echo "setup: done"
