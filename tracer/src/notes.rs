//! Notes wait here for the event they belong to: the BPF side sends a packet's headers or
//! its task just before the event of that packet on the same stack, but other CPUs' records
//! (and, rarely, an interrupt's on the same stack) may come in between.

use vrft_events::event::{Event, Extra};

use crate::wire::{Note, NoteKind};

/// More notes than this waiting means their events were lost (the ring was full, which is
/// counted): the oldest are dropped so that the list stays short.
const MAX_WAITING: usize = 64;

#[derive(Default)]
pub struct Pending {
    notes: Vec<Note>,
}

impl Pending {
    pub fn add(&mut self, note: Note) {
        if self.notes.len() == MAX_WAITING {
            self.notes.remove(0);
        }
        self.notes.push(note);
    }

    /// Gives `e` the notes that wait for it.
    pub fn attach(&mut self, e: &mut Event) {
        if self.notes.is_empty() {
            return;
        }
        let key = e.stack_key();
        self.notes.retain(|n| {
            if n.stack != key || n.packet != e.packet || n.clone != e.clone {
                return true;
            }
            let x = e.extra.get_or_insert_with(|| Box::new(Extra::default()));
            match &n.what {
                NoteKind::Headers(h) => x.headers = Some(h.clone()),
                NoteKind::Task(t) => x.task = Some(t.clone()),
            }
            false
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vrft_events::event::{Context, Headers, Kind, Task};

    fn event(tid: u32, packet: u32) -> Event {
        Event {
            host: 0,
            ts_ns: 1,
            packet,
            clone: 0,
            cpu: 1,
            func: 0,
            tid,
            kind: Kind::Tracepoint,
            ctx: Context::Process,
            flags: 0,
            ifindex: 0,
            netns: 0,
            len: 0,
            ret: 0,
            extra: None,
        }
    }

    fn note(tid: u32, packet: u32, what: NoteKind) -> Note {
        Note {
            stack: tid as u64,
            packet,
            clone: 0,
            what,
        }
    }

    #[test]
    fn a_note_goes_to_the_next_event_of_its_packet_on_its_stack() {
        let mut p = Pending::default();
        let task = Task {
            pid: 7,
            comm: "ping".into(),
        };
        let hdr = Headers {
            ethertype: 0x800,
            net_offset: 14,
            bytes: vec![1, 2, 3],
        };
        p.add(note(5, 1, NoteKind::Task(task.clone())));
        p.add(note(5, 1, NoteKind::Headers(hdr.clone())));
        // Another thread's event, then an interrupt's event of another packet on the
        // same stack: neither takes the notes.
        let mut other = event(6, 1);
        p.attach(&mut other);
        assert!(other.extra.is_none());
        let mut irq = event(5, 2);
        p.attach(&mut irq);
        assert!(irq.extra.is_none());
        let mut e = event(5, 1);
        p.attach(&mut e);
        assert_eq!(e.task(), Some(&task));
        assert_eq!(e.headers(), Some(&hdr));
        let mut next = event(5, 1);
        p.attach(&mut next);
        assert!(next.extra.is_none(), "a note is given once");
    }

    #[test]
    fn notes_whose_events_were_lost_do_not_pile_up() {
        let mut p = Pending::default();
        for i in 0..1000 {
            p.add(note(i, i, NoteKind::Task(Task::default())));
        }
        assert_eq!(p.notes.len(), MAX_WAITING);
    }
}
