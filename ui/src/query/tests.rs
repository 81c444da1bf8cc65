use std::net::IpAddr;

use super::term::{Cmp, Term};
use super::*;
use crate::model::L3;
use vrft_events::event::FuncInfo;
use vrft_events::session::{Flow, Interface, Namespace, PacketKind};

const NS_A: u32 = 4026532301;
const NS_B: u32 = 4026532302;

fn info() -> SessionInfo {
    SessionInfo {
        functions: ["ip_rcv", "tcp_v4_rcv", "udp_rcv"]
            .iter()
            .map(|n| FuncInfo {
                name: n.to_string(),
                origin: vrft_events::Origin::Vmlinux,
                skb_arg: 0,
                nargs: 1,
                returns: Default::default(),
            })
            .collect(),
        drop_reasons: vec![(2, "NOT_SPECIFIED".into()), (3, "NO_SOCKET".into())],
        interfaces: vec![
            Interface {
                netns: NS_A,
                ifindex: 2,
                name: "veth0".into(),
            },
            Interface {
                netns: NS_B,
                ifindex: 3,
                name: "br0".into(),
            },
        ],
        namespaces: vec![
            Namespace {
                inode: NS_A,
                name: "a".into(),
            },
            Namespace {
                inode: NS_B,
                name: "b".into(),
            },
        ],
        ..Default::default()
    }
}

fn expr(s: &str) -> Expr {
    Query::parse(s, &info()).unwrap().expr.unwrap()
}

fn err(s: &str) -> String {
    Query::parse(s, &info()).unwrap_err()
}

fn t(s: &str) -> Expr {
    Expr::Term(term::parse(s, &info()).unwrap().1)
}

fn not(e: Expr) -> Expr {
    Expr::Not(Box::new(e))
}

/// A UDP (or other) packet from `src` to `dst` that crossed device `dev` in namespace `ns`.
fn packet(proto: u8, src: &str, dst: &str, ports: (u16, u16), dev: (u32, u32)) -> Packet {
    let mut p = Packet::new(1, 0, 0);
    p.flow = Some(Box::new(Flow {
        proto,
        src: src.parse::<IpAddr>().unwrap(),
        dst: dst.parse::<IpAddr>().unwrap(),
        sport: ports.0,
        dport: ports.1,
    }));
    p.devs.push(dev);
    p
}

fn hits(q: &str, p: &Packet) -> bool {
    Query::parse(q, &info()).unwrap().matches(p, &info())
}

#[test]
fn not_binds_tighter_than_and_tighter_than_or() {
    assert_eq!(
        expr("udp or tcp and !drop"),
        Expr::Or(vec![t("udp"), Expr::And(vec![t("tcp"), not(t("drop"))])])
    );
    assert_eq!(
        expr("not udp and tcp"),
        Expr::And(vec![not(t("udp")), t("tcp")])
    );
    assert_eq!(
        expr("udp && tcp || icmp"),
        Expr::Or(vec![Expr::And(vec![t("udp"), t("tcp")]), t("icmp")])
    );
}

#[test]
fn parentheses_group_and_juxtaposition_is_and() {
    assert_eq!(
        expr("(udp or tcp) dport=53"),
        Expr::And(vec![Expr::Or(vec![t("udp"), t("tcp")]), t("dport=53")])
    );
    assert_eq!(
        expr("!(udp || tcp)"),
        not(Expr::Or(vec![t("udp"), t("tcp")]))
    );
    assert_eq!(expr("((drop))"), t("drop"));
    // The space-separated filters of before keep their meaning.
    assert_eq!(
        expr("iface=veth0 func=ip_rcv dur>100us !drop calls>=3"),
        Expr::And(vec![
            t("iface=veth0"),
            t("func=ip_rcv"),
            t("dur>100us"),
            not(t("drop")),
            t("calls>=3"),
        ])
    );
    assert!(Query::parse("  ", &info()).unwrap().is_empty());
}

#[test]
fn structure_errors_point_at_the_token() {
    assert_eq!(err("udp and"), "'and' (column 5): needs a term after it");
    assert_eq!(err("(udp or tcp"), "'(' (column 1): no ')' closes it");
    assert_eq!(err("udp) or tcp"), "')' (column 4): no '(' to close");
    assert_eq!(
        err("udp or or tcp"),
        "'or' (column 8): expected a term after 'or'"
    );
    assert_eq!(err("()"), "'(' (column 1): empty parentheses");
    assert_eq!(err("or udp"), "'or' (column 1): expected a term");
    assert_eq!(err("not"), "'not' (column 1): needs a term after it");
}

#[test]
fn protocol_words_and_cli_aliases() {
    assert_eq!(t("udp"), Expr::Term(Term::Proto(17)));
    assert_eq!(t("ICMPv6"), Expr::Term(Term::Proto(58)));
    assert_eq!(t("icmp6"), t("proto=icmpv6"));
    assert_eq!(t("arp"), Expr::Term(Term::L3(L3::Arp)));
    assert_eq!(t("ip6"), t("ipv=6"));
    assert_eq!(t("saddr=10.0.0.1"), t("src=10.0.0.1"));
    assert_eq!(t("daddr=10.0.0.0/8"), t("dst=10.0.0.0/8"));
    assert_eq!(t("net=10.0.0.0/8"), t("host=10.0.0.0/8"));
    assert_eq!(t("dev=veth0"), t("iface=veth0"));
    assert_eq!(expr("proto!=udp"), not(t("udp")));
    assert_eq!(t("dur!=0ns"), Expr::Term(Term::Dur(Cmp::Ne, 0)));
}

#[test]
fn prefixes_and_addresses_match_flows() {
    let p = packet(17, "192.168.42.2", "192.168.42.1", (5000, 53), (NS_A, 2));
    assert!(hits("host=192.168.42.0/24", &p));
    assert!(hits("src=192.168.42.2 and dst=192.168.42.1/32", &p));
    assert!(!hits("saddr=192.168.42.1", &p));
    assert!(!hits("host=10.0.0.0/8", &p));
    assert!(hits("udp and (dport=53 or dport=5353) and not tcp", &p));
    assert!(hits("ip and not ip6 and not arp", &p));
    let v6 = packet(58, "fd00::1", "fd00::2", (0, 0), (NS_A, 2));
    assert!(hits("icmp6 ip6 host=fd00::/64", &v6));
    assert!(!hits("host=192.168.42.0/24 or ip", &v6));
    let e = err("host=10.1.2.3/8");
    assert!(e.contains("did you mean 10.0.0.0/8?"), "{e}");
}

#[test]
fn namespaces_by_name_or_inode() {
    assert_eq!(t("netns=b"), Expr::Term(Term::Netns(NS_B)));
    assert_eq!(t("netns=4026532302"), t("netns=b"));
    assert_eq!(t("netns=/run/netns/b"), t("netns=b"));
    let p = packet(17, "10.0.0.1", "10.0.0.2", (1, 2), (NS_B, 3));
    assert!(hits("netns=b", &p) && !hits("netns=a", &p));
    let e = err("udp netns=c");
    assert_eq!(
        e,
        "'netns=c' (column 5): no namespace 'c' in this trace (known: a, b): use one of them or an inode"
    );
    // Recordings before namespace names: the inodes the trace saw.
    let old = SessionInfo {
        namespaces: vec![],
        ..info()
    };
    let e = Query::parse("netns=b", &old).unwrap_err();
    assert!(
        e.contains("give the inode") && e.contains("4026532301"),
        "{e}"
    );
}

#[test]
fn interfaces_must_exist_or_be_an_index() {
    let e = err("iface=eth9");
    assert_eq!(
        e,
        "'iface=eth9' (column 1): no interface 'eth9' in this trace (known: br0, veth0)"
    );
    let p = packet(17, "10.0.0.1", "10.0.0.2", (1, 2), (NS_A, 2));
    assert!(hits("iface=veth0", &p) && hits("iface=veth*", &p) && hits("iface=2", &p));
    assert!(hits("iface=if2", &p) && !hits("iface=br0", &p));
    assert!(hits("iface=if9 or iface=veth0", &p));
}

#[test]
fn unknown_keys_and_words_list_the_valid_ones() {
    let e = err("udp colr=red");
    assert!(
        e.starts_with("'colr=red' (column 5): unknown key 'colr'; keys: iface="),
        "{e}"
    );
    assert!(e.contains("saddr=") && e.contains("dur<>"), "{e}");
    let e = err("sctp");
    assert!(
        e.starts_with("'sctp' (column 1): unknown word; a word is one of udp tcp"),
        "{e}"
    );
    assert!(err("dur").contains("compare it: dur>10"));
    assert!(err("proto=xyz").contains("proto= takes tcp, udp"));
}

#[test]
fn reasons_by_name_glob_or_number() {
    let reason = |lost, values: &[i64]| {
        Expr::Term(Term::Reason {
            lost,
            values: values.to_vec(),
        })
    };
    assert_eq!(expr("drop=NO_SOCKET"), reason(true, &[3]));
    assert_eq!(expr("reason=no_*"), reason(false, &[3]));
    assert_eq!(expr("!reason=*"), not(reason(false, &[2, 3])));
    assert_eq!(expr("reason=77"), reason(false, &[77]));
    let e = err("drop=NO_SOCK");
    assert!(
        e.contains("no drop reason") && e.contains("NO_SOCKET"),
        "{e}"
    );
}

#[test]
fn rejects_with_a_reason() {
    assert!(err("dur>100").contains("unit"));
    assert!(err("func=nope").contains("no traced function"));
    assert!(err("iface>3").contains("only takes"));
    assert!(err("host=1.2.3").contains("address or prefix"));
    assert!(err("iface=").contains("missing value"));
    assert!(err("kind=ethernet").contains("network, netlink, unix or other"));
    assert!(err("kind>netlink").contains("only takes"));
}

#[test]
fn kind_terms_choose_kinds() {
    let q = Query::parse("kind:netlink", &info()).unwrap();
    assert_eq!(q.expr, Some(Expr::Term(Term::Kind(PacketKind::Netlink))));
    assert!(q.names_kind());
    assert!(Query::parse("drop or !kind=unix", &info())
        .unwrap()
        .names_kind());
    assert!(!Query::parse("drop", &info()).unwrap().names_kind());
}

#[test]
fn globs() {
    assert!(glob("ip_*", "ip_rcv"));
    assert!(glob("*rcv", "udp_rcv"));
    assert!(glob("*_v4_*", "tcp_v4_rcv"));
    assert!(!glob("ip_rcv", "ip_rcv_core"));
    assert!(!glob("a*b*a", "aa"));
    assert!(glob("a*b*a", "aba"));
}

#[test]
fn a_flow_filter_matches_both_directions_and_nothing_else() {
    let req = packet(17, "10.0.0.1", "10.0.0.2", (40000, 53), (NS_A, 2));
    let text = flow_filter(req.flow.as_deref().unwrap());
    assert_eq!(
        text,
        "proto=udp and ((src=10.0.0.1 and sport=40000 and dst=10.0.0.2 and dport=53) or \
         (src=10.0.0.2 and sport=53 and dst=10.0.0.1 and dport=40000))"
    );
    let reply = packet(17, "10.0.0.2", "10.0.0.1", (53, 40000), (NS_B, 3));
    let other = packet(17, "10.0.0.2", "10.0.0.1", (53, 40001), (NS_B, 3));
    let tcp = packet(6, "10.0.0.1", "10.0.0.2", (40000, 53), (NS_A, 2));
    assert!(hits(&text, &req) && hits(&text, &reply));
    assert!(!hits(&text, &other) && !hits(&text, &tcp));
    // ICMP has no ports: the terms are left out.
    let ping = packet(58, "fd00::1", "fd00::2", (0, 0), (NS_A, 2));
    let text = flow_filter(ping.flow.as_deref().unwrap());
    assert_eq!(
        text,
        "proto=icmp6 and ((src=fd00::1 and dst=fd00::2) or (src=fd00::2 and dst=fd00::1))"
    );
    let pong = packet(58, "fd00::2", "fd00::1", (0, 0), (NS_B, 3));
    assert!(hits(&text, &ping) && hits(&text, &pong));
}

/// Any text parses to a filter or an error, never a panic or a hang: pieces of the
/// language glued at random (a fixed pseudo-random sequence, so failures reproduce).
#[test]
fn arbitrary_text_parses_or_errs() {
    const PIECES: [&str; 16] = [
        "(", ")", "!", "&", "|", "&&", " or ", " and ", "not ", "udp", "dur>", "1ms", "=", "é",
        "\u{a0}", " ",
    ];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..5000 {
        let mut s = String::new();
        for _ in 0..(x % 12) {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            s.push_str(PIECES[(x >> 33) as usize % PIECES.len()]);
        }
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        if let Err(e) = Query::parse(&s, &info()) {
            assert!(!e.is_empty() && !e.contains('\n'), "{s:?}: {e:?}");
        }
    }
}

#[test]
fn errors_carry_the_bytes_of_their_token() {
    let span = |s: &str| Query::parse_spanned(s, &info()).unwrap_err().span;
    assert_eq!(span("udp colr=red"), 4..12);
    assert_eq!(span("udp and"), 4..7);
    assert_eq!(span("(udp"), 0..1);
    assert_eq!(span("tcp or )"), 7..8);
    assert_eq!(span("udp & tcp"), 4..5);
}

/// A VXLAN packet's flow is its inner one; `host=`, `src=` and `dst=` also see the outer
/// (underlay) addresses of its header snapshots.
#[test]
fn addresses_match_the_outer_headers_too() {
    let mut p = packet(1, "10.52.0.1", "10.52.0.2", (0, 0), (NS_A, 2));
    let mut bytes = vec![0u8; 14];
    bytes.extend([0x45, 0, 0, 84, 0, 0, 0, 0, 64, 17, 0, 0]);
    bytes.extend([10, 51, 0, 1, 10, 51, 0, 2]);
    bytes.extend([0u8; 40]);
    let outer = vrft_events::event::Headers {
        ethertype: 0x0800,
        net_offset: 14,
        bytes,
    };
    assert!(!hits("host=10.51.0.0/24", &p));
    p.add_headers(0, &outer);
    assert!(hits("host=10.51.0.0/24", &p));
    assert!(hits(
        "src=10.51.0.1 and dst=10.51.0.2 and dst=10.52.0.2",
        &p
    ));
    assert!(!hits("src=10.51.0.2", &p));
    assert!(
        hits("icmp and host=10.52.0.1", &p),
        "the inner flow still counts"
    );
    // A window too short for the header says nothing.
    let mut q = packet(1, "10.52.0.1", "10.52.0.2", (0, 0), (NS_A, 2));
    let cut = vrft_events::event::Headers {
        bytes: outer.bytes[..30].to_vec(),
        ..outer
    };
    q.add_headers(0, &cut);
    assert!(!hits("host=10.51.0.0/24", &q));
}
