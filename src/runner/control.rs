//! The control layer: every action that matters (a tool call an agent reports, a model call
//! at the metering proxy) goes through the policies here; an ask waits in the queue of
//! pending actions until a person decides (the sidebar, `teamster approve`/`deny`) or its
//! time runs out. Every decision goes to the audit log; spend goes to the state database
//! as it happens.

use super::approvals::{Pending, RETRY_GRACE};
use super::store::{DecisionRecord, SpendRecord};
use super::{Runner, State, log, now_secs};
use crate::agents::{AgentState, ToolCall};
use crate::approval::{ActionKind, AllowScope, DecidedBy, Decision, Surface, Verdict};
use crate::effects::Effect;
use crate::layout::PaneId;
use crate::meter::prices::Priced;
use crate::meter::usage::Reading;
use crate::policy::{self, Allowance, Event, MarkChange, Place, Scope};
use crate::protocol::{GateKind, PendingSource, PendingView, ServerMsg};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::oneshot;

/// How long an agent's own question waits in the queue: as long as the agents' hooks
/// wait for teamster (a day).
const AGENT_QUESTION_WAIT: u64 = crate::agents::claude::HOOK_TIMEOUT;

/// How many of the latest decisions the sidebar's history keeps.
const RECENT: usize = 20;

/// What waits for a verdict.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    ToolCall(ToolCall),
    /// A call the agent asks its user about in its own dialog (the policies judged it at
    /// its tool-call hook already): only an "always allow" answers it, else a person.
    AgentDialog(ToolCall),
    LlmRequest {
        provider: String,
        model: Option<String>,
    },
    /// What an agent does on the wire, seen at the proxy: a push, a download, a contact.
    Effect(crate::effects::Effect),
}

impl Action {
    pub fn call(&self) -> Option<&ToolCall> {
        match self {
            Action::ToolCall(c) | Action::AgentDialog(c) => Some(c),
            Action::LlmRequest { .. } | Action::Effect(_) => None,
        }
    }

    /// The kind of action, as the audit log and the queue name it.
    pub fn kind(&self) -> ActionKind {
        match self {
            Action::ToolCall(_) | Action::AgentDialog(_) => ActionKind::ToolCall,
            Action::LlmRequest { .. } => ActionKind::LlmRequest,
            Action::Effect(e) => e.kind(),
        }
    }
}

/// Who asks a person about an action.
enum Asker {
    /// A rule: why, and the marks it changes when a person approves. Nobody answering in
    /// time denies the action.
    Policy { reason: String, on_approve: Vec<MarkChange> },
    /// The agent, in its own dialog (shown in its pane too). Nobody answering in teamster
    /// in time leaves it to that dialog.
    Agent,
}

/// What the agent's side is told of an action: decided, or `None` when no rule spoke (the
/// agent's own rules decide).
pub type Answer = Option<Decision>;

/// An action held for a person, for as long as someone waits for its answer: dropped
/// unanswered (the agent cancelled the call, its hook or request went away), it is
/// withdrawn from the sidebar, and the audit log says so.
struct Held {
    runner: Arc<Runner>,
    id: u64,
    pane: PaneId,
    /// A model call, which its agent may send again: kept a while for that.
    retried: bool,
    /// Taken once answered.
    record: Option<DecisionRecord>,
}

impl Drop for Held {
    fn drop(&mut self) {
        let Some(record) = self.record.take() else { return };
        if self.retried
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            self.runner.state.lock().queue.orphan(self.id);
            let (runner, id, pane) = (self.runner.clone(), self.id, self.pane);
            rt.spawn(async move {
                tokio::time::sleep(RETRY_GRACE).await;
                let orphaned = runner.state.lock().queue.is_orphaned(id);
                if orphaned {
                    runner.withdraw(id, pane, record);
                }
            });
            return;
        }
        self.runner.withdraw(self.id, self.pane, record);
    }
}

impl Runner {
    /// Decides `action` of `pane` by the policies; an ask waits here for a person, or
    /// for `ask_timeout_secs`, then it is denied.
    pub async fn decide(self: &Arc<Self>, pane: PaneId, mut action: Action) -> Answer {
        // A contact: whether it is the session's first with the host, and, let through,
        // that it was.
        let contact = match &mut action {
            Action::Effect(Effect::Contact(c)) => {
                let host = format!("{}:{}", c.host, c.port);
                let st = self.state.lock();
                let session = st.panes.get(&pane).and_then(|p| st.sessions.get(&p.session));
                c.first = !session.is_some_and(|s| s.contacted.contains(&host));
                Some(host)
            }
            _ => None,
        };
        let answer = self.decide_once(pane, action).await;
        if let Some(host) = contact
            && answer.as_ref().is_none_or(|d| d.reason().is_none())
        {
            let mut st = self.state.lock();
            let session = st.panes.get(&pane).map(|p| p.session);
            if let Some(s) = session.and_then(|id| st.sessions.get_mut(&id)) {
                s.contacted.insert(host);
            }
        }
        answer
    }

    async fn decide_once(self: &Arc<Self>, pane: PaneId, action: Action) -> Answer {
        // An agent's own dialog is about a call the rules judged at its tool-call hook.
        let asks_itself = matches!(action, Action::AgentDialog(_));
        let mut rules = if asks_itself { Default::default() } else { self.rules.read().clone() };
        // A pane whose agent's own read-only mode teamster maps holds every tool call.
        let holds = matches!(action, Action::ToolCall(_))
            && self.state.lock().panes.get(&pane).is_some_and(|p| p.meta.lock().holds_calls);
        if holds && !rules.iter().any(|r| r.name == "hold_tool_calls") {
            let mut all = rules.as_ref().clone();
            all.push(policy::Rule::hold_every_tool_call());
            rules = Arc::new(all);
        }
        // The branch a checkout is on, only for rules that ask, and found (by git) away
        // from the state lock.
        let checkout = match &action {
            Action::ToolCall(_) | Action::AgentDialog(_) if rules.iter().any(|r| r.needs_branch()) => {
                self.state.lock().panes.get(&pane).map(|p| p.meta.lock().spec.cwd.clone())
            }
            _ => None,
        };
        let branch = match checkout {
            Some(dir) => tokio::task::spawn_blocking(move || branch_of(&dir)).await.ok().flatten(),
            None => None,
        };
        let allowances = self.allowances.lock().clone();
        let home = crate::paths::home();
        let (decision, record, workspace) = {
            let mut st = self.state.lock();
            let Some(p) = st.panes.get(&pane).cloned() else { return Some(Decision::deny("the pane is gone")) };
            let Some(s) = st.sessions.get(&p.session) else { return Some(Decision::deny("the session ended")) };
            let (spec, kind) = {
                let m = p.meta.lock();
                (m.spec.clone(), m.agent.map(|k| k.name()).unwrap_or("command"))
            };
            let workspace = spec.worktree.as_ref().map(|w| w.path.clone()).unwrap_or_else(|| spec.cwd.clone());
            let event = match &action {
                Action::ToolCall(call) | Action::AgentDialog(call) => Event::ToolCall {
                    tool: call.tool.clone(),
                    command: call.command.clone(),
                    paths: call.paths.clone(),
                    cwd: spec.cwd.clone(),
                    workspace: workspace.clone(),
                    branch: branch.clone(),
                    home,
                },
                Action::LlmRequest { provider, model } => {
                    Event::LlmRequest { provider: provider.clone(), model: model.clone() }
                }
                Action::Effect(effect) => Event::Effect(effect.clone()),
            };
            let agent = spec.name.clone().unwrap_or_else(|| kind.to_string());
            let ctx = s.policy_context(&agent, kind, self.day_spend());
            let place = Place { session: s.name.clone(), workspace: workspace.clone() };
            let decision = policy::evaluate(&rules, &allowances, &event, &place, &ctx);
            let session_name = s.name.clone();
            let place = s.place_of(pane).unwrap_or_default();
            let session_id = p.session;
            self.change_marks(&mut st, session_id, &decision.marks);
            let record = DecisionRecord {
                ts: now_secs(),
                session: session_name,
                pane: spec.key.clone(),
                place,
                agent,
                kind: action.kind(),
                what: self.describe(&action, ctx.session_spend),
                verdict: Verdict::Defer,
                by: if decision.rule.is_some() { DecidedBy::Policy } else { DecidedBy::NoRule },
                rule: decision.rule.clone(),
                reason: None,
            };
            (decision, record, (workspace, p.session, policy::allowance_key(&event)))
        };
        let model_call = matches!(action, Action::LlmRequest { .. });
        let answer = match &decision.verdict {
            policy::Verdict::Allow => Some(Decision::ApproveOnce),
            policy::Verdict::Deny { reason } => Some(Decision::deny(reason.clone())),
            policy::Verdict::Defer if asks_itself => {
                return self.ask(pane, action, record, Asker::Agent, workspace).await;
            }
            policy::Verdict::Defer => None,
            policy::Verdict::Ask { reason } => {
                let asker = Asker::Policy { reason: reason.clone(), on_approve: decision.on_approve.clone() };
                let answer = self.ask(pane, action, record, asker, workspace).await;
                if model_call {
                    self.spend_gate(pane, decision.rule.as_deref(), GateKind::Asks, &answer);
                }
                return answer;
            }
        };
        if model_call {
            self.spend_gate(pane, decision.rule.as_deref(), GateKind::Refuses, &answer);
        }
        // A model call no rule concerned is in the spend table already: no audit row (and
        // no database write) on the way of every request; nor for every contact with a
        // host no rule spoke of. Pushes and downloads are what happened: always recorded.
        let routine = model_call || matches!(action, Action::Effect(Effect::Contact(_)));
        if routine && decision.rule.is_none() {
            return answer;
        }
        let reason = answer.as_ref().and_then(Decision::reason).map(str::to_string);
        self.audit(DecisionRecord { verdict: Verdict::of(answer.as_ref()), reason, ..record });
        answer
    }

    /// A spend gate's answer to a pane's model call. Refused, the pane says "stopped by a
    /// spend cap", you are told, and the status bar names the cap until a call goes out
    /// again.
    fn spend_gate(&self, pane: PaneId, rule: Option<&str>, gate: GateKind, answer: &Answer) {
        let mut st = self.state.lock();
        let Some(session) = st.panes.get(&pane).map(|p| p.session) else { return };
        let refused = answer.as_ref().and_then(Decision::reason);
        let Some(s) = st.sessions.get_mut(&session) else { return };
        let hit =
            refused.map(|reason| super::CapHit { rule: rule.map(str::to_string), reason: reason.to_string(), gate });
        if s.cap_hit == hit {
            return;
        }
        s.cap_hit = hit.clone();
        s.touch();
        let Some(hit) = hit else { return };
        let what = hit.rule.as_deref().map(|r| format!("the spend cap \"{r}\"")).unwrap_or("a spend gate".into());
        let _ = s.events.send(super::SessionEvent::Message(ServerMsg::Alert {
            pane,
            kind: crate::protocol::AlertKind::Notify {
                title: format!("{what} stopped an agent"),
                body: crate::text::visible(&hit.reason).into_owned(),
            },
        }));
        self.set_state_locked(&mut st, pane, AgentState::StoppedBySpendCap);
    }

    /// The policies on an agent's start (`on = "session_start"`): they may set marks, or
    /// refuse it. Nothing waits here: such rules cannot ask.
    pub(super) fn admit_start(
        &self,
        st: &mut State,
        session: u32,
        agent: &str,
        kind: &str,
        key: &str,
    ) -> Result<(), String> {
        let rules = self.rules.read().clone();
        let Some(s) = st.sessions.get(&session) else { return Err("the session ended".into()) };
        let ctx = s.policy_context(agent, kind, self.day_spend());
        let place = Place { session: s.name.clone(), workspace: PathBuf::new() };
        let decision = policy::evaluate(&rules, &[], &Event::SessionStart, &place, &ctx);
        let session_name = s.name.clone();
        self.change_marks(st, session, &decision.marks);
        let (word, reason) = match &decision.verdict {
            policy::Verdict::Deny { reason } | policy::Verdict::Ask { reason } => (Verdict::Deny, Some(reason.clone())),
            policy::Verdict::Allow => (Verdict::Allow, None),
            policy::Verdict::Defer => (Verdict::Defer, None),
        };
        if decision.rule.is_some() {
            self.audit(DecisionRecord {
                ts: now_secs(),
                session: session_name,
                pane: key.to_string(),
                place: String::new(),
                agent: agent.to_string(),
                kind: ActionKind::SessionStart,
                what: format!("start {agent}"),
                verdict: word.clone(),
                by: DecidedBy::Policy,
                rule: decision.rule.clone(),
                reason: reason.clone(),
            });
        }
        match reason {
            Some(reason) if word == Verdict::Deny => Err(format!("a policy refused to start {agent}: {reason}")),
            _ => Ok(()),
        }
    }

    /// Takes a held action out of the queue: nobody waits for its answer any more.
    fn withdraw(&self, id: u64, pane: PaneId, record: DecisionRecord) {
        {
            let mut st = self.state.lock();
            st.queue.forget_old_answers(std::time::Instant::now());
            if st.queue.take(id).is_none() {
                return;
            }
            self.set_state_locked(&mut st, pane, AgentState::Working);
            self.broadcast_pending(&st);
        }
        self.audit(DecisionRecord {
            verdict: Verdict::Withdrawn,
            by: DecidedBy::TheAgent,
            reason: Some("nobody waited for the answer any more".into()),
            ..record
        });
    }

    /// Holds an action for a person.
    async fn ask(
        self: &Arc<Self>,
        pane: PaneId,
        action: Action,
        record: DecisionRecord,
        asker: Asker,
        (workspace, session, allow_key): (PathBuf, u32, Option<(String, String)>),
    ) -> Answer {
        let (reason, on_approve, source) = match asker {
            Asker::Policy { reason, on_approve } => (reason, on_approve, PendingSource::Policy),
            Asker::Agent => (format!("{} asks before it does this", record.agent), Vec::new(), PendingSource::Agent),
        };
        // A rule's question holds the agent, so it is denied after `ask_timeout_secs`; the
        // agent's own question is the agent waiting for its user, so it waits in the queue as
        // long as the agent does (its hook's own limit, a day), answerable from anywhere.
        let timeout = match source {
            PendingSource::Policy => self.config().ask_timeout_secs,
            PendingSource::Agent => AGENT_QUESTION_WAIT,
        };
        let (tx, rx) = oneshot::channel();
        let retried = matches!(action, Action::LlmRequest { .. });
        // A model call its agent sent again after giving up waiting: the answer a person
        // gave meanwhile, or the same item (its id, its deadline).
        let kept = retried.then(|| self.kept_answer(pane, &action)).flatten();
        if let Some((answer, by)) = kept {
            self.audit(DecisionRecord {
                verdict: Verdict::of(answer.as_ref()),
                by,
                reason: answer.as_ref().and_then(Decision::reason).map(str::to_string),
                ..record
            });
            return answer;
        }
        let adopted = match retried {
            true => self.state.lock().queue.adopt_retry(pane, &action, tx),
            false => Err(tx),
        };
        let (id, deadline) = match adopted {
            Ok(held) => held,
            Err(reply) => {
                // Numbered in the state database, so an id never comes back after a restart; in
                // memory only if the database fails.
                let stored = self.store.read(|db| db.next_number("approval")).and_then(|n| n.map_err(|e| log(&e)).ok());
                let mut guard = self.state.lock();
                let st = &mut *guard;
                let id = st.queue.next_id(stored);
                let now = now_secs();
                let warning = self.sandbox_warning_locked(st, pane, &action);
                st.queue.hold(Pending {
                    id,
                    pane,
                    session,
                    agent: record.agent.clone(),
                    action,
                    what: record.what.clone(),
                    rule: record.rule.clone(),
                    reason: reason.clone(),
                    source,
                    warning,
                    since: now,
                    deadline: now + timeout,
                    on_approve,
                    allow_key,
                    workspace,
                    reply,
                    orphaned: false,
                });
                self.set_state_locked(st, pane, AgentState::NeedsApproval);
                self.broadcast_pending(st);
                (id, now + timeout)
            }
        };
        // If nobody waits for the answer any more (the agent cancelled the call, its hook
        // went away, the request was dropped), the guard withdraws it (a model call after
        // a while, for its retry).
        let mut held = Held { runner: self.clone(), id, pane, retried, record: Some(record.clone()) };
        let mut rx = rx;
        let wait = std::time::Duration::from_secs(deadline.saturating_sub(now_secs()));
        let answer = tokio::time::timeout(wait, &mut rx).await;
        let stopped = || (Some(Decision::deny("teamster stopped before deciding")), DecidedBy::Teamster);
        let (answer, by) = match answer {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => stopped(),
            Err(_) => {
                let mut st = self.state.lock();
                // A person may have answered just as time ran out: then that answer stands.
                match st.queue.take(id) {
                    Some(_) => {
                        self.broadcast_pending(&st);
                        // The agent's own dialog is still there to answer; a rule's ask is
                        // denied.
                        let late = match source {
                            PendingSource::Agent => None,
                            PendingSource::Policy => {
                                Some(Decision::deny(format!("nobody answered within {timeout} s ({reason})")))
                            }
                        };
                        (late, DecidedBy::Timeout)
                    }
                    None => rx.try_recv().unwrap_or_else(|_| stopped()),
                }
            }
        };
        held.record = None;
        self.set_state_locked(&mut self.state.lock(), pane, AgentState::Working);
        let why = match &answer {
            Some(d) => d.reason().filter(|r| !r.is_empty()).map(str::to_string),
            None => Some(format!("nobody answered in teamster within {timeout} s: the agent's own dialog decides")),
        };
        // Answered in the agent's own pane, the agent has its answer already.
        let told = by != DecidedBy::You(Surface::Pane);
        self.audit(DecisionRecord { verdict: Verdict::of(answer.as_ref()), by, reason: why, ..record });
        answer.filter(|_| told)
    }

    /// The answer kept for a retry of `action` by `pane`'s agent, if one came in time.
    fn kept_answer(&self, pane: PaneId, action: &Action) -> Option<(Answer, DecidedBy)> {
        self.state.lock().queue.kept_answer(pane, action, std::time::Instant::now())
    }

    /// What the pane's sandbox will refuse of `action` even once approved (a write outside
    /// what the agent may write), and the setting that would let it.
    fn sandbox_warning_locked(&self, st: &State, pane: PaneId, action: &Action) -> Option<String> {
        let call = action.call()?;
        let (plan, cwd, workspace, table) = {
            let m = st.panes.get(&pane)?.meta.lock();
            let workspace = m.spec.worktree.as_ref().map(|w| w.path.clone()).unwrap_or_else(|| m.spec.cwd.clone());
            // The agent's entry in the config (`[agents.NAME]`), not the pane's label; a
            // program's sandbox is the config's own.
            let table = match &m.spec.spawn {
                crate::protocol::Spawn::Agent { name } => format!("[agents.{name}]"),
                _ => "[sandbox]".to_string(),
            };
            (m.sandbox_plan.clone()?, m.spec.cwd.clone(), workspace, table)
        };
        let home = crate::paths::home();
        let refused: Vec<String> = policy::paths_outside(call.command.as_deref(), &call.paths, &cwd, &workspace, &home)
            .into_iter()
            .filter(|p| plan.refuses_write(std::path::Path::new(p)))
            .collect();
        let first = refused.first()?;
        Some(format!(
            "the sandbox will still refuse writing {} (reading works): `writable = [\"{first}\"]` under {table} in the config lets it",
            refused.join(", ")
        ))
    }

    /// The agent's own question about a call (`which`) was answered in its pane: its item
    /// leaves every queue, with that answer.
    pub fn answered_in_pane(&self, pane: PaneId, which: impl Fn(&ToolCall) -> bool, decision: Decision, up_to: u64) {
        let mut st = self.state.lock();
        if st.queue.answered_in_pane(pane, which, &decision, up_to) {
            self.broadcast_pending(&st);
        }
    }

    /// Gives a held action its decision; the agent goes on at once. Approved always, the
    /// same action is allowed from now on in that scope. `by` is who decided, for the
    /// audit log.
    pub fn resolve(&self, id: u64, decision: Decision, by: DecidedBy) -> Result<(), String> {
        let mut guard = self.state.lock();
        let st = &mut *guard;
        // Only a tool call can be allowed for good; a push, a download, a contact or a
        // model call is judged each time it happens.
        if let (Decision::ApproveAlways { .. }, Some(p)) = (&decision, st.queue.get(id))
            && p.allow_key.is_none()
        {
            return Err(format!(
                "{} cannot be allowed always: it is judged each time it happens; approve it once",
                p.action.kind().words()
            ));
        }
        let p = st.queue.take(id).ok_or_else(|| st.queue.no_such(id))?;
        if decision.approves() {
            self.change_marks(st, p.session, &p.on_approve);
            // Only a policy's question precedes the agent's own; an approval of the agent's
            // own question answers that one question, never a later one.
            if let Action::ToolCall(call) = &p.action {
                st.queue.remember_approved(p.pane, call, std::time::Instant::now());
            }
            if let Decision::ApproveAlways { scope } = &decision
                && let Some(allowance) = Self::allowance_of(st, &p, *scope)
            {
                self.keep_allowance(allowance);
            }
        }
        // Its agent gave up waiting: the answer waits for its retry.
        st.queue.answer(p, (Some(decision), by), std::time::Instant::now());
        self.broadcast_pending(st);
        Ok(())
    }

    /// What allowing `p`'s action from now on in `scope` keeps (an "always" a person gave),
    /// read under the state lock; `keep_allowance` keeps it, after.
    fn allowance_of(st: &State, p: &Pending, scope: AllowScope) -> Option<(Scope, String, String)> {
        let (tool, what) = p.allow_key.clone()?;
        let scope = match scope {
            AllowScope::Session => {
                Scope::Session(st.sessions.get(&p.session).map(|s| s.name.clone()).unwrap_or_default())
            }
            AllowScope::Workspace => Scope::Workspace(p.workspace.clone()),
            AllowScope::Everywhere => Scope::Everywhere,
        };
        Some((scope, tool, what))
    }

    /// Keeps an allowance in the state database and in force.
    fn keep_allowance(&self, (scope, tool, what): (Scope, String, String)) {
        let (kept, tool_, what_) = (scope.clone(), tool.clone(), what.clone());
        let added = self.store.read(move |db| db.add_allowance(&kept, &tool_, &what_, now_secs()));
        match added.unwrap_or_else(|| Err("the state database is gone".into())) {
            Ok(aid) => self.allowances.lock().push(Allowance { id: aid, scope, tool, what }),
            Err(e) => log(&e),
        }
    }

    /// The person picked the "always" of an agent's own dialog in its pane (`key`, a key
    /// typed alone, on `lines`, its screen as they saw it): the agent cannot keep that in
    /// its own settings (read-only to it), so teamster keeps it, as the same answer given
    /// in its queue. Only a person's keys come here; the item is answered in the pane as
    /// any other. A batch of keys (an arrow, then Enter) is not read: the screen is the one
    /// before it.
    pub(super) fn always_in_pane(
        &self,
        pane: PaneId,
        kind: crate::agents::AgentKind,
        lines: &[String],
        key: crate::protocol::keys::KeyCode,
    ) {
        let Some(scope) = crate::agents::adapter::adapter(kind).always_chosen(lines, key) else { return };
        let kept = {
            let st = self.state.lock();
            let Some(p) = st.queue.agent_item_of(pane) else { return };
            Self::allowance_of(&st, p, scope).map(|a| (a, p.what.clone()))
        };
        // The database is written off the state lock a keystroke needs.
        if let Some((allowance, what)) = kept {
            self.keep_allowance(allowance);
            log(&format!("pane {pane}: you chose always ({scope:?}) for {what} in the agent's own dialog"));
        }
    }

    pub fn approvals(&self) -> Vec<PendingView> {
        let st = self.state.lock();
        st.pending_views()
    }

    /// Tells every attached client what is pending now.
    pub(super) fn broadcast_pending(&self, st: &State) {
        let pending = st.pending_views();
        for s in st.sessions.values() {
            let _ = s.events.send(super::SessionEvent::Message(ServerMsg::Pending { pending: pending.clone() }));
        }
    }

    fn describe(&self, action: &Action, spend: f64) -> String {
        match action {
            Action::ToolCall(call) | Action::AgentDialog(call) => call.summary(),
            Action::LlmRequest { provider, model } => format!(
                "a request to {provider}{} (${spend:.2} spent)",
                model.as_ref().map(|m| format!(" for {m}")).unwrap_or_default()
            ),
            Action::Effect(e) => e.describe(),
        }
    }

    /// Sets and clears marks of a session, in memory and in the database.
    fn change_marks(&self, st: &mut State, session: u32, changes: &[MarkChange]) {
        let Some(s) = st.sessions.get_mut(&session) else { return };
        for change in changes {
            let key = s.key.clone();
            match change {
                MarkChange::Set(name) => {
                    let mark = policy::Mark { spend: s.spend, at: now_secs() };
                    s.marks.insert(name.clone(), mark.clone());
                    let name = name.clone();
                    self.store.write(move |db| db.set_mark(&key, &name, &mark));
                }
                MarkChange::Clear(name) => {
                    s.marks.remove(name);
                    let name = name.clone();
                    self.store.write(move |db| db.clear_mark(&key, &name));
                }
            }
        }
    }

    pub(super) fn audit(&self, record: DecisionRecord) {
        // Stamped when decided, not when asked: the audit reads in the order of decisions.
        let record = DecisionRecord { ts: now_secs(), ..record };
        let kept = record.clone();
        self.store.write(move |db| db.add_decision(&kept).map(drop).map_err(|e| format!("audit log: {e}")));
        let view = crate::protocol::RecentView {
            ts: record.ts,
            session: record.session.clone(),
            agent: record.agent,
            kind: record.kind,
            what: record.what,
            verdict: record.verdict,
            by: record.by,
            times: 1,
        };
        // Every attached client watches this (and draws it in the sidebar's history): what
        // a rule, a person or the sandbox decided, not each call that no rule concerned.
        if view.by == DecidedBy::NoRule {
            return;
        }
        self.history.send_modify(|h| crate::protocol::RecentView::note(h, view, RECENT));
    }

    /// Today's spend over every session.
    pub(super) fn day_spend(&self) -> f64 {
        let today = super::store::local_day(now_secs());
        let mut day = self.day.lock();
        if day.0 != today {
            let asked = today.clone();
            *day = (today, self.store.read(move |db| db.day_spend(&asked)).unwrap_or_default());
        }
        day.1
    }

    /// Books a model call to its pane, its session and the day. Priced before, and
    /// written to the database after, the state lock.
    pub fn record_spend(&self, pane: PaneId, provider: &str, reading: Reading) {
        let mut record = SpendRecord { ts: now_secs(), provider: provider.to_string(), ..SpendRecord::default() };
        match reading {
            Reading::Usage(u) => {
                let (cost, priced) = self.prices.read().cost(&u);
                if priced == Priced::Fallback {
                    record.note = Some(format!(
                        "{} is not in the price table: priced at the fallback",
                        u.model.as_deref().unwrap_or("the model")
                    ));
                }
                record = SpendRecord {
                    model: u.model,
                    input: u.input,
                    output: u.output,
                    cache_read: u.cache_read,
                    cache_write: u.cache_write,
                    cost,
                    priced,
                    ..record
                };
            }
            Reading::Unknown(why) => {
                record.priced = Priced::Unknown;
                record.note = Some(why);
            }
        }
        {
            let mut st = self.state.lock();
            let Some(p) = st.panes.get(&pane).cloned() else { return };
            let Some(s) = st.sessions.get_mut(&p.session) else { return };
            {
                let mut m = p.meta.lock();
                m.spend += record.cost;
                m.spend_unknown |= record.priced == Priced::Unknown;
                record.pane = m.spec.key.clone();
                record.agent = m.spec.name.clone().unwrap_or_else(|| m.command.clone());
                record.pane_label = format!("{} {}", s.place_of(pane).unwrap_or_default(), record.agent);
            }
            record.session = s.key.clone();
            record.session_name = s.name.clone();
            s.spend += record.cost;
            self.day.lock().1 += record.cost;
            s.touch();
        }
        self.store.write(move |db| db.add_spend(&record).map_err(|e| format!("spend not saved: {e}")));
    }

    pub fn store_report(&self, session: Option<&str>) -> Result<crate::protocol::CostReport, String> {
        let session = session.map(str::to_string);
        self.store
            .read(move |db| db.report(session.as_deref()))
            .unwrap_or_else(|| Err("the state database is gone".into()))
    }

    pub fn remove_allowance(&self, id: i64) -> Result<(), String> {
        let removed = self.store.read(move |db| db.remove_allowance(id));
        if !removed.unwrap_or_else(|| Err("the state database is gone".into()))? {
            return Err(format!("no allowance {id}; `teamster rules` lists them"));
        }
        self.allowances.lock().retain(|a| a.id != id);
        Ok(())
    }
}

impl Runner {
    /// The agent pane a process belongs to, if any: one of the agents' own processes (by
    /// descent, or by the terminal session the pane's program leads). A process that left
    /// both (a daemon) is not seen; the sandbox keeps it from the socket altogether.
    pub fn agent_of_process(&self, pid: i32) -> Option<PaneId> {
        let leaders: Vec<(i32, PaneId)> = {
            let st = self.state.lock();
            st.panes.values().filter(|p| p.meta.lock().agent.is_some()).map(|p| (p.pid as i32, p.id)).collect()
        };
        if leaders.is_empty() {
            return None;
        }
        let me = std::process::id() as i32;
        let mut pid = pid;
        for _ in 0..64 {
            if pid <= 1 || pid == me {
                return None;
            }
            let (ppid, session) = super::pty::parent_and_session(pid)?;
            if let Some((_, pane)) = leaders.iter().find(|(leader, _)| *leader == pid || *leader == session) {
                return Some(*pane);
            }
            pid = ppid;
        }
        None
    }
}

/// The same call, as two hooks of one agent report it (its tool and its command or files;
/// the agents give their dialogs no call id).
pub fn same_call(a: &ToolCall, b: &ToolCall) -> bool {
    a.tool == b.tool && a.command == b.command && a.paths == b.paths
}

/// The branch checked out in `dir`, if it is a git checkout.
fn branch_of(dir: &std::path::Path) -> Option<String> {
    super::worktree::git(dir, &["rev-parse", "--abbrev-ref", "HEAD"]).ok().filter(|b| !b.is_empty())
}
