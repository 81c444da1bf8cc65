//! Test and benchmark helpers: Debian's 6.1 kernel as a second, real BTF source
//! (vmlinux unpacked from its bzImage, modules as .ko files), and an independent
//! raw BTF walker to check the scanner against.

#![allow(dead_code)] // each test binary uses a different part

pub mod raw_walk;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A Debian 6.1 kernel installed by scripts/setup.sh (package linux-image-amd64).
pub struct Debian61 {
    pub release: String,
    pub bzimage: PathBuf,
    pub modules_dir: PathBuf,
    /// vmlinux (ELF) unpacked from the bzImage, once per build, into the target dir.
    pub vmlinux_elf: PathBuf,
    /// Its .BTF section as a raw blob, as /sys/kernel/btf/vmlinux would hold it.
    pub vmlinux_btf: PathBuf,
}

impl Debian61 {
    /// A module's .ko under the kernel's module tree, e.g. `drivers/net/veth.ko`.
    pub fn ko(&self, rel: &str) -> PathBuf {
        let p = self.modules_dir.join("kernel").join(rel);
        assert!(
            p.exists(),
            "{} is missing: run scripts/setup.sh",
            p.display()
        );
        p
    }

    /// The modules the VM scenarios load (see DESIGN.md): veth, vxlan and the
    /// tunnel and bridge modules they pull in.
    pub fn vm_modules(&self) -> Vec<PathBuf> {
        [
            "drivers/net/veth.ko",
            "drivers/net/vxlan/vxlan.ko",
            "net/ipv4/udp_tunnel.ko",
            "net/ipv6/ip6_udp_tunnel.ko",
            "net/bridge/bridge.ko",
            "net/802/stp.ko",
            "net/llc/llc.ko",
        ]
        .iter()
        .map(|m| self.ko(m))
        .collect()
    }
}

/// The newest installed Debian 6.1 kernel, with its vmlinux BTF unpacked.
/// Panics with the fix when it is not installed: these tests must not skip silently.
pub fn debian61() -> &'static Debian61 {
    static KERNEL: OnceLock<Debian61> = OnceLock::new();
    KERNEL.get_or_init(|| {
        let mut releases: Vec<String> = std::fs::read_dir("/boot")
            .map(|d| d.flatten().filter_map(|e| e.file_name().into_string().ok()).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|f| f.strip_prefix("vmlinuz-").map(str::to_string))
            .filter(|r| r.starts_with("6.1.") && r.ends_with("-amd64"))
            .collect();
        releases.sort_by_key(|r| natural_key(r));
        let release = releases.pop().unwrap_or_else(|| {
            panic!("no Debian 6.1 kernel (/boot/vmlinuz-6.1.*-amd64): run scripts/setup.sh, which installs linux-image-amd64")
        });
        let bzimage = PathBuf::from(format!("/boot/vmlinuz-{release}"));
        let modules_dir = PathBuf::from(format!("/lib/modules/{release}"));
        assert!(modules_dir.is_dir(), "{} is missing: run scripts/setup.sh", modules_dir.display());
        let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let vmlinux_elf = tmp.join(format!("vmlinux-{release}"));
        let vmlinux_btf = tmp.join(format!("vmlinux-{release}.btf"));
        if !vmlinux_btf.exists() {
            let elf = vmlinux_from_bzimage(&bzimage);
            put(&vmlinux_elf, &elf);
            put(&vmlinux_btf, &elf_section(&elf, ".BTF"));
        }
        Debian61 {
            release,
            bzimage,
            modules_dir,
            vmlinux_elf,
            vmlinux_btf,
        }
    })
}

/// "6.1.0-56-amd64" sorts after "6.1.0-9-amd64".
fn natural_key(s: &str) -> Vec<u64> {
    s.split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect()
}

/// Writes aside, then renames into place: test binaries run in parallel.
fn put(path: &Path, data: &[u8]) {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, data).expect("write into the target dir");
    std::fs::rename(&tmp, path).expect("rename into place");
}

/// Unpacks vmlinux from an x86 bzImage whose payload is xz (Debian's
/// CONFIG_KERNEL_XZ), the way scripts/extract-vmlinux does: find the xz stream
/// magic, decompress one stream, keep it if it is an ELF file.
pub fn vmlinux_from_bzimage(bzimage: &Path) -> Vec<u8> {
    const XZ_MAGIC: &[u8] = b"\xfd7zXZ\0";
    let image = std::fs::read(bzimage).expect("read bzImage");
    for start in (0..image.len()).filter(|&i| image[i..].starts_with(XZ_MAGIC)) {
        let mut vmlinux = Vec::new();
        // A stray magic inside other data fails to decode: try the next one.
        if liblzma::read::XzDecoder::new(&image[start..])
            .read_to_end(&mut vmlinux)
            .is_ok()
            && vmlinux.starts_with(b"\x7fELF")
        {
            return vmlinux;
        }
    }
    panic!("no xz-compressed vmlinux found in {}", bzimage.display());
}

/// A section of an ELF file, read with `object` directly (not through the scanner).
pub fn elf_section(elf: &[u8], name: &str) -> Vec<u8> {
    use object::{Object, ObjectSection};
    let file = object::File::parse(elf).expect("ELF file");
    let section = file
        .section_by_name(name)
        .unwrap_or_else(|| panic!("no {name} section"));
    section.data().expect("section data").to_vec()
}

/// The running kernel's BTF, which every test machine has (DESIGN.md).
pub fn sysfs_vmlinux() -> PathBuf {
    let p = PathBuf::from("/sys/kernel/btf/vmlinux");
    assert!(
        p.exists(),
        "{} is missing: this test needs a kernel with CONFIG_DEBUG_INFO_BTF",
        p.display()
    );
    p
}
