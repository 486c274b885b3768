//! Sessions, their tabs and where panes go: the session's own rules, pure (no process,
//! no socket, no lock), so they are unit-tested as tables. The runner keeps the sessions
//! in its state and carries out what these rules decide (a program started, PTYs resized).

use super::{ClientId, State, now_secs};
use crate::layout::{Arrangement, Direction, Layout, PaneId, Rect};
use crate::protocol::{Command, Context, ServerMsg, Size, TermColors};
use std::collections::BTreeMap;
use tokio::sync::{broadcast, watch};

/// Things a session tells its attached clients besides screen changes.
#[derive(Clone, Debug)]
pub enum SessionEvent {
    Message(ServerMsg),
    Ended(String),
}

pub struct Tab {
    pub id: u32,
    pub name: String,
    pub layout: Layout,
    pub focused: PaneId,
    pub zoomed: Option<PaneId>,
    /// Panes by when they were last focused, newest first.
    pub recent: Vec<PaneId>,
    /// Typing goes to every pane of the tab (tmux's `synchronize-panes`).
    pub synchronized: bool,
    /// The arrangement last chosen, for cycling to the next.
    pub arrangement: Option<Arrangement>,
}

impl Tab {
    pub fn new(id: u32, name: String, layout: Layout, focused: PaneId) -> Tab {
        Tab { id, name, layout, focused, zoomed: None, recent: vec![focused], synchronized: false, arrangement: None }
    }

    /// Arranges the panes (in their order) as `how`.
    pub(super) fn arrange(&mut self, how: Arrangement, area: Rect) {
        self.layout = Layout::arranged(how, &self.layout.panes(), area);
        self.arrangement = Some(how);
        self.zoomed = None;
    }
}

pub struct Session {
    pub id: u32,
    pub name: String,
    /// Stable across restarts; spend and marks are kept under it.
    pub key: String,
    pub tabs: Vec<Tab>,
    pub active: usize,
    /// The area panes are laid out in: the size of the client that last typed or resized.
    pub size: Size,
    pub owner: Option<ClientId>,
    pub clients: BTreeMap<ClientId, Size>,
    /// Where and with what environment the session was created; new panes inherit it.
    pub context: Context,
    pub colors: Option<TermColors>,
    /// Bumped on every change, structure or content; attached clients wait on it.
    pub changed: watch::Sender<u64>,
    /// Bumped on changes to the session's shape (tabs, layout, titles, states).
    pub version: u64,
    pub events: broadcast::Sender<SessionEvent>,
    pub created: u64,
    pub last_used: u64,
    /// Dollars its agents have spent (kept in the state database), and its policy marks.
    pub spend: f64,
    pub marks: crate::policy::Marks,
    /// The spend cap that refused its agents' model calls last, and why; until a model
    /// call goes out again.
    pub cap_hit: Option<CapHit>,
    /// Hosts (`host:port`) its agents were let contact: a policy on `first_contact` asks
    /// about the others.
    pub contacted: std::collections::HashSet<String>,
}

/// A spend cap that stopped a session's agents: the rule, what it said, and whether it
/// refuses or asks (which says how to get past it).
#[derive(Clone, Debug, PartialEq)]
pub struct CapHit {
    pub rule: Option<String>,
    pub reason: String,
    pub gate: crate::protocol::GateKind,
}

impl Session {
    /// Where a pane is, as every command names it: `SESSION:TAB.PANE`.
    pub(super) fn place_of(&self, pane: PaneId) -> Option<String> {
        crate::places::place_in(&self.name, self.tabs.iter().map(|t| &t.layout), pane)
    }

    pub(super) fn area(&self) -> Rect {
        Rect::new(0, 0, self.size.cols, self.size.rows)
    }

    /// What policies test about this session, for an event of `agent` (of `kind`).
    pub(super) fn policy_context(&self, agent: &str, kind: &str, day_spend: f64) -> crate::policy::Context {
        crate::policy::Context {
            agent: agent.to_string(),
            kind: kind.to_string(),
            session_spend: self.spend,
            day_spend,
            marks: self.marks.clone(),
            now: now_secs(),
        }
    }

    pub(super) fn touch(&mut self) {
        self.version += 1;
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    pub(super) fn tab_of(&self, pane: PaneId) -> Option<usize> {
        self.tabs.iter().position(|t| t.layout.contains(pane))
    }

    /// Takes `pane` out of its tab's layout, closing the tab if it was the last pane
    /// there; the tab's focus goes to the pane focused before it.
    pub(super) fn take_out(&mut self, pane: PaneId) -> TakenOut {
        let Some(ti) = self.tab_of(pane) else { return TakenOut::NotHere };
        let tab = &mut self.tabs[ti];
        if tab.zoomed == Some(pane) {
            tab.zoomed = None;
        }
        if !tab.layout.remove(pane) {
            self.tabs.remove(ti);
            if self.tabs.is_empty() {
                return TakenOut::SessionEmpty;
            }
            if self.active >= ti && self.active > 0 {
                self.active -= 1;
            }
            self.touch();
            return TakenOut::TabClosed;
        }
        tab.recent.retain(|q| *q != pane);
        if tab.focused == pane {
            let next = tab.recent.first().copied().filter(|q| tab.layout.contains(*q));
            tab.focused = next.unwrap_or_else(|| tab.layout.panes()[0]);
        }
        TakenOut::Kept
    }

    /// Exchanges the places of two of this session's panes, in one tab or across two;
    /// each tab keeps its focus on the place it had (tmux's `swap-pane`).
    pub(super) fn swap_panes(&mut self, a: PaneId, b: PaneId) -> Result<(), String> {
        let ta = self.tab_of(a).ok_or_else(|| format!("no pane {a} in session {}", self.name))?;
        let tb = self.tab_of(b).ok_or_else(|| format!("no pane {b} in session {}", self.name))?;
        if a == b {
            return Err("a pane cannot swap with itself; name two panes".into());
        }
        if ta == tb {
            self.tabs[ta].layout.swap(a, b);
            return Ok(());
        }
        for (ti, from, to) in [(ta, a, b), (tb, b, a)] {
            let tab = &mut self.tabs[ti];
            tab.layout.replace(from, to);
            tab.zoomed = None;
            if tab.focused == from {
                tab.focused = to;
            }
            for p in tab.recent.iter_mut().filter(|p| **p == from) {
                *p = to;
            }
        }
        Ok(())
    }

    /// Moves `pane` into tab `to` (0-based), beside that tab's focused pane (or the tab
    /// tiled when there is no room beside it), or into a new tab of its own (`None`, with
    /// id `new_tab`); the pane is focused where it lands.
    pub(super) fn move_pane(&mut self, pane: PaneId, to: Option<usize>, new_tab: u32) -> Result<(), String> {
        let from = self.tab_of(pane).ok_or_else(|| format!("no pane {pane} in session {}", self.name))?;
        let area = self.area();
        let placed = match to {
            None if self.tabs[from].layout.panes().len() == 1 => {
                return Err("the pane is alone in its tab already".into());
            }
            None => None,
            Some(t) if t >= self.tabs.len() => {
                return Err(format!("no tab {} in session {}; it has {}", t + 1, self.name, self.tabs.len()));
            }
            Some(t) if t == from => return Err(format!("pane {pane} is in tab {} already", t + 1)),
            Some(t) => {
                let target = &self.tabs[t];
                Some((target.id, place_beside(&target.layout, target.focused, pane, area)?))
            }
        };
        match self.take_out(pane) {
            TakenOut::Kept | TakenOut::TabClosed => {}
            // Not reached: a pane alone in the session has no other tab to go to.
            TakenOut::SessionEmpty | TakenOut::NotHere => return Err("the pane has no tab".into()),
        }
        match placed {
            Some((tab_id, layout)) => {
                let ti = self.tabs.iter().position(|t| t.id == tab_id).ok_or("the tab has just gone")?;
                let tab = &mut self.tabs[ti];
                tab.layout = layout;
                tab.zoomed = None;
                tab.focused = pane;
                tab.recent.insert(0, pane);
                self.active = ti;
            }
            None => {
                self.tabs.push(Tab::new(new_tab, String::new(), Layout::Pane(pane), pane));
                self.active = self.tabs.len() - 1;
            }
        }
        Ok(())
    }
}

/// What a change to a session asks of its panes, which the runner carries out: the
/// session's rules decide, the pane owner acts.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Moved {
    /// The focus went from one pane to another: programs that asked (mode 1004) hear it.
    pub focus: Option<(PaneId, PaneId)>,
    /// Places may have changed size: every pane is sized to `Session::sizes` again.
    pub relayout: bool,
}

impl Moved {
    const RELAYOUT: Moved = Moved { focus: None, relayout: true };
    const NOTHING: Moved = Moved { focus: None, relayout: false };

    fn and(self, other: Moved) -> Moved {
        Moved { focus: other.focus.or(self.focus), relayout: self.relayout || other.relayout }
    }
}

/// Where a new pane will go, worked out before its program starts: if it cannot start,
/// nothing about the session has changed.
#[derive(Debug, PartialEq)]
pub struct Placement {
    pub pane: PaneId,
    /// The size its program starts at.
    pub size: Size,
    /// `None`: a tab of its own, with this id.
    tab: Result<usize, u32>,
    layout: Layout,
}

impl Session {
    /// The focused pane of the tab in view.
    pub fn focused(&self) -> Result<PaneId, String> {
        self.tabs.get(self.active).map(|t| t.focused).ok_or_else(|| "the session has no tabs".to_string())
    }

    fn active_tab(&mut self) -> Result<&mut Tab, String> {
        let active = self.active;
        self.tabs.get_mut(active).ok_or_else(|| "the session has no tabs".to_string())
    }

    /// Each pane's size: its place in its tab's layout, or the whole area when zoomed.
    pub fn sizes(&self) -> Vec<(PaneId, Size)> {
        let area = self.area();
        let size = |r: Rect| Size { cols: r.inner().w, rows: r.inner().h };
        let mut sizes = Vec::new();
        for tab in &self.tabs {
            match tab.zoomed {
                Some(z) => sizes.push((z, size(area))),
                None => sizes.extend(tab.layout.rects(area).into_iter().map(|(p, r)| (p, size(r)))),
            }
        }
        sizes
    }

    /// Focuses `pane` in its tab (leaving zoom when the focus moves, as tmux does).
    pub fn focus(&mut self, pane: PaneId) -> Moved {
        let Some(ti) = self.tab_of(pane) else { return Moved::NOTHING };
        let tab = &mut self.tabs[ti];
        let old = tab.focused;
        let unzoomed = old != pane && tab.zoomed.take().is_some();
        tab.focused = pane;
        tab.recent.retain(|p| *p != pane);
        tab.recent.insert(0, pane);
        self.touch();
        Moved { focus: (old != pane).then_some((old, pane)), relayout: unzoomed }
    }

    /// Carries out a command that only rearranges the session (focus, sizes, tabs, places).
    /// `next_tab` gives an id for a tab it opens. Commands that start or end programs
    /// (`Split`, `NewTab`, `ClosePane`, `CloseTab`, `Respawn`, `RenamePane`) are the
    /// runner's: for those this says so and changes nothing.
    pub fn apply(&mut self, command: &Command, next_tab: impl FnOnce() -> u32) -> Result<Moved, String> {
        let area = self.area();
        let focused = self.focused()?;
        let moved = match command {
            Command::Focus { pane } => {
                self.active = self.tab_of(*pane).ok_or_else(|| format!("no pane {pane} in this session"))?;
                self.focus(*pane)
            }
            Command::FocusDirection { dir } => {
                let tab = self.active_tab()?;
                match tab.layout.neighbor(focused, *dir, area, &tab.recent) {
                    Some(next) => self.focus(next),
                    None => Moved::NOTHING,
                }
            }
            Command::FocusNext | Command::FocusPrev => {
                let panes = self.active_tab()?.layout.panes();
                let i = panes.iter().position(|p| *p == focused).unwrap_or(0);
                let n = panes.len();
                let j = if *command == Command::FocusNext { (i + 1) % n } else { (i + n - 1) % n };
                self.focus(panes[j])
            }
            Command::FocusNumber { number } => {
                let panes = self.active_tab()?.layout.panes();
                let i = number.saturating_sub(1) as usize;
                let p = *panes.get(i).ok_or_else(|| format!("no pane {number} in this tab; it has {}", panes.len()))?;
                self.focus(p)
            }
            Command::Resize { dir, amount } => {
                let tab = self.active_tab()?;
                tab.zoomed = None;
                if !tab.layout.resize(focused, *dir, *amount, area) {
                    return Err("no border to move that way".into());
                }
                Moved::RELAYOUT
            }
            Command::Zoom => {
                let tab = self.active_tab()?;
                tab.zoomed = match tab.zoomed {
                    Some(_) => None,
                    None if tab.layout.panes().len() > 1 => Some(focused),
                    None => return Err("only one pane: nothing to zoom".into()),
                };
                Moved::RELAYOUT
            }
            Command::Equalize => {
                self.active_tab()?.layout.equalize();
                Moved::RELAYOUT
            }
            Command::SwapPane { pane, with } => {
                self.swap_panes(*pane, *with)?;
                Moved::RELAYOUT
            }
            Command::MovePane { pane, tab } => {
                self.move_pane(*pane, *tab, next_tab())?;
                Moved::RELAYOUT
            }
            Command::SelectLayout { arrangement } => {
                self.active_tab()?.arrange(*arrangement, area);
                Moved::RELAYOUT
            }
            Command::RenameTab { name } => {
                self.active_tab()?.name = name.trim().to_string();
                Moved::NOTHING
            }
            Command::ToggleSync => {
                let tab = self.active_tab()?;
                tab.synchronized = !tab.synchronized;
                Moved::NOTHING
            }
            Command::SelectTab { index } => {
                if *index >= self.tabs.len() {
                    return Err(format!("no tab {}; there are {}", index + 1, self.tabs.len()));
                }
                self.active = *index;
                Moved::NOTHING
            }
            Command::NextTab | Command::PrevTab => {
                let n = self.tabs.len();
                self.active =
                    if *command == Command::NextTab { (self.active + 1) % n } else { (self.active + n - 1) % n };
                Moved::NOTHING
            }
            Command::Split { .. }
            | Command::NewTab { .. }
            | Command::ClosePane { .. }
            | Command::CloseTab
            | Command::Respawn { .. }
            | Command::RenamePane { .. } => return Err("that command starts or ends programs: the runner's".into()),
        };
        self.touch();
        Ok(moved)
    }

    /// Where a new pane `pane` goes when it splits `target` towards `dir`.
    pub fn plan_split(&self, target: PaneId, dir: Direction, pane: PaneId) -> Result<Placement, String> {
        self.plan_in_tab(target, pane, |layout, area| layout.split(target, pane, dir, area).map_err(|e| e.to_string()))
    }

    /// Where a new pane `pane` goes in `target`'s tab, placed by `place` (given the tab's
    /// layout to change and its area).
    pub fn plan_in_tab(
        &self,
        target: PaneId,
        pane: PaneId,
        place: impl FnOnce(&mut Layout, Rect) -> Result<(), String>,
    ) -> Result<Placement, String> {
        let ti = self.tab_of(target).ok_or_else(|| format!("no pane {target} in this session"))?;
        let area = self.area();
        let mut layout = self.tabs[ti].layout.clone();
        place(&mut layout, area)?;
        Ok(Placement { pane, size: pane_size(&layout, pane, area), tab: Ok(ti), layout })
    }

    /// Where a new pane `pane` goes as the only pane of a new tab `tab`.
    pub fn plan_tab(&self, tab: u32, pane: PaneId) -> Placement {
        let inner = self.area().inner();
        Placement { pane, size: Size { cols: inner.w, rows: inner.h }, tab: Err(tab), layout: Layout::Pane(pane) }
    }

    /// Puts a pane whose program has started where `plan_*` said, and focuses it.
    pub fn place(&mut self, placement: Placement) -> Result<Moved, String> {
        let Placement { pane, tab, layout, .. } = placement;
        match tab {
            Ok(ti) => {
                let tab = self.tabs.get_mut(ti).ok_or("the tab has gone")?;
                tab.layout = layout;
                tab.zoomed = None;
                self.active = ti;
            }
            Err(id) => {
                self.tabs.push(Tab::new(id, String::new(), layout, pane));
                self.active = self.tabs.len() - 1;
            }
        }
        Ok(self.focus(pane).and(Moved::RELAYOUT))
    }
}

/// What taking a pane out of its tab left.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum TakenOut {
    /// The tab, with its other panes.
    Kept,
    /// Nothing: the tab closed.
    TabClosed,
    /// Nothing at all: it was the session's last pane.
    SessionEmpty,
    NotHere,
}

/// `layout` with `new` beside `target`, along `target`'s longer side, while every pane
/// stays usable; past that, the whole tab tiled.
pub(super) fn place_beside(layout: &Layout, target: PaneId, new: PaneId, area: Rect) -> Result<Layout, String> {
    let dir = auto_direction(layout.rect_of(target, area).unwrap_or(area));
    let mut split = layout.clone();
    if split.split(target, new, dir, area).is_ok() {
        let (w, h) = split.smallest(area);
        if w >= USABLE.0 && h >= USABLE.1 {
            return Ok(split);
        }
    }
    let mut panes = layout.panes();
    panes.push(new);
    let tiled = Layout::tiled(&panes, area);
    let (w, h) = tiled.smallest(area);
    if w < crate::layout::MIN_SIZE * 2 || h < crate::layout::MIN_SIZE * 2 {
        return Err("the tab has no room for another pane; open it in a new tab (--tab)".into());
    }
    Ok(tiled)
}

/// The session a new pane goes to: the one named, else `near`'s, else the one on a screen
/// (attached, and used or attached last), else the last used.
pub(super) fn session_for(st: &State, session: Option<&str>, near: Option<PaneId>) -> Result<u32, String> {
    match (session, near.and_then(|p| st.panes.get(&p)).map(|p| p.session)) {
        (Some(name), _) => {
            st.sessions.values().find(|s| s.name == name).map(|s| s.id).ok_or_else(|| no_such_session(st, name))
        }
        (None, Some(id)) => Ok(id),
        (None, None) => st
            .sessions
            .values()
            .max_by_key(|s| (!s.clients.is_empty(), s.last_used, s.id))
            .map(|s| s.id)
            .ok_or_else(|| "no session is running; start one with `teamster`".to_string()),
    }
}

pub(super) fn session_ref(st: &State, id: u32) -> Result<&Session, String> {
    st.sessions.get(&id).ok_or_else(|| "the session ended".to_string())
}

pub(super) fn session_mut(st: &mut State, id: u32) -> Result<&mut Session, String> {
    st.sessions.get_mut(&id).ok_or_else(|| "the session ended".to_string())
}

pub(super) fn active_tab_mut(st: &mut State, id: u32) -> Result<&mut Tab, String> {
    let s = session_mut(st, id)?;
    let active = s.active;
    s.tabs.get_mut(active).ok_or_else(|| "the session has no tabs".to_string())
}

/// Panes split along their longer side; a cell is about twice as tall as it is wide.
/// The smallest pane an automatic split may leave (columns, rows, borders included):
/// below it, the tab is tiled instead.
pub(super) const USABLE: (u16, u16) = (40, 10);

pub(super) fn auto_direction(r: Rect) -> Direction {
    if r.w as u32 >= r.h as u32 * 2 { Direction::Right } else { Direction::Down }
}

pub(super) fn pane_size(layout: &Layout, pane: PaneId, area: Rect) -> Size {
    let r = layout.rect_of(pane, area).unwrap_or(area).inner();
    Size { cols: r.w.max(1), rows: r.h.max(1) }
}

pub(super) fn describe_sessions(st: &State) -> String {
    let names: Vec<&str> = st.sessions.values().map(|s| s.name.as_str()).collect();
    if names.is_empty() { "no sessions are running".into() } else { format!("the sessions are: {}", names.join(", ")) }
}

pub(super) fn no_such_session(st: &State, name: &str) -> String {
    format!("no session named `{name}`; {}", describe_sessions(st))
}

/// The session's own rules for where panes go, without a process or a socket.
#[cfg(test)]
mod session_tests {
    use super::*;

    /// A session of 200x50 whose tabs hold these panes, side by side.
    fn session(tabs: &[&[PaneId]]) -> Session {
        let area = Rect::new(0, 0, 200, 50);
        let tabs = tabs
            .iter()
            .enumerate()
            .map(|(i, panes)| {
                let layout = Layout::arranged(Arrangement::EvenHorizontal, panes, area);
                Tab::new(i as u32 + 1, String::new(), layout, panes[0])
            })
            .collect();
        Session {
            id: 1,
            name: "work".into(),
            key: "k".into(),
            tabs,
            active: 0,
            size: Size { cols: 200, rows: 50 },
            owner: None,
            clients: BTreeMap::new(),
            context: Context::default(),
            colors: None,
            changed: watch::channel(0).0,
            version: 0,
            events: broadcast::channel(4).0,
            created: 0,
            last_used: 0,
            spend: 0.0,
            marks: Default::default(),
            cap_hit: None,
            contacted: Default::default(),
        }
    }

    fn panes(s: &Session) -> Vec<Vec<PaneId>> {
        s.tabs.iter().map(|t| t.layout.panes()).collect()
    }

    #[test]
    fn panes_swap_in_a_tab_and_across_tabs() {
        let mut s = session(&[&[1, 2, 3], &[4]]);
        s.swap_panes(1, 3).unwrap();
        assert_eq!(panes(&s), vec![vec![3, 2, 1], vec![4]]);
        assert_eq!(s.tabs[0].focused, 1, "the focus stays with its pane");
        s.swap_panes(2, 4).unwrap();
        assert_eq!(panes(&s), vec![vec![3, 4, 1], vec![2]]);
        assert_eq!(s.tabs[1].focused, 2, "the other tab's focus is on the pane that came");
        assert!(s.swap_panes(2, 2).is_err());
        assert!(s.swap_panes(2, 9).unwrap_err().contains("no pane 9"));
        assert_eq!(panes(&s), vec![vec![3, 4, 1], vec![2]], "a refused swap changes nothing");
    }

    #[test]
    fn a_pane_moves_to_another_tab_or_one_of_its_own() {
        let mut s = session(&[&[1, 2], &[3]]);
        s.move_pane(2, Some(1), 7).unwrap();
        assert_eq!(panes(&s), vec![vec![1], vec![3, 2]]);
        assert_eq!((s.active, s.tabs[1].focused, s.tabs[0].focused), (1, 2, 1), "it is focused where it lands");
        // The last pane of a tab takes its tab with it.
        s.move_pane(1, Some(1), 7).unwrap();
        assert_eq!(panes(&s), vec![vec![3, 2, 1]]);
        assert_eq!(s.active, 0);
        // Out to a tab of its own, with the id it is given.
        s.move_pane(2, None, 7).unwrap();
        assert_eq!(panes(&s), vec![vec![3, 1], vec![2]]);
        assert_eq!((s.tabs[1].id, s.active), (7, 1));
        assert!(s.move_pane(2, None, 8).unwrap_err().contains("alone"));
        assert!(s.move_pane(2, Some(5), 8).unwrap_err().contains("no tab 6"));
        assert!(s.move_pane(3, Some(0), 8).unwrap_err().contains("already"));
        assert_eq!(panes(&s), vec![vec![3, 1], vec![2]], "refused moves change nothing");
    }

    #[test]
    fn a_full_tab_is_tiled_to_take_a_moved_pane() {
        let ids: Vec<PaneId> = (1..=7).collect();
        let mut s = session(&[&ids, &[8]]);
        s.move_pane(8, Some(0), 9).unwrap();
        assert_eq!(s.tabs.len(), 1);
        let (w, h) = s.tabs[0].layout.smallest(s.area());
        assert!(w >= 40 && h >= 10, "every pane usable: {w}x{h}");
    }

    #[test]
    fn a_split_is_planned_then_placed_and_changes_nothing_until_then() {
        let mut s = session(&[&[1]]);
        let plan = s.plan_split(1, Direction::Right, 2).unwrap();
        // The program starts at the size of its place, beside a border.
        assert_eq!(plan.size, Size { cols: 98, rows: 48 });
        assert_eq!((panes(&s), s.focused()), (vec![vec![1]], Ok(1)), "a plan alone changes nothing");
        let moved = s.place(plan).unwrap();
        assert_eq!(moved, Moved { focus: Some((1, 2)), relayout: true });
        assert_eq!((panes(&s), s.focused()), (vec![vec![1, 2]], Ok(2)));
        assert!(s.plan_split(9, Direction::Down, 3).unwrap_err().contains("no pane 9"));
        // A tab of its own: the whole area, and the session looks at it.
        let plan = s.plan_tab(5, 3);
        assert_eq!(plan.size, Size { cols: 198, rows: 48 });
        s.place(plan).unwrap();
        assert_eq!((panes(&s), s.active, s.tabs[1].id), (vec![vec![1, 2], vec![3]], 1, 5));
    }

    #[test]
    fn focus_moves_tell_which_programs_lost_and_gained_it() {
        let mut s = session(&[&[1, 2, 3], &[4]]);
        let apply = |s: &mut Session, c: Command| s.apply(&c, || 9);
        assert_eq!(apply(&mut s, Command::FocusNext).unwrap().focus, Some((1, 2)));
        assert_eq!(apply(&mut s, Command::FocusPrev).unwrap().focus, Some((2, 1)));
        assert_eq!(apply(&mut s, Command::FocusPrev).unwrap().focus, Some((1, 3)), "it wraps");
        assert_eq!(apply(&mut s, Command::FocusNumber { number: 2 }).unwrap().focus, Some((3, 2)));
        assert!(apply(&mut s, Command::FocusNumber { number: 7 }).unwrap_err().contains("it has 3"));
        let dir = apply(&mut s, Command::FocusDirection { dir: Direction::Right }).unwrap();
        assert_eq!(dir.focus, Some((2, 3)));
        assert_eq!(apply(&mut s, Command::FocusDirection { dir: Direction::Right }).unwrap(), Moved::default());
        // Focusing a pane of another tab goes to that tab.
        assert_eq!(apply(&mut s, Command::Focus { pane: 4 }).unwrap().focus, None, "4 was its tab's focus");
        assert_eq!(s.active, 1);
        assert!(apply(&mut s, Command::Focus { pane: 8 }).unwrap_err().contains("no pane 8"));
    }

    #[test]
    fn zoom_gives_one_pane_the_tab_until_the_focus_moves() {
        let mut s = session(&[&[1, 2], &[3]]);
        assert_eq!(s.apply(&Command::Zoom, || 9).unwrap(), Moved { focus: None, relayout: true });
        let sizes = s.sizes();
        assert!(sizes.contains(&(1, Size { cols: 198, rows: 48 })), "{sizes:?}");
        assert!(!sizes.iter().any(|(p, _)| *p == 2), "a pane hidden by zoom keeps its size: {sizes:?}");
        // Moving the focus leaves zoom, as in tmux: every pane is sized again.
        assert_eq!(s.apply(&Command::FocusNext, || 9).unwrap(), Moved { focus: Some((1, 2)), relayout: true });
        assert_eq!(s.tabs[0].zoomed, None);
        s.apply(&Command::SelectTab { index: 1 }, || 9).unwrap();
        assert!(s.apply(&Command::Zoom, || 9).unwrap_err().contains("only one pane"));
        assert!(s.apply(&Command::SelectTab { index: 2 }, || 9).unwrap_err().contains("no tab 3"));
    }

    #[test]
    fn tabs_cycle_and_a_moved_pane_takes_the_tab_id_given() {
        let mut s = session(&[&[1, 2], &[3]]);
        s.apply(&Command::NextTab, || 9).unwrap();
        s.apply(&Command::NextTab, || 9).unwrap();
        assert_eq!(s.active, 0, "it wraps");
        s.apply(&Command::PrevTab, || 9).unwrap();
        assert_eq!(s.active, 1);
        s.apply(&Command::MovePane { pane: 2, tab: None }, || 9).unwrap();
        assert_eq!((panes(&s), s.tabs[2].id), (vec![vec![1], vec![3], vec![2]], 9));
        s.apply(&Command::RenameTab { name: "  build ".into() }, || 9).unwrap();
        assert_eq!(s.tabs[2].name, "build");
        let v = s.version;
        assert!(s.apply(&Command::CloseTab, || 9).unwrap_err().contains("runner's"));
        assert_eq!(s.version, v, "a command the session cannot carry out changes nothing");
    }
}
