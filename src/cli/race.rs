//! `teamster race "TASK" --agents claude,codex,gemini`: the same task to several agents at
//! once, each in a worktree of its own on its own branch from one base, side by side in a
//! new tab; then compare their results and keep the best.

use super::drive::{self, WaitFor};
use super::{context, load_config};
use crate::protocol::{ClientMsg, Race, Reply};
use crate::text::visible;
use anyhow::bail;
use std::path::Path;

/// `teamster race`: the runner opens the panes and hands out the task; this says how it
/// went.
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
    crate::runner::race::check(&task, &agents, &config).map_err(anyhow::Error::msg)?;
    let near = std::env::var("TEAMSTER_PANE").ok().and_then(|p| p.parse().ok());
    let race = Race { task: task.clone(), agents, base, session: target, near, context: context() };
    if !json {
        println!("racing {} agents on: {}", race.agents.len(), visible(&task));
        println!("  (each is sent the task once it has started; this can take a minute)");
    }
    let (racers, seconds) = match super::ask_runner(|id| ClientMsg::Race { id, race })? {
        Some(Reply::Raced { racers, seconds }) => (racers, seconds),
        Some(_) => bail!("unexpected reply"),
        None => bail!("no session is running; start one with `teamster`"),
    };
    if json {
        let out = serde_json::json!({ "task": task, "panes": racers, "seconds": seconds });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        for r in &racers {
            let state = match &r.why {
                None => "task sent".to_string(),
                Some(why) => format!("task NOT sent: {}", visible(why)),
            };
            println!("  {:<10} {:<14} on {:<28} {state}", visible(&r.agent), visible(&r.place), visible(&r.branch));
        }
    }
    if racers.iter().any(|r| !r.sent) {
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
    println!("{}", crate::protocol::CompareRow::HEADER);
    for r in &rows {
        println!("{}", r.line());
        if let Some(e) = &r.error {
            println!("  ({})", visible(e));
        }
        if let Some(crate::protocol::Check::Failed { last, .. } | crate::protocol::Check::NotRun { why: last }) =
            &r.check
        {
            println!("  check: {}", visible(last));
        }
    }
    Ok(())
}

/// `teamster merge PANE`: its branch onto its base, signed as you (your git identity).
pub fn merge(target: String, how: crate::protocol::MergeHow, close_others: bool) -> anyhow::Result<()> {
    let who = crate::runner::worktree::your_identity();
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
