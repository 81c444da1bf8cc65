//! Live mode under a memory budget, fed the real 6.1 recording the way the tracer feeds the
//! UI (batches, a refresh per frame): the oldest packets are evicted whole, the ones kept are
//! exactly what an unbounded session shows for them, and marked or selected packets stay.

use vrft_events::event::Event;
use vrft_ui::app::App;
use vrft_ui::budget::Budget;
use vrft_ui::model::Packet;
use vrft_ui::testkit;

/// Feeds `events` in batches of `batch`, refreshing after each like the run loop does.
fn feed(app: &mut App, events: &[Event], batch: usize) {
    for chunk in events.chunks(batch) {
        app.ingest(chunk);
        app.refresh();
    }
}

fn bounded(model_bytes: usize) -> App {
    let rec = testkit::real_recording();
    let mut app = App::new(rec.header.info.clone(), true);
    app.memory = Some(Budget {
        limit: 64 << 20,
        model: model_bytes,
        rss: 0,
    });
    app
}

fn by_id(app: &App, id: u32) -> &Packet {
    app.model.packet(app.model.slot_of(id).expect("kept"))
}

#[test]
fn the_oldest_packets_go_whole_and_the_rest_stay_as_they_were() {
    let rec = testkit::real_recording();
    let full = testkit::open(rec.header.info.clone(), &rec.events, true);
    let total = full.model.packets().len();
    // A share that holds about a third of the recording's packets.
    let share = full.model.stored_bytes() / 3;
    let mut app = bounded(share);
    feed(&mut app, &rec.events, 64);

    let (evicted, upto) = app.model.evicted();
    let kept = app.model.packets().len();
    assert!(evicted > 0 && kept > 0, "evicted {evicted}, kept {kept}");
    assert_eq!(
        kept + evicted as usize,
        total,
        "every packet is kept or counted as evicted"
    );
    assert_eq!(app.packets_total(), total);
    assert!(
        app.model.bytes() <= share,
        "{} > {share}",
        app.model.bytes()
    );
    assert_eq!(
        app.model.bytes(),
        app.model.stored_bytes(),
        "the running count is exact"
    );

    // Oldest first: every packet kept appeared after every packet evicted, except those
    // whose calls were still open when the budget was hit.
    let first_kept = app.model.packets()[0].first_ts;
    let evicted_ids: Vec<u32> = full
        .model
        .packets()
        .iter()
        .filter(|p| app.model.slot_of(p.id).is_none())
        .map(|p| p.id)
        .collect();
    assert_eq!(evicted_ids.len() as u64, evicted);
    assert_eq!(upto, evicted_ids.iter().max().copied());
    for id in &evicted_ids {
        assert!(
            by_id_full(&full, *id).first_ts <= first_kept,
            "packet {id} evicted out of order"
        );
    }

    // What stays is what an unbounded session shows for it: the same calls, nested the same.
    for p in app.model.packets() {
        let whole = by_id_full(&full, p.id);
        assert_eq!(p.nodes, whole.nodes, "packet {} changed by eviction", p.id);
        assert_eq!(p.devs, whole.devs);
    }
    // The list holds exactly the kept packets that pass, in order.
    assert!(app.shown.windows(2).all(|w| w[0] < w[1]));
    assert!(app.shown.iter().all(|&s| (s as usize) < kept));

    // Asking for an evicted packet says why it is gone.
    assert!(!app.jump_to(evicted_ids[0]));
    let msg = app.message.clone().unwrap_or_default();
    assert!(
        msg.contains("evicted") && msg.contains("--max-memory"),
        "{msg}"
    );
}

fn by_id_full(full: &App, id: u32) -> &Packet {
    full.model
        .packet(full.model.slot_of(id).expect("in the full model"))
}

#[test]
fn marked_and_selected_packets_are_kept() {
    let rec = testkit::real_recording();
    let full = testkit::open(rec.header.info.clone(), &rec.events, true);
    let share = full.model.stored_bytes() / 4;
    let mut app = bounded(share);
    // Let the first packets in, mark the first one, select the second, stop following.
    let early = rec.events.len() / 20;
    feed(&mut app, &rec.events[..early], 64);
    assert!(app.shown.len() >= 3, "{} packets early on", app.shown.len());
    let marked = app.model.packet(app.shown[0]).id;
    app.sel = 0;
    testkit::keys(&mut app, "ma");
    testkit::keys(&mut app, "j");
    let selected = app.model.packet(app.shown[app.sel]).id;
    assert_ne!(marked, selected);
    feed(&mut app, &rec.events[early..], 64);

    assert!(app.model.evicted().0 > 0);
    assert!(
        app.model.slot_of(marked).is_some(),
        "the marked packet {marked} was evicted"
    );
    assert_eq!(
        app.model.packet(app.shown[app.sel]).id,
        selected,
        "the selection moved"
    );
    assert_eq!(by_id(&app, marked).nodes, by_id_full(&full, marked).nodes);
    // The mark still jumps.
    testkit::keys(&mut app, "'a");
    assert_eq!(app.model.packet(app.shown[app.sel]).id, marked);
}

#[test]
fn the_status_line_and_the_list_say_what_was_evicted() {
    let rec = testkit::real_recording();
    let full = testkit::open(rec.header.info.clone(), &rec.events, true);
    let mut app = bounded(full.model.stored_bytes() / 3);
    feed(&mut app, &rec.events, 64);
    let (n, upto) = app.model.evicted();
    let screen = testkit::screen(&mut app, 160, 30);
    assert!(screen.contains(&format!("evicted {n}")), "{screen}");
    assert!(screen.contains("mem "), "{screen}");
    assert!(
        screen.contains(&format!("after #{} ({n} older evicted)", upto.unwrap())),
        "{screen}"
    );
}
