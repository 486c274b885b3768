//! What the outer terminal draws beyond what every terminal does: styled underlines,
//! underline colours, overlines and hyperlinks. A program's styles are kept whatever the
//! terminal; these say which of them go out as drawn and which are degraded (a curly
//! underline to a plain one) or left out (an overline, a link's address).
//!
//! Found from, in order: `[terminal]` in the config; the terminal's own answer to the
//! kitty keyboard query (every terminal that speaks it draws all four); its terminfo entry
//! (`Smulx`, `Setulc`, `Smol`); and the variables terminals set about themselves. A
//! terminal none of these speaks for gets none of them: a sequence it does not know could
//! be drawn as text.

use crate::config::TerminalConfig;

pub use crate::protocol::Features;

impl Features {
    pub const ALL: Features =
        Features { styled_underline: true, underline_color: true, overline: true, hyperlinks: true };

    /// The features of the terminal teamster runs in.
    pub fn detect(config: &TerminalConfig, kitty_keys: bool) -> (Features, &'static str) {
        let env = |k: &str| std::env::var(k).ok();
        let term = env("TERM").unwrap_or_default();
        let terminfo = terminfo_caps(&term, &env);
        Self::decide(config, kitty_keys, terminfo, &env)
    }

    /// The decision, from what was found; says where it came from (for `teamster doctor`).
    pub fn decide(
        config: &TerminalConfig,
        kitty_keys: bool,
        terminfo: Option<TerminfoCaps>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> (Features, &'static str) {
        let (found, source) = Self::found(kitty_keys, terminfo, env);
        let any_set = [config.styled_underline, config.underline_color, config.overline, config.hyperlinks]
            .iter()
            .any(Option::is_some);
        (found.with_config(config), if any_set { "[terminal] in the config, then what it says" } else { source })
    }

    /// What the terminal says of itself, before the config has its say.
    fn found(
        kitty_keys: bool,
        terminfo: Option<TerminfoCaps>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> (Features, &'static str) {
        if kitty_keys {
            (Features::ALL, "it speaks the kitty keyboard protocol")
        } else if let Some(known) = by_environment(env) {
            (known, "the variables it sets")
        } else if let Some(caps) = terminfo.filter(|c| c.smulx || c.setulc || c.smol) {
            let f = Features {
                styled_underline: caps.smulx,
                underline_color: caps.setulc,
                overline: caps.smol,
                hyperlinks: false,
            };
            (f, "its terminfo entry")
        } else {
            (Features::default(), "nothing it says")
        }
    }

    /// What this process's terminal says of itself (its variables are this process's),
    /// for handing it to the runner, which applies the config.
    pub fn found_here(kitty_keys: bool) -> Features {
        Self::detect(&TerminalConfig::default(), kitty_keys).0
    }

    /// These, where `[terminal]` in the config does not say otherwise.
    pub fn with_config(self, config: &TerminalConfig) -> Features {
        let pick = |set: Option<bool>, found: bool| set.unwrap_or(found);
        Features {
            styled_underline: pick(config.styled_underline, self.styled_underline),
            underline_color: pick(config.underline_color, self.underline_color),
            overline: pick(config.overline, self.overline),
            hyperlinks: pick(config.hyperlinks, self.hyperlinks),
        }
    }

    /// For `teamster doctor`: "styled underlines, underline colours, hyperlinks".
    pub fn describe(&self) -> String {
        let names: Vec<&str> = [
            (self.styled_underline, "styled underlines"),
            (self.underline_color, "underline colours"),
            (self.overline, "overlines"),
            (self.hyperlinks, "hyperlinks"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, name)| *name)
        .collect();
        if names.is_empty() { "plain underlines only, no hyperlinks".into() } else { names.join(", ") }
    }
}

/// Terminals known by the variables they set (many say `TERM=xterm-256color` and more in
/// a variable of their own).
fn by_environment(env: &dyn Fn(&str) -> Option<String>) -> Option<Features> {
    let term = env("TERM").unwrap_or_default();
    let program = env("TERM_PROGRAM").unwrap_or_default();
    let all = Features::ALL;
    let no_overline = Features { overline: false, ..all };
    if term == "xterm-kitty" || term == "xterm-ghostty" || term.starts_with("foot") || env("KITTY_WINDOW_ID").is_some()
    {
        return Some(all);
    }
    match program.as_str() {
        "WezTerm" | "ghostty" | "vscode" => return Some(all),
        "iTerm.app" => return Some(no_overline),
        _ => {}
    }
    // tmux reads all four and passes on or degrades what its own terminal lacks.
    if env("TMUX").is_some() && (term.starts_with("tmux") || term.starts_with("screen")) {
        return Some(all);
    }
    if term == "alacritty" || env("ALACRITTY_WINDOW_ID").is_some() {
        return Some(no_overline);
    }
    // VTE (GNOME Terminal, Tilix, ...): styled and coloured underlines from 0.51.2,
    // hyperlinks from 0.50, overlines from 0.59.
    if let Some(vte) = env("VTE_VERSION").and_then(|v| v.parse::<u32>().ok()) {
        return Some(Features {
            styled_underline: vte >= 5102,
            underline_color: vte >= 5102,
            overline: vte >= 5901,
            hyperlinks: vte >= 5000,
        });
    }
    if env("WT_SESSION").is_some() {
        return Some(Features { hyperlinks: true, ..Features::default() });
    }
    None
}

/// The extended capabilities that matter here, from a terminfo entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TerminfoCaps {
    pub smulx: bool,
    pub setulc: bool,
    pub smol: bool,
}

/// Reads `term`'s compiled terminfo entry where ncurses looks for it.
fn terminfo_caps(term: &str, env: &dyn Fn(&str) -> Option<String>) -> Option<TerminfoCaps> {
    if term.is_empty() || term.contains('/') || term.starts_with('.') {
        return None;
    }
    let first = term.chars().next()?;
    let mut dirs: Vec<std::path::PathBuf> = Vec::new();
    dirs.extend(env("TERMINFO").map(Into::into));
    dirs.extend(env("HOME").map(|h| std::path::Path::new(&h).join(".terminfo")));
    if let Some(list) = env("TERMINFO_DIRS") {
        dirs.extend(list.split(':').filter(|d| !d.is_empty()).map(Into::into));
    }
    dirs.extend(["/etc/terminfo", "/lib/terminfo", "/usr/share/terminfo", "/usr/lib/terminfo"].map(Into::into));
    for dir in dirs {
        for sub in [first.to_string(), format!("{:02x}", first as u32)] {
            if let Ok(bytes) = std::fs::read(dir.join(sub).join(term)) {
                return Some(parse_terminfo(&bytes).unwrap_or_default());
            }
        }
    }
    None
}

/// The names of the extended string capabilities a compiled terminfo entry sets (term(5):
/// the legacy and the 32-bit number formats, and ncurses' extended section after them).
fn parse_terminfo(b: &[u8]) -> Option<TerminfoCaps> {
    let word = |at: usize| -> Option<i32> { Some(i16::from_le_bytes([*b.get(at)?, *b.get(at + 1)?]) as i32) };
    let count = |at: usize| -> Option<usize> { usize::try_from(word(at)?).ok() };
    let num_size = match word(0)? {
        0o432 => 2,
        0o1036 => 4,
        _ => return None,
    };
    let (names, bools, nums, strs, table) = (count(2)?, count(4)?, count(6)?, count(8)?, count(10)?);
    let mut at = 12 + names + bools;
    at += at % 2;
    at += nums * num_size + strs * 2 + table;
    at += at % 2;
    // The extended section: counts, then values, then the names of all of them.
    let (ext_bools, ext_nums, ext_strs, _items, ext_table) =
        (count(at)?, count(at + 2)?, count(at + 4)?, count(at + 6)?, count(at + 8)?);
    at += 10 + ext_bools;
    at += at % 2;
    at += ext_nums * num_size;
    let offsets: Vec<i32> = (0..ext_strs).map(|i| word(at + 2 * i)).collect::<Option<_>>()?;
    let name_count = ext_bools + ext_nums + ext_strs;
    at += 2 * (ext_strs + name_count);
    let table = b.get(at..at + ext_table)?;
    // The names follow the values that are present, each value ending in a NUL.
    let present = offsets.iter().filter(|o| **o >= 0).count();
    let mut names_start = 0;
    for _ in 0..present {
        names_start += table.get(names_start..)?.iter().position(|&c| c == 0)? + 1;
    }
    let names: Vec<&[u8]> = table.get(names_start..)?.split(|&c| c == 0).take(name_count).collect();
    let mut caps = TerminfoCaps::default();
    for (i, offset) in offsets.iter().enumerate() {
        let Some(name) = names.get(ext_bools + ext_nums + i) else { break };
        if *offset < 0 {
            continue;
        }
        match *name {
            b"Smulx" => caps.smulx = true,
            b"Setulc" => caps.setulc = true,
            b"Smol" => caps.smol = true,
            _ => {}
        }
    }
    Some(caps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn a_terminal_is_known_by_its_answers_its_variables_or_its_terminfo() {
        let none = TerminalConfig::default();
        let plain = env_of(&[("TERM", "xterm-256color")]);
        assert_eq!(Features::decide(&none, false, None, &plain).0, Features::default());
        assert_eq!(Features::decide(&none, true, None, &plain).0, Features::ALL);
        let wezterm = env_of(&[("TERM", "xterm-256color"), ("TERM_PROGRAM", "WezTerm")]);
        assert_eq!(Features::decide(&none, false, None, &wezterm).0, Features::ALL);
        let old_vte = env_of(&[("TERM", "xterm-256color"), ("VTE_VERSION", "5000")]);
        let f = Features::decide(&none, false, None, &old_vte).0;
        assert!(f.hyperlinks && !f.styled_underline);
        let caps = TerminfoCaps { smulx: true, setulc: false, smol: false };
        let f = Features::decide(&none, false, Some(caps), &plain).0;
        assert!(f.styled_underline && !f.underline_color && !f.hyperlinks);
        // The config has the last word.
        let off = TerminalConfig { hyperlinks: Some(false), ..none };
        assert!(!Features::decide(&off, true, None, &plain).0.hyperlinks);
        let on = TerminalConfig { overline: Some(true), ..none };
        assert!(Features::decide(&on, false, None, &plain).0.overline);
    }

    #[test]
    fn terminfo_entries_are_read_as_tic_writes_them() {
        let dir = std::env::temp_dir().join(format!("teamster-terminfo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let source = dir.join("entries");
        std::fs::write(
            &source,
            "tsfancy|styled underlines and colour,\n\tam, cols#80, bel=^G, Smulx=\\E[4:%p1%dm, Setulc=\\E[58:2::%p1%{65536}%/%d:%p1%{256}%/%{255}%&%d:%p1%{255}%&%dm, Ms=\\E]52;%p1%s;%p2%s\\007, XT, Cr@,\n\
             tsplain|nothing extended,\n\tam, cols#80, bel=^G,\n",
        )
        .unwrap();
        let out = std::process::Command::new("tic").arg("-x").arg("-o").arg(&dir).arg(&source).output();
        let Ok(out) = out else { panic!("tic (ncurses-bin) is needed for this test") };
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let d = dir.to_string_lossy().into_owned();
        let env = move |k: &str| (k == "TERMINFO").then(|| d.clone());
        assert_eq!(terminfo_caps("tsfancy", &env), Some(TerminfoCaps { smulx: true, setulc: true, smol: false }));
        assert_eq!(terminfo_caps("tsplain", &env), Some(TerminfoCaps::default()));
        assert_eq!(terminfo_caps("../../etc/passwd", &env), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_broken_terminfo_file_is_no_answer_not_a_panic() {
        assert_eq!(parse_terminfo(b""), None);
        assert_eq!(parse_terminfo(&[0x1a, 0x01, 0xff, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0]), None);
        let mut header = vec![0x1a, 0x01];
        header.extend([0u8; 10]);
        assert_eq!(parse_terminfo(&header), None, "no extended section");
    }
}
