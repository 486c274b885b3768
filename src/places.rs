//! How panes are named wherever a person or a script names one: by id (`7`, as `ls --json`
//! gives it), by place (`SESSION:TAB.PANE`, as the TUI numbers tabs and panes) or by the
//! name given with `--name`. One reading for every command, the runner and the CLI alike.

use crate::layout::{Layout, PaneId};
use crate::protocol::SessionView;
use crate::text::visible;

/// Where pane `id` is, as commands name it: `SESSION:TAB.PANE`.
pub fn place_of(sessions: &[SessionView], id: PaneId) -> Option<String> {
    sessions.iter().find_map(|s| place_in(&s.name, s.tabs.iter().map(|t| &t.layout), id))
}

/// Where pane `id` is in session `name` whose tabs have these layouts, if it is there.
pub fn place_in<'a>(name: &str, tabs: impl IntoIterator<Item = &'a Layout>, id: PaneId) -> Option<String> {
    tabs.into_iter().enumerate().find_map(|(t, layout)| {
        let n = layout.panes().iter().position(|p| *p == id)?;
        Some(format!("{name}:{}.{}", t + 1, n + 1))
    })
}

/// The pane a command line names: its id (`7`, as `ls --json` gives it), its place
/// (`SESSION:TAB.PANE`, as the TUI numbers tabs and panes), or its name (`--name`). The
/// session it is in, and its id; an error that says what there is otherwise.
pub fn find_pane(sessions: &[SessionView], target: &str) -> Result<(String, PaneId), String> {
    let target = target.trim();
    if let Ok(id) = target.parse::<PaneId>() {
        return sessions
            .iter()
            .find_map(|s| s.pane(id).map(|_| (s.name.clone(), id)))
            .ok_or_else(|| format!("no pane {id}; `teamster ls` lists them"));
    }
    if let Some((session, place)) = target.rsplit_once(':') {
        let s = sessions.iter().find(|s| s.name == session).ok_or_else(|| {
            let names: Vec<&str> = sessions.iter().map(|s| s.name.as_str()).collect();
            format!("no session `{}`; there are: {}", visible(session), names.join(", "))
        })?;
        let (tab, pane) = place.split_once('.').unwrap_or(("", place));
        let tab_index = if tab.is_empty() { s.active_tab } else { tab.parse::<usize>().unwrap_or(0).wrapping_sub(1) };
        let t = s
            .tabs
            .get(tab_index)
            .ok_or_else(|| format!("no tab {} in session {}; it has {}", visible(tab), s.name, s.tabs.len()))?;
        let panes = t.layout.panes();
        let n: usize = pane.parse().map_err(|_| format!("`{}` is not a pane number", visible(pane)))?;
        let id = n.checked_sub(1).and_then(|i| panes.get(i)).ok_or_else(|| {
            format!("no pane {n} in tab {} of session {}; it has {}", tab_index + 1, s.name, panes.len())
        })?;
        return Ok((s.name.clone(), *id));
    }
    let named: Vec<(String, PaneId)> = sessions
        .iter()
        .flat_map(|s| s.panes.iter().filter(|p| p.name.as_deref() == Some(target)).map(|p| (s.name.clone(), p.id)))
        .collect();
    match named.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(format!(
            "no pane named `{}`; name a pane by its id, SESSION:TAB.PANE or its name (`teamster ls`)",
            visible(target)
        )),
        _ => Err(format!("{} panes are named `{}`: name one by SESSION:TAB.PANE", named.len(), visible(target))),
    }
}
