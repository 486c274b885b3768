//! Driving agents from scripts and from each other: `capture`, `send`, `wait` and `pipe`.
//! Each names a pane as every command does (`places::find_pane`) and talks to the runner
//! over its control socket; an agent's own processes may only read (`capture`).

use super::{ask_runner, runtime};
use crate::client::{Conn, existing, request};
use crate::layout::PaneId;
use crate::paths;
use crate::protocol::{ClientMsg, Delivery, NotSent, PaneInfo, Reply, SessionView};
use crate::text::{visible, visible_lines};
use anyhow::bail;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How often a one-shot client asks the runner again: it has no subscription.
const POLL: Duration = Duration::from_millis(100);

/// `teamster capture`: the pane's lines, or (`last_reply`) its agent's last answer.
pub fn capture(target: &str, lines: Option<u32>, ansi: bool, json: bool, last_reply: bool) -> anyhow::Result<()> {
    if last_reply {
        let (session, pane, text) = last_answer(target)?;
        if json {
            let out = serde_json::json!({ "session": session, "pane": pane, "reply": text });
            println!("{}", serde_json::to_string_pretty(&out)?);
        } else {
            // The model's words: its control characters shown, never obeyed.
            println!("{}", visible_lines(&text));
        }
        return Ok(());
    }
    let make = |id| ClientMsg::Capture { id, target: target.to_string(), lines };
    let (session, pane, rows) = match ask_runner(make)? {
        Some(Reply::Captured { session, pane, rows }) => (session, pane, rows),
        Some(_) => bail!("unexpected reply"),
        None => bail!("no session is running; start one with `teamster`"),
    };
    if json {
        let lines: Vec<String> = rows.iter().map(|r| r.text()).collect();
        let rows: Vec<serde_json::Value> = rows.iter().map(|r| r.to_json()).collect();
        let out = serde_json::json!({ "session": session, "pane": pane, "lines": lines, "rows": rows });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        // Cells hold no control characters: what the screen shows, and teamster's own SGR.
        for row in rows {
            println!("{}", if ansi { row.ansi() } else { row.text() });
        }
    }
    Ok(())
}

/// A pane's agent's last answer: (session, pane, text).
fn last_answer(target: &str) -> anyhow::Result<(String, PaneId, String)> {
    match ask_runner(|id| ClientMsg::LastAnswer { id, target: target.to_string() })? {
        Some(Reply::Answer { session, pane, text }) => Ok((session, pane, text)),
        Some(_) => bail!("unexpected reply"),
        None => bail!("no session is running; start one with `teamster`"),
    }
}

/// Where `send` sends: one pane, or every agent of a session or a tab.
pub enum SendTo {
    Pane(String),
    /// `--all` (`tab_only` false) or `--tab`, in `session` or the caller's.
    Agents {
        session: Option<String>,
        tab_only: bool,
    },
}

/// What `send` types.
pub struct Prompt {
    pub text: Option<String>,
    pub file: Option<PathBuf>,
    /// `--from PANE[:last-reply]`: that agent's last answer, after the text if any.
    pub from: Option<String>,
    pub keys: Vec<String>,
    pub enter: bool,
}

/// `teamster send`: 0 once the agent took the prompt (every agent, for `--all`), 3 when
/// nothing was typed for one because it asks for a decision or is not ready, 1 on any
/// other failure.
pub fn send(to: SendTo, prompt: Prompt, json: bool) -> i32 {
    let fail = |e: String| {
        eprintln!("teamster: {}", visible(&e));
        1
    };
    let enter = prompt.enter;
    let (text, keys) = match read_prompt(prompt) {
        Ok(p) => p,
        Err(e) => return fail(e.to_string()),
    };
    let results = match to {
        SendTo::Pane(target) => match deliver(&target, text, keys, enter) {
            Ok(Ok(message)) => vec![(None, true, None, message)],
            Ok(Err((why, message))) => vec![(None, false, Some(why), message)],
            Err(e) => return fail(e.to_string()),
        },
        SendTo::Agents { session, tab_only } => {
            let near = std::env::var("TEAMSTER_PANE").ok().and_then(|p| p.parse().ok());
            let make = |id| ClientMsg::SendMany { id, session, near, tab_only, text, keys, enter };
            match ask_runner(make) {
                Ok(Some(Reply::SentMany { results })) => {
                    results.into_iter().map(|d: Delivery| (Some((d.pane, d.place)), d.sent, d.why, d.message)).collect()
                }
                Ok(Some(_)) => return fail("unexpected reply".into()),
                Ok(None) => return fail("no session is running; start one with `teamster`".into()),
                Err(e) => return fail(e.to_string()),
            }
        }
    };
    let all_sent = results.iter().all(|(_, sent, _, _)| *sent);
    if json {
        let json_of = |(pane, sent, why, message): &(Option<(PaneId, String)>, bool, Option<NotSent>, String)| {
            let mut v = serde_json::json!({ "sent": sent, "why": why, "message": message });
            if let Some((id, place)) = pane {
                v["pane"] = (*id).into();
                v["place"] = place.clone().into();
            }
            v
        };
        let out = match results.as_slice() {
            [one @ (None, ..)] => json_of(one),
            many => serde_json::json!({ "results": many.iter().map(json_of).collect::<Vec<_>>() }),
        };
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        for (pane, sent, _, message) in &results {
            let head = pane.as_ref().map(|(id, place)| format!("pane {place} (id {id}): ")).unwrap_or_default();
            if *sent {
                println!("{head}{}", visible(message));
            } else {
                eprintln!("teamster: {head}{}", visible(message));
            }
        }
    }
    if all_sent { 0 } else { 3 }
}

/// The prompt's text (the argument, a file, stdin, and another agent's answer) and keys.
fn read_prompt(prompt: Prompt) -> anyhow::Result<(String, Vec<crate::input::Key>)> {
    let answer = match &prompt.from {
        Some(from) => Some(last_answer(answer_source(from))?.2),
        None => None,
    };
    let stdin_text = || -> anyhow::Result<String> {
        let mut t = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut t)
            .map_err(|e| anyhow::anyhow!("cannot read the prompt from stdin: {e}"))?;
        Ok(t)
    };
    let text = match (prompt.text, prompt.file) {
        (_, Some(path)) => {
            std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?
        }
        (Some(t), None) if t != "-" => t,
        (Some(_), None) => stdin_text()?,
        // With --from or --keys, no text is fine; else the prompt comes on stdin.
        (None, None) if answer.is_some() || !prompt.keys.is_empty() => String::new(),
        (None, None) if std::io::stdin().is_terminal() => {
            bail!("give the prompt as an argument, with --file, --from, or on stdin")
        }
        (None, None) => stdin_text()?,
    };
    // A prompt read from a file or stdin ends with its newline, not with an Enter of its own.
    let text = text.strip_suffix('\n').unwrap_or(&text).to_string();
    let text = match answer {
        Some(answer) if text.is_empty() => answer,
        Some(answer) => format!("{text}\n\n{answer}"),
        None => text,
    };
    // Named as the key map names keys, tmux's names too (`C-c`, `M-x`, `BSpace`, `PPage`).
    let keys = prompt
        .keys
        .iter()
        .map(|k| k.parse())
        .collect::<Result<Vec<crate::input::Key>, _>>()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((text, keys))
}

/// The pane of `--from PANE[:last-reply]`.
fn answer_source(from: &str) -> &str {
    from.strip_suffix(":last-reply").unwrap_or(from)
}

/// Has the runner type `text`, `keys` and Enter for a pane's agent: what it said, or why it
/// typed nothing.
pub(super) fn deliver(
    target: &str,
    text: String,
    keys: Vec<crate::input::Key>,
    enter: bool,
) -> anyhow::Result<Result<String, (NotSent, String)>> {
    let make = |id| ClientMsg::Send { id, target: target.to_string(), text, keys, enter };
    match ask_runner(make)? {
        Some(Reply::Text { text }) => Ok(Ok(text)),
        Some(Reply::NotSent { why, message }) => Ok(Err((why, message))),
        Some(_) => bail!("unexpected reply"),
        None => bail!("no session is running; start one with `teamster`"),
    }
}

/// A state `teamster wait` waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum WaitFor {
    Idle,
    Waiting,
    NeedsApproval,
    Working,
    Exited,
}

impl WaitFor {
    fn reached(self, pane: &PaneInfo) -> bool {
        use crate::agents::AgentState;
        if let crate::protocol::PaneState::Exited { .. } = pane.state {
            return self == WaitFor::Exited;
        }
        let Some(agent) = &pane.agent else { return false };
        matches!(
            (self, agent.state),
            (WaitFor::Idle, AgentState::Idle)
                | (WaitFor::Waiting, AgentState::WaitingForInput)
                | (WaitFor::NeedsApproval, AgentState::NeedsApproval)
                | (WaitFor::Working, AgentState::Working)
        )
    }
}

/// `teamster wait`: 0 once the pane's agent is in `state`; 1 on the timeout; 2 when it
/// cannot be (no runner, no such pane, the pane gone). `json`: says so on stdout too,
/// `{ "pane", "status", "reached", "message" }`.
pub fn wait(target: &str, state: WaitFor, timeout: Option<f64>, json: bool) -> i32 {
    let waited = wait_for(target, &[state], timeout);
    if let Some(message) = &waited.message {
        eprintln!("teamster: {}", visible(message));
    }
    if json {
        let out = serde_json::json!({
            "pane": waited.pane, "status": waited.status, "reached": waited.code == 0, "message": waited.message,
        });
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    }
    waited.code
}

/// The same, for any of `states`, saying why not on stderr.
pub(super) fn wait_any(target: &str, states: &[WaitFor], timeout: Option<f64>) -> i32 {
    let waited = wait_for(target, states, timeout);
    if let Some(message) = &waited.message {
        eprintln!("teamster: {}", visible(message));
    }
    waited.code
}

/// How a wait ended: its exit status, the pane and what it was doing last, and why not.
struct Waited {
    code: i32,
    pane: Option<PaneId>,
    status: Option<String>,
    message: Option<String>,
}

fn wait_for(target: &str, states: &[WaitFor], timeout: Option<f64>) -> Waited {
    match runtime() {
        Ok(rt) => rt.block_on(wait_on(target, states, timeout)),
        Err(e) => Waited { code: 2, pane: None, status: None, message: Some(e.to_string()) },
    }
}

/// One pane followed over one connection: found once by its name or place, then by its
/// id, which does not change.
struct Watch {
    conn: Conn,
    target: String,
    id: Option<PaneId>,
}

/// What a watch sees of its pane.
enum Seen {
    Pane(Box<PaneInfo>),
    /// The pane, or the runner with its last session, is gone (after it was found).
    Gone,
}

impl Watch {
    async fn open(target: &str) -> Result<Watch, String> {
        match existing(&paths::socket_path()).await {
            Ok(Some(conn)) => Ok(Watch { conn, target: target.to_string(), id: None }),
            Ok(None) => Err("no session is running".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn look(&mut self) -> Result<Seen, String> {
        let sessions: Vec<SessionView> = match request(&mut self.conn, |id| ClientMsg::List { id }).await {
            Ok(Reply::Sessions { sessions }) => sessions,
            // The runner ended (or is ending) with its last session: the pane is gone too.
            Err(_) if self.id.is_some() => return Ok(Seen::Gone),
            Ok(_) => return Err("unexpected reply".into()),
            Err(e) => return Err(e.to_string()),
        };
        let id = match self.id {
            Some(id) => id,
            None => crate::places::find_pane(&sessions, &self.target)?.1,
        };
        self.id = Some(id);
        Ok(match sessions.iter().find_map(|s| s.pane(id)) {
            Some(p) => Seen::Pane(Box::new(p.clone())),
            None => Seen::Gone,
        })
    }
}

/// `wait_for` on one connection to the runner, asked again every `POLL`.
async fn wait_on(target: &str, states: &[WaitFor], timeout: Option<f64>) -> Waited {
    let exited = states.contains(&WaitFor::Exited);
    let deadline = timeout.map(|s| Instant::now() + Duration::from_secs_f64(s.max(0.0)));
    let end = |code: i32, pane: Option<&PaneInfo>, message: Option<String>| Waited {
        code,
        pane: pane.map(|p| p.id),
        status: pane.map(|p| p.status()),
        message,
    };
    let mut watch = match Watch::open(target).await {
        Ok(w) => w,
        Err(e) => return end(2, None, Some(e)),
    };
    loop {
        let pane = match watch.look().await {
            Ok(Seen::Pane(p)) => p,
            Ok(Seen::Gone) if exited => return Waited { status: Some("gone".into()), ..end(0, None, None) },
            Ok(Seen::Gone) => return end(2, None, Some(format!("the pane {} is gone", visible(target)))),
            Err(e) => return end(2, None, Some(e)),
        };
        if !exited && pane.agent.is_none() && pane.state == crate::protocol::PaneState::Running {
            let why = format!("pane {} runs no agent; only `--for exited` can be waited for", pane.id);
            return end(2, Some(&pane), Some(why));
        }
        if states.iter().any(|s| s.reached(&pane)) {
            return end(0, Some(&pane), None);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let why = format!("pane {} is still {} after the timeout", pane.id, pane.status());
            return end(1, Some(&pane), Some(why));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// `teamster pipe A B`: each answer A's agent ends a turn with from now on goes to B's
/// agent as a prompt (after `prefix`, if given), once B is ready for one; `count` answers,
/// or until either pane goes. 0 when done, 1 when it cannot go on.
pub fn pipe(from: &str, to: &str, prefix: Option<String>, count: Option<u64>) -> i32 {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("teamster: {e}");
            return 1;
        }
    };
    match rt.block_on(pipe_on(from, to, prefix, count)) {
        Ok(message) => {
            println!("{}", visible(&message));
            0
        }
        Err(e) => {
            eprintln!("teamster: {}", visible(&e));
            1
        }
    }
}

async fn pipe_on(from: &str, to: &str, prefix: Option<String>, count: Option<u64>) -> Result<String, String> {
    let (mut a, mut b) = (Watch::open(from).await?, Watch::open(to).await?);
    let agent_of = |seen: Seen, name: &str| match seen {
        Seen::Pane(p) if p.agent.is_some() => Ok(p),
        Seen::Pane(p) => Err(format!("pane {} runs no agent: it has no answers to pipe", p.id)),
        Seen::Gone => Err(format!("the pane {} is gone", visible(name))),
    };
    let first = agent_of(a.look().await?, from)?;
    let b_id = agent_of(b.look().await?, to)?.id;
    let mut seen = first.agent.as_ref().map_or(0, |g| g.answers);
    let mut forwarded = 0u64;
    eprintln!("piping each answer of pane {} to pane {b_id} (Ctrl-C stops)", first.id);
    while count.is_none_or(|n| forwarded < n) {
        // A's next answer, once its turn has ended.
        let pane = match a.look().await? {
            Seen::Gone => return Ok(format!("pane {} is gone; piped {forwarded} answers", first.id)),
            Seen::Pane(p) => p,
        };
        let answers = pane.agent.as_ref().map_or(0, |g| g.answers);
        let done = [WaitFor::Idle, WaitFor::Waiting].iter().any(|s| s.reached(&pane));
        if let Seen::Pane(p) = b.look().await?
            && p.state != crate::protocol::PaneState::Running
        {
            return Ok(format!("pane {b_id} has exited; piped {forwarded} answers"));
        }
        if answers <= seen || !done {
            tokio::time::sleep(POLL).await;
            continue;
        }
        seen = answers;
        let target = first.id.to_string();
        let text = match request(&mut a.conn, |id| ClientMsg::LastAnswer { id, target }).await {
            Ok(Reply::Answer { text, .. }) => text,
            Ok(_) => return Err("unexpected reply".into()),
            Err(e) => return Err(e.to_string()),
        };
        let text = match &prefix {
            Some(p) => format!("{p}\n\n{text}"),
            None => text,
        };
        // B takes it when it is ready: a dialog or a turn of its own is waited out.
        loop {
            let (target, text) = (b_id.to_string(), text.clone());
            let make = |id| ClientMsg::Send { id, target, text, keys: Vec::new(), enter: true };
            match request(&mut b.conn, make).await {
                Ok(Reply::Text { .. }) => break,
                Ok(Reply::NotSent { why: NotSent::Exited, .. }) => {
                    return Ok(format!("pane {b_id} has exited; piped {forwarded} answers"));
                }
                Ok(Reply::NotSent { .. }) => tokio::time::sleep(POLL * 5).await,
                Ok(_) => return Err("unexpected reply".into()),
                Err(e) => return Err(e.to_string()),
            }
        }
        forwarded += 1;
        eprintln!("answer {forwarded} of pane {} ({} characters) sent to pane {b_id}", first.id, text.chars().count());
    }
    Ok(format!("piped {forwarded} answers from pane {} to pane {b_id}", first.id))
}
