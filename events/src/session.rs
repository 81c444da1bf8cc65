//! What the tracer (or a recording) tells its consumers besides events: the
//! session's static description ([`SessionInfo`]) and its counters ([`Stats`]).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::event::{FuncInfo, Origin};

/// Static facts about a tracing session, produced once by the tracer or read from a recording.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// Function table that [`crate::event::Event::func`] indexes (attached functions and tracepoints).
    pub functions: Vec<FuncInfo>,
    /// How the probes were attached; `None` for synthetic streams (tests).
    pub backend: Option<Backend>,
    /// `uname -r` of the traced kernel.
    pub kernel: String,
    /// Every candidate probe, attached or not, so nothing is skipped silently.
    pub probes: Vec<Probe>,
    /// The capture filter as the user gave it ("" when none).
    pub filter: String,
    /// Interface names for display. A list rather than a map so recordings serialize to JSON.
    pub interfaces: Vec<Interface>,
    /// Names of `enum skb_drop_reason` values of the traced kernel (from BTF), by value.
    pub drop_reasons: Vec<(u32, String)>,
    /// The `--skb-fields` every entry and tracepoint event carries, in order.
    pub skb_fields: Vec<String>,
    /// Names of the network namespaces known at the start (`ip netns` names, by inode), so
    /// that filters and views can say `b` rather than 4026532301.
    pub namespaces: Vec<Namespace>,
    /// CLOCK_REALTIME minus CLOCK_MONOTONIC at the start, in nanoseconds: an event's wall
    /// clock time is `ts_ns + realtime_offset_ns`. `None` for recordings before version 7.
    pub realtime_offset_ns: Option<i64>,
    /// Bytes kept at each header snapshot (`--snaplen`; 0: none). `None` before version 8.
    pub snaplen: Option<u16>,
    /// The machine that recorded, so that recordings of several hosts can be told apart
    /// and merged. `None` before version 8.
    pub host: Option<Host>,
    /// The hosts of a merged session ([`crate::merge`]), in the order of their files;
    /// empty for one recording. Never stored.
    #[serde(skip)]
    pub hosts: Vec<crate::merge::HostPart>,
    /// In a merged session, the ids given to a payload id's later occurrences:
    /// (id, payload id, occurrence counting from 1). Never stored.
    #[serde(skip)]
    pub aliases: Vec<(u32, u32, u16)>,
}

/// Which machine, which boot and which clock a recording's timestamps come from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Host {
    /// `/proc/sys/kernel/hostname`.
    pub hostname: String,
    /// `/proc/sys/kernel/random/boot_id`: two recordings with the same one share a clock.
    pub boot_id: String,
    /// The clock of the events' `ts_ns`: "monotonic" (what `bpf_ktime_get_ns` reads).
    pub clock: String,
}

impl Host {
    /// This machine, now.
    pub fn this() -> Host {
        let read = |f: &str| {
            std::fs::read_to_string(f)
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        Host {
            hostname: read("/proc/sys/kernel/hostname"),
            boot_id: read("/proc/sys/kernel/random/boot_id"),
            clock: "monotonic".into(),
        }
    }
}

/// A named network namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namespace {
    /// Inode number of the namespace (what events carry in `netns`).
    pub inode: u32,
    pub name: String,
}

/// One network interface as seen in one network namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interface {
    pub netns: u32,
    pub ifindex: u32,
    pub name: String,
}

/// How the probes are attached. The doc comments are the CLI's help text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Backend {
    /// One fentry and one fexit program per function (any kernel with BTF): the
    /// kernel needs ~15-20 ms to attach and ~140 ms to release each function.
    Fentry,
    /// One kprobe session link for all functions (Linux 6.10+): attaches and
    /// releases the whole set in about a second.
    Kprobe,
    /// Only the skb tracepoints: works where function probes are refused; the tree is flat.
    Tracepoint,
    /// fentry and fexit as one session program per BTF object, through the tracing
    /// multi-link (Linux 7.2+): attaches and releases all functions in seconds.
    Fsession,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Fentry => "fentry",
            Backend::Kprobe => "kprobe",
            Backend::Tracepoint => "tracepoint",
            Backend::Fsession => "fsession",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One candidate function (or tracepoint) and what became of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    pub name: String,
    pub origin: Origin,
    pub status: ProbeStatus,
    /// Index into [`SessionInfo::functions`] when attached, so hits can be joined with events.
    pub func: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProbeStatus {
    Attached,
    /// Not tried, with the reason (e.g. "more than 6 arguments", "not in available_filter_functions").
    Skipped(String),
    /// Tried and refused by the kernel, with the reason (e.g. "attach: EBUSY").
    Failed(String),
}

impl ProbeStatus {
    pub fn label(&self) -> &'static str {
        match self {
            ProbeStatus::Attached => "attached",
            ProbeStatus::Skipped(_) => "skipped",
            ProbeStatus::Failed(_) => "failed",
        }
    }

    pub fn reason(&self) -> &str {
        match self {
            ProbeStatus::Attached => "",
            ProbeStatus::Skipped(r) | ProbeStatus::Failed(r) => r,
        }
    }
}

/// The tracer's counters, sent periodically while live (about once a second; each
/// snapshot replaces the last) and stored in a recording's trailer. Every loss the
/// BPF side counts has a field here, so none is silent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Events decoded since the start.
    pub events: u64,
    /// Events decoded per second over the last interval.
    pub events_per_sec: f64,
    /// Records the ring buffer could not take (reservation failures), since the start.
    pub lost: u64,
    /// Probe runs the kernel skipped because a BPF program was already running on that CPU.
    pub recursion_misses: u64,
    /// Calls nested deeper than the BPF call stack: their exits could not be paired.
    pub stack_overflows: u64,
    /// Calls whose task got no call stack (the stack map was full): their exits could not be paired.
    pub stack_missing: u64,
    /// Ring-buffer records that did not decode.
    pub malformed: u64,
    /// Probe runs per row of [`SessionInfo::probes`] (BPF-side, including packets the filter
    /// rejected); empty when the backend cannot count them.
    pub probe_hits: Vec<u64>,
}

/// The flow a packet belongs to: its addresses and ports when the tracer first could read them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Flow {
    /// IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6).
    pub proto: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
}

/// What the tracer read of a packet besides its IP flow, once: its ethertype and the family of
/// the socket that owned it. What tells a netlink message or unix socket data from a packet
/// on the network ([`PacketKind`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SkbClass {
    /// `skb->protocol` in host order (0x0800 IPv4, 0x0806 ARP, ...); 0 when not set.
    pub ethertype: u16,
    /// Address family of `skb->sk` (`AF_*`: 1 unix, 2 inet, 10 inet6, 16 netlink, 17 packet);
    /// 0 when no socket owned the skb.
    pub family: u16,
}

/// Socket families the kinds are told by (include/linux/socket.h).
pub mod af {
    pub const UNIX: u16 = 1;
    pub const INET: u16 = 2;
    pub const INET6: u16 = 10;
    pub const NETLINK: u16 = 16;
    pub const PACKET: u16 = 17;
}

/// What a packet is: only network packets are packets to a network engineer; the rest are
/// skbs of other subsystems that pass the same functions.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub enum PacketKind {
    /// An IP packet, a frame with an ethertype, or an skb of an inet or packet socket.
    #[default]
    Network,
    /// A netlink message (an `AF_NETLINK` socket's skb).
    Netlink,
    /// Data of an `AF_UNIX` socket.
    Unix,
    /// Anything else: another socket family, or an skb nothing told apart.
    Other,
}

impl PacketKind {
    pub const ALL: [PacketKind; 4] = [
        PacketKind::Network,
        PacketKind::Netlink,
        PacketKind::Unix,
        PacketKind::Other,
    ];

    /// What the tracer's one look at the packet says: an IP flow, an ethertype or a socket
    /// family. `None` when it says nothing (no look yet, or neither was set).
    pub fn from_record(flow: Option<&Flow>, class: Option<&SkbClass>) -> Option<PacketKind> {
        if flow.is_some() {
            return Some(PacketKind::Network);
        }
        let class = class?;
        Some(match class.family {
            _ if class.ethertype != 0 => PacketKind::Network,
            af::INET | af::INET6 | af::PACKET => PacketKind::Network,
            af::NETLINK => PacketKind::Netlink,
            af::UNIX => PacketKind::Unix,
            0 => return None,
            _ => PacketKind::Other,
        })
    }

    /// The kind of a packet: what its record says, else a network packet if it ever was on
    /// a device, else other. The one place the kinds are decided.
    pub fn derive(record: Option<PacketKind>, had_device: bool) -> PacketKind {
        match record {
            Some(k) => k,
            None if had_device => PacketKind::Network,
            None => PacketKind::Other,
        }
    }

    /// The lower-case name the filter term `kind=` takes.
    pub fn name(self) -> &'static str {
        match self {
            PacketKind::Network => "network",
            PacketKind::Netlink => "netlink",
            PacketKind::Unix => "unix",
            PacketKind::Other => "other",
        }
    }

    pub fn from_name(name: &str) -> Option<PacketKind> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl Flow {
    pub fn proto_name(&self) -> String {
        match self.proto {
            1 => "icmp".into(),
            6 => "tcp".into(),
            17 => "udp".into(),
            58 => "icmp6".into(),
            p => p.to_string(),
        }
    }
}

impl std::fmt::Display for Flow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let host = |a: &IpAddr| match a {
            IpAddr::V4(v) => v.to_string(),
            IpAddr::V6(v) => format!("[{v}]"),
        };
        if self.sport == 0 && self.dport == 0 {
            write!(
                f,
                "{} {}>{}",
                self.proto_name(),
                host(&self.src),
                host(&self.dst)
            )
        } else {
            write!(
                f,
                "{} {}:{}>{}:{}",
                self.proto_name(),
                host(&self.src),
                self.sport,
                host(&self.dst),
                self.dport
            )
        }
    }
}

impl Stats {
    /// The loss counters as (label, value), in the order every reader shows them.
    pub fn losses(&self) -> [(&'static str, u64); 5] {
        [
            ("lost", self.lost),
            ("recursion misses", self.recursion_misses),
            ("stack overflows", self.stack_overflows),
            ("no stack", self.stack_missing),
            ("undecodable", self.malformed),
        ]
    }

    /// `lost 0, recursion misses 0, ...`: every loss counter, for one-line summaries.
    pub fn losses_line(&self) -> String {
        self.losses()
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl SessionInfo {
    /// Probes attached, skipped and failed.
    pub fn probe_counts(&self) -> (usize, usize, usize) {
        let n = |label: &str| {
            self.probes
                .iter()
                .filter(|p| p.status.label() == label)
                .count()
        };
        (n("attached"), n("skipped"), n("failed"))
    }

    /// A network namespace for display: its `ip netns` name when it has one, else its inode.
    pub fn netns_name(&self, inode: u32) -> String {
        self.namespaces
            .iter()
            .find(|n| n.inode == inode)
            .map_or_else(|| inode.to_string(), |n| n.name.clone())
    }

    /// Interface name for display, falling back to the index ("if7"); "-" for no device.
    pub fn ifname(&self, netns: u32, ifindex: u32) -> String {
        if ifindex == 0 {
            return "-".into();
        }
        self.interfaces
            .iter()
            .find(|i| i.ifindex == ifindex && i.netns == netns)
            .map(|i| i.name.clone())
            .unwrap_or_else(|| format!("if{ifindex}"))
    }

    /// Drop reason name, or the number when the kernel's enum is unknown.
    pub fn drop_reason(&self, reason: i64) -> String {
        self.drop_reasons
            .iter()
            .find(|(v, _)| i64::from(*v) == reason)
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| reason.to_string())
    }

    /// The host of a merged session that function id `func` belongs to (`None` for one
    /// recording).
    pub fn host_of(&self, func: u32) -> Option<(usize, &crate::merge::HostPart)> {
        self.hosts
            .iter()
            .enumerate()
            .find(|(_, h)| (h.first_func..h.end_func).contains(&func))
    }

    /// A packet id as shown: `17`, or `17#2` for the second occurrence of payload id 17 in
    /// a merged session.
    pub fn packet_label(&self, id: u32) -> String {
        match self.aliases.iter().find(|a| a.0 == id) {
            Some(&(_, payload, nth)) => format!("{payload}#{nth}"),
            None => id.to_string(),
        }
    }

    pub fn func_name(&self, func: u32) -> &str {
        self.functions
            .get(func as usize)
            .map(|f| f.name.as_str())
            .unwrap_or("?")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(ethertype: u16, family: u16) -> Option<SkbClass> {
        Some(SkbClass { ethertype, family })
    }

    #[test]
    fn packet_kinds_from_what_the_tracer_saw() {
        use PacketKind::*;
        let flow = Flow {
            proto: 17,
            src: "10.0.0.1".parse().unwrap(),
            dst: "10.0.0.2".parse().unwrap(),
            sport: 1,
            dport: 2,
        };
        let of = |f: Option<&Flow>, c: Option<SkbClass>| PacketKind::from_record(f, c.as_ref());
        // An IP flow is a network packet whoever owns it.
        assert_eq!(of(Some(&flow), class(0x800, af::UNIX)), Some(Network));
        // ARP: an ethertype, no IP.
        assert_eq!(of(None, class(0x806, 0)), Some(Network));
        // A socket family that says it.
        assert_eq!(of(None, class(0, af::INET6)), Some(Network));
        assert_eq!(of(None, class(0, af::PACKET)), Some(Network));
        assert_eq!(of(None, class(0, af::NETLINK)), Some(Netlink));
        assert_eq!(of(None, class(0, af::UNIX)), Some(Unix));
        assert_eq!(of(None, class(0, 40)), Some(Other), "AF_VSOCK");
        // Nothing said.
        assert_eq!(of(None, class(0, 0)), None);
        assert_eq!(of(None, None), None);
        // Without a record, a device makes it a network packet.
        assert_eq!(PacketKind::derive(None, true), Network);
        assert_eq!(PacketKind::derive(None, false), Other);
        assert_eq!(PacketKind::derive(Some(Netlink), true), Netlink);
        for k in PacketKind::ALL {
            assert_eq!(PacketKind::from_name(k.name()), Some(k));
        }
    }
}
