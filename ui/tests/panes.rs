//! Panes on the real recording (tests/data/veth-udp-6.1-fentry.vrft): scroll positions
//! that follow the content (filter, fold, resize), columns sized from what they hold at
//! 80x24 and 200x50, the time modes and the time between marks.

mod common;

use vrft_ui::app::{App, TimeMode};
use vrft_ui::format::dev_path;
use vrft_ui::testkit::{self, keys, screen, selected_id};

fn app() -> App {
    testkit::replay(testkit::real_recording())
}

/// The rows of the pane whose title starts with `title`: the lines between its frame's top
/// and bottom, without the side borders.
fn pane_rows(screen: &str, title: &str) -> Vec<String> {
    let lines: Vec<&str> = screen.lines().map(|l| l.trim_matches('"')).collect();
    let top = lines
        .iter()
        .position(|l| l.starts_with(&format!("┌ {title}")))
        .unwrap_or_else(|| panic!("no pane {title}:\n{screen}"));
    lines[top + 1..]
        .iter()
        .take_while(|l| !l.starts_with('└'))
        .map(|l| {
            let inner: String = l.chars().skip(1).collect();
            inner.split('│').next().unwrap_or("").to_string()
        })
        .collect()
}

/// Rows under the header with something in them, and rows in all (header excluded).
fn filled(rows: &[String]) -> (usize, usize) {
    let body = &rows[1..];
    (
        body.iter().filter(|r| !r.trim().is_empty()).count(),
        body.len(),
    )
}

#[test]
fn filter_after_scrolling_down_fills_the_list() {
    let mut a = app();
    keys(&mut a, "G");
    screen(&mut a, 100, 60);
    assert!(a.list_offset > 50, "scrolled down to the end");
    keys(&mut a, "fproto=icmp\n");
    let n = a.shown.len();
    assert!((2..20).contains(&n), "{n} ICMP packets");
    let s = screen(&mut a, 100, 60);
    let (filled, height) = filled(&pane_rows(&s, "Packets"));
    assert!(n < height);
    assert_eq!(filled, n, "every shown packet is on screen:\n{s}");
    assert_eq!(a.list_offset, 0);
}

#[test]
fn collapse_after_scrolling_down_fills_the_tree() {
    let mut a = app();
    keys(&mut a, "\tG");
    screen(&mut a, 120, 40);
    assert!(a.tree_offset > 0, "the tree scrolled to its end");
    keys(&mut a, "C");
    let rows = a.tree_rows().len();
    let s = screen(&mut a, 120, 40);
    let (filled, height) = filled(&pane_rows(&s, "packet "));
    assert!(rows < height, "{rows} collapsed rows fit in {height}");
    assert_eq!(filled, rows, "every collapsed call is on screen:\n{s}");
}

#[test]
fn resizing_keeps_the_selection_visible_and_the_list_full() {
    let mut a = app();
    keys(&mut a, "G");
    screen(&mut a, 160, 60);
    keys(&mut a, "kkkkk");
    let id = selected_id(&a);
    // Smaller: the selection stays on screen.
    let s = screen(&mut a, 100, 20);
    let rows = pane_rows(&s, "Packets");
    assert!(
        rows.iter().any(|r| r.starts_with(&format!("{id} "))),
        "packet {id} is on screen:\n{s}"
    );
    // Larger again: no blank rows at the bottom while packets are scrolled out above.
    let s = screen(&mut a, 160, 60);
    let (filled, height) = filled(&pane_rows(&s, "Packets"));
    assert_eq!(filled, height, "{s}");
}

/// At 80x24 the list keeps the ID, the whole flow and the marks, the tree keeps rows to
/// read, and the status line keeps every loss counter.
#[test]
fn layout_at_80x24() {
    let mut a = app();
    keys(&mut a, "G");
    let s = screen(&mut a, 80, 24);
    let rows = pane_rows(&s, "Packets");
    assert!(rows[0].starts_with("ID "), "{s}");
    assert!(rows[0].contains("FLOW") && rows[0].contains("MARK"), "{s}");
    let last = rows
        .iter()
        .find(|r| r.starts_with("133 "))
        .expect("packet 133");
    assert!(
        last.contains("udp 10.11.0.1:45834>10.11.0.2:9") && last.contains("DROP NO_SOCKET"),
        "{last}"
    );
    let (tree, _) = filled(&pane_rows(&s, "packet 133"));
    assert!(tree >= 10, "the tree shows {tree} rows:\n{s}");
    let status = s.lines().nth(22).unwrap();
    assert!(status.contains("lost 0"), "{status}");
    assert!(
        status.contains("recursion 0") || status.contains("rec 0"),
        "{status}"
    );
    assert!(
        status.contains("overflow 0") || status.contains("ovf 0"),
        "{status}"
    );
    insta::assert_snapshot!("layout_80x24", s);
}

/// At 200 columns a packet's whole path through the VXLAN overlay and the bridge shows.
#[test]
fn layout_at_200x50() {
    let mut a = app();
    keys(&mut a, "a");
    let p = a
        .shown
        .iter()
        .map(|&s| a.model.packet(s))
        .filter(|p| p.flow.is_some())
        .max_by_key(|p| dev_path(p, &a.info).len())
        .unwrap();
    let (id, path) = (p.id, dev_path(p, &a.info));
    assert!(path.starts_with("vxlan0>") && path.len() > 30, "{path}");
    keys(&mut a, &format!(":{id}\n"));
    let s = screen(&mut a, 200, 50);
    let row = pane_rows(&s, "Packets")
        .into_iter()
        .find(|r| r.starts_with(&format!("{id} ")))
        .unwrap();
    assert!(row.contains(&path), "{row}");
    assert!(!s.contains('…'), "nothing is cut at 200 columns:\n{s}");
    insta::assert_snapshot!("layout_200x50_vxlan", s);
}

/// With `--payload-id`, packets without an ID in their payload get counter IDs with the
/// top bit set: all ten digits show.
#[test]
fn counter_ids_show_whole() {
    let mut s = common::Synth::new();
    s.udp_across_veth(0x8000_0001, 0x8000_0002);
    let mut a = testkit::open(s.info.clone(), &s.events, false);
    let text = screen(&mut a, 80, 24);
    assert!(text.contains("│2147483649 "), "{text}");
}

#[test]
fn t_cycles_relative_wall_clock_and_boot_time() {
    std::env::set_var("TZ", "UTC");
    let mut s = common::Synth::scenario();
    // Booted at 2026-12-04 10:00:00 UTC; the stream starts 1000 s later.
    s.info.realtime_offset_ns = Some(1_796_378_400_000_000_000);
    let mut a = s.app(false);
    let first = |a: &mut App| pane_rows(&screen(a, 200, 30), "Packets")[1].clone();
    assert!(
        first(&mut a).starts_with("1  +0.000000 "),
        "{}",
        first(&mut a)
    );
    keys(&mut a, "t");
    assert_eq!(a.time, TimeMode::Wall);
    let s = screen(&mut a, 200, 30);
    assert!(pane_rows(&s, "Packets")[0].contains("WALL CLOCK"), "{s}");
    assert!(
        pane_rows(&s, "Packets")[1].starts_with("1  10:16:40.000000 "),
        "{s}"
    );
    // The tree's title gives the date too, as `tcpdump -tttt` does.
    assert!(s.contains("first seen 2026-12-04 10:16:40.000000"), "{s}");
    keys(&mut a, "t");
    assert_eq!(a.time, TimeMode::Boot);
    assert!(first(&mut a).starts_with("1  1000.000000 "));
    keys(&mut a, "t");
    assert_eq!(a.time, TimeMode::Relative);
}

#[test]
fn t_skips_the_wall_clock_when_the_recording_has_no_offset() {
    let mut a = app();
    assert_eq!(a.info.realtime_offset_ns, None, "a format 6 recording");
    keys(&mut a, "t");
    assert_eq!(a.time, TimeMode::Boot);
    assert!(a.message.as_deref().unwrap().contains("no wall clock"));
    keys(&mut a, "tt");
    assert_eq!(a.time, TimeMode::Boot);
    assert_eq!(a.message, None, "said once");
}

/// Like a scope's delta cursors: the list title gives the time from the latest mark to the
/// selection, and between the two latest marks.
#[test]
fn time_between_marks() {
    let mut a = app();
    let ts = |a: &App, id: u32| a.model.packet(a.model.slot_of(id).unwrap()).first_ts;
    keys(&mut a, ":129\nma:131\n");
    let d = ts(&a, 131) - ts(&a, 129);
    let s = screen(&mut a, 120, 30);
    let want = format!("Δ 'a→here +{}", vrft_ui::format::human_ns(d));
    assert!(s.contains(&want), "{want}:\n{s}");
    keys(&mut a, "mb:130\n");
    let s = screen(&mut a, 120, 30);
    let back = vrft_ui::format::human_ns(ts(&a, 131) - ts(&a, 130));
    assert!(s.contains(&format!("'b→here -{back}")), "{s}");
    assert!(
        s.contains(&format!("'a→'b +{}", vrft_ui::format::human_ns(d))),
        "{s}"
    );
    insta::assert_snapshot!("time_between_marks", s);
}

/// The tracer counts no hits per probe (its BPF counters are per loss), so the probes view
/// shows the events recorded per function, and says so, rather than a column of `-`.
#[test]
fn probes_show_events_per_function_without_hit_counters() {
    let mut a = app();
    assert!(!a.hits_counted());
    keys(&mut a, "3/dev_hard_start_xmit\n");
    assert_eq!(a.probe_order().len(), 1);
    let i = a.probe_order()[0];
    let events = a.probe_events(i);
    assert!(events > 100, "{events}");
    let s = screen(&mut a, 120, 12);
    let rows = pane_rows(&s, "Probes");
    assert!(
        rows[0].contains("EVENTS SEEN") && !rows[0].contains("HITS"),
        "{s}"
    );
    assert!(
        rows[1].starts_with("dev_hard_start_xmit ") && rows[1].contains(&format!(" {events} ")),
        "{s}"
    );
    insta::assert_snapshot!("probes_filtered", s);
    // `/` Enter with nothing shows every probe again.
    keys(&mut a, "/\n");
    assert_eq!(a.probe_order().len(), a.info.probes.len());
    // Sorting skips the missing hits.
    keys(&mut a, "sss");
    assert_eq!(a.probe_sort.0, vrft_ui::app::ProbeSort::Events);
}

/// Where the backend counts hits, they show beside the events; `/` matches reasons too.
#[test]
fn probes_show_hits_when_counted_and_filter_by_reason() {
    let mut a = common::Synth::scenario().app(false);
    assert!(a.hits_counted());
    keys(&mut a, "3");
    let s = screen(&mut a, 120, 20);
    let rows = pane_rows(&s, "Probes");
    assert!(
        rows[0].contains("HITS") && rows[0].contains("EVENTS"),
        "{s}"
    );
    assert!(!rows.iter().any(|r| r.contains(" - ")), "{s}");
    keys(&mut a, "/enotsupp\n");
    let names: Vec<&str> = a
        .probe_order()
        .iter()
        .map(|&i| a.info.probes[i as usize].name.as_str())
        .collect();
    assert_eq!(names, ["skb_segment_list"]);
}

/// Function names are as wide as the longest on screen, not cut at 32 columns.
#[test]
fn probe_names_are_not_cut() {
    let mut a = app();
    keys(&mut a, "3/__bpf_trace_net_dev_rx_verbose_template\n");
    let s = screen(&mut a, 120, 10);
    assert!(
        s.contains("│__bpf_trace_net_dev_rx_verbose_template "),
        "{s}"
    );
}

/// The older recording (format 5) fits 80x24 the same way.
#[test]
fn older_recording_at_80x24() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/data/v5-veth-udp-6.1-fentry.vrft"
    );
    let rec = vrft_events::record::Recording::read(std::path::Path::new(path)).unwrap();
    let mut a = testkit::replay(rec);
    keys(&mut a, "G");
    let s = screen(&mut a, 80, 24);
    let rows = pane_rows(&s, "Packets");
    assert!(
        rows[0].starts_with("ID ") && rows[0].contains("FLOW"),
        "{s}"
    );
    let (filled, height) = filled(&rows);
    assert_eq!(filled, height.min(a.shown.len()), "{s}");
    assert!(!s.contains('…'), "nothing cut:\n{s}");
    assert!(s.lines().nth(22).unwrap().contains("lost 0"), "{s}");
}
