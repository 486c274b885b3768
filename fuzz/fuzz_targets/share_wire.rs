//! The share server's WebSocket text messages, as each side reads them: the server reads
//! a runner's and a viewer's, the runner reads the server's, a viewer reads the server's.
//! Also a share link as `teamster attach` parses it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use teamster::share::crypto::Link;
use teamster::share::wire::{FromRunner, FromViewer, ToRunner, ToViewer};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = serde_json::from_str::<FromRunner>(text);
    let _ = serde_json::from_str::<FromViewer>(text);
    let _ = serde_json::from_str::<ToRunner>(text);
    let _ = serde_json::from_str::<ToViewer>(text);
    if let Ok(link) = Link::parse(text) {
        let _ = link.url(true);
        let _ = link.keys.read_token();
        let _ = link.keys.drive_token();
    }
});
