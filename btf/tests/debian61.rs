//! Module split BTF on a real kernel: Debian's 6.1 (installed by scripts/setup.sh),
//! vmlinux BTF unpacked from its bzImage, modules read from their .ko files.

mod support;

use std::collections::BTreeSet;

use support::elf_section;
use support::raw_walk::Raw;
use vrft_btf::{default_max_args, scan, Checks, Error, Reason, Scan, ScanOptions, Traceability};

fn scan_debian61() -> Scan {
    let k = support::debian61();
    let opts = ScanOptions {
        vmlinux: k.vmlinux_btf.clone(),
        modules_dir: None,
        module_files: k.vm_modules(),
        checks: Checks::none(default_max_args(&k.release)),
    };
    scan(&opts).expect("scan Debian 6.1 vmlinux + modules")
}

#[test]
fn finds_veth_xmit_and_vxlan_rcv_in_their_modules() {
    let scan = scan_debian61();
    assert_eq!(scan.max_args, 6, "6.1's trampoline passes 6 arguments");
    let get = |name: &str| {
        let hits: Vec<_> = scan.functions.iter().filter(|f| f.name == name).collect();
        assert_eq!(hits.len(), 1, "{name}: {hits:?}");
        hits[0]
    };
    let veth_xmit = get("veth_xmit"); // (struct sk_buff *, struct net_device *)
    assert_eq!(
        (
            veth_xmit.module.as_str(),
            veth_xmit.skb_arg,
            veth_xmit.nargs()
        ),
        ("veth", 0, 2)
    );
    assert_eq!(veth_xmit.ret, vrft_btf::Kind::Enum); // netdev_tx_t
    assert_eq!(veth_xmit.traceability, Traceability::Traceable);
    let vxlan_rcv = get("vxlan_rcv"); // (struct sock *, struct sk_buff *)
    assert_eq!(
        (
            vxlan_rcv.module.as_str(),
            vxlan_rcv.skb_arg,
            vxlan_rcv.nargs()
        ),
        ("vxlan", 1, 2)
    );
    assert_eq!(vxlan_rcv.traceability, Traceability::Traceable);
    // Split BTF ids continue after vmlinux's, so they are above every vmlinux id.
    let max_vmlinux_id = scan
        .functions
        .iter()
        .filter(|f| f.module == "vmlinux")
        .map(|f| f.btf_id)
        .max();
    assert!(Some(veth_xmit.btf_id) > max_vmlinux_id);
    let names: Vec<&str> = scan.objects.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "vmlinux",
            "bridge",
            "ip6_udp_tunnel",
            "llc",
            "stp",
            "udp_tunnel",
            "veth",
            "vxlan"
        ]
    );
}

#[test]
fn every_object_matches_the_independent_walk() {
    let k = support::debian61();
    let scan = scan_debian61();
    let ours = |module: &str| -> BTreeSet<(String, u32, usize, u32)> {
        scan.functions
            .iter()
            .filter(|f| f.module == module)
            .map(|f| {
                let depth = if f.traceability == Traceability::Rejected(Reason::SkbDoublePointer) {
                    2
                } else {
                    1
                };
                (f.name.clone(), f.btf_id, f.skb_arg, depth)
            })
            .collect()
    };
    let base = std::fs::read(&k.vmlinux_btf).unwrap();
    let vmlinux = Raw::parse(&base, None).skb_functions();
    assert_eq!(ours("vmlinux"), vmlinux);
    // DESIGN.md measured 1574 vmlinux skb functions on this kernel in the VM.
    let direct = vmlinux.iter().filter(|f| f.3 == 1).count();
    assert!(
        (1500..1700).contains(&direct),
        "{direct} vmlinux skb functions"
    );
    for ko in k.vm_modules() {
        let module = vrft_btf::module_name(&ko);
        let btf = elf_section(&std::fs::read(&ko).unwrap(), ".BTF");
        let raw = Raw::parse(&btf, Some(Raw::parse(&base, None))).skb_functions();
        assert_eq!(ours(&module), raw, "{module}");
    }
}

#[test]
fn a_bzimage_is_refused_with_the_fix() {
    let k = support::debian61();
    let err = vrft_btf::BtfObject::vmlinux_from_file(&k.bzimage)
        .err()
        .expect("a bzImage is not BTF");
    assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("bzImage") && msg.contains("vmlinux"), "{msg}");
}

#[test]
fn vmlinux_elf_and_its_raw_btf_scan_alike() {
    let k = support::debian61();
    let from = |vmlinux: &std::path::Path| {
        let opts = ScanOptions {
            vmlinux: vmlinux.to_path_buf(),
            modules_dir: None,
            module_files: vec![k.ko("drivers/net/veth.ko")],
            checks: Checks::none(6),
        };
        scan(&opts).expect("scan").functions
    };
    assert_eq!(from(&k.vmlinux_elf), from(&k.vmlinux_btf));
}
