//! vrft-events: the data contract of vrft-tui.
//!
//! The tracer produces what this crate defines; the UI, the recorder, `dump`
//! and the exports consume it. Nothing here knows BPF or a terminal, and the
//! recording format ([`record`]) lives beside the types it stores, so a change
//! to a stored type and the format's version change together.

pub mod event;
pub mod merge;
pub mod record;
pub mod session;

pub use event::{Context, Event, Extra, FuncInfo, Kind, Origin, Returns, VMLINUX};
pub use session::{
    Backend, Flow, Interface, PacketKind, Probe, ProbeStatus, SessionInfo, SkbClass, Stats,
};
