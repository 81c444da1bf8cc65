//! Snapshots of the states the real recording cannot show (live following, a drop, lost
//! records, a failed probe, a 40-deep tree), on the synthetic stream. Every other view is
//! snapshotted once, on the real recording, in tests/ui_real_recording.rs.

mod common;

use vrft_ui::app::App;
use vrft_ui::testkit::{self, keys, screen};

fn app(live: bool) -> App {
    common::Synth::scenario().app(live)
}

#[test]
fn live_following_with_running_call() {
    let mut a = app(true);
    insta::assert_snapshot!(screen(&mut a, 150, 30));
}

#[test]
fn dropped_packet_folded() {
    let mut a = app(false);
    keys(&mut a, ":2\n\tjjjj\n");
    insta::assert_snapshot!(screen(&mut a, 150, 36));
}

#[test]
fn incomplete_packet() {
    let mut a = app(false);
    keys(&mut a, "#3\n\t");
    insta::assert_snapshot!(screen(&mut a, 150, 36));
}

#[test]
fn probes_view_sorted_by_status() {
    let mut a = app(false);
    keys(&mut a, "3ss");
    insta::assert_snapshot!(screen(&mut a, 120, 36));
}

#[test]
fn quit_asks_while_live() {
    let mut a = app(true);
    keys(&mut a, "q");
    insta::assert_snapshot!(screen(&mut a, 130, 12));
}

/// A call chain 40 deep (a bridge inside a tunnel inside a namespace gets there): the tree
/// scrolls sideways by itself to keep the selected call's name on screen, and `<` / `>` move it.
#[test]
fn deep_tree_scrolls_sideways_to_the_selected_call() {
    let mut s = common::Synth::new();
    let a = common::at(0, 1, vrft_events::event::Context::SoftIrq, common::NS1, 2);
    fn nest(s: &mut common::Synth, a: &common::At, depth: u32) {
        if depth == 40 {
            s.leaf(9, a, "deepest_function", 0);
        } else {
            s.call(9, a, &format!("level_{depth}"), 0, |s| {
                nest(s, a, depth + 1)
            });
        }
    }
    nest(&mut s, &a, 0);
    let mut app = testkit::open(s.info.clone(), &s.events, false);
    keys(&mut app, "\t/deepest_function\n");
    let text = screen(&mut app, 110, 30);
    assert!(text.contains("deepest_function();"), "{text}");
    assert!(text.contains("(scrolled "), "{text}");
    assert!(text.contains("«"), "{text}");
    insta::assert_snapshot!("deep_tree_scrolled_to_the_selection", text);
    let shift = app.tree_hshift;
    assert!(shift >= 40, "40 levels are 80 columns of indent: {shift}");
    // '<' scrolls back (and the view keeps it while the selection stays).
    keys(&mut app, "<<");
    screen(&mut app, 110, 30);
    assert_eq!(app.tree_hshift, shift - 16);
    // Going to the root brings the shift back to zero.
    keys(&mut app, "g");
    let text = screen(&mut app, 110, 30);
    assert_eq!(app.tree_hshift, 0);
    assert!(
        text.contains("level_0() {") && !text.contains("(scrolled "),
        "{text}"
    );
    insta::assert_snapshot!("deep_tree_at_root", text);
}

/// A ping whose reply reached the socket through a clone and whose original the kernel then
/// freed with NO_SOCKET: the list says "delivered" (not DROP), and the tree's title shows
/// the whole verdict on a 100-column terminal.
#[test]
fn delivered_packet_freed_with_a_reason() {
    use vrft_events::event::{flags, Context};
    let mut s = common::Synth::scenario();
    let rx = common::at(1, 0, Context::SoftIrq, common::NS2, 4);
    s.call(9, &rx, "icmp_rcv", 0, |s| {
        s.leaf(9, &rx, "ping_queue_rcv_skb", 0);
        s.call(9, &rx, "kfree_skb_reason", 0, |s| {
            s.tp(9, &rx, "skb:kfree_skb", flags::DROP | flags::FREED, 3);
        });
    });
    let mut a = s.app(false);
    keys(&mut a, ":9\n");
    let text = screen(&mut a, 100, 30);
    let row = text.lines().find(|l| l.starts_with("\"│9 ")).unwrap();
    assert!(row.contains("delivered") && !row.contains("DROP"), "{row}");
    assert!(
        text.contains("┌ packet 9  delivered, original freed: NO_SOCKET "),
        "{text}"
    );
    let row = text.lines().find(|l| l.starts_with("\"│2 ")).unwrap();
    assert!(row.contains("DROP NO_SOCKET"), "{row}");
}
