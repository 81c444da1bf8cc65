//! A busy host (issue 17): the live UI in a real terminal (tmux) with every skb function probed
//! and no filter, for a minute of UDP flood as fast as the guest sends, under `--max-memory
//! 64M`. Every few seconds a key is pressed and the time until the screen shows its effect is
//! measured; the resident set is sampled every second from outside; the status line must show
//! evictions; `q` must give the shell back with nothing attached. Before the flood, pings into
//! a namespace that only a process holds (`unshare -n sleep`) show its name in the tree.
//!
//! Then the self-exclusion: an SSH session emulated the way the detection sees one. A TCP
//! relay (busybox `nc -l -e`) in namespace b starts a session for the connection that holds
//! SSH_CONNECTION (read from the connection itself, as sshd sets it) and runs `vrft-tui
//! record` under it with a reset environment (as sudo does); its output goes back over the
//! connection while the client in a sends a line every 0.2 s. Recorded once by default and
//! once with `--no-exclude-self`.

use vrft_events::record::Recording;
use vrft_ui::format::flow_text;
use vrft_ui::model::Model;

use super::scenario::{Outcome, Scenario};
use super::topology::veth;

pub fn scenarios() -> Vec<Scenario> {
    vec![busy_host()]
}

/// The budget given, and the flood's length.
const BUDGET_MIB: u64 = 64;
const FLOOD_SECS: u32 = 60;
/// The namespace only a process holds: its side of the veth pair from namespace a, and ours.
const HELD_A: &str = "10.78.0.1";
const HELD_B: &str = "10.78.0.2";
/// The emulated SSH server's port, in namespace b (the next one for the second session).
const SSH_PORT: u16 = 2222;
/// A key's effect must show within this (the worst is printed).
const KEY_BOUND_MS: u64 = 5000;

fn busy_host() -> Scenario {
    let script = format!(
        r#"
grep -q ' /dev/pts ' /proc/mounts || {{ mkdir -p /dev/pts; mount -t devpts devpts /dev/pts; }}
export TERM=screen
tm() {{ /bin/tmux -u -f /dev/null -L vrft "$@"; }}
trap 'tm kill-server 2>/dev/null || true' EXIT
now() {{ cut -d' ' -f1 /proc/uptime; }}
# wait_screen NAME SECS yes|no PATTERN: capture until PATTERN (grep -E) shows, or is gone.
wait_screen() {{
  name=$1; secs=$2; want=$3; pat=$4; start=$(now)
  while :; do
    tm capture-pane -p -t live > "$OUT/$name.txt" || {{ echo "capture failed at $name"; return 1; }}
    if grep -qE -e "$pat" "$OUT/$name.txt"; then has=yes; else has=no; fi
    [ $has != $want ] || return 0
    if grep -q VRFT-DONE "$OUT/$name.txt"; then echo "vrft-tui exited before $name"; cat "$OUT/$name.txt"; return 1; fi
    if [ "$(echo "$(now) $start $secs" | awk '{{print ($1 - $2 > $3)}}')" = 1 ]; then
      echo "timed out after $secs s at screen $name ($want: $pat)"; cat "$OUT/$name.txt"; return 1
    fi
    sleep 0.05
  done
}}
# press NAME KEY yes|no PATTERN: send KEY, then the time until PATTERN shows (or is gone).
press() {{
  t0=$(now)
  tm send-keys -t live "$2"
  wait_screen "$1" 30 "$3" "$4"
  echo "$1 $(echo "$(now) $t0" | awk '{{printf "%d", ($1 - $2) * 1000}}')" >> "$OUT/keys.txt"
}}
{setup}
# A namespace that only a process holds, joined to a.
unshare -n sleep 3600 &
holder=$!
sleep 0.3
echo $holder > "$OUT/holder.pid"
ip -n a link add vh0 type veth peer name vh1 netns $holder
ip -n a addr add {HELD_A}/24 dev vh0
ip -n a link set vh0 up
nsenter -t $holder -n sh -c 'ip link set lo up; ip addr add {HELD_B}/24 dev vh1; ip link set vh1 up'

echo 'vrft-tui --backend kprobe --max-memory {BUDGET_MIB}M; echo "VRFT-DONE rc=$?"; exec sleep 3600' > "$OUT/run.sh"
tm new-session -d -s live -x 200 -y 50 "sh $OUT/run.sh"
wait_screen ui_open 300 yes ' LIVE '
pid=$(pidof vrft-tui)
( while kill -0 $pid 2>/dev/null; do grep VmRSS /proc/$pid/status >> "$OUT/rss.txt"; sleep 1; done ) &

# Names: pings into the process's namespace; its echo requests' trees name it.
at a ping -c 3 -i 0.3 {HELD_B} > /dev/null
sleep 1
press search_held / yes 'search: '
tm send-keys -t live -l 'icmp_rcv'
tm send-keys -t live Enter
# A tall window, so that the tree shows the whole of the echo request's way.
tm resize-window -t live -x 200 -y 250
wait_screen names 30 yes 'netns sleep\['
tm resize-window -t live -x 200 -y 50
press follow_again F yes '\(following\)'

# A minute of flood, a key pressed every few seconds.
at b trafgen recv --bind {B}:9999 --count 100000000 --timeout {flood_wait} > /dev/null 2>&1 &
at a trafgen flood --to {B}:9999 --seconds {FLOOD_SECS} > "$OUT/flood.txt" 2>&1 &
flood=$!
flood_start=$(now)
round=0
while kill -0 $flood 2>/dev/null; do
  case $((round % 5)) in
    0) press j$round j no '\(following\)'; press F$round F yes '\(following\)' ;;
    1) press slash$round / yes 'search: '; press esc$round Escape no 'search: ' ;;
    2) press J$round J no '\(following\)'; press F$round F yes '\(following\)' ;;
    3) press latency$round 2 yes 'Across [0-9]+ shown'; press packets$round 1 yes ' Packets [0-9]+' ;;
    4) press help$round '?' yes 'follow new packets'; press close$round Escape no 'follow new packets' ;;
  esac
  round=$((round + 1))
  sleep 3
done
echo "flood ran $(echo "$(now) $flood_start" | awk '{{printf "%d", $1 - $2}}') s, $round rounds" > "$OUT/flood.rounds"
wait_screen status 60 yes 'evicted [0-9]+'
tm send-keys -t live q
wait_screen confirm 30 yes 'Quit and detach'
tm send-keys -t live y
wait_screen shell 300 yes 'VRFT-DONE rc='
wait_released 300 > "$OUT/release.log"
trafgen bpf-objects > "$OUT/after_quit"
kill $holder

# Self-exclusion: an SSH session as the detection sees one (see the top of tests/vm/busy.rs).
port={SSH_PORT}
for tag in default traced; do
  extra=""
  [ $tag = traced ] && {{ extra=--no-exclude-self; port=$((port + 1)); }}
  printf '%s\n' '#!/bin/sh' \
    'conn=$(netstat -tn | awk '"'"'function ep(a) {{ n = split(a, p, ":"); h = substr(a, 1, length(a) - length(p[n]) - 1); sub(/^::ffff:/, "", h); return h " " p[n] }} $4 ~ /:'$port'$/ && $6 == "ESTABLISHED" {{ print ep($5), ep($4); exit }}'"'"')' \
    'exec env SSH_CONNECTION="$conn" sh /bin/vrft-login' > /bin/vrft-sshd-session
  chmod +x /bin/vrft-sshd-session
  # The login shell: vrft-tui under it with a reset environment, as sudo runs it.
  printf '%s\n' "env -i PATH=/bin vrft-tui record --backend kprobe $extra --funcs '^(ip_rcv|ip_output|tcp_v4_rcv|icmp_rcv|__dev_queue_xmit)\$' -o $OUT/ssh-$tag.vrft --duration 8 2>&1" \
    'echo "rc=$?"' 'cat > /dev/null' > /bin/vrft-login
  echo $port > "$OUT/ssh-$tag.port"
  at b nc -l -p $port -e /bin/vrft-sshd-session &
  sleep 0.5
  ( i=0; while [ $i -lt 100 ]; do echo tick; sleep 0.2; i=$((i + 1)); done ) |
    timeout 40 /bin/ip netns exec a nc {B} $port > "$OUT/ssh-$tag.client" &
  client=$!
  i=0
  until grep -q 'armed:' "$OUT/ssh-$tag.client" 2>/dev/null; do i=$((i + 1)); [ $i -lt 600 ] || break; sleep 0.2; done
  at a ping -c 3 -i 0.3 {B} > /dev/null
  wait $client || true
  wait_released 120 > /dev/null
done
"#,
        setup = veth::setup(),
        B = veth::B,
        flood_wait = FLOOD_SECS + 120,
    );
    Scenario::new("busy_host", script, check)
        .timeout(1500)
        .only_on(&["6.12"])
}

fn check(out: &Outcome) -> Result<(), String> {
    // Memory: the resident set, sampled every second, stays under the budget.
    let rss: Vec<u64> = out
        .read("rss.txt")?
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
        .collect();
    let max_kib = rss.iter().copied().max().unwrap_or(0);
    if rss.len() < FLOOD_SECS as usize || max_kib >= BUDGET_MIB << 10 {
        return Err(format!(
            "{} RSS samples, max {max_kib} KiB against {BUDGET_MIB} MiB",
            rss.len()
        ));
    }
    // Keys: each showed its effect, within a bound; the worst is reported.
    let keys = out.read("keys.txt")?;
    let delays: Vec<(&str, u64)> = keys
        .lines()
        .filter_map(|l| {
            let (k, ms) = l.split_once(' ')?;
            Some((k, ms.parse().ok()?))
        })
        .collect();
    let worst = delays
        .iter()
        .max_by_key(|d| d.1)
        .copied()
        .unwrap_or_default();
    println!(
        "busy_host: {} key presses, worst {} ms ({}); RSS max {max_kib} KiB of {BUDGET_MIB} MiB; {}",
        delays.len(),
        worst.1,
        worst.0,
        out.read("flood.rounds")?.trim()
    );
    if delays.len() < 20 || worst.1 > KEY_BOUND_MS {
        return Err(format!("key delays (ms):\n{keys}"));
    }
    // The status line shows evictions, the list where it starts; q leaves nothing attached.
    let status = out.read("status.txt")?;
    if !status.contains("older evicted") || !status.contains("mem ") {
        return Err(format!("no evictions on the screen:\n{status}"));
    }
    let left = out.read("after_quit")?;
    if left.trim() != "programs 0 links 0" {
        return Err(format!("BPF objects left after q: {left}"));
    }
    // Names: the tree of an echo request into the held namespace names its process.
    let holder = out.read("holder.pid")?.trim().to_string();
    let names = out.read("names.txt")?;
    let held = format!("(netns sleep[{holder}])");
    if !names.contains(&held) || !names.contains("(netns a)") {
        return Err(format!("the tree names neither {held} nor a:\n{names}"));
    }
    // Self-exclusion: the connection is left out by default and said so; traced when asked.
    for tag in ["default", "traced"] {
        let said = out.read(&format!("ssh-{tag}.client"))?;
        let rec = Recording::read(&out.path(&format!("ssh-{tag}.vrft")))
            .map_err(|e| format!("ssh-{tag}.vrft: {e}\n{said}"))?;
        let port: u16 = out
            .read(&format!("ssh-{tag}.port"))?
            .trim()
            .parse()
            .map_err(|e| format!("ssh-{tag}.port: {e}"))?;
        let (ssh, pings) = ssh_and_pings(&rec, port);
        let line = format!("not tracing this SSH session's connection {}:", veth::A);
        let ok = match tag {
            "default" => said.contains(&line) && ssh == 0,
            _ => !said.contains("not tracing") && ssh >= 10,
        };
        if !ok || pings < 3 || !said.contains("rc=0") {
            return Err(format!(
                "ssh {tag}: {ssh} packets of the connection, {pings} echo requests; the client saw:\n{said}"
            ));
        }
    }
    Ok(())
}

/// Packets on the emulated SSH server's port, and echo requests.
fn ssh_and_pings(rec: &Recording, port: u16) -> (usize, usize) {
    let model = Model::from_events(&rec.header.info, &rec.events);
    let flows: Vec<String> = model.packets().iter().map(flow_text).collect();
    let port = format!(":{port}");
    (
        flows.iter().filter(|f| f.contains(&port)).count(),
        flows.iter().filter(|f| f.contains("echo request")).count(),
    )
}
