//! config.toml from its text: parsed, checked and its policy rules compiled.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use teamster::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // In a directory that does not exist: a relative `include` names no file.
    if let Ok(config) = Config::parse(Path::new("/nonexistent/teamster-fuzz/config.toml"), text) {
        let _ = config.rules();
        let _ = config.prices();
        let _ = config.shell();
    }
});
