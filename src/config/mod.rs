//! Configuration: `config.toml`, keymaps and themes. Each is loaded, merged over the
//! built-in defaults, and checked; a mistake gets an error naming the file, the line and
//! the key. `config.example.toml` documents every key read here.

pub mod error;
pub mod keymap;
pub mod layouts;
pub mod theme;

pub use error::ConfigError;
pub use keymap::{Action, CopyAction, Keymap, Mode};
pub use theme::Theme;

use crate::protocol::agent::AgentKind;
use error::parse_toml;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What happens to a pane when its program exits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnExit {
    /// A shell that exits cleanly closes its pane; anything else stays, showing how it
    /// ended, until you close it.
    #[default]
    Auto,
    Keep,
    Close,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// claude, codex, pi, gemini, opencode, or command (any program). Default: the kind
    /// the entry is named after, else command.
    pub kind: Option<AgentKind>,
    /// The program to run. Default for the agent kinds: the CLI's own name.
    pub command: Option<String>,
    #[serde(default)]
    pub args: Vec<String>,
    /// The model to ask for, passed to the agent as its model flag.
    pub model: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Working directory; `~` is the home directory. Default: where `teamster` was run.
    pub cwd: Option<String>,
    /// One line shown in the agent picker.
    pub description: Option<String>,
    /// "on" (the default): the agent runs confined (docs/sandbox.md); "off": as you.
    #[serde(default)]
    pub sandbox: crate::sandbox::Mode,
    /// More paths this agent may write, and read though hidden (`~` is your home).
    #[serde(default)]
    pub writable: Vec<String>,
    #[serde(default)]
    pub readable: Vec<String>,
    /// Files that make your tools run code (docs/sandbox.md) this agent may change
    /// nonetheless, by their names in the workspace (`.vscode`, `.mcp.json`, …).
    #[serde(default)]
    pub may_change: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub keymap: String,
    pub theme: String,
    pub scrollback_lines: usize,
    pub shell: Option<String>,
    pub start: Vec<String>,
    pub on_exit: OnExit,
    pub kill_grace_ms: u64,
    pub escape_time_ms: u64,
    pub mouse: bool,
    /// How an unfocused agent that starts waiting for you is announced.
    pub notify: Notify,
    /// What a program in a pane may do to your clipboard (OSC 52).
    pub clipboard: Clipboard,
    /// Hold every tool call an agent reports until `teamster approve` or `deny`.
    pub hold_tool_calls: bool,
    pub agents: BTreeMap<String, AgentConfig>,
    /// Route agents' LLM traffic through the metering proxy.
    pub meter: bool,
    /// Seconds an ask waits for a person before it is denied.
    pub ask_timeout_secs: u64,
    /// Where the proxy forwards each provider's requests.
    pub providers: BTreeMap<String, ProviderConfig>,
    /// Prices over the shipped table, per model.
    pub prices: BTreeMap<String, crate::meter::prices::Price>,
    pub pricing: PricingConfig,
    /// `[[policy]]` rules, in order.
    pub policy: Vec<crate::policy::RuleConfig>,
    /// What sandboxed agents may reach, write and read beyond the defaults.
    pub sandbox: crate::sandbox::SandboxConfig,
    /// `teamster share`: which share server, and for how long links last.
    pub share: ShareConfig,
    /// What your terminal draws, where teamster cannot tell by itself.
    pub terminal: TerminalConfig,
    /// `[layouts.NAME]`: tabs of panes opened at once (`teamster -l NAME`).
    pub layouts: BTreeMap<String, layouts::LayoutNode>,
    /// `[worktree]`: where `--worktree` panes' checkouts go and what is done in a new one.
    pub worktree: WorktreeConfig,
    /// `[review]`: what is run in each worktree to judge an agent's work.
    pub review: ReviewConfig,
}

/// `[review]` in the config.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReviewConfig {
    /// The project's check (`cargo test`, `npm test`), run with `sh -c` in a worktree
    /// pane's worktree each time its agent goes idle after working, confined as its agent
    /// is; its result shows in the compare view.
    pub check: Option<String>,
    /// A check that runs longer than this is stopped and counted as failed.
    pub check_timeout_secs: u64,
    /// Whether `merge --pr` may push a branch and open a pull request with `gh`.
    pub pull_requests: bool,
    /// The remote a pull request's branch is pushed to.
    pub remote: String,
}

impl Default for ReviewConfig {
    fn default() -> Self {
        ReviewConfig { check: None, check_timeout_secs: 900, pull_requests: true, remote: "origin".into() }
    }
}

/// `[worktree]` in the config.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorktreeConfig {
    /// The directory worktrees go in, one per branch; relative to the repository, `~`
    /// for your home, `{repo}` for the repository's name. Beside the repository by
    /// default, where other tools put them.
    pub dir: String,
    /// The branch a new worktree's branch starts from (default: what the main checkout
    /// has checked out).
    pub base: Option<String>,
    /// Files the repository ignores or does not track that a new worktree needs (`.env`),
    /// copied from the main checkout: globs relative to it (`*` and `?` within a name).
    pub copy: Vec<String>,
    /// Commands run in a new worktree before its agent starts (`npm ci`), one after
    /// another, in the agent's pane and its sandbox; the agent starts once they succeed.
    pub setup: Vec<String>,
}

impl Default for WorktreeConfig {
    fn default() -> Self {
        WorktreeConfig { dir: "../{repo}.worktrees".into(), base: None, copy: Vec::new(), setup: Vec::new() }
    }
}

/// `[terminal]`: each unset entry is found out (from the terminal's answers, its terminfo
/// entry and the variables terminals set); `true` or `false` overrides that.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TerminalConfig {
    /// Curly, dotted, dashed and double underlines (SGR `4:2`-`4:5`); else a plain one.
    pub styled_underline: Option<bool>,
    /// An underline of its own colour (SGR 58).
    pub underline_color: Option<bool>,
    /// A line over the text (SGR 53).
    pub overline: Option<bool>,
    /// Links a program printed (OSC 8), opened from the terminal.
    pub hyperlinks: Option<bool>,
}

/// `[share]` in the config.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShareConfig {
    /// The share server. On this machine's loopback, teamster starts one there when none
    /// answers; elsewhere, someone runs `teamster serve` (with TLS).
    pub server: String,
    /// How long a link works unless `--expires` says otherwise: "8h", "30m", "2d".
    pub expires: String,
    /// A file holding your team's token, for a server that registers shares for its team
    /// only (`teamster serve --team-token-file`); `~` is your home.
    pub team_token_file: Option<String>,
}

impl Default for ShareConfig {
    fn default() -> Self {
        ShareConfig { server: "http://127.0.0.1:6767".into(), expires: "12h".into(), team_token_file: None }
    }
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    pub base_url: String,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PricingConfig {
    /// The price of a model the table does not know.
    pub fallback: crate::meter::prices::Price,
}

impl Default for PricingConfig {
    fn default() -> Self {
        // Priced as the dearest common model: an unknown model's spend is overstated,
        // not hidden.
        PricingConfig { fallback: crate::meter::prices::Price::new(15.0, 75.0, 1.5, 18.75) }
    }
}

/// Besides the mark on the pane and its tab: nothing, the terminal's bell, or a desktop
/// notification through the terminal (OSC 9 or OSC 777).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Notify {
    Mark,
    #[default]
    Bell,
    Osc9,
    Osc777,
}

/// What a program's request to set the clipboard (OSC 52) does. A program in a pane may be
/// an agent working for someone else's prompt: a clipboard it sets is a command you paste.
/// As tmux, the default ignores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Clipboard {
    /// Ignored (tmux's default).
    #[default]
    Deny,
    /// The text is shown, control characters made visible, and you say y or n.
    Ask,
    /// Written to your terminal's clipboard.
    Allow,
}

impl AgentConfig {
    /// The entry's kind: as set, else the kind it is named after, else `command`.
    pub fn kind_or_default(&self, name: &str) -> Result<AgentKind, String> {
        match (self.kind, AgentKind::from_name(name), &self.command) {
            (Some(k), _, _) => Ok(k),
            (None, Some(k), _) if k != AgentKind::Command => Ok(k),
            (None, _, Some(_)) => Ok(AgentKind::Command),
            (None, _, None) => Err(format!(
                "[agents.{name}] sets neither `kind` nor `command`; set kind (claude, codex, pi, gemini, opencode) or the command to run"
            )),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            keymap: "default".into(),
            theme: "dark".into(),
            scrollback_lines: 10_000,
            shell: None,
            start: Vec::new(),
            on_exit: OnExit::Auto,
            kill_grace_ms: 3000,
            escape_time_ms: 10,
            mouse: true,
            notify: Notify::Bell,
            clipboard: Clipboard::Deny,
            hold_tool_calls: false,
            agents: BTreeMap::new(),
            meter: true,
            ask_timeout_secs: 900,
            providers: BTreeMap::new(),
            prices: BTreeMap::new(),
            pricing: PricingConfig::default(),
            policy: Vec::new(),
            sandbox: crate::sandbox::SandboxConfig::default(),
            terminal: TerminalConfig::default(),
            layouts: BTreeMap::new(),
            share: ShareConfig::default(),
            worktree: WorktreeConfig::default(),
            review: ReviewConfig::default(),
        }
    }
}

/// The most scrollback a pane may keep; beyond this a typo (an extra zero or three)
/// would quietly cost gigabytes.
pub const MAX_SCROLLBACK: usize = 1_000_000;

impl Config {
    /// Reads the config file; a missing file means the defaults.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(e) => return Err(ConfigError::new(path, 0, "", format!("cannot read it: {e}"))),
        };
        Config::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let mut config: Config = parse_toml(path, text)?;
        config.check(path, text)?;
        config.policy = config.expand_includes(path, text, 0)?;
        Ok(config)
    }

    /// The policy list with every `include` replaced by the rules of its file (relative
    /// to the file that names it), errors naming the file and line.
    fn expand_includes(
        &self,
        path: &Path,
        text: &str,
        depth: usize,
    ) -> Result<Vec<crate::policy::RuleConfig>, ConfigError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct PolicyFile {
            #[serde(default)]
            policy: Vec<crate::policy::RuleConfig>,
        }
        let mut out = Vec::new();
        for (i, rule) in self.policy.iter().enumerate() {
            let line = nth_line(text, "[[policy]]", i);
            let Some(include) = &rule.include else {
                crate::policy::Rule::compile(rule, i)
                    .map_err(|(key, message)| ConfigError::new(path, line, format!("policy.{key}"), message))?;
                out.push(rule.clone());
                continue;
            };
            if depth > 8 {
                return Err(ConfigError::new(
                    path,
                    line,
                    "policy.include",
                    "includes nest too deep (does a file include itself?)",
                ));
            }
            if *rule != (crate::policy::RuleConfig { include: Some(include.clone()), ..Default::default() }) {
                return Err(ConfigError::new(
                    path,
                    line,
                    "policy.include",
                    "a [[policy]] with `include` has nothing else in it",
                ));
            }
            let dir = path.parent().unwrap_or(Path::new("."));
            let file = dir.join(expand_home(include));
            let text = std::fs::read_to_string(&file).map_err(|e| {
                ConfigError::new(path, line, "policy.include", format!("cannot read {}: {e}", file.display()))
            })?;
            let inner: PolicyFile = parse_toml(&file, &text)?;
            let nested = Config { policy: inner.policy, ..Config::default() };
            out.extend(nested.expand_includes(&file, &text, depth + 1)?);
        }
        Ok(out)
    }

    /// The compiled policy rules (checked when the config was read), with
    /// `hold_tool_calls` as a last rule.
    pub fn rules(&self) -> Vec<crate::policy::Rule> {
        let mut rules: Vec<crate::policy::Rule> =
            self.policy.iter().enumerate().filter_map(|(i, c)| crate::policy::Rule::compile(c, i).ok()).collect();
        if self.hold_tool_calls {
            rules.push(crate::policy::Rule::hold_every_tool_call());
        }
        rules
    }

    /// The shipped prices with this config's over them.
    pub fn prices(&self) -> crate::meter::prices::Prices {
        crate::meter::prices::Prices::new(self.prices.clone(), self.pricing.fallback)
    }

    fn check(&self, path: &Path, text: &str) -> Result<(), ConfigError> {
        let err = |key: &str, message: String| ConfigError::new(path, line_of_key(text, key), key, message);
        if self.scrollback_lines > MAX_SCROLLBACK {
            return Err(err(
                "scrollback_lines",
                format!("{} is more than the {MAX_SCROLLBACK} lines allowed", self.scrollback_lines),
            ));
        }
        for name in &self.start {
            if name != "shell"
                && !self.agents.contains_key(name)
                && !AgentKind::BUILT_IN.iter().any(|k| k.name() == name)
            {
                let mut known: Vec<String> =
                    std::iter::once("shell".to_string()).chain(self.agents.keys().cloned()).collect();
                known.extend(AgentKind::BUILT_IN.iter().map(|k| k.name().to_string()));
                return Err(err(
                    "start",
                    format!("`{name}` is not an agent; define [agents.{name}] or use one of: {}", known.join(", ")),
                ));
            }
        }
        for (name, layout) in &self.layouts {
            let key = format!("layouts.{name}");
            if name.parse::<crate::layout::Arrangement>().is_ok() {
                return Err(err(&key, format!("`{name}` is a built-in arrangement's name; name the layout otherwise")));
            }
            let is_agent = |a: &str| {
                a == "shell" || self.agents.contains_key(a) || AgentKind::BUILT_IN.iter().any(|k| k.name() == a)
            };
            layout.check(&key, &is_agent).map_err(|(k, message)| err(&k, message))?;
        }
        for (name, agent) in &self.agents {
            if agent.command.as_ref().is_some_and(|c| c.trim().is_empty()) {
                return Err(err(&format!("agents.{name}"), "`command` is empty; name the program to run".into()));
            }
            agent.kind_or_default(name).map_err(|m| err(&format!("agents.{name}"), m))?;
            if agent.kind == Some(AgentKind::Command) && agent.command.is_none() {
                return Err(err(
                    &format!("agents.{name}"),
                    "kind = \"command\" needs `command`: the program to run".into(),
                ));
            }
        }
        Ok(())
    }

    /// The shell new panes run: the config's, else `$SHELL`, else `/bin/sh`.
    pub fn shell(&self) -> String {
        self.shell
            .clone()
            .or_else(|| std::env::var("SHELL").ok().filter(|s| !s.is_empty()))
            .unwrap_or_else(|| "/bin/sh".into())
    }

    /// Loads the keymap and theme this config names, with the user's overrides from
    /// `keymap.toml` and `theme.toml` beside the config file.
    pub fn load_ui(&self, config_file: &Path) -> Result<(Keymap, Theme), ConfigError> {
        let dir = config_file.parent().map(Path::to_path_buf).unwrap_or_default();
        let relative = |p: &str| -> String {
            if matches!(p, "default" | "alt" | "tmux" | "dark" | "light" | "high-contrast")
                || Path::new(p).is_absolute()
            {
                p.to_string()
            } else {
                expand_home(p).to_string_lossy().into_owned()
            }
        };
        let keymap = Keymap::load(&relative(&self.keymap), Some(&dir.join("keymap.toml")))?;
        let overrides = dir.join("theme.toml");
        let named = relative(&self.theme);
        let theme = match Theme::load(&named, Some(&overrides)) {
            Ok(t) => t,
            // A name that is neither a built-in theme nor a file (a typo): the default, said
            // so. A theme file with a mistake in it is still refused, with where.
            Err(_) if !Path::new(&named).exists() => {
                let mut t = Theme::load("dark", Some(&overrides))?;
                let names = crate::config::theme::BUILTIN_THEMES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ");
                t.instead_of = Some(format!(
                    "theme \"{}\" in the config is neither {names} nor a theme file: using the dark theme",
                    crate::text::visible(&self.theme)
                ));
                t
            }
            Err(e) => return Err(e),
        };
        Ok((keymap, theme))
    }
}

/// `~/x` to the home directory's `x`.
pub fn expand_home(p: &str) -> PathBuf {
    match p.strip_prefix("~/") {
        Some(rest) => crate::paths::home().join(rest),
        None if p == "~" => crate::paths::home(),
        None => PathBuf::from(p),
    }
}

/// The line of the `n`th (0-based) line that starts with `header`.
fn nth_line(text: &str, header: &str, n: usize) -> usize {
    text.lines().enumerate().filter(|(_, l)| l.trim_start().starts_with(header)).nth(n).map_or(0, |(i, _)| i + 1)
}

/// The line where `key` (dotted: `agents.claude`) is set, for errors found after parsing.
fn line_of_key(text: &str, key: &str) -> usize {
    let last = key.rsplit('.').next().unwrap_or(key);
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            l.starts_with(&format!("[{key}]")) || l.starts_with(last) && l[last.len()..].trim_start().starts_with('=')
        })
        .map_or(0, |i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("/home/u/.config/teamster/config.toml"), text)
    }

    #[test]
    fn empty_config_is_the_defaults() {
        assert_eq!(parse("").unwrap(), Config::default());
    }

    #[test]
    fn example_config_parses_and_loads_its_keymap_and_theme() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
        let text = std::fs::read_to_string(&path).expect("config.example.toml");
        let c = Config::parse(&path, &text).unwrap_or_else(|e| panic!("{e}"));
        c.load_ui(&path).unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn agents_parse() {
        let c =
            parse("[agents.build]\ncommand = \"make\"\nargs = [\"-j4\"]\nenv = { CC = \"clang\" }\ncwd = \"~/src\"\n")
                .unwrap();
        let a = &c.agents["build"];
        assert_eq!(
            (a.command.as_deref().unwrap_or_default(), a.args.as_slice(), a.env["CC"].as_str()),
            ("make", &["-j4".to_string()][..], "clang")
        );
    }

    #[test]
    fn mistakes_name_the_line_the_key_and_what_is_expected() {
        let cases: &[(&str, usize, &str, &str)] = &[
            ("theme = \"dark\"\nscrollback_lines = \"lots\"\n", 2, "scrollback_lines", "expected a whole number"),
            ("\n\nscrollbak_lines = 5\n", 3, "scrollbak_lines", "unknown field"),
            ("[agents.x]\ncommand = \"a\"\nargs = \"b\"\n", 3, "agents.x.args", "expected a list"),
            ("[agents.x]\ncommand = \"a\"\ncolour = 1\n", 3, "agents.x.colour", "unknown field"),
            ("mouse = \"yes\"\n", 1, "mouse", "expected true or false"),
            ("on_exit = \"explode\"\n", 1, "on_exit", "unknown variant"),
            ("start = [\"claudia\"]\n", 1, "start", "`claudia` is not an agent"),
            ("[agents.x]\nkind = \"command\"\n", 1, "agents.x", "needs `command`"),
            ("[agents.x]\nargs = [\"a\"]\n", 1, "agents.x", "sets neither `kind` nor `command`"),
            ("[agents.x]\nkind = \"copilot\"\n", 2, "agents.x.kind", "unknown variant"),
            ("scrollback_lines = 99999999\n", 1, "scrollback_lines", "more than"),
            ("theme = \"dark\"\nkeymap = [\n", 2, "", "not valid TOML"),
        ];
        for (text, line, key, words) in cases {
            let e = parse(text).expect_err(text);
            assert_eq!((e.line, e.key.as_str()), (*line, *key), "{text:?} gave: {e}");
            assert!(e.message.contains(words), "{text:?} gave: {e}");
            assert!(e.to_string().starts_with("/home/u/.config/teamster/config.toml, line"), "{e}");
        }
    }

    #[test]
    fn a_keymap_or_theme_that_does_not_exist_is_named() {
        let c = parse("keymap = \"emacs\"\n").unwrap();
        let e = c.load_ui(Path::new("/nonexistent/config.toml")).unwrap_err();
        assert!(e.message.contains("\"default\", \"alt\", \"tmux\""), "{e}");
        // A theme name that is no theme: the default, and why.
        let c = parse("theme = \"darkk\"\n").unwrap();
        let (_, theme) = c.load_ui(Path::new("/nonexistent/config.toml")).expect("the default theme");
        assert_eq!(theme.name, "dark");
        let why = theme.instead_of.unwrap_or_default();
        assert!(
            why.contains("darkk")
                && why.contains("dark, light, high-contrast")
                && why.ends_with("using the dark theme"),
            "{why}"
        );
    }
}
