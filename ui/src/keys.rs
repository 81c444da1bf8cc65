//! Key and mouse handling: a pure state machine over [`App`], so every binding is unit-testable.

use crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::{Position, Rect};

use crate::app::{Action, App, Mode, Pane, ProbeSort, Prompt, View};
use crate::format::RowKind;
use crate::input::Edit;
use crate::model::ROOT;
use crate::query::Query;

/// Every binding, for the `?` overlay: (keys, what they do).
pub const HELP: &[(&str, &str)] = &[
    ("j/k  Down/Up", "move one line"),
    ("PgDn/PgUp  Ctrl-f/Ctrl-b", "move one page"),
    ("g/G  Home/End", "first / last line"),
    ("Tab", "switch pane (packet list / call tree)"),
    (
        "Enter/Space",
        "fold or unfold the call (list: open the tree)",
    ),
    ("h/l  Left/Right", "fold / unfold the call"),
    ("E / C", "expand all / collapse all"),
    ("< / >", "scroll a deep call tree left / right"),
    ("u", "go to the parent call"),
    ("L", "go to the longest child (hot path)"),
    ("J / K", "next / previous packet, focus stays"),
    (": or #  ID Enter", "jump to packet ID"),
    (
        "/  n/N",
        "search functions and drop reasons; next / previous",
    ),
    (
        "f",
        "filter bar: udp and (iface=veth0 or netns=b) dur>1ms; and or not ( ) !",
    ),
    (
        "in a bar",
        "Ctrl-A/E Ctrl-U/K/W Alt-B/F edit, Up/Down history",
    ),
    ("F", "follow new packets (stops when you move)"),
    (
        "=",
        "follow flow: filter on the selected packet's flow, both directions (f edits)",
    ),
    (
        "a",
        "all kinds of packets / network only (netlink, unix: kind=netlink)",
    ),
    (
        "m<a-z> / '<a-z>  ''",
        "set mark / jump to mark / back (title: time since marks)",
    ),
    ("t", "time: relative -> wall clock -> since boot"),
    ("1 2 3", "views: packets, latency, probes"),
    (
        "latency: h/l Enter Tab J/K",
        "percentile; its packet; the packet's hops; next packet",
    ),
    (
        "probes: s / S  /",
        "sort column / reverse; keep probes matching",
    ),
    ("mouse", "wheel scrolls, click selects"),
    ("?", "this help"),
    ("q  Ctrl-c", "quit (asks first while live)"),
];

/// Columns one `<` or `>` scrolls the call tree by (four nesting levels).
pub const HSHIFT_STEP: usize = 8;

impl App {
    pub fn on_key(&mut self, key: KeyEvent) -> Action {
        if key.kind == KeyEventKind::Release {
            return Action::Continue;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && key.code == KeyCode::Char('c') {
            return Action::Quit;
        }
        self.message = None;
        match std::mem::replace(&mut self.mode, Mode::Normal) {
            Mode::Normal => return self.normal_key(key.code, ctrl),
            // The overlay scrolls on a short terminal; any other key closes it.
            Mode::Help => match key.code {
                KeyCode::Char('j') | KeyCode::Down | KeyCode::PageDown | KeyCode::Char(' ') => {
                    let step = if key.code == KeyCode::Char('j') || key.code == KeyCode::Down {
                        1
                    } else {
                        10
                    };
                    self.help_scroll = (self.help_scroll + step).min(HELP.len() - 1);
                    self.mode = Mode::Help;
                }
                KeyCode::Char('k') | KeyCode::Up | KeyCode::PageUp => {
                    let step = if key.code == KeyCode::PageUp { 10 } else { 1 };
                    self.help_scroll = self.help_scroll.saturating_sub(step);
                    self.mode = Mode::Help;
                }
                _ => {}
            },
            Mode::ConfirmQuit => {
                if matches!(key.code, KeyCode::Char('y' | 'q') | KeyCode::Enter) {
                    return Action::Quit;
                }
            }
            Mode::SetMark => {
                if let KeyCode::Char(c @ 'a'..='z') = key.code {
                    self.set_mark(c);
                }
            }
            Mode::JumpMark => match key.code {
                KeyCode::Char('\'') => match self.last_jump {
                    Some(id) => {
                        self.jump_to(id);
                    }
                    None => self.message = Some("no jump to go back from".into()),
                },
                KeyCode::Char(c) => match self.marks.get(&c) {
                    Some(&id) => {
                        self.jump_to(id);
                    }
                    None => self.message = Some(format!("mark {c} is not set")),
                },
                _ => {}
            },
            Mode::Input(prompt) => self.input_key(prompt, key),
        }
        Action::Continue
    }

    fn input_key(&mut self, prompt: Prompt, key: KeyEvent) {
        match key.code {
            KeyCode::Esc => {
                self.input_error = None;
                return;
            }
            KeyCode::Enter => return self.input_enter(prompt),
            _ => {}
        }
        let digits_only = prompt == Prompt::Jump;
        let edit = self
            .input
            .key(prompt, key, |c| !digits_only || c.is_ascii_digit());
        if edit == Edit::Changed && prompt == Prompt::Filter {
            self.input_error = Query::parse_spanned(self.input.text(), &self.info).err();
        }
        self.mode = Mode::Input(prompt);
    }

    /// Enter in the input bar: apply the line, and keep it in the prompt's history.
    fn input_enter(&mut self, prompt: Prompt) {
        let text = self.input.text().to_string();
        match prompt {
            Prompt::Filter => match Query::parse_spanned(&text, &self.info) {
                Ok(q) => {
                    self.input_error = None;
                    self.input.remember(prompt);
                    self.set_filter(Some(q));
                }
                Err(e) => {
                    self.input_error = Some(e);
                    self.mode = Mode::Input(prompt);
                }
            },
            Prompt::Search if self.view == View::Probes => {
                self.input.remember(prompt);
                self.set_probe_filter(&text);
            }
            Prompt::Search if !text.is_empty() => {
                self.input.remember(prompt);
                self.set_search(&text);
                self.search_next(true);
            }
            Prompt::Search => self.search = None,
            Prompt::Jump => match text.parse() {
                Ok(id) => {
                    self.input.remember(prompt);
                    if self.jump_to(id) {
                        self.view = View::Packets;
                    }
                }
                Err(_) => self.message = Some(format!("'{text}' is not a packet ID")),
            },
        }
    }

    /// Applies a filter made elsewhere (`=`, `replay --filter`) as if typed into the bar:
    /// it is in the filter history, and `f` opens on it.
    pub fn open_filter(&mut self, q: Query) {
        self.input.open(q.text());
        self.input.remember(Prompt::Filter);
        self.set_filter(Some(q));
    }

    /// Opens the input bar of `prompt` on `text`.
    pub fn open_prompt(&mut self, prompt: Prompt, text: &str) {
        self.input.open(text);
        self.input_error = None;
        if prompt == Prompt::Filter {
            self.input_error = Query::parse_spanned(text, &self.info).err();
        }
        self.mode = Mode::Input(prompt);
    }

    fn normal_key(&mut self, code: KeyCode, ctrl: bool) -> Action {
        let page = self.page.max(1) as isize;
        match code {
            KeyCode::Char('q') => {
                if self.live {
                    self.mode = Mode::ConfirmQuit;
                } else {
                    return Action::Quit;
                }
            }
            KeyCode::Char('?') | KeyCode::F(1) => {
                self.help_scroll = 0;
                self.mode = Mode::Help;
            }
            KeyCode::Char('1') => self.view = View::Packets,
            KeyCode::Char('2') => self.view = View::Latency,
            KeyCode::Char('3') => self.view = View::Probes,
            KeyCode::Esc => self.view = View::Packets,
            KeyCode::Char('f') if !ctrl => {
                let text = self
                    .filter
                    .as_ref()
                    .map_or(String::new(), |q| q.text().to_string());
                self.open_prompt(Prompt::Filter, &text);
            }
            KeyCode::Char('/') => self.open_prompt(Prompt::Search, ""),
            KeyCode::Char(':' | '#') => self.open_prompt(Prompt::Jump, ""),
            KeyCode::Char('m') => self.mode = Mode::SetMark,
            KeyCode::Char('\'') => self.mode = Mode::JumpMark,
            KeyCode::Char('n') => self.search_next(true),
            KeyCode::Char('N') => self.search_next(false),
            KeyCode::Char('t') => self.cycle_time(),
            KeyCode::Char('a') => self.toggle_kinds(),
            KeyCode::Char('<') => self.tree_hshift = self.tree_hshift.saturating_sub(HSHIFT_STEP),
            KeyCode::Char('>') => self.tree_hshift += HSHIFT_STEP,
            KeyCode::Char('F') => {
                self.follow = true;
                self.sel = self.shown.len().saturating_sub(1);
                if !self.live {
                    self.message = Some("not live: nothing new to follow".into());
                }
            }
            KeyCode::Char('J') => self.move_packet(1),
            KeyCode::Char('K') => self.move_packet(-1),
            KeyCode::Char('j') | KeyCode::Down => self.move_sel(1),
            KeyCode::Char('k') | KeyCode::Up => self.move_sel(-1),
            KeyCode::PageDown => self.move_sel(page),
            KeyCode::Char('f') => self.move_sel(page),
            KeyCode::PageUp => self.move_sel(-page),
            KeyCode::Char('b') if ctrl => self.move_sel(-page),
            KeyCode::Char('g') | KeyCode::Home => self.move_sel(isize::MIN / 2),
            KeyCode::Char('G') | KeyCode::End => self.move_sel(isize::MAX / 2),
            _ if self.view == View::Probes => self.probes_key(code),
            _ if self.view == View::Latency => self.latency_key(code),
            _ if self.view == View::Packets => self.packets_key(code),
            _ => {}
        }
        Action::Continue
    }

    fn probes_key(&mut self, code: KeyCode) {
        match code {
            KeyCode::Char('s') => {
                self.probe_sort.0 = match self.probe_sort.0 {
                    ProbeSort::Name => ProbeSort::Module,
                    ProbeSort::Module => ProbeSort::Status,
                    // Without hit counters there is nothing to sort by.
                    ProbeSort::Status if self.hits_counted() => ProbeSort::Hits,
                    ProbeSort::Status | ProbeSort::Hits => ProbeSort::Events,
                    ProbeSort::Events => ProbeSort::Name,
                };
                self.sort_probes();
            }
            KeyCode::Char('S') => {
                self.probe_sort.1 = !self.probe_sort.1;
                self.sort_probes();
            }
            _ => {}
        }
    }

    /// The latency table: h/l pick the percentile column, Enter jumps to its packet.
    fn latency_key(&mut self, code: KeyCode) {
        match code {
            KeyCode::Tab | KeyCode::BackTab => self.lat_packet_focus = !self.lat_packet_focus,
            KeyCode::Enter if self.lat_packet_focus => self.hop_jump(),
            KeyCode::Char('h') | KeyCode::Left => self.lat_col = self.lat_col.saturating_sub(1),
            KeyCode::Char('l') | KeyCode::Right => {
                self.lat_col = (self.lat_col + 1).min(App::LATENCY_QUANTILES.len() - 1)
            }
            KeyCode::Enter => self.latency_jump(),
            _ => {}
        }
    }

    fn packets_key(&mut self, code: KeyCode) {
        match code {
            KeyCode::Tab | KeyCode::BackTab => {
                self.pane = match self.pane {
                    Pane::List => Pane::Tree,
                    Pane::Tree => Pane::List,
                }
            }
            KeyCode::Enter | KeyCode::Char(' ') if self.pane == Pane::List => {
                self.pane = Pane::Tree
            }
            KeyCode::Enter | KeyCode::Char(' ') => self.toggle_fold(None),
            KeyCode::Char('h') | KeyCode::Left => self.toggle_fold(Some(true)),
            KeyCode::Char('l') | KeyCode::Right => self.toggle_fold(Some(false)),
            KeyCode::Char('E') => {
                self.folded.clear();
                self.refold();
            }
            KeyCode::Char('C') => self.collapse_all(),
            KeyCode::Char('=') => self.follow_flow(),
            KeyCode::Char('u') => self.goto_parent(),
            KeyCode::Char('L') => self.goto_longest_child(),
            _ => {}
        }
    }

    /// `=`: the filter becomes the selected packet's flow, both directions, written in the
    /// filter language so that `f` shows it for editing.
    fn follow_flow(&mut self) {
        let Some(p) = self.selected_slot().map(|s| self.model.packet(s)) else {
            return;
        };
        let Some(flow) = p.flow.as_deref() else {
            self.message = Some(format!(
                "packet {} has no IP flow to follow (ARP, or its headers were never read)",
                p.id
            ));
            return;
        };
        let text = crate::query::flow_filter(flow);
        match Query::parse(&text, &self.info) {
            Ok(q) => {
                self.open_filter(q);
                self.message =
                    Some("following the flow both ways: f edits, f Ctrl-U Enter clears".into());
            }
            Err(e) => self.message = Some(e),
        }
    }

    /// Moves the selection of the focused list by `delta` lines (clamped).
    pub fn move_sel(&mut self, delta: isize) {
        let clamp = |cur: usize, len: usize| {
            (cur as isize)
                .saturating_add(delta)
                .clamp(0, len.saturating_sub(1) as isize) as usize
        };
        match (self.view, self.pane) {
            (View::Probes, _) => self.probe_sel = clamp(self.probe_sel, self.probe_order().len()),
            (View::Latency, _) if self.lat_packet_focus => {
                let len = crate::latency::packet_lines(&self.selected_hops()).len();
                self.lat_hop_sel = clamp(self.lat_hop_sel, len);
            }
            (View::Latency, _) => {
                let len = self.latency().lines().len();
                self.lat_sel = clamp(self.lat_sel, len);
            }
            (View::Packets, Pane::Tree) => {
                let len = self.tree_rows().len();
                self.tree_sel = clamp(self.tree_sel, len);
            }
            _ => {
                self.sel = clamp(self.sel, self.shown.len());
                self.follow = false;
            }
        }
    }

    /// `J`/`K`: the next or previous packet, whatever pane or view (the latency view shows
    /// the selected packet's hops) has the focus.
    fn move_packet(&mut self, delta: isize) {
        let (pane, view) = (self.pane, self.view);
        (self.pane, self.view) = (Pane::List, View::Packets);
        self.move_sel(delta);
        (self.pane, self.view) = (pane, view);
    }

    /// Folds (`Some(true)`), unfolds (`Some(false)`) or toggles (`None`) the selected call.
    fn toggle_fold(&mut self, fold: Option<bool>) {
        let sel = self.tree_sel;
        let Some(row) = self.tree_rows().get(sel).copied() else {
            return;
        };
        let want = match row.kind {
            RowKind::Open | RowKind::Close => fold.unwrap_or(true),
            RowKind::Folded => fold.unwrap_or(false),
            _ => return,
        };
        if want {
            self.folded.insert(row.node);
        } else {
            self.folded.remove(&row.node);
        }
        self.refold();
        self.select_node(row.node);
    }

    fn collapse_all(&mut self) {
        let Some(slot) = self.selected_slot() else {
            return;
        };
        let sel = self.tree_sel;
        let cur = self.tree_rows().get(sel).map(|r| r.node);
        let p = self.model.packet(slot);
        self.folded = p
            .nodes
            .iter()
            .filter(|n| n.parent != ROOT)
            .map(|n| n.parent)
            .collect();
        // Keep the selection on the root the selected call belongs to.
        let root = cur.map(|mut n| {
            while p.nodes[n as usize].parent != ROOT {
                n = p.nodes[n as usize].parent;
            }
            n
        });
        self.refold();
        if let Some(root) = root {
            self.select_node(root);
        }
    }

    /// Selects `node` in the selected packet's tree, unfolding its callers, and scrolls it
    /// to the upper third of the pane.
    pub(crate) fn focus_node(&mut self, node: u32) {
        let Some(slot) = self.selected_slot() else {
            return;
        };
        self.tree_rows();
        let p = self.model.packet(slot);
        let mut a = p.nodes[node as usize].parent;
        while a != ROOT {
            self.folded.remove(&a);
            a = p.nodes[a as usize].parent;
        }
        self.refold();
        self.select_node(node);
        self.tree_recenter = true;
    }

    /// Selects the line of `node` (its opening or only line).
    fn select_node(&mut self, node: u32) {
        if let Some(i) = self.tree_rows().iter().position(|r| {
            r.node == node && matches!(r.kind, RowKind::Open | RowKind::Folded | RowKind::Leaf)
        }) {
            self.tree_sel = i;
        }
    }

    fn goto_parent(&mut self) {
        let (Some(slot), Some(node)) = (self.selected_slot(), self.selected_node()) else {
            return;
        };
        let parent = self.model.packet(slot).nodes[node as usize].parent;
        if parent != ROOT {
            self.select_node(parent);
        }
    }

    fn goto_longest_child(&mut self) {
        let (Some(slot), Some(node)) = (self.selected_slot(), self.selected_node()) else {
            return;
        };
        let p = self.model.packet(slot);
        let Some(child) = p
            .children(node)
            .max_by_key(|&c| p.nodes[c as usize].duration())
        else {
            return;
        };
        if self.folded.remove(&node) {
            self.refold();
        }
        self.select_node(child);
    }

    /// Next (or previous) match of the search: calls in the tree pane, packets in the list.
    fn search_next(&mut self, forward: bool) {
        let Some(pat) = self.search.clone() else {
            self.message = Some("no search: press / first".into());
            return;
        };
        if self.view == View::Packets && self.pane == Pane::Tree {
            self.search_tree(forward, &pat);
        } else {
            self.search_list(forward, &pat);
        }
    }

    fn search_tree(&mut self, forward: bool, pat: &str) {
        let (Some(slot), cur) = (self.selected_slot(), self.selected_node()) else {
            return;
        };
        let p = self.model.packet(slot);
        let order: Vec<u32> = p.preorder().into_iter().map(|(i, _)| i).collect();
        let at = cur
            .and_then(|c| order.iter().position(|&i| i == c))
            .unwrap_or(0);
        let n = order.len();
        let hit = (1..=n)
            .map(|k| {
                if forward {
                    (at + k) % n
                } else {
                    (at + n * 2 - k) % n
                }
            })
            .map(|k| order[k])
            .find(|&i| self.search_hit(&p.nodes[i as usize]));
        let Some(hit) = hit else {
            self.message = Some(format!("'{pat}' not found in this packet"));
            return;
        };
        // Unfold the ancestors so the match is visible.
        let mut a = p.nodes[hit as usize].parent;
        while a != ROOT {
            self.folded.remove(&a);
            a = p.nodes[a as usize].parent;
        }
        self.refold();
        self.select_node(hit);
        self.tree_recenter = true;
    }

    fn search_list(&mut self, forward: bool, pat: &str) {
        let n = self.shown.len();
        let hit = (1..=n)
            .map(|k| {
                if forward {
                    (self.sel + k) % n
                } else {
                    (self.sel + n * 2 - k) % n
                }
            })
            .find(|&k| {
                let p = self.model.packet(self.shown[k]);
                p.nodes.iter().any(|nd| self.search_hit(nd))
            });
        match hit {
            Some(k) => {
                self.sel = k;
                self.follow = false;
            }
            None => self.message = Some(format!("no shown packet calls '{pat}'")),
        }
    }

    pub fn on_mouse(&mut self, m: MouseEvent) -> Action {
        let pos = Position::new(m.column, m.row);
        let a = self.areas;
        let hit = |r: Rect| r.contains(pos);
        let (pane, view) = if hit(a.list) {
            (Pane::List, View::Packets)
        } else if hit(a.tree) {
            (Pane::Tree, View::Packets)
        } else if hit(a.probes) {
            (self.pane, View::Probes)
        } else {
            return Action::Continue;
        };
        if view != self.view {
            return Action::Continue;
        }
        self.pane = pane;
        match m.kind {
            MouseEventKind::ScrollDown => self.move_sel(3),
            MouseEventKind::ScrollUp => self.move_sel(-3),
            MouseEventKind::Down(MouseButton::Left) => {
                let area = if view == View::Probes {
                    a.probes
                } else if pane == Pane::List {
                    a.list
                } else {
                    a.tree
                };
                let line = (m.row - area.y) as usize;
                let target = match (view, pane) {
                    (View::Probes, _) => self.probe_offset + line,
                    (_, Pane::List) => self.list_offset + line,
                    _ => self.tree_offset + line,
                };
                let cur = match (view, pane) {
                    (View::Probes, _) => self.probe_sel,
                    (_, Pane::List) => self.sel,
                    _ => self.tree_sel,
                };
                self.move_sel(target as isize - cur as isize);
            }
            _ => {}
        }
        Action::Continue
    }
}
