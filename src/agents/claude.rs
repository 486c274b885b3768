//! Claude Code: hooks come in by `--settings FILE` (merged over the user's own settings,
//! which stay untouched); resume is `--resume <session id>`.
//!
//! Codex's hooks send the same payloads, so `parse` serves both.

use super::{Agent, AgentState, HookEvent, Launch, LaunchContext, ToolCall, field};
use crate::approval::Decision;
use crate::meter::upstream::RouteOrigin;
use serde_json::{Value, json};

/// Hook events teamster listens to, in the order a turn fires them.
const EVENTS: [&str; 8] = [
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PermissionRequest",
    "PostToolUse",
    "PostToolUseFailure",
    "Notification",
    "Stop",
];

/// Seconds Claude waits for a hook. A held tool call may wait for a person that long; past
/// it Claude falls back to its own permission dialog (it does not run the call).
pub const HOOK_TIMEOUT: u64 = 86_400;

pub fn launch(agent: &Agent, ctx: &LaunchContext) -> Result<Launch, String> {
    let settings = ctx.dir.join("claude-settings.json");
    let mut argv = vec![agent.binary.clone(), "--settings".into(), settings.to_string_lossy().into_owned()];
    if let Some(id) = ctx.resume {
        argv.extend(["--resume".into(), id.into()]);
    }
    if let Some(m) = &agent.model {
        argv.extend(["--model".into(), m.clone()]);
    }
    let mut json = hooks_json(ctx, super::AgentKind::Claude, &EVENTS);
    let mut routes = Vec::new();
    // The base URL goes in the settings' env block: it outranks the user's settings files
    // and environment, where a plain variable would not.
    if let Some(url) = ctx.route_url("anthropic") {
        let upstream =
            users_base_url(agent, ctx).unwrap_or_else(|| ("https://api.anthropic.com".into(), RouteOrigin::Agent));
        routes.push(super::Route::from_setting("anthropic", "anthropic", upstream));
        json["env"] = json!({ "ANTHROPIC_BASE_URL": url });
    }
    let text = serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?;
    let files = vec![(settings, text)];
    let mut env = Vec::new();
    let mut seeds = Vec::new();
    if ctx.sandboxed && super::setting(agent, ctx, "CLAUDE_CONFIG_DIR").is_none() {
        // Claude rewrites ~/.claude.json through temp files beside it, and the home
        // directory is not writable in the sandbox: there, the file lives in ~/.claude
        // (CLAUDE_CONFIG_DIR), starting from a copy of yours.
        let config_dir = ctx.home.join(".claude");
        if let Ok(yours) = std::fs::read_to_string(ctx.home.join(".claude.json")) {
            // Claude's to change from then on (its start count, tips, trusted projects).
            seeds.push(super::Seed { path: config_dir.join(".claude.json"), text: yours, anew: false });
        }
        env.push(("CLAUDE_CONFIG_DIR".to_string(), config_dir.to_string_lossy().into_owned()));
    }
    Ok(Launch { argv, env, files, seeds, routes, ..Default::default() })
}

/// Where Claude Code would send its calls without teamster: the first `ANTHROPIC_BASE_URL`
/// in the env blocks of its settings (the project's local, the project's, the user's),
/// else the environment's; and who named it. The settings files are in the workspace and
/// the agent's own state, both of which the agent writes: what they name is the agent's.
fn users_base_url(agent: &Agent, ctx: &LaunchContext) -> Option<(String, RouteOrigin)> {
    let config_dir = super::setting(agent, ctx, "CLAUDE_CONFIG_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| ctx.home.join(".claude"));
    let files = [
        ctx.cwd.join(".claude/settings.local.json"),
        ctx.cwd.join(".claude/settings.json"),
        config_dir.join("settings.json"),
    ];
    files
        .iter()
        .filter_map(|f| super::read_jsonc(f).ok())
        .find_map(|v| {
            v.pointer("/env/ANTHROPIC_BASE_URL").and_then(Value::as_str).map(|u| (u.to_string(), RouteOrigin::Agent))
        })
        .or_else(|| super::upstream_setting(agent, ctx, "ANTHROPIC_BASE_URL"))
}

/// `{"hooks": {...}}` in the shape Claude Code and Codex read: every event runs
/// `teamster hook KIND EVENT`.
pub fn hooks_json(ctx: &LaunchContext, kind: super::AgentKind, events: &[&str]) -> Value {
    super::hooks_block(
        events,
        "*",
        |event| json!({ "type": "command", "command": ctx.hook(kind, event), "timeout": HOOK_TIMEOUT }),
    )
}

pub fn parse(event: &str, payload: &Value) -> Vec<HookEvent> {
    let mut out = super::conversation_in(payload, &["session_id"], event, "SessionStart");
    match event {
        "SessionStart" => out.push(HookEvent::Ready),
        "UserPromptSubmit" => out.push(HookEvent::PromptSubmitted),
        "PreToolUse" => out.push(HookEvent::ToolCall(tool_call(payload))),
        "PermissionRequest" => out.push(HookEvent::PermissionDialog(tool_call(payload))),
        "PostToolUse" | "PostToolUseFailure" => out.push(HookEvent::ToolFinished(Some(tool_call(payload)))),
        "Stop" => out.push(HookEvent::TurnFinished),
        "Notification" => {
            let message = field(payload, &["message"]).unwrap_or("waiting").to_string();
            match field(payload, &["notification_type"]) {
                // The dialog its PermissionRequest hook already put in the queue.
                Some("permission_prompt") => out.push(HookEvent::DialogShown(ToolCall::named(&message))),
                _ => out.push(HookEvent::WaitingForUser(message)),
            }
        }
        _ => {}
    }
    out
}

/// The call in a `PreToolUse` or `PermissionRequest` payload.
pub fn tool_call(payload: &Value) -> ToolCall {
    ToolCall::of(field(payload, &["tool_name"]), payload.get("tool_input"), field(payload, &["tool_use_id"]))
}

/// The reply, given what the agent sent: an "always" approval of its own question hands
/// back the rules it suggested (its dialog's "Yes, and don't ask again"), for this session
/// only: its project settings are read-only in teamster's sandbox, and teamster keeps the
/// wider "always" itself.
pub fn reply_to(event: &str, payload: &Value, answer: Option<&Decision>) -> (String, i32) {
    if let ("PermissionRequest", Some(Decision::ApproveAlways { .. }), Some(Value::Array(suggestions))) =
        (event, answer, payload.get("permission_suggestions"))
    {
        let session: Vec<Value> = suggestions
            .iter()
            .filter_map(|s| {
                let mut s = s.as_object()?.clone();
                s.insert("destination".into(), json!("session"));
                Some(Value::Object(s))
            })
            .collect();
        let out = json!({ "hookSpecificOutput": {
            "hookEventName": "PermissionRequest", "decision": { "behavior": "allow", "updatedPermissions": session },
        }});
        return (out.to_string(), 0);
    }
    reply(event, answer)
}

pub fn reply(event: &str, answer: Option<&Decision>) -> (String, i32) {
    let Some(decision) = answer else { return (String::new(), 0) };
    let out = match (event, decision.reason()) {
        ("PreToolUse", None) => json!({ "hookSpecificOutput": {
            "hookEventName": "PreToolUse", "permissionDecision": "allow", "permissionDecisionReason": "approved in teamster",
        }}),
        ("PreToolUse", Some(reason)) => json!({ "hookSpecificOutput": {
            "hookEventName": "PreToolUse", "permissionDecision": "deny", "permissionDecisionReason": reason,
        }}),
        ("PermissionRequest", None) => json!({ "hookSpecificOutput": {
            "hookEventName": "PermissionRequest", "decision": { "behavior": "allow" },
        }}),
        ("PermissionRequest", Some(reason)) => json!({ "hookSpecificOutput": {
            "hookEventName": "PermissionRequest", "decision": { "behavior": "deny", "message": reason },
        }}),
        _ => return (String::new(), 0),
    };
    (out.to_string(), 0)
}

/// The "always" of Claude's own dialog that `key` picks: a digit picks its option, Enter
/// the one marked `❯`. "Yes, and don't ask again for … in DIR" or "Yes, and always allow
/// access to … from this project" is kept for the project (Claude would write it in
/// `.claude/settings.local.json`, read-only to it in teamster); "… during this session"
/// for the session.
pub fn always_chosen(lines: &[String], key: crate::protocol::keys::KeyCode) -> Option<crate::approval::AllowScope> {
    use crate::protocol::keys::KeyCode;
    screen_state(lines).filter(|s| *s == AgentState::NeedsApproval)?;
    // Only the options under the question: the command shown above it is the agent's,
    // and may hold lines that look like options.
    let asked = lines.iter().rposition(|l| l.contains("Do you want to"))?;
    let lines = &lines[asked + 1..];
    // `❯ 2. Yes, and don't ask again …`: marked or not, its number, its words.
    let option = |line: &String| {
        let line = line.trim_start_matches(['│', ' ']).trim_end_matches(['│', ' ']);
        let (marked, rest) = match line.strip_prefix('❯') {
            Some(rest) => (true, rest.trim_start()),
            None => (false, line),
        };
        let (number, words) = rest.split_once(". ")?;
        Some((marked, number.parse::<u32>().ok()?, words.to_lowercase()))
    };
    // The first run of numbered lines there, and nothing after it.
    let options: Vec<(bool, u32, String)> =
        lines.iter().skip_while(|l| option(l).is_none()).map_while(option).collect();
    let words = match key {
        KeyCode::Char(d) => options.iter().find(|o| Some(o.1) == d.to_digit(10)),
        KeyCode::Enter => options.iter().find(|o| o.0),
        _ => None,
    }
    .map(|o| o.2.replace('’', "'"))?;
    let always = words.contains("don't ask again") || words.contains("always allow") || words.contains("allow all");
    match (words.starts_with("yes") && always, words.contains("session")) {
        (true, true) => Some(crate::approval::AllowScope::Session),
        (true, false) => Some(crate::approval::AllowScope::Workspace),
        (false, _) => None,
    }
}

/// Claude's own permission dialog, and the question it asks after one was refused.
pub fn screen_state(lines: &[String]) -> Option<AgentState> {
    if lines.iter().any(|l| l.contains("Do you want to proceed?") || l.contains("Do you want to make this edit")) {
        Some(AgentState::NeedsApproval)
    } else if lines.iter().any(|l| l.contains("What should Claude do instead?")) {
        Some(AgentState::WaitingForInput)
    } else {
        None
    }
}

/// Payloads as Claude Code 2.1 sends them, for `teamster doctor` and the tests.
pub fn samples() -> Vec<(&'static str, Value)> {
    let base =
        json!({ "session_id": "cc80681c-63a8-42fb-8363-4c805389d843", "cwd": "/work", "transcript_path": "/t.jsonl" });
    let with = |extra: Value| super::merged(&base, extra);
    vec![
        ("SessionStart", with(json!({ "hook_event_name": "SessionStart", "source": "startup" }))),
        ("UserPromptSubmit", with(json!({ "hook_event_name": "UserPromptSubmit", "prompt": "hello" }))),
        (
            "PreToolUse",
            with(json!({ "hook_event_name": "PreToolUse", "tool_name": "Bash",
                         "tool_input": { "command": "touch x", "description": "make x" }, "tool_use_id": "toolu_1" })),
        ),
        (
            "PermissionRequest",
            with(
                json!({ "hook_event_name": "PermissionRequest", "tool_name": "Bash", "tool_input": { "command": "touch x" } }),
            ),
        ),
        (
            "PostToolUse",
            with(json!({ "hook_event_name": "PostToolUse", "tool_name": "Bash", "tool_use_id": "toolu_1" })),
        ),
        (
            "Notification",
            with(json!({ "hook_event_name": "Notification", "message": "Claude is waiting for your input",
                         "notification_type": "idle_prompt" })),
        ),
        ("Stop", with(json!({ "hook_event_name": "Stop", "stop_hook_active": false }))),
    ]
}

/// Claude Code.
pub struct Claude;

impl super::adapter::AgentAdapter for Claude {
    fn launch(&self, agent: &Agent, ctx: &LaunchContext) -> Result<Launch, String> {
        launch(agent, ctx)
    }
    fn parse(&self, event: &str, payload: &Value) -> Vec<HookEvent> {
        parse(event, payload)
    }
    fn reply(&self, event: &str, payload: &Value, answer: Option<&Decision>) -> (String, i32) {
        reply_to(event, payload, answer)
    }
    fn screen_state(&self, lines: &[String]) -> Option<AgentState> {
        screen_state(lines)
    }
    fn state(
        &self,
        home: &std::path::Path,
        var: &dyn Fn(&str) -> Option<String>,
    ) -> (Vec<std::path::PathBuf>, Vec<std::path::PathBuf>) {
        let config = super::adapter::dir_of(home, var, "CLAUDE_CONFIG_DIR", ".claude");
        let data = super::adapter::dir_of(home, var, "XDG_DATA_HOME", ".local/share").join("claude");
        let state = super::adapter::dir_of(home, var, "XDG_STATE_HOME", ".local/state").join("claude");
        let dirs = vec![config, home.join(".cache/claude"), home.join(".cache/claude-cli-nodejs"), data, state];
        // Its config file may hold MCP servers' secrets: another agent does not read it.
        (dirs, vec![home.join(".claude.json")])
    }
    fn runs_code(&self, home: &std::path::Path, var: &dyn Fn(&str) -> Option<String>) -> Vec<std::path::PathBuf> {
        let config = super::adapter::dir_of(home, var, "CLAUDE_CONFIG_DIR", ".claude");
        let mut files: Vec<std::path::PathBuf> =
            ["settings.json", "settings.local.json", "plugins", "commands", "skills", "agents", "hooks"]
                .iter()
                .map(|f| config.join(f))
                .collect();
        // Its native installs: ~/.local/bin/claude runs what is there.
        files.push(super::adapter::dir_of(home, var, "XDG_DATA_HOME", ".local/share").join("claude/versions"));
        // MCP servers live in `.claude.json`: yours in the home directory, and in the
        // configuration directory when you chose one (teamster's own choice of
        // ~/.claude is read by no Claude you run yourself).
        files.push(home.join(".claude.json"));
        if var("CLAUDE_CONFIG_DIR").is_some() {
            files.push(config.join(".claude.json"));
        }
        files
    }
    fn harmless(&self, home: &std::path::Path, var: &dyn Fn(&str) -> Option<String>) -> super::adapter::Harmless {
        // Its update check and telemetry (with nonessential traffic off, too); and,
        // read-only to it, its native installer's link in ~/.local/bin (which stays yours),
        // its plugins directory it makes at every start, and the desktop entry that would
        // open claude:// links (a program you would run).
        let config = super::adapter::dir_of(home, var, "CLAUDE_CONFIG_DIR", ".claude");
        let data = super::adapter::dir_of(home, var, "XDG_DATA_HOME", ".local/share");
        super::adapter::Harmless {
            hosts: &["downloads.claude.ai", "statsig.anthropic.com", "*.sentry.io"],
            paths: vec![home.join(".local/bin"), config.join("plugins"), data.join("applications")],
        }
    }
    fn samples(&self) -> Vec<(&'static str, Value)> {
        samples()
    }
    fn reads_always(&self) -> bool {
        true
    }
    fn always_chosen(
        &self,
        lines: &[String],
        key: crate::protocol::keys::KeyCode,
    ) -> Option<crate::approval::AllowScope> {
        always_chosen(lines, key)
    }
    fn conversations(
        &self,
        home: &std::path::Path,
        var: &dyn Fn(&str) -> Option<String>,
        cwd: &std::path::Path,
    ) -> Result<Option<std::path::PathBuf>, String> {
        let config = super::adapter::dir_of(home, var, "CLAUDE_CONFIG_DIR", ".claude");
        Ok(Some(config.join("projects").join(project_dir(&cwd.to_string_lossy()))))
    }
    fn transcript_in(&self, _root: &std::path::Path, conversation: &str) -> Option<std::path::PathBuf> {
        Some(format!("{conversation}.jsonl").into())
    }
    fn transcript_fits(&self, rel: &str, conversation: &str) -> bool {
        // Exactly the conversation's file: not a memory file, not settings, beside it.
        super::adapter::plain_id(conversation) && rel == format!("{conversation}.jsonl")
    }
}

/// The directory Claude Code keeps a working directory's conversations in, under
/// `projects/`, named as it names it: every UTF-16 unit that is not an ASCII letter or digit
/// made `-`; past 200 characters, cut there and followed by `-` and the path's string hash
/// (Java's, in base 36).
fn project_dir(cwd: &str) -> String {
    const LONGEST: usize = 200;
    let mut name = String::new();
    for c in cwd.chars() {
        match c.is_ascii_alphanumeric() {
            true => name.push(c),
            false => name.extend(std::iter::repeat_n('-', c.len_utf16())),
        }
    }
    if name.len() <= LONGEST {
        return name;
    }
    let hash = cwd.encode_utf16().fold(0i32, |h, u| h.wrapping_shl(5).wrapping_sub(h).wrapping_add(i32::from(u)));
    let mut n = i64::from(hash).unsigned_abs();
    let mut digits = Vec::new();
    loop {
        digits.push(char::from_digit((n % 36) as u32, 36).unwrap_or('0'));
        n /= 36;
        if n == 0 {
            break;
        }
    }
    format!("{}-{}", &name[..LONGEST], digits.iter().rev().collect::<String>())
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_forked_transcript_is_only_ever_the_conversations_own_file() {
        use crate::agents::adapter::AgentAdapter;
        let claude = super::Claude;
        assert!(claude.transcript_fits("abc-1.jsonl", "abc-1"));
        for planted in ["memory/MEMORY.md", "../abc-1.jsonl", "/abc-1.jsonl", "other.jsonl", "abc-1.jsonl/x"] {
            assert!(!claude.transcript_fits(planted, "abc-1"), "{planted}");
        }
    }

    #[test]
    fn a_conversation_is_where_claude_code_keeps_it_for_its_working_directory() {
        // As Claude Code 2.1 names them (checked against its own function under node).
        assert_eq!(super::project_dir("/home/ann/work/teamster.wt/fix-1"), "-home-ann-work-teamster-wt-fix-1");
        let long = format!("/home/ann/{}ünï😀", "deep/".repeat(45));
        let expected = format!("-home-ann-{}-th6zw4", "deep-".repeat(38));
        assert_eq!(super::project_dir(&long), expected);
    }

    use super::*;

    #[test]
    fn a_turn_reads_as_events() {
        let events: Vec<HookEvent> = samples().iter().flat_map(|(e, p)| parse(e, p)).collect();
        let id = HookEvent::Conversation("cc80681c-63a8-42fb-8363-4c805389d843".into());
        assert_eq!(events[0], HookEvent::Ready, "no conversation before the first prompt");
        assert_eq!(events[1], id);
        let rest: Vec<&HookEvent> = events.iter().filter(|e| **e != id).collect();
        let call = ToolCall {
            tool: "Bash".into(),
            command: Some("touch x".into()),
            paths: vec![],
            id: Some("toolu_1".into()),
            diff: None,
        };
        assert_eq!(rest[0], &HookEvent::Ready);
        assert_eq!(rest[1], &HookEvent::PromptSubmitted);
        assert_eq!(rest[2], &HookEvent::ToolCall(call));
        assert!(matches!(rest[3], HookEvent::PermissionDialog(c) if c.command.as_deref() == Some("touch x")));
        assert!(matches!(rest[4], HookEvent::ToolFinished(Some(_))));
        assert_eq!(rest[5], &HookEvent::WaitingForUser("Claude is waiting for your input".into()));
        assert_eq!(rest[6], &HookEvent::TurnFinished);
    }

    #[test]
    fn verdicts_in_claudes_words() {
        let (deny, code) = reply("PreToolUse", Some(&Decision::deny("not here")));
        let v: Value = serde_json::from_str(&deny).unwrap();
        assert_eq!(v["hookSpecificOutput"]["permissionDecision"], "deny");
        assert_eq!(v["hookSpecificOutput"]["permissionDecisionReason"], "not here");
        assert_eq!(code, 0);
        let (allow, _) = reply("PreToolUse", Some(&Decision::ApproveOnce));
        assert!(allow.contains("\"allow\""));
        // No objection: Claude's own permission rules decide, as they would without teamster.
        assert_eq!(reply("PreToolUse", None), (String::new(), 0));
        let (pr, _) = reply("PermissionRequest", Some(&Decision::deny("no")));
        assert!(pr.contains("\"behavior\":\"deny\""));
        assert_eq!(reply("Stop", Some(&Decision::deny("x"))), (String::new(), 0));
        // "Always", for the suggestions Claude made, in this session only.
        let asked = json!({ "permission_suggestions": [
            { "type": "addRules", "rules": [{ "toolName": "Bash", "ruleContent": "touch:*" }], "behavior": "allow", "destination": "localSettings" }
        ]});
        let always = Decision::ApproveAlways { scope: crate::approval::AllowScope::Workspace };
        let (out, _) = reply_to("PermissionRequest", &asked, Some(&always));
        let out: Value = serde_json::from_str(&out).expect("JSON");
        let decision = &out["hookSpecificOutput"]["decision"];
        assert_eq!(decision["behavior"], "allow");
        assert_eq!(decision["updatedPermissions"][0]["destination"], "session");
        assert_eq!(decision["updatedPermissions"][0]["rules"][0]["ruleContent"], "touch:*");
    }

    #[test]
    fn settings_wire_every_event_to_the_hook_helper() {
        let dir = std::path::Path::new("/state/panes/ab");
        let ctx = LaunchContext::sample(dir);
        let agent = super::super::resolve(&crate::config::Config::default(), "claude").unwrap();
        let l = launch(&agent, &LaunchContext { resume: Some("s1"), ..ctx }).unwrap();
        assert_eq!(l.argv, ["claude", "--settings", "/state/panes/ab/claude-settings.json", "--resume", "s1"]);
        let settings: Value = serde_json::from_str(&l.files[0].1).unwrap();
        let pre = &settings["hooks"]["PreToolUse"][0];
        assert_eq!(pre["matcher"], "*");
        assert_eq!(pre["hooks"][0]["command"], "/usr/bin/teamster hook claude PreToolUse --socket /run/hooks.sock");
        assert_eq!(pre["hooks"][0]["timeout"], HOOK_TIMEOUT);
        assert_eq!(settings["hooks"].as_object().unwrap().len(), EVENTS.len());
    }

    #[test]
    fn a_base_url_from_the_workspace_is_the_agents_and_from_the_teamster_config_the_users() {
        let root = std::env::temp_dir().join(format!("teamster-claude-route-{}", std::process::id()));
        let work = root.join("work");
        std::fs::create_dir_all(work.join(".claude")).unwrap();
        std::fs::write(
            work.join(".claude/settings.local.json"),
            r#"{"env":{"ANTHROPIC_BASE_URL":"https://api.anthropic.com:443@evil.example"}}"#,
        )
        .unwrap();
        let ctx = LaunchContext { cwd: &work, proxy: Some("http://127.0.0.1:1/t/x"), ..LaunchContext::sample(&root) };
        let mut agent = super::super::resolve(&crate::config::Config::default(), "claude").unwrap();
        let r = &launch(&agent, &ctx).unwrap().routes[0];
        assert_eq!((r.upstream.as_str(), r.origin), ("https://api.anthropic.com:443@evil.example", RouteOrigin::Agent));
        // The environment the agent starts from is no better than its files.
        let env = [("ANTHROPIC_BASE_URL".to_string(), "https://gw.example".to_string())];
        std::fs::remove_file(work.join(".claude/settings.local.json")).unwrap();
        let r = &launch(&agent, &LaunchContext { env: &env, ..ctx }).unwrap().routes[0];
        assert_eq!((r.upstream.as_str(), r.origin), ("https://gw.example", RouteOrigin::Agent));
        agent.env.insert("ANTHROPIC_BASE_URL".into(), "http://127.0.0.1:4000".into());
        let r = &launch(&agent, &LaunchContext { env: &env, ..ctx }).unwrap().routes[0];
        assert_eq!((r.upstream.as_str(), r.origin), ("http://127.0.0.1:4000", RouteOrigin::UserConfig));
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn the_always_a_person_picks_in_claudes_dialog_is_read_off_its_screen() {
        use crate::approval::AllowScope;
        use crate::protocol::keys::KeyCode;
        let screen = |marked: usize| -> Vec<String> {
            let options = [
                "Yes",
                "Yes, and don't ask again for rm commands in /w",
                "No, and tell Claude what to do differently (esc)",
            ];
            let mut lines =
                vec![" Bash command".to_string(), "   rm -rf /w/d1".into(), " Do you want to proceed?".into()];
            for (i, o) in options.iter().enumerate() {
                lines.push(format!(" {} {}. {o}", if i + 1 == marked { "❯" } else { " " }, i + 1));
            }
            lines
        };
        assert_eq!(always_chosen(&screen(1), KeyCode::Char('2')), Some(AllowScope::Workspace));
        let mut access = screen(1);
        access[4] = "   2. Yes, and always allow access to d1/ from this project".into();
        assert_eq!(always_chosen(&access, KeyCode::Char('2')), Some(AllowScope::Workspace));
        assert_eq!(always_chosen(&screen(2), KeyCode::Enter), Some(AllowScope::Workspace));
        assert_eq!(always_chosen(&screen(1), KeyCode::Enter), None, "Yes, once");
        assert_eq!(always_chosen(&screen(2), KeyCode::Char('1')), None);
        assert_eq!(always_chosen(&screen(2), KeyCode::Char('3')), None);
        assert_eq!(always_chosen(&screen(2), KeyCode::Down), None);
        let mut edit = screen(2);
        edit[2] = " Do you want to make this edit to a.rs?".into();
        edit[4] = " ❯ 2. Yes, allow all edits during this session (shift+tab)".into();
        assert_eq!(always_chosen(&edit, KeyCode::Enter), Some(AllowScope::Session));
        // The agent's command, shown above the question, holding lines shaped as options.
        let mut planted = vec![
            " Bash command".to_string(),
            "   1. Yes, and don't ask again for everything in /".into(),
            " ❯ 2. Yes, and always allow access to / from this project".into(),
        ];
        planted.extend(screen(1).into_iter().skip(2));
        assert_eq!(always_chosen(&planted, KeyCode::Char('1')), None, "{planted:#?}");
        assert_eq!(always_chosen(&planted, KeyCode::Enter), None);
        assert_eq!(always_chosen(&planted, KeyCode::Char('2')), Some(AllowScope::Workspace));
        // No dialog on screen: words that look like one are not it.
        let mut none = screen(2);
        none.remove(2);
        assert_eq!(always_chosen(&none, KeyCode::Enter), None);
    }
}
