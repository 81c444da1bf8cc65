#!/usr/bin/env python3
"""Refresh the screen captures in docs/user-guide.md from the insta snapshots.

Each capture in the guide follows a marker naming its snapshot, e.g.
  <!-- capture: ui_real_recording__snapshot_latency_view tail=2 -->
and is the snapshot's text (the last `tail` lines only, when given). Run it after
`INSTA_UPDATE=always cargo test` re-took the snapshots, e.g. on a new recording.
"""
import glob
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUIDE = os.path.join(ROOT, "docs", "user-guide.md")
MARKER = re.compile(r"<!-- capture: (\S+)(?: tail=(\d+))? -->")


def snapshot(name):
    paths = glob.glob(os.path.join(ROOT, "**", "snapshots", name + ".snap"), recursive=True)
    if len(paths) != 1:
        sys.exit(f"guide-captures: snapshot {name}: found {len(paths)} files, want 1")
    lines = open(paths[0]).read().split("\n")
    body = lines[[i for i, l in enumerate(lines) if l == "---"][1] + 1 :]
    # insta quotes every line of a rendered terminal buffer.
    body = [l[1:-1] if l.startswith('"') and l.endswith('"') else l for l in body]
    while body and not body[-1].strip():
        body.pop()
    return [l.rstrip() for l in body]


def main():
    guide = open(GUIDE).read().split("\n")
    out, i, n = [], 0, 0
    while i < len(guide):
        out.append(guide[i])
        m = MARKER.fullmatch(guide[i].strip())
        i += 1
        if not m:
            continue
        if guide[i] != "```text":
            sys.exit(f"guide-captures: line {i + 1}: a ```text block must follow the marker")
        end = guide.index("```", i + 1)
        body = snapshot(m.group(1))
        if m.group(2):
            body = body[-int(m.group(2)) :]
        out += ["```text"] + body + ["```"]
        i, n = end + 1, n + 1
    open(GUIDE, "w").write("\n".join(out))
    print(f"guide-captures: {n} captures refreshed")


main()
