//! The queue of actions held for a person: what waits, under which ids, and the short
//! memories that make one decision answer one question (an approval given in teamster
//! for the agent's own dialog that follows it; an answer kept for a model call its agent
//! sends again). It owns that state; the runner asks it, under the state lock, and
//! carries out what it says (agent states, broadcasts, the audit). Nothing here blocks,
//! waits or touches a process, so it is unit-tested as it stands.

use super::control::{Action, Answer};
use crate::agents::ToolCall;
use crate::approval::{DecidedBy, Decision, Surface};
use crate::layout::PaneId;
use crate::policy::MarkChange;
use crate::protocol::{PendingSource, PendingView};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// How long a held model call whose agent gave up waiting (its HTTP client timed out) stays
/// in the queue for the agent's retry, which takes the same item.
pub const RETRY_GRACE: Duration = Duration::from_secs(60);

/// How long an approval given in teamster answers the agent's own dialog for that call.
const APPROVAL_MEMORY: Duration = Duration::from_secs(120);

/// Where a held action's answer goes: its decision and who made it.
pub type Reply = oneshot::Sender<(Answer, DecidedBy)>;

/// An action held for a person.
pub struct Pending {
    pub id: u64,
    pub pane: PaneId,
    pub session: u32,
    pub agent: String,
    pub action: Action,
    /// What it wants to do, in one line.
    pub what: String,
    pub rule: Option<String>,
    pub reason: String,
    pub source: PendingSource,
    pub warning: Option<String>,
    pub since: u64,
    pub deadline: u64,
    /// Marks the asking rule changes when a person approves.
    pub on_approve: Vec<MarkChange>,
    /// For "always allow": the tool and exact command or files, and the workspace.
    pub allow_key: Option<(String, String)>,
    pub workspace: PathBuf,
    pub reply: Reply,
    /// Its agent stopped waiting (a model call whose client gave up): kept for a retry.
    pub orphaned: bool,
}

/// A decision on a held model call that came while its agent was away, for its retry.
struct KeptAnswer {
    pane: PaneId,
    action: Action,
    answer: (Answer, DecidedBy),
    at: Instant,
}

#[derive(Default)]
pub struct Queue {
    /// Oldest first.
    pending: BTreeMap<u64, Pending>,
    /// The last id given out.
    last_id: u64,
    /// Calls approved in teamster, remembered briefly to answer the agent's own dialog.
    approved: Vec<(PaneId, String, Instant)>,
    /// Answers given to model calls whose agent had given up waiting, for its retry.
    kept: Vec<KeptAnswer>,
}

impl Queue {
    /// An id for a new item: the state database's next number (`stored`, so ids go on
    /// across restarts) unless this runner has given out that many already; ours alone if
    /// the database failed.
    /// The last id given.
    pub fn last_id(&self) -> u64 {
        self.last_id
    }

    pub fn next_id(&mut self, stored: Option<u64>) -> u64 {
        let id = stored.unwrap_or(0).max(self.last_id + 1);
        self.last_id = id;
        id
    }

    /// Holds an action under its id.
    pub fn hold(&mut self, pending: Pending) {
        self.pending.insert(pending.id, pending);
    }

    pub fn get(&self, id: u64) -> Option<&Pending> {
        self.pending.get(&id)
    }

    /// Takes an item out: it is answered, withdrawn or timed out.
    pub fn take(&mut self, id: u64) -> Option<Pending> {
        self.pending.remove(&id)
    }

    /// The agent's own question `pane` waits on, if one.
    pub fn agent_item_of(&self, pane: PaneId) -> Option<&Pending> {
        self.pending.values().find(|p| p.pane == pane && p.source == PendingSource::Agent)
    }

    /// Whether anything of `pane`'s waits.
    pub fn waits_on(&self, pane: PaneId) -> bool {
        self.pending.values().any(|p| p.pane == pane)
    }

    /// What a person is told when an id names nothing.
    pub fn no_such(&self, id: u64) -> String {
        let waiting: Vec<String> = self.pending.keys().map(u64::to_string).collect();
        match waiting.is_empty() {
            true => format!("no pending action {id}; nothing is waiting"),
            false => format!("no pending action {id}; waiting: {}", waiting.join(", ")),
        }
    }

    /// Denies whatever a closing pane (or a finished turn) still waits on, so its hook
    /// returns; whether there was anything.
    pub fn deny_all_of(&mut self, pane: PaneId, reason: &str) -> bool {
        let ids: Vec<u64> = self.pending.values().filter(|p| p.pane == pane).map(|p| p.id).collect();
        for id in &ids {
            if let Some(p) = self.pending.remove(id) {
                let _ = p.reply.send((Some(Decision::deny(reason)), DecidedBy::Teamster));
            }
        }
        !ids.is_empty()
    }

    /// The agent's own question about a call (`which`) was answered in its pane: its items
    /// leave the queue with that answer; whether there were any.
    pub fn answered_in_pane(
        &mut self,
        pane: PaneId,
        which: impl Fn(&ToolCall) -> bool,
        decision: &Decision,
        up_to: u64,
    ) -> bool {
        let ids: Vec<u64> = self
            .pending
            .values()
            .filter(|p| p.pane == pane && p.source == PendingSource::Agent && p.id <= up_to)
            .filter(|p| matches!(&p.action, Action::AgentDialog(c) if which(c)))
            .map(|p| p.id)
            .collect();
        for id in &ids {
            if let Some(p) = self.pending.remove(id) {
                let _ = p.reply.send((Some(decision.clone()), DecidedBy::You(Surface::Pane)));
            }
        }
        !ids.is_empty()
    }

    /// A model call its agent sends again after giving up waiting: it takes the item it
    /// left (its id and deadline), with `reply` as where the answer goes now.
    pub fn adopt_retry(&mut self, pane: PaneId, action: &Action, reply: Reply) -> Result<(u64, u64), Reply> {
        match self.pending.values_mut().find(|p| p.orphaned && p.pane == pane && p.action == *action) {
            Some(p) => {
                p.orphaned = false;
                p.reply = reply;
                Ok((p.id, p.deadline))
            }
            None => Err(reply),
        }
    }

    /// Its agent stopped waiting for item `id`; kept for a retry.
    pub fn orphan(&mut self, id: u64) {
        if let Some(p) = self.pending.get_mut(&id) {
            p.orphaned = true;
        }
    }

    pub fn is_orphaned(&self, id: u64) -> bool {
        self.pending.get(&id).is_some_and(|p| p.orphaned)
    }

    /// Sends an item's answer. One whose agent gave up waiting keeps it for its retry.
    pub fn answer(&mut self, p: Pending, answer: (Answer, DecidedBy), now: Instant) {
        if let Err(answer) = p.reply.send(answer)
            && p.orphaned
        {
            self.kept.push(KeptAnswer { pane: p.pane, action: p.action, answer, at: now });
        }
    }

    /// The answer kept for a retry of `action` by `pane`'s agent, if one came in time.
    pub fn kept_answer(&mut self, pane: PaneId, action: &Action, now: Instant) -> Option<(Answer, DecidedBy)> {
        self.forget_old_answers(now);
        let i = self.kept.iter().position(|k| k.pane == pane && k.action == *action)?;
        Some(self.kept.remove(i).answer)
    }

    pub fn forget_old_answers(&mut self, now: Instant) {
        self.kept.retain(|k| now.duration_since(k.at) < RETRY_GRACE);
    }

    /// A call a policy asked about, approved in teamster: the agent's own dialog for it, if
    /// one follows before the call is over, is answered with that approval (once).
    pub fn remember_approved(&mut self, pane: PaneId, call: &ToolCall, now: Instant) {
        self.approved.push((pane, call.act(), now));
    }

    /// Whether the user approved `call` in this pane a moment ago (and forgets it).
    pub fn take_approved(&mut self, pane: PaneId, call: &ToolCall, now: Instant) -> bool {
        self.approved.retain(|(_, _, at)| now.duration_since(*at) < APPROVAL_MEMORY);
        let act = call.act();
        let found = self.approved.iter().position(|(p, what, _)| *p == pane && *what == act);
        found.map(|i| self.approved.remove(i)).is_some()
    }

    /// The pane's `call` is over (it ran), or all its calls are (`None`: its turn ended):
    /// an approval not used by a dialog answers none later, so the same call made again is
    /// asked about again.
    pub fn forget_approved(&mut self, pane: PaneId, call: Option<&ToolCall>) {
        let act = call.map(ToolCall::act);
        self.approved.retain(|(p, what, _)| *p != pane || act.as_ref().is_some_and(|a| a != what));
    }

    /// What waits, oldest first, as clients show it; `names` gives a session's name and a
    /// pane's place in it (`SESSION:TAB.PANE`).
    pub fn views(&self, names: impl Fn(u32, PaneId) -> (String, Option<String>)) -> Vec<PendingView> {
        self.pending
            .values()
            .map(|p| {
                let (session, place) = names(p.session, p.pane);
                (p, session, place)
            })
            .map(|(p, session, place)| PendingView {
                id: p.id,
                session,
                pane: p.pane,
                place,
                agent: p.agent.clone(),
                kind: p.action.kind(),
                tool: match &p.action {
                    Action::ToolCall(c) | Action::AgentDialog(c) => c.tool.clone(),
                    Action::LlmRequest { provider, .. } => provider.clone(),
                    Action::Effect(e) => e.kind().word().into(),
                },
                what: p.what.clone(),
                rule: p.rule.clone(),
                reason: p.reason.clone(),
                source: p.source,
                warning: p.warning.clone(),
                diff: p.action.call().and_then(|c| c.diff.clone()),
                since: p.since,
                // An agent's own question has no deadline a person need watch: it waits.
                deadline: match p.source {
                    PendingSource::Policy => p.deadline,
                    PendingSource::Agent => 0,
                },
            })
            .collect()
    }
}

/// The queue's own rules, without an agent, a hook or a socket.
#[cfg(test)]
mod tests {
    use super::*;

    fn call(command: &str) -> ToolCall {
        ToolCall { tool: "Bash".into(), command: Some(command.into()), paths: Vec::new(), id: None, diff: None }
    }

    /// An item of `pane` for `action`, and where its answer arrives.
    fn item(id: u64, pane: PaneId, action: Action) -> (Pending, oneshot::Receiver<(Answer, DecidedBy)>) {
        let (reply, rx) = oneshot::channel();
        let p = Pending {
            id,
            pane,
            session: 1,
            agent: "claude".into(),
            source: match action {
                Action::AgentDialog(_) => PendingSource::Agent,
                _ => PendingSource::Policy,
            },
            action,
            what: "rm -rf d1".into(),
            rule: None,
            reason: "why".into(),
            warning: None,
            since: 0,
            deadline: 60,
            on_approve: Vec::new(),
            allow_key: None,
            workspace: PathBuf::new(),
            reply,
            orphaned: false,
        };
        (p, rx)
    }

    #[test]
    fn ids_go_on_from_the_database_and_never_repeat() {
        let mut q = Queue::default();
        assert_eq!(q.next_id(Some(41)), 41, "after a restart the database's number");
        assert_eq!(q.next_id(None), 42, "a failed database: ours, still after the last");
        assert_eq!(q.next_id(Some(7)), 43, "a database behind us never takes an id back");
    }

    #[test]
    fn a_closing_pane_denies_only_its_own_items() {
        let mut q = Queue::default();
        let (a, mut ra) = item(1, 10, Action::ToolCall(call("rm -rf d1")));
        let (b, mut rb) = item(2, 11, Action::ToolCall(call("ls")));
        q.hold(a);
        q.hold(b);
        assert!(q.waits_on(10) && q.waits_on(11));
        assert!(q.deny_all_of(10, "the pane closed"));
        let (answer, by) = ra.try_recv().unwrap();
        assert_eq!((answer, by), (Some(Decision::deny("the pane closed")), DecidedBy::Teamster));
        assert!(rb.try_recv().is_err(), "another pane's item still waits");
        assert!(!q.waits_on(10) && q.waits_on(11));
        assert!(!q.deny_all_of(10, "again"), "nothing left of it");
        assert_eq!(q.no_such(9), "no pending action 9; waiting: 2");
    }

    #[test]
    fn a_dialog_answered_in_the_pane_answers_no_question_asked_after_it_was_seen() {
        let mut q = Queue::default();
        let (seen, mut r_seen) = item(1, 10, Action::AgentDialog(call("rm -rf d1")));
        let (later, mut r_later) = item(2, 10, Action::AgentDialog(call("rm -rf d2")));
        q.hold(seen);
        q.hold(later);
        // The dialog was last seen open when question 1 was the last asked.
        assert!(q.answered_in_pane(10, |_| true, &Decision::ApproveOnce, 1));
        assert!(r_seen.try_recv().is_ok(), "the question seen is answered");
        assert!(r_later.try_recv().is_err(), "the one asked after waits on");
        assert!(q.waits_on(10));
    }

    #[test]
    fn an_answer_in_the_pane_takes_only_the_agents_own_question_for_that_call() {
        let mut q = Queue::default();
        let (own, mut r_own) = item(1, 10, Action::AgentDialog(call("rm -rf d1")));
        let (policy, _r_policy) = item(2, 10, Action::ToolCall(call("rm -rf d1")));
        q.hold(own);
        q.hold(policy);
        assert!(!q.answered_in_pane(10, |c| c.command.as_deref() == Some("ls"), &Decision::ApproveOnce, u64::MAX));
        assert!(q.answered_in_pane(10, |_| true, &Decision::ApproveOnce, u64::MAX));
        assert_eq!(r_own.try_recv().unwrap().1, DecidedBy::You(Surface::Pane));
        assert!(q.get(2).is_some(), "a rule's ask is not the agent's dialog: it stays");
    }

    #[test]
    fn a_model_call_sent_again_is_the_same_item_and_gets_an_answer_given_meanwhile() {
        let mut q = Queue::default();
        let action = Action::LlmRequest { provider: "anthropic".into(), model: None };
        let (p, rx) = item(5, 10, action.clone());
        q.hold(p);
        // Its agent gives up waiting; it comes back and takes the same item.
        drop(rx);
        q.orphan(5);
        assert!(q.is_orphaned(5));
        let (reply, rx) = oneshot::channel();
        assert_eq!(q.adopt_retry(10, &action, reply).ok(), Some((5, 60)));
        assert!(!q.is_orphaned(5));
        // It gives up again, and a person answers meanwhile: the answer waits for it.
        drop(rx);
        q.orphan(5);
        let now = Instant::now();
        let p = q.take(5).unwrap();
        q.answer(p, (Some(Decision::ApproveOnce), DecidedBy::You(Surface::Sidebar)), now);
        assert_eq!(q.kept_answer(11, &action, now), None, "another pane's retry is not it");
        let kept = q.kept_answer(10, &action, now + Duration::from_secs(5));
        assert_eq!(kept, Some((Some(Decision::ApproveOnce), DecidedBy::You(Surface::Sidebar))));
        assert_eq!(q.kept_answer(10, &action, now), None, "taken once");
        // Past the grace it is forgotten.
        let (p, _rx) = item(6, 10, action.clone());
        q.hold(p);
        q.orphan(6);
        let p = q.take(6).unwrap();
        q.answer(p, (Some(Decision::ApproveOnce), DecidedBy::Timeout), now);
        assert_eq!(q.kept_answer(10, &action, now + RETRY_GRACE), None);
        let (reply, _) = oneshot::channel();
        assert!(q.adopt_retry(10, &action, reply).is_err(), "nothing left behind to take");
    }

    #[test]
    fn an_approval_in_teamster_answers_the_agents_own_dialog_once_and_briefly() {
        let mut q = Queue::default();
        let now = Instant::now();
        q.remember_approved(10, &call("rm -rf d1"), now);
        assert!(!q.take_approved(11, &call("rm -rf d1"), now), "another pane");
        assert!(!q.take_approved(10, &call("rm -rf d2"), now), "another call");
        assert!(q.take_approved(10, &call("rm -rf d1"), now));
        assert!(!q.take_approved(10, &call("rm -rf d1"), now), "once");
        q.remember_approved(10, &call("rm -rf d1"), now);
        assert!(!q.take_approved(10, &call("rm -rf d1"), now + APPROVAL_MEMORY), "briefly");
        q.remember_approved(10, &call("rm -rf d1"), now);
        q.remember_approved(10, &call("rm -rf d2"), now);
        q.forget_approved(10, Some(&call("rm -rf d1")));
        assert!(!q.take_approved(10, &call("rm -rf d1"), now), "not once the call is over");
        q.forget_approved(10, None);
        assert!(!q.take_approved(10, &call("rm -rf d2"), now), "not once the turn is over");
        // An edit named one way by the hook and another by the dialog is one edit.
        let edit = |tool: &str| ToolCall { paths: vec!["/w/a.rs".into()], ..ToolCall::named(tool) };
        q.remember_approved(10, &edit("replace"), now);
        assert!(q.take_approved(10, &edit("edit"), now));
        // A look at a file answers no question about changing it.
        q.remember_approved(10, &edit("Read"), now);
        assert!(!q.take_approved(10, &edit("Write"), now));
        assert!(q.take_approved(10, &edit("read_file"), now));
    }
}
