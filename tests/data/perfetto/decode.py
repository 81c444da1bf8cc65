"""Reads a Perfetto trace with Perfetto's own perfetto_trace.proto (compiled by protoc, parsed
by Google's protobuf runtime) and prints, as JSON, what a trace viewer would build from it:
tracks, slices with their nesting per track, instants, and the flows between slices.
An independent reader of `vrft-tui export -f perfetto`: it shares no code with the writer.

usage: decode.py DIR_WITH_perfetto_trace_pb2 TRACE
"""
import json
import sys

sys.path.insert(0, sys.argv[1])
import perfetto_trace_pb2 as pb  # noqa: E402

trace = pb.Trace()
with open(sys.argv[2], "rb") as f:
    trace.ParseFromString(f.read())

tracks = {}
slices = []
open_by_track = {}
last_by_flow = {}
flows = []
TE = pb.TrackEvent
# Like trace_processor: events in timestamp order (stable, so file order breaks ties).
packets = sorted(trace.packet, key=lambda p: p.timestamp if p.HasField("track_event") else 0)
for packet in packets:
    if packet.HasField("track_descriptor"):
        d = packet.track_descriptor
        tracks[d.uuid] = {"name": d.name, "parent": d.parent_uuid if d.HasField("parent_uuid") else None}
        continue
    if not packet.HasField("track_event"):
        continue
    e = packet.track_event
    stack = open_by_track.setdefault(e.track_uuid, [])
    if e.type == TE.TYPE_SLICE_END:
        s = slices[stack.pop()]
        s["dur"] = packet.timestamp - s["ts"]
        continue
    args = {}
    for a in e.debug_annotations:
        args[a.name] = a.uint_value if a.HasField("uint_value") else a.string_value
    s = {
        "track": e.track_uuid,
        "name": e.name,
        "ts": packet.timestamp,
        "dur": 0 if e.type == TE.TYPE_INSTANT else None,
        "instant": e.type == TE.TYPE_INSTANT,
        "parent": stack[-1] if stack else None,
        "categories": list(e.categories),
        "args": args,
    }
    slices.append(s)
    i = len(slices) - 1
    for fid in e.flow_ids:
        if fid in last_by_flow:
            flows.append({"id": fid, "from": last_by_flow[fid], "to": i})
        last_by_flow[fid] = i
    if e.type == TE.TYPE_SLICE_BEGIN:
        stack.append(i)

unclosed = sum(len(s) for s in open_by_track.values())
json.dump({"tracks": {str(k): v for k, v in tracks.items()}, "slices": slices, "flows": flows,
           "unclosed": unclosed}, sys.stdout)
