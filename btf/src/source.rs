//! Loading BTF: sysfs blobs, raw BTF files and the `.BTF` section of ELF files
//! (vmlinux, `.ko`). Module BTF is split BTF and is parsed on top of vmlinux.

use std::borrow::Cow;
use std::fs;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd};
use std::path::{Path, PathBuf};

use btf_rs::Btf;
use object::{Object, ObjectSection};

use crate::error::{Error, Result};

/// Name of the base object, as the `MODULE` column and the tracer call it.
pub const VMLINUX: &str = "vmlinux";

/// Where the kernel exposes its own BTF: `vmlinux` plus one split blob per loaded module.
pub const SYSFS_BTF_DIR: &str = "/sys/kernel/btf";

/// One parsed BTF object: vmlinux, or a module's split BTF on top of it.
pub struct BtfObject {
    /// "vmlinux" or the module name, which is also the name of the kernel's
    /// BTF object the tracer attaches to (`/sys/kernel/btf/<name>`).
    pub name: String,
    /// File it came from, for messages.
    pub path: PathBuf,
    pub(crate) btf: Btf,
}

impl BtfObject {
    /// Reads a vmlinux BTF: a raw blob (`/sys/kernel/btf/vmlinux`) or an ELF with `.BTF`.
    pub fn vmlinux_from_file(path: &Path) -> Result<Self> {
        let data = read(path)?;
        Self::from_bytes(VMLINUX, path, &data, None)
    }

    /// Reads a module's BTF (raw split blob or `.ko`) on top of `base` (vmlinux).
    pub fn module_from_file(path: &Path, base: &BtfObject) -> Result<Self> {
        let data = read(path)?;
        Self::from_bytes(&module_name(path), path, &data, Some(base))
    }

    /// Parses BTF from memory. `base` makes it split BTF (a module). `path` only names
    /// the input in errors. Corrupt input gives [`Error::Corrupt`], never a panic.
    pub fn from_bytes(
        name: &str,
        path: &Path,
        data: &[u8],
        base: Option<&BtfObject>,
    ) -> Result<Self> {
        let raw = btf_bytes(path, data)?;
        let corrupt = |detail: String| Error::Corrupt {
            path: path.to_path_buf(),
            detail,
        };
        check_header(&raw).map_err(corrupt)?;
        let corrupt = |detail| match base {
            Some(_) => Error::ModuleMismatch {
                path: path.to_path_buf(),
                detail,
            },
            None => corrupt(detail),
        };
        let btf = match base {
            None => parse_base(&raw),
            Some(base) => Btf::from_split_bytes(&raw, &base.btf),
        }
        .map_err(|e| corrupt(e.to_string()))?;
        Ok(BtfObject {
            name: name.to_string(),
            path: path.to_path_buf(),
            btf,
        })
    }

    /// The error for BTF of this object that parsed but does not hold together.
    pub(crate) fn inconsistent(&self, detail: String) -> Error {
        let path = self.path.clone();
        match self.btf.split() {
            Some(_) => Error::ModuleMismatch { path, detail },
            None => Error::Corrupt { path, detail },
        }
    }

    /// Range of type ids this object defines (for a module, only its own split part).
    pub(crate) fn own_id_range(&self) -> (u32, u32) {
        match self.btf.split() {
            Some(split) => split.type_id_range(),
            None => self.btf.base().type_id_range(),
        }
    }
}

/// Module name for a file: `veth.ko` -> `veth`; dashes become underscores as the
/// kernel does for module names, so it matches `/sys/kernel/btf/` and kallsyms.
pub fn module_name(path: &Path) -> String {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy())
        .unwrap_or_default();
    let stem = file.strip_suffix(".ko").unwrap_or(&file);
    stem.replace('-', "_")
}

/// The loaded modules' BTF blobs in a sysfs-style directory (everything but vmlinux),
/// sorted by name so scans are reproducible.
pub fn module_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = fs::read_dir(dir).map_err(|err| Error::Read {
        path: dir.to_path_buf(),
        err,
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|err| Error::Read {
            path: dir.to_path_buf(),
            err,
        })?;
        if entry.file_name() != VMLINUX {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

/// Parses vmlinux BTF through btf-rs's mmap backend, which indexes the types
/// lazily: about ten times faster than its caching backend on a 5 MB vmlinux (see
/// docs/BENCHMARKS.md). That backend wants a file, so the bytes go into a memfd;
/// where that fails, the caching backend parses them from memory.
fn parse_base(raw: &[u8]) -> btf_rs::Result<Btf> {
    match memfd_with(raw) {
        Ok(file) => {
            // Opening the fd's /proc link gives btf-rs a path to the same memory.
            let path = format!("/proc/self/fd/{}", file.as_raw_fd());
            match Btf::from_file_with_backend(&path, btf_rs::Backend::Mmap) {
                Err(btf_rs::Error::IO(_)) => Btf::from_bytes(raw),
                parsed => parsed,
            }
        }
        Err(_) => Btf::from_bytes(raw),
    }
}

fn memfd_with(data: &[u8]) -> std::io::Result<fs::File> {
    // SAFETY: memfd_create takes a NUL-terminated name and flags and returns a new
    // fd or -1; a new fd is owned by nobody else, so File may take it.
    let fd = unsafe { libc::memfd_create(c"vrft-btf".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is the new, valid fd checked above, owned by nobody else.
    let mut file = unsafe { fs::File::from_raw_fd(fd) };
    file.write_all(data)?;
    Ok(file)
}

fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(|err| match err.kind() {
        std::io::ErrorKind::NotFound if path == Path::new(SYSFS_BTF_DIR).join(VMLINUX) => {
            Error::NoKernelBtf(path.to_path_buf())
        }
        _ => Error::Read {
            path: path.to_path_buf(),
            err,
        },
    })
}

/// The raw BTF bytes of `data`: itself, or the `.BTF` section when it is an ELF file.
fn btf_bytes<'a>(path: &Path, data: &'a [u8]) -> Result<Cow<'a, [u8]>> {
    let unsupported = |what, fix| Error::Unsupported {
        path: path.to_path_buf(),
        what,
        fix,
    };
    if data.starts_with(b"\x7fELF") {
        let elf = object::File::parse(data).map_err(|e| Error::Corrupt {
            path: path.to_path_buf(),
            detail: format!("bad ELF file: {e}"),
        })?;
        // Out-of-tree modules may carry distilled base BTF whose ids do not refer to
        // vmlinux; only the kernel can relocate those.
        if elf.section_by_name(".BTF.base").is_some() {
            return Err(unsupported(
                "module has distilled base BTF (.BTF.base)",
                "load the module and let vrft-tui read /sys/kernel/btf instead",
            ));
        }
        let section = elf
            .section_by_name(".BTF")
            .ok_or_else(|| Error::NoBtfSection(path.to_path_buf()))?;
        return section.uncompressed_data().map_err(|e| Error::Corrupt {
            path: path.to_path_buf(),
            detail: format!("unreadable .BTF section: {e}"),
        });
    }
    if data.get(0x202..0x206) == Some(b"HdrS") {
        return Err(unsupported(
            "this is a compressed kernel image (bzImage), not BTF",
            "pass the uncompressed vmlinux ELF (scripts/extract-vmlinux) or /sys/kernel/btf/vmlinux",
        ));
    }
    if data.starts_with(b"\xfd7zXZ\0")
        || data.starts_with(b"\x28\xb5\x2f\xfd")
        || data.starts_with(b"\x1f\x8b")
    {
        return Err(unsupported(
            "file is compressed (xz, zstd or gzip)",
            "decompress it first (e.g. xz -dk or zstd -d)",
        ));
    }
    Ok(Cow::Borrowed(data))
}

/// Checks the BTF header against the buffer before btf-rs sees it: a section that
/// claims to extend past the end would make the string reader spin on end-of-file.
fn check_header(data: &[u8]) -> std::result::Result<(), String> {
    const HDR_MIN: usize = 24;
    if data.len() < HDR_MIN {
        return Err(format!(
            "{} bytes is too short for a BTF header",
            data.len()
        ));
    }
    let u32_at = |at: usize| -> u32 {
        let b: [u8; 4] = data[at..at + 4].try_into().expect("4 bytes");
        // 0xeB9F in the file's byte order: 9f eb is little endian.
        if data[0] == 0x9f {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    match (data[0], data[1]) {
        (0x9f, 0xeb) | (0xeb, 0x9f) => {}
        (a, b) => return Err(format!("bad magic {a:#04x}{b:02x} (not BTF)")),
    }
    if data[2] != 1 {
        return Err(format!("unsupported BTF version {}", data[2]));
    }
    let hdr_len = u64::from(u32_at(4));
    let len = data.len() as u64;
    if hdr_len < HDR_MIN as u64 || hdr_len > len {
        return Err(format!(
            "header length {hdr_len} does not fit in {len} bytes"
        ));
    }
    for (what, off, size) in [
        ("type", u32_at(8), u32_at(12)),
        ("string", u32_at(16), u32_at(20)),
    ] {
        let end = hdr_len + u64::from(off) + u64::from(size);
        if end > len {
            return Err(format!(
                "{what} section ends at byte {end}, past the end ({len} bytes)"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_match_the_kernel() {
        assert_eq!(
            module_name(Path::new("/lib/modules/x/kernel/drivers/net/veth.ko")),
            "veth"
        );
        assert_eq!(
            module_name(Path::new("/sys/kernel/btf/nf_conntrack")),
            "nf_conntrack"
        );
        assert_eq!(module_name(Path::new("snd-hda-intel.ko")), "snd_hda_intel");
    }

    #[test]
    fn header_must_fit_the_buffer() {
        let mut hdr = vec![0x9f, 0xeb, 1, 0];
        for v in [24u32, 0, 4, 4, 1] {
            hdr.extend_from_slice(&v.to_le_bytes());
        }
        hdr.extend_from_slice(&[0; 5]);
        assert_eq!(check_header(&hdr), Ok(()));
        hdr.truncate(hdr.len() - 1);
        assert!(check_header(&hdr).unwrap_err().contains("string section"));
    }
}
