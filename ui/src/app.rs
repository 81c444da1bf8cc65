//! Application state. Events flow in through [`App::ingest`]; keys through
//! [`App::on_key`] (see `keys.rs`); views read the state and remember only scroll offsets.

use std::collections::{HashMap, HashSet};

use ratatui::layout::Rect;

use crate::budget::{self, Budget};
use crate::format::{self, Row, RowKind};
use crate::input::LineEditor;
use crate::latency::{self, Latency};
use crate::model::{node_flags, Model, Node};
use crate::query::{ParseError, Query};
use vrft_events::event::Event;
use vrft_events::session::{PacketKind, SessionInfo, Stats};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Packets,
    Latency,
    Probes,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pane {
    List,
    Tree,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prompt {
    Filter,
    Search,
    Jump,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    Normal,
    Help,
    /// Typing into the bottom bar ([`App::input`] holds the line).
    Input(Prompt),
    ConfirmQuit,
    /// `m` was pressed: the next letter names the mark.
    SetMark,
    /// `'` was pressed: the next letter names the mark to jump to.
    JumpMark,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Continue,
    Quit,
}

/// How the packet list and the tree title show when a packet was first seen (`t` cycles).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeMode {
    /// Seconds since the first packet of the session: `+0.019407`.
    Relative,
    /// Local wall-clock time, as `tcpdump -tttt` prints it, to line up with captures and logs.
    Wall,
    /// Seconds since boot (CLOCK_MONOTONIC, what the kernel's own logs and ftrace show).
    Boot,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeSort {
    Name,
    Module,
    Status,
    Hits,
    Events,
}

/// Where the views were drawn last, for mouse hit-testing (inner areas, without borders).
#[derive(Clone, Copy, Debug, Default)]
pub struct Areas {
    pub list: Rect,
    pub tree: Rect,
    pub probes: Rect,
}

/// See [`App::namer`].
pub type Namer = Box<dyn FnMut(u32) -> Option<Vec<vrft_events::session::Namespace>>>;

pub struct App {
    pub info: SessionInfo,
    pub model: Model,
    pub stats: Stats,
    pub live: bool,
    pub view: View,
    pub pane: Pane,
    pub mode: Mode,
    /// First line of the `?` overlay shown (it scrolls when the terminal is short).
    pub help_scroll: usize,
    /// The line of the input bar and each prompt's history.
    pub input: LineEditor,
    /// Error of the filter being typed (shown red while invalid, the token it is about marked).
    pub input_error: Option<ParseError>,
    /// One-shot message for the status line (cleared by the next key).
    pub message: Option<String>,
    /// A standing warning for the status line, never cleared (e.g. the recording is damaged).
    pub notice: Option<String>,
    /// Live mode's memory budget (`None`: unbounded, as in replays).
    pub memory: Option<Budget>,
    /// Live mode: names a namespace the session did not know at start (a rescan of
    /// /run/netns and /proc), returning every name known then; called once per new inode.
    pub namer: Option<Namer>,
    /// Namespaces the namer was already asked about (or knew).
    namespaces_seen: HashSet<u32>,

    /// Slots of the packets that pass the filter, ascending (= order of first appearance).
    pub shown: Vec<u32>,
    /// Index into `shown` of the selected packet.
    pub sel: usize,
    pub list_offset: usize,
    pub follow: bool,
    pub filter: Option<Query>,
    /// Show every kind of packet (`a`); by default only network packets are listed, unless the
    /// filter names a kind.
    pub all_kinds: bool,
    /// The kind of each packet (by slot) when the list last saw it, and how many of each.
    kinds: Vec<PacketKind>,
    kind_counts: [usize; 4],
    /// How first-seen times are shown (`t`).
    pub time: TimeMode,
    /// The user was told once why `t` skips the wall clock (the recording has no offset).
    wall_skip_told: bool,

    pub folded: HashSet<u32>,
    pub tree_sel: usize,
    pub tree_offset: usize,
    /// The selection jumped (search): the next frame scrolls it to the upper third of the pane,
    /// so that what it calls is on screen too.
    pub(crate) tree_recenter: bool,
    /// Columns of the call column scrolled out on the left (`<` / `>`), for trees deeper than
    /// the pane is wide; the view also shifts by itself to keep the selected call's name visible.
    pub tree_hshift: usize,
    /// The selection `tree_hshift` was last fitted to: a moved selection is brought into view,
    /// otherwise `<` / `>` are left as the user set them.
    pub(crate) tree_hshift_at: Option<(u32, usize)>,
    tree_rows: Vec<Row>,
    tree_key: Option<(u32, usize)>,

    pub search: Option<String>,
    search_funcs: Vec<bool>,
    /// Drop reason values whose names contain the search text.
    search_reasons: Vec<i64>,
    pub marks: HashMap<char, u32>,
    /// Mark letters in the order they were last set, latest last: the two latest are the
    /// cursors of the time delta the list title shows.
    pub mark_order: Vec<char>,
    /// Packet ID selected before the last jump, for `''`.
    pub last_jump: Option<u32>,

    pub probe_sort: (ProbeSort, bool),
    /// `/` in the probes view: only probes whose name, module, status or reason contain it.
    pub probe_filter: Option<String>,
    pub probe_sel: usize,
    pub probe_offset: usize,
    probe_order: Vec<u32>,

    latency: Option<Latency>,
    /// The shown packets changed since `latency` was computed.
    latency_stale: bool,
    /// Frames drawn since `latency` was computed: a stale one is redone at most once a second.
    latency_age: u32,
    pub(crate) latency_roles: latency::Roles,
    /// Selected line of the latency table, its first line on screen, and the selected
    /// percentile column (0 P50, 1 P90, 2 P99, 3 MAX) that Enter jumps to.
    pub lat_sel: usize,
    pub lat_offset: usize,
    pub lat_col: usize,
    /// Tab in the latency view: the selected packet's hops have the focus (j/k, Enter goes
    /// to the stage's call in its tree) instead of the table across packets.
    pub lat_packet_focus: bool,
    pub lat_hop_sel: usize,
    pub lat_hop_offset: usize,

    /// Rows of the list and tree panes visible in the last frame (for PgUp/PgDn).
    pub page: usize,
    pub areas: Areas,
}

impl App {
    pub fn new(info: SessionInfo, live: bool) -> Self {
        let latency_roles = latency::Roles::new(&info);
        let model = Model::new(&info);
        let mut app = App {
            info,
            model,
            all_kinds: false,
            kinds: Vec::new(),
            kind_counts: [0; 4],
            stats: Stats::default(),
            live,
            view: View::Packets,
            pane: Pane::List,
            mode: Mode::Normal,
            help_scroll: 0,
            input: LineEditor::default(),
            input_error: None,
            message: None,
            notice: None,
            memory: None,
            namer: None,
            namespaces_seen: HashSet::new(),
            shown: Vec::new(),
            sel: 0,
            list_offset: 0,
            follow: live,
            filter: None,
            time: TimeMode::Relative,
            wall_skip_told: false,
            folded: HashSet::new(),
            tree_sel: 0,
            tree_offset: 0,
            tree_recenter: false,
            tree_hshift: 0,
            tree_hshift_at: None,
            tree_rows: Vec::new(),
            tree_key: None,
            search: None,
            search_funcs: Vec::new(),
            search_reasons: Vec::new(),
            marks: HashMap::new(),
            mark_order: Vec::new(),
            last_jump: None,
            probe_sort: (ProbeSort::Name, false),
            probe_filter: None,
            probe_sel: 0,
            probe_offset: 0,
            probe_order: Vec::new(),
            latency: None,
            latency_stale: false,
            latency_age: 0,
            latency_roles,
            lat_sel: 0,
            lat_offset: 0,
            lat_col: 0,
            lat_packet_focus: false,
            lat_hop_sel: 0,
            lat_hop_offset: 0,
            page: 10,
            areas: Areas::default(),
        };
        app.sort_probes();
        app
    }

    /// Feed events; the packet list follows up with [`App::refresh`].
    pub fn ingest(&mut self, events: &[Event]) {
        self.model.ingest(events);
    }

    /// The stream ended (recording fully read, or the tracer stopped).
    pub fn finish(&mut self) {
        self.model.finish();
        self.live = false;
        self.refresh();
    }

    /// Bring the shown list up to date with the packets the model changed.
    pub fn refresh(&mut self) {
        self.keep_budget();
        let touched = self.model.take_touched();
        if touched.is_empty() {
            return;
        }
        let selected = self.selected_slot();
        for slot in touched {
            self.count_kind(slot);
            self.name_namespaces(slot);
            let ok = self.passes(slot);
            match self.shown.binary_search(&slot) {
                Ok(i) if !ok => {
                    self.shown.remove(i);
                }
                Err(i) if ok => self.shown.insert(i, slot),
                _ => {}
            }
        }
        self.latency_stale = true;
        if self.follow {
            self.sel = self.shown.len().saturating_sub(1);
        } else {
            self.reselect(selected);
        }
    }

    /// Evicts the oldest packets once the model outgrows its share of the budget, down to
    /// 3/4 of it (so a flood evicts in batches, not on every frame); marked packets and the
    /// one on screen stay.
    fn keep_budget(&mut self) {
        let Some(budget) = self.memory else {
            return;
        };
        self.model.count_touched();
        if self.model.bytes() <= budget.model {
            return;
        }
        let selected = self.selected_slot();
        let mut keep: HashSet<u32> = self
            .marks
            .values()
            .filter_map(|&id| self.model.slot_of(id))
            .collect();
        keep.extend(selected);
        keep.extend(self.tree_key.map(|k| k.0));
        let Some(map) = self
            .model
            .evict(budget.model / 4 * 3, |s| keep.contains(&s))
        else {
            return;
        };
        // Everything that holds a slot follows the packets to their new places.
        let gone_above = self.shown[..self.list_offset.min(self.shown.len())]
            .iter()
            .filter(|&&s| map.slot(s).is_none())
            .count();
        self.list_offset -= gone_above;
        self.shown = self.shown.iter().filter_map(|&s| map.slot(s)).collect();
        let mut kinds = Vec::with_capacity(self.kinds.len());
        for (old, &k) in self.kinds.iter().enumerate() {
            match map.slot(old as u32) {
                Some(_) => kinds.push(k),
                None => {
                    self.kind_counts[k as usize] = self.kind_counts[k as usize].saturating_sub(1)
                }
            }
        }
        self.kinds = kinds;
        self.tree_key = self.tree_key.and_then(|(s, n)| Some((map.slot(s)?, n)));
        self.tree_hshift_at = self
            .tree_hshift_at
            .and_then(|(s, n)| Some((map.slot(s)?, n)));
        self.latency_stale = true;
        if self.follow {
            self.sel = self.shown.len().saturating_sub(1);
        } else {
            self.reselect(selected.and_then(|s| map.slot(s)));
        }
    }

    /// Live: a namespace on a device of `slot` that has no name yet gets one if a rescan
    /// finds it (once per namespace).
    fn name_namespaces(&mut self, slot: u32) {
        let Some(namer) = self.namer.as_mut() else {
            return;
        };
        for &(inode, _) in &self.model.packet(slot).devs {
            if inode == 0 || !self.namespaces_seen.insert(inode) {
                continue;
            }
            if !self.info.namespaces.iter().any(|n| n.inode == inode) {
                if let Some(names) = namer(inode) {
                    self.info.namespaces = names;
                }
            }
        }
    }

    fn passes(&self, slot: u32) -> bool {
        let p = self.model.packet(slot);
        if self.hides_kinds() && p.kind() != PacketKind::Network {
            return false;
        }
        self.filter
            .as_ref()
            .is_none_or(|q| q.matches(p, &self.info))
    }

    /// Only network packets are listed: neither `a` nor a `kind=` term asked for others.
    pub fn hides_kinds(&self) -> bool {
        !self.all_kinds && !self.filter.as_ref().is_some_and(Query::names_kind)
    }

    /// Keeps the count of each kind up to date with the packet in `slot`.
    fn count_kind(&mut self, slot: u32) {
        let kind = self.model.packet(slot).kind();
        let i = slot as usize;
        if i >= self.kinds.len() {
            let added = i + 1 - self.kinds.len();
            self.kinds.resize(i + 1, PacketKind::Network);
            self.kind_counts[PacketKind::Network as usize] += added;
        }
        let old = std::mem::replace(&mut self.kinds[i], kind);
        self.kind_counts[old as usize] = self.kind_counts[old as usize].saturating_sub(1);
        self.kind_counts[kind as usize] += 1;
    }

    /// Packets of each kind so far, in the order of [`PacketKind::ALL`].
    pub fn kind_counts(&self) -> [usize; 4] {
        self.kind_counts
    }

    /// "12 netlink, 3 unix hidden" while packets of other kinds are hidden, for the status line.
    pub fn hidden_kinds(&self) -> Option<String> {
        if !self.hides_kinds() {
            return None;
        }
        let parts: Vec<String> = PacketKind::ALL
            .iter()
            .zip(self.kind_counts)
            .filter(|&(&k, n)| k != PacketKind::Network && n > 0)
            .map(|(k, n)| format!("{n} {}", k.name()))
            .collect();
        (!parts.is_empty()).then(|| format!("{} hidden", parts.join(", ")))
    }

    /// `a`: every kind of packet, or network packets only.
    pub fn toggle_kinds(&mut self) {
        self.all_kinds = !self.all_kinds;
        self.message = Some(
            if self.all_kinds {
                "showing every kind of packet (netlink, unix, other)"
            } else {
                "showing network packets only"
            }
            .into(),
        );
        let filter = self.filter.take();
        self.set_filter(filter);
    }

    /// Select `slot` again after the list changed, or the nearest packet after it.
    fn reselect(&mut self, slot: Option<u32>) {
        if let Some(slot) = slot {
            self.sel = match self.shown.binary_search(&slot) {
                Ok(i) | Err(i) => i,
            };
        }
        self.sel = self.sel.min(self.shown.len().saturating_sub(1));
    }

    pub fn set_filter(&mut self, q: Option<Query>) {
        let selected = self.selected_slot();
        self.filter = q.filter(|q| !q.is_empty());
        self.shown = (0..self.model.packets().len() as u32)
            .filter(|&s| self.passes(s))
            .collect();
        self.latency = None;
        self.reselect(selected);
    }

    pub fn selected_slot(&self) -> Option<u32> {
        self.shown.get(self.sel).copied()
    }

    /// Function-graph rows of the selected packet, rebuilt when it or its folds change.
    pub fn tree_rows(&mut self) -> &[Row] {
        let key = self
            .selected_slot()
            .map(|s| (s, self.model.packet(s).nodes.len()));
        if key != self.tree_key {
            if key.map(|k| k.0) == self.tree_key.map(|k| k.0) {
                // The same packet grew (live): keep the selected call selected.
                let old = self.tree_rows.get(self.tree_sel).copied();
                self.rebuild_tree();
                self.keep_tree_row(old);
            } else {
                self.folded.clear();
                self.rebuild_tree();
                self.tree_sel = 0;
                self.tree_offset = 0;
            }
            self.tree_key = key;
        }
        &self.tree_rows
    }

    /// Rebuild the rows now (after a fold change), keeping the selected call selected.
    pub(crate) fn refold(&mut self) {
        let old = self.tree_rows.get(self.tree_sel).copied();
        self.rebuild_tree();
        self.keep_tree_row(old);
    }

    fn rebuild_tree(&mut self) {
        self.tree_rows = match self.selected_slot() {
            Some(s) => format::rows(self.model.packet(s), &self.info, &self.folded),
            None => Vec::new(),
        };
    }

    fn keep_tree_row(&mut self, old: Option<Row>) {
        if let Some(old) = old {
            let is_call = |k| matches!(k, RowKind::Open | RowKind::Folded | RowKind::Leaf);
            let kinds_match = |r: &Row| {
                r.node == old.node && (r.kind == old.kind || (is_call(r.kind) && is_call(old.kind)))
            };
            if let Some(i) = self.tree_rows.iter().position(kinds_match) {
                self.tree_sel = i;
            }
        }
        self.tree_sel = self.tree_sel.min(self.tree_rows.len().saturating_sub(1));
    }

    /// The call the tree selection is on.
    pub fn selected_node(&mut self) -> Option<u32> {
        let sel = self.tree_sel;
        self.tree_rows().get(sel).map(|r| r.node)
    }

    pub fn set_search(&mut self, pat: &str) {
        self.search_funcs = self
            .info
            .functions
            .iter()
            .map(|f| f.name.contains(pat))
            .collect();
        self.search_reasons = self
            .info
            .drop_reasons
            .iter()
            .filter(|(_, name)| name.contains(pat))
            .map(|&(v, _)| v.into())
            .collect();
        self.search = Some(pat.to_string());
    }

    /// The call's function contains the search text, or it is a drop whose reason does
    /// (`/NO_SOCK` finds the datagram freed for want of a socket).
    pub fn search_hit(&self, node: &Node) -> bool {
        let func = self.search_funcs.get(node.func as usize).copied();
        func.unwrap_or(false)
            || node.has(node_flags::DROP) && self.search_reasons.contains(&node.ret)
    }

    /// Probe rows in display order (indices into `info.probes`).
    pub fn probe_order(&self) -> &[u32] {
        &self.probe_order
    }

    /// The backend counted its probes' runs ([`Stats::probe_hits`]). None does today: the
    /// tracer's counters are per loss, not per probe, so the probes view shows the events
    /// recorded per function instead.
    pub fn hits_counted(&self) -> bool {
        !self.stats.probe_hits.is_empty()
    }

    /// `/` in the probes view: keep the probes that contain `text` (any case) in their
    /// name, module, status or reason; empty shows them all.
    pub fn set_probe_filter(&mut self, text: &str) {
        self.probe_filter = (!text.is_empty()).then(|| text.to_lowercase());
        self.sort_probes();
        self.probe_sel = 0;
        self.probe_offset = 0;
        let n = self.probe_order.len();
        self.message = Some(match &self.probe_filter {
            Some(t) => format!("{n} probes match '{t}' (/ Enter shows all)"),
            None => format!("all {n} probes"),
        });
    }

    fn probe_matches(&self, i: u32) -> bool {
        let Some(t) = &self.probe_filter else {
            return true;
        };
        let p = &self.info.probes[i as usize];
        [
            p.name.to_lowercase(),
            p.origin.to_string(),
            p.status.label().to_string(),
            p.status.reason().to_lowercase(),
        ]
        .iter()
        .any(|f| f.contains(t.as_str()))
    }

    pub fn probe_hits(&self, i: u32) -> Option<u64> {
        self.stats.probe_hits.get(i as usize).copied()
    }

    pub fn probe_events(&self, i: u32) -> u64 {
        self.info.probes[i as usize]
            .func
            .map_or(0, |f| self.model.func_events(f))
    }

    pub fn sort_probes(&mut self) {
        let mut order: Vec<u32> = (0..self.info.probes.len() as u32)
            .filter(|&i| self.probe_matches(i))
            .collect();
        let probes = &self.info.probes;
        let (col, rev) = self.probe_sort;
        order.sort_by(|&a, &b| {
            let (pa, pb) = (&probes[a as usize], &probes[b as usize]);
            let o = match col {
                ProbeSort::Name => pa.name.cmp(&pb.name),
                ProbeSort::Module => pa.origin.cmp(&pb.origin).then(pa.name.cmp(&pb.name)),
                ProbeSort::Status => (pa.status.label(), pa.status.reason(), &pa.name).cmp(&(
                    pb.status.label(),
                    pb.status.reason(),
                    &pb.name,
                )),
                // Busiest first.
                ProbeSort::Hits => self.probe_hits(b).cmp(&self.probe_hits(a)),
                ProbeSort::Events => self.probe_events(b).cmp(&self.probe_events(a)),
            };
            if rev {
                o.reverse()
            } else {
                o
            }
        });
        self.probe_order = order;
        self.probe_sel = self.probe_sel.min(self.probe_order.len().saturating_sub(1));
    }

    pub fn set_stats(&mut self, stats: Stats) {
        self.stats = stats;
        if let Some(b) = &mut self.memory {
            let rss = budget::rss_bytes().unwrap_or(b.rss);
            b.measured(rss);
        }
        if matches!(self.probe_sort.0, ProbeSort::Hits | ProbeSort::Events) {
            self.sort_probes();
        }
    }

    /// Latency over the shown packets; while packets stream in it lags by up to 30 frames,
    /// since a recompute over 100,000 packets costs tens of milliseconds.
    pub fn latency(&mut self) -> &Latency {
        self.latency_age = self.latency_age.saturating_add(1);
        if self.latency.is_none() || (self.latency_stale && self.latency_age >= 30) {
            self.latency_stale = false;
            self.latency_age = 0;
            let packets = self.shown.iter().map(|&s| self.model.packet(s));
            self.latency = Some(latency::compute(packets, &self.latency_roles, &self.info));
        }
        self.latency.as_ref().expect("computed above")
    }

    /// The selected packet's hops, for the latency view.
    pub fn selected_hops(&self) -> Vec<latency::Hop> {
        match self.selected_slot() {
            Some(s) => latency::hops(self.model.packet(s), &self.latency_roles, &self.info),
            None => Vec::new(),
        }
    }

    /// Enter on a line of the selected packet's hops: its tree, at the hop's or stage's
    /// first call.
    pub fn hop_jump(&mut self) {
        let hops = self.selected_hops();
        let Some(&(h, stage)) = latency::packet_lines(&hops).get(self.lat_hop_sel) else {
            return;
        };
        let node = match stage {
            Some(i) => hops[h].bounds[i].node,
            None => hops[h].first,
        };
        self.view = View::Packets;
        self.pane = Pane::Tree;
        self.focus_node(node);
    }

    /// The percentiles the latency table's columns show, in column order.
    pub const LATENCY_QUANTILES: [(u32, &'static str); 4] =
        [(50, "P50"), (90, "P90"), (99, "P99"), (100, "MAX")];

    /// Enter in the latency view: the packet at the selected percentile of the selected
    /// stage, selected in the list with its tree open at the stage's first call.
    pub fn latency_jump(&mut self) {
        let (q, label) = Self::LATENCY_QUANTILES[self.lat_col.min(3)];
        let sel = self.lat_sel;
        let lat = self.latency();
        let Some(line) = lat.lines().get(sel).copied() else {
            return;
        };
        let Some(stage) = lat.stage(line) else {
            self.message = Some("select a stage (j/k), then Enter".into());
            return;
        };
        let name = stage.name.clone();
        let Some(sample) = stage.at(q).copied() else {
            return;
        };
        let id = sample.packet;
        if !self.jump_to(id) {
            return;
        }
        self.view = View::Packets;
        self.pane = Pane::Tree;
        self.focus_node(sample.node);
        self.message = Some(format!(
            "packet {id}: {label} of {name} ({})",
            format::human_ns(sample.ns)
        ));
    }

    /// Select a packet by ID; says why when it cannot.
    pub fn jump_to(&mut self, id: u32) -> bool {
        let Some(slot) = self.model.slot_of(id) else {
            self.message = Some(match self.model.evicted() {
                (n, Some(upto)) if id <= upto => format!(
                    "packet {id} was evicted to stay within the memory budget \
                     ({n} oldest packets so far; --max-memory)"
                ),
                _ => format!("no packet {id}"),
            });
            return false;
        };
        match self.shown.binary_search(&slot) {
            Ok(i) => {
                self.last_jump = self.selected_slot().map(|s| self.model.packet(s).id);
                self.sel = i;
                self.follow = false;
                true
            }
            Err(_) => {
                self.message = Some(format!("packet {id} is hidden by the filter"));
                false
            }
        }
    }

    /// `t`: relative -> wall clock -> since boot -> relative. Without a wall-clock offset
    /// (recordings before format 7) the wall clock is skipped, and the first time says why.
    pub fn cycle_time(&mut self) {
        let has_wall = self.info.realtime_offset_ns.is_some();
        self.time = match self.time {
            TimeMode::Relative if has_wall => TimeMode::Wall,
            TimeMode::Relative => {
                if !std::mem::replace(&mut self.wall_skip_told, true) {
                    self.message = Some(
                        "no wall clock: recording predates format 7 (no boot offset); time since boot"
                            .into(),
                    );
                }
                TimeMode::Boot
            }
            TimeMode::Wall => TimeMode::Boot,
            TimeMode::Boot => TimeMode::Relative,
        };
    }

    /// When a packet was first seen, as [`App::time`] says: relative to the first packet of
    /// the session, wall clock, or since boot. `short` leaves out the wall clock's date.
    pub fn time_text(&self, ts: u64, short: bool) -> String {
        let base = self.model.packets().first().map_or(0, |p| p.first_ts);
        match (self.time, self.info.realtime_offset_ns) {
            (TimeMode::Wall, Some(off)) => {
                let s = format::wall_clock(ts, off);
                if short {
                    s[11..].to_string()
                } else {
                    s
                }
            }
            (TimeMode::Relative, _) => format!("+{:.6}", ts.saturating_sub(base) as f64 / 1e9),
            _ => format!("{:.6}", ts as f64 / 1e9),
        }
    }

    /// `m<letter>`: marks the selected packet.
    pub fn set_mark(&mut self, c: char) {
        let Some(s) = self.selected_slot() else {
            return;
        };
        let id = self.model.packet(s).id;
        self.marks.insert(c, id);
        self.mark_order.retain(|&m| m != c);
        self.mark_order.push(c);
        self.message = Some(format!("mark {c} = packet {id}"));
    }

    /// The time between marks, like a scope's delta cursors: from the latest mark to the
    /// selected packet, and between the two latest marks (first-seen times; `+` when the
    /// later one is the second named). `None` without marks.
    pub fn mark_delta(&self) -> Option<String> {
        let ts_of = |c: &char| {
            let slot = self.model.slot_of(*self.marks.get(c)?)?;
            Some(self.model.packet(slot).first_ts)
        };
        let delta = |a: u64, b: u64| {
            let sign = if b >= a { '+' } else { '-' };
            format!("{sign}{}", format::human_ns(a.abs_diff(b)))
        };
        let mut marks = self.mark_order.iter().rev();
        let last = marks.next()?;
        let t_last = ts_of(last)?;
        let mut parts = Vec::new();
        if let Some(sel) = self.selected_slot() {
            let t_sel = self.model.packet(sel).first_ts;
            if self.marks.get(last) != Some(&self.model.packet(sel).id) {
                parts.push(format!("'{last}→here {}", delta(t_last, t_sel)));
            }
        }
        if let Some(prev) = marks.next() {
            if let Some(t_prev) = ts_of(prev) {
                parts.push(format!("'{prev}→'{last} {}", delta(t_prev, t_last)));
            }
        }
        (!parts.is_empty()).then(|| format!("Δ {}", parts.join("  ")))
    }

    /// Packets seen, evicted ones included.
    pub fn packets_total(&self) -> usize {
        self.model.packets().len() + self.model.evicted().0 as usize
    }
}
