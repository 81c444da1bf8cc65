//! The events that flow from the tracer (or a recording) into the consumers.
//!
//! The tracer (`src/tracer`) decodes the BPF records into these; the recorder,
//! the UI's model, `dump` and the exports read them. No BPF types appear here,
//! so every consumer can be built and tested on recordings and synthetic streams.

use serde::{Deserialize, Serialize};

use crate::session::{Flow, PacketKind, SkbClass};

/// What a probe saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum Kind {
    /// A traced function was entered (fentry / kprobe).
    Entry = 0,
    /// A traced function returned (fexit / kretprobe); `ret` holds its return value.
    Exit = 1,
    /// A tracepoint fired; shown as a leaf in the tree.
    Tracepoint = 2,
}

/// The execution context the probe ran in, read from `preempt_count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum Context {
    Process = 0,
    SoftIrq = 1,
    HardIrq = 2,
    Nmi = 3,
}

/// Per-event flags set by the BPF side.
pub mod flags {
    /// An exit whose entry was never recorded (lost, or the probe was armed mid-call).
    pub const NO_ENTRY: u8 = 1 << 0;
    /// The packet was seen here for the first time (the filter matched at this probe).
    pub const FIRST_SEEN: u8 = 1 << 1;
    /// The skb was freed at this point (kfree_skb / consume_skb / kfree_skbmem); its tracking ends.
    pub const FREED: u8 = 1 << 2;
    /// The packet was dropped (kfree_skb tracepoint); `ret` holds the drop reason.
    pub const DROP: u8 = 1 << 3;
    /// An entry nested deeper than the tracer's call stack: its exit is not followed, so the
    /// call is a leaf under the deepest call that was kept.
    pub const TOO_DEEP: u8 = 1 << 5;
}

/// One decoded event. Timestamps are CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub ts_ns: u64,
    /// Packet identity assigned by the tracer (or taken from the UDP payload with `--payload-id`).
    pub packet: u32,
    /// Clone index: 0 for the original skb, n for the n-th clone/copy of the packet.
    pub clone: u16,
    pub cpu: u16,
    /// Index into the recording's function table ([`FuncInfo`]); tracepoints have entries there too.
    pub func: u32,
    /// Thread id of the current task (0 for the per-CPU idle tasks). Together with `cpu` for
    /// tid 0 it names the stack the call ran on: interrupts nest strictly inside whatever task
    /// they interrupted, so entries and exits pair LIFO per (tid, idle cpu).
    pub tid: u32,
    pub kind: Kind,
    pub ctx: Context,
    pub flags: u8,
    /// Interface index of `skb->dev` at this moment (0 when none).
    pub ifindex: u32,
    /// Inode number of the network namespace of `skb->dev` (or of the socket), 0 when unknown.
    pub netns: u32,
    /// `skb->len` at this moment.
    pub len: u32,
    /// Return value on exits, drop reason on `kfree_skb`, 0 otherwise.
    pub ret: i64,
    /// What only some events carry; boxed so that the common event stays small.
    pub extra: Option<Box<Extra>>,
    /// Which recording of a merged set ([`crate::merge`]) the event came from; 0 for a
    /// single recording. Never stored: a recording is one host.
    #[serde(skip)]
    pub host: u8,
}

/// The parts of an event that most events lack.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extra {
    /// The packet's flow, on the first event where its headers could be read.
    pub flow: Option<Flow>,
    /// Values of `--skb-fields` at an entry or tracepoint, in the order of
    /// [`crate::session::SessionInfo::skb_fields`].
    pub fields: Vec<u64>,
    /// Ethertype and socket family, on the event that carries the packet's one look at what
    /// it is (with the flow, if it has one). Recordings before version 6 have none.
    pub class: Option<SkbClass>,
    /// The packet's headers as bytes: on the event where they were first readable, and again
    /// wherever its addresses or ports changed (encapsulation, decapsulation, NAT).
    /// Recordings before version 7 have none.
    pub headers: Option<Headers>,
    /// The process of the thread that ran the probe: the tracer notes each thread once, on
    /// its first tracepoint event in process context (the consumer keeps it per thread: a
    /// packet's process is that of its first call in process context, who sent or read it).
    /// Recordings before version 7 have none.
    pub task: Option<Task>,
}

/// The first bytes of a packet's headers, as the kernel held them at one probe.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Headers {
    /// `skb->protocol` in host order: what the network header is.
    pub ethertype: u16,
    /// Where the network header starts in `bytes`: 14 when an Ethernet header precedes it,
    /// 0 when the bytes start at the network header (no link header yet, or none).
    pub net_offset: u16,
    /// From the link (or network) header on, at most the tracer's window.
    pub bytes: Vec<u8>,
}

/// A process, as a packet met it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// The process id (thread group id) of the task.
    pub pid: u32,
    /// The task's command name (`comm`, at most 15 bytes).
    pub comm: String,
}

impl Event {
    pub fn flow(&self) -> Option<&Flow> {
        self.extra.as_ref()?.flow.as_ref()
    }

    pub fn class(&self) -> Option<&SkbClass> {
        self.extra.as_ref()?.class.as_ref()
    }

    /// What this event says the packet is, if it says anything (see [`PacketKind::from_record`]).
    pub fn kind_evidence(&self) -> Option<PacketKind> {
        PacketKind::from_record(self.flow(), self.class())
    }

    pub fn headers(&self) -> Option<&Headers> {
        self.extra.as_ref()?.headers.as_ref()
    }

    pub fn task(&self) -> Option<&Task> {
        self.extra.as_ref()?.task.as_ref()
    }

    pub fn fields(&self) -> &[u64] {
        self.extra.as_ref().map_or(&[], |x| &x.fields)
    }

    /// The key of the call stack this event belongs to (see [`Event::tid`]).
    pub fn stack_key(&self) -> u64 {
        stack_key(self.tid, self.cpu) | u64::from(self.host) << 48
    }
}

/// The key of the call stack of thread `tid` on `cpu`: the thread, or for the idle
/// tasks (tid 0) the CPU.
pub fn stack_key(tid: u32, cpu: u16) -> u64 {
    if tid == 0 {
        (1u64 << 32) | cpu as u64
    } else {
        tid as u64
    }
}

/// Where a probe sits: a function of the core kernel or of a module, or a tracepoint.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Origin {
    /// A function of the core kernel.
    Vmlinux,
    /// A function of a loadable module, by module name.
    Module(String),
    /// A kernel tracepoint; the probe's name is then `category:name` (`net:net_dev_queue`).
    Tracepoint,
}

/// The name of the core kernel's BTF object, which is how the kernel calls it too.
pub const VMLINUX: &str = "vmlinux";

impl Origin {
    /// The origin of a function of BTF object `module` ([`VMLINUX`] or a module's name).
    pub fn of_module(module: &str) -> Origin {
        if module == VMLINUX {
            Origin::Vmlinux
        } else {
            Origin::Module(module.to_string())
        }
    }

    /// The BTF object the function is in; `None` for tracepoints.
    pub fn module(&self) -> Option<&str> {
        match self {
            Origin::Vmlinux => Some(VMLINUX),
            Origin::Module(m) => Some(m),
            Origin::Tracepoint => None,
        }
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.module().unwrap_or("tracepoint"))
    }
}

/// What a function's return value is, from its BTF return type: how to show it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Returns {
    /// An integer or enum: decimal when small, else hex.
    #[default]
    Value,
    /// `void`: the register holds whatever was left there; nothing is shown.
    Void,
    /// `bool`: true or false.
    Bool,
    /// A pointer: always hex.
    Pointer,
}

/// Where a traced function lives and how its skb is passed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FuncInfo {
    pub name: String,
    pub origin: Origin,
    /// Zero-based index of the `struct sk_buff *` argument.
    pub skb_arg: u8,
    pub nargs: u8,
    pub returns: Returns,
}
