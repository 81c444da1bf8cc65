#!/usr/bin/env bash
# Fetch the Debian kernels the VM tests boot (tests/vm/main.rs), into a cache outside the repo.
#
# Also installs what the VM harness needs from apt, if missing: QEMU; busybox, ip and ping for the
# guest; the 6.1 kernel; xz (the 6.12 modules are compressed); depmod (kmod); strip (binutils).
#
# Layout, one directory per kernel the harness knows by its short name:
#   $VRFT_VM_CACHE/kernels/6.1/{vmlinuz,modules}   -> the installed linux-image-amd64 (Debian 6.1)
#   $VRFT_VM_CACHE/kernels/6.12/{vmlinuz,modules}  -> newest linux-image-6.12.*+deb12-amd64, unpacked
#   $VRFT_VM_CACHE/kernels/5.10/{vmlinuz,modules}  -> newest linux-image-5.10.*-amd64 of Debian 11 (bullseye,
#                                                     bullseye-security), unpacked (no module BTF, no
#                                                     bpf_get_func_arg, no fentry cookies)
#   $VRFT_VM_CACHE/kernels/7.2/{vmlinuz,modules}   -> newest linux-binary/linux-modules 7.2.* of Debian
#                                                     unstable, unpacked (the first with the tracing multi-link)
# `modules` is the kernel's /lib/modules/<release> directory.
# Idempotent: a kernel already in the cache is left alone. Root (or sudo) for apt-get and the default cache.
set -euo pipefail

export PATH=$PATH:/usr/sbin:/sbin # depmod
cache=${VRFT_VM_CACHE:-/var/cache/vrft-tui/vm}
mkdir -p "$cache/kernels" "$cache/initramfs"
# The tests (which need no root) cache initramfs images here, like /tmp.
chmod 1777 "$cache/initramfs"
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# Point $cache/kernels/$1 at a vmlinuz and a modules directory.
link_kernel() {
  local dir=$cache/kernels/$1
  mkdir -p "$dir"
  ln -sfn "$2" "$dir/vmlinuz"
  ln -sfn "$3" "$dir/modules"
  echo "vm-kernels: $1 -> $(basename "$3")"
}

packages=(qemu-system-x86 busybox-static iproute2 iputils-ping linux-image-amd64 xz-utils kmod binutils)
want=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || want+=("$p")
done
if [ ${#want[@]} -gt 0 ]; then
  echo "vm-kernels: installing ${want[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${want[@]}" >/dev/null
fi

# Debian 6.1: the distribution kernel installed by linux-image-amd64.
release61=$(find /lib/modules -maxdepth 1 -name '6.1.*-amd64' -printf '%f\n' | sort -V | tail -n1)
[ -n "$release61" ] && [ -f "/boot/vmlinuz-$release61" ] || {
  echo "vm-kernels: linux-image-amd64 is installed but no 6.1 kernel is in /boot" >&2
  exit 1
}
link_kernel 6.1 "/boot/vmlinuz-$release61" "/lib/modules/$release61"

# Debian 6.12: newest signed image for bookworm, downloaded and unpacked (not installed).
if [ ! -e "$cache/kernels/6.12/modules/modules.dep" ]; then
  newest_612() {
    apt-cache search --names-only '^linux-image-6\.12\..*\+deb12-amd64$' | cut -d' ' -f1 | sort -V | tail -n1
  }
  pkg=$(newest_612)
  if [ -z "$pkg" ]; then
    as_root apt-get update -qq
    pkg=$(newest_612)
  fi
  [ -n "$pkg" ] || { echo "vm-kernels: apt knows no linux-image-6.12.*+deb12-amd64 package" >&2; exit 1; }
  echo "vm-kernels: fetching $pkg"
  tmp=$(mktemp -d "$cache/fetch.XXXXXX")
  chmod 777 "$tmp" # apt-get download writes as user _apt where it can
  (cd "$tmp" && apt-get download -qq "$pkg")
  root=$cache/kernels/6.12/root
  rm -rf "$root"
  mkdir -p "$root"
  dpkg-deb -x "$tmp"/*.deb "$root"
  rm -rf "$tmp"
  release=${pkg#linux-image-}
  # The package ships no modules.dep (installing it would run depmod); make one.
  depmod -b "$root" "$release"
  link_kernel 6.12 "$root/boot/vmlinuz-$release" "$root/lib/modules/$release"
else
  echo "vm-kernels: 6.12 -> $(basename "$(readlink "$cache/kernels/6.12/modules")") (cached)"
fi

# Debian 7.2 (unstable): packaged as linux-binary-* (the image), linux-modules-* and linux-base-*
# (modules.builtin, the config), fetched from the unstable suite.
# Fetch from one extra Debian suite through an apt configuration of its own under the cache, so the
# machine's sources stay as they are; the archive is the one the machine's own Debian source names.
# Sets suite_apt (apt options) for the directory $1 and the "uri suite" lines in $2...
suite_apt() {
  local dir=$1
  shift
  mkdir -p "$dir/lists/partial" "$dir/archives/partial"
  local uri
  uri=$(apt-get indextargets --format '$(REPO_URI)' 2>/dev/null | grep -v security | head -n1)
  [ -n "$uri" ] || uri=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null)
  [ -n "$uri" ] || { echo "vm-kernels: no Debian archive in the machine's apt sources" >&2; exit 1; }
  uri=${uri%/}
  : > "$dir/sources.list"
  local line
  for line in "$@"; do
    # "security" lines go to the security archive beside the main one.
    case $line in
      security\ *) echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${uri%/debian}/debian-security ${line#security }" ;;
      *) echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $line" ;;
    esac >> "$dir/sources.list"
  done
  apt_opts=(-o Dir::Etc::SourceList="$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
            -o Dir::State::Lists="$dir/lists" -o Dir::Cache="$dir" -o APT::Sandbox::User=root)
  as_root apt-get -qq "${apt_opts[@]}" update
}

# Debian 5.10 (bullseye, Debian 11): the oldest kernel the tracer supports; modules are plain .ko.
if [ ! -e "$cache/kernels/5.10/modules/modules.dep" ]; then
  suite_apt "$cache/apt-bullseye" "bullseye main" "security bullseye-security main"
  image=$(apt-cache "${apt_opts[@]}" search --names-only '^linux-image-5\.10\.0-[0-9]+-amd64$' |
    cut -d' ' -f1 | sort -V | tail -n1)
  [ -n "$image" ] || { echo "vm-kernels: Debian bullseye has no linux-image-5.10.0-*-amd64 package" >&2; exit 1; }
  release=${image#linux-image-}
  echo "vm-kernels: fetching $image"
  tmp=$(mktemp -d "$cache/fetch.XXXXXX")
  (cd "$tmp" && as_root apt-get -qq "${apt_opts[@]}" download "$image")
  root=$cache/kernels/5.10/root
  rm -rf "$root"
  mkdir -p "$root"
  dpkg-deb -x "$tmp"/*.deb "$root"
  rm -rf "$tmp"
  depmod -b "$root" "$release"
  link_kernel 5.10 "$root/boot/vmlinuz-$release" "$root/lib/modules/$release"
else
  echo "vm-kernels: 5.10 -> $(basename "$(readlink "$cache/kernels/5.10/modules")") (cached)"
fi

if [ ! -e "$cache/kernels/7.2/modules/modules.dep" ]; then
  suite_apt "$cache/apt-unstable" "sid main"
  newest() { # PACKAGE-KIND VERSION-REGEX
    apt-cache "${apt_opts[@]}" search --names-only "^linux-$1-$2\..*\+deb[0-9]+-amd64\$" |
      cut -d' ' -f1 | sort -V | tail -n1
  }
  # 7.2 while unstable has it; once it has moved on, the newest 7.x (the boot line names the release).
  image=$(newest binary '7\.2')
  [ -n "$image" ] || image=$(newest binary '7\.[0-9]+')
  [ -n "$image" ] || { echo "vm-kernels: Debian unstable has no linux-binary-7.*-amd64 package" >&2; exit 1; }
  release=${image#linux-binary-}
  echo "vm-kernels: fetching linux-{binary,modules,base}-$release"
  tmp=$(mktemp -d "$cache/fetch.XXXXXX")
  (cd "$tmp" && as_root apt-get -qq "${apt_opts[@]}" download \
    "linux-binary-$release" "linux-modules-$release" "linux-base-$release")
  root=$cache/kernels/7.2/root
  rm -rf "$root"
  mkdir -p "$root"
  for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$root"; done
  rm -rf "$tmp"
  # Merged /usr: the modules, and the image beside them, are under usr/lib/modules.
  mods=$root/usr/lib/modules/$release
  [ -f "$mods/modules.builtin" ] && [ -f "$mods/vmlinuz" ] ||
    { echo "vm-kernels: the 7.2 packages hold no $mods/{vmlinuz,modules.builtin}" >&2; exit 1; }
  depmod -b "$root/usr" "$release"
  link_kernel 7.2 "$mods/vmlinuz" "$mods"
else
  echo "vm-kernels: 7.2 -> $(basename "$(readlink "$cache/kernels/7.2/modules")") (cached)"
fi
