//! The scanner on the build machine's own kernel (/sys/kernel/btf/vmlinux), checked
//! against an independent walk of the same BTF, and with injected symbol lists.

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;

use support::raw_walk::Raw;
use vrft_btf::{scan, Check, Checks, Reason, Scan, ScanOptions, SymbolSource, Traceability};

fn scan_running(checks: Checks) -> Scan {
    let opts = ScanOptions {
        vmlinux: support::sysfs_vmlinux(),
        // This test compares vmlinux alone; loaded modules are covered by the Debian 6.1 tests.
        modules_dir: None,
        module_files: Vec::new(),
        checks,
    };
    scan(&opts).expect("scan the running kernel")
}

fn find<'a>(scan: &'a Scan, name: &str) -> &'a vrft_btf::Function {
    scan.functions
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("{name} not found"))
}

#[test]
fn finds_every_skb_function_the_independent_walk_finds() {
    let raw = Raw::parse(&std::fs::read(support::sysfs_vmlinux()).unwrap(), None).skb_functions();
    let scan = scan_running(Checks::none(12));
    let ours: BTreeSet<(String, u32, usize, u32)> = scan
        .functions
        .iter()
        .map(|f| {
            let depth = if f.traceability == Traceability::Rejected(Reason::SkbDoublePointer) {
                2
            } else {
                1
            };
            (f.name.clone(), f.btf_id, f.skb_arg, depth)
        })
        .collect();
    assert_eq!(
        ours.len(),
        scan.functions.len(),
        "no function reported twice"
    );
    let missing: Vec<_> = raw.difference(&ours).take(10).collect();
    let extra: Vec<_> = ours.difference(&raw).take(10).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}"
    );
    // DESIGN.md: about 2,400 on the build machine's 6.18 kernel.
    let direct = raw.iter().filter(|f| f.3 == 1).count();
    assert!(direct > 1000, "only {direct} skb functions: wrong BTF?");
}

#[test]
fn skb_index_and_kinds_of_known_functions() {
    let scan = scan_running(Checks::none(12));
    let ip_rcv_finish = find(&scan, "ip_rcv_finish"); // (struct net *, struct sock *, struct sk_buff *)
    assert_eq!((ip_rcv_finish.skb_arg, ip_rcv_finish.nargs()), (2, 3));
    assert_eq!(ip_rcv_finish.args, vec![vrft_btf::Kind::Ptr; 3]);
    assert_eq!(ip_rcv_finish.ret, vrft_btf::Kind::Int);
    assert_eq!(ip_rcv_finish.module, "vmlinux");
    // `struct sk_buff **` only: reported, not traceable.
    let netif = find(&scan, "__netif_receive_skb_core");
    assert_eq!(
        netif.traceability,
        Traceability::Rejected(Reason::SkbDoublePointer)
    );
    // The tracepoint thunks that would run our own programs are denied.
    let thunk = find(&scan, "__traceiter_net_dev_queue");
    assert_eq!(
        thunk.traceability,
        Traceability::Rejected(Reason::Denylisted)
    );
}

#[test]
fn injected_lists_decide_traceability() {
    let filter =
        "ip_rcv\ntcp_v4_rcv\nudp_rcv\n__ftrace_invalid_address___96\nip_rcv_core [some_module]\n";
    let kallsyms = "\
ffffffff81000000 T ip_rcv
ffffffff81000010 t tcp_v4_rcv
ffffffff81000020 t tcp_v4_rcv
ffffffff81000030 T ip_rcv_finish
ffffffff81000040 d udp_rcv
ffffffffc0000000 t ip_rcv_core\t[some_module]
";
    let scan = scan_running(Checks {
        filter_functions: SymbolSource::Text(filter.into()),
        kallsyms: SymbolSource::Text(kallsyms.into()),
        max_args: 12,
    });
    let status = |name| find(&scan, name).traceability;
    assert_eq!(status("ip_rcv"), Traceability::Traceable);
    assert_eq!(
        status("tcp_v4_rcv"),
        Traceability::Rejected(Reason::AmbiguousAddress)
    );
    // Listed by kallsyms but not by ftrace.
    assert_eq!(
        status("ip_rcv_finish"),
        Traceability::Rejected(Reason::NotInFilterFunctions)
    );
    // A data symbol is no function address.
    assert_eq!(status("udp_rcv"), Traceability::Rejected(Reason::NoAddress));
    // Names count per module: a module's ip_rcv_core says nothing about vmlinux's.
    assert_eq!(
        status("ip_rcv_core"),
        Traceability::Rejected(Reason::NotInFilterFunctions)
    );
    assert!(matches!(scan.filter_functions, Check::Checked(_)));
    assert!(matches!(scan.kallsyms, Check::Checked(_)));
}

#[test]
fn unreadable_filter_functions_are_unknown_not_rejections() {
    // available_filter_functions is EPERM on the build machine, missing where tracefs
    // is not mounted: either way it must not reject anything.
    let scan = scan_running(Checks {
        filter_functions: SymbolSource::Files(vec![PathBuf::from(
            "/nonexistent/available_filter_functions",
        )]),
        kallsyms: SymbolSource::Skip,
        max_args: 12,
    });
    assert!(matches!(&scan.filter_functions, Check::Unknown(why) if why.contains("/nonexistent")));
    assert!(!scan
        .rejected_by_reason()
        .contains_key(&Reason::NotInFilterFunctions));
    assert!(scan.traceable().count() > 1000);
}

#[test]
fn system_scan_uses_the_running_kernel() {
    let scan = scan(&ScanOptions::system()).expect("scan the running kernel");
    assert_eq!(scan.objects[0].name, "vmlinux");
    assert!(scan.traceable().count() > 1000);
    // Root on the build machine reads kallsyms; available_filter_functions is EPERM there.
    assert!(
        matches!(scan.kallsyms, Check::Checked(_)),
        "{:?}",
        scan.kallsyms
    );
}

#[test]
fn max_args_is_a_parameter() {
    let nine = "__bpf_sk_lookup"; // 9 arguments
    let six = scan_running(Checks::none(6));
    assert_eq!(
        find(&six, nine).traceability,
        Traceability::Rejected(Reason::TooManyArgs)
    );
    let twelve = scan_running(Checks::none(12));
    assert_eq!(find(&twelve, nine).traceability, Traceability::Traceable);
}

#[test]
fn tracepoint_ids_and_drop_reasons_of_the_running_kernel() {
    let vmlinux = vrft_btf::BtfObject::vmlinux_from_file(&support::sysfs_vmlinux()).unwrap();
    let id = vmlinux
        .tracepoint_btf_id("kfree_skb")
        .expect("kfree_skb tracepoint");
    assert!(id > 0);
    assert_eq!(vmlinux.tracepoint_btf_id("no_such_tracepoint_here"), None);
    // A struct of that name is not a tracepoint.
    assert_eq!(vmlinux.tracepoint_btf_id("sk_buff"), None);
    let reasons = vmlinux.drop_reasons();
    assert!(
        reasons.iter().any(|(v, n)| *v > 0 && n == "NO_SOCKET"),
        "{reasons:?}"
    );
    assert!(reasons
        .iter()
        .all(|(_, n)| !n.starts_with("SKB_DROP_REASON_")));
}

/// What the feature probes read: tracepoint prototypes and struct names.
#[test]
fn tracepoint_arguments_and_structs_of_the_running_kernel() {
    let vmlinux = vrft_btf::BtfObject::vmlinux_from_file(&support::sysfs_vmlinux()).unwrap();
    // skb:consume_skb(skb, location) since 5.19; kfree_skb has had a reason since 5.17.
    assert_eq!(vmlinux.tracepoint_nargs("consume_skb"), Some(2));
    assert!(vmlinux.tracepoint_nargs("kfree_skb").unwrap() >= 3);
    assert_eq!(vmlinux.tracepoint_nargs("no_such_tracepoint_here"), None);
    assert!(vmlinux.has_struct("sk_buff"));
    assert!(
        !vmlinux.has_struct("skb_drop_reason"),
        "an enum, not a struct"
    );
}
