//! Compiling pcap-filter expressions to classic BPF with libpcap.

use crate::cbpf::{self, CbpfInsn};
use crate::Error;
use pcap::{Capture, Linktype};

/// Where the bytes handed to the filter begin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Start {
    /// At the Ethernet header (`skb->mac_header` is set).
    L2,
    /// At the IP header (only `skb->network_header` is set, e.g. on transmit before L2 is built).
    L3,
}

impl Start {
    fn linktype(self) -> Linktype {
        match self {
            Start::L2 => Linktype::ETHERNET,
            // DLT_RAW: the pcap_open_dead() value (12), not LINKTYPE_RAW (101) of savefiles.
            Start::L3 => Linktype(12),
        }
    }
}

/// What libpcap says when its optimizer proves that an expression matches nothing.
const REJECTS_ALL: &str = "expression rejects all packets";

/// Compiles `expr` with libpcap (optimized) for packets beginning at `start`.
///
/// An expression that can never match at this start compiles to a lone `ret #0`
/// ([`cbpf::never_matches`] is true) instead of failing, so that one start may reject
/// everything while the other matches (e.g. `arp` at L3).
pub fn compile_pcap(expr: &str, start: Start) -> Result<Vec<CbpfInsn>, Error> {
    let invalid = |msg: String| Error::InvalidPcap {
        expr: expr.to_string(),
        msg,
    };
    let capture = Capture::dead(start.linktype()).map_err(|e| invalid(pcap_message(e)))?;
    let program = match capture.compile(expr, true) {
        Ok(program) => program,
        Err(pcap::Error::PcapError(msg)) if msg.contains(REJECTS_ALL) => {
            return Ok(vec![CbpfInsn::stmt(cbpf::RET | cbpf::K, 0)]);
        }
        Err(e) => return Err(invalid(pcap_message(e))),
    };
    // The pcap crate exposes instructions only through Display: "code jt jf k".
    program
        .get_instructions()
        .iter()
        .map(|insn| {
            let text = insn.to_string();
            let mut f = text.split(' ').map(str::parse::<u64>);
            match (f.next(), f.next(), f.next(), f.next()) {
                (Some(Ok(code)), Some(Ok(jt)), Some(Ok(jf)), Some(Ok(k))) => Ok(CbpfInsn {
                    code: code as u16,
                    jt: jt as u8,
                    jf: jf as u8,
                    k: k as u32,
                }),
                _ => Err(invalid(format!(
                    "unexpected instruction text '{text}' from libpcap"
                ))),
            }
        })
        .collect()
}

fn pcap_message(e: pcap::Error) -> String {
    match e {
        pcap::Error::PcapError(msg) => msg,
        pcap::Error::InvalidInputString => "the expression contains a NUL byte".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles_for_both_starts() {
        let l2 = compile_pcap("udp dst port 7777", Start::L2).unwrap();
        // Ethernet: the first load is the ethertype.
        assert_eq!(l2[0], CbpfInsn::stmt(cbpf::LD | cbpf::H | cbpf::ABS, 12));
        let l3 = compile_pcap("udp dst port 7777", Start::L3).unwrap();
        // Raw IP: the first load is the version nibble.
        assert_eq!(l3[0], CbpfInsn::stmt(cbpf::LD | cbpf::B | cbpf::ABS, 0));
        assert!(!cbpf::never_matches(&l2) && !cbpf::never_matches(&l3));
    }

    #[test]
    fn syntax_error_is_one_line_with_the_expression() {
        let err = compile_pcap("udp dst prot 7777", Start::L2).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("invalid pcap filter 'udp dst prot 7777': "),
            "{text}"
        );
        assert!(
            text.ends_with("(check the expression with tcpdump -d)"),
            "{text}"
        );
        assert!(!text.contains('\n'));
    }

    #[test]
    fn impossible_expression_never_matches() {
        let prog = compile_pcap("ip and not ip", Start::L2).unwrap();
        assert!(cbpf::never_matches(&prog));
        // ARP has no raw-IP form.
        assert!(cbpf::never_matches(
            &compile_pcap("arp", Start::L3).unwrap()
        ));
        assert!(!cbpf::never_matches(
            &compile_pcap("arp", Start::L2).unwrap()
        ));
    }
}
