//! What a packet's header bytes say, in one line in the spirit of tcpdump's:
//! `vxlan 10.0.0.1>10.0.0.2 vni 42 | icmp 192.168.42.2>192.168.42.1 echo request id 1 seq 1`.
//!
//! The bytes are the tracer's window on the packet (at most 128 bytes from the link or
//! network header), so the parsing is lax: a header cut by the window says what it can.
//! Layers are joined by ` | `, outermost first; a tunnel (VXLAN, GENEVE) is one layer.

use std::net::IpAddr;

use etherparse::{LaxNetSlice, LaxSlicedPacket, TransportSlice};
use vrft_events::event::Headers;

/// UDP destination ports read as tunnels: VXLAN (IANA 4789, and Linux's historical 8472)
/// and GENEVE (6081).
const VXLAN_PORTS: [u16; 2] = [4789, 8472];
const GENEVE_PORT: u16 = 6081;

/// One line for the snapshot, `None` when the bytes say nothing readable.
pub fn summary(h: &Headers) -> Option<String> {
    let net = h.bytes.get(usize::from(h.net_offset)..)?;
    let mut layers = Vec::new();
    network(h.ethertype, net, &mut layers, 0);
    (!layers.is_empty()).then(|| layers.join(" | "))
}

/// The outermost IP header of the snapshot.
fn outer_ip(h: &Headers) -> Option<LaxSlicedPacket<'_>> {
    if !matches!(h.ethertype, 0x0800 | 0x86dd) {
        return None;
    }
    LaxSlicedPacket::from_ip(h.bytes.get(usize::from(h.net_offset)..)?).ok()
}

/// Source and destination of the snapshot's outermost IP header: a tunnel packet's
/// underlay addresses, a NATed packet's addresses at that point.
pub fn outer_addrs(h: &Headers) -> Option<(IpAddr, IpAddr)> {
    match outer_ip(h)?.net? {
        LaxNetSlice::Ipv4(v4) => {
            let h = v4.header();
            Some((h.source_addr().into(), h.destination_addr().into()))
        }
        LaxNetSlice::Ipv6(v6) => {
            let h = v6.header();
            Some((h.source_addr().into(), h.destination_addr().into()))
        }
        LaxNetSlice::Arp(_) => None,
    }
}

/// The tunnel the snapshot carries, `"vxlan"` or `"geneve"`, read from its outer UDP header
/// without writing the summary.
pub fn tunnel(h: &Headers) -> Option<&'static str> {
    match outer_ip(h)?.transport? {
        TransportSlice::Udp(u) => tunnel_name(u.destination_port(), u.payload()),
        _ => None,
    }
}

/// Which tunnel a UDP destination port and payload are, if the tunnel header is whole.
fn tunnel_name(dport: u16, payload: &[u8]) -> Option<&'static str> {
    if payload.len() < 8 {
        None
    } else if VXLAN_PORTS.contains(&dport) {
        Some("vxlan")
    } else if dport == GENEVE_PORT {
        Some("geneve")
    } else {
        None
    }
}

fn network(ethertype: u16, b: &[u8], out: &mut Vec<String>, depth: u8) {
    match ethertype {
        0x0800 | 0x86dd => ip(b, out, depth),
        0x0806 => out.push(arp(b)),
        0 => {}
        other => out.push(format!("ethertype 0x{other:04x} len {}", b.len())),
    }
}

/// `10.0.0.1` or `[fd00::1]`, with `:port` when there is one: as flows are written.
fn endpoint(a: IpAddr, port: Option<u16>) -> String {
    let a = match a {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("[{a}]"),
    };
    match port {
        Some(p) => format!("{a}:{p}"),
        None => a,
    }
}

fn ip(b: &[u8], out: &mut Vec<String>, depth: u8) {
    let Ok(p) = LaxSlicedPacket::from_ip(b) else {
        out.push(format!("ip (unreadable, {} bytes)", b.len()));
        return;
    };
    // Addresses, and the length of the IP payload as the header states it.
    let (src, dst, payload_len): (IpAddr, IpAddr, usize) = match &p.net {
        Some(LaxNetSlice::Ipv4(v4)) => {
            let h = v4.header();
            let len = usize::from(h.total_len()).saturating_sub(h.slice().len());
            (h.source_addr().into(), h.destination_addr().into(), len)
        }
        Some(LaxNetSlice::Ipv6(v6)) => {
            let h = v6.header();
            let ext = b.len().saturating_sub(40 + v6.payload().payload.len());
            let len = usize::from(h.payload_length()).saturating_sub(ext);
            (h.source_addr().into(), h.destination_addr().into(), len)
        }
        _ => return out.push(format!("ip (unreadable, {} bytes)", b.len())),
    };
    let v6 = src.is_ipv6();
    let proto = p
        .net
        .as_ref()
        .and_then(|n| n.ip_payload_ref())
        .map(|x| x.ip_number.0);
    match &p.transport {
        Some(TransportSlice::Udp(u)) => {
            let (sp, dp) = (u.source_port(), u.destination_port());
            let outer = format!("{}>{}", endpoint(src, None), endpoint(dst, None));
            if depth == 0 && tunnel_layers(dp, u.payload(), &outer, out) {
                return;
            }
            out.push(format!(
                "udp {}>{} len {}",
                endpoint(src, Some(sp)),
                endpoint(dst, Some(dp)),
                u.length().saturating_sub(8)
            ));
        }
        Some(TransportSlice::Tcp(t)) => {
            let len = payload_len.saturating_sub(usize::from(t.data_offset()) * 4);
            let mut s = format!(
                "tcp {}>{} [{}] seq {}",
                endpoint(src, Some(t.source_port())),
                endpoint(dst, Some(t.destination_port())),
                tcp_flags(t),
                t.sequence_number()
            );
            if t.ack() {
                s += &format!(" ack {}", t.acknowledgment_number());
            }
            s += &format!(" len {len}");
            out.push(s);
        }
        Some(TransportSlice::Icmpv4(i)) => {
            let t = i.type_u8();
            let kind = match t {
                0 | 8 => Icmp::Echo,
                3 | 4 | 5 | 11 | 12 => Icmp::Error,
                _ => Icmp::Other,
            };
            let text = icmp4_text(t, i.code_u8());
            out.push(icmp(
                "icmp",
                src,
                dst,
                text,
                kind,
                i.bytes5to8(),
                i.payload(),
            ))
        }
        Some(TransportSlice::Icmpv6(i)) => {
            let t = i.type_u8();
            let kind = match t {
                128 | 129 => Icmp::Echo,
                1..=4 => Icmp::Error,
                _ => Icmp::Other,
            };
            let text = icmp6_text(t, i.code_u8());
            out.push(icmp(
                "icmp6",
                src,
                dst,
                text,
                kind,
                i.bytes5to8(),
                i.payload(),
            ))
        }
        _ => {
            let name = match proto {
                Some(n) => proto_name(n, v6),
                None => "ip".into(),
            };
            out.push(format!(
                "{name} {}>{} len {payload_len}",
                endpoint(src, None),
                endpoint(dst, None)
            ));
        }
    }
}

fn proto_name(n: u8, v6: bool) -> String {
    match n {
        1 => "icmp".into(),
        2 => "igmp".into(),
        4 => "ipip".into(),
        6 => "tcp".into(),
        17 => "udp".into(),
        41 => "ip6-in-ip".into(),
        47 => "gre".into(),
        50 => "esp".into(),
        58 => "icmp6".into(),
        132 => "sctp".into(),
        _ if v6 => format!("ip6 proto {n}"),
        _ => format!("ip proto {n}"),
    }
}

/// A VXLAN or GENEVE header with its inner frame, as two layers; false if `dport` is no
/// tunnel port or the header is cut.
fn tunnel_layers(dport: u16, payload: &[u8], outer: &str, out: &mut Vec<String>) -> bool {
    let Some(name) = tunnel_name(dport, payload) else {
        return false;
    };
    let (inner_at, proto) = if name == "vxlan" {
        (8, 0x6558)
    } else {
        let opts = usize::from(payload[0] & 0x3f) * 4;
        (8 + opts, u16::from_be_bytes([payload[2], payload[3]]))
    };
    let vni = u32::from_be_bytes([0, payload[4], payload[5], payload[6]]);
    out.push(format!("{name} {outer} vni {vni}"));
    let inner = payload.get(inner_at..).unwrap_or(&[]);
    if proto == 0x6558 {
        // Transparent Ethernet: the inner frame's ethertype, then its network header.
        if inner.len() >= 14 {
            let et = u16::from_be_bytes([inner[12], inner[13]]);
            network(et, &inner[14..], out, 1);
        }
    } else {
        network(proto, inner, out, 1);
    }
    true
}

/// tcpdump's flag letters: S F R P U E W, and `.` for ACK.
fn tcp_flags(t: &etherparse::TcpSlice) -> String {
    let mut s = String::new();
    for (on, c) in [
        (t.syn(), 'S'),
        (t.fin(), 'F'),
        (t.rst(), 'R'),
        (t.psh(), 'P'),
        (t.urg(), 'U'),
        (t.ece(), 'E'),
        (t.cwr(), 'W'),
        (t.ack(), '.'),
    ] {
        if on {
            s.push(c);
        }
    }
    if s.is_empty() {
        s.push(' ');
    }
    s
}

/// What follows an ICMP type: an echo's id and seq, an error's quoted packet.
#[derive(PartialEq)]
enum Icmp {
    Echo,
    Error,
    Other,
}

/// An ICMP line: type text, id and seq of echoes, and for errors what the quoted packet was.
fn icmp(
    name: &str,
    src: IpAddr,
    dst: IpAddr,
    text: String,
    kind: Icmp,
    rest: [u8; 4],
    payload: &[u8],
) -> String {
    let mut s = format!(
        "{name} {}>{} {text}",
        endpoint(src, None),
        endpoint(dst, None)
    );
    if kind == Icmp::Echo {
        let id = u16::from_be_bytes([rest[0], rest[1]]);
        let seq = u16::from_be_bytes([rest[2], rest[3]]);
        s += &format!(" id {id} seq {seq}");
    } else if kind == Icmp::Error {
        if let Some(q) = quoted(payload) {
            s += &format!(" for {q}");
        }
    }
    s
}

/// The packet an ICMP error quotes (its IP header and first transport bytes), in short.
fn quoted(b: &[u8]) -> Option<String> {
    let mut layers = Vec::new();
    ip(b, &mut layers, 1);
    let s = layers.pop()?;
    // The quoted header's lengths are the original's, not what follows here: keep the flow.
    Some(match s.find(" len ").or_else(|| s.find(" [")) {
        Some(i) => s[..i].to_string(),
        None => s,
    })
}

/// `port unreachable`, or the code's number when it has no name here.
fn unreachable(code: u8, what: &str) -> String {
    if what.is_empty() {
        format!("unreachable code {code}")
    } else {
        format!("{what} unreachable")
    }
}

fn icmp4_text(t: u8, code: u8) -> String {
    match (t, code) {
        (0, _) => "echo reply".into(),
        (8, _) => "echo request".into(),
        (3, c) => unreachable(
            c,
            match c {
                0 => "net",
                1 => "host",
                2 => "protocol",
                3 => "port",
                4 => "need to frag",
                9 | 10 | 13 => "admin prohibited",
                _ => "",
            },
        ),
        (5, _) => "redirect".into(),
        (11, 0) => "time exceeded in transit".into(),
        (11, _) => "time exceeded in reassembly".into(),
        (12, _) => "parameter problem".into(),
        (t, c) => format!("type {t} code {c}"),
    }
}

fn icmp6_text(t: u8, code: u8) -> String {
    match (t, code) {
        (1, c) => unreachable(
            c,
            match c {
                0 => "no route",
                1 => "admin prohibited",
                3 => "address",
                4 => "port",
                _ => "",
            },
        ),
        (2, _) => "packet too big".into(),
        (3, _) => "time exceeded".into(),
        (4, _) => "parameter problem".into(),
        (128, _) => "echo request".into(),
        (129, _) => "echo reply".into(),
        (133, _) => "router solicitation".into(),
        (134, _) => "router advertisement".into(),
        (135, _) => "neighbor solicitation".into(),
        (136, _) => "neighbor advertisement".into(),
        (143, _) => "multicast listener report v2".into(),
        (t, c) => format!("type {t} code {c}"),
    }
}

/// ARP for IPv4 over Ethernet, as tcpdump says it.
fn arp(b: &[u8]) -> String {
    if b.len() < 28 || b[4] != 6 || b[5] != 4 {
        return format!("arp len {}", b.len());
    }
    let ip = |o: usize| std::net::Ipv4Addr::new(b[o], b[o + 1], b[o + 2], b[o + 3]);
    let mac = |o: usize| {
        b[o..o + 6]
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    };
    match u16::from_be_bytes([b[6], b[7]]) {
        1 => format!("arp who-has {} tell {}", ip(24), ip(14)),
        2 => format!("arp reply {} is-at {}", ip(14), mac(8)),
        op => format!("arp op {op} {}>{}", ip(14), ip(24)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{
        Ethernet2Header, IcmpEchoHeader, Icmpv4Type, PacketBuilder, PacketBuilderStep,
    };

    type Eth = PacketBuilderStep<Ethernet2Header>;

    const A: [u8; 4] = [192, 168, 42, 2];
    const B: [u8; 4] = [192, 168, 42, 1];

    /// An Ethernet frame as the tracer sends it: the network header at 14.
    fn frame(build: impl FnOnce(Eth) -> Vec<u8>) -> Headers {
        Headers {
            ethertype: 0x0800,
            net_offset: 14,
            bytes: build(PacketBuilder::ethernet2([2; 6], [4; 6])),
        }
    }

    fn echo(b: Eth, request: bool) -> Vec<u8> {
        let hdr = IcmpEchoHeader { id: 1, seq: 3 };
        let t = if request {
            Icmpv4Type::EchoRequest(hdr)
        } else {
            Icmpv4Type::EchoReply(hdr)
        };
        let b = b.ipv4(A, B, 64).icmpv4(t);
        let payload = [0u8; 56];
        let mut out = Vec::with_capacity(b.size(payload.len()));
        b.write(&mut out, &payload).unwrap();
        out
    }

    #[test]
    fn icmp_echo_request_and_reply_differ() {
        let req = frame(|b| echo(b, true));
        let rep = frame(|b| echo(b, false));
        assert_eq!(
            summary(&req).unwrap(),
            "icmp 192.168.42.2>192.168.42.1 echo request id 1 seq 3"
        );
        assert_eq!(
            summary(&rep).unwrap(),
            "icmp 192.168.42.2>192.168.42.1 echo reply id 1 seq 3"
        );
    }

    #[test]
    fn tcp_has_flags_seq_ack_and_length() {
        let h = frame(|b| {
            let b = b.ipv4(A, B, 64).tcp(40000, 80, 1000, 512).syn().ack(77);
            let mut out = Vec::new();
            b.write(&mut out, &[1, 2, 3]).unwrap();
            out
        });
        assert_eq!(
            summary(&h).unwrap(),
            "tcp 192.168.42.2:40000>192.168.42.1:80 [S.] seq 1000 ack 77 len 3"
        );
    }

    #[test]
    fn udp_has_its_length_even_when_the_window_cuts_it() {
        let mut h = frame(|b| {
            let b = b.ipv4(A, B, 64).udp(5000, 7777);
            let mut out = Vec::new();
            b.write(&mut out, &[9; 300]).unwrap();
            out
        });
        h.bytes.truncate(128);
        assert_eq!(
            summary(&h).unwrap(),
            "udp 192.168.42.2:5000>192.168.42.1:7777 len 300"
        );
    }

    #[test]
    fn vxlan_shows_outer_vni_and_inner() {
        let inner = frame(|b| echo(b, true)).bytes;
        let mut vx = vec![0x08, 0, 0, 0, 0, 0, 42, 0];
        vx.extend_from_slice(&inner);
        let mut h = frame(|b| {
            let b = b.ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64).udp(51000, 4789);
            let mut out = Vec::new();
            b.write(&mut out, &vx).unwrap();
            out
        });
        h.bytes.truncate(128);
        assert_eq!(
            summary(&h).unwrap(),
            "vxlan 10.0.0.1>10.0.0.2 vni 42 | icmp 192.168.42.2>192.168.42.1 echo request id 1 seq 3"
        );
        assert_eq!(tunnel(&h), Some("vxlan"));
        assert_eq!(
            outer_addrs(&h),
            Some(([10, 0, 0, 1].into(), [10, 0, 0, 2].into()))
        );
    }

    #[test]
    fn port_unreachable_names_the_quoted_datagram() {
        let quoted = {
            let b = PacketBuilder::ipv4(B, A, 64).udp(5000, 7777);
            let mut out = Vec::new();
            b.write(&mut out, &[0; 8]).unwrap();
            out
        };
        let h = frame(|b| {
            let b = b.ipv4(A, B, 64).icmpv4_raw(3, 3, [0; 4]);
            let mut out = Vec::new();
            b.write(&mut out, &quoted).unwrap();
            out
        });
        assert_eq!(
            summary(&h).unwrap(),
            "icmp 192.168.42.2>192.168.42.1 port unreachable for udp 192.168.42.1:5000>192.168.42.2:7777"
        );
    }

    #[test]
    fn arp_request_and_reply() {
        let mut b = vec![0, 1, 8, 0, 6, 4, 0, 1];
        b.extend_from_slice(&[2; 6]);
        b.extend_from_slice(&A);
        b.extend_from_slice(&[0; 6]);
        b.extend_from_slice(&B);
        let mut h = Headers {
            ethertype: 0x0806,
            net_offset: 0,
            bytes: b,
        };
        assert_eq!(
            summary(&h).unwrap(),
            "arp who-has 192.168.42.1 tell 192.168.42.2"
        );
        h.bytes[7] = 2;
        assert_eq!(
            summary(&h).unwrap(),
            "arp reply 192.168.42.2 is-at 02:02:02:02:02:02"
        );
    }

    #[test]
    fn icmp6_echo_on_v6_addresses() {
        let h = Headers {
            ethertype: 0x86dd,
            net_offset: 0,
            bytes: {
                let b = PacketBuilder::ipv6([0xfd; 16], [0xfe; 16], 64).icmpv6_echo_request(7, 1);
                let mut out = Vec::new();
                b.write(&mut out, &[0; 8]).unwrap();
                out
            },
        };
        let s = summary(&h).unwrap();
        assert!(s.starts_with("icmp6 [fdfd:"), "{s}");
        assert!(s.ends_with("echo request id 7 seq 1"), "{s}");
    }

    #[test]
    fn only_errors_quote_a_packet() {
        let h = Headers {
            ethertype: 0x86dd,
            net_offset: 0,
            bytes: {
                let b = PacketBuilder::ipv6([0xfe; 16], [0xff; 16], 255).icmpv6_raw(133, 0, [0; 4]);
                let mut out = Vec::new();
                b.write(&mut out, &[1, 1, 2, 3, 4, 5, 6, 7]).unwrap();
                out
            },
        };
        let s = summary(&h).unwrap();
        assert!(s.ends_with(" router solicitation"), "{s}");
    }

    #[test]
    fn garbage_says_so_rather_than_guessing() {
        let h = Headers {
            ethertype: 0x0800,
            net_offset: 0,
            bytes: vec![0x45, 0, 0],
        };
        assert!(summary(&h).unwrap().contains("unreadable"));
        let none = Headers::default();
        assert_eq!(summary(&none), None);
    }
}
