//! Sealed share payloads under a fixed key. With the first byte even, the rest is a sealed
//! string as it arrives from the relay (opened as an update, a reply and a viewer's
//! message). With it odd, the rest is sealed here first, so the parsing after a
//! successful open (an update's body, a reply's body, a viewer's message) sees arbitrary
//! plaintext, as it would from a peer holding the key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use teamster::protocol::ClientMsg;
use teamster::share::crypto::{Keys, aad};
use teamster::share::wire::{ReplyBody, UpdateBody};

const SHARE: &str = "c2hhcmUtaWQtZnV6eg";

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        Keys::from_fragment(
            SHARE,
            "r=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8&d=ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8",
        )
        .expect("the fixed fuzz keys are valid")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let k = keys();
    let seq = u64::from(pick >> 2);
    let snap = pick & 2 != 0;
    let update = aad::update(SHARE, seq, snap);
    let reply = aad::reply(SHARE);
    let viewer = aad::viewer(SHARE, "input");
    let sealed = if pick & 1 == 0 {
        let Ok(text) = std::str::from_utf8(rest) else { return };
        text.to_string()
    } else {
        let aad = match pick % 3 {
            0 => &update,
            1 => &reply,
            _ => &viewer,
        };
        k.seal(aad, rest).expect("sealing works")
    };
    if let Ok(plain) = k.open(&update, &sealed) {
        let _ = serde_json::from_slice::<UpdateBody>(&plain);
    }
    if let Ok(plain) = k.open(&reply, &sealed) {
        let _ = serde_json::from_slice::<ReplyBody>(&plain);
    }
    if let Ok(plain) = k.open(&viewer, &sealed) {
        let _ = serde_json::from_slice::<ClientMsg>(&plain);
    }
    let _ = k.verify(&update, &sealed);
});
