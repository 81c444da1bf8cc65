//! The call-tree model: events in, per-packet call trees out, incrementally.
//!
//! Entries and exits pair LIFO per [`Event::stack_key`]. A call's parent is the innermost
//! open call *of the same packet* on the same stack, so a packet's tree never contains another
//! packet's calls, and a packet that continues on another CPU or in an interrupt starts a new
//! root there (the views draw a separator).

mod packet;

use std::collections::HashMap;

pub use packet::{node_flags, Node, Packet, Seen, L3, ROOT};

use node_flags::*;
use vrft_events::event::{flags, Context, Event, Kind, Task};
use vrft_events::session::SessionInfo;

#[derive(Clone, Copy, Debug)]
struct Frame {
    slot: u32,
    node: u32,
    func: u32,
}

/// All packets seen so far, in order of first appearance.
#[derive(Debug, Default)]
pub struct Model {
    /// Per function id: it delivers a packet to a socket (from the session's names, once).
    delivers: Vec<bool>,
    packets: Vec<Packet>,
    by_id: HashMap<u32, u32>,
    stacks: HashMap<u64, Vec<Frame>>,
    /// Events per function-table index (what reached the UI, i.e. matched the capture filter).
    func_events: Vec<u64>,
    events: u64,
    /// Packet slots changed since the last [`Model::take_touched`], each listed once.
    touched: Vec<u32>,
    touched_mark: Vec<bool>,
    finished: bool,
    /// The process of each thread, as the tracer noted it (once per thread, before its
    /// first event), so a packet's first call in process context names who ran it.
    /// Keyed by host and thread ([`task_key`]).
    tasks: HashMap<u64, Task>,
    /// What [`Model::stored_bytes`] counts, as of the last [`Model::count_touched`]: kept
    /// current from the packets that changed, so a memory budget costs no walk over all.
    bytes: usize,
    /// Per slot: the bytes its packet was last counted at in `bytes`.
    counted: Vec<u32>,
    /// Packets evicted to stay within a memory budget ([`Model::evict`]), and the newest
    /// packet ID among them.
    evicted: u64,
    evicted_upto: Option<u32>,
}

/// Where each packet went when [`Model::evict`] compacted the list: slots are positions, so
/// every slot held outside the model must be translated.
#[derive(Debug)]
pub struct Remap {
    new: Vec<u32>,
}

impl Remap {
    const GONE: u32 = u32::MAX;

    /// The new slot of the packet that was at `old`, or `None` if it was evicted.
    pub fn slot(&self, old: u32) -> Option<u32> {
        match self.new.get(old as usize) {
            Some(&s) if s != Self::GONE => Some(s),
            _ => None,
        }
    }
}

/// A thread of one host: merged recordings reuse thread ids.
fn task_key(ev: &Event) -> u64 {
    u64::from(ev.host) << 32 | u64::from(ev.tid)
}

/// Bytes a stored packet costs besides its heap parts: the struct, its index entry, its
/// touched mark and its counted size.
const PER_PACKET: usize = std::mem::size_of::<Packet>() + std::mem::size_of::<(u32, u32)>() + 1 + 4;
/// Threads whose process is remembered; beyond this the oldest knowledge is dropped (the
/// tracer names a thread once, so a long session on a busy host would grow without end).
const MAX_TASKS: usize = 1 << 16;

impl Model {
    /// An empty model of the session `info` describes (its function table).
    pub fn new(info: &SessionInfo) -> Self {
        Model {
            delivers: packet::delivery_functions(info),
            ..Self::default()
        }
    }

    /// The model of a complete stream (a recording): everything ingested, then finished.
    pub fn from_events(info: &SessionInfo, events: &[Event]) -> Self {
        let mut m = Self::new(info);
        m.ingest(events);
        m.finish();
        m
    }

    pub fn packets(&self) -> &[Packet] {
        &self.packets
    }

    pub fn packet(&self, slot: u32) -> &Packet {
        &self.packets[slot as usize]
    }

    /// Slot of a packet ID (slots are positions in [`Model::packets`]).
    pub fn slot_of(&self, id: u32) -> Option<u32> {
        self.by_id.get(&id).copied()
    }

    pub fn events(&self) -> u64 {
        self.events
    }

    pub fn func_events(&self, func: u32) -> u64 {
        self.func_events.get(func as usize).copied().unwrap_or(0)
    }

    /// Calls still waiting for their exit, over all packets.
    pub fn open_calls(&self) -> usize {
        self.stacks.values().map(Vec::len).sum()
    }

    /// Packets created or grown since the last call.
    pub fn take_touched(&mut self) -> Vec<u32> {
        for &s in &self.touched {
            self.touched_mark[s as usize] = false;
        }
        std::mem::take(&mut self.touched)
    }

    pub fn ingest(&mut self, events: &[Event]) {
        for ev in events {
            self.ingest_one(ev);
        }
    }

    pub fn ingest_one(&mut self, ev: &Event) {
        self.events += 1;
        let f = ev.func as usize;
        if f >= self.func_events.len() {
            self.func_events.resize(f + 1, 0);
        }
        self.func_events[f] += 1;

        let slot = self.slot_for(ev);
        let p = &mut self.packets[slot as usize];
        p.last_ts = p.last_ts.max(ev.ts_ns);
        p.first_ts = p.first_ts.min(ev.ts_ns);
        p.flags |= ev.flags & (flags::DROP | flags::FREED | flags::FIRST_SEEN);
        if ev.flags & flags::DROP != 0 && p.drop_reason.is_none() {
            p.drop_reason = Some(ev.ret as u32);
        }
        if p.flow.is_none() {
            p.flow = ev.flow().map(|f| Box::new(*f));
        }
        p.note(ev, self.delivers.get(f).copied().unwrap_or(false));
        if let Some(t) = ev.task() {
            if self.tasks.len() >= MAX_TASKS {
                self.tasks.clear();
            }
            self.tasks.insert(task_key(ev), t.clone());
        }
        let node = p.nodes.len() as u32; // the node this event adds, if it adds one
        if let Some(h) = ev.headers() {
            p.add_headers(node, h);
        }
        if ev.ctx == Context::Process && ev.kind != Kind::Exit && p.task().is_none() {
            if let Some(t) = self.tasks.get(&task_key(ev)) {
                p.set_task(node, t);
            }
        }
        let stack = self.stacks.entry(ev.stack_key()).or_default();

        match ev.kind {
            Kind::Entry if ev.flags & flags::TOO_DEEP != 0 => {
                // Its exit will not come: a marked leaf under the deepest open call.
                let parent = innermost(stack, slot);
                p.push_node(ev, parent, TOO_DEEP | (ev.flags & 0x0f));
                p.broken += 1;
            }
            Kind::Entry => {
                let parent = innermost(stack, slot);
                let node = p.push_node(ev, parent, ev.flags & 0x0f);
                p.open += 1;
                stack.push(Frame {
                    slot,
                    node,
                    func: ev.func,
                });
            }
            Kind::Tracepoint => {
                let parent = innermost(stack, slot);
                p.push_node(ev, parent, EXITED | TRACEPOINT | (ev.flags & 0x0f));
            }
            Kind::Exit => {
                let pos = if ev.flags & flags::NO_ENTRY != 0 {
                    None
                } else {
                    stack
                        .iter()
                        .rposition(|fr| fr.slot == slot && fr.func == ev.func)
                };
                match pos {
                    Some(pos) => {
                        // Everything above the matching frame returned without us seeing it.
                        for fr in stack.drain(pos + 1..) {
                            let q = &mut self.packets[fr.slot as usize];
                            q.nodes[fr.node as usize].flags |= LOST_EXIT;
                            q.open -= 1;
                            q.broken += 1;
                        }
                        let fr = stack.pop().expect("matched frame");
                        let p = &mut self.packets[slot as usize];
                        p.nodes[fr.node as usize].set_exit(ev.ts_ns, ev.ret, ev.flags);
                        p.open -= 1;
                        // Its calls have all returned: give back the growth slack now
                        // rather than at the end of the stream, to keep live memory low.
                        if p.open == 0 {
                            p.shrink();
                        }
                    }
                    None => {
                        let parent = innermost(stack, slot);
                        let p = &mut self.packets[slot as usize];
                        p.push_node(ev, parent, EXITED | NO_ENTRY | (ev.flags & 0x0f));
                        p.broken += 1;
                    }
                }
            }
        }
    }

    /// End of the stream: calls still open will never see their exit.
    pub fn finish(&mut self) {
        for (_, stack) in self.stacks.drain() {
            for fr in stack {
                let p = &mut self.packets[fr.slot as usize];
                p.nodes[fr.node as usize].flags |= LOST_EXIT;
                p.open -= 1;
                p.broken += 1;
                if !self.touched_mark[fr.slot as usize] {
                    self.touched_mark[fr.slot as usize] = true;
                    self.touched.push(fr.slot);
                }
            }
        }
        for p in &mut self.packets {
            p.shrink();
        }
        self.recount();
        self.finished = true;
    }

    /// True after [`Model::finish`]: no more events will come.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    fn slot_for(&mut self, ev: &Event) -> u32 {
        let next = self.packets.len() as u32;
        let slot = *self.by_id.entry(ev.packet).or_insert(next);
        if slot == next {
            self.packets.push(Packet::new(ev.packet, ev.ts_ns, ev.cpu));
            self.touched_mark.push(false);
            self.counted.push(0);
        }
        if !self.touched_mark[slot as usize] {
            self.touched_mark[slot as usize] = true;
            self.touched.push(slot);
        }
        slot
    }

    /// Heap and inline bytes held for stored packets and calls (not counting the hash index).
    pub fn stored_bytes(&self) -> usize {
        self.packets
            .iter()
            .map(|p| PER_PACKET + p.heap_bytes())
            .sum()
    }

    /// [`Model::stored_bytes`] as of the last [`Model::count_touched`], without a walk.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Brings [`Model::bytes`] up to date with the packets changed since the last
    /// [`Model::take_touched`]: per frame, not per event, so ingestion pays nothing for it.
    pub fn count_touched(&mut self) {
        for &s in &self.touched {
            let now = PER_PACKET + self.packets[s as usize].heap_bytes();
            let was = std::mem::replace(&mut self.counted[s as usize], now as u32);
            self.bytes = (self.bytes + now).saturating_sub(was as usize);
        }
    }

    /// Counts every packet again (after a change to all of them).
    fn recount(&mut self) {
        self.counted = self
            .packets
            .iter()
            .map(|p| (PER_PACKET + p.heap_bytes()) as u32)
            .collect();
        self.bytes = self.counted.iter().map(|&c| c as usize).sum();
    }

    /// Packets evicted so far, and the newest ID among them.
    pub fn evicted(&self) -> (u64, Option<u32>) {
        (self.evicted, self.evicted_upto)
    }

    /// Evicts whole packets, oldest first, until at most `target` bytes are stored: first
    /// those whose calls have all returned, then (only if that is not enough) those still
    /// waiting for an exit; never one that `keep` names (by slot). The rest keep their order;
    /// the returned map says where each slot went (`None`: nothing was evicted).
    pub fn evict(&mut self, target: usize, keep: impl Fn(u32) -> bool) -> Option<Remap> {
        let mut over = self.bytes.saturating_sub(target);
        if over == 0 {
            return None;
        }
        let mut gone = vec![false; self.packets.len()];
        for open_too in [false, true] {
            for (slot, p) in self.packets.iter().enumerate() {
                if over == 0 {
                    break;
                }
                if gone[slot] || (p.open > 0 && !open_too) || keep(slot as u32) {
                    continue;
                }
                gone[slot] = true;
                over = over.saturating_sub(PER_PACKET + p.heap_bytes());
            }
        }
        let mut new = vec![Remap::GONE; self.packets.len()];
        let mut next = 0u32;
        for (slot, g) in gone.iter().enumerate() {
            if !g {
                new[slot] = next;
                next += 1;
            }
        }
        let removed = self.packets.len() - next as usize;
        if removed == 0 {
            return None;
        }
        let map = Remap { new };
        let mut slot = 0;
        self.packets.retain(|p| {
            let stays = !gone[slot];
            slot += 1;
            if !stays {
                self.evicted_upto = Some(self.evicted_upto.map_or(p.id, |u| u.max(p.id)));
            }
            stays
        });
        self.evicted += removed as u64;
        self.by_id.retain(|_, s| match map.slot(*s) {
            Some(n) => {
                *s = n;
                true
            }
            None => false,
        });
        for stack in self.stacks.values_mut() {
            // A packet evicted with calls open: its exits, if they come, start a new row.
            stack.retain_mut(|fr| match map.slot(fr.slot) {
                Some(n) => {
                    fr.slot = n;
                    true
                }
                None => false,
            });
        }
        self.stacks.retain(|_, s| !s.is_empty());
        self.touched.retain_mut(|s| match map.slot(*s) {
            Some(n) => {
                *s = n;
                true
            }
            None => false,
        });
        self.touched_mark = vec![false; self.packets.len()];
        for &s in &self.touched {
            self.touched_mark[s as usize] = true;
        }
        self.recount();
        Some(map)
    }
}

fn innermost(stack: &[Frame], slot: u32) -> u32 {
    stack
        .iter()
        .rev()
        .find(|fr| fr.slot == slot)
        .map_or(ROOT, |fr| fr.node)
}
