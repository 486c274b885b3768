//! `teamster race "TASK" --agents claude,codex,gemini`: the same task to several agents at
//! once, each in a worktree of its own on its own branch from one base, side by side in a
//! new tab; then compare their results and keep the best.

use super::drive::{self, WaitFor};
use super::{context, load_config};
use crate::client::{existing, request};
use crate::layout::{Arrangement, Direction, PaneId};
use crate::paths;
use crate::protocol::{ClientMsg, NewPane, Reply, Spawn};
use crate::text::visible;
use anyhow::{Context as _, bail};
use std::path::Path;

/// One agent of a race, once its pane is open.
struct Runner {
    agent: String,
    pane: PaneId,
}

/// `teamster race`.
pub fn race(
    config_path: &Path,
    task: String,
    agents: Vec<String>,
    base: Option<String>,
    target: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    let config = load_config(config_path)?;
    let agents: Vec<String> =
        agents.iter().flat_map(|a| a.split(',')).map(str::trim).filter(|a| !a.is_empty()).map(String::from).collect();
    if agents.len() < 2 {
        bail!("a race needs two agents or more: --agents claude,codex");
    }
    if task.trim().is_empty() {
        bail!("say what the agents are to do: teamster race \"TASK\" --agents claude,codex");
    }
    // Every agent is known before anything opens.
    for agent in &agents {
        crate::agents::resolve(&config, agent).map_err(anyhow::Error::msg)?;
    }
    let started = std::time::Instant::now();
    let rt = super::runtime()?;
    let runners: Vec<Runner> = rt.block_on(async {
        let Some(mut conn) = existing(&paths::socket_path()).await? else {
            bail!("no session is running; start one with `teamster`");
        };
        let mut runners: Vec<Runner> = Vec::new();
        for agent in &agents {
            // The first in a new tab; each next one to the right of the last, in the
            // order given.
            let last = runners.last().map(|r| r.pane);
            let pane = NewPane {
                session: target.clone(),
                near: last.or_else(|| std::env::var("TEAMSTER_PANE").ok().and_then(|p| p.parse().ok())),
                spawn: Spawn::Agent { name: agent.clone() },
                tab: last.is_none(),
                dir: last.map(|_| Direction::Right),
                context: context(),
                worktree: Some(String::new()),
                base: base.clone(),
                name: None,
            };
            let reply = request(&mut conn, |id| ClientMsg::NewPane { id, pane })
                .await
                .with_context(|| format!("{agent}'s pane did not open"))?;
            match reply {
                Reply::Pane { pane, .. } => runners.push(Runner { agent: agent.clone(), pane }),
                _ => bail!("unexpected reply"),
            }
        }
        // Side by side, as wide as each other.
        let near = runners.first().map(|r| r.pane);
        let layout =
            |id| ClientMsg::Layout { id, session: target.clone(), near, arrangement: Arrangement::EvenHorizontal };
        request(&mut conn, layout).await?;
        Ok(runners)
    })?;
    // Each agent gets the task once it is ready for it, all at once.
    let sent: Vec<Result<(), String>> = std::thread::scope(|s| {
        let handles: Vec<_> = runners
            .iter()
            .map(|r| {
                let task = task.clone();
                s.spawn(move || {
                    let target = r.pane.to_string();
                    if drive::wait_any(&target, &[WaitFor::Idle, WaitFor::Waiting], Some(120.0)) != 0 {
                        return Err("it did not get ready for the task".to_string());
                    }
                    match drive::deliver(&target, task, Vec::new(), true) {
                        Ok(Ok(_)) => Ok(()),
                        Ok(Err((_, why))) => Err(why),
                        Err(e) => Err(e.to_string()),
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("sending failed".into()))).collect()
    });
    // Where each one is, as `teamster ls` shows it.
    let sessions = match super::ask_runner(|id| ClientMsg::List { id })? {
        Some(Reply::Sessions { sessions }) => sessions,
        _ => Vec::new(),
    };
    let rows: Vec<serde_json::Value> = runners
        .iter()
        .zip(&sent)
        .map(|(r, sent)| {
            let info = sessions.iter().find_map(|s| s.pane(r.pane));
            serde_json::json!({
                "agent": r.agent,
                "pane": r.pane,
                "place": crate::places::place_of(&sessions, r.pane),
                "branch": info.and_then(|i| i.branch.clone()),
                "sent": sent.is_ok(),
                "why": sent.as_ref().err(),
            })
        })
        .collect();
    if json {
        let out = serde_json::json!({ "task": task, "panes": rows, "seconds": started.elapsed().as_secs_f64() });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("racing {} agents on: {}", runners.len(), visible(&task));
        for row in &rows {
            let text = |k: &str| row[k].as_str().map(|s| visible(s).into_owned()).unwrap_or_default();
            let state = match row["why"].as_str() {
                None => "task sent".to_string(),
                Some(why) => format!("task NOT sent: {}", visible(why)),
            };
            println!("  {:<10} {:<14} on {:<28} {state}", text("agent"), text("place"), text("branch"));
        }
    }
    if sent.iter().any(Result::is_err) {
        bail!("the task did not reach every agent (above)");
    }
    Ok(())
}

/// `teamster compare`: a tab's worktree panes (a race's agents) side by side.
pub fn compare(target: Option<String>, by: crate::protocol::CompareBy, json: bool) -> anyhow::Result<()> {
    let near = std::env::var("TEAMSTER_PANE").ok().and_then(|p| p.parse().ok());
    let mut rows = match super::ask_runner(|id| ClientMsg::Compare { id, session: target, near })? {
        Some(Reply::Compare { rows }) => rows,
        Some(_) => bail!("unexpected reply"),
        None => bail!("no session is running; start one with `teamster`"),
    };
    by.sort(&mut rows);
    if json {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "panes": rows }))?);
        return Ok(());
    }
    println!(
        "{:<14} {:<10} {:<20} {:>6} {:>8} {:>7} {:>6} {:>7} {:>7}  branch",
        "pane", "agent", "state", "time", "spend", "tokens", "files", "added", "removed"
    );
    for r in &rows {
        let changes = match &r.error {
            Some(e) => format!("{:>6} {:>7} {:>7}  ({})", "?", "?", "?", visible(e)),
            None => format!("{:>6} {:>7} {:>7}", r.files, format!("+{}", r.added), format!("-{}", r.removed)),
        };
        println!(
            "{:<14} {:<10} {:<20} {:>6} {:>8} {:>7} {changes}  {}",
            visible(&r.place),
            visible(&r.agent),
            visible(&r.state),
            crate::text::duration(r.seconds),
            crate::text::dollars(r.spend),
            crate::text::tokens(r.tokens),
            visible(&r.branch)
        );
    }
    Ok(())
}

/// `teamster merge PANE`: its branch onto its base, signed as you (your git identity).
pub fn merge(target: String, how: crate::protocol::MergeHow, close_others: bool) -> anyhow::Result<()> {
    let ask = |key: &str| {
        std::process::Command::new("git")
            .args(["config", "--global", "--get", key])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let who = ask("user.name").zip(ask("user.email"));
    match super::ask_runner(|id| ClientMsg::Merge { id, target, how, who, close_others })? {
        Some(Reply::Text { text }) => println!("{}", crate::text::visible_lines(&text)),
        Some(_) => bail!("unexpected reply"),
        None => bail!("no session is running; start one with `teamster`"),
    }
    Ok(())
}

/// `teamster diff PANE`: its branch against its base. The text is the agent's: shown with
/// its control characters made visible, coloured here (when `colour`).
pub fn diff(target: String, colour: bool) -> anyhow::Result<()> {
    let text = match super::ask_runner(|id| ClientMsg::Diff { id, target })? {
        Some(Reply::Text { text }) => text,
        Some(_) => bail!("unexpected reply"),
        None => bail!("no session is running; start one with `teamster`"),
    };
    if text.trim().is_empty() {
        println!("no changes against its base");
        return Ok(());
    }
    for line in text.lines() {
        let shown = visible(line);
        use crate::text::DiffLine;
        let paint = match crate::text::diff_line(line) {
            _ if !colour => None,
            DiffLine::Added => Some("32"),
            DiffLine::Removed => Some("31"),
            DiffLine::Hunk => Some("36"),
            DiffLine::File => Some("1"),
            DiffLine::Other => None,
        };
        match paint {
            Some(sgr) => println!("\x1b[{sgr}m{shown}\x1b[0m"),
            None => println!("{shown}"),
        }
    }
    Ok(())
}

/// `teamster review PANE --comment TEXT...`: the comments go to that pane's agent as one
/// prompt, once it can take one.
pub fn review(target: String, comments: Vec<String>) -> anyhow::Result<()> {
    let comments: Vec<String> = comments.into_iter().map(|c| c.trim().to_string()).filter(|c| !c.is_empty()).collect();
    if comments.is_empty() {
        bail!("no comments: teamster review PANE --comment \"src/main.rs:12: handle the error\"");
    }
    let prompt = crate::text::review_prompt(&comments);
    if drive::wait_any(&target, &[WaitFor::Idle, WaitFor::Waiting], Some(300.0)) != 0 {
        bail!("pane {target} did not get ready for the review; nothing was sent");
    }
    match drive::deliver(&target, prompt, Vec::new(), true)? {
        Ok(_) => {
            println!("sent {} comment{} to pane {target}", comments.len(), if comments.len() == 1 { "" } else { "s" })
        }
        Err((_, why)) => bail!("the review did not reach pane {target}: {why}"),
    }
    Ok(())
}
