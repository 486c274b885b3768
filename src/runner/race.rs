//! A race: the same task to several agents at once, each in a worktree of its own on its
//! own branch from one base, side by side in a new tab. The runner runs it, so the command
//! line (`teamster race`) and the TUI (the picker's marked agents) start the same thing.

use super::*;
use crate::agents::AgentState;
use crate::protocol::{Race, Racer};

/// How long an agent may take to start before the task is given up on for it.
const READY_WITHIN: Duration = Duration::from_secs(120);

/// Whether a race can start: a task, two agents or more, each one the config knows; said
/// before anything opens (the command line says it before asking the runner, too).
pub fn check(task: &str, agents: &[String], config: &crate::config::Config) -> Result<(), String> {
    if agents.len() < 2 {
        return Err("a race needs two agents or more: --agents claude,codex".into());
    }
    if task.trim().is_empty() {
        return Err("say what the agents are to do: teamster race \"TASK\" --agents claude,codex".into());
    }
    for agent in agents {
        crate::agents::resolve(config, agent)?;
    }
    Ok(())
}

impl Runner {
    pub async fn race(self: &Arc<Self>, race: Race) -> Result<Reply, String> {
        let started = std::time::Instant::now();
        let _ = self.reload_config();
        check(&race.task, &race.agents, &self.config())?;
        let Race { task, agents, base, session, near, context } = race;
        // From the TUI (no context of its own): where the pane it was started from is now.
        let context = match (context.env.is_empty(), near) {
            (true, Some(pane)) => {
                let st = self.state.lock();
                let session = st.panes.get(&pane).map(|p| p.session);
                session.and_then(|s| commands::context_at(&st, s, pane)).unwrap_or(context)
            }
            _ => context,
        };
        let mut panes: Vec<(String, PaneId)> = Vec::new();
        for agent in &agents {
            // The first in a new tab; each next one to the right of the last, in order.
            let last = panes.last().map(|(_, p)| *p);
            let request = crate::protocol::NewPane {
                session: session.clone(),
                near: last.or(near),
                spawn: crate::protocol::Spawn::Agent { name: agent.clone() },
                tab: last.is_none(),
                dir: last.map(|_| Direction::Right),
                context: context.clone(),
                worktree: Some(String::new()),
                base: base.clone(),
                name: None,
                resume: None,
            };
            let (pane, _) = self.new_pane(request).await.map_err(|e| format!("{agent}'s pane did not open: {e}"))?;
            panes.push((agent.clone(), pane));
        }
        // Side by side, as wide as each other.
        self.set_layout(session.clone(), panes.first().map(|(_, p)| *p), Arrangement::EvenHorizontal)?;
        // Each agent gets the task once it is ready for it, all at once.
        let sends: Vec<_> = panes
            .iter()
            .map(|(_, pane)| {
                let (runner, task, pane) = (self.clone(), task.clone(), *pane);
                tokio::spawn(async move {
                    runner.wait_ready(pane).await?;
                    match runner.send(&pane.to_string(), task, Vec::new(), true).await? {
                        Reply::NotSent { message, .. } => Err(message),
                        _ => Ok(()),
                    }
                })
            })
            .collect();
        let mut sent = Vec::new();
        for task in sends {
            sent.push(task.await.unwrap_or_else(|e| Err(format!("sending failed: {e}"))));
        }
        let sessions = self.list();
        let racers = panes
            .into_iter()
            .zip(sent)
            .map(|((agent, pane), sent)| {
                let info = sessions.iter().find_map(|s| s.pane(pane));
                Racer {
                    agent,
                    pane,
                    place: crate::places::place_of(&sessions, pane).unwrap_or_else(|| pane.to_string()),
                    branch: info.and_then(|i| i.branch.clone()).unwrap_or_default(),
                    sent: sent.is_ok(),
                    why: sent.err(),
                }
            })
            .collect();
        Ok(Reply::Raced { racers, seconds: started.elapsed().as_secs_f64() })
    }

    /// Waits until a pane's agent is ready for a prompt: idle or waiting for input.
    async fn wait_ready(&self, pane: PaneId) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + READY_WITHIN;
        let (p, mut changed) = {
            let st = self.state.lock();
            let p = st.panes.get(&pane).cloned().ok_or_else(|| format!("pane {pane} has gone"))?;
            let changed = st.sessions.get(&p.session).map(|s| s.changed.subscribe()).ok_or("the session ended")?;
            (p, changed)
        };
        loop {
            let (state, running) = {
                let m = p.meta.lock();
                (m.agent_state, m.state == PaneState::Running)
            };
            if !running || state == AgentState::Exited {
                return Err(format!("pane {pane}'s agent exited before it got the task"));
            }
            if matches!(state, AgentState::Idle | AgentState::WaitingForInput) {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "pane {pane}'s agent was not ready for the task within 2 minutes; it is {}",
                    state.words()
                ));
            }
            // A state change wakes this; the screen is looked at again a little later
            // anyway (a plain command's state is read off it).
            let soon = (tokio::time::Instant::now() + Duration::from_millis(250)).min(deadline);
            if let Ok(Err(_)) = tokio::time::timeout_at(soon, changed.changed()).await {
                return Err("the session ended".into());
            }
        }
    }
}
