//! Gemini CLI: reads its settings from `$GEMINI_CLI_HOME/.gemini`, so each pane gets an
//! overlay: the user's `settings.json` with teamster's hooks added, and every other entry
//! linked to the user's own `~/.gemini` (auth, chats, history stay theirs). Resume is
//! `--resume <session id>`.
//!
//! Gemini runs no hooks in a folder it does not trust, so teamster starts it with
//! `--skip-trust`: without that, its gate would silently be off.

use super::{Agent, AgentKind, AgentState, HookEvent, Launch, LaunchContext, ToolCall, field};
use crate::approval::Decision;
use crate::meter::upstream::RouteOrigin;
use serde_json::{Value, json};

/// Milliseconds Gemini waits for a hook: a day, under the 2^31 ms where Node's timers wrap.
const HOOK_TIMEOUT_MS: u64 = 86_400_000;

const EVENTS: [&str; 6] = ["SessionStart", "BeforeAgent", "BeforeTool", "AfterTool", "Notification", "AfterAgent"];

pub fn launch(agent: &Agent, ctx: &LaunchContext) -> Result<Launch, String> {
    let user_root = super::setting(agent, ctx, "GEMINI_CLI_HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| ctx.home.to_path_buf());
    let root = ctx.dir.join("gemini-home");
    // Its chats (under tmp/, by project) and history go where Gemini CLI keeps them without
    // teamster.
    super::share_state(&user_root.join(".gemini"), &["tmp", "history"], &[])?;
    super::overlay(&user_root.join(".gemini"), &root.join(".gemini"), &["settings.json"])?;
    let agents_dir = user_root.join(".agents");
    if agents_dir.is_dir() {
        let base = crate::nofollow::base_of(&root).map_err(|e| e.to_string())?;
        crate::nofollow::symlink(&base, &agents_dir, &root.join(".agents"))
            .map_err(|e| format!("cannot link {}: {e}", agents_dir.display()))?;
    }
    let mut settings = super::read_jsonc(&user_root.join(".gemini/settings.json"))?;
    super::merge_hooks(&mut settings, hooks_json(ctx));
    let hooks_config = &mut settings["hooksConfig"];
    if !hooks_config.is_object() {
        *hooks_config = json!({});
    }
    hooks_config["enabled"] = json!(true);
    if let Some(disabled) = hooks_config.get_mut("disabled").and_then(Value::as_array_mut) {
        disabled.retain(|d| !d.as_str().is_some_and(|d| d.starts_with("teamster-")));
    }
    let mut env = vec![("GEMINI_CLI_HOME".to_string(), root.to_string_lossy().into_owned())];
    let routes = route(agent, ctx, &mut settings, &mut env)?;
    let text = serde_json::to_string_pretty(&settings).map_err(|e| e.to_string())?;

    let mut argv = vec![agent.binary.clone(), "--skip-trust".into()];
    if let Some(id) = ctx.resume {
        argv.extend(["--resume".into(), id.into()]);
    }
    if let Some(m) = &agent.model {
        argv.extend(["--model".into(), m.clone()]);
    }
    Ok(Launch { argv, env, files: vec![(root.join(".gemini/settings.json"), text)], routes, ..Default::default() })
}

/// Points Gemini CLI's endpoints at the proxy: the Gemini API's (API key), and Code
/// Assist's (Login with Google); Vertex's only where the user set its URL (its default
/// depends on the region). Each goes to what the user's environment names, else Google's.
fn route(
    agent: &Agent,
    ctx: &LaunchContext,
    settings: &mut Value,
    env: &mut Vec<(String, String)>,
) -> Result<Vec<super::Route>, String> {
    let mut routes = Vec::new();
    let mut point = |var: &str, id: &str, upstream: Option<(String, RouteOrigin)>| {
        if let (Some(url), Some(upstream)) = (ctx.route_url(id), upstream) {
            env.push((var.to_string(), url));
            routes.push(super::Route::from_setting(id, "google", upstream));
        }
    };
    let google = |url: &str| (url.to_string(), RouteOrigin::Agent);
    // A base URL with no auth type chosen makes Gemini CLI pick "gateway" auth and fail:
    // choose the API key when there is one.
    let chosen = settings.pointer("/security/auth/selectedType").is_some();
    let key = super::setting(agent, ctx, "GEMINI_API_KEY").is_some();
    if !chosen && key {
        super::object_at(settings, &["security", "auth"], "your Gemini settings.json")?
            .insert("selectedType".into(), json!("gemini-api-key"));
    }
    if chosen || key {
        let api = super::upstream_setting(agent, ctx, "GOOGLE_GEMINI_BASE_URL")
            .unwrap_or_else(|| google("https://generativelanguage.googleapis.com"));
        point("GOOGLE_GEMINI_BASE_URL", "gemini", Some(api));
    }
    let assist = super::upstream_setting(agent, ctx, "CODE_ASSIST_ENDPOINT")
        .unwrap_or_else(|| google("https://cloudcode-pa.googleapis.com"));
    point("CODE_ASSIST_ENDPOINT", "gemini-assist", Some(assist));
    point("GOOGLE_VERTEX_BASE_URL", "gemini-vertex", super::upstream_setting(agent, ctx, "GOOGLE_VERTEX_BASE_URL"));
    Ok(routes)
}

fn hooks_json(ctx: &LaunchContext) -> Value {
    super::hooks_block(&EVENTS, ".*", |event| {
        json!({ "type": "command", "name": format!("teamster-{event}"), "command": ctx.hook(AgentKind::Gemini, event),
                "timeout": HOOK_TIMEOUT_MS })
    })
}

pub fn parse(event: &str, payload: &Value) -> Vec<HookEvent> {
    let mut out = super::conversation_in(payload, &["session_id"], event, "SessionStart");
    match event {
        "SessionStart" => out.push(HookEvent::Ready),
        "BeforeAgent" => out.push(HookEvent::PromptSubmitted),
        // Gemini gives its calls no id in hooks.
        "BeforeTool" => {
            out.push(HookEvent::ToolCall(ToolCall::of(field(payload, &["tool_name"]), payload.get("tool_input"), None)))
        }
        "AfterTool" => out.push(HookEvent::ToolFinished(Some(ToolCall::of(
            field(payload, &["tool_name"]),
            payload.get("tool_input"),
            None,
        )))),
        "AfterAgent" => out.push(HookEvent::TurnFinished),
        "Notification" => match field(payload, &["notification_type"]) {
            Some("ToolPermission") => {
                let call = match (field(payload, &["details", "command"]), field(payload, &["details", "filePath"])) {
                    (Some(c), _) => ToolCall { command: Some(c.into()), ..ToolCall::named("run_shell_command") },
                    (None, Some(f)) => ToolCall {
                        paths: vec![f.into()],
                        diff: field(payload, &["details", "fileDiff"]).map(|d| super::cap_diff(d.to_string())),
                        ..ToolCall::named("edit")
                    },
                    (None, None) => ToolCall::named(field(payload, &["message"]).unwrap_or("a tool")),
                };
                out.push(HookEvent::DialogShown(call));
            }
            _ => out.push(HookEvent::WaitingForUser(field(payload, &["message"]).unwrap_or("waiting").into())),
        },
        _ => {}
    }
    out
}

/// Gemini reads one JSON object from every hook.
pub fn reply(event: &str, answer: Option<&Decision>) -> (String, i32) {
    let v = match (event, answer.map(Decision::reason)) {
        ("BeforeTool", Some(None)) => json!({ "decision": "allow" }),
        ("BeforeTool", Some(Some(reason))) => json!({ "decision": "deny", "reason": reason }),
        _ => json!({}),
    };
    (v.to_string(), 0)
}

/// The questions its dialogs ask.
const QUESTIONS: [&str; 4] =
    ["Allow execution of", "Apply this change?", "Do you want to proceed?", "Ready to start implementation?"];

pub fn screen_state(lines: &[String]) -> Option<AgentState> {
    if lines.iter().any(|l| QUESTIONS.iter().any(|q| l.contains(q))) {
        return Some(AgentState::NeedsApproval);
    }
    // Esc in its dialog ends the turn, and no hook says so.
    dialog_refused(lines).then_some(AgentState::WaitingForInput)
}

/// The digit of the option that says `decision` in the dialog on screen (its options are
/// numbered, and which number is which differs from dialog to dialog), or Esc for a deny
/// (its reason cannot reach Gemini this way; a policy's deny at `BeforeTool` carries one).
pub fn dialog_keys(lines: &[String], decision: &Decision) -> Option<Vec<u8>> {
    screen_state(lines)?;
    let wanted: &[&str] = match decision {
        Decision::Deny { .. } => return Some(b"\x1b".to_vec()),
        Decision::ApproveOnce => &["Allow once"],
        Decision::ApproveAlways { .. } => &["Allow for this session", "Allow tool for this session", "Allow once"],
    };
    wanted.iter().find_map(|label| {
        lines.iter().find_map(|l| {
            let at = l.find(label)?;
            let before = l[..at].trim_end().strip_suffix('.')?;
            let digit = before.chars().last().filter(char::is_ascii_digit)?;
            Some(vec![digit as u8])
        })
    })
}

/// Its prompt box is up, and no dialog over it.
pub fn takes_prompt(lines: &[String]) -> bool {
    screen_state(lines) != Some(AgentState::NeedsApproval) && input_up(lines)
}

/// Its prompt box is drawn (its placeholder, however a narrow pane wraps it): it takes
/// raw mode and says it is ready before that, and drops what is typed meanwhile.
pub fn input_up(lines: &[String]) -> bool {
    crate::text::screen_shows(lines, "Type your message")
}

/// Esc in its dialog cancels the request, and says so.
pub fn dialog_refused(lines: &[String]) -> bool {
    lines.iter().any(|l| l.contains("Request cancelled"))
}

/// Payloads as Gemini CLI 0.61 sends them.
pub fn samples() -> Vec<(&'static str, Value)> {
    let with = |event: &str, extra: Value| {
        super::merged(
            &json!({ "session_id": "88700129-4515-4040-9ad6-f4a776a1c56d", "cwd": "/w", "hook_event_name": event }),
            extra,
        )
    };
    vec![
        ("SessionStart", with("SessionStart", json!({ "source": "startup" }))),
        ("BeforeAgent", with("BeforeAgent", json!({ "prompt": "hello" }))),
        (
            "BeforeTool",
            with(
                "BeforeTool",
                json!({ "tool_name": "run_shell_command", "tool_input": { "command": "touch x", "description": "d" } }),
            ),
        ),
        ("AfterTool", with("AfterTool", json!({ "tool_name": "run_shell_command", "tool_response": {} }))),
        (
            "Notification",
            with(
                "Notification",
                json!({ "notification_type": "ToolPermission", "message": "Tool Confirm Shell Command requires execution",
                                         "details": { "type": "exec", "command": "touch x" } }),
            ),
        ),
        ("AfterAgent", with("AfterAgent", json!({ "prompt": "hello", "prompt_response": "done" }))),
    ]
}

/// Gemini CLI: its own dialog is answered by keys (its hooks cannot answer it).
pub struct Gemini;

impl super::adapter::AgentAdapter for Gemini {
    fn launch(&self, agent: &Agent, ctx: &LaunchContext) -> Result<Launch, String> {
        launch(agent, ctx)
    }
    fn parse(&self, event: &str, payload: &Value) -> Vec<HookEvent> {
        parse(event, payload)
    }
    fn reply(&self, event: &str, _payload: &Value, answer: Option<&Decision>) -> (String, i32) {
        reply(event, answer)
    }
    fn screen_state(&self, lines: &[String]) -> Option<AgentState> {
        screen_state(lines)
    }
    fn answers_by_keys(&self) -> bool {
        true
    }
    fn dialog_keys(&self, lines: &[String], decision: &Decision) -> Option<Vec<u8>> {
        dialog_keys(lines, decision)
    }
    fn takes_prompt(&self, lines: &[String]) -> bool {
        takes_prompt(lines)
    }
    fn input_up(&self, lines: &[String]) -> Option<bool> {
        Some(input_up(lines))
    }
    fn dialog_refused(&self, lines: &[String]) -> bool {
        dialog_refused(lines)
    }
    fn state(
        &self,
        home: &std::path::Path,
        _var: &dyn Fn(&str) -> Option<String>,
    ) -> (Vec<std::path::PathBuf>, Vec<std::path::PathBuf>) {
        (vec![home.join(".gemini")], Vec::new())
    }
    fn runs_code(&self, home: &std::path::Path, _var: &dyn Fn(&str) -> Option<String>) -> Vec<std::path::PathBuf> {
        // Hooks and MCP servers in its settings; extensions are code.
        ["settings.json", "extensions"].iter().map(|f| home.join(".gemini").join(f)).collect()
    }
    fn harmless(&self, _home: &std::path::Path, _var: &dyn Fn(&str) -> Option<String>) -> super::adapter::Harmless {
        // Its usage statistics.
        super::adapter::Harmless { hosts: &["play.googleapis.com"], paths: Vec::new() }
    }
    fn samples(&self) -> Vec<(&'static str, Value)> {
        samples()
    }
    fn conversations(
        &self,
        home: &std::path::Path,
        var: &dyn Fn(&str) -> Option<String>,
        cwd: &std::path::Path,
    ) -> Result<Option<std::path::PathBuf>, String> {
        // Gemini CLI names the project by the real path it runs in, as getcwd gives it.
        let project = std::fs::canonicalize(cwd).unwrap_or_else(|_| cwd.to_path_buf());
        let gemini = super::adapter::dir_of(home, var, "GEMINI_CLI_HOME", "").join(".gemini");
        let slug = project_slug(&gemini, &project.to_string_lossy())
            .map_err(|e| format!("cannot find Gemini CLI's place for {}: {e}", project.display()))?;
        Ok(Some(gemini.join("tmp").join(slug).join("chats")))
    }
    fn transcript_in(&self, root: &std::path::Path, conversation: &str) -> Option<std::path::PathBuf> {
        // `session-TIME-ID8.jsonl`, whose first line names the conversation; the newest, if
        // it was ever copied.
        let short = short_id(conversation);
        let mut found: Vec<(std::time::SystemTime, String)> = std::fs::read_dir(root)
            .ok()?
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_str()?.to_string();
                let meta = e.metadata().ok().filter(std::fs::Metadata::is_file)?;
                (name.starts_with("session-") && name.ends_with(&format!("-{short}.jsonl"))).then_some(())?;
                let head = crate::nofollow::read(&root.join(&name), 64 * 1024).ok()?;
                let first = head.split(|b| *b == b'\n').next()?;
                let meta_line: Value = serde_json::from_slice(first).ok()?;
                (meta_line["sessionId"] == conversation).then_some((meta.modified().ok()?, name))
            })
            .collect();
        found.sort();
        found.pop().map(|(_, name)| name.into())
    }
    fn transcript_fits(&self, rel: &str, conversation: &str) -> bool {
        // One file in the project's chats, named as Gemini CLI names a conversation's.
        super::adapter::plain_id(conversation)
            && super::adapter::plain_name(rel)
            && rel.starts_with("session-")
            && rel.ends_with(&format!("-{}.jsonl", short_id(conversation)))
    }
}

/// The first 8 characters of a conversation id, as Gemini CLI puts them in its file's name.
fn short_id(conversation: &str) -> &str {
    conversation.get(..8).unwrap_or(conversation)
}

/// The marker Gemini CLI leaves in a project's directories, naming the project.
const PROJECT_ROOT: &str = ".project_root";

/// The directory under `GEMINI/tmp` (and `GEMINI/history`) that Gemini CLI keeps
/// `project`'s chats in, found as Gemini CLI finds it (its `ProjectRegistry`): the one
/// `projects.json` names, if no marker there names another project; else the one whose
/// marker names it; else a new one, claimed by writing the markers, as Gemini CLI would
/// at its first start there. Everything read here an agent may have written: names are
/// checked, files read through no link, and markers written only where none is.
fn project_slug(gemini: &std::path::Path, project: &str) -> std::io::Result<String> {
    let bases = [gemini.join("tmp"), gemini.join("history")];
    let owner = |base: &std::path::Path, slug: &str| -> Option<String> {
        let bytes = crate::nofollow::read(&base.join(slug).join(PROJECT_ROOT), 4096).ok()?;
        Some(String::from_utf8_lossy(&bytes).trim().to_string())
    };
    let owns = |slug: &str| bases.iter().all(|b| owner(b, slug).is_none_or(|o| o == project));
    let slug_like = super::adapter::plain_name;
    let registry: Value = crate::nofollow::read(&gemini.join("projects.json"), 4 << 20)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    let named = registry["projects"].as_object().cloned().unwrap_or_default();
    if let Some(slug) = named.get(project).and_then(Value::as_str).filter(|s| slug_like(s) && owns(s)) {
        return Ok(slug.to_string());
    }
    for base in &bases {
        let Ok(entries) = std::fs::read_dir(base) else { continue };
        for name in entries.flatten().filter_map(|e| e.file_name().into_string().ok()) {
            if slug_like(&name) && owner(base, &name).as_deref() == Some(project) {
                return Ok(name);
            }
        }
    }
    let taken: std::collections::HashSet<&str> = named.values().filter_map(Value::as_str).collect();
    let stem = slugify(std::path::Path::new(project).file_name().and_then(|n| n.to_str()).unwrap_or(""));
    for n in 0..1000 {
        let slug = match n {
            0 => stem.clone(),
            n => format!("{stem}-{n}"),
        };
        if taken.contains(slug.as_str()) || !owns(&slug) {
            continue;
        }
        for base in &bases {
            let marker = base.join(&slug).join(PROJECT_ROOT);
            crate::nofollow::write_new(&crate::nofollow::base_of(&marker)?, &marker, project.as_bytes())?;
        }
        if owns(&slug) {
            return Ok(slug);
        }
    }
    Err(std::io::Error::other("every name for the project is taken"))
}

/// A project's directory name as Gemini CLI makes it from the last part of its path.
fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.to_lowercase().chars() {
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() { c } else { '-' };
        if !(c == '-' && (slug.is_empty() || slug.ends_with('-'))) {
            slug.push(c);
        }
    }
    let slug = slug.trim_end_matches('-').to_string();
    if slug.is_empty() { "project".into() } else { slug }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::adapter::AgentAdapter;

    #[test]
    fn its_input_is_up_once_its_prompt_box_shows_however_a_narrow_pane_wraps_it() {
        let lines = |rows: &[&str]| rows.iter().map(|r| r.to_string()).collect::<Vec<_>>();
        let starting = lines(&["Gemini CLI v0.61.0", "Tips for getting started:", ""]);
        assert_eq!(Gemini.input_up(&starting), Some(false), "typed now, it would be lost");
        let narrow = lines(&["▄▄▄▄▄▄▄▄▄▄▄▄", " >   Type yo", "ur message o", "▀▀▀▀▀▀▀▀▀▀▀▀"]);
        assert_eq!(Gemini.input_up(&narrow), Some(true));
        assert!(takes_prompt(&narrow));
    }

    #[test]
    fn the_overlay_keeps_the_users_settings_and_adds_hooks() {
        let root = std::env::temp_dir().join(format!("teamster-gemini-{}", std::process::id()));
        let home = root.join("home");
        std::fs::create_dir_all(home.join(".gemini/tmp")).unwrap();
        let user_settings = "{\n  // mine\n  \"security\": {\"auth\": {\"selectedType\": \"gemini-api-key\"}},\n}";
        std::fs::write(home.join(".gemini/settings.json"), user_settings).unwrap();
        let dir = root.join("pane");
        let agent = super::super::resolve(&crate::config::Config::default(), "gemini").unwrap();
        let l = launch(&agent, &LaunchContext { home: &home, ..LaunchContext::sample(&dir) }).unwrap();
        assert_eq!(l.argv, ["gemini", "--skip-trust"]);
        let settings: Value = serde_json::from_str(&l.files[0].1).unwrap();
        assert_eq!(settings["security"]["auth"]["selectedType"], "gemini-api-key");
        assert_eq!(settings["hooksConfig"]["enabled"], true);
        let gate = &settings["hooks"]["BeforeTool"][0];
        assert_eq!(gate["matcher"], ".*");
        assert_eq!(gate["hooks"][0]["timeout"], HOOK_TIMEOUT_MS);
        assert!(std::fs::read_link(dir.join("gemini-home/.gemini/tmp")).is_ok());
        assert_eq!(std::fs::read_to_string(home.join(".gemini/settings.json")).unwrap(), user_settings);
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn settings_of_an_unexpected_shape_are_an_error_not_a_crash() {
        let root = std::env::temp_dir().join(format!("teamster-gemini-odd-{}", std::process::id()));
        let home = root.join("home");
        std::fs::create_dir_all(home.join(".gemini")).unwrap();
        std::fs::write(home.join(".gemini/settings.json"), r#"{"security": "strict"}"#).unwrap();
        let env = [("GEMINI_API_KEY".to_string(), "k".to_string())];
        let ctx = LaunchContext { home: &home, env: &env, proxy: Some("http://p/t/x"), ..LaunchContext::sample(&root) };
        let agent = super::super::resolve(&crate::config::Config::default(), "gemini").unwrap();
        let err = launch(&agent, &ctx).expect_err("a string where an object goes");
        assert!(err.contains("`security` is not an object"), "{err}");
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn every_answer_is_one_json_object() {
        assert_eq!(reply("AfterAgent", None).0, "{}");
        assert_eq!(reply("BeforeTool", None).0, "{}");
        assert_eq!(reply("BeforeTool", Some(&Decision::deny("no"))).0, r#"{"decision":"deny","reason":"no"}"#);
        let events: Vec<HookEvent> = samples().iter().flat_map(|(e, p)| parse(e, p)).collect();
        assert!(
            events.iter().any(|e| matches!(e, HookEvent::DialogShown(c) if c.command.as_deref() == Some("touch x")))
        );
    }

    #[test]
    fn a_fork_finds_the_project_where_gemini_cli_would_and_claims_a_new_one_as_it_would() {
        let root = std::env::temp_dir().join(format!("teamster-gemini-projects-{}", std::process::id()));
        let gemini = root.join(".gemini");
        let marker = |base: &str, slug: &str, project: &str| {
            std::fs::create_dir_all(gemini.join(base).join(slug)).unwrap();
            std::fs::write(gemini.join(base).join(slug).join(PROJECT_ROOT), project).unwrap();
        };
        // Named by the registry, and not owned by another.
        marker("tmp", "work", "/src/work");
        std::fs::write(gemini.join("projects.json"), r#"{"projects": {"/src/work": "work"}}"#).unwrap();
        assert_eq!(project_slug(&gemini, "/src/work").unwrap(), "work");
        // Found by its marker alone.
        marker("tmp", "other-1", "/src/other");
        assert_eq!(project_slug(&gemini, "/src/other").unwrap(), "other-1");
        // The registry pointing at another project's place is not believed.
        std::fs::write(gemini.join("projects.json"), r#"{"projects": {"/src/x": "work", "/src/y": "../../etc"}}"#)
            .unwrap();
        assert_ne!(project_slug(&gemini, "/src/x").unwrap(), "work");
        assert_eq!(project_slug(&gemini, "/src/y").unwrap(), "y");
        // New: named after the directory, past names taken, markers written in both places.
        marker("history", "my-app", "/elsewhere/My App");
        assert_eq!(project_slug(&gemini, "/src/My App").unwrap(), "my-app-1");
        for base in ["tmp", "history"] {
            let owner = std::fs::read_to_string(gemini.join(base).join("my-app-1").join(PROJECT_ROOT)).unwrap();
            assert_eq!(owner, "/src/My App");
        }
        assert_eq!(project_slug(&gemini, "/src/My App").unwrap(), "my-app-1", "the same one next time");
        assert_eq!(slugify("--Ünïcode_Dir.2--"), "n-code-dir-2");
        assert_eq!(slugify(""), "project");
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn a_forked_transcript_is_one_chat_file_named_for_its_conversation() {
        let id = "88700129-4515-4040-9ad6-f4a776a1c56d";
        assert!(Gemini.transcript_fits("session-2026-12-04T21-00-88700129.jsonl", id));
        for planted in [
            "session-2026-12-04T21-00-11111111.jsonl",
            "../session-2026-12-04T21-00-88700129.jsonl",
            "x/session-2026-12-04T21-00-88700129.jsonl",
            "session-2026-12-04T21-00-88700129.json",
            ".project_root",
            "",
        ] {
            assert!(!Gemini.transcript_fits(planted, id), "{planted}");
        }
        assert!(!Gemini.transcript_fits("session-x-../../x.jsonl", "../../x"));
        let root = std::env::temp_dir().join(format!("teamster-gemini-chats-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        let line = |sid: &str| format!("{{\"sessionId\":\"{sid}\",\"kind\":\"main\"}}\n{{\"type\":\"user\"}}\n");
        std::fs::write(root.join("session-2026-12-04T21-00-88700129.jsonl"), line(id)).unwrap();
        std::fs::write(root.join("session-2026-12-04T21-01-88700129.jsonl"), line("88700129-other")).unwrap();
        assert_eq!(
            Gemini.transcript_in(&root, id),
            Some("session-2026-12-04T21-00-88700129.jsonl".into()),
            "the file whose first line names the conversation"
        );
        assert_eq!(Gemini.transcript_in(&root, "00000000-none"), None);
        let _ = std::fs::remove_dir_all(root);
    }
}
