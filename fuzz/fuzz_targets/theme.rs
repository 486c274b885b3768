//! A theme file from its text: as a whole theme, and as a user's overrides of the
//! built-in dark theme.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use teamster::config::theme::{BUILTIN_THEMES, Theme};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = Theme::parse("fuzz", Path::new("fuzz.toml"), text, None);
    let (_, dark) = BUILTIN_THEMES[0];
    if let Ok(theme) = Theme::parse("dark", Path::new("dark.toml"), dark, Some((Path::new("theme.toml"), text))) {
        let _ = theme.style("border");
    }
});
