//! ipftrace-style flow filters (`--ipv`, `--proto`, `--saddr`, `--daddr`, `--sport`,
//! `--dport`), written as one pcap expression so that every packet filter runs through
//! the same translated program.

use crate::Error;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpVersion {
    V4,
    V6,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
    Icmp,
    Icmpv6,
    /// An IP protocol number (IPv4 protocol or IPv6 next header).
    Num(u8),
}

/// An address with a prefix length; a plain address is a full-length prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpNet {
    pub addr: IpAddr,
    pub prefix: u8,
}

/// Flow filters. Values of one field are alternatives (OR); fields combine with AND.
/// An empty field does not constrain.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlowSpec {
    pub ipv: Vec<IpVersion>,
    pub proto: Vec<Proto>,
    pub saddr: Vec<IpNet>,
    pub daddr: Vec<IpNet>,
    pub sport: Vec<Port>,
    pub dport: Vec<Port>,
}

/// A TCP/UDP/SCTP port number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Port(pub u16);

fn invalid(what: &str, value: &str, fix: &str) -> Error {
    Error::InvalidFlow(format!("invalid {what} '{value}': {fix}"))
}

impl FromStr for IpVersion {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim() {
            "4" => Ok(IpVersion::V4),
            "6" => Ok(IpVersion::V6),
            _ => Err(invalid("IP version", s, "use 4 or 6")),
        }
    }
}

impl FromStr for Proto {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "tcp" => Ok(Proto::Tcp),
            "udp" => Ok(Proto::Udp),
            "icmp" => Ok(Proto::Icmp),
            "icmpv6" | "icmp6" => Ok(Proto::Icmpv6),
            other => other.parse::<u8>().map(Proto::Num).map_err(|_| {
                invalid(
                    "protocol",
                    s,
                    "use tcp, udp, icmp, icmpv6 or a protocol number from 0 to 255",
                )
            }),
        }
    }
}

impl FromStr for Port {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        s.trim()
            .parse::<u16>()
            .map(Port)
            .map_err(|_| invalid("port", s, "use a number from 0 to 65535"))
    }
}

impl FromStr for IpNet {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let text = s.trim();
        let (addr_text, prefix_text) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = addr_text.parse().map_err(|_| {
            invalid(
                "address",
                s,
                "use an IPv4 or IPv6 address with an optional prefix, e.g. 10.0.0.1, 10.0.0.0/8 or fd00::/64",
            )
        })?;
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix_text {
            None => bits,
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= bits => n,
                _ => {
                    return Err(invalid(
                        "prefix length",
                        s,
                        &format!(
                            "use /0 to /{bits} for an IPv{} address",
                            if bits == 32 { 4 } else { 6 }
                        ),
                    ))
                }
            },
        };
        let net = IpNet { addr, prefix };
        let masked = net.network();
        if masked != addr {
            return Err(invalid(
                "network",
                s,
                &format!("host bits are set; did you mean {masked}/{prefix}?"),
            ));
        }
        Ok(net)
    }
}

impl IpNet {
    /// The address with the host bits cleared.
    fn network(&self) -> IpAddr {
        match self.addr {
            IpAddr::V4(a) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V4((u32::from(a) & mask).into())
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V6((u128::from(a) & mask).into())
            }
        }
    }

    fn full_length(&self) -> bool {
        self.prefix == if self.addr.is_ipv4() { 32 } else { 128 }
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.full_length() {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.prefix)
        }
    }
}

/// Alternatives of one field, parenthesised when there are several.
fn any_of(terms: Vec<String>) -> Option<String> {
    match terms.len() {
        0 => None,
        1 => terms.into_iter().next(),
        _ => Some(format!("({})", terms.join(" or "))),
    }
}

fn address(dir: &str, net: &IpNet) -> String {
    if net.full_length() {
        format!("{dir} host {net}")
    } else {
        format!("{dir} net {net}")
    }
}

/// The pcap expression for `spec`; empty when it constrains nothing.
pub fn flow_expression(spec: &FlowSpec) -> String {
    let fields = [
        any_of(
            spec.ipv
                .iter()
                .map(|v| match v {
                    IpVersion::V4 => "ip".to_string(),
                    IpVersion::V6 => "ip6".to_string(),
                })
                .collect(),
        ),
        any_of(
            spec.proto
                .iter()
                .map(|p| match p {
                    Proto::Tcp => "tcp".to_string(),
                    Proto::Udp => "udp".to_string(),
                    Proto::Icmp => "icmp".to_string(),
                    Proto::Icmpv6 => "icmp6".to_string(),
                    Proto::Num(n) => format!("(ip proto {n} or ip6 proto {n})"),
                })
                .collect(),
        ),
        any_of(spec.saddr.iter().map(|n| address("src", n)).collect()),
        any_of(spec.daddr.iter().map(|n| address("dst", n)).collect()),
        any_of(
            spec.sport
                .iter()
                .map(|p| format!("src port {}", p.0))
                .collect(),
        ),
        any_of(
            spec.dport
                .iter()
                .map(|p| format!("dst port {}", p.0))
                .collect(),
        ),
    ];
    fields
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" and ")
}

/// Joins the flow expression and the user's pcap expression with AND.
pub fn combine(flow: &str, user: &str) -> String {
    match (flow.trim(), user.trim()) {
        ("", u) => u.to_string(),
        (f, "") => f.to_string(),
        (f, u) => format!("({f}) and ({u})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> FlowSpec {
        FlowSpec::default()
    }

    #[test]
    fn empty_spec_is_empty_expression() {
        assert_eq!(flow_expression(&spec()), "");
        assert_eq!(combine("", "udp"), "udp");
        assert_eq!(combine("ip", " "), "ip");
        assert_eq!(combine("ip", "udp"), "(ip) and (udp)");
    }

    #[test]
    fn or_within_and_across_fields() {
        let s = FlowSpec {
            ipv: vec!["4".parse().unwrap()],
            proto: vec!["udp".parse().unwrap(), "47".parse().unwrap()],
            saddr: vec!["10.0.0.0/8".parse().unwrap(), "fd00::1".parse().unwrap()],
            daddr: vec!["192.168.1.1".parse().unwrap()],
            sport: vec!["53".parse().unwrap()],
            dport: vec!["7777".parse().unwrap(), "7778".parse().unwrap()],
        };
        assert_eq!(
            flow_expression(&s),
            "ip and (udp or (ip proto 47 or ip6 proto 47)) \
             and (src net 10.0.0.0/8 or src host fd00::1) and dst host 192.168.1.1 \
             and src port 53 and (dst port 7777 or dst port 7778)"
        );
    }

    #[test]
    fn parses_every_protocol_spelling() {
        assert_eq!("TCP".parse::<Proto>().unwrap(), Proto::Tcp);
        assert_eq!("icmp6".parse::<Proto>().unwrap(), Proto::Icmpv6);
        assert_eq!("icmpv6".parse::<Proto>().unwrap(), Proto::Icmpv6);
        assert_eq!("132".parse::<Proto>().unwrap(), Proto::Num(132));
        assert_eq!(
            "fd00::/64".parse::<IpNet>().unwrap().to_string(),
            "fd00::/64"
        );
    }

    #[test]
    fn errors_name_the_problem_and_the_fix() {
        let err = |r: Result<(), Error>| r.unwrap_err().to_string();
        let cases = [
            (err("5".parse::<IpVersion>().map(drop)), "invalid IP version '5': use 4 or 6"),
            (
                err("gre".parse::<Proto>().map(drop)),
                "invalid protocol 'gre': use tcp, udp, icmp, icmpv6 or a protocol number from 0 to 255",
            ),
            (
                err("70000".parse::<Port>().map(drop)),
                "invalid port '70000': use a number from 0 to 65535",
            ),
            (
                err("10.0.0.300".parse::<IpNet>().map(drop)),
                "invalid address '10.0.0.300': use an IPv4 or IPv6 address with an optional prefix, \
                 e.g. 10.0.0.1, 10.0.0.0/8 or fd00::/64",
            ),
            (
                err("10.0.0.0/33".parse::<IpNet>().map(drop)),
                "invalid prefix length '10.0.0.0/33': use /0 to /32 for an IPv4 address",
            ),
            (
                err("fd00::/129".parse::<IpNet>().map(drop)),
                "invalid prefix length 'fd00::/129': use /0 to /128 for an IPv6 address",
            ),
            (
                err("10.1.2.3/8".parse::<IpNet>().map(drop)),
                "invalid network '10.1.2.3/8': host bits are set; did you mean 10.0.0.0/8?",
            ),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
            assert!(!got.contains('\n'));
        }
        assert_eq!("0.0.0.0/0".parse::<IpNet>().unwrap().prefix, 0);
        assert_eq!("::/0".parse::<IpNet>().unwrap().prefix, 0);
    }
}
