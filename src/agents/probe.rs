//! `teamster doctor --live`: runs an installed agent CLI once, headless, against teamster's
//! stand-in LLM provider on loopback (no API key, nothing leaves the machine for a model
//! provider), with teamster's integration wired in exactly as in a pane, and checks the
//! round trip with that version: the agent reports the tool call the provider asks for
//! before running it, and a deny from teamster stops it.
//!
//! `offline_setup` is also how the tests point the real CLIs at their mock.

use super::{Agent, AgentKind, Answer, HookEvent, LaunchContext};
use crate::mock_llm::{self, Turn};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How an agent runs against a provider at a local URL with no first-run dialogs.
pub struct Offline {
    pub env: Vec<(String, String)>,
    pub args: Vec<String>,
    pub model: Option<String>,
    /// Routes whose upstream is the provider at the URL, named in the agent's own settings
    /// files: teamster's config must name them too (`[providers.ROUTE]`), since a route the
    /// agent names never leads to this machine.
    pub providers: Vec<(String, String)>,
}

fn write(path: PathBuf, text: &str) -> Result<(), String> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Writes the agent's own settings under `home` (and `config_home`, its XDG config
/// directory) that point it at the provider at `url`, as a user would set it up once,
/// for an agent working in `work`.
pub fn offline_setup(
    kind: AgentKind,
    home: &Path,
    config_home: &Path,
    work: &Path,
    url: &str,
) -> Result<Offline, String> {
    use serde_json::json;
    let pairs = |kv: &[(&str, &str)]| kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let mut args = Vec::new();
    let mut model = None;
    let mut providers = Vec::new();
    let env = match kind {
        AgentKind::Claude => {
            let state = json!({
                "hasCompletedOnboarding": true,
                "projects": { work.to_string_lossy(): { "hasTrustDialogAccepted": true } },
            });
            write(home.join(".claude.json"), &state.to_string())?;
            pairs(&[
                ("ANTHROPIC_BASE_URL", url),
                ("ANTHROPIC_AUTH_TOKEN", "mock"),
                ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
            ])
        }
        AgentKind::Codex => {
            // A model name Codex knows nothing of keeps its plain shell tool.
            let config = format!(
                "model = \"mock-model\"\nmodel_provider = \"mock\"\ncheck_for_update_on_startup = false\n\n\
                 [model_providers.mock]\nname = \"mock\"\nbase_url = \"{url}/v1\"\nenv_key = \"MOCK_API_KEY\"\n\
                 wire_api = \"responses\"\nsupports_websockets = false\nrequest_max_retries = 0\nstream_max_retries = 0\n\n\
                 [analytics]\nenabled = false\n"
            );
            // Trusted, so a git checkout does not stop it with a question.
            let config = format!(
                "{config}\n[projects.{}]\ntrust_level = \"trusted\"\n",
                toml::Value::String(work.to_string_lossy().into_owned())
            );
            write(home.join(".codex/config.toml"), &config)?;
            providers.push(("codex-mock".to_string(), format!("{url}/v1")));
            args = ["--disable", "plugins", "--disable", "apps"].map(String::from).to_vec();
            pairs(&[("MOCK_API_KEY", "mock")])
        }
        AgentKind::Pi => {
            // Pi speaks OpenAI Chat Completions here.
            let models = json!({ "providers": { "mock": {
                "baseUrl": format!("{url}/v1"), "api": "openai-completions", "apiKey": "mock",
                "compat": { "supportsDeveloperRole": false, "supportsReasoningEffort": false },
                "models": [{ "id": "mock-model", "name": "Mock", "reasoning": false, "input": ["text"],
                             "contextWindow": 200000, "maxTokens": 8192,
                             "cost": { "input": 3, "output": 15, "cacheRead": 0.3, "cacheWrite": 3.75 } }],
            }}});
            write(home.join(".pi/agent/models.json"), &models.to_string())?;
            providers.push(("pi-mock".to_string(), format!("{url}/v1")));
            model = Some("mock/mock-model".to_string());
            pairs(&[("PI_OFFLINE", "1")])
        }
        AgentKind::Gemini => {
            let settings = json!({
                "security": { "auth": { "selectedType": "gemini-api-key" } },
                "privacy": { "usageStatisticsEnabled": false }, "telemetry": { "enabled": false },
            });
            write(home.join(".gemini/settings.json"), &settings.to_string())?;
            pairs(&[("GEMINI_API_KEY", "mock"), ("GOOGLE_GEMINI_BASE_URL", url)])
        }
        AgentKind::Opencode => {
            let dir = config_home.join("opencode");
            let config = json!({
                "provider": { "anthropic": { "options": { "baseURL": format!("{url}/v1"), "apiKey": "mock" } } },
                "model": "anthropic/claude-sonnet-4-5",
            });
            write(dir.join("opencode.json"), &config.to_string())?;
            providers.push(("oc-anthropic".to_string(), format!("{url}/v1")));
            for (path, text) in super::opencode::sdk_stub(&dir) {
                write(path, &text)?;
            }
            std::fs::create_dir_all(dir.join("node_modules")).map_err(|e| e.to_string())?;
            pairs(&[
                ("OPENCODE_DISABLE_MODELS_FETCH", "1"),
                ("OPENCODE_DISABLE_AUTOUPDATE", "1"),
                ("OPENCODE_DISABLE_LSP_DOWNLOAD", "1"),
                ("OPENCODE_DISABLE_SHARE", "1"),
            ])
        }
        AgentKind::Command => Vec::new(),
    };
    Ok(Offline { env, args, model, providers })
}

/// The agent's one-shot mode: run `prompt`, print the answer, exit.
fn headless(kind: AgentKind, argv: Vec<String>, extra: &[String], prompt: &str) -> Vec<String> {
    let mut argv = argv;
    match kind {
        AgentKind::Codex => {
            // `exec` takes its own flags: keep the binary, then exec's.
            argv.truncate(1);
            argv.extend(["exec", "--skip-git-repo-check", "--dangerously-bypass-hook-trust"].map(String::from));
            argv.extend(extra.iter().cloned());
        }
        AgentKind::Opencode => {
            argv.truncate(1);
            argv.push("run".into());
        }
        // Headless, Gemini CLI offers no tool that would need its own confirmation unless
        // told to confirm nothing itself; teamster's hook still decides.
        AgentKind::Gemini => {
            argv.extend(["--approval-mode", "yolo", "-p"].map(String::from));
        }
        _ => {
            argv.extend(extra.iter().cloned());
            argv.push("-p".into());
        }
    }
    argv.push(prompt.into());
    argv
}

const PROMPT: &str = "teamster doctor: run the command you are given";
const DENIAL: &str = "denied on purpose by teamster doctor";

/// Removes a directory when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `agent` once as described at the top; says what worked, or what did not.
pub fn live_check(agent: &Agent, teamster: &Path, binary: &Path) -> Result<String, String> {
    let kind = agent.kind;
    let root = std::env::temp_dir().join(format!("teamster-doctor-{}-{}", std::process::id(), kind.name()));
    let _ = std::fs::remove_dir_all(&root);
    let _scratch = Scratch(root.clone());
    let (home, config_home, work) = (root.join("home"), root.join("config"), root.join("work"));
    for d in [&home, &config_home, &work] {
        std::fs::create_dir_all(d).map_err(|e| format!("cannot create {}: {e}", d.display()))?;
    }
    let marker = work.join("made-by-the-agent");

    // The provider: asks for one shell command, then closes the turn.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot listen on loopback: {e}"))?;
    let url = format!("http://127.0.0.1:{}", listener.local_addr().map_err(|e| e.to_string())?.port());
    let turns = Arc::new(Mutex::new(0usize));
    let command = format!("touch {}", marker.display());
    let counter = turns.clone();
    let asked = command.clone();
    mock_llm::serve(
        listener,
        Arc::new(move |req: &mock_llm::Request| {
            let n = {
                let mut n = counter.lock().unwrap_or_else(|e| e.into_inner());
                *n += 1;
                *n
            };
            let turn = match req.schema() {
                Some(schema) => Turn::Say(mock_llm::example_of(schema).to_string()),
                None if req.ends_with_tool_result() => Turn::Say("checked".into()),
                None => Turn::CallTool(asked.clone()),
            };
            mock_llm::answer(req, &turn, n)
        }),
    );

    // Teamster's side: a hook socket that records what the agent reports and denies calls.
    let socket = root.join("hooks.sock");
    let hooks = std::os::unix::net::UnixListener::bind(&socket)
        .map_err(|e| format!("cannot listen on {}: {e}", socket.display()))?;
    let events: Arc<Mutex<Vec<HookEvent>>> = Arc::default();
    let seen = events.clone();
    std::thread::spawn(move || {
        for conn in hooks.incoming().flatten() {
            let seen = seen.clone();
            std::thread::spawn(move || answer_hook(kind, conn, &seen));
        }
    });

    let offline = offline_setup(kind, &home, &config_home, &work, &url)?;
    let mut env: Vec<(String, String)> = ["PATH", "LANG", "USER", "LOGNAME", "TMPDIR"]
        .iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
        .collect();
    env.extend([
        ("HOME".to_string(), home.to_string_lossy().into_owned()),
        ("XDG_CONFIG_HOME".to_string(), config_home.to_string_lossy().into_owned()),
        ("TERM".to_string(), "dumb".to_string()),
    ]);
    env.extend(offline.env);
    let probe = Agent {
        binary: binary.to_string_lossy().into_owned(),
        args: Vec::new(),
        env: Default::default(),
        model: offline.model,
        ..agent.clone()
    };
    let dir = root.join("pane");
    let ctx = LaunchContext {
        teamster,
        dir: &dir,
        home: &home,
        cwd: &work,
        resume: None,
        socket: &socket,
        env: &env,
        proxy: None,
        sandboxed: false,
    };
    let launch = super::launch(&probe, &ctx)?;
    launch.write()?;
    env.extend(launch.env);
    let argv = headless(kind, launch.argv, &offline.args, PROMPT);
    let output = run(&argv, &env, &work, &root, Duration::from_secs(120))?;

    let events = events.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let turns = *turns.lock().unwrap_or_else(|e| e.into_inner());
    let reported =
        events.iter().any(|e| matches!(e, HookEvent::ToolCall(c) if c.command.as_deref() == Some(command.as_str())));
    if marker.exists() {
        return Err(format!("the agent ran the command teamster denied; {output}"));
    }
    if !reported {
        return Err(if turns == 0 {
            format!("the agent never reached the local provider; {output}")
        } else {
            format!(
                "the agent's hooks never reported its tool call ({turns} requests reached the local provider); {output}"
            )
        });
    }
    Ok("reports tool calls before running them, and a deny stops them (checked live against a local mock)".into())
}

fn answer_hook(kind: AgentKind, conn: std::os::unix::net::UnixStream, seen: &Mutex<Vec<HookEvent>>) {
    let Ok(reader) = conn.try_clone() else { return };
    let mut line = String::new();
    if std::io::BufReader::new(reader).read_line(&mut line).is_err() {
        return;
    }
    let Ok(req) = serde_json::from_str::<crate::protocol::HookRequest>(&line) else { return };
    let parsed = super::parse_hook(kind, &req.event, &req.payload);
    let verdict: Answer = if parsed.iter().any(|e| matches!(e, HookEvent::ToolCall(_))) {
        Some(crate::approval::Decision::deny(DENIAL))
    } else {
        None
    };
    seen.lock().unwrap_or_else(|e| e.into_inner()).extend(parsed);
    let mut out = serde_json::to_vec(&verdict).unwrap_or_default();
    out.push(b'\n');
    let mut conn = conn;
    let _ = conn.write_all(&out);
}

/// Runs `argv` to its end, or kills it (and what it started) after `limit`; returns the
/// tail of what it printed, for error messages.
fn run(
    argv: &[String],
    env: &[(String, String)],
    cwd: &Path,
    scratch: &Path,
    limit: Duration,
) -> Result<String, String> {
    use std::os::unix::process::CommandExt;
    let log_path = scratch.join("agent.log");
    let log = std::fs::File::create(&log_path).map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
    let err = log.try_clone().map_err(|e| e.to_string())?;
    let mut child = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .env_clear()
        .envs(env.iter().cloned())
        .current_dir(cwd)
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", argv[0]))?;
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break Some(status);
        }
        if Instant::now() > deadline {
            // SAFETY: the process group this function started.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
            break None;
        }
        // A child process's exit has no event to wait on without a runtime here.
        std::thread::sleep(Duration::from_millis(100));
    };
    // Whatever it left running (a daemon, a language server) goes with it.
    // SAFETY: as above.
    unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
    let printed = std::fs::read_to_string(&log_path).unwrap_or_default();
    let tail: String =
        printed.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join(" | ");
    Ok(match status {
        Some(s) => format!("it exited with {s}; it printed: {tail}"),
        None => format!("it did not finish within {} s; it printed: {tail}", limit.as_secs()),
    })
}
