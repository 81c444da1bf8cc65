//! Older recording formats that are still read: their stored types as they were, and how
//! each becomes today's. Only what changed is kept here; frames whose types did not change
//! decode as today's.

use serde::Deserialize;

use crate::event::{Context, Event, Extra, FuncInfo, Kind};
use crate::session::{Backend, Flow, Interface, Probe, SessionInfo, SkbClass};

/// Version 5: events had no [`Extra::class`] (the ethertype and socket family).
pub mod v5 {
    use super::*;

    #[derive(Deserialize)]
    pub struct Event5 {
        ts_ns: u64,
        packet: u32,
        clone: u16,
        cpu: u16,
        func: u32,
        tid: u32,
        kind: Kind,
        ctx: Context,
        flags: u8,
        ifindex: u32,
        netns: u32,
        len: u32,
        ret: i64,
        extra: Option<Box<Extra5>>,
    }

    #[derive(Deserialize)]
    struct Extra5 {
        flow: Option<Flow>,
        fields: Vec<u64>,
    }

    /// Through version 6, whose events differ only in having the class.
    impl From<Event5> for Event {
        fn from(e: Event5) -> Event {
            let extra = e.extra.map(|x| super::v6::Extra6 {
                flow: x.flow,
                fields: x.fields,
                class: None,
            });
            super::v6::Event6 {
                ts_ns: e.ts_ns,
                packet: e.packet,
                clone: e.clone,
                cpu: e.cpu,
                func: e.func,
                tid: e.tid,
                kind: e.kind,
                ctx: e.ctx,
                flags: e.flags,
                ifindex: e.ifindex,
                netns: e.netns,
                len: e.len,
                ret: e.ret,
                extra: extra.map(Box::new),
            }
            .into()
        }
    }
}

/// Version 6: events had no [`Extra::headers`] nor [`Extra::task`].
pub mod v6 {
    use super::*;

    #[derive(Deserialize)]
    pub struct Event6 {
        pub(super) ts_ns: u64,
        pub(super) packet: u32,
        pub(super) clone: u16,
        pub(super) cpu: u16,
        pub(super) func: u32,
        pub(super) tid: u32,
        pub(super) kind: Kind,
        pub(super) ctx: Context,
        pub(super) flags: u8,
        pub(super) ifindex: u32,
        pub(super) netns: u32,
        pub(super) len: u32,
        pub(super) ret: i64,
        pub(super) extra: Option<Box<Extra6>>,
    }

    #[derive(Deserialize)]
    pub(super) struct Extra6 {
        pub(super) flow: Option<Flow>,
        pub(super) fields: Vec<u64>,
        pub(super) class: Option<SkbClass>,
    }

    impl From<Event6> for Event {
        fn from(e: Event6) -> Event {
            Event {
                ts_ns: e.ts_ns,
                packet: e.packet,
                clone: e.clone,
                cpu: e.cpu,
                func: e.func,
                tid: e.tid,
                kind: e.kind,
                ctx: e.ctx,
                flags: e.flags,
                ifindex: e.ifindex,
                netns: e.netns,
                len: e.len,
                ret: e.ret,
                extra: e.extra.map(|x| {
                    Box::new(Extra {
                        flow: x.flow,
                        fields: x.fields,
                        class: x.class,
                        headers: None,
                        task: None,
                    })
                }),
                host: 0,
            }
        }
    }
}

/// Versions 5 to 7: the session named no snaplen nor host, and before 7 no namespaces nor
/// clock offset. Postcard stores a struct as its fields one after the other, so version 7's
/// session is version 6's followed by its two new fields.
pub mod header7 {
    use super::*;
    use crate::session::Namespace;

    /// A recording's header of versions 5 to 7, with the session `I` of its version.
    #[derive(Deserialize)]
    pub struct Old<I> {
        info: I,
        backend_reason: String,
        started_unix_ns: u64,
    }

    pub type Header6 = Old<SessionInfo6>;
    pub type Header7 = Old<SessionInfo7>;

    #[derive(Deserialize)]
    pub struct SessionInfo6 {
        functions: Vec<FuncInfo>,
        backend: Option<Backend>,
        kernel: String,
        probes: Vec<Probe>,
        filter: String,
        interfaces: Vec<Interface>,
        drop_reasons: Vec<(u32, String)>,
        skb_fields: Vec<String>,
    }

    #[derive(Deserialize)]
    pub struct SessionInfo7 {
        v6: SessionInfo6,
        namespaces: Vec<Namespace>,
        realtime_offset_ns: Option<i64>,
    }

    impl From<Header6> for Header7 {
        fn from(h: Header6) -> Self {
            Old {
                info: SessionInfo7 {
                    v6: h.info,
                    namespaces: Vec::new(),
                    realtime_offset_ns: None,
                },
                backend_reason: h.backend_reason,
                started_unix_ns: h.started_unix_ns,
            }
        }
    }

    impl From<Header7> for crate::record::Header {
        fn from(h: Header7) -> Self {
            let SessionInfo7 {
                v6: i,
                namespaces,
                realtime_offset_ns,
            } = h.info;
            crate::record::Header {
                info: SessionInfo {
                    functions: i.functions,
                    backend: i.backend,
                    kernel: i.kernel,
                    probes: i.probes,
                    filter: i.filter,
                    interfaces: i.interfaces,
                    drop_reasons: i.drop_reasons,
                    skb_fields: i.skb_fields,
                    namespaces,
                    realtime_offset_ns,
                    ..SessionInfo::default()
                },
                backend_reason: h.backend_reason,
                started_unix_ns: h.started_unix_ns,
            }
        }
    }
}
