//! What the user asked the tracer for, resolved before anything loads.

use vrft_events::Backend;

use crate::plan::Selection;

/// What the user asked for.
#[derive(Clone, Debug)]
pub struct Config {
    /// `None`: the first backend this kernel accepts, in the order fentry, kprobe, tracepoint.
    pub backend: Option<Backend>,
    pub selection: Selection,
    /// Ring buffer size in bytes (a power of two).
    pub ring_bytes: u32,
    /// Threads that load (verify) programs in parallel; 0: each is loaded where it is attached.
    pub load_threads: usize,
    /// Close the links here with a progress bar instead of in a background process.
    pub wait_detach: bool,
    /// The filter as the user wrote it, for the status line and recordings.
    pub filter_text: String,
    pub filter: FilterConfig,
    /// `--skb-fields`, resolved in this kernel's BTF.
    pub skb_fields: Vec<vrft_btf::SkbField>,
    /// Show libbpf's own messages (`VRFT_DEBUG=1`, read by the binary).
    pub libbpf_debug: bool,
    /// Count every probe run per function, rejected packets included (`--count-hits`).
    pub count_hits: bool,
    /// Most bytes of decoded events waiting for the consumer; when it lags further the ring
    /// buffer fills and the kernel side counts what it cannot write (`None`: the default,
    /// 256 batches; live mode's memory budget sets less).
    pub queue_bytes: Option<usize>,
    /// Bytes of a packet kept at each header snapshot (`--snaplen`, at most [`MAX_SNAPLEN`]);
    /// 0: none.
    pub snaplen: u16,
}

/// The most bytes one header snapshot holds (`VRFT_HDR_BYTES`, its fixed size in the ring).
pub const MAX_SNAPLEN: u16 = crate::contract::VRFT_HDR_BYTES as u16;

/// The most interfaces and namespaces one filter holds (`VRFT_MAX_FILTER_DEVS`).
pub const MAX_FILTER_DEVS: usize = crate::contract::VRFT_MAX_FILTER_DEVS as usize;

/// How the pcap filter is translated for the BPF programs: a copy of the frame's first
/// `VRFT_PKT_CAP` bytes, `len` from the real packet, and marks of the bytes each run reads in
/// the first `VRFT_MEMO_BYTES` (what the rejection memo compares), right after the copy.
pub fn pcap_options() -> vrft_filter::TranslateOptions {
    let cap = crate::contract::VRFT_PKT_CAP as u16;
    vrft_filter::TranslateOptions {
        cap,
        wire_len: vrft_filter::WireLen::R3,
        buffer: vrft_filter::Buffer::MapValue,
        marks: Some(vrft_filter::Marks {
            at: cap,
            window: crate::contract::VRFT_MEMO_BYTES as u16,
        }),
    }
}

/// What the BPF side filters on, resolved and compiled before anything loads.
#[derive(Clone, Debug, Default)]
pub struct FilterConfig {
    /// Only packets on one of these interfaces: (netns inode, ifindex); empty: any.
    pub devs: Vec<(u32, u32)>,
    /// Only packets in one of these network namespaces (inodes); empty: any.
    pub netns: Vec<u32>,
    /// The pcap/flow filter, translated to eBPF for both header starts.
    pub pcap: Option<vrft_filter::PacketFilter>,
    /// Match the inner frame of VXLAN packets.
    pub inner: bool,
    /// Packet ids from the first 32 bits of the UDP payload.
    pub payload_id: bool,
}
