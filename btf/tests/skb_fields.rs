//! `--skb-fields` names resolved in real BTF: the running kernel's and Debian 6.1's.
//! (The values read at these offsets are checked end to end in tests/host_trace.rs.)

mod support;

use vrft_btf::{resolve_skb_fields, BtfObject, SkbField};

fn resolve(obj: &BtfObject, names: &[&str]) -> Result<Vec<SkbField>, String> {
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    resolve_skb_fields(obj, &names)
}

fn kernels() -> Vec<BtfObject> {
    vec![
        BtfObject::vmlinux_from_file(&support::sysfs_vmlinux()).unwrap(),
        BtfObject::vmlinux_from_file(&support::debian61().vmlinux_btf).unwrap(),
    ]
}

#[test]
fn plain_bitfield_big_endian_and_shared_info_fields() {
    for k in kernels() {
        let f = resolve(
            &k,
            &[
                "len", "data_len", "mark", "protocol", "pkt_type", "gso_size", "gso_segs",
            ],
        )
        .unwrap();
        let [len, data_len, mark, protocol, pkt_type, gso_size, gso_segs] = &f[..] else {
            panic!("{f:?}");
        };
        // `unsigned int len, data_len;` are declared together.
        assert_eq!((len.size, data_len.size), (4, 4));
        assert_eq!(data_len.offset, len.offset + 4);
        assert!(!len.shinfo && len.bits == 64 && !len.big_endian);
        assert_eq!(mark.size, 4);
        // `__be16 protocol` is shown in host order.
        assert_eq!((protocol.size, protocol.big_endian), (2, true));
        // `__u8 pkt_type:3` is a bitfield.
        assert_eq!(pkt_type.bits, 3, "{pkt_type:?}");
        assert!(pkt_type.shift as u32 + 3 <= pkt_type.size as u32 * 8);
        // The GSO fields live in skb_shared_info, behind skb->head + skb->end.
        assert!(gso_size.shinfo && gso_segs.shinfo);
        assert_eq!((gso_size.size, gso_segs.size), (2, 2));
        assert_ne!(gso_size.offset, gso_segs.offset);
        // The explicit spelling finds the same member.
        let again = resolve(&k, &["shinfo.gso_size"]).unwrap();
        assert_eq!((again[0].shinfo, again[0].offset), (true, gso_size.offset));
    }
}

#[test]
fn debian61_len_is_where_pahole_puts_it() {
    // pahole of Debian's 6.1 sk_buff: `unsigned int len; /* 112 4 */`.
    let k = BtfObject::vmlinux_from_file(&support::debian61().vmlinux_btf).unwrap();
    let f = resolve(&k, &["len"]).unwrap();
    assert_eq!(f[0].offset, 112);
}

#[test]
fn bad_names_fail_in_one_line_with_the_fix() {
    let k = BtfObject::vmlinux_from_file(&support::sysfs_vmlinux()).unwrap();
    let e = resolve(&k, &["len", "no_such_field"]).unwrap_err();
    assert!(
        e.contains("unknown --skb-fields name 'no_such_field'"),
        "{e}"
    );
    assert!(e.contains("e.g. len"), "{e}");
    let e = resolve(&k, &["cb"]).unwrap_err();
    assert!(e.contains("'cb' is an array, not a number"), "{e}");
    let nine: Vec<&str> = vec!["len"; 9];
    let e = resolve(&k, &nine).unwrap_err();
    assert!(e.contains("at most 8"), "{e}");
    for e in [
        resolve(&k, &["cb"]).unwrap_err(),
        resolve(&k, &["nope"]).unwrap_err(),
    ] {
        assert_eq!(e.lines().count(), 1, "{e}");
    }
}
