//! Themes: the colours of teamster's own chrome (borders, titles, status bar, overlays).
//! Pane contents are drawn in the colours their programs chose.
//!
//! A theme is a flat TOML file of style strings: colours (`#rrggbb`, a name such as
//! `bright-blue`, or a palette number), modifiers (`bold`, `dim`, `italic`, `underline`,
//! `reverse`), and `on` before the background: `"bold #ffffff on #005f87"`.
//! A user's `theme.toml` replaces only the keys it names.

use super::error::{ConfigError, line_of, parse_toml};
use crate::screen::{Attrs, Color, Style};
use std::collections::BTreeMap;
use std::path::Path;
use toml::Spanned;

pub const BUILTIN_THEMES: &[(&str, &str)] = &[
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    ("high-contrast", include_str!("../../themes/high-contrast.toml")),
];

/// Every key a theme has, with what it colours.
pub const THEME_KEYS: &[(&str, &str)] = &[
    ("border", "pane borders"),
    ("border_focused", "the focused pane's border"),
    ("title", "pane titles"),
    ("title_focused", "the focused pane's title"),
    ("pane_number", "the number in a pane's title"),
    ("exited", "a pane title's exit status"),
    ("agent_state", "an agent's state in its pane title (working, idle)"),
    ("branch", "a pane's git worktree branch in its title"),
    ("spend", "what an agent (in its title) or the session (in the status bar) has spent"),
    ("attention", "marks on panes and tabs that want attention"),
    ("status", "the status bar"),
    ("session", "the session name in the status bar"),
    ("tab", "tabs in the status bar"),
    ("tab_active", "the current tab"),
    ("mode", "the mode badge in the status bar"),
    ("hint_key", "keys in the status bar hints"),
    ("hint", "words in the status bar hints"),
    ("message", "messages in the status bar"),
    ("error", "errors in the status bar"),
    ("overlay", "pickers, prompts and help"),
    ("overlay_border", "their borders"),
    ("overlay_selected", "the selected line in a picker"),
    ("selection", "the copy-mode selection"),
    ("search_match", "search matches in copy mode"),
    ("copy_cursor", "the copy-mode cursor"),
    ("diff_add", "lines an edit puts in, on its approval card"),
    ("diff_remove", "lines an edit takes out, on its approval card"),
];

/// Theme keys that are colours, not styles.
const COLOR_KEYS: &[(&str, &str)] = &[
    ("terminal_fg", "the text colour reported to programs that ask (OSC 10) when the terminal does not say"),
    ("terminal_bg", "the background colour reported to programs that ask (OSC 11) when the terminal does not say"),
];

#[derive(Clone, Debug, PartialEq)]
pub struct Theme {
    pub name: String,
    styles: BTreeMap<&'static str, Style>,
    pub terminal_fg: (u8, u8, u8),
    pub terminal_bg: (u8, u8, u8),
    /// Why this is the default theme and not the one the config names (a name that is no
    /// theme: a typo should not keep you out of your sessions).
    pub instead_of: Option<String>,
}

impl Theme {
    /// A built-in theme by name or a theme file by path, then the user's overrides.
    pub fn load(base: &str, overrides: Option<&Path>) -> Result<Theme, ConfigError> {
        let (file, text) = match BUILTIN_THEMES.iter().find(|(n, _)| *n == base) {
            Some((name, text)) => (Path::new(name).with_extension("toml").to_path_buf(), text.to_string()),
            None => {
                let path = Path::new(base);
                let text = std::fs::read_to_string(path).map_err(|e| {
                    let names: Vec<&str> = BUILTIN_THEMES.iter().map(|(n, _)| *n).collect();
                    ConfigError::new(
                        path,
                        0,
                        "theme",
                        format!("cannot read it ({e}); use one of {} or a path to a theme file", names.join(", ")),
                    )
                })?;
                (path.to_path_buf(), text)
            }
        };
        let user = match overrides.filter(|p| p.exists()) {
            Some(path) => Some((
                path,
                std::fs::read_to_string(path)
                    .map_err(|e| ConfigError::new(path, 0, "", format!("cannot read it: {e}")))?,
            )),
            None => None,
        };
        Theme::parse(base, &file, &text, user.as_ref().map(|(p, t)| (*p, t.as_str())))
    }

    /// A theme from its base file's text, then the user's overrides' text (`load` without
    /// the reading).
    pub fn parse(name: &str, file: &Path, text: &str, overrides: Option<(&Path, &str)>) -> Result<Theme, ConfigError> {
        let mut entries = read(file, text)?;
        if let Some((path, text)) = overrides {
            entries.extend(read(path, text)?);
        }
        let mut theme = Theme {
            name: name.to_string(),
            styles: BTreeMap::new(),
            terminal_fg: (0xd0, 0xd0, 0xd0),
            terminal_bg: (0x1c, 0x1c, 0x1c),
            instead_of: None,
        };
        for (key, entry) in entries {
            match entry {
                Entry::Name(name) => theme.name = name,
                Entry::Rgb(rgb) if key == "terminal_fg" => theme.terminal_fg = rgb,
                Entry::Rgb(rgb) => theme.terminal_bg = rgb,
                Entry::Style(style) => {
                    if let Some((k, _)) = THEME_KEYS.iter().find(|(k, _)| *k == key) {
                        theme.styles.insert(k, style);
                    }
                }
            }
        }
        if let Some((key, what)) = THEME_KEYS.iter().find(|(k, _)| !theme.styles.contains_key(k)) {
            return Err(ConfigError::new(file, 0, *key, format!("missing; the theme must set it ({what})")));
        }
        Ok(theme)
    }

    pub fn style(&self, key: &str) -> Style {
        self.styles.get(key).copied().unwrap_or_default()
    }
}

enum Entry {
    Name(String),
    Style(Style),
    Rgb((u8, u8, u8)),
}

fn read(file: &Path, text: &str) -> Result<BTreeMap<String, Entry>, ConfigError> {
    let raw: BTreeMap<String, Spanned<String>> = parse_toml(file, text)?;
    let mut out = BTreeMap::new();
    for (key, value) in raw {
        let line = line_of(text, value.span().start);
        let entry = if key == "name" {
            Entry::Name(value.get_ref().clone())
        } else if COLOR_KEYS.iter().any(|(k, _)| *k == key) {
            match parse_color(value.get_ref()) {
                Some(Color::Rgb(r, g, b)) => Entry::Rgb((r, g, b)),
                _ => return Err(ConfigError::new(file, line, key, "expected a colour like \"#1c1c1c\"")),
            }
        } else if THEME_KEYS.iter().any(|(k, _)| *k == key) {
            Entry::Style(parse_style(value.get_ref()).map_err(|m| ConfigError::new(file, line, key.clone(), m))?)
        } else {
            let known: Vec<&str> = THEME_KEYS.iter().chain(COLOR_KEYS).map(|(k, _)| *k).collect();
            return Err(ConfigError::new(
                file,
                line,
                key,
                format!("not a theme key; the keys are: name, {}", known.join(", ")),
            ));
        };
        out.insert(key, entry);
    }
    Ok(out)
}

/// `"bold #ffffff on #005f87"`: modifiers and colours; the colour after `on` is the
/// background.
pub fn parse_style(s: &str) -> Result<Style, String> {
    let mut style = Style::default();
    let mut background = false;
    let mut any_fg = false;
    for word in s.split_whitespace() {
        let attr = match word {
            "bold" => Some(Attrs::BOLD),
            "dim" => Some(Attrs::DIM),
            "italic" => Some(Attrs::ITALIC),
            "underline" => Some(Attrs::UNDERLINE),
            "reverse" => Some(Attrs::INVERSE),
            "strike" => Some(Attrs::STRIKE),
            _ => None,
        };
        if let Some(a) = attr {
            style.attrs.set(a);
            continue;
        }
        if word == "on" {
            background = true;
            continue;
        }
        let color = parse_color(word).ok_or_else(|| {
            format!("`{word}` is not a colour or modifier; use e.g. \"bold #ffffff on #005f87\", \"bright-blue\", \"244\", or one of bold, dim, italic, underline, reverse")
        })?;
        if background {
            style.bg = color;
        } else if !any_fg {
            style.fg = color;
            any_fg = true;
        } else {
            return Err(format!("`{word}`: two text colours; write `on` before the background colour"));
        }
    }
    Ok(style)
}

pub fn parse_color(word: &str) -> Option<Color> {
    const NAMES: [&str; 8] = ["black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"];
    if let Some(hex) = word.strip_prefix('#') {
        if hex.len() != 6 {
            return None;
        }
        let v = u32::from_str_radix(hex, 16).ok()?;
        return Some(Color::Rgb((v >> 16) as u8, (v >> 8) as u8, v as u8));
    }
    if word == "default" {
        return Some(Color::Default);
    }
    if matches!(word, "gray" | "grey") {
        return Some(Color::Indexed(8));
    }
    if let Some(i) = NAMES.iter().position(|n| *n == word) {
        return Some(Color::Indexed(i as u8));
    }
    if let Some(i) = word.strip_prefix("bright-").and_then(|w| NAMES.iter().position(|n| *n == w)) {
        return Some(Color::Indexed(i as u8 + 8));
    }
    word.parse::<u8>().ok().map(Color::Indexed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_themes_are_complete() {
        for (name, _) in BUILTIN_THEMES {
            let t = Theme::load(name, None).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_ne!(t.style("border_focused"), t.style("border"), "{name}: the focused pane must stand out");
        }
    }

    #[test]
    fn style_strings() {
        let s = parse_style("bold #ffffff on #005f87").unwrap();
        assert_eq!((s.fg, s.bg), (Color::Rgb(255, 255, 255), Color::Rgb(0, 0x5f, 0x87)));
        assert!(s.attrs.has(Attrs::BOLD));
        assert_eq!(parse_style("bright-blue on 236").unwrap().bg, Color::Indexed(236));
        assert!(parse_style("purple").unwrap_err().contains("not a colour"));
        assert!(parse_style("red blue").is_err());
    }

    #[test]
    fn user_theme_overrides_named_keys_and_reports_bad_ones() {
        let dir = std::env::temp_dir().join(format!("teamster-theme-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let user = dir.join("theme.toml");
        std::fs::write(&user, "border = \"red\"\n").unwrap();
        let t = Theme::load("dark", Some(&user)).unwrap();
        assert_eq!(t.style("border").fg, Color::Indexed(1));
        assert_eq!(t.style("title"), Theme::load("dark", None).unwrap().style("title"));
        std::fs::write(&user, "# a comment\nborder_colour = \"red\"\n").unwrap();
        let e = Theme::load("dark", Some(&user)).unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (2, "border_colour"));
        std::fs::write(&user, "title = \"blod\"\n").unwrap();
        let e = Theme::load("dark", Some(&user)).unwrap_err();
        assert!(e.message.contains("`blod`"), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
