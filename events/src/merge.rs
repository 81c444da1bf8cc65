//! Recordings of several hosts as one session: a packet that carries the same payload id
//! (`--payload-id`) on two hosts becomes one packet whose tree holds each host's part, in
//! the first recording's clock.
//!
//! Monotonic clocks differ per host, so each other host's offset is estimated from the
//! packets both saw, as NTP does with its four timestamps: a packet sent by the first host
//! left it (its last `net:net_dev_start_xmit`) before the other host first saw it, which
//! bounds the offset from below; a packet sent the other way bounds it from above. The
//! estimate is the middle of the bounds and its uncertainty half their width. With traffic
//! one way only, the wall clocks (each recording's realtime offset) give the estimate, kept
//! within the one bound. `--clock-offset` overrides it.
//!
//! What stays per host is made distinct: function ids (each host's table is appended),
//! network namespaces (another host's inodes are renumbered), stacks and threads
//! ([`Event::host`]), and packet ids without a payload id. The same payload id seen again on
//! one host after [`OCCURRENCE_GAP`] (a generator that restarted its counter, two datagrams
//! that share their first 4 bytes) is another occurrence: a packet of its own, shown as
//! `ID#2` ([`SessionInfo::packet_label`]).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::event::{flags, Context, Event, Kind};
use crate::record::{Damage, Header, Recording, Trailer};
use crate::session::{Host, SessionInfo, Stats};

/// A payload id seen again on one host this long after its last event is a new occurrence.
pub const OCCURRENCE_GAP: u64 = 1_000_000_000;
/// Parts of one id on two hosts belong together when the later starts within this of the
/// earlier's end (in the aligned clock).
const JOIN_WINDOW: u64 = 1_000_000_000;
/// Counter ids (packets without a payload id) have the top bit set, as the tracer's do.
const COUNTER: u32 = 0x8000_0000;
const MAX_HOSTS: usize = 200;

/// One host of a merged session.
#[derive(Clone, Debug, PartialEq)]
pub struct HostPart {
    /// Its name in markers and filters: the hostname, `NAME#2` when two share one.
    pub label: String,
    pub host: Host,
    pub kernel: String,
    pub file: PathBuf,
    /// Its functions in the merged table: `first_func..end_func`.
    pub first_func: u32,
    pub end_func: u32,
    pub clock: Clock,
}

/// How a host's timestamps were put on the first recording's clock.
#[derive(Clone, Debug, PartialEq)]
pub struct Clock {
    /// Added to this host's timestamps.
    pub offset_ns: i64,
    pub how: ClockSource,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ClockSource {
    /// The first recording: the reference.
    Reference,
    /// `--clock-offset`.
    Given,
    /// From packets seen on both: the offset lies between `lower` and `upper` (`None`: no
    /// packet bounded that side). `to`/`from`: packets sent to / received from this host.
    Bounds {
        lower: Option<i64>,
        upper: Option<i64>,
        to: usize,
        from: usize,
        wall: Option<i64>,
    },
    /// No packet went from one host to the other (`shared`: payload ids both saw, each
    /// sent by both or by neither): the wall clocks' difference, or 0 without one.
    WallClock { known: bool, shared: usize },
}

impl Clock {
    /// Half the width of the bounds, when the packets gave both.
    pub fn uncertainty_ns(&self) -> Option<u64> {
        match self.how {
            ClockSource::Reference | ClockSource::Given => Some(0),
            ClockSource::Bounds {
                lower: Some(l),
                upper: Some(u),
                ..
            } => Some(u.abs_diff(l) / 2),
            _ => None,
        }
    }

    /// `+1.234567890 s ± 4.2 us (12 packets to, 10 from)`: for markers and headers.
    pub fn describe(&self) -> String {
        let off = format!("{:+.9} s", self.offset_ns as f64 / 1e9);
        match &self.how {
            ClockSource::Reference => "reference clock".into(),
            ClockSource::Given => format!("{off} (--clock-offset)"),
            ClockSource::Bounds {
                lower,
                upper,
                to,
                from,
                ..
            } => match (lower, upper) {
                (Some(l), Some(u)) if l <= u => format!(
                    "{off} ± {} ({to} packets to it, {from} from it)",
                    human(u.abs_diff(*l) / 2)
                ),
                (Some(l), Some(u)) => format!(
                    "{off}, bounds crossed by {} ({to} packets to it, {from} from it): \
                     clocks drifting, or set it with --clock-offset",
                    human(l.abs_diff(*u))
                ),
                (Some(l), None) => format!(
                    "{off} (at least {:+.9} s from {to} packets to it; none came back: \
                     wall clocks)",
                    *l as f64 / 1e9
                ),
                (None, Some(u)) => format!(
                    "{off} (at most {:+.9} s from {from} packets from it; none went to it: \
                     wall clocks)",
                    *u as f64 / 1e9
                ),
                (None, None) => off,
            },
            ClockSource::WallClock { known, shared } => {
                let why = if *shared == 0 {
                    "no payload id seen on both".to_string()
                } else {
                    format!(
                        "none of the {shared} payload ids seen on both went from one to the other"
                    )
                };
                if *known {
                    format!("{off} (wall clocks: {why})")
                } else {
                    format!("{off} (unknown: {why}, no wall clock)")
                }
            }
        }
    }
}

fn human(ns: u64) -> String {
    if ns < 10_000 {
        format!("{ns} ns")
    } else if ns < 10_000_000 {
        format!("{:.1} us", ns as f64 / 1e3)
    } else {
        format!("{:.1} ms", ns as f64 / 1e6)
    }
}

/// A `--clock-offset HOST=NS`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GivenOffset {
    pub host: String,
    pub ns: i64,
}

impl std::str::FromStr for GivenOffset {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (host, ns) = s
            .split_once('=')
            .ok_or_else(|| format!("'{s}' is not HOST=NS (e.g. b=-1500000)"))?;
        let ns = ns
            .trim()
            .parse()
            .map_err(|_| format!("'{ns}' in '{s}' is not a number of nanoseconds"))?;
        Ok(GivenOffset {
            host: host.trim().to_string(),
            ns,
        })
    }
}

/// What is kept of each recording besides its events and session.
struct Meta {
    path: PathBuf,
    first_func: u32,
    end_func: u32,
    trailer: Option<Trailer>,
    damage: Damage,
    started: u64,
}

/// One host's stretch of one payload id: its events' positions, in time order.
struct Part {
    host: usize,
    id: u32,
    /// Positions in that host's (time-sorted) events.
    events: Vec<usize>,
    start: u64,
    end: u64,
}

/// Merges `recs` (at least two, each with its path) into one recording.
pub fn merge(recs: Vec<(PathBuf, Recording)>, given: &[GivenOffset]) -> Result<Recording, String> {
    check_set(&recs)?;
    let labels = labels(&recs);
    if let Some(g) = given.iter().find(|g| !labels.contains(&g.host)) {
        return Err(format!(
            "--clock-offset names host '{}', which none of the recordings is (hosts: {})",
            g.host,
            labels.join(", ")
        ));
    }
    let mut hosts: Vec<Vec<Event>> = Vec::with_capacity(recs.len());
    let mut infos = Vec::with_capacity(recs.len());
    let mut first_func = 0u32;
    let mut metas = Vec::new();
    for (k, (path, rec)) in recs.into_iter().enumerate() {
        let info = rec.header.info;
        let n = info.functions.len() as u32;
        let mut events = rec.events;
        for e in &mut events {
            e.host = k as u8;
            e.func += first_func;
        }
        // Stable: events of one stack keep their order when timestamps tie.
        events.sort_by_key(|e| e.ts_ns);
        metas.push(Meta {
            path,
            first_func,
            end_func: first_func + n,
            trailer: rec.trailer,
            damage: rec.damage,
            started: rec.header.started_unix_ns,
        });
        first_func += n;
        hosts.push(events);
        infos.push(info);
    }
    let parts: Vec<Vec<Part>> = hosts
        .iter()
        .enumerate()
        .map(|(k, ev)| parts_of(k, ev))
        .collect();
    let clocks = clocks(&hosts, &parts, &infos, &labels, given);

    // Renumber other hosts' namespaces: their inodes may equal the first host's.
    let mut netns_maps: Vec<HashMap<u32, u32>> = vec![HashMap::new(); hosts.len()];
    for (k, events) in hosts.iter_mut().enumerate().skip(1) {
        let map = &mut netns_maps[k];
        let mut renumber = |ns: u32| -> u32 {
            if ns == 0 {
                return 0;
            }
            let next = (k as u32) << 24 | (map.len() as u32 + 1);
            *map.entry(ns).or_insert(next)
        };
        for i in &infos[k].interfaces {
            renumber(i.netns);
        }
        for n in &infos[k].namespaces {
            renumber(n.inode);
        }
        for e in events.iter_mut() {
            e.netns = renumber(e.netns);
        }
    }

    // Aligned times; the earliest event stays at or after 0.
    let aligned = |k: usize, ts: u64| ts as i128 + clocks[k].offset_ns as i128;
    let min = hosts
        .iter()
        .enumerate()
        .filter_map(|(k, ev)| ev.first().map(|e| aligned(k, e.ts_ns)))
        .min()
        .unwrap_or(0);
    let shift = (-min).max(0);
    let at = |k: usize, ts: u64| (aligned(k, ts) + shift) as u64;

    // Packets: parts of one payload id on different hosts join when close in time; the
    // first group keeps the id, later ones (and counter ids) get new counter ids.
    let mut all: Vec<&Part> = parts.iter().flatten().collect();
    all.sort_by_key(|p| (p.id, at(p.host, p.start)));
    let mut next_counter = 1u32;
    let mut aliases = Vec::new();
    // (host, position) -> (new id, sort key of its part)
    let mut assign: Vec<Vec<(u32, (u64, u64))>> =
        hosts.iter().map(|ev| vec![(0, (0, 0)); ev.len()]).collect();
    let mut i = 0;
    while i < all.len() {
        let id = all[i].id;
        let mut nth = 0u16;
        while i < all.len() && all[i].id == id {
            // One group: parts of distinct hosts, each starting before the group ends.
            let group_start = at(all[i].host, all[i].start);
            let mut end = at(all[i].host, all[i].end);
            let mut members = vec![i];
            let mut j = i + 1;
            while j < all.len()
                && all[j].id == id
                && id & COUNTER == 0
                && at(all[j].host, all[j].start) <= end + JOIN_WINDOW
                && !members.iter().any(|&m| all[m].host == all[j].host)
            {
                end = end.max(at(all[j].host, all[j].end));
                members.push(j);
                j += 1;
            }
            let new_id = if id & COUNTER == 0 && nth == 0 {
                id
            } else {
                let n = next_counter;
                next_counter += 1;
                if id & COUNTER == 0 {
                    aliases.push((COUNTER | n, id, nth + 1));
                }
                COUNTER | n
            };
            nth += 1;
            for &m in &members {
                let part = all[m];
                let key = (group_start, at(part.host, part.start));
                for &pos in &part.events {
                    assign[part.host][pos] = (new_id, key);
                }
            }
            i = j;
        }
    }

    // One stream: packet by packet, each host's part whole and in time order, so a tree
    // shows the first host's part, then the next one's.
    let mut merged: Vec<(u64, u64, u64, Event)> = Vec::new();
    for (k, events) in hosts.into_iter().enumerate() {
        for (pos, mut e) in events.into_iter().enumerate() {
            let (id, (group, part)) = assign[k][pos];
            e.packet = id;
            e.ts_ns = at(k, e.ts_ns);
            merged.push((group, part, e.ts_ns, e));
        }
    }
    merged.sort_by_key(|(g, p, ts, e)| (*g, e.packet, *p, *ts));
    let events: Vec<Event> = merged.into_iter().map(|(_, _, _, e)| e).collect();

    let mut info = SessionInfo::default();
    let mut trailer = Some(Trailer::default());
    let mut damage = Damage::default();
    let mut reasons = Vec::new();
    let mut started = u64::MAX;
    let mut host_parts = Vec::new();
    for (k, (inf, meta)) in infos.into_iter().zip(metas).enumerate() {
        let map = &netns_maps[k];
        let ns = |n: u32| {
            if k == 0 {
                n
            } else {
                map.get(&n).copied().unwrap_or(n)
            }
        };
        if k == 0 {
            info.backend = inf.backend;
            info.drop_reasons = inf.drop_reasons.clone();
            info.skb_fields = inf.skb_fields.clone();
            info.realtime_offset_ns = inf.realtime_offset_ns.map(|r| r - shift as i64);
            info.snaplen = inf.snaplen;
        }
        info.functions.extend(inf.functions);
        info.probes.extend(inf.probes);
        info.interfaces
            .extend(inf.interfaces.into_iter().map(|mut i| {
                i.netns = ns(i.netns);
                i
            }));
        info.namespaces
            .extend(inf.namespaces.into_iter().map(|mut n| {
                n.inode = ns(n.inode);
                n
            }));
        let label = &labels[k];
        if !inf.filter.is_empty() {
            reasons.push(format!("{label}: {}", inf.filter));
        }
        trailer = match (trailer, meta.trailer) {
            (Some(mut sum), Some(t)) => {
                add_stats(&mut sum.stats, &t.stats);
                sum.duration_ns = sum.duration_ns.max(t.duration_ns);
                Some(sum)
            }
            _ => None,
        };
        damage.frames_read += meta.damage.frames_read;
        damage.problems.extend(meta.damage.problems);
        started = started.min(meta.started);
        host_parts.push(HostPart {
            label: label.clone(),
            host: inf.host.unwrap_or_default(),
            kernel: inf.kernel.clone(),
            file: meta.path,
            first_func: meta.first_func,
            end_func: meta.end_func,
            clock: clocks[k].clone(),
        });
    }
    info.filter = reasons.join("; ");
    info.kernel = host_parts
        .iter()
        .map(|h| format!("{} ({})", h.kernel, h.label))
        .collect::<Vec<_>>()
        .join(", ");
    let backend_reason = format!(
        "{} recordings merged: {}",
        host_parts.len(),
        host_parts
            .iter()
            .map(|h| format!("{} ({})", h.label, h.file.display()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    info.hosts = host_parts;
    info.aliases = aliases;
    Ok(Recording {
        header: Header {
            info,
            backend_reason,
            started_unix_ns: started,
        },
        events,
        trailer,
        damage,
    })
}

/// Refuses what cannot be merged, naming the files.
fn check_set(recs: &[(PathBuf, Recording)]) -> Result<(), String> {
    let name = |p: &Path| p.display().to_string();
    for (path, rec) in recs {
        if rec.header.info.host.is_none() {
            return Err(format!(
                "{} does not say which host recorded it (made before recording format 8): \
                 merging needs recordings from this vrft-tui or newer; open it alone",
                name(path)
            ));
        }
    }
    let host = |r: &Recording| r.header.info.host.clone().unwrap_or_default();
    for (i, (pa, a)) in recs.iter().enumerate() {
        for (pb, b) in &recs[i + 1..] {
            let (ha, hb) = (host(a), host(b));
            if ha.boot_id == hb.boot_id {
                return Err(format!(
                    "{} and {} come from the same boot of {}: merging is for recordings of \
                     different hosts; open each alone",
                    name(pa),
                    name(pb),
                    ha.hostname
                ));
            }
            if ha.clock != hb.clock {
                return Err(format!(
                    "{} timestamps with the {} clock, {} with the {} clock: they cannot be \
                     aligned",
                    name(pa),
                    ha.clock,
                    name(pb),
                    hb.clock
                ));
            }
            if a.header.info.skb_fields != b.header.info.skb_fields {
                return Err(format!(
                    "{} and {} were recorded with different --skb-fields ({:?}, {:?}): record \
                     both with the same",
                    name(pa),
                    name(pb),
                    a.header.info.skb_fields,
                    b.header.info.skb_fields
                ));
            }
        }
    }
    // Renumbered namespaces are `host << 24 | n`, below the kernel's 0xf0000000.
    if recs.len() > MAX_HOSTS {
        return Err(format!("at most {MAX_HOSTS} recordings can be merged"));
    }
    Ok(())
}

/// Hostnames, with `#2`, `#3` for hosts that share one.
fn labels(recs: &[(PathBuf, Recording)]) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    recs.iter()
        .map(|(_, r)| {
            let h = r
                .header
                .info
                .host
                .as_ref()
                .map_or("", |h| h.hostname.as_str());
            let h = if h.is_empty() { "host" } else { h };
            let n = seen.entry(h.to_string()).or_default();
            *n += 1;
            if *n == 1 {
                h.to_string()
            } else {
                format!("{h}#{n}")
            }
        })
        .collect()
}

/// The parts of each id on host `k`: an id's events, cut where one is first seen again
/// after [`OCCURRENCE_GAP`] of silence.
fn parts_of(k: usize, events: &[Event]) -> Vec<Part> {
    let mut open: HashMap<u32, usize> = HashMap::new();
    let mut parts: Vec<Part> = Vec::new();
    for (pos, e) in events.iter().enumerate() {
        let again = |p: &Part| e.flags & flags::FIRST_SEEN != 0 && e.ts_ns > p.end + OCCURRENCE_GAP;
        match open.get(&e.packet) {
            Some(&i) if !again(&parts[i]) => {
                let p = &mut parts[i];
                p.events.push(pos);
                p.end = p.end.max(e.ts_ns);
            }
            _ => {
                open.insert(e.packet, parts.len());
                parts.push(Part {
                    host: k,
                    id: e.packet,
                    events: vec![pos],
                    start: e.ts_ns,
                    end: e.ts_ns,
                });
            }
        }
    }
    parts
}

/// Each host's clock against the first's.
fn clocks(
    hosts: &[Vec<Event>],
    parts: &[Vec<Part>],
    infos: &[SessionInfo],
    labels: &[String],
    given: &[GivenOffset],
) -> Vec<Clock> {
    let mut out = vec![Clock {
        offset_ns: 0,
        how: ClockSource::Reference,
    }];
    for k in 1..hosts.len() {
        if let Some(g) = given.iter().find(|g| g.host == labels[k]) {
            out.push(Clock {
                offset_ns: g.ns,
                how: ClockSource::Given,
            });
            continue;
        }
        let wall = match (infos[0].realtime_offset_ns, infos[k].realtime_offset_ns) {
            (Some(r0), Some(rk)) => Some(rk - r0),
            _ => None,
        };
        out.push(estimate(hosts, parts, infos, k, wall));
    }
    out
}

/// The bounds from the payload ids seen once on host 0 and once on host `k`.
fn estimate(
    hosts: &[Vec<Event>],
    parts: &[Vec<Part>],
    infos: &[SessionInfo],
    k: usize,
    wall: Option<i64>,
) -> Clock {
    let once = |h: usize| -> BTreeMap<u32, &Part> {
        let mut m: BTreeMap<u32, (&Part, usize)> = BTreeMap::new();
        for p in parts[h].iter().filter(|p| p.id & COUNTER == 0) {
            m.entry(p.id).or_insert((p, 0)).1 += 1;
        }
        m.into_iter()
            .filter(|(_, (_, n))| *n == 1)
            .map(|(id, (p, _))| (id, p))
            .collect()
    };
    let (on0, onk) = (once(0), once(k));
    let xmit: Vec<Option<u32>> = infos
        .iter()
        .scan(0u32, |first, inf| {
            let f = inf
                .functions
                .iter()
                .position(|f| f.name == "net:net_dev_start_xmit")
                .map(|i| i as u32 + *first);
            *first += inf.functions.len() as u32;
            Some(f)
        })
        .collect();
    let (mut lower, mut upper): (Option<i64>, Option<i64>) = (None, None);
    let (mut to, mut from, mut shared) = (0, 0, 0);
    for (id, p0) in &on0 {
        let Some(pk) = onk.get(id) else { continue };
        shared += 1;
        let (s0, sk) = (sent_here(hosts, p0), sent_here(hosts, pk));
        if s0 && !sk {
            // Left host 0 at `dep`, first seen on k at `arr`: arr + off >= dep.
            let dep = departure(hosts, p0, xmit[0]) as i64;
            let arr = pk.start as i64;
            lower = Some(lower.map_or(dep - arr, |l| l.max(dep - arr)));
            to += 1;
        } else if sk && !s0 {
            // Left k at `dep`, first seen on host 0 at `arr`: dep + off <= arr.
            let dep = departure(hosts, pk, xmit[k]) as i64;
            let arr = p0.start as i64;
            upper = Some(upper.map_or(arr - dep, |u| u.min(arr - dep)));
            from += 1;
        }
    }
    let offset_ns = match (lower, upper) {
        (Some(l), Some(u)) => l + (u - l) / 2,
        (Some(l), None) => wall.map_or(l, |w| w.max(l)),
        (None, Some(u)) => wall.map_or(u, |w| w.min(u)),
        (None, None) => {
            return Clock {
                offset_ns: wall.unwrap_or(0),
                how: ClockSource::WallClock {
                    known: wall.is_some(),
                    shared,
                },
            }
        }
    };
    Clock {
        offset_ns,
        how: ClockSource::Bounds {
            lower,
            upper,
            to,
            from,
            wall,
        },
    }
}

/// A host sent the packet when its part starts in a process (a socket's send) and the
/// other's does not.
fn sent_here(hosts: &[Vec<Event>], p: &Part) -> bool {
    hosts[p.host][p.events[0]].ctx == Context::Process
}

/// When the packet left its sender: its last transmit to a driver there
/// (`net:net_dev_start_xmit`), else its first event (surely before the wire).
fn departure(hosts: &[Vec<Event>], p: &Part, xmit: Option<u32>) -> u64 {
    let events = &hosts[p.host];
    p.events
        .iter()
        .map(|&i| &events[i])
        .filter(|e| Some(e.func) == xmit && e.kind == Kind::Tracepoint)
        .map(|e| e.ts_ns)
        .max()
        .unwrap_or(p.start)
}

fn add_stats(sum: &mut Stats, s: &Stats) {
    sum.events += s.events;
    sum.lost += s.lost;
    sum.recursion_misses += s.recursion_misses;
    sum.stack_overflows += s.stack_overflows;
    sum.stack_missing += s.stack_missing;
    sum.malformed += s.malformed;
    sum.probe_hits.extend_from_slice(&s.probe_hits);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::FuncInfo;
    use crate::record::Header;

    /// Functions of every host: 0 `udp_sendmsg`, 1 the xmit tracepoint, 2 `udp_rcv`.
    fn host(name: &str, boot: &str, events: Vec<Event>) -> (PathBuf, Recording) {
        let f = |n: &str| FuncInfo {
            name: n.into(),
            origin: crate::event::Origin::Vmlinux,
            skb_arg: 0,
            nargs: 1,
            returns: crate::event::Returns::Value,
        };
        let info = SessionInfo {
            functions: vec![f("udp_sendmsg"), f("net:net_dev_start_xmit"), f("udp_rcv")],
            host: Some(Host {
                hostname: name.into(),
                boot_id: boot.into(),
                clock: "monotonic".into(),
            }),
            ..SessionInfo::default()
        };
        let rec = Recording {
            header: Header {
                info,
                backend_reason: String::new(),
                started_unix_ns: 0,
            },
            events,
            trailer: Some(Trailer::default()),
            damage: Damage::default(),
        };
        (PathBuf::from(format!("{name}.vrft")), rec)
    }

    fn ev(ts: u64, packet: u32, func: u32, kind: Kind, ctx: Context, first: bool) -> Event {
        Event {
            ts_ns: ts,
            packet,
            clone: 0,
            cpu: 0,
            func,
            tid: 7,
            kind,
            ctx,
            flags: if first { flags::FIRST_SEEN } else { 0 },
            ifindex: 2,
            netns: 4026531840,
            len: 100,
            ret: 0,
            extra: None,
            host: 0,
        }
    }

    /// A datagram sent at `t` on the sender's clock: entry, xmit tracepoint 10 us later,
    /// exit; seen by the receiver `wire` ns after the xmit, on its own clock.
    fn send(id: u32, t: u64) -> Vec<Event> {
        let p = Context::Process;
        vec![
            ev(t, id, 0, Kind::Entry, p, true),
            ev(t + 10_000, id, 1, Kind::Tracepoint, p, false),
            ev(t + 20_000, id, 0, Kind::Exit, p, false),
        ]
    }

    fn receive(id: u32, t: u64) -> Vec<Event> {
        let s = Context::SoftIrq;
        vec![
            ev(t, id, 2, Kind::Entry, s, true),
            ev(t + 5_000, id, 2, Kind::Exit, s, false),
        ]
    }

    /// b's clock is `skew` behind a's; the wire takes 30 us one way and 50 us the other.
    fn pair(skew: i64, back: bool) -> Vec<(PathBuf, Recording)> {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let on_b = |t: u64| (t as i64 - skew) as u64;
        for id in 1..=5u32 {
            let t = 1_000_000_000 + u64::from(id) * 1_000_000;
            a.extend(send(id, t));
            b.extend(receive(id, on_b(t + 10_000 + 30_000)));
            if back {
                let id = 1000 + id;
                let t = t + 500_000;
                b.extend(send(id, on_b(t)));
                a.extend(receive(id, t + 10_000 + 50_000));
            }
        }
        vec![host("a", "boot-a", a), host("b", "boot-b", b)]
    }

    #[test]
    fn both_directions_bound_the_offset_and_parts_join() {
        let skew = 3_000_000_000i64;
        let m = merge(pair(skew, true), &[]).unwrap();
        let b = &m.header.info.hosts[1];
        let unc = b.clock.uncertainty_ns().expect("both bounds") as i64;
        // The truth lies within the estimate's uncertainty, which the two wire
        // latencies (30 and 50 us) bound.
        assert!((b.clock.offset_ns - skew).abs() <= unc, "{:?}", b.clock);
        assert!(unc <= 40_000, "{unc}");
        assert!(b.clock.describe().contains("5 packets to it, 5 from it"));
        // Datagram 1: a's three events, then b's two, as one packet.
        let one: Vec<(u8, u32)> = m
            .events
            .iter()
            .filter(|e| e.packet == 1)
            .map(|e| (e.host, e.func))
            .collect();
        assert_eq!(one, [(0, 0), (0, 1), (0, 0), (1, 5), (1, 5)]);
        // b's functions come after a's in the table.
        assert_eq!(m.header.info.func_name(5), "udp_rcv");
        assert_eq!(m.header.info.host_of(5).map(|(k, _)| k), Some(1));
    }

    #[test]
    fn one_direction_keeps_within_its_bound() {
        let skew = -2_000_000i64;
        let m = merge(pair(skew, false), &[]).unwrap();
        let c = &m.header.info.hosts[1].clock;
        match c.how {
            ClockSource::Bounds {
                lower: Some(l),
                upper: None,
                to: 5,
                from: 0,
                ..
            } => {
                assert!(l <= skew, "the bound holds the truth: {l} {skew}");
                assert!(c.offset_ns >= l);
            }
            ref other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_given_offset_wins_and_unknown_hosts_are_refused() {
        let given = [GivenOffset {
            host: "b".into(),
            ns: 42,
        }];
        let m = merge(pair(1_000, true), &given).unwrap();
        assert_eq!(m.header.info.hosts[1].clock.offset_ns, 42);
        let err = merge(pair(1_000, true), &["c=5".parse().unwrap()]).unwrap_err();
        assert!(
            err.contains("host 'c'") && err.contains("hosts: a, b"),
            "{err}"
        );
        assert!("b5".parse::<GivenOffset>().is_err());
        assert_eq!("b=-7".parse::<GivenOffset>().unwrap().ns, -7);
    }

    #[test]
    fn a_payload_id_seen_again_later_is_another_packet() {
        let mut recs = pair(0, false);
        // a's generator restarts: id 1 again ten seconds later, received by b too.
        let later = 20_000_000_000;
        recs[0].1.events.extend(send(1, later));
        recs[1].1.events.extend(receive(1, later + 40_000));
        let m = merge(recs, &[]).unwrap();
        let info = &m.header.info;
        let ids: std::collections::BTreeSet<u32> = m.events.iter().map(|e| e.packet).collect();
        assert_eq!(ids.len(), 6, "{ids:?}");
        let again = *ids.iter().find(|&&i| i & COUNTER != 0).unwrap();
        assert_eq!(info.packet_label(again), "1#2");
        let hosts: Vec<u8> = m
            .events
            .iter()
            .filter(|e| e.packet == again)
            .map(|e| e.host)
            .collect();
        assert_eq!(
            hosts,
            [0, 0, 0, 1, 1],
            "the second occurrence joins b's second part"
        );
    }

    #[test]
    fn mixed_sets_are_refused_in_one_line() {
        let mut recs = pair(0, true);
        recs[1].1.header.info.host.as_mut().unwrap().boot_id = "boot-a".into();
        let err = merge(recs, &[]).unwrap_err();
        assert!(err.contains("same boot of a"), "{err}");
        let mut recs = pair(0, true);
        recs[1].1.header.info.host = None;
        assert!(merge(recs, &[])
            .unwrap_err()
            .contains("before recording format 8"));
    }
}
