//! Any program: no hooks, so its state comes from the screen (working while it prints,
//! idle once quiet), and so does a yes/no question it asks ("Proceed? [y/N]"), which is an
//! item in teamster's queue answered by typing y or n.

use super::{Agent, Launch, LaunchContext};
use crate::approval::Decision;

/// How programs mark a yes/no question at the end of their last line.
const ASKS: [&str; 6] = ["[y/n]", "(y/n)", "[yes/no]", "(yes/no)", "[y/n/q]", "(y/n/q)"];

/// The yes/no question a quiet program asks on its last line, if it asks one.
pub fn question(lines: &[String]) -> Option<String> {
    let last = lines.iter().rev().find(|l| !l.trim().is_empty())?.trim();
    let lower = last.to_ascii_lowercase();
    ASKS.iter().any(|a| lower.contains(a)).then(|| last.to_string())
}

/// Whether the question the screen last shows was answered no (in the pane: the answer
/// stands after it on its line).
pub fn refused(lines: &[String]) -> bool {
    lines.iter().rev().find_map(|l| {
        let lower = l.to_ascii_lowercase();
        let at = ASKS.iter().filter_map(|a| lower.find(a).map(|i| i + a.len())).max()?;
        Some(lower[at..].trim_start().starts_with('n'))
    }) == Some(true)
}

/// The answer to the question on screen, as typed: `y`/`n` (or `yes`/`no` where it asks
/// for words) and Enter.
pub fn dialog_keys(lines: &[String], decision: &Decision) -> Option<Vec<u8>> {
    let words = question(lines)?.to_ascii_lowercase().contains("yes/no");
    let answer = match (decision.approves(), words) {
        (true, false) => "y\r",
        (false, false) => "n\r",
        (true, true) => "yes\r",
        (false, true) => "no\r",
    };
    Some(answer.as_bytes().to_vec())
}

pub fn launch(agent: &Agent, _ctx: &LaunchContext) -> Result<Launch, String> {
    Ok(Launch { argv: vec![agent.binary.clone()], ..Launch::default() })
}

/// Any program: its yes/no questions are answered by keys.
pub struct Command;

impl super::adapter::AgentAdapter for Command {
    fn launch(&self, agent: &Agent, ctx: &LaunchContext) -> Result<Launch, String> {
        launch(agent, ctx)
    }
    fn answers_by_keys(&self) -> bool {
        true
    }
    fn dialog_keys(&self, lines: &[String], decision: &Decision) -> Option<Vec<u8>> {
        dialog_keys(lines, decision)
    }
    fn dialog_refused(&self, lines: &[String]) -> bool {
        refused(lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_yes_no_question_on_the_last_line_is_read_and_answered() {
        let screen = |lines: &[&str]| lines.iter().map(|l| l.to_string()).collect::<Vec<String>>();
        let asks = screen(&["removing 3 files", "Proceed? [y/N] ", "", ""]);
        assert_eq!(question(&asks).as_deref(), Some("Proceed? [y/N]"));
        assert_eq!(dialog_keys(&asks, &Decision::ApproveOnce), Some(b"y\r".to_vec()));
        assert_eq!(dialog_keys(&asks, &Decision::deny("no")), Some(b"n\r".to_vec()));
        let words = screen(&["Are you sure you want to continue connecting (yes/no)?"]);
        assert_eq!(dialog_keys(&words, &Decision::ApproveOnce), Some(b"yes\r".to_vec()));
        // A question further up, or none, is not one now.
        assert_eq!(question(&screen(&["Proceed? [y/N] y", "done", "$ "])), None);
        assert_eq!(dialog_keys(&screen(&["$ "]), &Decision::ApproveOnce), None);
        // Answered in the pane: no, or yes.
        assert!(refused(&screen(&["Proceed? [y/N] n", "stopped", "$ "])));
        assert!(!refused(&screen(&["Proceed? [y/N] y", "done"])));
    }
}
