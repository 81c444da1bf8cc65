//! The UI live in the guest (issue 6): vrft-tui runs in a real terminal (tmux) while traffic
//! flows, and what the screen shows is checked: the attach progress bar on the normal screen,
//! the UI with the generated packet IDs, a packet's call tree, and the shell again after `q`.
//!
//! The guest only drives tmux and saves `capture-pane` at each step ($OUT/<step>.txt, polled
//! until the step's marker shows, never a fixed sleep); the host asserts on the captures.

use super::scenario::{Outcome, Scenario};
use super::topology::{veth, Flow};

pub fn scenarios() -> Vec<Scenario> {
    vec![live_tmux()]
}

/// Packets the flow sends; each one's ID in the UI is its sequence number (`--payload-id`).
const COUNT: u32 = 20;
/// The packet whose tree is opened (not the first: that one waits for ARP).
const JUMP: u32 = 7;
/// The tmux window: wide enough for the details beside the tree, tall enough that the list
/// shows every packet and the tree the whole of one.
const COLS: u32 = 200;
const ROWS: u32 = 70;

/// Transmit calls, outermost first: each is called inside the one before.
const TX_CHAIN: &[&str] = &[
    "ip_output",
    "__dev_queue_xmit",
    "dev_hard_start_xmit",
    "veth_xmit",
];
/// Receive calls, outermost first.
const RX_CHAIN: &[&str] = &["ip_rcv", "ip_local_deliver", "udp_rcv", "udp_queue_rcv_skb"];

/// The functions of both chains and nothing else, so the attach stays quick under emulation.
const FUNCS: &str = "^(ip_output|__dev_queue_xmit|dev_hard_start_xmit|veth_xmit|\
ip_rcv|ip_local_deliver|udp_rcv|udp_queue_rcv_skb)$";

fn live_tmux() -> Scenario {
    let udp = Flow {
        count: COUNT,
        rate: 20,
        ..Flow::udp("udp", "a", "b", veth::B, 7777)
    };
    let script = format!(
        r#"
# tmux needs ptys; the guest's /dev is a bare devtmpfs.
grep -q ' /dev/pts ' /proc/mounts || {{ mkdir -p /dev/pts; mount -t devpts devpts /dev/pts; }}
export TERM=screen
tm() {{ /bin/tmux -u -f /dev/null -L vrft "$@"; }}
# Whatever happens, take the UI down: the tmux server is a daemon the harness does not kill.
trap 'tm kill-server 2>/dev/null || true' EXIT
# shot NAME SECS PATTERN...: capture the pane into $OUT/NAME.txt until every (grep -E)
# pattern shows; fails with the last screen after SECS seconds.
shot() {{
  name=$1; secs=$2; shift 2
  start=$(cut -d. -f1 /proc/uptime)
  while :; do
    tm capture-pane -p -t live > "$OUT/$name.txt" || {{ echo "tmux capture-pane failed at screen $name"; return 1; }}
    ok=1
    for p in "$@"; do grep -qE -e "$p" "$OUT/$name.txt" || {{ ok=0; break; }}; done
    [ $ok = 0 ] || {{ echo "screen $name after $(( $(cut -d. -f1 /proc/uptime) - start )) s"; return 0; }}
    if grep -q VRFT-DONE "$OUT/$name.txt"; then
      echo "vrft-tui exited before screen $name showed: $*"
      cat "$OUT/$name.txt"
      return 1
    fi
    if [ $(( $(cut -d. -f1 /proc/uptime) - start )) -ge "$secs" ]; then
      echo "timed out after $secs s waiting for screen $name to show: $*"
      cat "$OUT/$name.txt"
      return 1
    fi
    sleep 0.1
  done
}}
keys() {{ tm send-keys -t live "$@"; }}
{setup}
# The pane runs vrft-tui in the root namespace, then leaves the shell's screen on show.
cat > "$OUT/run.sh" <<'EOF'
vrft-tui --wait-detach --funcs '{FUNCS}' --payload-id udp dst port 7777
echo "VRFT-DONE rc=$?"
exec sleep 3600
EOF
tm new-session -d -s live -x {COLS} -y {ROWS} "sh $OUT/run.sh"

# The attach progress bar on the normal screen, before the UI: poll fast, it may not last.
# Its message too: the bar's first frame can show before it says what it is doing.
shot attach 120 '(verifying|attaching).* functions|LIVE'
tm display-message -p -t live '#{{alternate_on}}' > "$OUT/attach.alternate"
# The UI opens in the alternate screen, live, with nothing traced yet.
shot ui_open 120 ' LIVE ' 'packets 0 shown 0'
tm display-message -p -t live '#{{alternate_on}}' > "$OUT/ui.alternate"

{traffic}
# Every packet in the list; the list follows the newest.
shot packets 60 'packets {COUNT} shown {COUNT}'

# Jump to packet {JUMP}: the tree pane's title names it.
keys -l ':{JUMP}'
shot jump_prompt 20 'go to packet: {JUMP}'
keys Enter
shot tree 20 'packet {JUMP}  udp .* first seen' 'udp_queue_rcv_skb'
# Into the tree; search the UDP queueing call: the details pane shows it selected.
keys Tab
keys -l '/udp_queue_rcv_skb'
keys Enter
shot search 20 'function +udp_queue_rcv_skb'

# q asks first while live; y quits, releases the probes (--wait-detach) and restores the shell.
keys -l q
shot confirm 20 'Quit and detach the probes'
keys -l y
shot shell 180 'VRFT-DONE rc='
tm display-message -p -t live '#{{alternate_on}} #{{cursor_flag}}' > "$OUT/shell.flags"
"#,
        setup = veth::setup(),
        traffic = udp.script(),
    );
    Scenario::new("live_tmux", script, check)
        .timeout(420)
        .only_on(&["6.12", "7.2"])
}

fn check(out: &Outcome) -> Result<(), String> {
    out.expect_ids("udp", COUNT)?;
    let screen = |name: &str| out.read(&format!("{name}.txt"));

    // Attach: the progress bar on the normal screen, not the UI.
    let attach = screen("attach")?;
    if out.read("attach.alternate")?.trim() != "0" || attach.contains(" LIVE ") {
        return Err(format!(
            "the UI opened before the attach progress showed on the normal screen:\n{attach}"
        ));
    }
    // The automatic choice: per-function fentry shows its bar for seconds; fsession (7.2)
    // attaches a few links in a fraction of one, and its summary line stays on the screen.
    let backend = if out.kernel == "7.2" {
        "fsession"
    } else {
        "fentry"
    };
    let shell = screen("shell")?;
    let bar_shown = (attach.contains("verifying") || attach.contains("attaching"))
        && attach.contains(" functions");
    let summary = shell.lines().any(|l| l.starts_with("attached in "));
    if !summary || (backend == "fentry" && !bar_shown) {
        return Err(format!(
            "no attach progress on the screen (bar {bar_shown}, summary line {summary}):\n{attach}\n{shell}"
        ));
    }

    // The UI opened live in the alternate screen, empty, with the backend and probe counts.
    let open = screen("ui_open")?;
    if out.read("ui.alternate")?.trim() != "1" {
        return Err(format!("the UI is not in the alternate screen:\n{open}"));
    }
    let (att, skip, fail) = attach_counts(&shell)?;
    if att < TX_CHAIN.len() + RX_CHAIN.len() {
        return Err(format!(
            "only {att} probes attached, want at least the {} of the chains:\n{shell}",
            TX_CHAIN.len() + RX_CHAIN.len()
        ));
    }
    let status = status_line(&open)?;
    let want = format!("probes {att}/{skip}/{fail} att/skip/fail");
    let backend_part = format!(" {backend} ");
    for part in [" LIVE ", &backend_part, want.as_str(), "packets 0 shown 0"] {
        if !status.contains(part) {
            return Err(format!(
                "status line lacks {part:?} (vrft-tui said {att}/{skip}/{fail} on stderr):\n{open}"
            ));
        }
    }

    // After the traffic: every generated ID once, in order, and the list still following.
    let packets = screen("packets")?;
    let ids: Vec<u32> = list_rows(&packets)
        .iter()
        .map(|r| row_id(r))
        .collect::<Result<_, _>>()?;
    if ids != (1..=COUNT).collect::<Vec<_>>() {
        return Err(format!(
            "packet list shows IDs {ids:?}, want 1..={COUNT}:\n{packets}"
        ));
    }
    for r in list_rows(&packets) {
        if !r.contains("eth0") {
            return Err(format!("packet row without its interface: {r}\n{packets}"));
        }
        // The FLOW column: the datagram's addresses and ports.
        if !r.contains(&format!(">{}:7777", veth::B)) || !r.contains("udp ") {
            return Err(format!("packet row without its flow: {r}\n{packets}"));
        }
    }
    let want = format!("Packets {COUNT}/{COUNT} (following)");
    if !packets.contains(&want) {
        return Err(format!("list title lacks {want:?}:\n{packets}"));
    }
    let status = status_line(&packets)?;
    let want = format!("packets {COUNT} shown {COUNT}");
    if !status.contains(" LIVE ") || !status.contains(&want) {
        return Err(format!("status line lacks LIVE / {want:?}:\n{packets}"));
    }

    // The jump selected packet JUMP (the following stops) and its tree is the real one.
    let tree = screen("tree")?;
    // The tree pane's title: the packet, its flow, ..., when it was first seen.
    let title = tree
        .lines()
        .find(|l| l.contains(&format!("packet {JUMP}  udp ")));
    if !title.is_some_and(|t| t.contains("first seen")) || tree.contains("(following)") {
        return Err(format!("packet {JUMP} is not the selected one:\n{tree}"));
    }
    let calls = tree_calls(&tree);
    // Where each call starts: `func() {`, or `func();` for a call with no traced callee.
    let opened: Vec<_> = calls.iter().filter(|c| c.kind != Kind::Close).collect();
    let mut at = 0;
    for chain in [TX_CHAIN, RX_CHAIN] {
        let mut depth = None;
        for func in chain {
            let Some(pos) = opened[at..].iter().position(|c| c.func == *func) else {
                return Err(format!(
                    "the tree lacks `{func}()` after the calls before it in {chain:?}:\n{tree}"
                ));
            };
            let call = opened[at + pos];
            if depth.is_some_and(|d| call.depth <= d) {
                return Err(format!(
                    "`{func}()` is not nested inside the call before it in {chain:?}:\n{tree}"
                ));
            }
            depth = Some(call.depth);
            at += pos;
        }
    }
    // Every opened call is closed, as the pane shows it: `} /* func = ret */`.
    for c in calls.iter().filter(|c| c.kind == Kind::Open) {
        if !calls
            .iter()
            .any(|x| x.kind == Kind::Close && x.func == c.func)
        {
            return Err(format!("`{}() {{` is never closed:\n{tree}", c.func));
        }
    }
    let search = screen("search")?;
    if !tree_calls(&search)
        .iter()
        .any(|c| c.func == "udp_queue_rcv_skb" && c.kind != Kind::Close)
    {
        return Err(format!("the searched call is not in the tree:\n{search}"));
    }

    // Quitting asks first; afterwards the shell's screen is back, and vrft-tui exited 0.
    let confirm = screen("confirm")?;
    if !confirm.contains("y/q/Enter: quit") {
        return Err(format!("no quit confirmation:\n{confirm}"));
    }
    if !shell.contains("VRFT-DONE rc=0") {
        return Err(format!("vrft-tui did not exit 0:\n{shell}"));
    }
    if out.read("shell.flags")?.trim() != "0 1" {
        return Err(format!(
            "terminal not restored: tmux says alternate screen / cursor = {:?}, want \"0 1\":\n{shell}",
            out.read("shell.flags")?.trim()
        ));
    }
    for ui in ["Packets", " LIVE ", "│", "┌", "att/skip/fail"] {
        if shell.contains(ui) {
            return Err(format!(
                "UI content {ui:?} left on the shell's screen:\n{shell}"
            ));
        }
    }
    let summary = format!("{COUNT} packets, ");
    if !shell.lines().any(|l| l.starts_with(&summary)) || !shell.contains("released ") {
        return Err(format!(
            "no exit summary ({summary:?}... and the release) on the shell's screen:\n{shell}"
        ));
    }
    Ok(())
}

/// The `probes: A attached, S skipped, F failed` line vrft-tui prints before the UI opens.
fn attach_counts(screen: &str) -> Result<(usize, usize, usize), String> {
    let line = screen
        .lines()
        .find(|l| l.starts_with("probes: "))
        .ok_or_else(|| format!("no `probes:` line on the shell's screen:\n{screen}"))?;
    let n: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .take(3)
        .map(|w| w.parse().unwrap())
        .collect();
    match n[..] {
        [a, s, f] => Ok((a, s, f)),
        _ => Err(format!("unreadable probe counts: {line}")),
    }
}

/// The status line: the one that names the probe counts.
fn status_line(screen: &str) -> Result<&str, String> {
    screen
        .lines()
        .find(|l| l.contains("att/skip/fail"))
        .ok_or_else(|| format!("no status line:\n{screen}"))
}

/// Rows of the packet list: the lines of the top pane that start with a packet ID.
fn list_rows(screen: &str) -> Vec<&str> {
    screen
        .lines()
        .skip_while(|l| !l.contains("Packets "))
        .skip(2) // title border and column header
        .take_while(|l| !l.starts_with('└'))
        .filter(|l| {
            l.trim_start_matches('│')
                .starts_with(|c: char| c.is_ascii_digit())
        })
        .collect()
}

fn row_id(row: &str) -> Result<u32, String> {
    row.trim_start_matches('│')
        .split_whitespace()
        .next()
        .and_then(|w| w.parse().ok())
        .ok_or_else(|| format!("packet row without an ID: {row}"))
}

/// One call line of the tree pane.
#[derive(Debug)]
struct Call<'a> {
    func: &'a str,
    depth: usize,
    kind: Kind,
}

#[derive(Debug, PartialEq)]
enum Kind {
    /// `func() {`
    Open,
    /// `} /* func = ret */`
    Close,
    /// `func(); /* = ret */`
    Leaf,
}

/// The call lines of the tree pane, in screen order. A tree line is
/// `│  0)   1.234   0.5 us |  <indent>func() {   ││details│`: the function column starts
/// after the first ASCII `|` and ends at the pane's border.
fn tree_calls(screen: &str) -> Vec<Call<'_>> {
    let mut calls = Vec::new();
    for line in screen.lines() {
        let Some((_, rest)) = line.split_once(" |  ") else {
            continue;
        };
        let text = rest.split('│').next().unwrap_or(rest);
        let body = text.trim_start();
        let depth = (text.len() - body.len()) / 2;
        let body = body.trim_end();
        let call = if let Some(func) = body.strip_suffix("() {") {
            Some((func, Kind::Open))
        } else if let Some(rest) = body.strip_prefix("} /* ") {
            rest.split(" = ").next().map(|f| (f, Kind::Close))
        } else {
            body.split_once("(); /* ").map(|(f, _)| (f, Kind::Leaf))
        };
        if let Some((func, kind)) = call.filter(|(f, _)| {
            !f.is_empty()
                && f.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.:".contains(c))
        }) {
            calls.push(Call { func, depth, kind });
        }
    }
    calls
}
