//! What the runner keeps on disk to bring sessions back after it restarts (a crash, an
//! upgrade, a reboot): each session's tabs and layout, and for each pane how to start it
//! again, including the agent's conversation to resume.
//!
//! Written whole, atomically (a new file renamed over the old), whenever a session's shape
//! changes; readable by the user only, as it holds the panes' environments.

use super::pane::PaneSpec;
use super::{Runner, State, Tab, log, pane_size};
use crate::layout::{Layout, PaneId, Rect};
use crate::protocol::{Context, Size};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

pub const VERSION: u32 = 1;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub version: u32,
    pub sessions: Vec<SessionSnapshot>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionSnapshot {
    pub name: String,
    /// Stable across restarts: its spend and marks are kept under it.
    #[serde(default)]
    pub key: String,
    pub context: Context,
    pub size: Size,
    pub active: usize,
    pub tabs: Vec<TabSnapshot>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TabSnapshot {
    pub name: String,
    /// Pane ids here are those of the runner that wrote the snapshot.
    pub layout: Layout,
    pub focused: PaneId,
    pub panes: Vec<(PaneId, PaneSpec)>,
}

/// A pane's spec as the state file keeps it: a shell comes back in the directory it was
/// in (where its prompt is now), and only the names of credentials are kept.
fn kept_spec(p: &super::pane::Pane) -> PaneSpec {
    let spec = p.meta.lock().spec.clone();
    let cwd = match spec.spawn {
        crate::protocol::Spawn::Shell => p.working_dir().unwrap_or_else(|| spec.cwd.clone()),
        _ => spec.cwd.clone(),
    };
    without_secrets(&PaneSpec { cwd, ..spec })
}

/// A pane's spec as the state file keeps it: the names of the credentials its environment
/// held, not their values (`with_secrets` takes them again when the pane comes back).
fn without_secrets(spec: &PaneSpec) -> PaneSpec {
    PaneSpec { env: without_secret_values(&spec.env), ..spec.clone() }
}

fn without_secret_values(env: &[(String, String)]) -> Vec<(String, String)> {
    env.iter()
        .map(|(k, v)| if super::sandbox::is_secret(k) { (k.clone(), String::new()) } else { (k.clone(), v.clone()) })
        .collect()
}

/// A kept pane's spec made whole again: each credential's value from the environment of
/// the teamster that brings it back (the runner's own); those it lacks are left out, and
/// named.
fn with_secrets(mut spec: PaneSpec, value: impl Fn(&str) -> Option<String>) -> (PaneSpec, Vec<String>) {
    let missing = with_secret_values(&mut spec.env, value);
    (spec, missing)
}

fn with_secret_values(env: &mut Vec<(String, String)>, value: impl Fn(&str) -> Option<String>) -> Vec<String> {
    let mut missing = Vec::new();
    env.retain_mut(|(k, v)| {
        if !super::sandbox::is_secret(k) || !v.is_empty() {
            return true;
        }
        match value(k) {
            Some(real) => {
                *v = real;
                true
            }
            None => {
                missing.push(k.clone());
                false
            }
        }
    });
    missing
}

fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("json.new");
    crate::agents::write_private(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// The snapshot, if there is one. A file that cannot be read is set aside (renamed) and
/// reported, so one bad file does not stop the runner from starting.
pub fn load(path: &Path) -> Result<Option<Snapshot>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    match serde_json::from_str::<Snapshot>(&text) {
        Ok(s) if s.version == VERSION => Ok(Some(s)),
        Ok(s) => {
            Err(format!("{} is from another teamster version ({}); sessions not restored", path.display(), s.version))
        }
        Err(e) => {
            let aside = path.with_extension("json.unreadable");
            let _ = std::fs::rename(path, &aside);
            Err(format!(
                "{} could not be read ({e}); moved to {} and sessions not restored",
                path.display(),
                aside.display()
            ))
        }
    }
}

impl Layout {
    /// The same layout with pane ids replaced through `map`; panes not in it are dropped.
    pub fn remap(&self, map: &dyn Fn(PaneId) -> Option<PaneId>) -> Option<Layout> {
        match self {
            Layout::Pane(p) => map(*p).map(Layout::Pane),
            Layout::Split { axis, children } => {
                let kept: Vec<crate::layout::Child> = children
                    .iter()
                    .filter_map(|c| c.node.remap(map).map(|node| crate::layout::Child { node, weight: c.weight }))
                    .collect();
                match kept.len() {
                    0 => None,
                    1 => kept.into_iter().next().map(|c| c.node),
                    _ => Some(Layout::Split { axis: *axis, children: kept }),
                }
            }
        }
    }
}

impl Runner {
    /// Writes every session's shape to the state file, so a restarted runner can bring
    /// them back: after each command, pane or session that comes or goes, and agent
    /// conversation. Unchanged, it writes nothing; failures are logged, not fatal.
    pub(super) fn persist(&self, st: &State) {
        // Stopping to come back: what is on disk is what the next runner restores.
        if self.restarting.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let sessions = st
            .sessions
            .values()
            .map(|s| SessionSnapshot {
                name: s.name.clone(),
                key: s.key.clone(),
                context: Context { env: without_secret_values(&s.context.env), ..s.context.clone() },
                size: s.size,
                active: s.active,
                tabs: s
                    .tabs
                    .iter()
                    .map(|t| TabSnapshot {
                        name: t.name.clone(),
                        layout: t.layout.clone(),
                        focused: t.focused,
                        panes: t
                            .layout
                            .panes()
                            .iter()
                            .filter_map(|id| st.panes.get(id).map(|p| (*id, kept_spec(p))))
                            .collect(),
                    })
                    .collect(),
            })
            .collect();
        let text = serde_json::to_string_pretty(&Snapshot { version: VERSION, sessions }).unwrap_or_default();
        // A change that leaves the shape as it was on disk (a rename to the same name, an
        // agent reporting the conversation it is already in) writes nothing.
        let mut last = self.persisted.lock();
        if *last == text {
            return;
        }
        match write_atomically(&self.state_file, &text) {
            Ok(()) => *last = text,
            Err(e) => log(&format!("cannot save sessions to {}: {e}", self.state_file.display())),
        }
    }

    /// Brings back the sessions a previous runner kept: each pane is started again where
    /// it was, agents resuming their conversations. A pane that cannot start is left out
    /// (and logged); the rest of its tab stays.
    pub fn restore(self: &Arc<Self>) {
        let snapshot = match load(&self.state_file) {
            Ok(Some(s)) => s,
            Ok(None) => return,
            Err(e) => {
                log(&e);
                return;
            }
        };
        let mut guard = self.state.lock();
        let st = &mut *guard;
        let mut kept_keys = Vec::new();
        for saved in snapshot.sessions {
            let area = Rect::new(0, 0, saved.size.cols, saved.size.rows);
            let key = if saved.key.is_empty() { super::random_hex(8) } else { Ok(saved.key.clone()) };
            let key = match key {
                Ok(k) => k,
                Err(e) => {
                    super::log(&format!("session {} not brought back: {e}", saved.name));
                    continue;
                }
            };
            let mut context = saved.context.clone();
            with_secret_values(&mut context.env, |k| std::env::var(k).ok());
            // A session that comes back keeps its spend and marks (by its key). Read once, at
            // start, before any client is attached.
            let asked = key.clone();
            let kept = self.store.read(move |db| (db.session_spend(&asked), db.marks(&asked))).unwrap_or_default();
            let id = self.insert_session(st, Some(saved.name.clone()), key, kept, saved.size, context, None);
            for tab in saved.tabs {
                let mut ids: HashMap<PaneId, PaneId> = HashMap::new();
                for (old, spec) in tab.panes {
                    let (spec, missing) = with_secrets(spec, |k| std::env::var(k).ok());
                    kept_keys.push(spec.key.clone());
                    // A command asks before it runs again; shells and agents just come back,
                    // each with what its screen showed.
                    let spec = PaneSpec {
                        ask_first: matches!(spec.spawn, crate::protocol::Spawn::Command { .. }),
                        restored_screen: super::screens::load(&self.screens_dir, &spec.key),
                        ..spec
                    };
                    if !missing.is_empty() {
                        log(&format!(
                            "session {}: a pane comes back without {} (not in the environment of the teamster that restarted it)",
                            saved.name,
                            missing.join(", ")
                        ));
                    }
                    let size = pane_size(&tab.layout, old, area);
                    // The pane keeps its id (scripts that named it by id still find it);
                    // ids of the runner that wrote the snapshot are unique among themselves.
                    let new = if old > 0 && !st.panes.contains_key(&old) {
                        st.next_pane = st.next_pane.max(old);
                        old
                    } else {
                        st.new_pane_id()
                    };
                    match self.spawn_pane(st, id, new, spec, size) {
                        Ok(()) => {
                            ids.insert(old, new);
                        }
                        Err(e) => log(&format!("session {}: a pane did not come back: {e}", saved.name)),
                    }
                }
                let Some(layout) = tab.layout.remap(&|p| ids.get(&p).copied()) else { continue };
                let focused = ids.get(&tab.focused).copied().unwrap_or_else(|| layout.panes()[0]);
                st.next_tab += 1;
                let tab_id = st.next_tab;
                if let Some(s) = st.sessions.get_mut(&id) {
                    s.tabs.push(Tab::new(tab_id, tab.name, layout, focused));
                }
            }
            match st.sessions.get_mut(&id) {
                Some(s) if !s.tabs.is_empty() => {
                    s.active = saved.active.min(s.tabs.len() - 1);
                    log(&format!("session {} restored", saved.name));
                }
                _ => {
                    st.sessions.remove(&id);
                    log(&format!("session {}: nothing in it could start again", saved.name));
                }
            }
            self.relayout(st, id);
        }
        self.persist(st);
        // Screens of panes that did not come back (closed while no runner ran) are gone.
        super::screens::prune(&self.screens_dir, &kept_keys);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{Direction, Rect};

    #[test]
    fn credentials_are_kept_by_name_and_taken_again_from_the_environment() {
        let env =
            |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
        let kept =
            without_secret_values(&env(&[("PATH", "/bin"), ("GITHUB_TOKEN", "ghp_x"), ("OPENAI_API_KEY", "sk")]));
        assert_eq!(kept, env(&[("PATH", "/bin"), ("GITHUB_TOKEN", ""), ("OPENAI_API_KEY", "")]));
        let mut back = kept.clone();
        let missing = with_secret_values(&mut back, |k| (k == "GITHUB_TOKEN").then(|| "ghp_again".to_string()));
        assert_eq!(back, env(&[("PATH", "/bin"), ("GITHUB_TOKEN", "ghp_again")]));
        assert_eq!(missing, vec!["OPENAI_API_KEY".to_string()]);
    }

    #[test]
    fn remapping_keeps_the_shape_and_drops_missing_panes() {
        let mut l = Layout::Pane(1);
        l.split(1, 2, Direction::Right, Rect::new(0, 0, 80, 24)).unwrap();
        l.split(2, 3, Direction::Down, Rect::new(0, 0, 80, 24)).unwrap();
        let moved = l.remap(&|p| Some(p + 10)).unwrap();
        assert_eq!(moved.panes(), vec![11, 12, 13]);
        let without_2 = l.remap(&|p| (p != 2).then_some(p)).unwrap();
        assert_eq!(without_2.panes(), vec![1, 3]);
        assert!(l.remap(&|_| None).is_none());
    }

    #[test]
    fn a_bad_file_is_set_aside_not_fatal() {
        let dir = std::env::temp_dir().join(format!("teamster-persist-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("sessions.json");
        assert_eq!(load(&path), Ok(None));
        let empty = Snapshot { version: VERSION, sessions: Vec::new() };
        write_atomically(&path, &serde_json::to_string(&empty).unwrap()).unwrap();
        assert_eq!(load(&path).unwrap().map(|s| s.sessions.len()), Some(0));
        std::fs::write(&path, "{ not json").unwrap();
        assert!(load(&path).unwrap_err().contains("moved to"));
        assert!(path.with_extension("json.unreadable").exists());
        std::fs::remove_dir_all(&dir).ok();
    }
}
