//! One term of a filter (`udp`, `iface=veth0`, `dur>1ms`): its parsing, with names resolved
//! against the session, and its test on a packet.

use std::net::IpAddr;

use super::net::Net;
use crate::model::{node_flags, Packet, L3};
use vrft_events::session::{PacketKind, SessionInfo};

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Term {
    /// A glob over interface names, or an index.
    Iface(String),
    Netns(u32),
    /// Which function-table entries match, by index.
    Func(Vec<bool>),
    Cpu(u16),
    Proto(u8),
    L3(L3),
    Host(Net),
    Src(Net),
    Dst(Net),
    Port(u16),
    Sport(u16),
    Dport(u16),
    Dur(Cmp, u64),
    Calls(Cmp, u64),
    Drop,
    /// A free with one of these reasons (`reason=`); only of a lost packet with `drop=`.
    Reason {
        lost: bool,
        values: Vec<i64>,
    },
    Incomplete,
    Freed,
    Kind(PacketKind),
    /// Some header snapshot carries this tunnel (`"vxlan"`, `"geneve"`: [`crate::headers::tunnel`]).
    Tunnel(&'static str),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Cmp {
    Lt,
    Le,
    Eq,
    Ne,
    Ge,
    Gt,
}

impl Cmp {
    fn test(self, a: u64, b: u64) -> bool {
        match self {
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
            Cmp::Ge => a >= b,
            Cmp::Gt => a > b,
        }
    }
}

/// Every key, for the error that names an unknown one. The CLI's flag names (`--saddr`,
/// `--daddr`, `--ipv`) are aliases, so one spelling works in both places.
pub(super) const KEYS: &str = "iface= (dev=) netns= func= cpu= proto= ipv= host= (net=) \
     src= (saddr=) dst= (daddr=) port= sport= dport= dur<> calls<> drop= reason= kind=";
/// Every word that is a term by itself.
pub(super) const WORDS: &str = "udp tcp icmp icmp6 arp ip ip6 vxlan geneve drop incomplete freed";

/// Shell-style glob with `*` only; without `*` the name must match exactly.
pub fn glob(pat: &str, name: &str) -> bool {
    let parts: Vec<&str> = pat.split('*').collect();
    if parts.len() == 1 {
        return pat == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

fn split_op(term: &str) -> Option<(&str, Cmp, &str)> {
    let i = term.find(['<', '>', '=', '!'])?;
    let (key, rest) = term.split_at(i);
    let (cmp, n) = match rest.as_bytes() {
        [b'<', b'=', ..] => (Cmp::Le, 2),
        [b'>', b'=', ..] => (Cmp::Ge, 2),
        [b'=', b'=', ..] => (Cmp::Eq, 2),
        [b'!', b'=', ..] => (Cmp::Ne, 2),
        [b'<', ..] => (Cmp::Lt, 1),
        [b'>', ..] => (Cmp::Gt, 1),
        [b'=', ..] => (Cmp::Eq, 1),
        _ => return None,
    };
    Some((key, cmp, &rest[n..]))
}

fn parse_dur(v: &str) -> Result<u64, String> {
    let split = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or(format!("'{v}' needs a unit: ns, us, ms or s"))?;
    let (num, unit) = v.split_at(split);
    let num: f64 = num
        .parse()
        .map_err(|_| format!("'{v}' is not a duration"))?;
    let scale = match unit {
        "ns" => 1.0,
        "us" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        _ => return Err(format!("unknown unit '{unit}' (ns, us, ms, s)")),
    };
    Ok((num * scale) as u64)
}

fn num<T: std::str::FromStr>(key: &str, v: &str) -> Result<T, String> {
    v.parse()
        .map_err(|_| format!("{key}= needs a number, not '{v}'"))
}

fn proto(v: &str) -> Option<u8> {
    match v {
        "icmp" => Some(1),
        "tcp" => Some(6),
        "udp" => Some(17),
        "icmp6" | "icmpv6" => Some(58),
        _ => v.parse().ok(),
    }
}

fn l3(word: &str) -> Option<L3> {
    match word {
        "ip" => Some(L3::Ipv4),
        "ip6" => Some(L3::Ipv6),
        "arp" => Some(L3::Arp),
        _ => None,
    }
}

/// "a, b, c" of at most `n` names, with "..." when there are more.
fn some(names: impl Iterator<Item = String>, n: usize) -> String {
    let mut all: Vec<String> = names.collect();
    all.dedup();
    let more = all.len() > n;
    all.truncate(n);
    if more {
        all.push("...".into());
    }
    all.join(", ")
}

/// The drop reason values whose names (as the list shows them, any case) match the glob,
/// or the number itself.
fn reasons(pat: &str, info: &SessionInfo) -> Result<Vec<i64>, String> {
    if let Ok(n) = pat.parse() {
        return Ok(vec![n]);
    }
    if info.drop_reasons.is_empty() {
        return Err(format!(
            "the recording names no drop reasons: give the number, not '{pat}'"
        ));
    }
    let upper = pat.to_ascii_uppercase();
    let values: Vec<i64> = info
        .drop_reasons
        .iter()
        .filter(|(_, name)| glob(&upper, name))
        .map(|&(v, _)| v.into())
        .collect();
    if values.is_empty() {
        let names = info.drop_reasons.iter().map(|(_, n)| n.clone());
        return Err(format!(
            "no drop reason of the traced kernel matches '{pat}' (e.g. {}; * globs)",
            some(names, 3)
        ));
    }
    Ok(values)
}

/// An interface glob must name an interface of the trace, unless it is an index (`7`, `if7`).
fn iface(pat: &str, info: &SessionInfo) -> Result<Term, String> {
    let index = pat.strip_prefix("if").filter(|d| d.parse::<u32>().is_ok());
    if let Some(i) = index.or(pat.parse::<u32>().ok().map(|_| pat)) {
        return Ok(Term::Iface(i.to_string()));
    }
    let known = || info.interfaces.iter().map(|i| i.name.clone());
    if !known().any(|n| glob(pat, &n)) {
        let mut names: Vec<String> = known().collect();
        names.sort();
        let list = if names.is_empty() {
            "the trace names none: give the index, iface=7".to_string()
        } else {
            format!("known: {}", some(names.into_iter(), 8))
        };
        return Err(format!("no interface '{pat}' in this trace ({list})"));
    }
    Ok(Term::Iface(pat.to_string()))
}

/// A namespace by name (from `ip netns`, as the recording knows them) or by inode. As with
/// `--netns`, `/run/netns/NAME` names NAME.
fn netns(v: &str, info: &SessionInfo) -> Result<Term, String> {
    let v = ["/run/netns/", "/var/run/netns/"]
        .iter()
        .find_map(|dir| v.strip_prefix(dir))
        .unwrap_or(v);
    if let Ok(inode) = v.parse() {
        return Ok(Term::Netns(inode));
    }
    if let Some(ns) = info.namespaces.iter().find(|ns| ns.name == v) {
        return Ok(Term::Netns(ns.inode));
    }
    let mut inodes: Vec<u32> = info.interfaces.iter().map(|i| i.netns).collect();
    inodes.sort();
    inodes.dedup();
    let inodes = some(inodes.iter().map(u32::to_string), 4);
    Err(if info.namespaces.is_empty() {
        format!("the trace names no namespaces: give the inode, not '{v}' (seen: {inodes})")
    } else {
        let names = some(info.namespaces.iter().map(|ns| ns.name.clone()), 8);
        format!("no namespace '{v}' in this trace (known: {names}): use one of them or an inode")
    })
}

/// Parses one word. `Ok((negate, term))`: `key!=value` is `not key=value`, except for the
/// numbers `dur` and `calls`, which compare.
pub(super) fn parse(word: &str, info: &SessionInfo) -> Result<(bool, Term), String> {
    // `kind:netlink` reads as well as `kind=netlink`.
    let word = &match word.strip_prefix("kind:") {
        Some(v) => format!("kind={v}"),
        None => word.to_string(),
    };
    let lower = word.to_ascii_lowercase();
    let bare = match lower.as_str() {
        "drop" => Some(Term::Drop),
        "incomplete" => Some(Term::Incomplete),
        "freed" => Some(Term::Freed),
        "vxlan" => Some(Term::Tunnel("vxlan")),
        "geneve" => Some(Term::Tunnel("geneve")),
        w => proto(w)
            .filter(|_| !w.starts_with(|c: char| c.is_ascii_digit()))
            .map(Term::Proto)
            .or_else(|| l3(w).map(Term::L3)),
    };
    if let Some(t) = bare {
        return Ok((false, t));
    }
    let Some((key, cmp, v)) = split_op(word) else {
        let hint = match lower.as_str() {
            "dur" | "calls" => format!("; compare it: {lower}>10"),
            _ => format!("; a word is one of {WORDS}, else use key=value ({KEYS})"),
        };
        return Err(format!("unknown word{hint}"));
    };
    if v.is_empty() {
        return Err("missing value".into());
    }
    let numeric = matches!(key, "dur" | "calls");
    if !numeric && !matches!(cmp, Cmp::Eq | Cmp::Ne) {
        return Err(format!("'{key}' only takes '=' or '!='"));
    }
    let negate = !numeric && cmp == Cmp::Ne;
    let term = match key {
        "iface" | "dev" => iface(v, info)?,
        "netns" => netns(v, info)?,
        "func" => {
            let m: Vec<bool> = info.functions.iter().map(|f| glob(v, &f.name)).collect();
            if !m.contains(&true) {
                return Err(format!("no traced function matches '{v}'"));
            }
            Term::Func(m)
        }
        "cpu" => Term::Cpu(num(key, v)?),
        "proto" => Term::Proto(proto(v).ok_or(format!(
            "proto= takes tcp, udp, icmp, icmp6 or a number, not '{v}'"
        ))?),
        "ipv" => Term::L3(match v {
            "4" => L3::Ipv4,
            "6" => L3::Ipv6,
            _ => return Err(format!("ipv= takes 4 or 6, not '{v}'")),
        }),
        "host" | "net" => Term::Host(Net::parse(key, v)?),
        "src" | "saddr" => Term::Src(Net::parse(key, v)?),
        "dst" | "daddr" => Term::Dst(Net::parse(key, v)?),
        "port" => Term::Port(num(key, v)?),
        "sport" => Term::Sport(num(key, v)?),
        "dport" => Term::Dport(num(key, v)?),
        "dur" => Term::Dur(cmp, parse_dur(v)?),
        "calls" => Term::Calls(cmp, num(key, v)?),
        "drop" | "reason" => Term::Reason {
            lost: key == "drop",
            values: reasons(v, info)?,
        },
        "kind" => Term::Kind(PacketKind::from_name(v).ok_or(format!(
            "kind= takes network, netlink, unix or other, not '{v}'"
        ))?),
        _ => return Err(format!("unknown key '{key}'; keys: {KEYS}")),
    };
    Ok((negate, term))
}

/// Every (source, destination) the packet was seen with: its flow, and the outermost IP
/// header of each header snapshot (so `host=` finds a tunnel packet by its underlay
/// addresses and a NATed one by either side of the rewrite).
fn addr_pairs(p: &Packet) -> impl Iterator<Item = (IpAddr, IpAddr)> + '_ {
    let flow = p.flow.as_deref().map(|f| (f.src, f.dst));
    flow.into_iter().chain(
        p.headers()
            .iter()
            .filter_map(|(_, h)| crate::headers::outer_addrs(h)),
    )
}

impl Term {
    pub(super) fn matches(&self, p: &Packet, info: &SessionInfo) -> bool {
        let flow = p.flow.as_deref();
        match self {
            Term::Iface(pat) => p.devs.iter().any(|&(ns, ifi)| {
                ifi != 0 && (glob(pat, &info.ifname(ns, ifi)) || ifi.to_string() == *pat)
            }),
            Term::Netns(ns) => p.devs.iter().any(|d| d.0 == *ns),
            Term::Func(m) => p
                .nodes
                .iter()
                .any(|n| m.get(n.func as usize).copied().unwrap_or(false)),
            Term::Cpu(c) => p.nodes.iter().any(|n| n.cpu == *c),
            Term::Proto(x) => flow.is_some_and(|f| f.proto == *x),
            Term::L3(x) => p.l3() == Some(*x),
            Term::Host(n) => addr_pairs(p).any(|(s, d)| n.contains(s) || n.contains(d)),
            Term::Src(n) => addr_pairs(p).any(|(s, _)| n.contains(s)),
            Term::Dst(n) => addr_pairs(p).any(|(_, d)| n.contains(d)),
            Term::Port(x) => flow.is_some_and(|f| f.sport == *x || f.dport == *x),
            Term::Sport(x) => flow.is_some_and(|f| f.sport == *x),
            Term::Dport(x) => flow.is_some_and(|f| f.dport == *x),
            Term::Dur(c, v) => c.test(p.duration(), *v),
            Term::Calls(c, v) => c.test(p.nodes.len() as u64, *v),
            Term::Drop => p.lost(),
            Term::Reason { lost, values } => {
                (!lost || p.lost())
                    && p.nodes
                        .iter()
                        .any(|n| n.has(node_flags::DROP) && values.contains(&n.ret))
            }
            Term::Incomplete => p.incomplete(),
            Term::Freed => p.flags & vrft_events::event::flags::FREED != 0,
            Term::Kind(k) => p.kind() == *k,
            Term::Tunnel(name) => p
                .headers()
                .iter()
                .any(|(_, h)| crate::headers::tunnel(h) == Some(*name)),
        }
    }
}
