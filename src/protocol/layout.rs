//! Pane layout: a tree of splits, and the rectangles it gives an area.
//!
//! Pure and deterministic: the runner (to size each PTY) and every client (to draw) compute
//! the same rectangles from the same tree, so all arithmetic is on integers. Each pane's
//! rectangle includes its one-cell border; the program inside gets the rest.

use serde::{Deserialize, Serialize};

pub type PaneId = u32;

/// The smallest pane: a border around one cell.
pub const MIN_SIZE: u16 = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash, Serialize, Deserialize)]
pub struct Rect {
    pub x: u16,
    pub y: u16,
    pub w: u16,
    pub h: u16,
}

impl Rect {
    pub fn new(x: u16, y: u16, w: u16, h: u16) -> Rect {
        Rect { x, y, w, h }
    }

    /// The inside of the border.
    pub fn inner(self) -> Rect {
        Rect { x: self.x + 1, y: self.y + 1, w: self.w.saturating_sub(2), h: self.h.saturating_sub(2) }
    }

    pub fn contains(self, x: u16, y: u16) -> bool {
        x >= self.x && x < self.x + self.w && y >= self.y && y < self.y + self.h
    }

    fn end_x(self) -> u16 {
        self.x + self.w
    }

    fn end_y(self) -> u16 {
        self.y + self.h
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    Left,
    Right,
    Up,
    Down,
}

impl Direction {
    /// As keymaps and help name it.
    pub fn name(self) -> &'static str {
        match self {
            Direction::Left => "left",
            Direction::Right => "right",
            Direction::Up => "up",
            Direction::Down => "down",
        }
    }

    fn axis(self) -> Axis {
        match self {
            Direction::Left | Direction::Right => Axis::Horizontal,
            Direction::Up | Direction::Down => Axis::Vertical,
        }
    }
}

/// Horizontal: children side by side, left to right. Vertical: stacked, top to bottom.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Axis {
    Horizontal,
    Vertical,
}

/// A whole arrangement of a tab's panes, as tmux names them (`teamster layout NAME`, and a
/// key that cycles through them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Arrangement {
    /// A grid of equal cells.
    Tiled,
    /// The main pane on the left, the others stacked on the right.
    MainVertical,
    /// The main pane on top, the others side by side below.
    MainHorizontal,
    /// All side by side.
    EvenHorizontal,
    /// All stacked.
    EvenVertical,
}

impl Arrangement {
    pub const ALL: [Arrangement; 5] = [
        Arrangement::Tiled,
        Arrangement::MainVertical,
        Arrangement::MainHorizontal,
        Arrangement::EvenHorizontal,
        Arrangement::EvenVertical,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Arrangement::Tiled => "tiled",
            Arrangement::MainVertical => "main-vertical",
            Arrangement::MainHorizontal => "main-horizontal",
            Arrangement::EvenHorizontal => "even-horizontal",
            Arrangement::EvenVertical => "even-vertical",
        }
    }

    /// The next in the cycle (after none: the first).
    pub fn next(current: Option<Arrangement>) -> Arrangement {
        let i = current.and_then(|c| Arrangement::ALL.iter().position(|a| *a == c)).map_or(0, |i| i + 1);
        Arrangement::ALL[i % Arrangement::ALL.len()]
    }
}

impl std::str::FromStr for Arrangement {
    type Err = String;

    fn from_str(s: &str) -> Result<Arrangement, String> {
        Arrangement::ALL.into_iter().find(|a| a.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Arrangement::ALL.iter().map(|a| a.name()).collect();
            format!("no layout `{s}`; the layouts are {}", names.join(", "))
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    Pane(PaneId),
    Split { axis: Axis, children: Vec<Child> },
}

/// A child of a split and its share of the split's length.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Child {
    pub node: Layout,
    pub weight: u32,
}

#[derive(Debug, PartialEq, Eq)]
pub enum LayoutError {
    NoSuchPane(PaneId),
    TooSmall,
}

impl std::fmt::Display for LayoutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LayoutError::NoSuchPane(p) => write!(f, "no pane {p} in this tab"),
            LayoutError::TooSmall => write!(f, "the pane is too small to split; make it larger or zoom out first"),
        }
    }
}

impl std::error::Error for LayoutError {}

/// Splits `total` cells among `weights` proportionally; the remainder goes to the first
/// children, one cell each, so the result always sums to `total`.
fn distribute(total: u16, weights: &[u32]) -> Vec<u16> {
    let sum: u64 = weights.iter().map(|&w| w.max(1) as u64).sum();
    let mut sizes: Vec<u16> = weights.iter().map(|&w| (total as u64 * w.max(1) as u64 / sum) as u16).collect();
    let mut left = total - sizes.iter().sum::<u16>();
    for s in sizes.iter_mut() {
        if left == 0 {
            break;
        }
        *s += 1;
        left -= 1;
    }
    sizes
}

fn child_rects(area: Rect, axis: Axis, children: &[Child]) -> Vec<Rect> {
    let weights: Vec<u32> = children.iter().map(|c| c.weight).collect();
    let total = if axis == Axis::Horizontal { area.w } else { area.h };
    let mut at = 0;
    distribute(total, &weights)
        .into_iter()
        .map(|len| {
            let r = match axis {
                Axis::Horizontal => Rect::new(area.x + at, area.y, len, area.h),
                Axis::Vertical => Rect::new(area.x, area.y + at, area.w, len),
            };
            at += len;
            r
        })
        .collect()
}

impl Layout {
    pub fn panes(&self) -> Vec<PaneId> {
        let mut out = Vec::new();
        self.collect_panes(&mut out);
        out
    }

    fn collect_panes(&self, out: &mut Vec<PaneId>) {
        match self {
            Layout::Pane(p) => out.push(*p),
            Layout::Split { children, .. } => children.iter().for_each(|c| c.node.collect_panes(out)),
        }
    }

    pub fn contains(&self, pane: PaneId) -> bool {
        match self {
            Layout::Pane(p) => *p == pane,
            Layout::Split { children, .. } => children.iter().any(|c| c.node.contains(pane)),
        }
    }

    /// The rectangle (border included) of `pane` within `area`.
    pub fn rect_of(&self, pane: PaneId, area: Rect) -> Option<Rect> {
        self.rects(area).into_iter().find(|(p, _)| *p == pane).map(|(_, r)| r)
    }

    /// Each pane's rectangle (border included) within `area`, in tree order.
    pub fn rects(&self, area: Rect) -> Vec<(PaneId, Rect)> {
        let mut out = Vec::new();
        self.collect_rects(area, &mut out);
        out
    }

    fn collect_rects(&self, area: Rect, out: &mut Vec<(PaneId, Rect)>) {
        match self {
            Layout::Pane(p) => out.push((*p, area)),
            Layout::Split { axis, children } => {
                for (child, r) in children.iter().zip(child_rects(area, *axis, children)) {
                    child.node.collect_rects(r, out);
                }
            }
        }
    }

    /// The smallest width and height this subtree can be drawn in.
    fn min_size(&self) -> (u16, u16) {
        match self {
            Layout::Pane(_) => (MIN_SIZE, MIN_SIZE),
            Layout::Split { axis, children } => {
                let sizes = children.iter().map(|c| c.node.min_size());
                match axis {
                    Axis::Horizontal => sizes.fold((0, 0), |(w, h), (cw, ch)| (w + cw, h.max(ch))),
                    Axis::Vertical => sizes.fold((0, 0), |(w, h), (cw, ch)| (w.max(cw), h + ch)),
                }
            }
        }
    }

    /// Splits `target`, putting `new` to its right or below it; each gets half.
    pub fn split(&mut self, target: PaneId, new: PaneId, dir: Direction, area: Rect) -> Result<(), LayoutError> {
        let rect = self.rect_of(target, area);
        let rect = rect.ok_or(LayoutError::NoSuchPane(target))?;
        let axis = dir.axis();
        let len = if axis == Axis::Horizontal { rect.w } else { rect.h };
        if len < MIN_SIZE * 2 {
            return Err(LayoutError::TooSmall);
        }
        let before = matches!(dir, Direction::Left | Direction::Up);
        self.split_node(target, new, axis, before, len);
        Ok(())
    }

    fn split_node(&mut self, target: PaneId, new: PaneId, axis: Axis, before: bool, len: u16) -> bool {
        match self {
            Layout::Pane(p) if *p == target => {
                let half = (len / 2) as u32;
                let (a, b) = (Layout::Pane(target), Layout::Pane(new));
                let (first, second) = if before { (b, a) } else { (a, b) };
                *self = Layout::Split {
                    axis,
                    children: vec![
                        Child { node: first, weight: len as u32 - half },
                        Child { node: second, weight: half },
                    ],
                };
                true
            }
            Layout::Pane(_) => false,
            Layout::Split { axis: own, children } => {
                let Some(i) = children.iter().position(|c| c.node.contains(target)) else { return false };
                if *own == axis && children[i].node == Layout::Pane(target) {
                    // Same direction as this split: the new pane becomes a sibling.
                    let w = children[i].weight;
                    children[i].weight = w - w / 2;
                    let at = if before { i } else { i + 1 };
                    children.insert(at, Child { node: Layout::Pane(new), weight: (w / 2).max(1) });
                    true
                } else {
                    children[i].node.split_node(target, new, axis, before, len)
                }
            }
        }
    }

    /// Removes a pane; its space goes to its neighbours. Returns false when the pane is
    /// the only one (the caller closes the tab instead).
    pub fn remove(&mut self, pane: PaneId) -> bool {
        match self {
            Layout::Pane(_) => false,
            Layout::Split { children, axis } => {
                let Some(i) = children.iter().position(|c| c.node.contains(pane)) else { return false };
                if children[i].node == Layout::Pane(pane) {
                    let freed = children.remove(i).weight;
                    let heir = if i > 0 { i - 1 } else { 0 };
                    children[heir].weight += freed;
                } else {
                    children[i].node.remove(pane);
                }
                // A split left with one child becomes that child; a child split along the
                // same axis is folded into this one.
                if children.len() == 1 {
                    *self = children.remove(0).node;
                } else {
                    let axis = *axis;
                    let mut merged = Vec::new();
                    for c in children.drain(..) {
                        match c.node {
                            Layout::Split { axis: a, children: grand } if a == axis => {
                                let sum: u64 = grand.iter().map(|g| g.weight as u64).sum::<u64>().max(1);
                                for g in grand {
                                    let w = (c.weight as u64 * g.weight as u64 / sum).max(1) as u32;
                                    merged.push(Child { node: g.node, weight: w });
                                }
                            }
                            node => merged.push(Child { node, weight: c.weight }),
                        }
                    }
                    *children = merged;
                }
                true
            }
        }
    }

    /// The pane next to `from` in `dir`, among those sharing the edge: the one focused
    /// most recently (`recent`, newest first), else one level with `from`'s middle, else
    /// the one that overlaps it most.
    pub fn neighbor(&self, from: PaneId, dir: Direction, area: Rect, recent: &[PaneId]) -> Option<PaneId> {
        let rects = self.rects(area);
        let src = rects.iter().find(|(p, _)| *p == from)?.1;
        let overlap = |a0: u16, a1: u16, b0: u16, b1: u16| a1.min(b1).saturating_sub(a0.max(b0));
        rects
            .iter()
            .filter(|(p, _)| *p != from)
            .filter_map(|&(p, r)| {
                // Whether it shares the edge, and its span and `from`'s across that edge.
                let (touches, (a0, a1), (b0, b1)) = match dir {
                    Direction::Right => (r.x == src.end_x(), (src.y, src.end_y()), (r.y, r.end_y())),
                    Direction::Left => (r.end_x() == src.x, (src.y, src.end_y()), (r.y, r.end_y())),
                    Direction::Down => (r.y == src.end_y(), (src.x, src.end_x()), (r.x, r.end_x())),
                    Direction::Up => (r.end_y() == src.y, (src.x, src.end_x()), (r.x, r.end_x())),
                };
                let ov = overlap(a0, a1, b0, b1);
                let mid = a0 + (a1 - a0) / 2;
                let mid_inside = mid >= b0 && mid < b1;
                let recency = recent.iter().position(|&q| q == p).map_or(0, |i| usize::MAX - i);
                (touches && ov > 0).then_some((p, (recency, mid_inside, ov)))
            })
            .max_by_key(|&(_, rank)| rank)
            .map(|(p, _)| p)
    }

    /// Moves the border of `pane` by `amount` cells in `dir`, as tmux's resize-pane does:
    /// the border after the pane (right or below) if it has one, else the one before it.
    /// Returns false when there is no border to move that way or no room to move it.
    pub fn resize(&mut self, pane: PaneId, dir: Direction, amount: u16, area: Rect) -> bool {
        let Layout::Split { axis, children } = self else { return false };
        let Some(i) = children.iter().position(|c| c.node.contains(pane)) else { return false };
        let rects = child_rects(area, *axis, children);
        // Deeper splits along the same axis get the first chance, as their border is nearer.
        if children[i].node.resize(pane, dir, amount, rects[i]) {
            return true;
        }
        if *axis != dir.axis() || children.len() < 2 {
            return false;
        }
        // The border between children `a` and `a + 1`.
        let a = if i + 1 < children.len() { i } else { i - 1 };
        let lens: Vec<u16> = rects.iter().map(|r| if *axis == Axis::Horizontal { r.w } else { r.h }).collect();
        let mins: Vec<u16> = children
            .iter()
            .map(|c| {
                let (w, h) = c.node.min_size();
                if *axis == Axis::Horizontal { w } else { h }
            })
            .collect();
        let forward = matches!(dir, Direction::Right | Direction::Down);
        let (grow, shrink) = if forward { (a, a + 1) } else { (a + 1, a) };
        let room = lens[shrink].saturating_sub(mins[shrink]);
        let step = amount.min(room);
        if step == 0 {
            return false;
        }
        // Weights become cell lengths, so the new border lands exactly where asked.
        for (c, &len) in children.iter_mut().zip(&lens) {
            c.weight = len as u32;
        }
        children[grow].weight += step as u32;
        children[shrink].weight -= step as u32;
        true
    }

    /// `panes`, in order, in a grid of equal cells over `area`: as many columns as keep
    /// each cell about twice as wide as tall (a terminal cell is about twice as tall as
    /// wide), rows of equal height, the last row's panes sharing its width.
    pub fn tiled(panes: &[PaneId], area: Rect) -> Layout {
        let n = panes.len().max(1);
        // Columns c and rows r = ceil(n / c), choosing the c whose cells are squarest on
        // screen (w / c against 2 * h / r).
        let squareness = |c: usize| {
            let r = n.div_ceil(c);
            let (w, h) = (area.w as f64 / c as f64, 2.0 * area.h as f64 / r as f64);
            (w / h).max(h / w)
        };
        let cols = (1..=n).min_by(|a, b| squareness(*a).total_cmp(&squareness(*b))).unwrap_or(1);
        let rows: Vec<Child> = panes
            .chunks(cols)
            .map(|row| {
                let node = match row {
                    [one] => Layout::Pane(*one),
                    _ => Layout::Split {
                        axis: Axis::Horizontal,
                        children: row.iter().map(|p| Child { node: Layout::Pane(*p), weight: 100 }).collect(),
                    },
                };
                Child { node, weight: 100 }
            })
            .collect();
        match rows.len() {
            0 => Layout::Pane(panes.first().copied().unwrap_or_default()),
            1 => rows.into_iter().next().map(|c| c.node).unwrap_or(Layout::Pane(0)),
            _ => Layout::Split { axis: Axis::Vertical, children: rows },
        }
    }

    /// `panes` arranged as `how` over `area`; the first is the main pane.
    pub fn arranged(how: Arrangement, panes: &[PaneId], area: Rect) -> Layout {
        let split = |axis: Axis, nodes: Vec<(Layout, u32)>| match nodes.len() {
            1 => nodes.into_iter().next().map(|(n, _)| n).unwrap_or(Layout::Pane(0)),
            _ => Layout::Split {
                axis,
                children: nodes.into_iter().map(|(node, weight)| Child { node, weight }).collect(),
            },
        };
        let each = |ps: &[PaneId]| ps.iter().map(|p| (Layout::Pane(*p), 100)).collect::<Vec<_>>();
        match (how, panes) {
            (_, []) => Layout::Pane(0),
            (_, [one]) => Layout::Pane(*one),
            (Arrangement::Tiled, _) => Layout::tiled(panes, area),
            (Arrangement::EvenHorizontal, _) => split(Axis::Horizontal, each(panes)),
            (Arrangement::EvenVertical, _) => split(Axis::Vertical, each(panes)),
            // The main pane takes three fifths; the others share the rest.
            (Arrangement::MainVertical, [main, rest @ ..]) => {
                split(Axis::Horizontal, vec![(Layout::Pane(*main), 150), (split(Axis::Vertical, each(rest)), 100)])
            }
            (Arrangement::MainHorizontal, [main, rest @ ..]) => {
                split(Axis::Vertical, vec![(Layout::Pane(*main), 150), (split(Axis::Horizontal, each(rest)), 100)])
            }
        }
    }

    /// Puts `new` where `old` is; false when `old` is not here.
    pub fn replace(&mut self, old: PaneId, new: PaneId) -> bool {
        match self {
            Layout::Pane(p) if *p == old => {
                *p = new;
                true
            }
            Layout::Pane(_) => false,
            Layout::Split { children, .. } => children.iter_mut().any(|c| c.node.replace(old, new)),
        }
    }

    /// Exchanges the places of two panes of this layout; false unless both are here.
    pub fn swap(&mut self, a: PaneId, b: PaneId) -> bool {
        if a == b || !self.contains(a) || !self.contains(b) {
            return a == b && self.contains(a);
        }
        // Through an id no pane has, so that the second replace finds the right one.
        self.replace(a, PaneId::MAX) && self.replace(b, a) && self.replace(PaneId::MAX, b)
    }

    /// The smallest width and height among the panes' rectangles in `area`.
    pub fn smallest(&self, area: Rect) -> (u16, u16) {
        self.rects(area).iter().fold((u16::MAX, u16::MAX), |(w, h), (_, r)| (w.min(r.w), h.min(r.h)))
    }

    /// Gives every child of every split the same share.
    pub fn equalize(&mut self) {
        if let Layout::Split { children, .. } = self {
            for c in children.iter_mut() {
                c.weight = 100;
                c.node.equalize();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panes_swap_places_and_keep_their_sizes() {
        let area = Rect::new(0, 0, 120, 40);
        let mut l = Layout::Pane(1);
        l.split(1, 2, Direction::Right, area).unwrap();
        l.split(2, 3, Direction::Down, area).unwrap();
        let before = l.rects(area);
        assert!(l.swap(1, 3));
        let after = l.rects(area);
        assert_eq!(after[0], (3, before[0].1));
        assert_eq!(after[2], (1, before[2].1));
        assert_eq!(after[1], before[1]);
        assert!(!l.swap(1, 9), "a pane not in the layout");
        assert_eq!(l.rects(area), after, "a refused swap changes nothing");
        assert!(l.replace(2, 7) && l.contains(7) && !l.contains(2));
    }

    const AREA: Rect = Rect { x: 0, y: 0, w: 100, h: 40 };

    fn rect_of(l: &Layout, p: PaneId) -> Rect {
        l.rect_of(p, AREA).expect("pane present")
    }

    #[test]
    fn arrangements_place_every_pane_as_named() {
        let panes = [7, 8, 9];
        let rects = |how| {
            let l = Layout::arranged(how, &panes, AREA);
            assert_eq!(l.panes(), panes, "{how:?} keeps every pane, in order");
            panes.map(|p| rect_of(&l, p))
        };
        let [a, b, c] = rects(Arrangement::EvenHorizontal);
        assert!(a.h == 40 && b.h == 40 && c.h == 40 && a.x < b.x && b.x < c.x && a.w.abs_diff(c.w) <= 1);
        let [a, b, c] = rects(Arrangement::EvenVertical);
        assert!(a.w == 100 && b.w == 100 && c.w == 100 && a.y < b.y && b.y < c.y);
        let [main, b, c] = rects(Arrangement::MainVertical);
        assert_eq!((main.x, main.w, main.h), (0, 60, 40));
        assert!(b.x == 60 && c.x == 60 && b.y < c.y && b.w == 40);
        let [main, b, c] = rects(Arrangement::MainHorizontal);
        assert_eq!((main.y, main.w, main.h), (0, 100, 24));
        assert!(b.y == 24 && c.y == 24 && b.x < c.x);
        assert_eq!(Layout::arranged(Arrangement::Tiled, &panes, AREA), Layout::tiled(&panes, AREA));
        // Cycling goes through every one and round again; names parse back.
        let mut seen = vec![];
        let mut at = None;
        for _ in 0..Arrangement::ALL.len() {
            let next = Arrangement::next(at);
            seen.push(next);
            at = Some(next);
        }
        assert_eq!(seen, Arrangement::ALL);
        assert_eq!(Arrangement::next(at), Arrangement::Tiled);
        for a in Arrangement::ALL {
            assert_eq!(a.name().parse::<Arrangement>(), Ok(a));
        }
        assert!("spiral".parse::<Arrangement>().unwrap_err().contains("main-vertical"));
    }

    #[test]
    fn a_tiled_grid_keeps_every_pane_usable() {
        let big = Rect::new(0, 0, 200, 50);
        // Eight panes on 200x50: a grid, each at least 50 columns by 16 rows, not 6x6.
        let panes: Vec<PaneId> = (1..=8).collect();
        let l = Layout::tiled(&panes, big);
        assert_eq!(l.panes(), panes, "in order");
        let (w, h) = l.smallest(big);
        assert!(w >= 50 && h >= 16, "{w}x{h}: {:?}", l.rects(big));
        // One pane fills it; two go side by side on a wide screen.
        assert_eq!(Layout::tiled(&[4], big), Layout::Pane(4));
        let two = Layout::tiled(&[1, 2], big);
        assert!(matches!(&two, Layout::Split { axis: Axis::Horizontal, children } if children.len() == 2), "{two:?}");
        // The cells cover the area exactly.
        let cells: u32 = l.rects(big).iter().map(|(_, r)| r.w as u32 * r.h as u32).sum();
        assert_eq!(cells, 200 * 50);
    }

    #[test]
    fn one_pane_fills_the_area() {
        assert_eq!(Layout::Pane(1).rects(AREA), vec![(1, AREA)]);
        assert_eq!(AREA.inner(), Rect::new(1, 1, 98, 38));
    }

    #[test]
    fn splits_right_and_down_halve_the_pane() {
        let mut l = Layout::Pane(1);
        l.split(1, 2, Direction::Right, AREA).unwrap();
        assert_eq!(l.rects(AREA), vec![(1, Rect::new(0, 0, 50, 40)), (2, Rect::new(50, 0, 50, 40))]);
        l.split(2, 3, Direction::Down, AREA).unwrap();
        assert_eq!(rect_of(&l, 2), Rect::new(50, 0, 50, 20));
        assert_eq!(rect_of(&l, 3), Rect::new(50, 20, 50, 20));
        assert_eq!(l.panes(), vec![1, 2, 3]);
    }

    #[test]
    fn splitting_along_the_same_axis_adds_a_sibling() {
        let mut l = Layout::Pane(1);
        l.split(1, 2, Direction::Right, AREA).unwrap();
        l.split(2, 3, Direction::Right, AREA).unwrap();
        let Layout::Split { children, .. } = &l else { panic!("expected a split") };
        assert_eq!(children.len(), 3);
        let widths: Vec<u16> = l.rects(AREA).iter().map(|(_, r)| r.w).collect();
        assert_eq!(widths, vec![50, 25, 25]);
    }

    #[test]
    fn rects_always_tile_the_area_exactly() {
        let mut l = Layout::Pane(1);
        for (i, dir) in [Direction::Right, Direction::Down, Direction::Right, Direction::Down, Direction::Left]
            .into_iter()
            .enumerate()
        {
            let target = *l.panes().last().unwrap();
            l.split(target, i as u32 + 2, dir, AREA).unwrap();
        }
        for area in [AREA, Rect::new(0, 0, 37, 23), Rect::new(3, 1, 200, 50)] {
            let cells: u32 = l.rects(area).iter().map(|(_, r)| r.w as u32 * r.h as u32).sum();
            assert_eq!(cells, area.w as u32 * area.h as u32, "rects overlap or leave gaps in {area:?}");
        }
    }

    #[test]
    fn too_small_to_split() {
        let mut l = Layout::Pane(1);
        assert_eq!(l.split(1, 2, Direction::Right, Rect::new(0, 0, 5, 10)), Err(LayoutError::TooSmall));
        assert_eq!(l.split(9, 2, Direction::Right, AREA), Err(LayoutError::NoSuchPane(9)));
    }

    #[test]
    fn removing_a_pane_gives_its_space_to_a_neighbour_and_collapses_splits() {
        let mut l = Layout::Pane(1);
        l.split(1, 2, Direction::Right, AREA).unwrap();
        l.split(2, 3, Direction::Down, AREA).unwrap();
        assert!(l.remove(3));
        assert_eq!(rect_of(&l, 2), Rect::new(50, 0, 50, 40));
        assert!(l.remove(1));
        assert_eq!(l, Layout::Pane(2));
        assert!(!l.remove(2), "the last pane is not removed");
    }

    #[test]
    fn neighbours_by_direction() {
        // 1 | 2
        //   | 3
        let mut l = Layout::Pane(1);
        l.split(1, 2, Direction::Right, AREA).unwrap();
        l.split(2, 3, Direction::Down, AREA).unwrap();
        assert_eq!(l.neighbor(1, Direction::Right, AREA, &[]), Some(3), "the one level with pane 1's middle");
        assert_eq!(l.neighbor(1, Direction::Right, AREA, &[1, 2, 3]), Some(2), "the one focused last");
        assert_eq!(l.neighbor(3, Direction::Left, AREA, &[]), Some(1));
        assert_eq!(l.neighbor(2, Direction::Down, AREA, &[]), Some(3));
        assert_eq!(l.neighbor(3, Direction::Up, AREA, &[]), Some(2));
        assert_eq!(l.neighbor(1, Direction::Left, AREA, &[]), None);
    }

    #[test]
    fn resize_moves_the_nearest_border_like_tmux() {
        let mut l = Layout::Pane(1);
        l.split(1, 2, Direction::Right, AREA).unwrap();
        assert!(l.resize(1, Direction::Right, 10, AREA));
        assert_eq!(rect_of(&l, 1).w, 60);
        // Pane 2 has no border to its right, so its left border moves.
        assert!(l.resize(2, Direction::Right, 5, AREA));
        assert_eq!(rect_of(&l, 2).w, 35);
        assert!(l.resize(2, Direction::Left, 500, AREA), "moves as far as the other pane allows");
        assert_eq!(rect_of(&l, 1).w, MIN_SIZE);
        assert!(!l.resize(1, Direction::Up, 5, AREA), "no horizontal border to move");
    }

    #[test]
    fn resize_in_a_nested_split_moves_the_inner_border() {
        let mut l = Layout::Pane(1);
        l.split(1, 2, Direction::Right, AREA).unwrap();
        l.split(2, 3, Direction::Down, AREA).unwrap();
        assert!(l.resize(2, Direction::Down, 4, AREA));
        assert_eq!(rect_of(&l, 2).h, 24);
        assert!(l.resize(3, Direction::Left, 4, AREA));
        assert_eq!(rect_of(&l, 1).w, 46);
        assert_eq!(rect_of(&l, 2).w, 54, "the border of the whole column moved");
    }

    #[test]
    fn equalize_evens_out_sizes() {
        let mut l = Layout::Pane(1);
        l.split(1, 2, Direction::Right, AREA).unwrap();
        l.split(2, 3, Direction::Right, AREA).unwrap();
        l.equalize();
        let widths: Vec<u16> = l.rects(Rect::new(0, 0, 99, 10)).iter().map(|(_, r)| r.w).collect();
        assert_eq!(widths, vec![33, 33, 33]);
    }
}
