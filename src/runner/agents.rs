//! What the runner does with agents' hooks: their state, their conversations, and the
//! tool calls it holds until someone approves or denies them.

use super::hooks::HookRequest;
use super::{Runner, SessionEvent, State, now_secs};
use crate::agents::{AgentState, HookEvent, ToolCall, Verdict};
use crate::layout::PaneId;
use crate::protocol::{AlertKind, PendingView, ServerMsg};
use std::sync::Arc;
use tokio::sync::oneshot;

/// How long an approval made in teamster also answers the agent's own dialog for that call.
const APPROVAL_MEMORY: std::time::Duration = std::time::Duration::from_secs(120);

/// A tool call held for a verdict.
pub struct Pending {
    pub id: u64,
    pub pane: PaneId,
    pub session: u32,
    pub agent: String,
    pub call: ToolCall,
    pub since: u64,
    reply: oneshot::Sender<Verdict>,
}

/// Denies whatever a closing pane still waits on, so its hook returns.
pub fn deny_pending_of(st: &mut State, pane: PaneId, reason: &str) {
    let ids: Vec<u64> = st.pending.values().filter(|p| p.pane == pane).map(|p| p.id).collect();
    for id in ids {
        if let Some(p) = st.pending.remove(&id) {
            let _ = p.reply.send(Verdict::Deny { reason: reason.into() });
        }
    }
}

impl Runner {
    /// Applies what a hook reports, and answers it.
    pub async fn hook(self: &Arc<Self>, req: HookRequest) -> Verdict {
        let pane = {
            let st = self.state.lock();
            st.hook_tokens.get(&req.token).copied()
        };
        let Some(pane) = pane else {
            return Verdict::Deny { reason: "this hook does not belong to a teamster pane (unknown token)".into() };
        };
        let mut verdict = Verdict::Defer;
        for event in crate::agents::parse_hook(req.agent, &req.event, &req.payload) {
            match event {
                HookEvent::Conversation(id) => self.set_conversation(pane, id),
                HookEvent::Ready => {
                    let mut st = self.state.lock();
                    let starting =
                        st.panes.get(&pane).is_some_and(|p| p.meta.lock().agent_state == AgentState::Starting);
                    if starting {
                        self.set_state_locked(&mut st, pane, AgentState::Idle);
                    }
                }
                HookEvent::PromptSubmitted | HookEvent::ToolFinished => self.set_agent_state(pane, AgentState::Working),
                HookEvent::TurnFinished => {
                    // A call still held belongs to a turn that is over (the user interrupted it).
                    let mut st = self.state.lock();
                    deny_pending_of(&mut st, pane, "the agent's turn ended before a decision");
                    self.set_state_locked(&mut st, pane, AgentState::WaitingForInput);
                }
                HookEvent::WaitingForUser(_) => self.set_agent_state(pane, AgentState::WaitingForInput),
                HookEvent::ToolCall(call) => {
                    self.set_agent_state(pane, AgentState::Working);
                    verdict = self.tool_call(pane, call).await;
                }
                HookEvent::PermissionDialog(call) => {
                    // Approved in teamster already: answer the agent's own dialog too.
                    if self.take_approval(pane, &call) {
                        verdict = Verdict::Allow;
                    } else {
                        self.set_agent_state(pane, AgentState::NeedsApproval);
                    }
                }
            }
        }
        verdict
    }

    /// Withdraws held calls whose hook went away (the agent cancelled the call and ended
    /// the helper): nobody waits for their verdict now.
    pub fn withdraw_abandoned(&self) {
        let mut st = self.state.lock();
        let gone: Vec<(u64, PaneId)> =
            st.pending.values().filter(|p| p.reply.is_closed()).map(|p| (p.id, p.pane)).collect();
        for (id, pane) in gone {
            st.pending.remove(&id);
            if !st.pending.values().any(|p| p.pane == pane) {
                self.set_state_locked(&mut st, pane, AgentState::Working);
            }
        }
    }

    /// Whether the user approved `call` in this pane a moment ago (and forgets it).
    fn take_approval(&self, pane: PaneId, call: &ToolCall) -> bool {
        let mut st = self.state.lock();
        st.approved.retain(|(_, _, at)| at.elapsed() < APPROVAL_MEMORY);
        let found = st.approved.iter().position(|(p, what, _)| *p == pane && *what == call.summary());
        found.map(|i| st.approved.remove(i)).is_some()
    }

    /// A call goes ahead unless the config holds calls (the policy engine comes later):
    /// teamster has no objection and the agent's own permission rules apply. A held call
    /// waits here until `teamster approve` or `teamster deny`.
    async fn tool_call(self: &Arc<Self>, pane: PaneId, call: ToolCall) -> Verdict {
        if !self.config().hold_tool_calls {
            return Verdict::Defer;
        }
        let (tx, rx) = oneshot::channel();
        {
            let mut guard = self.state.lock();
            let st = &mut *guard;
            let Some(p) = st.panes.get(&pane).cloned() else {
                return Verdict::Deny { reason: "the pane is gone".into() };
            };
            st.next_pending += 1;
            let id = st.next_pending;
            let agent = p.meta.lock().spec.name.clone().unwrap_or_default();
            st.pending.insert(id, Pending { id, pane, session: p.session, agent, call, since: now_secs(), reply: tx });
            self.set_state_locked(st, pane, AgentState::NeedsApproval);
        }
        let verdict = rx.await.unwrap_or(Verdict::Deny { reason: "teamster stopped before deciding".into() });
        self.set_agent_state(pane, AgentState::Working);
        verdict
    }

    pub fn approvals(&self) -> Vec<PendingView> {
        let st = self.state.lock();
        st.pending
            .values()
            .map(|p| PendingView {
                id: p.id,
                session: st.sessions.get(&p.session).map(|s| s.name.clone()).unwrap_or_default(),
                pane: p.pane,
                agent: p.agent.clone(),
                tool: p.call.tool.clone(),
                what: p.call.summary(),
                since: p.since,
            })
            .collect()
    }

    /// Gives a held tool call its verdict; the agent's hook returns at once.
    pub fn resolve(&self, id: u64, verdict: Verdict) -> Result<(), String> {
        let mut st = self.state.lock();
        let p = st.pending.remove(&id).ok_or_else(|| {
            let waiting: Vec<String> = st.pending.keys().map(u64::to_string).collect();
            if waiting.is_empty() {
                format!("no pending action {id}; nothing is waiting")
            } else {
                format!("no pending action {id}; waiting: {}", waiting.join(", "))
            }
        })?;
        if verdict == Verdict::Allow {
            st.approved.push((p.pane, p.call.summary(), std::time::Instant::now()));
        }
        let _ = p.reply.send(verdict);
        Ok(())
    }

    fn set_conversation(&self, pane: PaneId, id: String) {
        let mut st = self.state.lock();
        let Some(p) = st.panes.get(&pane).cloned() else { return };
        let changed = {
            let mut m = p.meta.lock();
            let changed = m.spec.conversation.as_ref() != Some(&id);
            m.spec.conversation = Some(id);
            changed
        };
        if changed {
            if let Some(s) = st.sessions.get_mut(&p.session) {
                s.touch();
            }
            self.persist(&st);
        }
    }

    pub fn set_agent_state(&self, pane: PaneId, state: AgentState) {
        let mut st = self.state.lock();
        self.set_state_locked(&mut st, pane, state);
    }

    /// Changes what the title says of the agent. An agent that starts waiting for the user
    /// in a pane that is not focused is announced: a mark on the pane and its tab, and an
    /// alert the clients turn into a bell or a notification.
    pub(super) fn set_state_locked(&self, st: &mut State, pane: PaneId, state: AgentState) {
        let Some(p) = st.panes.get(&pane).cloned() else { return };
        // Held calls outrank what the agent's own hooks say until they are decided.
        let state = if st.pending.values().any(|q| q.pane == pane) { AgentState::NeedsApproval } else { state };
        let (changed, agent) = {
            let mut m = p.meta.lock();
            if m.agent_state == state || m.agent_state == AgentState::Exited {
                (false, String::new())
            } else {
                m.agent_state = state;
                (true, m.spec.name.clone().unwrap_or_default())
            }
        };
        if !changed {
            return;
        }
        let Some(s) = st.sessions.get_mut(&p.session) else { return };
        let focused = s.tabs.get(s.active).is_some_and(|t| t.focused == pane);
        if matches!(state, AgentState::WaitingForInput | AgentState::NeedsApproval) && !focused {
            p.meta.lock().attention = true;
            let _ = s
                .events
                .send(SessionEvent::Message(ServerMsg::Alert { pane, kind: AlertKind::Waiting { agent, state } }));
        }
        s.touch();
    }
}
