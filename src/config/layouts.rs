//! `[layouts.NAME]`: a whole tab of panes, opened at once (`teamster -l NAME`, or
//! `teamster layout NAME` for a new tab of a running session).
//!
//! A layout is a tree, as zellij's layout files are: a node is either a split, whose
//! `panes` go side by side (`split = "right"`, the default) or one above the other
//! (`split = "down"`), or arranged as one of the built-in arrangements (`arrangement =
//! "tiled"`, for panes that are not splits themselves), or a pane, which runs an agent, a
//! command, or the shell. `size` is a node's share of the split it is in, in percent (`60`
//! or `"60%"`); the nodes without one share what is left.
//!
//! ```toml
//! [layouts.review]
//! split = "right"
//! panes = [
//!   { agent = "claude", name = "writer", size = 60 },
//!   { split = "down", panes = [{ agent = "codex", name = "reviewer" }, { command = "cargo watch -x test" }] },
//! ]
//! ```

use crate::layout::{Arrangement, Axis, Child, Layout, PaneId, Rect};
use crate::protocol::Spawn;
use serde::{Deserialize, Serialize};

/// The most panes one layout opens.
pub const MAX_PANES: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SplitDir {
    /// Side by side.
    Right,
    /// One above the other.
    Down,
}

/// A command line: one string run by `sh -c`, or the program and its arguments.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum CommandLine {
    Line(String),
    Argv(Vec<String>),
}

/// A share of a split: `60` or `"60%"`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Share {
    Percent(u32),
    Text(String),
}

impl Share {
    /// The percentage, if it is one.
    fn percent(&self) -> Option<u32> {
        match self {
            Share::Percent(p) => Some(*p),
            Share::Text(t) => t.trim().trim_end_matches('%').trim().parse().ok(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LayoutNode {
    /// A split: how its `panes` are laid out (side by side unless it says otherwise).
    pub split: Option<SplitDir>,
    /// Or its `panes` arranged as a built-in arrangement does.
    pub arrangement: Option<Arrangement>,
    pub panes: Vec<LayoutNode>,
    /// A pane running an agent: `shell`, an `[agents.NAME]` entry or a built-in agent.
    pub agent: Option<String>,
    /// A pane running this command.
    pub command: Option<CommandLine>,
    /// The pane's name (as `teamster new --name`).
    pub name: Option<String>,
    /// Where the pane starts (`~` is your home; relative to where the layout is opened).
    pub cwd: Option<String>,
    /// Share of the enclosing split, in percent.
    pub size: Option<Share>,
}

/// What to say when `name` is no layout: the config's layouts, and (where an arrangement
/// would do too, as for `teamster layout`) the built-in arrangements.
pub fn unknown<'a>(name: &str, layouts: impl Iterator<Item = &'a String>, arrangements: bool) -> String {
    let mut known: Vec<&str> = layouts.map(String::as_str).collect();
    let mut text = if known.is_empty() {
        format!("no layout `{name}`: the config has no [layouts.NAME] (see config.example.toml)")
    } else {
        known.sort_unstable();
        format!("no layout `{name}`; the config's layouts are {}", known.join(", "))
    };
    if arrangements {
        let names: Vec<&str> = crate::layout::Arrangement::ALL.iter().map(|a| a.name()).collect();
        text.push_str(&format!("; the built-in arrangements are {}", names.join(", ")));
    }
    text
}

/// A layout pane's `cwd` as a path: `~` is your home, a relative one is beneath `base`
/// (where the layout is opened).
pub fn pane_dir(dir: &str, base: Option<&str>) -> String {
    let dir = super::expand_home(dir);
    match base {
        Some(b) if dir.is_relative() => std::path::Path::new(b).join(&dir),
        _ => dir,
    }
    .to_string_lossy()
    .into_owned()
}

/// One pane a layout opens: what it runs and what it is called.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayoutPane {
    pub spawn: Spawn,
    pub name: Option<String>,
    pub cwd: Option<String>,
}

impl LayoutNode {
    /// Says what is wrong with the tree, if anything: a key and a message, as the
    /// config's errors are given. `is_agent` tells whether a name is an agent.
    pub fn check(&self, key: &str, is_agent: &dyn Fn(&str) -> bool) -> Result<(), (String, String)> {
        let count = self.pane_count();
        if count > MAX_PANES {
            return Err((key.into(), format!("opens {count} panes; a layout opens at most {MAX_PANES}")));
        }
        self.check_node(key, is_agent)
    }

    fn check_node(&self, key: &str, is_agent: &dyn Fn(&str) -> bool) -> Result<(), (String, String)> {
        if let Some(size) = &self.size {
            match size.percent() {
                Some(p) if (1..100).contains(&p) => {}
                _ => {
                    return Err((
                        format!("{key}.size"),
                        "a share is a percentage between 1 and 99 (60 or \"60%\")".into(),
                    ));
                }
            }
        }
        if self.panes.is_empty() {
            if self.split.is_some() || self.arrangement.is_some() {
                return Err((format!("{key}.panes"), "a split needs `panes`: what goes in it".into()));
            }
            return match (&self.agent, &self.command) {
                (Some(_), Some(_)) => Err((key.into(), "a pane runs an `agent` or a `command`, not both".into())),
                (Some(a), None) if !is_agent(a) => Err((
                    format!("{key}.agent"),
                    format!("`{a}` is not an agent; define [agents.{a}], or use `shell` or a built-in agent"),
                )),
                (None, Some(CommandLine::Line(l))) if l.trim().is_empty() => {
                    Err((format!("{key}.command"), "the command is empty".into()))
                }
                (None, Some(CommandLine::Argv(a))) if a.first().is_none_or(|p| p.trim().is_empty()) => {
                    Err((format!("{key}.command"), "the command is empty".into()))
                }
                _ => Ok(()),
            };
        }
        if self.agent.is_some() || self.command.is_some() || self.name.is_some() {
            return Err((
                key.into(),
                "a split runs nothing itself; put `agent`, `command` and `name` on its panes".into(),
            ));
        }
        if self.split.is_some() && self.arrangement.is_some() {
            return Err((key.into(), "`split` or `arrangement`, not both".into()));
        }
        if self.arrangement.is_some() && self.panes.iter().any(|p| !p.panes.is_empty()) {
            return Err((format!("{key}.panes"), "an arrangement places panes; its panes cannot be splits".into()));
        }
        let given: u32 = self.panes.iter().filter_map(|p| p.size.as_ref().and_then(Share::percent)).sum();
        if given >= 100 && self.panes.iter().any(|p| p.size.is_none()) || given > 100 {
            return Err((
                format!("{key}.panes"),
                format!("the sizes add up to {given}%, leaving nothing for the rest"),
            ));
        }
        for (i, p) in self.panes.iter().enumerate() {
            p.check_node(&format!("{key}.panes[{i}]"), is_agent)?;
        }
        Ok(())
    }

    fn pane_count(&self) -> usize {
        if self.panes.is_empty() { 1 } else { self.panes.iter().map(LayoutNode::pane_count).sum() }
    }

    /// The panes, in the order the layout holds them.
    pub fn panes(&self) -> Vec<LayoutPane> {
        if !self.panes.is_empty() {
            return self.panes.iter().flat_map(LayoutNode::panes).collect();
        }
        let spawn = match (&self.agent, &self.command) {
            (Some(a), _) if a == "shell" => Spawn::Shell,
            (Some(a), _) => Spawn::Agent { name: a.clone() },
            (None, Some(CommandLine::Line(l))) => Spawn::Command { argv: vec!["sh".into(), "-c".into(), l.clone()] },
            (None, Some(CommandLine::Argv(a))) => Spawn::Command { argv: a.clone() },
            (None, None) => Spawn::Shell,
        };
        vec![LayoutPane { spawn, name: self.name.clone(), cwd: self.cwd.clone() }]
    }

    /// The tree as a layout over `area`, its panes given `ids` in the order of `panes()`.
    pub fn build(&self, ids: &[PaneId], area: Rect) -> Layout {
        let mut ids = ids.iter().copied();
        self.build_from(&mut ids, area)
    }

    fn build_from(&self, ids: &mut impl Iterator<Item = PaneId>, area: Rect) -> Layout {
        if self.panes.is_empty() {
            return Layout::Pane(ids.next().unwrap_or_default());
        }
        if let Some(how) = self.arrangement {
            let panes: Vec<PaneId> = self.panes.iter().filter_map(|_| ids.next()).collect();
            return Layout::arranged(how, &panes, area);
        }
        let share = |p: &LayoutNode| p.size.as_ref().and_then(Share::percent);
        let given: u32 = self.panes.iter().filter_map(share).sum();
        let unsized_count = self.panes.iter().filter(|p| share(p).is_none()).count().max(1) as u32;
        let rest = 100u32.saturating_sub(given).max(1) * 100 / unsized_count;
        let children = self
            .panes
            .iter()
            .map(|p| Child { weight: share(p).map_or(rest, |s| s * 100).max(1), node: p.build_from(ids, area) })
            .collect();
        let axis = if self.split == Some(SplitDir::Down) { Axis::Vertical } else { Axis::Horizontal };
        Layout::Split { axis, children }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Rect;

    fn node(toml_text: &str) -> LayoutNode {
        toml::from_str(toml_text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn agents(name: &str) -> bool {
        ["shell", "claude", "codex"].contains(&name)
    }

    #[test]
    fn a_layout_file_becomes_panes_and_sizes() {
        let n = node(
            r#"
            split = "right"
            panes = [
              { agent = "claude", name = "writer", size = 60 },
              { split = "down", panes = [{ agent = "codex" }, { command = "cargo watch -x test" }, { command = ["htop", "-d", "5"] }] },
            ]
            "#,
        );
        n.check("layouts.review", &agents).unwrap();
        let panes = n.panes();
        assert_eq!(
            panes,
            vec![
                LayoutPane { spawn: Spawn::Agent { name: "claude".into() }, name: Some("writer".into()), cwd: None },
                LayoutPane { spawn: Spawn::Agent { name: "codex".into() }, name: None, cwd: None },
                LayoutPane {
                    spawn: Spawn::Command { argv: vec!["sh".into(), "-c".into(), "cargo watch -x test".into()] },
                    name: None,
                    cwd: None,
                },
                LayoutPane {
                    spawn: Spawn::Command { argv: vec!["htop".into(), "-d".into(), "5".into()] },
                    name: None,
                    cwd: None
                },
            ]
        );
        let area = Rect::new(0, 0, 200, 60);
        let layout = n.build(&[10, 11, 12, 13], area);
        let rects = layout.rects(area);
        assert_eq!(rects.iter().map(|(p, _)| *p).collect::<Vec<_>>(), vec![10, 11, 12, 13]);
        assert_eq!((rects[0].1.w, rects[0].1.h), (120, 60), "the writer has 60% of the width");
        assert_eq!(rects[1].1.x, 120);
        assert!(rects[1].1.h == 20 && rects[2].1.h == 20 && rects[3].1.h == 20, "{rects:?}");
    }

    #[test]
    fn a_flat_list_of_panes_and_arrangements_are_layouts_too() {
        let area = Rect::new(0, 0, 200, 60);
        // No `split`: side by side, sizes as written either way.
        let n = node(r#"panes = [{ agent = "claude", size = "70%" }, { agent = "codex" }]"#);
        n.check("layouts.x", &agents).unwrap();
        let rects = n.build(&[1, 2], area).rects(area);
        assert_eq!((rects[0].1.w, rects[1].1.w), (140, 60));
        // Arranged as a built-in arrangement.
        let n = node(
            r#"arrangement = "main-vertical"
            panes = [{ agent = "claude" }, { agent = "codex" }, { agent = "shell" }]"#,
        );
        n.check("layouts.x", &agents).unwrap();
        let built = n.build(&[1, 2, 3], area);
        assert_eq!(built, Layout::arranged(Arrangement::MainVertical, &[1, 2, 3], area));
    }

    #[test]
    fn a_wrong_layout_says_which_key_and_why() {
        let bad = [
            (r#"split = "right""#, "layouts.x.panes", "needs `panes`"),
            (
                r#"split = "down"
                arrangement = "tiled"
                panes = [{}]"#,
                "layouts.x",
                "not both",
            ),
            (
                r#"arrangement = "tiled"
                panes = [{ split = "down", panes = [{}] }]"#,
                "layouts.x.panes",
                "cannot be splits",
            ),
            (r#"panes = [{ size = "0%" }]"#, "layouts.x.panes[0].size", "between 1 and 99"),
            (
                r#"split = "down"
                panes = [{ agent = "claude", command = "ls" }]"#,
                "layouts.x.panes[0]",
                "not both",
            ),
            (
                r#"split = "down"
                panes = [{ agent = "nobody" }]"#,
                "layouts.x.panes[0].agent",
                "not an agent",
            ),
            (
                r#"split = "down"
                panes = [{ size = 70 }, { size = 40 }]"#,
                "layouts.x.panes",
                "add up to 110%",
            ),
            (
                r#"split = "down"
                panes = [{ size = 0 }]"#,
                "layouts.x.panes[0].size",
                "between 1 and 99",
            ),
            (r#"command = """#, "layouts.x.command", "empty"),
            (
                r#"split = "down"
                agent = "claude"
                panes = [{}]"#,
                "layouts.x",
                "runs nothing itself",
            ),
        ];
        for (text, key, why) in bad {
            let (k, message) = node(text).check("layouts.x", &agents).unwrap_err();
            assert_eq!(k, key, "{text}");
            assert!(message.contains(why), "{text}: {message}");
        }
        let many = format!("split = \"right\"\npanes = [{}]", vec!["{}"; MAX_PANES + 1].join(", "));
        assert!(node(&many).check("layouts.x", &agents).unwrap_err().1.contains("at most"));
    }
}
