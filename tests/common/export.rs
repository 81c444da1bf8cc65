//! Checks of `vrft-tui export` against independent readers: the real tshark and tcpdump for
//! pcap-ng, Perfetto's own perfetto_trace.proto through protoc and Python's protobuf for the
//! Perfetto trace, and a JSON Schema validator for the JSON lines. Shared by the host tests
//! (fixtures) and the VM scenario that checks a fresh recording.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use vrft_events::record::Recording;
use vrft_ui::model::{Model, ROOT};

/// Runs `cmd`, returning its stdout; a tool that is missing says how to get it.
pub fn run(cmd: &mut Command) -> Result<String, String> {
    let name = cmd.get_program().to_string_lossy().into_owned();
    let out = cmd
        .output()
        .map_err(|e| format!("{name}: {e} (scripts/setup.sh installs it)"))?;
    if !out.status.success() {
        return Err(format!(
            "{name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| format!("{name}: {e}"))
}

/// `vrft-tui export REC -f FORMAT -o OUT` into `dir`.
pub fn export(bin: &Path, rec: &Path, format: &str, dir: &Path) -> Result<PathBuf, String> {
    let out = dir.join(format!("export.{format}"));
    run(Command::new(bin)
        .arg("export")
        .arg(rec)
        .args(["-f", format, "-o"])
        .arg(&out))?;
    Ok(out)
}

fn model(rec: &Path) -> Result<(Recording, Model), String> {
    let r = Recording::read(rec).map_err(|e| format!("{e:#}"))?;
    let m = Model::from_events(&r.header.info, &r.events);
    Ok((r, m))
}

/// What tshark decoded of the pcap-ng export.
pub struct PcapReport {
    pub frames: usize,
    pub vxlan: usize,
    pub inner_udp: usize,
    /// The interfaces (netns, ifindex) each packet id has frames on.
    pub ifaces_of: BTreeMap<u32, BTreeSet<(u32, u32)>>,
}

/// The pcap-ng export read by tshark and tcpdump: as many frames as header snapshots, per
/// interface (named by its description's netns and ifindex) as many as the recording took
/// there, every comment names a packet id of the recording, and every VXLAN frame's inner
/// IP header (and inner UDP datagram, when it is one) is decoded.
pub fn check_pcapng(bin: &Path, rec: &Path, dir: &Path) -> Result<PcapReport, String> {
    let (r, m) = model(rec)?;
    let info = &r.header.info;
    let mut want: BTreeMap<(u32, u32), usize> = BTreeMap::new();
    for p in m.packets() {
        for (node, _) in p.headers() {
            *want.entry(p.dev(&p.nodes[*node as usize])).or_default() += 1;
        }
    }
    let file = export(bin, rec, "pcapng", dir)?;
    let fields = run(Command::new("tshark")
        .arg("-r")
        .arg(&file)
        .args(["-T", "fields", "-E", "separator=|", "-E", "occurrence=a"])
        .args(["-E", "aggregator=;"])
        .args(["-e", "frame.interface_description", "-e", "frame.comment"])
        .args(["-e", "vxlan.vni", "-e", "ip.proto", "-e", "udp.srcport"])
        .args(["-e", "eth.src", "-e", "eth.type"]))?;
    let ids: std::collections::HashSet<u32> = m.packets().iter().map(|p| p.id).collect();
    let mut got: BTreeMap<(u32, u32), usize> = BTreeMap::new();
    let mut report = PcapReport {
        frames: 0,
        vxlan: 0,
        inner_udp: 0,
        ifaces_of: BTreeMap::new(),
    };
    for line in fields.lines() {
        let f: Vec<&str> = line.split('|').collect();
        let [desc, comment, vni, protos, sports, src_macs, types] = f[..] else {
            return Err(format!("tshark line {line:?}"));
        };
        report.frames += 1;
        // "netns b (4026532142) ifindex 4"
        let key = desc
            .split_once('(')
            .and_then(|(_, rest)| rest.split_once(") ifindex "))
            .and_then(|(ns, ifi)| Some((ns.parse().ok()?, ifi.parse().ok()?)))
            .ok_or_else(|| format!("interface description {desc:?}"))?;
        *got.entry(key).or_default() += 1;
        let id: u32 = comment
            .strip_prefix("vrft packet ")
            .and_then(|s| s.split(' ').next()?.parse().ok())
            .ok_or_else(|| format!("comment {comment:?} names no packet"))?;
        if !ids.contains(&id) {
            return Err(format!("comment names packet {id}, not in the recording"));
        }
        report.ifaces_of.entry(id).or_default().insert(key);
        if !comment.contains(";vrft-json: {") {
            return Err(format!("no JSON comment in {comment:?}"));
        }
        if vni.is_empty() {
            continue;
        }
        report.vxlan += 1;
        let inner_type = types.split(';').nth(1).unwrap_or("");
        // Inner Ethernet, then (for IPv4) the inner IP header and (for UDP) the inner datagram.
        let macs = src_macs.split(';').count();
        let protos: Vec<&str> = protos.split(';').collect();
        let inner_ip = inner_type == "0x0800" || inner_type == "0x00000800";
        if macs != 2 || (inner_ip && protos.len() != 2) {
            return Err(format!(
                "VXLAN frame of packet {id}: inner frame not decoded ({src_macs:?}, {protos:?})"
            ));
        }
        if inner_ip && protos[1] == "17" {
            if sports.split(';').count() != 2 {
                return Err(format!(
                    "VXLAN frame of packet {id}: inner UDP not decoded ({sports:?})"
                ));
            }
            report.inner_udp += 1;
        }
    }
    if got != want {
        return Err(format!(
            "frames per (netns, ifindex): tshark {got:?}, recording {want:?} ({})",
            info.kernel
        ));
    }
    // One line per frame starts with its time; a VXLAN frame's inner frame follows on its own.
    let tcpdump = run(Command::new("tcpdump").arg("-nr").arg(&file))?;
    let printed = tcpdump
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()))
        .count();
    if printed != report.frames {
        return Err(format!(
            "tcpdump printed {printed} frames of {}",
            report.frames
        ));
    }
    Ok(report)
}

/// The Perfetto export decoded by `tests/data/perfetto/decode.py`: every call with both
/// halves is a slice on its CPU's track with the call's timestamp and duration, nested under
/// its caller's slice as the tree nests it; each packet's flow links its outermost slices in
/// time order, across CPUs. Returns (slices checked, flows crossing CPUs).
pub fn check_perfetto(bin: &Path, rec: &Path, dir: &Path) -> Result<(usize, usize), String> {
    let (r, m) = model(rec)?;
    let info = &r.header.info;
    let file = export(bin, rec, "perfetto", dir)?;
    let protos = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/perfetto");
    run(Command::new("protoc")
        .args(["-I", protos, "--python_out"])
        .arg(dir)
        .arg("perfetto_trace.proto"))?;
    // Debian's python3-protobuf, not a virtualenv's python3 without it.
    let python = ["/usr/bin/python3", "python3"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("python3");
    let decoded = run(Command::new(python)
        .arg(format!("{protos}/decode.py"))
        .arg(dir)
        .arg(&file))?;
    let d: Value = serde_json::from_str(&decoded).map_err(|e| e.to_string())?;
    if d["unclosed"] != 0 {
        return Err(format!("{} slices never end", d["unclosed"]));
    }
    let slices = d["slices"].as_array().ok_or("no slices")?;
    let tracks = &d["tracks"];
    // (packet, ts, name) -> slice index
    let mut by_key: HashMap<(u64, u64, &str), usize> = HashMap::new();
    for (i, s) in slices.iter().enumerate() {
        if let Some(p) = s["args"]["packet"].as_u64() {
            if s["args"].get("tid").is_some() {
                by_key.insert(
                    (
                        p,
                        s["ts"].as_u64().unwrap_or(0),
                        s["name"].as_str().unwrap_or(""),
                    ),
                    i,
                );
            }
        }
    }
    let (mut checked, mut crossing) = (0, 0);
    for p in m.packets() {
        let mut slice_of = vec![None; p.nodes.len()];
        for (i, n) in p.nodes.iter().enumerate() {
            let name = &info.functions[n.func as usize].name;
            let si = *by_key
                .get(&(p.id.into(), n.ts, name.as_str()))
                .ok_or_else(|| format!("packet {} call {i} {name}: no slice", p.id))?;
            slice_of[i] = Some(si);
            let s = &slices[si];
            let track = s["track"].to_string();
            let want_track = format!("CPU {}", n.cpu);
            if tracks[&track]["name"] != want_track.as_str() {
                return Err(format!(
                    "packet {} call {i} {name}: on {} not {want_track}",
                    p.id, tracks[&track]["name"]
                ));
            }
            let Some(dur) = n.duration() else {
                if s["instant"] != true {
                    return Err(format!(
                        "packet {} call {i} {name}: no duration but a slice",
                        p.id
                    ));
                }
                continue;
            };
            if s["instant"] == true || s["dur"] != dur {
                return Err(format!(
                    "packet {} call {i} {name}: slice {s} for a {dur} ns call",
                    p.id
                ));
            }
            checked += 1;
            // The nearest enclosing slice of the same packet: another packet's call may sit
            // between (an interrupt, or a packet sent while handling this one).
            let mut parent = s["parent"].as_u64().map(|x| x as usize);
            while let Some(ps) =
                parent.filter(|&ps| slices[ps]["args"]["packet"] != u64::from(p.id))
            {
                parent = slices[ps]["parent"].as_u64().map(|x| x as usize);
            }
            let want = (n.parent != ROOT && p.nodes[n.parent as usize].cpu == n.cpu)
                .then(|| slice_of[n.parent as usize])
                .flatten();
            // One track per CPU cannot show two stacks of the same packet apart: a call on
            // another thread's stack (the tree's root there) may fall inside a call of a
            // thread that was preempted on this CPU. Then the slices nest by time only.
            let other_stack = |ps: usize| slices[ps]["args"]["tid"] != u64::from(n.tid);
            if parent != want && !(want.is_none() && parent.is_some_and(other_stack)) {
                return Err(format!(
                    "packet {} call {i} {name}: slice parent {parent:?}, tree parent call {} (slice {want:?})",
                    p.id, n.parent
                ));
            }
        }
        // Flows: the outermost calls in time order, linked one to the next.
        let mut outer: Vec<(u64, usize)> = p
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.parent == ROOT || p.nodes[n.parent as usize].cpu != n.cpu)
            .map(|(i, n)| (n.ts, slice_of[i].unwrap_or_default()))
            .collect();
        outer.sort();
        let fid = (1u64 << 40) | u64::from(p.id);
        let links: Vec<(usize, usize)> = d["flows"]
            .as_array()
            .ok_or("no flows")?
            .iter()
            .filter(|f| f["id"] == fid)
            .map(|f| {
                (
                    f["from"].as_u64().unwrap_or(0) as usize,
                    f["to"].as_u64().unwrap_or(0) as usize,
                )
            })
            .collect();
        if links.len() + 1 != outer.len().max(1) {
            return Err(format!(
                "packet {}: {} flow links for {} outermost calls",
                p.id,
                links.len(),
                outer.len()
            ));
        }
        for &(a, b) in &links {
            if slices[a]["args"]["packet"] != u64::from(p.id)
                || slices[b]["args"]["packet"] != u64::from(p.id)
            {
                return Err(format!("packet {}: a flow leaves the packet", p.id));
            }
            if slices[a]["track"] != slices[b]["track"] {
                crossing += 1;
            }
        }
    }
    Ok((checked, crossing))
}

/// Every line of the JSON export is valid under `vrft-tui export --schema`, and the lines
/// are the recording's packets with all their calls. Returns the number of lines.
pub fn check_json(bin: &Path, rec: &Path) -> Result<usize, String> {
    let (_, m) = model(rec)?;
    let schema: Value = serde_json::from_str(&run(Command::new(bin).args(["export", "--schema"]))?)
        .map_err(|e| format!("schema: {e}"))?;
    let validator = jsonschema::validator_for(&schema).map_err(|e| format!("schema: {e}"))?;
    let lines = run(Command::new(bin)
        .arg("export")
        .arg(rec)
        .args(["-f", "json"]))?;
    let mut n = 0;
    for (line, p) in lines.lines().zip(m.packets()) {
        let v: Value = serde_json::from_str(line).map_err(|e| format!("line {}: {e}", n + 1))?;
        if let Some(e) = validator.iter_errors(&v).next() {
            return Err(format!(
                "line {} (packet {}): {e} at {}",
                n + 1,
                p.id,
                e.instance_path()
            ));
        }
        fn count(calls: &Value) -> usize {
            calls
                .as_array()
                .map_or(0, |a| a.iter().map(|c| 1 + count(&c["calls"])).sum())
        }
        if v["id"] != p.id || count(&v["calls"]) != p.nodes.len() {
            return Err(format!(
                "line {}: not packet {} with {} calls",
                n + 1,
                p.id,
                p.nodes.len()
            ));
        }
        n += 1;
    }
    if n != m.packets().len() {
        return Err(format!("{n} lines for {} packets", m.packets().len()));
    }
    Ok(n)
}
