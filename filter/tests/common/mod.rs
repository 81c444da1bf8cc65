//! Shared test helpers: hand-built packets, the rbpf runner for translated programs and
//! libpcap's own interpreter as the oracle.
#![allow(dead_code)] // each test binary uses a different subset

use vrft_filter::ebpf::{self as e, EbpfInsn, R1, R2, R3};
use vrft_filter::{program_bytes, Buffer, CbpfInsn, Marks, TranslateOptions, WireLen};

// ---------------------------------------------------------------- libpcap oracle

#[repr(C)]
struct PcapBpfInsn {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

extern "C" {
    // libpcap's classic BPF interpreter (pcap_offline_filter() calls it with buflen = caplen).
    fn bpf_filter(pc: *const PcapBpfInsn, p: *const u8, wirelen: u32, buflen: u32) -> u32;
}

/// libpcap's verdict for `pkt` captured whole, with `wire_len` as the length on the wire.
pub fn libpcap_run(prog: &[CbpfInsn], pkt: &[u8], wire_len: u32) -> u32 {
    let insns: Vec<PcapBpfInsn> = prog
        .iter()
        .map(|i| PcapBpfInsn {
            code: i.code,
            jt: i.jt,
            jf: i.jf,
            k: i.k,
        })
        .collect();
    // SAFETY: insns and pkt are live slices; bpf_filter reads pkt.len() bytes at most.
    unsafe { bpf_filter(insns.as_ptr(), pkt.as_ptr(), wire_len, pkt.len() as u32) }
}

// ---------------------------------------------------------------- rbpf runner

/// Runs a translated filter in rbpf's interpreter with r1 pointing at exactly `buf`
/// (so any read outside it is an error), r2 = `valid`, r3 = `wire_len`.
pub fn ebpf_run_raw(prog: &[EbpfInsn], buf: &[u8], valid: u32, wire_len: u32) -> u32 {
    ebpf_run_in(prog, buf, valid, wire_len, 0).0
}

/// Runs a filter translated with `marks` on the first `cap` bytes of `pkt` in a buffer of
/// `marks.at + marks.window + 1` bytes (marks zeroed first), as the tracer does: the verdict
/// and the marks area after the run.
pub fn ebpf_run_marked(
    prog: &[EbpfInsn],
    pkt: &[u8],
    cap: u16,
    marks: Marks,
    wire_len: u32,
) -> (u32, Vec<u8>) {
    let valid = pkt.len().min(cap as usize);
    let size = usize::from(marks.at + marks.window) + 1;
    let (r0, buf) = ebpf_run_in(prog, &pkt[..valid], valid as u32, wire_len, size);
    (r0, buf[usize::from(marks.at)..].to_vec())
}

/// Runs `prog` with r1 at a buffer of `buf` followed by zeroes up to `size` bytes (if larger);
/// returns r0 and the buffer after the run. A test prologue loads r2 and r3 from an 8-byte
/// header in front of the buffer.
fn ebpf_run_in(
    prog: &[EbpfInsn],
    buf: &[u8],
    valid: u32,
    wire_len: u32,
    size: usize,
) -> (u32, Vec<u8>) {
    let mut code = vec![
        EbpfInsn::ldx(e::BPF_W, R2, R1, 0),
        EbpfInsn::ldx(e::BPF_W, R3, R1, 4),
        EbpfInsn::alu64_imm(e::BPF_ADD, R1, 8),
    ];
    code.extend_from_slice(prog);
    let bytes = program_bytes(&code);
    let mut mem = Vec::with_capacity(8 + buf.len().max(size));
    mem.extend_from_slice(&valid.to_ne_bytes());
    mem.extend_from_slice(&wire_len.to_ne_bytes());
    mem.extend_from_slice(buf);
    mem.resize(8 + buf.len().max(size), 0);
    let vm = rbpf::EbpfVmRaw::new(Some(&bytes)).expect("rbpf accepts the program");
    let r0 = vm
        .execute_program(&mut mem)
        .unwrap_or_else(|err| panic!("rbpf: {err}\nprogram: {prog:#?}"));
    (r0 as u32, mem.split_off(8))
}

/// Runs a filter on the first `cap` bytes of `pkt` as the tracer would hand them over.
pub fn ebpf_run(prog: &[EbpfInsn], pkt: &[u8], cap: u16, wire_len: u32) -> u32 {
    let valid = &pkt[..pkt.len().min(cap as usize)];
    ebpf_run_raw(prog, valid, valid.len() as u32, wire_len)
}

/// Translator configurations the equivalence tests run: both sources of `len`, a cap that
/// cuts packets short, and both buffer kinds.
pub const CONFIGS: &[TranslateOptions] = &[
    TranslateOptions {
        cap: 256,
        wire_len: WireLen::ValidBytes,
        buffer: Buffer::MapValue,
        marks: None,
    },
    TranslateOptions {
        cap: 256,
        wire_len: WireLen::R3,
        buffer: Buffer::MapValue,
        marks: None,
    },
    TranslateOptions {
        cap: 64,
        wire_len: WireLen::R3,
        buffer: Buffer::Stack,
        marks: None,
    },
];

// ---------------------------------------------------------------- packets

pub const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
pub const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
pub const MAC_C: [u8; 6] = [0x02, 0, 0, 0, 0, 0x03];
pub const MAC_D: [u8; 6] = [0x02, 0, 0, 0, 0, 0x04];
pub const BROADCAST: [u8; 6] = [0xff; 6];
pub const ETH_IP: u16 = 0x0800;
pub const ETH_ARP: u16 = 0x0806;
pub const ETH_VLAN: u16 = 0x8100;
pub const ETH_QINQ: u16 = 0x88a8;
pub const ETH_IP6: u16 = 0x86dd;

pub fn eth(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&dst);
    p.extend_from_slice(&src);
    p.extend_from_slice(&ethertype.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// An 802.1Q tag (or `outer` 802.1ad) in front of `ethertype`.
pub fn vlan(tpid: u16, vid: u16, ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&vid.to_be_bytes());
    p.extend_from_slice(&ethertype.to_be_bytes());
    p.extend_from_slice(payload);
    eth(MAC_B, MAC_A, tpid, &p)
}

pub struct V4 {
    pub src: [u8; 4],
    pub dst: [u8; 4],
    pub proto: u8,
    pub options: Vec<u8>,
    /// Flags and fragment offset, as the 16-bit field (0x2000 = more fragments).
    pub frag: u16,
    pub tos: u8,
}

impl V4 {
    pub fn new(src: [u8; 4], dst: [u8; 4], proto: u8) -> Self {
        V4 {
            src,
            dst,
            proto,
            options: Vec::new(),
            frag: 0,
            tos: 0,
        }
    }

    pub fn build(&self, payload: &[u8]) -> Vec<u8> {
        assert_eq!(self.options.len() % 4, 0);
        let ihl = 5 + self.options.len() / 4;
        let total = (ihl * 4 + payload.len()) as u16;
        let mut p = vec![0x40 | ihl as u8, self.tos];
        p.extend_from_slice(&total.to_be_bytes());
        p.extend_from_slice(&0x1234u16.to_be_bytes());
        p.extend_from_slice(&self.frag.to_be_bytes());
        p.extend_from_slice(&[64, self.proto, 0, 0]);
        p.extend_from_slice(&self.src);
        p.extend_from_slice(&self.dst);
        p.extend_from_slice(&self.options);
        p.extend_from_slice(payload);
        p
    }
}

/// An IPv6 header; `ext` is a chain of (next header, extension bytes) pairs after it.
pub fn ip6(src: [u8; 16], dst: [u8; 16], next: u8, ext: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&((ext.len() + payload.len()) as u16).to_be_bytes());
    p.extend_from_slice(&[next, 64]);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(ext);
    p.extend_from_slice(payload);
    p
}

/// An IPv6 fragment header carrying `next`.
pub fn ip6_frag(next: u8, offset_flags: u16) -> Vec<u8> {
    let mut p = vec![next, 0];
    p.extend_from_slice(&offset_flags.to_be_bytes());
    p.extend_from_slice(&0xabcdu32.to_be_bytes());
    p
}

pub fn v6(last: u16) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[0] = 0xfd;
    a[14..].copy_from_slice(&last.to_be_bytes());
    a
}

pub fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&sport.to_be_bytes());
    p.extend_from_slice(&dport.to_be_bytes());
    p.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(payload);
    p
}

pub const SYN: u8 = 0x02;
pub const ACK: u8 = 0x10;

pub fn tcp(sport: u16, dport: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&sport.to_be_bytes());
    p.extend_from_slice(&dport.to_be_bytes());
    p.extend_from_slice(&1u32.to_be_bytes());
    p.extend_from_slice(&0u32.to_be_bytes());
    p.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    p.extend_from_slice(payload);
    p
}

/// ICMP and ICMPv6 share the layout of the first 8 bytes.
pub fn icmp(kind: u8, code: u8) -> Vec<u8> {
    vec![kind, code, 0, 0, 0, 1, 0, 1, b'p', b'i', b'n', b'g']
}

pub fn arp(op: u16, sender: [u8; 4], target: [u8; 4]) -> Vec<u8> {
    let mut p = vec![0, 1, 0x08, 0x00, 6, 4];
    p.extend_from_slice(&op.to_be_bytes());
    p.extend_from_slice(&MAC_A);
    p.extend_from_slice(&sender);
    p.extend_from_slice(&[0; 6]);
    p.extend_from_slice(&target);
    eth(BROADCAST, MAC_A, ETH_ARP, &p)
}

/// A UDP payload beginning with a 32-bit packet id.
pub fn id_payload(id: u32, len: usize) -> Vec<u8> {
    let mut p = id.to_be_bytes().to_vec();
    p.resize(len.max(4), 0xa5);
    p
}

/// A named packet as the Ethernet frame and, where it has one, its L3 part.
pub struct Sample {
    pub name: &'static str,
    pub l2: Vec<u8>,
    /// Offset of the network header in `l2` (None for ARP: no raw-IP form).
    pub l3_at: Option<usize>,
}

impl Sample {
    pub fn l3(&self) -> Option<&[u8]> {
        self.l3_at.map(|at| &self.l2[at..])
    }
}

const H1: [u8; 4] = [10, 0, 0, 1];
const H2: [u8; 4] = [10, 0, 0, 2];
const H3: [u8; 4] = [192, 168, 1, 1];

/// Real packets of every kind the corpus distinguishes.
pub fn samples() -> Vec<Sample> {
    let ip = |v4: V4, l4: Vec<u8>| eth(MAC_B, MAC_A, ETH_IP, &v4.build(&l4));
    let ip6p = |next: u8, ext: &[u8], l4: Vec<u8>| {
        eth(MAC_B, MAC_A, ETH_IP6, &ip6(v6(1), v6(2), next, ext, &l4))
    };
    let with = |f: &dyn Fn(&mut V4), src, dst, proto| {
        let mut v = V4::new(src, dst, proto);
        f(&mut v);
        v
    };
    let s = |name, l2, l3_at| Sample { name, l2, l3_at };
    vec![
        s(
            "udp4 7777",
            ip(V4::new(H1, H2, 17), udp(5000, 7777, &id_payload(1, 32))),
            Some(14),
        ),
        s(
            "udp4 7778",
            ip(V4::new(H1, H2, 17), udp(5000, 7778, &id_payload(2, 32))),
            Some(14),
        ),
        s(
            "udp4 dns",
            ip(V4::new(H2, H3, 17), udp(33000, 53, &id_payload(3, 20))),
            Some(14),
        ),
        s(
            "tcp4 syn",
            ip(V4::new([10, 1, 2, 3], H3, 6), tcp(1234, 80, SYN, &[])),
            Some(14),
        ),
        s(
            "tcp4 ack 1500",
            ip(V4::new(H3, H1, 6), tcp(80, 1500, ACK, b"hello")),
            Some(14),
        ),
        s(
            "tcp4 synack 22",
            ip(V4::new(H1, H3, 6), tcp(22, 40000, SYN | ACK, &[])),
            Some(14),
        ),
        s("icmp4 echo", ip(V4::new(H1, H2, 1), icmp(8, 0)), Some(14)),
        s(
            "icmp4 reply other macs",
            eth(MAC_C, MAC_D, ETH_IP, &V4::new(H2, H1, 1).build(&icmp(0, 0))),
            Some(14),
        ),
        s(
            "udp4 options",
            ip(
                with(&|v| v.options = vec![0x94, 4, 0, 0, 1, 1, 1, 0], H1, H2, 17),
                udp(5000, 7777, &id_payload(4, 32)),
            ),
            Some(14),
        ),
        s(
            "udp4 first fragment",
            ip(
                with(&|v| v.frag = 0x2000, H1, H2, 17),
                udp(5000, 7777, &id_payload(5, 64)),
            ),
            Some(14),
        ),
        s(
            "udp4 later fragment",
            ip(with(&|v| v.frag = 0x0008, H1, H2, 17), id_payload(6, 40)),
            Some(14),
        ),
        s(
            "gre4 tos",
            ip(
                with(&|v| v.tos = 3, H1, H3, 47),
                vec![0, 0, 0x08, 0, 1, 2, 3, 4],
            ),
            Some(14),
        ),
        s(
            "udp6 7777",
            ip6p(17, &[], udp(5000, 7777, &id_payload(7, 32))),
            Some(14),
        ),
        s("tcp6 syn", ip6p(6, &[], tcp(1234, 443, SYN, &[])), Some(14)),
        s("icmp6 echo", ip6p(58, &[], icmp(128, 0)), Some(14)),
        s(
            "udp6 fragment",
            ip6p(
                44,
                &ip6_frag(17, 0x0001),
                udp(5000, 7777, &id_payload(8, 32)),
            ),
            Some(14),
        ),
        s(
            "icmp6 hop-by-hop",
            ip6p(0, &[58, 0, 5, 2, 0, 0, 1, 0], icmp(128, 0)),
            Some(14),
        ),
        s(
            "vlan udp4 7777",
            vlan(
                ETH_VLAN,
                100,
                ETH_IP,
                &V4::new(H1, H2, 17).build(&udp(5000, 7777, &id_payload(9, 32))),
            ),
            Some(18),
        ),
        s(
            "qinq udp6",
            vlan(
                ETH_QINQ,
                200,
                ETH_VLAN,
                &[
                    &[0u8, 100][..],
                    &ETH_IP6.to_be_bytes(),
                    &ip6(v6(1), v6(2), 17, &[], &udp(1, 7777, &[0; 8])),
                ]
                .concat(),
            ),
            Some(22),
        ),
        s("arp request", arp(1, H1, H2), None),
        s(
            "udp4 large",
            ip(V4::new(H1, H2, 17), udp(5000, 7777, &id_payload(10, 400))),
            Some(14),
        ),
        s(
            "udp4 broadcast",
            eth(
                BROADCAST,
                MAC_A,
                ETH_IP,
                &V4::new(H1, [10, 255, 255, 255], 17).build(&udp(68, 67, &[0; 16])),
            ),
            Some(14),
        ),
    ]
}

// ---------------------------------------------------------------- expressions

/// pcap expressions the translator must agree with libpcap on.
pub const CORPUS: &[&str] = &[
    "",
    "udp dst port 7777",
    "udp",
    "tcp",
    "icmp",
    "host 10.0.0.1",
    "src host 10.0.0.1 and dst host 10.0.0.2",
    "net 10.0.0.0/8 and tcp",
    "net 192.168.0.0/16",
    "ip6 and icmp6",
    "ip6 host fd00::1",
    "ip6 net fd00::/64 and udp",
    "tcp[tcpflags] & tcp-syn != 0",
    "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn",
    "ip[6:2] & 0x1fff = 0",
    "ip[6:2] & 0x1fff != 0",
    "udp and ip[6] & 0x20 != 0",
    "vlan and udp",
    "vlan 100 and udp dst port 7777",
    "len > 100",
    "len <= 80",
    "greater 200",
    "less 60",
    "ether host 02:00:00:00:00:01",
    "ether src 02:00:00:00:00:01 and ether dst 02:00:00:00:00:02",
    "ether broadcast",
    "ether[12:2] = 0x0800",
    "portrange 1000-2000",
    "tcp portrange 1000-2000",
    "ip proto 47",
    "not arp",
    "arp",
    "arp and host 10.0.0.2",
    "udp port 53 or tcp port 80",
    "(tcp or udp) and not port 22",
    "icmp[icmptype] = icmp-echo",
    "ip6[40] = 128",
    "udp[8:4] = 1",
    "udp[8:4] > 3 and udp[8:4] < 6",
    "tcp[12] >> 4 = 5",
    "ip[0] & 0xf > 5",
    "ip[2:2] - ((ip[0] & 0xf) << 2) > 28",
    "ip[2:2] / 4 > 10",
    "ip[2:2] % 7 = 3",
    "ip[8] / ip[1] = 21",
    "ip[8] % ip[1] = 1",
    "(ip[8] << (ip[9] & 0x3f)) != 0",
    "(ip[8] >> (ip[9] & 0x7)) = 1",
    "ip[8] * 3 - ip[9] > 170",
    "ip[8] ^ 0xff = 0xbf",
    "ip[8] | 0x80 = 0xc0",
    "-ip[9] + 20 = 3",
    "ip[8] + ip[9] = 81",
    "ip[9] & ip[1] != 0",
    "ip[9] - ip[8] > 10",
    "ip[8] * ip[9] = 1088",
    "ip[8] | ip[9] = 81",
    "ip[8] ^ ip[9] = 81",
    "ip[9] > ip[1]",
    "ip[9] >= ip[8] - 17",
    "ip[9] = ip[1] + 17",
    "ether[len - 1] = 0xa5",
    "ether[len - 4:4] = 0xa5a5a5a5",
    "udp[len - 40] = 0xa5",
    "len - ip[1] > 100",
    "ip[2:2] > len - 20",
    "ip and ip[1] & 3 != 0",
    "udp and udp[4:2] > 30 and ip[2:2] < 100",
    "ip[0:4] & 0xffff0000 = 0x45000000",
    "ip[12:4] = 0x0a000001 or ip[16:4] = 0xc0a80101",
    "ip[12:4] > 0x80000000",
    "ip6[8:4] & 0xff000000 = 0xfd000000",
];

/// Every classic BPF opcode libpcap's interpreter runs, with its tcpdump -d name.
pub const ALL_OPCODES: &[(u16, &str)] = &[
    (0x00, "ld w [k]... ld #k"), // LD|W|IMM shares the value 0x00 with LD|IMM
    (0x20, "ld [k]"),
    (0x28, "ldh [k]"),
    (0x30, "ldb [k]"),
    (0x40, "ld [x+k]"),
    (0x48, "ldh [x+k]"),
    (0x50, "ldb [x+k]"),
    (0x60, "ld M[k]"),
    (0x80, "ld #pktlen"),
    (0x01, "ldx #k"),
    (0x61, "ldx M[k]"),
    (0x81, "ldx #pktlen"),
    (0xb1, "ldxb 4*([k]&0xf)"),
    (0x02, "st M[k]"),
    (0x03, "stx M[k]"),
    (0x04, "add #k"),
    (0x14, "sub #k"),
    (0x24, "mul #k"),
    (0x34, "div #k"),
    (0x94, "mod #k"),
    (0x44, "or #k"),
    (0x54, "and #k"),
    (0xa4, "xor #k"),
    (0x64, "lsh #k"),
    (0x74, "rsh #k"),
    (0x0c, "add x"),
    (0x1c, "sub x"),
    (0x2c, "mul x"),
    (0x3c, "div x"),
    (0x9c, "mod x"),
    (0x4c, "or x"),
    (0x5c, "and x"),
    (0xac, "xor x"),
    (0x6c, "lsh x"),
    (0x7c, "rsh x"),
    (0x84, "neg"),
    (0x05, "ja"),
    (0x15, "jeq #k"),
    (0x25, "jgt #k"),
    (0x35, "jge #k"),
    (0x45, "jset #k"),
    (0x1d, "jeq x"),
    (0x2d, "jgt x"),
    (0x3d, "jge x"),
    (0x4d, "jset x"),
    (0x06, "ret #k"),
    (0x16, "ret a"),
    (0x07, "tax"),
    (0x87, "txa"),
];
