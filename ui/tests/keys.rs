//! Key handling is a pure state machine: drive it and check the state.

mod common;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::Rect;
use vrft_ui::app::{Action, App, Mode, Pane, ProbeSort, Prompt, View};
use vrft_ui::format::RowKind;
use vrft_ui::testkit::{keys, press, screen, selected_func, selected_id};

fn app(live: bool) -> App {
    common::Synth::scenario().app(live)
}

#[test]
fn live_list_follows_until_the_user_moves() {
    let mut a = app(true);
    assert!(a.follow);
    assert_eq!(selected_id(&a), 4);
    keys(&mut a, "k");
    assert!(!a.follow);
    assert_eq!(selected_id(&a), 3);
    // New packets no longer move the selection...
    let mut s = common::Synth::new();
    s.info = a.info.clone();
    s.slow(6);
    a.ingest(&s.events);
    a.refresh();
    assert_eq!(selected_id(&a), 3);
    // ...until F.
    keys(&mut a, "F");
    assert!(a.follow);
    assert_eq!(selected_id(&a), 6);
}

#[test]
fn moves_clamp_and_jump_ends() {
    let mut a = app(false);
    keys(&mut a, "g");
    assert_eq!(a.sel, 0);
    keys(&mut a, "kkk");
    assert_eq!(a.sel, 0);
    keys(&mut a, "G");
    assert_eq!(a.sel, 4);
    press(&mut a, KeyCode::PageUp);
    assert_eq!(a.sel, 0);
    press(&mut a, KeyCode::Down);
    assert_eq!(a.sel, 1);
}

#[test]
fn tab_enter_and_folding() {
    let mut a = app(false);
    keys(&mut a, "g");
    press(&mut a, KeyCode::Tab);
    assert_eq!(a.pane, Pane::Tree);
    let rows = a.tree_rows().len();
    keys(&mut a, "j"); // the device row is first, then udp_send_skb
    assert_eq!(selected_func(&mut a), "udp_send_skb");
    press(&mut a, KeyCode::Enter);
    let sel = a.tree_sel;
    assert_eq!(a.tree_rows()[sel].kind, RowKind::Folded);
    assert!(a.tree_rows().len() < rows);
    keys(&mut a, " ");
    assert_eq!(a.tree_rows().len(), rows);
    keys(&mut a, "C");
    assert!(a.tree_rows().len() < 12);
    keys(&mut a, "E");
    assert_eq!(a.tree_rows().len(), rows);
}

#[test]
fn parent_and_longest_child() {
    let mut a = app(false);
    keys(&mut a, ":4\n");
    press(&mut a, KeyCode::Tab);
    keys(&mut a, "jLLL");
    assert_eq!(selected_func(&mut a), "dev_hard_start_xmit");
    keys(&mut a, "u");
    assert_eq!(selected_func(&mut a), "__dev_queue_xmit");
    keys(&mut a, "uu");
    assert_eq!(selected_func(&mut a), "udp_send_skb");
    keys(&mut a, "u");
    assert_eq!(
        selected_func(&mut a),
        "udp_send_skb",
        "a root has no parent"
    );
}

#[test]
fn next_packet_keeps_tree_focus() {
    let mut a = app(false);
    keys(&mut a, "g\t");
    keys(&mut a, "J");
    assert_eq!((a.pane, selected_id(&a)), (Pane::Tree, 5));
    keys(&mut a, "KK");
    assert_eq!((a.pane, selected_id(&a)), (Pane::Tree, 1));
}

#[test]
fn jump_to_packet_id_and_back() {
    let mut a = app(false);
    keys(&mut a, "g:3\n");
    assert_eq!(selected_id(&a), 3);
    keys(&mut a, "#2\n");
    assert_eq!(selected_id(&a), 2);
    keys(&mut a, "''");
    assert_eq!(selected_id(&a), 3);
    keys(&mut a, ":99\n");
    assert_eq!(a.message.as_deref(), Some("no packet 99"));
    // Letters are ignored in the jump prompt.
    keys(&mut a, ":x4\n");
    assert_eq!(selected_id(&a), 4);
}

#[test]
fn search_functions_in_tree_and_list() {
    let mut a = app(false);
    keys(&mut a, "g/kfree\n");
    assert_eq!(selected_id(&a), 2, "list: next packet calling kfree*");
    keys(&mut a, "\t/udp\n");
    assert_eq!(selected_func(&mut a), "udp_rcv");
    keys(&mut a, "n");
    assert_eq!(selected_func(&mut a), "__udp4_lib_rcv");
    keys(&mut a, "N");
    assert_eq!(selected_func(&mut a), "udp_rcv");
}

#[test]
fn drop_reasons_are_found_by_filter_and_search() {
    let mut a = app(false);
    keys(&mut a, "fdrop=no_socket\n");
    assert_eq!(a.input_error, None);
    assert_eq!(a.shown.len(), 1);
    assert_eq!(selected_id(&a), 2);
    a.set_filter(None);
    keys(&mut a, "freason=NOT_*\n");
    assert!(a.shown.is_empty(), "no packet was freed as NOT_SPECIFIED");
    a.set_filter(None);
    // `/` matches the reason as the list shows it, in the list and in the tree.
    keys(&mut a, "g/NO_SOCK\n");
    assert_eq!(selected_id(&a), 2);
    keys(&mut a, "\t/NO_SOCK\n");
    assert_eq!(selected_func(&mut a), "skb:kfree_skb");
}

#[test]
fn search_unfolds_to_the_match() {
    let mut a = app(false);
    keys(&mut a, "g\tC/eth_type\n");
    assert_eq!(selected_func(&mut a), "eth_type_trans");
}

#[test]
fn filter_validates_as_you_type() {
    let mut a = app(false);
    keys(&mut a, "fdrop");
    assert!(a.input_error.is_none());
    keys(&mut a, " dur>1");
    assert!(a.input_error.as_ref().unwrap().message.contains("unit"));
    keys(&mut a, "\n");
    assert!(
        a.mode == Mode::Input(Prompt::Filter),
        "Enter keeps an invalid filter open"
    );
    keys(&mut a, "ns\n");
    assert_eq!(a.mode, Mode::Normal);
    assert_eq!(a.shown.len(), 1);
    assert_eq!(selected_id(&a), 2);
    // Esc cancels an edit; an empty filter clears.
    keys(&mut a, "fxyz");
    press(&mut a, KeyCode::Esc);
    assert_eq!(a.filter.as_ref().unwrap().text(), "drop dur>1ns");
    keys(&mut a, "f");
    for _ in 0..20 {
        press(&mut a, KeyCode::Backspace);
    }
    keys(&mut a, "\n");
    assert_eq!(a.shown.len(), 5);
    assert_eq!(selected_id(&a), 2, "selection survives the filter change");
}

#[test]
fn filter_by_interface_and_function() {
    let mut a = app(false);
    keys(&mut a, "fiface=veth1 !drop\n");
    assert_eq!(a.shown.len(), 1);
    // The bar opens with the active filter, ready to edit.
    keys(&mut a, "f");
    assert_eq!(a.mode, Mode::Input(Prompt::Filter));
    assert_eq!(a.input.text(), "iface=veth1 !drop");
    press(&mut a, KeyCode::Esc);
    a.set_filter(None);
    keys(&mut a, "ffunc=*xmit incomplete\n");
    assert_eq!(selected_id(&a), 3);
}

#[test]
fn marks() {
    let mut a = app(false);
    keys(&mut a, "gjma");
    keys(&mut a, "G'a");
    assert_eq!(selected_id(&a), 5);
    keys(&mut a, "'z");
    assert_eq!(a.message.as_deref(), Some("mark z is not set"));
}

#[test]
fn quit_asks_first_only_while_live() {
    let mut a = app(true);
    assert_eq!(keys(&mut a, "q"), Action::Continue);
    assert_eq!(a.mode, Mode::ConfirmQuit);
    assert_eq!(keys(&mut a, "n"), Action::Continue);
    assert_eq!(a.mode, Mode::Normal);
    assert_eq!(keys(&mut a, "qy"), Action::Quit);
    let mut r = app(false);
    assert_eq!(keys(&mut r, "q"), Action::Quit);
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(a.on_key(ctrl_c), Action::Quit);
}

#[test]
fn help_and_views() {
    let mut a = app(false);
    keys(&mut a, "?");
    assert_eq!(a.mode, Mode::Help);
    keys(&mut a, "x");
    assert_eq!(a.mode, Mode::Normal);
    keys(&mut a, "2");
    assert_eq!(a.view, View::Latency);
    keys(&mut a, "3ss");
    assert_eq!(
        (a.view, a.probe_sort),
        (View::Probes, (ProbeSort::Status, false))
    );
    keys(&mut a, "S");
    assert!(a.probe_sort.1);
    press(&mut a, KeyCode::Esc);
    assert_eq!(a.view, View::Packets);
}

#[test]
fn mouse_wheel_and_click() {
    let mut a = app(false);
    a.areas.list = Rect::new(1, 2, 100, 10);
    a.areas.tree = Rect::new(1, 20, 100, 10);
    let m = |kind, row| MouseEvent {
        kind,
        column: 5,
        row,
        modifiers: KeyModifiers::NONE,
    };
    a.on_mouse(m(MouseEventKind::Down(MouseButton::Left), 4));
    assert_eq!((a.pane, a.sel), (Pane::List, 2));
    a.on_mouse(m(MouseEventKind::ScrollDown, 3));
    assert_eq!(a.sel, 4);
    a.on_mouse(m(MouseEventKind::Down(MouseButton::Left), 22));
    assert_eq!((a.pane, a.tree_sel), (Pane::Tree, 2));
}

#[test]
fn a_search_hit_is_scrolled_to_the_upper_third_of_the_tree() {
    let mut a = app(false);
    // Packet 1 has 47 rows; an 11-row tree pane shows 10 of them under its header.
    keys(&mut a, "g\t");
    screen(&mut a, 150, 30);
    let height = a.areas.tree.height as usize;
    keys(&mut a, "/__udp4_lib_rcv\n");
    screen(&mut a, 150, 30);
    assert_eq!(selected_func(&mut a), "__udp4_lib_rcv");
    assert_eq!(a.tree_offset, a.tree_sel - height / 3, "sel {}", a.tree_sel);
    // Moving afterwards scrolls as usual: the window stays put.
    let offset = a.tree_offset;
    keys(&mut a, "j");
    screen(&mut a, 150, 30);
    assert_eq!(a.tree_offset, offset);
}

/// Netlink messages, unix socket data and skbs nothing tells apart are not listed by default;
/// the status line counts them, `a` shows them (named in the flow column), and `kind=` picks them.
#[test]
fn other_kinds_are_hidden_counted_and_one_key_away() {
    use vrft_events::event::Context;
    let mut s = common::Synth::scenario();
    let nodev = common::at(0, 77, Context::Process, 0, 0);
    for (id, family) in [(10, 16), (11, 16), (12, 1)] {
        s.enter(id, &nodev, "skb_consume_udp");
        s.tp(id, &nodev, "skb:skb_copy_datagram_iovec", 0, 0);
        s.class(0, family);
        s.exit(id, &nodev, "skb_consume_udp", 0);
    }
    // Nothing read and never on a device: other.
    s.leaf(13, &nodev, "skb_consume_udp", 0);
    // ARP on a device: a network packet without an IP flow.
    let eth = common::at(1, 0, Context::SoftIrq, common::NS1, 2);
    s.enter(14, &eth, "__netif_receive_skb_one_core");
    s.tp(14, &eth, "net:netif_receive_skb", 0, 0);
    s.class(0x806, 0);
    s.exit(14, &eth, "__netif_receive_skb_one_core", 0);
    let mut a = s.app(false);
    let ids = |a: &App| -> Vec<u32> { a.shown.iter().map(|&s| a.model.packet(s).id).collect() };
    assert_eq!(ids(&a), [1, 5, 2, 3, 4, 14]);
    assert_eq!(
        a.hidden_kinds().as_deref(),
        Some("2 netlink, 1 unix, 1 other hidden")
    );
    let text = screen(&mut a, 150, 30);
    assert!(
        text.contains("2 netlink, 1 unix, 1 other hidden (a)"),
        "{text}"
    );
    assert!(text.contains("a kinds"), "{text}");
    keys(&mut a, "a");
    assert_eq!(ids(&a), [1, 5, 2, 3, 4, 10, 11, 12, 13, 14]);
    assert_eq!(a.hidden_kinds(), None);
    keys(&mut a, "G");
    let text = screen(&mut a, 150, 30);
    for kind in ["netlink", "unix", "other"] {
        assert!(
            text.lines().any(|l| l.contains(&format!(" {kind} "))),
            "{kind}: {text}"
        );
    }
    keys(&mut a, "a");
    assert_eq!(ids(&a), [1, 5, 2, 3, 4, 14]);
    // A kind= term chooses the kinds itself, negated or not, with either spelling.
    keys(&mut a, "fkind:netlink\n");
    assert_eq!(ids(&a), [10, 11]);
    assert_eq!(a.hidden_kinds(), None);
    keys(&mut a, "f");
    press(&mut a, KeyCode::Esc);
    a.set_filter(Some(
        vrft_ui::query::Query::parse("!kind=network", &a.info).unwrap(),
    ));
    assert_eq!(ids(&a), [10, 11, 12, 13]);
    a.set_filter(Some(
        vrft_ui::query::Query::parse("kind=other", &a.info).unwrap(),
    ));
    assert_eq!(ids(&a), [13]);
}

/// Every input bar edits like readline, at the cursor, and Up recalls what Enter accepted.
#[test]
fn input_bars_edit_like_readline_and_keep_a_history() {
    use vrft_ui::testkit::{alt, ctrl, draw};
    let mut a = app(false);
    keys(&mut a, "fudp dport=7777");
    ctrl(&mut a, 'w');
    assert_eq!(a.input.text(), "udp ", "Ctrl-W deletes back to the blank");
    keys(&mut a, "dport=7777");
    a.on_key(KeyEvent::new(KeyCode::Backspace, KeyModifiers::ALT));
    assert_eq!(
        a.input.text(),
        "udp dport=",
        "Alt-Backspace deletes one word"
    );
    assert!(a
        .input_error
        .as_ref()
        .unwrap()
        .message
        .contains("missing value"));
    ctrl(&mut a, 'u');
    assert_eq!(a.input.text(), "");
    assert_eq!(a.input_error, None);
    keys(&mut a, "drop or calls>100");
    // Home, then a '!' typed at the start; Alt-F goes to the next word, Ctrl-K cuts the rest.
    press(&mut a, KeyCode::Home);
    keys(&mut a, "!");
    alt(&mut a, 'f');
    assert_eq!(a.input.cursor(), 6);
    ctrl(&mut a, 'k');
    ctrl(&mut a, 'e');
    keys(&mut a, "or drop");
    assert_eq!(a.input.text(), "!drop or drop");
    // The cursor cell is drawn at its place, here on the 'd' after '!'.
    ctrl(&mut a, 'a');
    press(&mut a, KeyCode::Right);
    let t = draw(&mut a, 100, 30);
    let cell = &t.backend().buffer()[(9, 29)];
    assert_eq!(cell.symbol(), "d");
    assert!(cell.modifier.contains(ratatui::style::Modifier::REVERSED));
    keys(&mut a, "\n");
    assert_eq!(a.shown.len(), 5, "every packet is either dropped or not");

    // The bar opens on the applied filter; Ctrl-U clears it for a new one.
    keys(&mut a, "f");
    ctrl(&mut a, 'u');
    keys(&mut a, "drop\n");
    assert_eq!(a.shown.len(), 1);
    // Up walks back over what was applied, skipping the filter the bar opened on.
    keys(&mut a, "f");
    press(&mut a, KeyCode::Up);
    assert_eq!(a.input.text(), "!drop or drop");
    press(&mut a, KeyCode::Down);
    assert_eq!(a.input.text(), "drop");
    press(&mut a, KeyCode::Esc);
    // Each prompt has its own history.
    keys(&mut a, ":2\n:");
    press(&mut a, KeyCode::Up);
    assert_eq!(a.input.text(), "2");
    keys(&mut a, "x");
    assert_eq!(a.input.text(), "2", "the jump bar takes digits only");
}

/// `=` filters on the selected packet's flow in both directions, in the filter language.
#[test]
fn follow_flow_sets_an_editable_filter() {
    let mut a = app(false);
    keys(&mut a, ":1\n=");
    let text = a.filter.as_ref().unwrap().text().to_string();
    assert!(
        text.starts_with("proto=udp and ((src=10.0.0.1 and sport="),
        "{text}"
    );
    let flow = |a: &App, s: u32| *a.model.packet(s).flow.as_deref().unwrap();
    let f1 = flow(&a, a.selected_slot().unwrap());
    for &s in &a.shown {
        let f = flow(&a, s);
        let same = (f.src, f.sport, f.dst, f.dport) == (f1.src, f1.sport, f1.dst, f1.dport);
        let back = (f.src, f.sport, f.dst, f.dport) == (f1.dst, f1.dport, f1.src, f1.sport);
        assert!(same || back, "{f:?} is not in {f1:?}");
    }
    assert!(a.shown.len() < a.packets_total());
    // The bar opens on it for editing.
    keys(&mut a, "f");
    assert_eq!(a.input.text(), text);
}

/// A line longer than the bar scrolls so that the cursor stays on screen.
#[test]
fn a_long_line_scrolls_to_the_cursor() {
    use vrft_ui::testkit::draw;
    let mut a = app(false);
    keys(&mut a, "fudp and dport=7777 and iface=veth1 and not drop");
    let t = draw(&mut a, 40, 20);
    let bar: String = (0..40)
        .map(|x| t.backend().buffer()[(x, 19)].symbol().to_string())
        .collect();
    assert!(bar == "filter: 77 and iface=veth1 and not drop ", "{bar}");
    assert!(t.backend().buffer()[(39, 19)]
        .modifier
        .contains(ratatui::style::Modifier::REVERSED));
    press(&mut a, KeyCode::Home);
    let t = draw(&mut a, 40, 20);
    let bar: String = (0..40)
        .map(|x| t.backend().buffer()[(x, 19)].symbol().to_string())
        .collect();
    assert!(
        bar.starts_with("filter: udp and dport=7777 and iface=ve"),
        "{bar}"
    );
}
