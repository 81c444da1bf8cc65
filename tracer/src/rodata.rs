//! The read-only settings of the BPF programs (filters, --skb-fields,
//! packet ids), written into the skeleton's .rodata before it loads.

use crate::config::{Config, MAX_FILTER_DEVS};
use crate::skel::types::rodata;

/// Writes `cfg` into `ro`; lists longer than the BPF arrays are cut (the
/// command line refuses them before this).
pub fn fill(ro: &mut rodata, cfg: &Config) {
    let f = &cfg.filter;
    for (slot, &(netns, ifindex)) in ro.filter_devs.iter_mut().zip(&f.devs) {
        slot.netns = netns;
        slot.ifindex = ifindex;
    }
    ro.filter_ndevs = f.devs.len().min(MAX_FILTER_DEVS) as u32;
    for (slot, &ns) in ro.filter_netns.iter_mut().zip(&f.netns) {
        *slot = ns;
    }
    ro.filter_nnetns = f.netns.len().min(MAX_FILTER_DEVS) as u32;
    for (slot, sf) in ro.skb_fields.iter_mut().zip(&cfg.skb_fields) {
        slot.off = sf.offset;
        slot.size = sf.size;
        slot.shinfo = u8::from(sf.shinfo);
        slot.shift = sf.shift;
        slot.bits = sf.bits;
        slot.be = u8::from(sf.big_endian);
    }
    ro.skb_nfields = cfg.skb_fields.len().min(vrft_btf::MAX_FIELDS) as u8;
    ro.filter_pcap = u8::from(f.pcap.is_some());
    ro.filter_inner = u8::from(f.inner);
    ro.id_from_payload = u8::from(f.payload_id);
    ro.count_hits = u8::from(cfg.count_hits);
    ro.snaplen = cfg.snaplen.min(crate::config::MAX_SNAPLEN);
    // The reader is woken early when a quarter of the ring waits (see wake_flag()).
    ro.wake_at = u64::from(cfg.ring_bytes / 4);
}
