//! `-f pcapng`: every header snapshot of a recording as a packet Wireshark can decode.
//!
//! One Ethernet interface description block per (namespace, device) the snapshots were
//! taken on, one enhanced packet block per snapshot at its kernel timestamp, a comment that
//! names the packet, clone, function, CPU and the devices so far, and a second comment
//! holding the same as JSON after [`JSON_PREFIX`]. A comment rather than a custom option:
//! pcap-file 2 keeps its custom-option type private, every pcap-ng reader shows comments
//! (`tshark -e frame.comment`), and no enterprise number has to be registered.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::{DataLink, PcapError};
use serde_json::json;
use vrft_events::event::Headers;
use vrft_events::session::SessionInfo;
use vrft_ui::format;
use vrft_ui::model::Packet;

use super::Source;

/// What starts the comment that holds a snapshot's event as JSON.
pub const JSON_PREFIX: &str = "vrft-json: ";

/// The most a snapshot holds (the tracer's window): the interfaces' snaplen for recordings
/// older than version 8, which do not say theirs.
const SNAPLEN: u32 = 128;

/// An Ethernet header: what frame() adds to a snapshot without one.
const MAC_LEN: usize = 14;

pub enum Error {
    /// The recording has no header snapshots at all.
    NoBytes,
    Write(std::io::Error),
}

impl From<PcapError> for Error {
    fn from(e: PcapError) -> Self {
        Error::Write(match e {
            PcapError::IoError(e) => e,
            other => std::io::Error::other(other.to_string()),
        })
    }
}

/// An interface: (netns inode, ifindex).
type Iface = (u32, u32);

/// One snapshot to write, in time order.
struct Snap<'a> {
    p: &'a Packet,
    node: u32,
    headers: &'a Headers,
    iface: usize,
}

pub fn write(src: &Source, out: &mut dyn Write) -> Result<(), Error> {
    let mut ifaces: BTreeMap<Iface, usize> = BTreeMap::new();
    let mut order: Vec<Iface> = Vec::new();
    let mut snaps = Vec::new();
    for p in &src.packets {
        for (node, h) in p.headers() {
            let (netns, ifindex) = p.dev(&p.nodes[*node as usize]);
            let key = (netns, ifindex);
            let iface = *ifaces.entry(key).or_insert_with(|| {
                order.push(key);
                order.len() - 1
            });
            snaps.push(Snap {
                p,
                node: *node,
                headers: h,
                iface,
            });
        }
    }
    if snaps.is_empty() {
        return Err(Error::NoBytes);
    }
    snaps.sort_by_key(|s| s.p.nodes[s.node as usize].ts);
    let mut w = PcapNgWriter::new(out)?;
    for &(netns, ifindex) in &order {
        w.write_pcapng_block(interface(src.info, netns, ifindex))?;
    }
    for s in &snaps {
        w.write_pcapng_block(packet_block(src.info, s))?;
    }
    Ok(())
}

/// The bytes as an Ethernet frame. libpcap (tcpdump) reads only files whose interfaces all
/// have one link type, so a snapshot taken before the stack built a link header (it starts
/// at the network header) gets an all-zero MAC header with its ethertype; the packet's
/// comment says so.
fn frame(h: &Headers) -> Cow<'_, [u8]> {
    if usize::from(h.net_offset) == MAC_LEN {
        return Cow::Borrowed(&h.bytes);
    }
    let mut f = vec![0u8; 12];
    f.extend_from_slice(&h.ethertype.to_be_bytes());
    f.extend_from_slice(&h.bytes[usize::from(h.net_offset).min(h.bytes.len())..]);
    Cow::Owned(f)
}

fn interface(info: &SessionInfo, netns: u32, ifindex: u32) -> InterfaceDescriptionBlock<'static> {
    let name = if ifindex == 0 {
        "(no device)".to_string()
    } else {
        info.ifname(netns, ifindex)
    };
    InterfaceDescriptionBlock {
        linktype: DataLink::ETHERNET,
        // A snapshot that starts at the network header gets a MAC header in front (frame()).
        snaplen: info.snaplen.map_or(SNAPLEN, u32::from) + MAC_LEN as u32,
        options: vec![
            InterfaceDescriptionOption::IfName(Cow::Owned(name)),
            InterfaceDescriptionOption::IfDescription(Cow::Owned(format!(
                "netns {} ({netns}) ifindex {ifindex}",
                info.netns_name(netns)
            ))),
            // Kernel timestamps are nanoseconds.
            InterfaceDescriptionOption::IfTsResol(9),
        ],
    }
}

fn packet_block<'a>(info: &SessionInfo, s: &Snap<'a>) -> EnhancedPacketBlock<'a> {
    let n = &s.p.nodes[s.node as usize];
    let func = info
        .functions
        .get(n.func as usize)
        .map_or("?", |f| f.name.as_str());
    let path = path_so_far(s.p, info, s.node);
    let mut comment = format!(
        "vrft packet {} clone {} func {func} cpu {} {} path {path}",
        s.p.id,
        n.clone,
        n.cpu,
        format::ctx_name(n.ctx)
    );
    if s.headers.net_offset != 14 {
        comment += " (no link header yet: zero MACs added)";
    }
    let (netns, ifindex) = s.p.dev(n);
    let event = json!({
        "packet": s.p.id,
        "clone": n.clone,
        "call": s.node,
        "func": func,
        "ts_ns": n.ts,
        "cpu": n.cpu,
        "ctx": format::ctx_name(n.ctx),
        "tid": n.tid,
        "netns": netns,
        "ifindex": ifindex,
        "len": n.len,
        "path": path,
    });
    // Wall clock when the recording knows the offset, else seconds since boot.
    let ts = n.ts as i64 + info.realtime_offset_ns.unwrap_or(0);
    let data = frame(s.headers);
    EnhancedPacketBlock {
        interface_id: s.iface as u32,
        timestamp: Duration::from_nanos(ts.max(0) as u64),
        original_len: n.len.max(data.len() as u32),
        data,
        options: vec![
            EnhancedPacketOption::Comment(Cow::Owned(comment)),
            EnhancedPacketOption::Comment(Cow::Owned(format!("{JSON_PREFIX}{event}"))),
        ],
    }
}

/// The devices the packet met up to and including call `node`: "veth0>br0>vxlan0".
fn path_so_far(p: &Packet, info: &SessionInfo, node: u32) -> String {
    let mut seen: Vec<u16> = Vec::new();
    for n in &p.nodes[..=node as usize] {
        if p.dev(n).1 != 0 && seen.last() != Some(&n.dev) && !seen.contains(&n.dev) {
            seen.push(n.dev);
        }
    }
    if seen.is_empty() {
        return "-".into();
    }
    seen.iter()
        .map(|&d| {
            let (ns, ifi) = p.devs[d as usize];
            info.ifname(ns, ifi)
        })
        .collect::<Vec<_>>()
        .join(">")
}
