//! The metering proxy's view of an LLM reply: bytes streamed through the usage reader in
//! pieces of fuzzer-chosen sizes, for each API, as an event stream or a JSON body; also
//! the model a request names (its path and body). What was read is priced, as the
//! runner prices it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use teamster::meter::prices::Prices;
use teamster::meter::usage::{Api, Reading, requested_model};

fn prices() -> &'static Prices {
    static PRICES: OnceLock<Prices> = OnceLock::new();
    PRICES.get_or_init(|| teamster::config::Config::default().prices())
}

fuzz_target!(|data: &[u8]| {
    if let Some(Reading::Usage(usage)) = teamster::meter::usage::fuzz_read(data) {
        let _ = prices().cost(&usage);
    }
    let rest = data.get(2..).unwrap_or_default();
    if let Ok(path) = std::str::from_utf8(rest) {
        let _ = Api::of_path(path);
        let _ = requested_model(path, rest);
    }
    let _ = requested_model("/v1/messages", rest);
});
