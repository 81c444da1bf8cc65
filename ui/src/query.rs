//! The display filter typed in the `f` bar: space-separated terms, all of which must match.
//!
//! ```text
//! iface=veth0  netns=4026531840  func=ip_rcv  func=tcp_*  cpu=1
//! proto=udp  host=10.0.0.1  port=53  src=..  dst=..  sport=..  dport=..
//! dur>100us  dur<=2ms  calls>=20  drop  incomplete  freed     (any term may start with '!')
//! drop=NO_SOCKET  reason=*CSUM*          (drops with that reason; frees with it, delivered or not)
//! kind=netlink  kind=unix  kind=other  kind=network             (also kind:netlink)
//! ```
//!
//! Only network packets are listed unless a `kind=` term (or the `a` key) asks for others.

use std::net::IpAddr;

use crate::model::{node_flags, Packet};
use vrft_events::session::{PacketKind, SessionInfo};

#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    text: String,
    terms: Vec<(bool, Term)>,
}

#[derive(Clone, Debug, PartialEq)]
enum Term {
    Iface(String),
    Netns(u32),
    /// Which function-table entries match, by index.
    Func(Vec<bool>),
    Cpu(u16),
    Proto(u8),
    Host(IpAddr),
    Src(IpAddr),
    Dst(IpAddr),
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
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Cmp {
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
}

impl Cmp {
    fn test(self, a: u64, b: u64) -> bool {
        match self {
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Eq => a == b,
            Cmp::Ge => a >= b,
            Cmp::Gt => a > b,
        }
    }
}

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
    let i = term.find(['<', '>', '='])?;
    let (key, rest) = term.split_at(i);
    let (cmp, n) = match rest.as_bytes() {
        [b'<', b'=', ..] => (Cmp::Le, 2),
        [b'>', b'=', ..] => (Cmp::Ge, 2),
        [b'=', b'=', ..] => (Cmp::Eq, 2),
        [b'<', ..] => (Cmp::Lt, 1),
        [b'>', ..] => (Cmp::Gt, 1),
        _ => (Cmp::Eq, 1),
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

fn ip(key: &str, v: &str) -> Result<IpAddr, String> {
    v.parse()
        .map_err(|_| format!("{key}= needs an IP address, not '{v}'"))
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
        let some: Vec<&str> = info
            .drop_reasons
            .iter()
            .take(3)
            .map(|(_, n)| n.as_str())
            .collect();
        return Err(format!(
            "no drop reason of the traced kernel matches '{pat}' (e.g. {}; * globs)",
            some.join(", ")
        ));
    }
    Ok(values)
}

impl Query {
    /// Parses and resolves the filter against the session (function names must exist).
    pub fn parse(text: &str, info: &SessionInfo) -> Result<Query, String> {
        let mut terms = Vec::new();
        for word in text.split_whitespace() {
            let (neg, word) = match word.strip_prefix('!') {
                Some(w) => (true, w),
                None => (false, word),
            };
            // `kind:netlink` reads as well as `kind=netlink`.
            let word = &match word.strip_prefix("kind:") {
                Some(v) => format!("kind={v}"),
                None => word.to_string(),
            };
            let term = match word.as_str() {
                "drop" => Term::Drop,
                "incomplete" => Term::Incomplete,
                "freed" => Term::Freed,
                _ => {
                    let (key, cmp, v) = split_op(word).ok_or(format!(
                        "'{word}': expected key=value, dur>TIME, drop, incomplete or freed"
                    ))?;
                    if v.is_empty() {
                        return Err(format!("'{word}': missing value"));
                    }
                    if cmp != Cmp::Eq && key != "dur" && key != "calls" {
                        return Err(format!("'{key}' only takes '='"));
                    }
                    match key {
                        "iface" | "dev" => Term::Iface(v.to_string()),
                        "netns" => Term::Netns(num(key, v)?),
                        "func" => {
                            let m: Vec<bool> =
                                info.functions.iter().map(|f| glob(v, &f.name)).collect();
                            if !m.contains(&true) {
                                return Err(format!("no traced function matches '{v}'"));
                            }
                            Term::Func(m)
                        }
                        "cpu" => Term::Cpu(num(key, v)?),
                        "proto" => Term::Proto(match v {
                            "icmp" => 1,
                            "tcp" => 6,
                            "udp" => 17,
                            "icmp6" => 58,
                            _ => num(key, v)?,
                        }),
                        "host" => Term::Host(ip(key, v)?),
                        "src" => Term::Src(ip(key, v)?),
                        "dst" => Term::Dst(ip(key, v)?),
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
                        _ => return Err(format!("unknown key '{key}'")),
                    }
                }
            };
            terms.push((neg, term));
        }
        Ok(Query {
            text: text.trim().to_string(),
            terms,
        })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The query chooses kinds of packets itself (`kind=`, negated or not): the list then
    /// stops hiding the packets that are not network packets.
    pub fn names_kind(&self) -> bool {
        self.terms.iter().any(|(_, t)| matches!(t, Term::Kind(_)))
    }

    pub fn matches(&self, p: &Packet, info: &SessionInfo) -> bool {
        self.terms
            .iter()
            .all(|(neg, t)| Self::term(t, p, info) != *neg)
    }

    fn term(t: &Term, p: &Packet, info: &SessionInfo) -> bool {
        let flow = p.flow.as_deref();
        match t {
            Term::Iface(name) => p.devs.iter().any(|&(ns, ifi)| {
                ifi != 0 && (info.ifname(ns, ifi) == *name || ifi.to_string() == *name)
            }),
            Term::Netns(ns) => p.devs.iter().any(|d| d.0 == *ns),
            Term::Func(m) => p
                .nodes
                .iter()
                .any(|n| m.get(n.func as usize).copied().unwrap_or(false)),
            Term::Cpu(c) => p.nodes.iter().any(|n| n.cpu == *c),
            Term::Proto(x) => flow.is_some_and(|f| f.proto == *x),
            Term::Host(a) => flow.is_some_and(|f| f.src == *a || f.dst == *a),
            Term::Src(a) => flow.is_some_and(|f| f.src == *a),
            Term::Dst(a) => flow.is_some_and(|f| f.dst == *a),
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vrft_events::event::FuncInfo;

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
            ..Default::default()
        }
    }

    #[test]
    fn reasons_by_name_glob_or_number() {
        let q = |s| Query::parse(s, &info()).unwrap().terms;
        let reason = |lost, values: &[i64]| Term::Reason {
            lost,
            values: values.to_vec(),
        };
        assert_eq!(q("drop=NO_SOCKET"), [(false, reason(true, &[3]))]);
        assert_eq!(q("reason=no_*"), [(false, reason(false, &[3]))]);
        assert_eq!(q("!reason=*"), [(true, reason(false, &[2, 3]))]);
        assert_eq!(q("reason=77"), [(false, reason(false, &[77]))]);
        let e = Query::parse("drop=NO_SOCK", &info()).unwrap_err();
        assert!(
            e.contains("no drop reason") && e.contains("NO_SOCKET"),
            "{e}"
        );
    }

    #[test]
    fn parses_the_documented_terms() {
        let q = Query::parse("iface=veth0 func=ip_rcv dur>100us !drop calls>=3", &info());
        assert_eq!(q.unwrap().terms.len(), 5);
        assert!(Query::parse("func=*_rcv proto=udp host=10.0.0.1 port=53", &info()).is_ok());
    }

    #[test]
    fn rejects_with_a_reason() {
        let e = |s| Query::parse(s, &info()).unwrap_err();
        assert!(e("dur>100").contains("unit"));
        assert!(e("func=nope").contains("no traced function"));
        assert!(e("color=red").contains("unknown key"));
        assert!(e("iface>3").contains("only takes"));
        assert!(e("host=1.2.3").contains("IP address"));
        assert!(e("iface=").contains("missing value"));
        assert!(e("kind=ethernet").contains("network, netlink, unix or other"));
        assert!(e("kind>netlink").contains("only takes"));
    }

    #[test]
    fn kind_terms_choose_kinds() {
        let q = Query::parse("kind:netlink", &info()).unwrap();
        assert_eq!(q.terms, [(false, Term::Kind(PacketKind::Netlink))]);
        assert!(q.names_kind());
        let q = Query::parse("!kind=unix drop", &info()).unwrap();
        assert_eq!(q.terms[0], (true, Term::Kind(PacketKind::Unix)));
        assert!(q.names_kind());
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
}
