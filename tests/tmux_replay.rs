//! A real terminal: tmux runs `vrft-tui replay` on the real 6.1 recording, keys are sent
//! the way a user types them, and every step is checked on `tmux capture-pane`. At the end
//! the terminal must be back to the shell: no alternate screen, no UI left on it.
//!
//! Needs tmux (`scripts/setup.sh` installs it); without it this test fails rather than skips.

use std::process::Command;

use vrft_ui::testkit::REAL_RECORDING;

#[path = "common/tmux.rs"]
mod tmux;

use tmux::Tmux;

/// Rows of the packet list: lines of the top pane that start with a packet ID.
fn list_rows(screen: &str) -> Vec<&str> {
    screen
        .lines()
        .skip(2) // border and column header
        .take_while(|l| !l.starts_with('└'))
        .filter(|l| {
            l.trim_start_matches('│')
                .starts_with(|c: char| c.is_ascii_digit())
        })
        .collect()
}

#[test]
fn replay_in_tmux_jump_fold_filter_latency_quit() {
    let bin = env!("CARGO_BIN_EXE_vrft-tui");
    let cmd =
        format!("sh -c '\"{bin}\" replay \"{REAL_RECORDING}\"; echo VRFT-DONE rc=$?; sleep 30'");
    let t = Tmux::start(160, 50, &cmd);

    // The UI opens on the recording, in the alternate screen. 11 packets are neighbour
    // notifications built for netlink (packets 3, 5, ...), never on a device and without a
    // socket that would say so: the list hides them as "other".
    let s = t.wait("the packet list", |s| s.contains("Packets 122/133"));
    assert!(s.contains("| 11 other hidden (a) |"), "{s}");
    assert!(s.contains("REPLAY") && s.contains("fentry"), "{s}");
    assert_eq!(
        t.query("#{alternate_on}"),
        "1",
        "the UI uses the alternate screen"
    );

    // Jump to packet 13, a UDP datagram: the tree pane's title names it and its flow.
    t.type_text(":13");
    t.wait("the jump prompt", |s| s.contains("go to packet: 13"));
    t.key("Enter");
    let s = t.wait("packet 13's tree", |s| s.contains("┌ packet 13 "));
    assert!(s.contains("udp_send_skb() {"), "{s}");
    assert!(s.contains("udp 10.11.0.1:59459>10.11.0.2:7777"), "{s}");

    // Into the tree; find the UDP receive and fold / unfold it with Enter.
    t.key("Tab");
    t.type_text("/__udp4_lib_rcv");
    t.key("Enter");
    let s = t.wait("__udp4_lib_rcv selected", |s| {
        s.contains("function  __udp4_lib_rcv")
    });
    assert!(s.contains("__udp4_lib_rcv() {"), "{s}");
    assert!(s.contains("udp_unicast_rcv_skb() {"), "{s}");
    t.key("Enter");
    let s = t.wait("__udp4_lib_rcv folded", |s| {
        s.contains("__udp4_lib_rcv() { ... } /* = 0 */")
    });
    assert!(!s.contains("udp_unicast_rcv_skb() {"), "{s}");
    t.key("Enter");
    let s = t.wait("__udp4_lib_rcv unfolded", |s| {
        s.contains("udp_unicast_rcv_skb() {")
    });
    assert!(!s.contains("__udp4_lib_rcv() { ... }"), "{s}");
    // C collapses every call to its root; E expands them again.
    t.key("C");
    t.wait("all collapsed", |s| s.contains("udp_send_skb() { ... }"));
    t.key("E");
    t.wait("all expanded", |s| {
        s.contains("udp_send_skb() {") && !s.contains("udp_send_skb() { ... }")
    });

    // Filter by interface: both ends of the veth pair are eth0, each in its namespace.
    t.type_text("fiface=eth0");
    t.wait("the filter bar", |s| s.contains("filter: iface=eth0"));
    t.key("Enter");
    // The VXLAN datagrams' devices are vxlan0/eth1 and the notifications have none.
    t.wait("the filter applied", |s| s.contains("| filter: iface=eth0"));
    let s = t.wait("the filtered list", |s| s.contains("Packets 85/133"));
    assert!(
        s.contains("| filter: iface=eth0"),
        "status line shows the filter:\n{s}"
    );
    let rows = list_rows(&s);
    assert!(rows.len() >= 10, "{s}");
    for r in &rows {
        assert!(r.contains("eth0"), "a row without the interface: {r}");
    }
    // The selected packet (13) passes the filter and stays selected.
    assert!(s.contains("┌ packet 13 "), "{s}");

    // The latency view covers the shown (filtered) packets.
    t.type_text("2");
    let s = t.wait("the latency view", |s| {
        s.contains("Across 85 shown packets")
    });
    for h in ["STAGE", "P50", "P90", "P99", "MAX", "Packet 13 per hop"] {
        assert!(s.contains(h), "latency view lacks {h}:\n{s}");
    }
    assert!(s.contains("ip_rcv -> ip_local_deliver"), "{s}");

    // q quits at once in a replay; the shell's screen is back.
    t.type_text("q");
    let s = t.wait("the shell after quitting", |s| s.contains("VRFT-DONE"));
    assert!(s.contains("VRFT-DONE rc=0"), "vrft-tui exits 0:\n{s}");
    assert_eq!(t.query("#{alternate_on}"), "0", "alternate screen left");
    for ui in ["Packets", "REPLAY", "latency", "│", "┌"] {
        assert!(
            !s.contains(ui),
            "UI content {ui:?} left on the screen:\n{s}"
        );
    }
    // The cursor is visible again.
    assert_eq!(t.query("#{cursor_flag}"), "1", "cursor shown again");
}

/// The bar's line of the screen (the last one), trimmed.
fn bar(screen: &str) -> &str {
    screen.lines().last().unwrap_or("").trim_end()
}

/// The filter bar edits like a shell: Ctrl-W deletes the last term, Ctrl-U the line,
/// Home/End move, and Up recalls what Enter applied before.
#[test]
fn filter_bar_editing_and_history_in_tmux() {
    let bin = env!("CARGO_BIN_EXE_vrft-tui");
    let cmd = format!("sh -c '\"{bin}\" replay \"{REAL_RECORDING}\"; sleep 30'");
    let t = Tmux::start(160, 50, &cmd);
    t.wait("the packet list", |s| s.contains("Packets 122/133"));

    t.type_text("fudp dport=7777");
    t.wait("the typed filter", |s| {
        bar(s).starts_with("filter: udp dport=7777 ")
    });
    t.key("C-w");
    t.wait("the last term deleted", |s| {
        bar(s).starts_with("filter: udp  ")
    });
    t.type_text("dport=");
    let s = t.wait("a term without value", |s| {
        bar(s).starts_with("filter: udp dport= ")
    });
    assert!(bar(&s).contains("missing value"), "validated live:\n{s}");
    t.key("C-u");
    let s = t.wait("the line cleared", |s| {
        bar(s).starts_with("filter:    Enter apply")
    });
    assert!(!bar(&s).contains("udp"), "{s}");
    t.type_text("udp or arp");
    t.key("Enter");
    let s = t.wait("the OR filter applied", |s| s.contains("Packets 99/133"));
    assert!(s.contains("| filter: udp or arp |"), "{s}");

    // A second filter, then Up in the bar brings the first back.
    t.type_text("f");
    t.wait("the bar on the applied filter", |s| {
        bar(s).starts_with("filter: udp or arp ")
    });
    t.key("C-u");
    t.type_text("udp dport=7777");
    t.key("Enter");
    t.wait("the second filter applied", |s| {
        s.contains("Packets 20/133")
    });
    t.type_text("f");
    t.wait("the bar on the second filter", |s| {
        bar(s).starts_with("filter: udp dport=7777 ")
    });
    t.key("Up");
    t.wait("the first filter recalled", |s| {
        bar(s).starts_with("filter: udp or arp ")
    });
    // Home and End type at either end: NOT around the recalled expression.
    t.key("Home");
    t.type_text("not (");
    t.key("End");
    t.type_text(")");
    t.wait("the edited line", |s| {
        bar(s).starts_with("filter: not (udp or arp) ")
    });
    t.key("Enter");
    let s = t.wait("the negated filter applied", |s| {
        s.contains("Packets 23/133")
    });
    assert!(s.contains("| filter: not (udp or arp) |"), "{s}");
    t.type_text("q");
}

/// `vrft-tui dump FILE | head`: the reader closes the pipe early, and dump ends quietly with
/// status 0, like other Unix tools, instead of printing "Broken pipe".
#[test]
fn dump_into_a_pipe_closed_early_ends_quietly() {
    use std::io::Read;
    use std::process::Stdio;

    let mut child = Command::new(env!("CARGO_BIN_EXE_vrft-tui"))
        .args(["dump", REAL_RECORDING])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 64];
    stdout.read_exact(&mut first).unwrap();
    assert!(
        first.starts_with(b"# "),
        "{}",
        String::from_utf8_lossy(&first)
    );
    // The dump is far larger than a pipe holds: it is still writing when the reader goes.
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert!(out.status.success(), "{:?}", out.status);
}
