//! The metering proxy's view of an LLM reply: bytes streamed through the usage reader in
//! pieces of fuzzer-chosen sizes, for each API, as an event stream or a JSON body; also
//! the model a request names (its path and body). What was read is priced, as the
//! runner prices it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use teamster::meter::prices::Prices;
use teamster::meter::usage::{Api, Reading, UsageReader, requested_model};

fn prices() -> &'static Prices {
    static PRICES: OnceLock<Prices> = OnceLock::new();
    PRICES.get_or_init(|| teamster::config::Config::default().prices())
}

fuzz_target!(|data: &[u8]| {
    let [pick, piece, rest @ ..] = data else { return };
    let api = [Api::AnthropicMessages, Api::OpenaiResponses, Api::OpenaiChat, Api::Gemini][*pick as usize % 4];
    let content_type = if pick & 4 != 0 { "text/event-stream; charset=utf-8" } else { "application/json" };
    let mut reader = UsageReader::new(api, content_type, Some("asked".into()));
    for chunk in rest.chunks(usize::from(*piece).max(1)) {
        reader.feed(chunk);
    }
    if let Reading::Usage(usage) = reader.finish(pick & 8 != 0) {
        let _ = prices().cost(&usage);
    }
    if let Ok(path) = std::str::from_utf8(rest) {
        let _ = Api::of_path(path);
        let _ = requested_model(path, rest);
    }
    let _ = requested_model("/v1/messages", rest);
});
