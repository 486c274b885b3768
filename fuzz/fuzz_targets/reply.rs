//! The metering proxy's reading of an agent's last answer out of an LLM reply: bytes
//! streamed through the reply reader in pieces of fuzzer-chosen sizes, for each API, as
//! an event stream or a JSON body, ended whole or cut off (the first byte picks); the
//! answer is never longer than teamster keeps. The same bytes read as a request body
//! (does it offer tools, so that its reply is a turn of the conversation).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = teamster::meter::reply::fuzz_read(data);
    let _ = teamster::meter::reply::offers_tools(data);
});
