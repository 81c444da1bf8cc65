//! Older recording formats that are still read: their stored types as they were, and how
//! each becomes today's. Only what changed is kept here; frames whose types did not change
//! decode as today's.

use serde::Deserialize;

use crate::event::{Context, Event, Extra, Kind};
use crate::session::Flow;

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

    impl From<Event5> for Event {
        fn from(e: Event5) -> Event {
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
                        class: None,
                    })
                }),
            }
        }
    }
}
