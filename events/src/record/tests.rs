use std::path::PathBuf;
use std::sync::OnceLock;

use proptest::prelude::*;

use super::frame::{encode_frame, FrameHeader, HEADER_LEN};
use super::*;
use crate::event::{Context, Event, Extra, Kind};
use crate::session::Interface;

fn event(i: u32) -> Event {
    Event {
        host: 0,
        ts_ns: 1_000 + i as u64,
        packet: i / 3,
        clone: 0,
        cpu: 1,
        func: i % 5,
        tid: 42,
        kind: Kind::Entry,
        ctx: Context::SoftIrq,
        flags: 0,
        ifindex: 2,
        netns: 4026531840,
        len: 98,
        ret: -1,
        extra: i.is_multiple_of(7).then(|| {
            Box::new(Extra {
                flow: None,
                fields: vec![i as u64, 0x800],
                class: i.is_multiple_of(2).then_some(crate::SkbClass {
                    ethertype: 0,
                    family: 16,
                }),
                headers: i.is_multiple_of(3).then(|| crate::event::Headers {
                    ethertype: 0x800,
                    net_offset: 14,
                    bytes: vec![i as u8; 34],
                }),
                task: i.is_multiple_of(5).then(|| crate::event::Task {
                    pid: i,
                    comm: "ping".into(),
                }),
            })
        }),
    }
}

fn iface(ifindex: u32, name: &str) -> Interface {
    Interface {
        netns: 1,
        ifindex,
        name: name.into(),
    }
}

fn header() -> Header {
    Header {
        info: SessionInfo {
            backend: Some(crate::Backend::Fentry),
            kernel: "6.1.0".into(),
            interfaces: vec![iface(1, "lo")],
            ..Default::default()
        },
        backend_reason: "backend: fentry".into(),
        started_unix_ns: 7,
    }
}

fn trailer() -> Trailer {
    Trailer {
        duration_ns: 5,
        ..Default::default()
    }
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vrft-rec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A finished recording of `n` events in frames of `per_frame`, with an interfaces frame.
fn sample(name: &str, n: u32, per_frame: u32) -> (Vec<u8>, Vec<Event>) {
    let path = tmp(name);
    let all: Vec<Event> = (0..n).map(event).collect();
    let mut w = Writer::create(&path, header()).unwrap();
    w.set_frame_events(per_frame);
    for chunk in all.chunks(37) {
        w.events(chunk).unwrap();
    }
    w.interfaces(&[iface(7, "veth0")]).unwrap();
    w.finish(trailer()).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    (bytes, all)
}

/// 2000 events in frames of 64: 32 event frames between the header and the trailer.
fn small() -> &'static (Vec<u8>, Vec<Event>) {
    static S: OnceLock<(Vec<u8>, Vec<Event>)> = OnceLock::new();
    S.get_or_init(|| sample("small.vrft", 2000, 64))
}

/// Where each frame of an intact recording lies.
#[derive(Clone, Copy, Debug)]
struct Span {
    start: usize,
    end: usize,
    h: FrameHeader,
}

fn spans(b: &[u8]) -> Vec<Span> {
    let mut pos = FILE_HEADER_LEN;
    let mut out = Vec::new();
    while pos < b.len() {
        let h = FrameHeader::decode(&b[pos..]).expect("an intact recording");
        out.push(Span {
            start: pos,
            end: pos + h.frame_len(),
            h,
        });
        pos += h.frame_len();
    }
    out
}

/// The events of the given frames, in order.
fn events_of(all: &[Event], frames: &[Span]) -> Vec<Event> {
    frames
        .iter()
        .filter(|s| s.h.kind == FrameKind::Events)
        .flat_map(|s| all[s.h.first as usize..(s.h.first + s.h.count as u64) as usize].to_vec())
        .collect()
}

fn flip(b: &[u8], at: &[usize]) -> Vec<u8> {
    let mut b = b.to_vec();
    for &i in at {
        b[i] ^= 0x5a;
    }
    b
}

fn lines(b: &[u8]) -> Vec<String> {
    Recording::from_bytes(b).unwrap().damage.lines()
}

#[test]
fn round_trips_and_survives_truncation() {
    let (bytes, all) = sample("a.vrft", 10_000, FRAME_EVENTS);
    let rec = Recording::from_bytes(&bytes).unwrap();
    let mut want = header();
    want.info.interfaces.push(iface(7, "veth0"));
    assert_eq!(rec.header, want);
    assert_eq!(rec.events, all);
    assert_eq!(rec.trailer.unwrap().duration_ns, 5);
    assert!(rec.damage.is_clean(), "{:?}", rec.damage);
    assert_eq!(rec.damage.summary(), None);
    assert!(
        bytes.len() < 10_000 * 8,
        "compact: {} bytes for 10k events",
        bytes.len()
    );

    // Cut in the middle: the whole frames before the cut still read.
    let cut = Recording::from_bytes(&bytes[..bytes.len() * 2 / 3]).unwrap();
    assert!(cut.trailer.is_none());
    assert_eq!(cut.events[..], all[..cut.events.len()]);
    assert_eq!(cut.events.len(), 4096);
    assert!(cut.damage.cut_short());

    let err = Recording::from_bytes(b"garbage!!!!!!!!").unwrap_err();
    assert!(err.to_string().contains("not a vrft-tui recording"));
}

#[test]
fn frames_are_batches_of_frame_events() {
    let (bytes, _) = sample("b.vrft", 10_000, FRAME_EVENTS);
    let counts: Vec<(FrameKind, u32)> = spans(&bytes)
        .iter()
        .map(|s| (s.h.kind, s.h.count))
        .collect();
    use FrameKind::*;
    assert_eq!(
        counts,
        [
            (Header, 0),
            (Events, 4096),
            (Events, 4096),
            (Events, 1808),
            (Interfaces, 0),
            (Trailer, 0)
        ]
    );
}

#[test]
fn a_killed_writer_leaves_its_whole_frames() {
    let path = tmp("killed.vrft");
    let all: Vec<Event> = (0..1000).map(event).collect();
    let mut w = Writer::create(&path, header()).unwrap();
    w.set_frame_events(300);
    w.events(&all).unwrap();
    // As if killed: no trailer, no drop (the last 100 events were never written).
    std::mem::forget(w);
    let rec = Recording::read(&path).unwrap();
    assert_eq!(rec.events, all[..900]);
    assert_eq!(
        lines(&std::fs::read(&path).unwrap()),
        ["cut short after 4 frames (no trailer)"]
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_dropped_writer_writes_what_it_holds() {
    let path = tmp("dropped.vrft");
    let all: Vec<Event> = (0..1000).map(event).collect();
    let mut w = Writer::create(&path, header()).unwrap();
    w.set_frame_events(300);
    w.events(&all).unwrap();
    drop(w);
    let rec = Recording::read(&path).unwrap();
    assert_eq!(rec.events, all);
    assert!(rec.trailer.is_none());
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn pending_events_are_written_once_a_second() {
    let path = tmp("age.vrft");
    let mut w = Writer::create(&path, header()).unwrap();
    w.events(&[event(1)]).unwrap();
    let len = || std::fs::metadata(&path).unwrap().len();
    let before = len();
    w.flush_if_due().unwrap();
    assert_eq!(len(), before, "not due yet");
    std::thread::sleep(FRAME_AGE);
    w.flush_if_due().unwrap();
    assert!(len() > before, "written after {FRAME_AGE:?}");
    std::mem::forget(w);
    assert_eq!(Recording::read(&path).unwrap().events, [event(1)]);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn messages_for_what_is_not_a_recording() {
    let (bytes, _) = small();
    let err = |b: &[u8]| Recording::from_bytes(b).unwrap_err().to_string();
    assert_eq!(
        err(b"GIF89a......"),
        "not a vrft-tui recording (it does not start with VRFTREC): make one with `vrft-tui record -o FILE`"
    );
    let mut old = bytes.clone();
    old[8..12].copy_from_slice(&3u32.to_le_bytes());
    assert_eq!(
        err(&old),
        format!(
            "recording format version 3 is older than the versions {OLDEST_READ} to {VERSION} \
             this vrft-tui reads: open it with the vrft-tui that made it, or record it again"
        )
    );
    old[8..12].copy_from_slice(&9u32.to_le_bytes());
    assert_eq!(
        err(&old),
        format!(
            "recording format version 9 is newer than the versions {OLDEST_READ} to {VERSION} \
             this vrft-tui reads: open it with a newer vrft-tui"
        )
    );
    let path = tmp("absent.vrft");
    let e = Recording::read(&path).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("cannot open the recording {}: ", path.display())),
        "{e}"
    );
}

#[test]
fn messages_for_a_lost_header() {
    let (bytes, _) = small();
    let s = spans(bytes);
    let err = |b: &[u8]| Recording::from_bytes(b).unwrap_err();
    // A bad byte in the header's payload: the frame header still says what it was.
    let e = err(&flip(bytes, &[s[0].start + HEADER_LEN + 3]));
    assert_eq!(
        e,
        FormatError::NoHeader {
            loss: HeaderLoss::Damaged,
            event_frames: 32,
            events: 2000
        }
    );
    assert_eq!(
        e.to_string(),
        "its header (frame 0) is damaged, but the 32 event frames after it (2000 events) are \
         intact; without the header's function table they cannot be shown: record again"
    );
    // A bad byte in its frame header.
    let e = err(&flip(bytes, &[s[0].start + 9]));
    assert!(e
        .to_string()
        .starts_with("its header (frame 0) is unreadable, but the 32 event frames"));
    // Cut inside it.
    assert_eq!(
        err(&bytes[..s[0].end - 1]).to_string(),
        "it is cut short inside its header (frame 0) and no events follow it: nothing to show; \
         record again"
    );
    assert!(matches!(
        err(&bytes[..FILE_HEADER_LEN]),
        FormatError::NoHeader {
            loss: HeaderLoss::Cut,
            ..
        }
    ));
}

#[test]
fn messages_for_skipped_frames() {
    let (bytes, _) = small();
    let s = spans(bytes);
    // Payload damage: the frame header gives the count.
    assert_eq!(
        lines(&flip(bytes, &[s[3].end - 1])),
        ["frame 3 damaged (64 events), skipped"]
    );
    // Frame header damage: the next frame's event index gives the count.
    assert_eq!(
        lines(&flip(bytes, &[s[3].start + 2])),
        ["frame 3 unreadable (64 events), skipped"]
    );
    assert_eq!(
        lines(&flip(bytes, &[s[3].start + 20, s[4].start])),
        ["frames 3-4 unreadable (128 events), skipped"]
    );
    let last = s.len() - 1;
    assert_eq!(
        lines(&flip(bytes, &[s[last].end - 1])),
        [format!(
            "frame {last} damaged (the trailer: loss counters and duration), skipped"
        )]
    );
    assert_eq!(
        lines(&flip(bytes, &[s[last - 1].end - 1])),
        [format!(
            "frame {} damaged (interface names), skipped",
            last - 1
        )]
    );
    let rec = Recording::from_bytes(&flip(bytes, &[s[3].end - 1, s[5].start + 1])).unwrap();
    assert_eq!(rec.damage.events_lost(), 128);
    assert_eq!(rec.damage.frames_lost(), 2);
    assert_eq!(
        rec.damage.summary().unwrap(),
        "recording damaged: 2 frames lost (128 events)"
    );
}

#[test]
fn messages_for_a_cut() {
    let (bytes, _) = small();
    let s = spans(bytes);
    assert_eq!(
        lines(&bytes[..s[5].start]),
        ["cut short after 5 frames (no trailer)"]
    );
    assert_eq!(
        lines(&bytes[..s[5].end - 10]),
        ["cut short after 5 frames (no trailer); frame 5 is incomplete (64 events)"]
    );
    assert_eq!(
        lines(&bytes[..s[5].start + 10]),
        ["cut short after 5 frames (no trailer); the last 10 bytes are not a whole frame"]
    );
    let last = s.len() - 1;
    assert_eq!(
        lines(&bytes[..s[last].end - 1]),
        [format!(
            "cut short after {last} frames (no trailer); frame {last} (the trailer: loss counters \
             and duration) is incomplete"
        )]
    );
    let rec = Recording::from_bytes(&flip(&bytes[..s[9].end - 1], &[s[3].end - 1])).unwrap();
    assert_eq!(
        rec.damage.summary().unwrap(),
        "recording damaged: 1 frame lost (64 events); cut short after 9 frames (no trailer); \
         frame 9 is incomplete (64 events)"
    );
    assert_eq!(rec.damage.events_lost(), 128);
}

#[test]
fn messages_for_unexpected_frames() {
    let (bytes, _) = small();
    let s = spans(bytes);
    let last = s.len() - 1;
    // Bytes after the trailer, and junk between two frames.
    let mut b = bytes.clone();
    b.extend_from_slice(b"appended");
    assert_eq!(
        lines(&b),
        [format!(
            "8 unreadable bytes at offset {}, skipped",
            bytes.len()
        )]
    );
    let mut b = bytes[..s[4].start].to_vec();
    b.extend_from_slice(&[0; 5]);
    b.extend_from_slice(&bytes[s[4].start..]);
    assert_eq!(
        lines(&b),
        [format!(
            "5 unreadable bytes at offset {}, skipped",
            s[4].start
        )]
    );
    // A repeated frame, a second header and a kind from the future, each a sound frame.
    let mut b = bytes[..s[5].end].to_vec();
    b.extend_from_slice(&bytes[s[4].start..s[4].end]);
    b.extend_from_slice(&bytes[s[5].end..]);
    assert_eq!(
        lines(&b),
        ["frame 4 skipped: its sequence number repeats an earlier frame's"]
    );
    // A sound frame inserted before the trailer, which then gets the next sequence number.
    let before_trailer = |kind, raw: &[u8]| {
        let mut z = zstd::bulk::Compressor::new(3).unwrap();
        let mut b = bytes[..s[last].start].to_vec();
        let h = FrameHeader {
            kind,
            seq: last as u32,
            count: 0,
            first: 2000,
            raw_len: 0,
            stored_len: 0,
            payload_crc: 0,
        };
        encode_frame(&mut z, h, raw, &mut b).unwrap();
        let mut t = s[last].h;
        t.seq += 1;
        b.extend_from_slice(&t.encode());
        b.extend_from_slice(&bytes[s[last].start + HEADER_LEN..]);
        lines(&b)
    };
    assert_eq!(
        before_trailer(FrameKind::Unknown(9), b"x"),
        [format!(
            "frame {last} skipped: of a kind this vrft-tui does not know (made by a newer one?)"
        )]
    );
    let hdr = postcard::to_stdvec(&header()).unwrap();
    assert_eq!(
        before_trailer(FrameKind::Header, &hdr),
        [format!("frame {last} skipped: a second header")]
    );
}

/// Checks what a reader makes of `b`, damaged from `orig` in the byte ranges `touched`:
/// exactly the events of the frames not touched survive, and the loss is accounted for.
fn check_damaged(orig: &[u8], all: &[Event], b: &[u8], touched: impl Fn(&Span) -> bool) {
    let s = spans(orig);
    let intact: Vec<Span> = s.iter().filter(|x| !touched(x)).copied().collect();
    let want = events_of(all, &intact);
    let res = Recording::from_bytes(b);
    if touched(&s[0]) {
        let n = intact
            .iter()
            .filter(|x| x.h.kind == FrameKind::Events)
            .count() as u32;
        match res {
            Err(FormatError::NoHeader {
                event_frames,
                events,
                ..
            }) => {
                assert_eq!(event_frames, n);
                assert_eq!(events, want.len() as u64);
            }
            other => panic!("header touched, yet {other:?}"),
        }
        return;
    }
    let rec = res.expect("readable with its header intact");
    assert_eq!(rec.events, want, "exactly the untouched frames' events");
    let last = s.last().unwrap();
    assert_eq!(rec.trailer.is_some(), !touched(last));
    let read = rec.events.len() as u64 + rec.damage.events_lost();
    if rec.damage.cut_short() {
        assert!(read <= all.len() as u64);
        assert!(touched(last));
    } else {
        assert_eq!(read, all.len() as u64, "{:?}", rec.damage);
    }
    assert_eq!(rec.damage.is_clean(), intact.len() == s.len());
    assert_eq!(rec.damage.frames_read as usize, intact.len());
    for line in rec.damage.lines() {
        assert!(!line.is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn a_cut_loses_only_the_frame_it_goes_through(at in 0usize..=1_000_000) {
        let (bytes, all) = small();
        let cut = at % (bytes.len() + 1);
        let b = &bytes[..cut];
        if cut < FILE_HEADER_LEN {
            prop_assert_eq!(Recording::from_bytes(b).unwrap_err(), FormatError::NotARecording);
            return Ok(());
        }
        check_damaged(bytes, all, b, |x| x.end > cut);
        let whole = spans(bytes).iter().filter(|x| x.end <= cut).count();
        if let Ok(rec) = Recording::from_bytes(b) {
            if cut < bytes.len() {
                let line = format!("cut short after {whole} frames (no trailer)");
                prop_assert!(rec.damage.lines()[0].starts_with(&line));
                prop_assert_eq!(rec.damage.problems.len(), 1);
            }
        }
    }

    #[test]
    fn bad_bytes_lose_only_the_frames_they_touch(
        at in proptest::collection::vec((0usize..1_000_000, 1u8..=255), 1..6),
    ) {
        let (bytes, all) = small();
        let mut b = bytes.clone();
        let body = bytes.len() - FILE_HEADER_LEN;
        let pos: Vec<usize> = at.iter().map(|(p, _)| FILE_HEADER_LEN + p % body).collect();
        for (p, (_, x)) in pos.iter().zip(&at) {
            b[*p] ^= x;
        }
        check_damaged(bytes, all, &b, |x| pos.iter().any(|p| (x.start..x.end).contains(p)));
    }

    #[test]
    fn cuts_and_bad_bytes_together_never_panic(
        at in proptest::collection::vec((0usize..1_000_000, 1u8..=255), 0..6),
        cut in 0usize..1_000_000,
    ) {
        let (bytes, all) = small();
        let mut b = bytes.clone();
        let body = bytes.len() - FILE_HEADER_LEN;
        let pos: Vec<usize> = at.iter().map(|(p, _)| FILE_HEADER_LEN + p % body).collect();
        for (p, (_, x)) in pos.iter().zip(&at) {
            b[*p] ^= x;
        }
        let cut = FILE_HEADER_LEN + cut % (body + 1);
        b.truncate(cut);
        check_damaged(bytes, all, &b, |x| x.end > cut || pos.iter().any(|p| (x.start..x.end).contains(p)));
    }
}

/// A version 5 recording (before events carried the ethertype and socket family) still reads:
/// the repository keeps one, the real fixture as it was first recorded.
#[test]
fn reads_version_5() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data/v5-veth-udp-6.1-fentry.vrft");
    let bytes = std::fs::read(&path).unwrap();
    let version = u32::from_le_bytes(bytes[8..12].try_into().unwrap());
    assert_eq!(
        version,
        5,
        "{} is no longer a version 5 recording",
        path.display()
    );
    let rec = Recording::from_bytes(&bytes).unwrap();
    assert!(rec.damage.is_clean(), "{:?}", rec.damage);
    assert!(rec.events.iter().any(|e| e.flow().is_some()));
    assert!(rec.events.iter().all(|e| e.class().is_none()));
}
