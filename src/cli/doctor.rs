//! `teamster doctor`: checks the config, the terminal and the environment, and says what
//! is wrong and how to fix it.

use crate::config::Config;
use crate::paths;
use std::io::IsTerminal;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

#[derive(Debug, PartialEq)]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

pub struct Check {
    pub status: Status,
    pub what: String,
    pub detail: String,
    pub fix: Option<String>,
}

fn ok(what: &str, detail: impl Into<String>) -> Check {
    Check { status: Status::Ok, what: what.into(), detail: detail.into(), fix: None }
}

fn warn(what: &str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
    Check { status: Status::Warn, what: what.into(), detail: detail.into(), fix: Some(fix.into()) }
}

fn fail(what: &str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
    Check { status: Status::Fail, what: what.into(), detail: detail.into(), fix: Some(fix.into()) }
}

pub fn checks(config_path: &Path, live: bool) -> Vec<Check> {
    let mut out = Vec::new();

    // Config.
    let config = if config_path.exists() {
        match Config::load(config_path) {
            Ok(c) => {
                out.push(ok("config", format!("{} reads cleanly", config_path.display())));
                Some(c)
            }
            Err(e) => {
                out.push(fail(
                    "config",
                    e.to_string(),
                    "fix the line named above; config.example.toml documents every key",
                ));
                None
            }
        }
    } else {
        out.push(ok("config", format!("no {}; using the defaults", config_path.display())));
        Some(Config::default())
    };
    // The sandbox's protections.
    use crate::sandbox::{Feature, enter};
    let missing = crate::sandbox::missing_features();
    let accepted = config.as_ref().map(|c| c.sandbox.run_without.clone()).unwrap_or_default();
    for f in Feature::ALL {
        let what = format!("sandbox: {}", f.name());
        let why = enter::kernel_lacks(f).map(|w| format!(" ({w})")).unwrap_or_default();
        let gaps = match (f, enter::landlock_abi()) {
            (Feature::Landlock, Some(abi)) => Some((abi, enter::landlock_gaps(abi))),
            _ => None,
        };
        if !missing.contains(&f) {
            match gaps {
                Some((abi, gaps)) if !gaps.is_empty() => out.push(warn(
                    &what,
                    format!("ABI {abi}: does not cover {}", gaps.join("; ")),
                    "a newer kernel (6.12 or later) covers these",
                )),
                Some((abi, _)) => out.push(ok(&what, format!("available (ABI {abi})"))),
                None => out.push(ok(&what, "available")),
            }
        } else if accepted.contains(&f) {
            out.push(warn(
                &what,
                format!("missing{why}: {}", f.loss()),
                "run_without accepts this; a newer kernel would not need it",
            ));
        } else {
            out.push(fail(
                &what,
                format!("missing{why}: {}; sandboxed agents will not start", f.loss()),
                format!("use a kernel with it, or add `run_without = [\"{}\"]` under [sandbox]", f.name()),
            ));
        }
    }
    if let Some(c) = &config {
        match c.load_ui(config_path) {
            Ok((_, theme)) => out.push(match &theme.instead_of {
                Some(why) => warn("keys and theme", why.clone(), "set `theme` in the config to a theme that exists"),
                None => ok("keys and theme", format!("keymap \"{}\", theme \"{}\"", c.keymap, theme.name)),
            }),
            Err(e) => out.push(fail(
                "keys and theme",
                e.to_string(),
                "fix the file named above, or remove it to use the built-in defaults",
            )),
        }
        out.extend(agent_checks(c, live));
        out.push(read_hosts(&c.sandbox));
        let shell = c.shell();
        match crate::paths::which(&shell) {
            Some(_) => out.push(ok("shell", format!("new panes run {shell}"))),
            None => out.push(fail(
                "shell",
                format!("{shell} cannot be run"),
                "set `shell` in the config or $SHELL to an installed shell",
            )),
        }
    }

    // Terminal.
    if std::io::stdout().is_terminal() {
        let (cols, rows) = crossterm::terminal::size().unwrap_or((0, 0));
        if cols < 40 || rows < 10 {
            out.push(warn(
                "terminal size",
                format!("{cols}x{rows}"),
                "make the window larger; panes need room for their borders",
            ));
        } else {
            out.push(ok("terminal size", format!("{cols}x{rows}")));
        }
        if std::io::stdin().is_terminal() {
            out.extend(terminal_answers(config.as_ref(), config_path));
        }
    } else {
        out.push(warn(
            "terminal",
            "stdout is not a terminal",
            "run `teamster doctor` in the terminal you will use teamster in",
        ));
    }
    match std::env::var("TERM") {
        Ok(t) if t == "dumb" || t.is_empty() => {
            out.push(fail("TERM", format!("TERM={t}"), "set TERM to your terminal's type, e.g. xterm-256color"))
        }
        Ok(t) => out.push(ok("TERM", t)),
        Err(_) => out.push(fail("TERM", "TERM is not set", "set TERM to your terminal's type, e.g. xterm-256color")),
    }
    match std::env::var("COLORTERM") {
        Ok(c) if c == "truecolor" || c == "24bit" => out.push(ok("colours", "true colour")),
        _ => out.push(warn(
            "colours",
            "COLORTERM does not say truecolor",
            "if your terminal shows 24-bit colour, export COLORTERM=truecolor; programs' true colours are passed through as they are",
        )),
    }
    let locale = ["LC_ALL", "LC_CTYPE", "LANG"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .unwrap_or_default();
    if locale.to_uppercase().contains("UTF-8") || locale.to_uppercase().contains("UTF8") {
        out.push(ok("locale", locale));
    } else {
        out.push(warn(
            "locale",
            if locale.is_empty() { "no LANG or LC_ALL".to_string() } else { locale },
            "use a UTF-8 locale (e.g. LANG=C.UTF-8) so wide characters and box drawing show correctly",
        ));
    }
    if let Ok(pane) = std::env::var("TEAMSTER_PANE") {
        out.push(ok("inside teamster", format!("this shell is pane {pane}; `teamster new` opens panes beside it")));
    }

    // Runtime and state directories, and the runner.
    let runtime = paths::runtime_dir();
    match paths::ensure_private_dir(&runtime) {
        Ok(()) => match std::fs::metadata(&runtime) {
            Ok(m) if m.mode() & 0o077 == 0 => {
                out.push(ok("socket directory", format!("{} (owner only)", runtime.display())))
            }
            _ => out.push(fail("socket directory", runtime.display().to_string(), "make it mode 0700: chmod 700 it")),
        },
        Err(e) => out.push(fail("socket directory", e.to_string(), "set XDG_RUNTIME_DIR to a directory you own")),
    }
    let state = paths::state_dir();
    match std::fs::create_dir_all(&state) {
        Ok(()) => out.push(ok("state directory", state.display().to_string())),
        Err(e) => out.push(fail(
            "state directory",
            format!("{}: {e}", state.display()),
            "set XDG_STATE_HOME to a writable directory",
        )),
    }
    let socket = paths::socket_path();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build();
    let reached = rt.map(|rt| rt.block_on(super::connect(&socket)));
    match reached {
        Ok(Ok(_)) => out.push(ok("runner", format!("running, listening on {}", socket.display()))),
        Ok(Err(e)) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused) => {
            out.push(ok("runner", "not running; `teamster` starts it"))
        }
        Ok(Err(e)) => out.push(fail(
            "runner",
            format!("{}: {e}", socket.display()),
            format!(
                "see {} for why; if it is stuck, end it by its PID and run teamster again",
                state.join("runner.log").display()
            ),
        )),
        Err(e) => out.push(fail("runner", e.to_string(), "")),
    }
    out
}

/// Prints the checks; returns the process exit code (1 if anything failed).
pub fn run(config_path: &Path, live: bool, json: bool) -> i32 {
    if live {
        eprintln!("running each installed agent once against a local stand-in provider; this takes a minute…");
    }
    let checks = checks(config_path, live);
    let failed = checks.iter().filter(|c| c.status == Status::Fail).count();
    if json {
        let list: Vec<serde_json::Value> = checks
            .iter()
            .map(|c| {
                let status = match c.status {
                    Status::Ok => "ok",
                    Status::Warn => "warn",
                    Status::Fail => "fail",
                };
                serde_json::json!({ "status": status, "what": c.what, "detail": c.detail, "fix": c.fix })
            })
            .collect();
        let warned = checks.iter().filter(|c| c.status == Status::Warn).count();
        let out = serde_json::json!({ "checks": list, "failed": failed, "warned": warned });
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        return i32::from(failed > 0);
    }
    for c in &checks {
        let mark = match c.status {
            Status::Ok => "ok  ",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        };
        // Details quote what installed programs printed (versions, errors).
        println!("{mark} {:<16} {}", c.what, crate::text::visible(&c.detail));
        if let Some(fix) = c.fix.as_ref().filter(|f| !f.is_empty()) {
            println!("     {:<16} fix: {}", "", crate::text::visible(fix));
        }
    }
    let failed = checks.iter().filter(|c| c.status == Status::Fail).count();
    let warned = checks.iter().filter(|c| c.status == Status::Warn).count();
    println!();
    match (failed, warned) {
        (0, 0) => println!("everything looks right"),
        (0, w) => println!("{w} warning{}; teamster will run", if w == 1 { "" } else { "s" }),
        (f, _) => println!("{f} problem{} to fix", if f == 1 { "" } else { "s" }),
    }
    i32::from(failed > 0)
}

/// One line per agent: installed or not, its version, and for the built-in kinds whether
/// teamster's side of the integration reads the agent's hooks and answers in its format;
/// with `live`, whether it works with the installed version, run for real (once per
/// program).
fn agent_checks(config: &Config, live: bool) -> Vec<Check> {
    let mut out = Vec::new();
    let mut checked: std::collections::HashMap<std::path::PathBuf, Result<String, String>> = Default::default();
    let teamster = std::env::current_exe().unwrap_or_else(|_| "teamster".into());
    for agent in crate::agents::all(config) {
        let what = format!("agent {}", agent.name);
        let configured = config.agents.contains_key(&agent.name);
        let Some(path) = crate::paths::which(&agent.binary) else {
            if configured {
                out.push(warn(
                    &what,
                    format!("`{}` is not on PATH", agent.binary),
                    format!("install it, or set [agents.{}] command to its full path", agent.name),
                ));
            } else {
                let install = match agent.kind {
                    crate::agents::AgentKind::Claude => "npm install -g @anthropic-ai/claude-code",
                    crate::agents::AgentKind::Codex => "npm install -g @openai/codex",
                    crate::agents::AgentKind::Pi => "npm install -g @mariozechner/pi-coding-agent",
                    crate::agents::AgentKind::Gemini => "npm install -g @google/gemini-cli",
                    crate::agents::AgentKind::Opencode => "npm install -g opencode-ai",
                    crate::agents::AgentKind::Command => "",
                };
                out.push(Check {
                    status: Status::Ok,
                    what,
                    detail: format!("not installed ({install} to use it)"),
                    fix: None,
                });
            }
            continue;
        };
        let version = match version_of(&path) {
            Ok(v) => v,
            Err(e) => {
                out.push(fail(
                    &what,
                    format!("{} at {}: {}", agent.kind.title(), path.display(), e),
                    "run it by hand to see what it needs (a toolchain, a runtime), or point `command` at one that works",
                ));
                continue;
            }
        };
        let detail = format!("{} {} at {}", agent.kind.title(), version, path.display());
        match agent.kind {
            crate::agents::AgentKind::Command => out.push(ok(&what, detail)),
            kind => match crate::agents::self_check(kind) {
                Err(e) => out.push(fail(
                    &what,
                    format!("{detail}; integration check failed: {e}"),
                    "report this as a teamster bug",
                )),
                Ok(()) if !live => out.push(ok(
                    &what,
                    format!("{detail}; hooks answer as it expects (`teamster doctor --live` runs it to be sure)"),
                )),
                Ok(()) => {
                    let result = checked
                        .entry(path.clone())
                        .or_insert_with(|| crate::agents::probe::live_check(&agent, &teamster, &path))
                        .clone();
                    match result {
                        Ok(said) => out.push(ok(&what, format!("{detail}; {said}"))),
                        Err(e) => out.push(fail(
                            &what,
                            format!("{detail}; live check failed: {e}"),
                            "if the agent itself works, its hooks may have changed: report this with its version",
                        )),
                    }
                }
            },
        }
    }
    out
}

/// Whether the hosts whose traffic the proxy reads (git hosts, registries) are ones agents
/// may reach: one that `allow_hosts` leaves out is read by nobody, since nothing gets there.
/// What the terminal says when asked (as the TUI asks it): its colours, which programs
/// that ask are told (else the theme's), and whether it reports keys with their
/// modifiers.
fn terminal_answers(config: Option<&Config>, config_path: &Path) -> Vec<Check> {
    if crossterm::terminal::enable_raw_mode().is_err() {
        return Vec::new();
    }
    let answers = crate::tui::query_terminal();
    let _ = crossterm::terminal::disable_raw_mode();
    let hex = |(r, g, b): (u8, u8, u8)| format!("#{r:02x}{g:02x}{b:02x}");
    let colours = match answers.colors {
        Some(c) => ok(
            "terminal colours",
            format!("it says {} on {}: programs that ask (OSC 10/11) are told these", hex(c.fg), hex(c.bg)),
        ),
        None => {
            let theme = config
                .and_then(|c| c.load_ui(config_path).ok())
                .map(|(_, t)| t)
                .or_else(|| crate::config::Theme::load("dark", None).ok());
            let Some(theme) = theme else {
                return vec![keys_check(answers.kitty_keys), styles_check(config, answers.kitty_keys)];
            };
            warn(
                "terminal colours",
                format!(
                    "it does not say: programs that ask (OSC 10/11) are told the {} theme's, {} on {}",
                    theme.name,
                    hex(theme.terminal_fg),
                    hex(theme.terminal_bg)
                ),
                "if those are not your terminal's, set terminal_fg and terminal_bg in your theme file",
            )
        }
    };
    vec![colours, keys_check(answers.kitty_keys), styles_check(config, answers.kitty_keys)]
}

/// Which of programs' styles and links go out as drawn, and what decided it.
fn styles_check(config: Option<&Config>, kitty: bool) -> Check {
    let terminal = config.map(|c| c.terminal).unwrap_or_default();
    let (features, source) = crate::tui::features::Features::detect(&terminal, kitty);
    let text = format!("{} (from {source})", features.describe());
    if features == crate::tui::features::Features::ALL {
        ok("terminal styles", text)
    } else {
        warn(
            "terminal styles",
            text,
            "curly, dotted and dashed underlines go out as plain ones and links as text; if your terminal draws them, say so in [terminal] in the config (styled_underline, underline_color, overline, hyperlinks = true)",
        )
    }
}

fn keys_check(kitty: bool) -> Check {
    if kitty {
        ok(
            "modified keys",
            "the terminal speaks the kitty keyboard protocol: Shift+Enter and ctrl-shift keys reach agents",
        )
    } else {
        warn(
            "modified keys",
            "the terminal does not speak the kitty keyboard protocol: teamster asks for xterm's modifyOtherKeys, which not every terminal has",
            "if Shift+Enter submits instead of starting a new line, use a terminal with the kitty keyboard protocol (kitty, foot, WezTerm, Ghostty, Alacritty, iTerm2)",
        )
    }
}

fn read_hosts(s: &crate::sandbox::SandboxConfig) -> Check {
    let what = "git hosts and registries";
    // The default git hosts are read in case `allow_hosts` lets agents reach them.
    let defaults = crate::sandbox::SandboxConfig::default().git_hosts;
    let unreachable: Vec<&String> = s
        .git_hosts
        .iter()
        .chain(&s.registries)
        .filter(|entry| !defaults.contains(entry))
        .filter(|entry| {
            let (host, port) = match entry.rsplit_once(':').and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?))) {
                Some((h, p)) => (h, p),
                None => (entry.as_str(), 443),
            };
            crate::sandbox::host_allowed(&s.allow_hosts, host, port).is_none()
        })
        .collect();
    if unreachable.is_empty() {
        return ok(what, format!("pushes read on {}", s.git_hosts.join(", ")));
    }
    let names: Vec<&str> = unreachable.iter().map(|h| h.as_str()).collect();
    warn(
        what,
        format!(
            "agents may not reach {} (not in allow_hosts): their pushes and downloads there are refused",
            names.join(", ")
        ),
        "add them to `allow_hosts` under [sandbox] if agents should reach them",
    )
}

/// The first line `program --version` prints, waiting at most 5 seconds; an error, with
/// what it said, when it fails (a version manager that cannot pick a version prints its
/// complaint where a version would be).
fn version_of(program: &std::path::Path) -> Result<String, String> {
    let mut child = std::process::Command::new(program)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run it: {e}"))?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("`--version` did not answer within 5 seconds".into());
            }
        }
    };
    // Some print it on stderr (Pi does).
    use std::io::Read;
    let (mut out, mut err) = (String::new(), String::new());
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut out);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let first = |t: &str| t.lines().map(str::trim).find(|l| !l.is_empty()).map(str::to_string);
    if !status.success() {
        let said = first(&err).or_else(|| first(&out)).unwrap_or_else(|| "nothing".into());
        return Err(format!("`--version` failed ({status}): {said}"));
    }
    first(&out).or_else(|| first(&err)).ok_or_else(|| "`--version` printed nothing".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_that_fails_is_an_error_not_a_version() {
        let dir = std::env::temp_dir().join(format!("teamster-doctor-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        // A child writes each script: a descriptor open for writing in this process could be
        // held by another test's fork at our exec ("Text file busy").
        let write = |name: &str, body: &str| {
            let p = dir.join(name);
            let made = std::process::Command::new("sh")
                .args(["-c", "printf '#!/bin/sh\\n%s\\n' \"$2\" > \"$1\" && chmod 755 \"$1\"", "sh"])
                .arg(&p)
                .arg(body)
                .status();
            assert!(made.is_ok_and(|s| s.success()), "writing {}", p.display());
            p
        };
        let broken = write("broken", "echo 'error: rustup could not choose a version of cargo to run' >&2; exit 1");
        let err = version_of(&broken).err().unwrap_or_default();
        assert!(err.contains("`--version` failed") && err.contains("rustup could not choose"), "{err}");
        assert_eq!(version_of(&write("fine", "echo '2.1.0 (Claude Code)'")), Ok("2.1.0 (Claude Code)".into()));
        assert_eq!(version_of(&write("on-stderr", "echo 'pi 0.9' >&2")), Ok("pi 0.9".into()));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_read_host_agents_cannot_reach_is_named() {
        let mut s = crate::sandbox::SandboxConfig::default();
        assert_eq!(read_hosts(&s).status, Status::Ok, "the defaults need no change");
        s.git_hosts.push("git.corp.example".into());
        s.registries.push("npm.corp.example:8443".into());
        let c = read_hosts(&s);
        assert_eq!(c.status, Status::Warn);
        assert!(c.detail.contains("git.corp.example, npm.corp.example:8443"), "{}", c.detail);
        s.allow_hosts.extend(["git.corp.example".into(), "npm.corp.example:8443".into()]);
        assert_eq!(read_hosts(&s).status, Status::Ok);
    }
}
