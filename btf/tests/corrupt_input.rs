//! Corrupt and truncated BTF gives an error, never a panic or a hang: property
//! tests over real blobs (the running kernel's vmlinux, Debian 6.1's veth module)
//! with bytes changed or cut off, through the same entry points `list` uses.

mod support;

use std::path::Path;
use std::sync::OnceLock;

use proptest::prelude::*;
use vrft_btf::{scan_objects, BtfObject, Checks, Error};

fn vmlinux() -> &'static [u8] {
    static DATA: OnceLock<Vec<u8>> = OnceLock::new();
    DATA.get_or_init(|| std::fs::read(support::sysfs_vmlinux()).unwrap())
}

/// Debian 6.1's vmlinux, parsed, and veth.ko's bytes (ELF) and .BTF (split BTF).
struct Veth {
    base: BtfObject,
    ko: Vec<u8>,
    btf: Vec<u8>,
}

fn veth() -> &'static Veth {
    static VETH: OnceLock<Veth> = OnceLock::new();
    VETH.get_or_init(|| {
        let k = support::debian61();
        let base = BtfObject::vmlinux_from_file(&k.vmlinux_btf).unwrap();
        let ko = std::fs::read(k.ko("drivers/net/veth.ko")).unwrap();
        let btf = support::elf_section(&ko, ".BTF");
        Veth { base, ko, btf }
    })
}

/// Parses and walks `data` as vmlinux (no base) or as a module on `base`. Any
/// outcome but a panic is fine; errors must be one line.
fn parse_and_scan(data: &[u8], base: Option<&BtfObject>) -> Result<usize, Error> {
    let name = if base.is_some() { "veth" } else { "vmlinux" };
    let obj = BtfObject::from_bytes(name, Path::new("fuzzed"), data, base)?;
    let scan = scan_objects(&[&obj], &Checks::none(12))?;
    Ok(scan.functions.len())
}

fn check(outcome: Result<usize, Error>) {
    if let Err(e) = outcome {
        let msg = e.to_string();
        assert!(!msg.contains('\n'), "error spans lines: {msg}");
        assert!(
            msg.contains("fuzzed"),
            "error does not name the input: {msg}"
        );
    }
}

fn mutate(data: &[u8], edits: &[(prop::sample::Index, u8)]) -> Vec<u8> {
    let mut out = data.to_vec();
    for (at, byte) in edits {
        let i = at.index(out.len());
        out[i] = *byte;
    }
    out
}

/// Keeps the first `len` bytes and shrinks the header's sections to fit, so the
/// parser gets past the header check and meets a cut-off type or string table.
fn truncate_fitted(data: &[u8], len: usize) -> Vec<u8> {
    let mut out = data[..len.max(24)].to_vec();
    let room = (out.len() - 24) as u32;
    let put =
        |out: &mut Vec<u8>, at: usize, v: u32| out[at..at + 4].copy_from_slice(&v.to_le_bytes());
    let (type_off, type_len) = (
        u32::from_le_bytes(out[8..12].try_into().unwrap()),
        u32::from_le_bytes(out[12..16].try_into().unwrap()),
    );
    let type_len = type_len.min(room.saturating_sub(type_off));
    put(&mut out, 12, type_len);
    let str_off = type_off + type_len;
    put(&mut out, 16, str_off);
    put(&mut out, 20, room.saturating_sub(str_off));
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn truncated_vmlinux_is_an_error(len in 0usize..5_000_000) {
        let data = vmlinux();
        let outcome = parse_and_scan(&data[..len.min(data.len() - 1)], None);
        prop_assert!(outcome.is_err());
        check(outcome);
    }

    #[test]
    fn truncated_vmlinux_with_fitted_header_never_panics(len in 24usize..5_000_000) {
        let data = vmlinux();
        check(parse_and_scan(&truncate_fitted(data, len.min(data.len())), None));
    }

    #[test]
    fn truncated_module_never_panics(len in 0usize..100_000, fitted in any::<bool>()) {
        let v = veth();
        let len = len % v.btf.len();
        let data = if fitted { truncate_fitted(&v.btf, len) } else { v.btf[..len].to_vec() };
        check(parse_and_scan(&data, Some(&v.base)));
    }
}

proptest! {
    // Each case walks all of vmlinux: fewer of them.
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_vmlinux_never_panics(edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..32)) {
        check(parse_and_scan(&mutate(vmlinux(), &edits), None));
    }

    #[test]
    fn mutated_vmlinux_header_never_panics(edits in prop::collection::vec((0usize..24, any::<u8>()), 1..8)) {
        let mut data = vmlinux().to_vec();
        for (at, byte) in edits {
            data[at] = byte;
        }
        check(parse_and_scan(&data, None));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_module_btf_never_panics(edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16)) {
        let v = veth();
        check(parse_and_scan(&mutate(&v.btf, &edits), Some(&v.base)));
    }

    #[test]
    fn mutated_module_header_never_panics(edits in prop::collection::vec((0usize..24, any::<u8>()), 1..8)) {
        let v = veth();
        let mut data = v.btf.clone();
        for (at, byte) in edits {
            data[at] = byte;
        }
        check(parse_and_scan(&data, Some(&v.base)));
    }

    #[test]
    fn mutated_ko_file_never_panics(edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8), in_header in any::<bool>()) {
        let v = veth();
        // Half the cases hit the ELF header, where object's parsing decides everything.
        let mut data = v.ko.clone();
        for (at, byte) in &edits {
            let i = if in_header { at.index(64) } else { at.index(data.len()) };
            data[i] = *byte;
        }
        check(parse_and_scan(&data, Some(&v.base)));
    }
}
