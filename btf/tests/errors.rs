//! Bad input gives one line naming the file, the problem and the fix.

mod support;

use std::path::{Path, PathBuf};

use vrft_btf::{scan, BtfObject, Checks, Error, ScanOptions};

fn tmp(name: &str, data: &[u8]) -> PathBuf {
    let p = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&p, data).unwrap();
    p
}

fn one_line(e: &Error, path: &Path, fix: &str) {
    let msg = e.to_string();
    assert!(!msg.contains('\n'), "{msg}");
    assert!(
        msg.contains(&path.display().to_string()),
        "does not name {}: {msg}",
        path.display()
    );
    assert!(msg.contains(fix), "no fix ({fix}) in: {msg}");
}

fn vmlinux_err(path: &Path) -> Error {
    BtfObject::vmlinux_from_file(path).err().expect("must fail")
}

#[test]
fn missing_file() {
    let p = Path::new("/nonexistent/vmlinux");
    let e = vmlinux_err(p);
    assert!(matches!(e, Error::Read { .. }), "{e:?}");
    one_line(&e, p, "check the path");
}

#[test]
fn empty_and_text_files_are_corrupt_btf() {
    for (name, data) in [
        ("empty", &b""[..]),
        ("text", &b"hello, this is not BTF at all\n"[..]),
    ] {
        let p = tmp(name, data);
        let e = vmlinux_err(&p);
        assert!(matches!(e, Error::Corrupt { .. }), "{e:?}");
        one_line(&e, &p, "pass an intact raw BTF blob");
    }
}

#[test]
fn elf_without_btf_section() {
    // The test binary itself: an ELF file with no .BTF.
    let p = std::env::current_exe().unwrap();
    let e = vmlinux_err(&p);
    assert!(matches!(e, Error::NoBtfSection(_)), "{e:?}");
    one_line(&e, &p, "CONFIG_DEBUG_INFO_BTF");
}

#[test]
fn compressed_file_is_refused_with_the_fix() {
    let p = tmp("veth.ko.xz", b"\xfd7zXZ\0\0\x04\xe6\xd6\xb4\x46");
    let e = vmlinux_err(&p);
    assert!(matches!(e, Error::Unsupported { .. }), "{e:?}");
    one_line(&e, &p, "decompress it first");
}

#[test]
fn missing_module_file_fails_the_scan() {
    let p = PathBuf::from("/nonexistent/veth.ko");
    let opts = ScanOptions {
        vmlinux: support::sysfs_vmlinux(),
        modules_dir: None,
        module_files: vec![p.clone()],
        checks: Checks::none(12),
    };
    let e = scan(&opts).expect_err("must fail");
    one_line(&e, &p, "check the path");
}

#[test]
fn module_of_another_kernel_is_not_a_panic() {
    // Debian 6.1's veth on this machine's vmlinux: ids and strings point elsewhere.
    let ko = support::debian61().ko("drivers/net/veth.ko");
    let opts = ScanOptions {
        vmlinux: support::sysfs_vmlinux(),
        modules_dir: None,
        module_files: vec![ko.clone()],
        checks: Checks::none(12),
    };
    if let Err(e) = scan(&opts) {
        assert!(matches!(e, Error::ModuleMismatch { .. }), "{e:?}");
        one_line(&e, &ko, "--btf");
    }
}

#[test]
fn docs_explain_every_reason_and_denylist_entry() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/btf.md"))
        .unwrap();
    for r in vrft_btf::Reason::ALL {
        assert!(
            doc.contains(&format!("`{}`", r.code())),
            "docs/btf.md lacks reason {}",
            r.code()
        );
    }
    for (pattern, why) in vrft_btf::denylist_entries() {
        let row = format!("| `{pattern}` | {why} |");
        assert!(
            doc.contains(&row),
            "docs/btf.md lacks the denylist row {row}"
        );
    }
}
