//! A keymap file from its text, merged over the default keymap.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use teamster::config::keymap::{Keymap, Mode};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut map = Keymap::load("default", None).expect("the built-in keymap loads");
    if map.merge(Path::new("keymap.toml"), text).is_ok() {
        for mode in Mode::ALL {
            let _ = map.bindings(mode);
            let _ = map.hints(mode);
        }
    }
});
