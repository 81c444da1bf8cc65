//! Recording size and speed: format 4 (independent frames) against format 3 (one zstd
//! stream), on the real 6.1 fixture and on a million events resampled from it.
//! Run: cargo bench -p vrft-events --bench record
//! The size table is printed first; `-- --test` prints only it.

use std::hint::black_box;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde::{Deserialize, Serialize};
use vrft_events::record::{Header, Recording, Trailer, Writer, FRAME_EVENTS};
use vrft_events::{Event, Interface};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/data/veth-udp-6.1-fentry.vrft"
);
const LARGE: usize = 1_000_000;

/// Format 3's frames, written as its writer did: one zstd stream (level 3) of u32 lengths
/// and postcard-encoded frames.
#[derive(Serialize)]
enum V3Frame<'a> {
    Header(&'a Header),
    Events(&'a [Event]),
    Trailer(&'a Trailer),
    Interfaces(&'a [Interface]),
}

fn v3_bytes(rec: &Recording, events: &[Event]) -> Vec<u8> {
    let mut out = b"VRFTREC\0".to_vec();
    out.extend_from_slice(&3u32.to_le_bytes());
    let mut z = zstd::stream::Encoder::new(out, 3).unwrap();
    let mut frame = |f: &V3Frame| {
        let b = postcard::to_stdvec(f).unwrap();
        z.write_all(&(b.len() as u32).to_le_bytes()).unwrap();
        z.write_all(&b).unwrap();
    };
    frame(&V3Frame::Header(&rec.header));
    for chunk in events.chunks(4096) {
        frame(&V3Frame::Events(chunk));
    }
    frame(&V3Frame::Interfaces(&[]));
    frame(&V3Frame::Trailer(&Trailer::default()));
    z.finish().unwrap()
}

/// The reading side of [`V3Frame`]; only the events are looked at, the rest is decoded
/// (as format 3's reader did) and dropped.
#[allow(dead_code)]
#[derive(Deserialize)]
enum V3Owned {
    Header(Box<Header>),
    Events(Vec<Event>),
    Trailer(Trailer),
    Interfaces(Vec<Interface>),
}

/// Format 3's reader (for the read-speed comparison): the events decoded.
fn v3_read(b: &[u8]) -> usize {
    let mut z = zstd::stream::Decoder::new(&b[12..]).unwrap();
    let mut events = Vec::new();
    let mut buf = Vec::new();
    let mut len = [0u8; 4];
    while z.read_exact(&mut len).is_ok() {
        buf.resize(u32::from_le_bytes(len) as usize, 0);
        z.read_exact(&mut buf).unwrap();
        match postcard::from_bytes::<V3Owned>(&buf).unwrap() {
            V3Owned::Events(mut e) => events.append(&mut e),
            V3Owned::Header(_) | V3Owned::Trailer(_) | V3Owned::Interfaces(_) => {}
        }
    }
    events.len()
}

fn tmp() -> PathBuf {
    std::env::temp_dir().join(format!("vrft-bench-{}.vrft", std::process::id()))
}

fn v4_bytes(rec: &Recording, events: &[Event], per_frame: u32) -> Vec<u8> {
    let path = tmp();
    let mut w = Writer::create(&path, rec.header.clone()).unwrap();
    w.set_frame_events(per_frame);
    for chunk in events.chunks(4096) {
        w.events(chunk).unwrap();
    }
    w.interfaces(&[]).unwrap();
    w.finish(Trailer::default()).unwrap();
    let b = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    b
}

/// A deterministic xorshift, so the resampled stream is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// `n` events of packets resampled from the fixture: each copies a random real packet's
/// events with a new ID, its own start time (1-50 us after the previous packet's) and every
/// time step stretched by a random 80-120%, so repetition is what real traffic has (the
/// same paths) and timing is not.
fn resample(real: &[Event], n: usize) -> Vec<Event> {
    let mut packets: Vec<Vec<Event>> = Vec::new();
    let mut ids = std::collections::HashMap::new();
    for e in real {
        let slot = *ids.entry(e.packet).or_insert_with(|| {
            packets.push(Vec::new());
            packets.len() - 1
        });
        packets[slot].push(e.clone());
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut out = Vec::with_capacity(n + 1000);
    let mut start = real[0].ts_ns;
    let mut id = 1u32;
    while out.len() < n {
        let p = &packets[rng.next() as usize % packets.len()];
        start += 1_000 + rng.next() % 49_000;
        let (mut prev, mut ts) = (p[0].ts_ns, start);
        for e in p {
            let step = e.ts_ns.saturating_sub(prev);
            ts += step * (80 + rng.next() % 41) / 100;
            prev = e.ts_ns;
            let mut e = e.clone();
            e.ts_ns = ts;
            e.packet = id;
            out.push(e);
        }
        id += 1;
    }
    out.truncate(n);
    out
}

fn sizes(rec: &Recording, large: &[Event]) {
    let per_event = |b: usize, n: usize| b as f64 / n as f64;
    for (name, events) in [("fixture", &rec.events[..]), ("resampled", large)] {
        let n = events.len();
        let v3 = v3_bytes(rec, events).len();
        eprintln!(
            "{name}: {n} events; format 3: {v3} bytes ({:.2} B/event)",
            per_event(v3, n)
        );
        for per_frame in [256, 1024, 4096, 16384, 65536] {
            let v4 = v4_bytes(rec, events, per_frame).len();
            let mark = if per_frame == FRAME_EVENTS {
                " (default)"
            } else {
                ""
            };
            eprintln!(
                "  format 4, {per_frame} events/frame{mark}: {v4} bytes ({:.2} B/event, {:.3}x format 3)",
                per_event(v4, n),
                v4 as f64 / v3 as f64
            );
        }
    }
}

fn benches(c: &mut Criterion) {
    let rec = Recording::read(Path::new(FIXTURE)).expect("the fixture reads");
    let large = resample(&rec.events, LARGE);
    sizes(&rec, &large);

    let mut g = c.benchmark_group("record");
    g.sample_size(10);
    g.throughput(Throughput::Elements(LARGE as u64));
    g.bench_function("write_format4", |b| {
        b.iter(|| black_box(v4_bytes(&rec, &large, FRAME_EVENTS).len()))
    });
    g.bench_function("write_format3", |b| {
        b.iter(|| black_box(v3_bytes(&rec, &large).len()))
    });
    let v4 = v4_bytes(&rec, &large, FRAME_EVENTS);
    g.bench_function("read_format4", |b| {
        b.iter(|| black_box(Recording::from_bytes(&v4).unwrap().events.len()))
    });
    let v3 = v3_bytes(&rec, &large);
    g.bench_function("read_format3", |b| b.iter(|| black_box(v3_read(&v3))));
    g.finish();
}

criterion_group!(record, benches);
criterion_main!(record);
