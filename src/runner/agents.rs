//! What the runner does with agents' hooks: their state, their conversations, and their
//! tool calls (decided by the control layer).

use super::control::Action;
use super::pane::DialogAnswer;
use super::{Runner, SessionEvent, State};
use crate::agents::{AgentState, Answer, HookEvent, ToolCall};
use crate::approval::Decision;
use crate::layout::PaneId;
use crate::protocol::HookRequest;
use crate::protocol::{AlertKind, ServerMsg};
use std::sync::Arc;

impl Runner {
    /// Applies what a hook reports, and answers it.
    pub async fn hook(self: &Arc<Self>, pane: PaneId, req: HookRequest) -> Answer {
        // The kind of agent is the pane's, never what a payload says.
        let kind = self.state.lock().panes.get(&pane).and_then(|p| p.meta.lock().agent);
        let Some(kind) = kind else {
            return Some(Decision::deny("this hook's pane is gone"));
        };
        let mut verdict: Answer = None;
        for event in crate::agents::parse_hook(kind, &req.event, &req.payload) {
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
                HookEvent::PromptSubmitted => self.set_agent_state(pane, AgentState::Working),
                HookEvent::ToolFinished(call) => {
                    // It ran: a dialog of its own for it was answered in the pane.
                    if let Some(call) = &call {
                        let mut st = self.state.lock();
                        let which = |c: &ToolCall| super::control::same_call(c, call);
                        if st.queue.answered_in_pane(pane, which, &Decision::ApproveOnce, u64::MAX) {
                            self.broadcast_pending(&st);
                        }
                        st.queue.forget_approved(pane, Some(call));
                    }
                    self.set_agent_state(pane, AgentState::Working);
                }
                HookEvent::DialogAnswered { id, approved } => {
                    let decision = if approved {
                        Decision::ApproveOnce
                    } else {
                        Decision::deny("answered no in the agent's pane")
                    };
                    self.answered_in_pane(pane, |c| c.id.as_deref() == Some(id.as_str()), decision, u64::MAX);
                }
                HookEvent::TurnFinished => {
                    // A call still held belongs to a turn that is over (the user interrupted it).
                    let mut st = self.state.lock();
                    st.queue.forget_approved(pane, None);
                    if st.queue.deny_all_of(pane, "the agent's turn ended before a decision") {
                        self.broadcast_pending(&st);
                    }
                    self.set_state_locked(&mut st, pane, AgentState::WaitingForInput);
                }
                HookEvent::WaitingForUser(_) => self.set_agent_state(pane, AgentState::WaitingForInput),
                HookEvent::ToolCall(call) => {
                    self.set_agent_state(pane, AgentState::Working);
                    verdict = self.decide(pane, Action::ToolCall(call)).await;
                }
                // Whatever the payload says of them, a hook's routes are the agent's.
                HookEvent::Routes(routes) => self.add_routes(pane, routes, super::meter::RouteSource::Hook),
                HookEvent::PermissionDialog(call) => {
                    // Approved in teamster already (a policy's ask for this very call): the
                    // same decision answers the agent's own question. Else it is an item in
                    // the queue, answered here or in the pane, whichever is first.
                    verdict = if self.take_approval(pane, &call) {
                        Some(Decision::ApproveOnce)
                    } else {
                        self.decide(pane, Action::AgentDialog(call)).await
                    };
                }
                HookEvent::DialogShown(call) => {
                    // Approved in teamster already: its keys answer the dialog, no second
                    // question. Else, where teamster knows its keys, it is an item in the
                    // queue, its decision typed into the dialog; otherwise the pane's.
                    if self.take_approval(pane, &call) {
                        self.answer_by_keys(pane, kind, Decision::ApproveOnce, &call);
                    } else if crate::agents::answers_by_keys(kind) {
                        self.ask_by_keys(pane, kind, call);
                    } else {
                        self.set_agent_state(pane, AgentState::NeedsApproval);
                    }
                }
            }
        }
        verdict
    }

    /// Types `decision` into the agent's own dialog about `call`, now if it is on screen,
    /// else when it shows (the agent draws it after its hook returns).
    fn answer_by_keys(&self, pane: PaneId, kind: crate::agents::AgentKind, decision: Decision, call: &ToolCall) {
        if !crate::agents::answers_by_keys(kind) {
            return;
        }
        let Some(p) = self.state.lock().panes.get(&pane).cloned() else { return };
        let (what, shown) = (call.summary(), call.shown_as());
        p.meta.lock().dialog_answer = Some(DialogAnswer::Decide { decision, what, shown });
        let lines = p.screen.lock().visible_text();
        self.type_dialog_answer(&p, &lines);
    }

    /// Types the decision waiting for the pane's dialog, if the dialog is on screen.
    pub(super) fn type_dialog_answer(&self, p: &super::pane::Pane, lines: &[String]) {
        let (kind, step) = {
            let m = p.meta.lock();
            match (m.agent, &m.dialog_answer) {
                (Some(kind), Some(step)) => (kind, step.clone()),
                _ => return,
            }
        };
        let (keys, next) = match step {
            DialogAnswer::Decide { decision, what, shown } => {
                // Typed only into a dialog about this call (the call on screen, however
                // the agent wrapped, framed or cut it): never into another that came up
                // after it went unseen.
                if !crate::text::screen_shows(lines, &shown) {
                    return;
                }
                let Some(keys) = crate::agents::dialog_keys(kind, lines, &decision) else { return };
                (keys, DialogAnswer::after(&decision, &what))
            }
            DialogAnswer::Tell(text) if crate::agents::takes_prompt(kind, lines) => (
                format!("\x1b[200~{}\x1b[201~", crate::text::visible(&text)).into_bytes(),
                Some(DialogAnswer::Send(text)),
            ),
            DialogAnswer::Send(text) if lines.iter().any(|l| text.get(..30).is_some_and(|t| l.contains(t))) => {
                (b"\r".to_vec(), None)
            }
            DialogAnswer::Tell(_) | DialogAnswer::Send(_) => return,
        };
        p.meta.lock().dialog_answer = next;
        p.write(&keys);
    }

    /// A question the agent shows that its hooks cannot answer (Gemini's dialog, a plain
    /// program's yes/no prompt read off its screen): an item in the queue, waited on off
    /// the hook, its decision typed into the agent's terminal.
    pub(super) fn ask_by_keys(self: &Arc<Self>, pane: PaneId, kind: crate::agents::AgentKind, call: ToolCall) {
        let runner = self.clone();
        tokio::spawn(async move {
            if let Some(decision) = runner.decide(pane, Action::AgentDialog(call.clone())).await {
                runner.answer_by_keys(pane, kind, decision, &call);
            }
        });
    }

    /// Codex's `/permissions` menu switches its own sandbox on, which cannot run inside
    /// teamster's (every command would fail). A restricted mode chosen there is taken back
    /// to full access (which asks nothing), a step at a time as its screen allows, and
    /// mapped to teamster's own: each of its tool calls waits for a person. The user is told.
    pub(super) fn keep_codex_in_full_access(&self, p: &super::pane::Pane, lines: &[String]) {
        use crate::agents::codex::{self, Switch};
        let (count, last) = codex::permission_choices(lines);
        let (seen, step) = p.meta.lock().codex_choices;
        let (keys, next, seen) = match step {
            Some(step) => match codex::switch_keys(step, lines) {
                Some((keys, next)) => (keys, next, seen),
                None => return,
            },
            None if count > seen => {
                let Some(mode) = last.filter(|m| m != "Full Access") else {
                    p.meta.lock().codex_choices = (count, None);
                    return;
                };
                let notice = format!(
                    "Codex's own sandbox ({mode}) cannot run inside teamster's: Codex goes back to full access in teamster's sandbox, and teamster holds each of its tool calls for you instead"
                );
                p.meta.lock().holds_calls = true;
                super::log(&format!("pane {}: {notice}", p.id));
                if let Some(s) = self.state.lock().sessions.get(&p.session) {
                    let kind = AlertKind::Notify { title: "teamster".into(), body: notice };
                    let _ = s.events.send(SessionEvent::Message(ServerMsg::Alert { pane: p.id, kind }));
                }
                (&b"/permissions"[..], Some(Switch::Typed), count + 1)
            }
            None => {
                p.meta.lock().codex_choices = (seen.min(count), None);
                return;
            }
        };
        p.meta.lock().codex_choices = (seen, next);
        p.write(keys);
    }

    /// The agent's own dialog left its screen: a question of its that teamster answers by
    /// keys and still holds was answered in the pane.
    /// `up_to`: the questions it may have answered (ids up to this one).
    pub(super) fn dialog_closed(&self, pane: PaneId, kind: crate::agents::AgentKind, lines: &[String], up_to: u64) {
        if !crate::agents::answers_by_keys(kind) {
            return;
        }
        let decision = match crate::agents::dialog_refused(kind, lines) {
            true => Decision::deny("answered no in the agent's pane"),
            false => Decision::ApproveOnce,
        };
        self.answered_in_pane(pane, |_| true, decision, up_to);
    }

    /// Whether the user approved `call` in this pane a moment ago (and forgets it).
    fn take_approval(&self, pane: PaneId, call: &ToolCall) -> bool {
        self.state.lock().queue.take_approved(pane, call, std::time::Instant::now())
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
        let state = if st.queue.waits_on(pane) { AgentState::NeedsApproval } else { state };
        // Stopped by a spend cap, the agent ends its turn with the error: it stays stopped
        // (not merely waiting) until it works again.
        let capped = p.meta.lock().agent_state == AgentState::StoppedBySpendCap;
        if capped && matches!(state, AgentState::WaitingForInput | AgentState::Idle) {
            return;
        }
        let (changed, agent, settled) = {
            let mut m = p.meta.lock();
            // A worktree's agent done with work (a turn, or a task a plain command took):
            // its work is checked. Told even when its state stays idle, as a plain
            // command's does when it finishes fast.
            let done = matches!(state, AgentState::Idle | AgentState::WaitingForInput);
            let settled = done && m.worked && m.spec.worktree.is_some();
            if done {
                m.worked = false;
            }
            if m.agent_state == state || m.agent_state == AgentState::Exited {
                (false, String::new(), settled)
            } else {
                if state == AgentState::Working {
                    m.turns += 1;
                    m.worked = true;
                }
                m.agent_state = state;
                (true, m.spec.name.clone().unwrap_or_default(), settled)
            }
        };
        if settled {
            let _ = self.pane_events.send(super::pane::PaneEvent::Settled(pane));
        }
        if !changed {
            return;
        }
        let Some(s) = st.sessions.get_mut(&p.session) else { return };
        let focused = s.tabs.get(s.active).is_some_and(|t| t.focused == pane);
        // What needs the person (an answer, an approval, a cap that stopped the agent) is
        // announced as the user's config says (a bell, a desktop notification).
        if state.needs_person() && !focused {
            p.meta.lock().attention = true;
            let _ = s
                .events
                .send(SessionEvent::Message(ServerMsg::Alert { pane, kind: AlertKind::Waiting { agent, state } }));
        }
        s.touch();
    }
}
