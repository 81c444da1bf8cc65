//! Model ingestion rate, bytes per stored event, and frame render time with a large model.
//! Run: CARGO_TARGET_DIR=/work/target-ui cargo bench -p vrft-ui --bench ui

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use vrft_ui::app::{App, Pane};
use vrft_ui::budget::Budget;
use vrft_ui::model::Model;
use vrft_ui::views;

/// 40,000 UDP packets across a veth pair (each with an interrupt-handled neighbour packet)
/// and 20,000 dropped packets: 100,000 packets, about 2.4 million events.
fn stream() -> common::Synth {
    let mut s = common::Synth::new();
    for i in 0..40_000u32 {
        s.udp_across_veth(3 * i + 1, 3 * i + 2);
        if i % 2 == 0 {
            s.dropped(3 * i + 3);
        }
    }
    s
}

fn benches(c: &mut Criterion) {
    let s = stream();
    let n = s.events.len() as u64;

    let mut m = Model::new(&s.info);
    m.ingest(&s.events);
    let report = |when: &str, m: &Model| {
        eprintln!(
            "model {when}: {} packets, {} events, {} stored bytes = {:.1} bytes per event",
            m.packets().len(),
            n,
            m.stored_bytes(),
            m.stored_bytes() as f64 / n as f64
        )
    };
    report("while live", &m);
    m.finish();
    report("after the stream ended", &m);

    let mut g = c.benchmark_group("ingest");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n));
    g.bench_function("all events into a fresh model", |b| {
        b.iter(|| {
            let mut m = Model::new(&s.info);
            m.ingest(black_box(&s.events));
            black_box(m.packets().len())
        })
    });
    g.finish();

    // Live mode's budget (issue 17): the same stream as the run loop feeds it (batches of 4,096,
    // a refresh after each), unbounded and with a model share of a quarter of what the whole
    // stream takes, so that about three quarters of the packets get evicted on the way.
    let share = m.stored_bytes() / 4;
    let live = |budget: Option<usize>| {
        let mut app = App::new(s.info.clone(), true);
        app.memory = budget.map(|model| Budget {
            limit: 0,
            model,
            rss: 0,
        });
        for batch in s.events.chunks(4096) {
            app.ingest(black_box(batch));
            app.refresh();
        }
        app
    };
    let bounded = live(Some(share));
    eprintln!(
        "budget {share} bytes: {} packets kept, {} evicted, {} stored bytes",
        bounded.model.packets().len(),
        bounded.model.evicted().0,
        bounded.model.bytes()
    );
    let mut g = c.benchmark_group("budget");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n));
    g.bench_function("live batches, unbounded", |b| {
        b.iter(|| live(None).model.packets().len())
    });
    g.bench_function("live batches, a quarter of the stream's bytes", |b| {
        b.iter(|| live(Some(share)).model.packets().len())
    });
    g.finish();
    // One eviction of an eighth of a full model (100k packets), the batch a full budget evicts.
    let mut g = c.benchmark_group("evict");
    g.sample_size(10);
    g.bench_function("an eighth of 100k packets", |b| {
        b.iter_batched(
            || {
                let mut m = Model::new(&s.info);
                m.ingest(&s.events);
                m
            },
            |mut m| {
                let target = m.bytes() / 8 * 7;
                m.evict(target, |_| false).is_some()
            },
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();

    let mut app = App::new(s.info.clone(), false);
    app.ingest(&s.events);
    app.finish();
    app.sel = app.shown.len() / 2;
    app.follow = false;
    app.pane = Pane::Tree;
    let mut term = Terminal::new(TestBackend::new(200, 60)).unwrap();
    let mut g = c.benchmark_group("render");
    g.bench_function("packets view frame, 100k packets, 200x60", |b| {
        b.iter(|| term.draw(|f| views::draw(f, &mut app)).unwrap().area.width)
    });
    // Moving to another packet rebuilds that packet's rows: the worst case per key press.
    g.bench_function("packets view frame after J, 100k packets, 200x60", |b| {
        b.iter(|| {
            app.sel = (app.sel + 1) % app.shown.len();
            term.draw(|f| views::draw(f, &mut app)).unwrap().area.width
        })
    });
    g.bench_function("filter over 100k packets (func=udp_rcv drop)", |b| {
        let q = vrft_ui::query::Query::parse("func=udp_rcv drop", &app.info).unwrap();
        b.iter(|| {
            app.set_filter(Some(q.clone()));
            app.shown.len()
        })
    });
    g.finish();
    app.set_filter(None);
    app.view = vrft_ui::app::View::Latency;
    let mut g = c.benchmark_group("latency");
    g.sample_size(10);
    g.bench_function("latency view over 100k packets (recompute + frame)", |b| {
        b.iter(|| {
            app.set_filter(None);
            term.draw(|f| views::draw(f, &mut app)).unwrap().area.width
        })
    });
    g.finish();
}

criterion_group!(ui, benches);
criterion_main!(ui);
