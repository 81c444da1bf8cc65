//! Packet filters for vrft-tui: pcap expressions compiled by libpcap to classic BPF, then
//! translated to eBPF to run on a copy of the packet's first bytes. See docs/filters.md.

pub mod cbpf;
pub mod ebpf;
pub mod flow;
pub mod pcap;
pub mod translate;

pub use cbpf::CbpfInsn;
pub use ebpf::{program_bytes, EbpfInsn};
pub use flow::{combine, flow_expression, FlowSpec, IpNet, IpVersion, Port, Proto};
pub use pcap::{compile_pcap, Start};
pub use translate::{translate, Buffer, Marks, TranslateOptions, WireLen};

/// Every error is one line that says what is wrong and what to do.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("invalid pcap filter '{expr}': {msg} (check the expression with tcpdump -d)")]
    InvalidPcap { expr: String, msg: String },
    #[error("pcap filter '{0}' can never match a packet (check the expression with tcpdump -d)")]
    NeverMatches(String),
    #[error("{0}")]
    InvalidFlow(String),
    #[error("classic BPF instruction {pc} (code {code:#06x}) is not supported: {why}")]
    Unsupported { pc: usize, code: u16, why: String },
    #[error("translated filter has {0} instructions, too many for 16-bit jump offsets; simplify the expression")]
    TooLarge(usize),
    #[error("filter translation: {0}")]
    BadOption(String),
}

/// One expression compiled and translated for one start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterProgram {
    pub start: Start,
    pub cbpf: Vec<CbpfInsn>,
    pub ebpf: Vec<EbpfInsn>,
}

impl FilterProgram {
    pub fn new(expr: &str, start: Start, opts: &TranslateOptions) -> Result<Self, Error> {
        let cbpf = compile_pcap(expr, start)?;
        let ebpf = translate(&cbpf, opts)?;
        Ok(FilterProgram { start, cbpf, ebpf })
    }

    /// True when the program rejects every packet (libpcap folded it to `ret #0`).
    pub fn never_matches(&self) -> bool {
        cbpf::never_matches(&self.cbpf)
    }
}

/// The L2 and L3 programs of one expression; the tracer runs `l2` when `skb->mac_header`
/// is set and `l3` when only `skb->network_header` is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketFilter {
    pub l2: FilterProgram,
    pub l3: FilterProgram,
}

impl PacketFilter {
    /// Builds both programs. An expression that only makes sense with an Ethernet header
    /// (`arp`, `ether host ...`, `vlan`) gets an L3 program that rejects everything, as a
    /// packet without a MAC header cannot match it. Fails when the expression is invalid or
    /// matches nothing at either start.
    pub fn new(expr: &str, opts: &TranslateOptions) -> Result<Self, Error> {
        let l2 = FilterProgram::new(expr, Start::L2, opts)?;
        let l3 = match FilterProgram::new(expr, Start::L3, opts) {
            Ok(p) => p,
            Err(Error::InvalidPcap { .. }) => {
                let cbpf = vec![CbpfInsn::stmt(cbpf::RET | cbpf::K, 0)];
                let ebpf = translate(&cbpf, opts)?;
                FilterProgram {
                    start: Start::L3,
                    cbpf,
                    ebpf,
                }
            }
            Err(e) => return Err(e),
        };
        if l2.never_matches() && l3.never_matches() {
            return Err(Error::NeverMatches(expr.to_string()));
        }
        Ok(PacketFilter { l2, l3 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn l2_only_expression_rejects_all_at_l3() {
        let f = PacketFilter::new("ether host 02:00:00:00:00:01", &Default::default()).unwrap();
        assert!(!f.l2.never_matches());
        assert!(f.l3.never_matches());
        assert_eq!(f.l3.start, Start::L3);
    }

    #[test]
    fn invalid_and_impossible_expressions_are_errors() {
        let opts = TranslateOptions::default();
        assert!(matches!(
            PacketFilter::new("udp dst prot 7777", &opts),
            Err(Error::InvalidPcap { .. })
        ));
        let err = PacketFilter::new("ip and ip6", &opts).unwrap_err();
        assert_eq!(
            err.to_string(),
            "pcap filter 'ip and ip6' can never match a packet (check the expression with tcpdump -d)"
        );
        let flow = flow_expression(&FlowSpec {
            ipv: vec![IpVersion::V4],
            daddr: vec!["fd00::1".parse().unwrap()],
            ..Default::default()
        });
        assert!(matches!(
            PacketFilter::new(&flow, &opts),
            Err(Error::NeverMatches(_))
        ));
    }
}
