//! The first bytes of a connection through one of the proxy's tunnels, read for the
//! server name a TLS client asks for (SNI): whole, and cut where the first byte says (the
//! proxy decides on what has come so far). A ClientHello read from a prefix must read the
//! same from all of it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = teamster::meter::sni::fuzz_read(data);
});
