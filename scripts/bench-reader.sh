#!/usr/bin/env bash
# How many events per second the ring-buffer reader takes without loss: a UDP
# flood across a veth pair between two namespaces, recorded for a few seconds
# per sending rate with the backend this machine allows. Prints a table.
# Usage: sudo scripts/bench-reader.sh [path/to/vrft-tui]
set -euo pipefail
bin=${1:-target/release/vrft-tui}
a=vrftbench_a b=vrftbench_b
cleanup() { ip netns del $a 2>/dev/null || true; ip netns del $b 2>/dev/null || true; }
trap cleanup EXIT
cleanup
ip netns add $a; ip netns add $b
ip -n $a link add eth0 type veth peer name eth0 netns $b
ip -n $a addr add 10.88.0.1/24 dev eth0; ip -n $b addr add 10.88.0.2/24 dev eth0
for ns in $a $b; do ip -n $ns link set lo up; ip -n $ns link set eth0 up; done

flood() { # RATE SECONDS: UDP datagrams per second (0 = as fast as possible)
  ip netns exec $a python3 - "$1" "$2" <<'PY'
import socket, sys, time
rate, secs = int(sys.argv[1]), float(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end, n, start = time.time() + secs, 0, time.time()
while time.time() < end:
    s.sendto(n.to_bytes(4, "big"), ("10.88.0.2", 9))
    n += 1
    if rate and n % 100 == 0:
        ahead = n / rate - (time.time() - start)
        if ahead > 0: time.sleep(ahead)
print(n)
PY
}

printf '| sending rate (pkt/s) | packets sent | events | events/s | lost | loss %% |\n|---|---|---|---|---|---|\n'
for rate in 2000 10000 50000 0; do
  "$bin" record -o /tmp/vrft-bench.vrft --netns $a --json --duration 4 udp > /tmp/vrft-bench.json 2>/tmp/vrft-bench.err &
  rec=$!
  until grep -q '^armed' /tmp/vrft-bench.err; do sleep 0.1; done
  sent=$(flood $rate 3)
  wait $rec
  python3 - "$rate" "$sent" <<'PY'
import json, sys
d = json.load(open("/tmp/vrft-bench.json"))
rate, sent = sys.argv[1], int(sys.argv[2])
ev, lost = d["events"], d["lost"]
print(f"| {rate if rate != '0' else 'max'} | {sent} | {ev} | {ev / 3:.0f} | {lost} | {100 * lost / max(1, ev + lost):.2f} |")
PY
done
rm -f /tmp/vrft-bench.vrft /tmp/vrft-bench.json /tmp/vrft-bench.err
