//! The server name a TLS client asks for (SNI), read from its first bytes: a tunnel to one
//! host must not carry TLS for another (domain fronting: an allowed host's address, a git
//! host's name inside).

/// What the first bytes of a connection say.
#[derive(Debug, PartialEq, Eq)]
pub enum Hello {
    /// Not TLS.
    NotTls,
    /// A ClientHello, and the server name it asks for, if any.
    Tls(Option<String>),
    /// TLS, but the ClientHello is not all here yet.
    Incomplete,
    /// TLS that does not read as a ClientHello.
    Malformed,
}

/// Reads the ClientHello at the start of `bytes` (one TLS record, as clients send it).
pub fn client_hello(bytes: &[u8]) -> Hello {
    if bytes.first() != Some(&0x16) {
        return Hello::NotTls;
    }
    let Some(header) = bytes.get(..5) else { return Hello::Incomplete };
    let len = u16::from_be_bytes([header[3], header[4]]) as usize;
    let Some(record) = bytes.get(5..5 + len) else { return Hello::Incomplete };
    match server_name(record) {
        Some(name) => Hello::Tls(name),
        None => Hello::Malformed,
    }
}

/// How the `sni` fuzz target (`fuzz/fuzz_targets/sni.rs`) reads an input: the first
/// bytes of a connection, read whole and as the proxy may first see them, cut where the
/// first byte says. A ClientHello read once is read the same from any longer prefix (the
/// proxy may decide on fewer bytes than the client sent), and a name read is one the
/// bytes hold.
#[doc(hidden)]
pub fn fuzz_read(data: &[u8]) -> Hello {
    let whole = client_hello(data);
    let cut = data.first().map_or(0, |&b| usize::from(b) * data.len() / 255);
    let early = client_hello(&data[..cut.min(data.len())]);
    match (&early, &whole) {
        (Hello::Incomplete, _) | (Hello::NotTls, _) => {}
        (early, whole) => assert_eq!(early, whole, "a longer prefix read otherwise"),
    }
    if let Hello::Tls(Some(name)) = &whole {
        assert!(name.len() <= data.len(), "a name longer than the bytes");
    }
    whole
}

/// The server name in a ClientHello handshake message (`Some(None)`: it names none).
fn server_name(hs: &[u8]) -> Option<Option<String>> {
    let mut r = Reader { bytes: hs, at: 0 };
    if r.u8()? != 1 {
        return None;
    }
    let n = r.u24()?;
    let body = r.take(n)?;
    let mut r = Reader { bytes: body, at: 0 };
    r.take(2 + 32)?;
    let session = r.u8()? as usize;
    r.take(session)?;
    let suites = r.u16()? as usize;
    r.take(suites)?;
    let compression = r.u8()? as usize;
    r.take(compression)?;
    if r.at == body.len() {
        return Some(None);
    }
    let extensions = r.u16()? as usize;
    let mut r = Reader { bytes: r.take(extensions)?, at: 0 };
    while r.at < r.bytes.len() {
        let kind = r.u16()?;
        let n = r.u16()? as usize;
        let data = r.take(n)?;
        if kind != 0 {
            continue;
        }
        let mut names = Reader { bytes: data, at: 0 };
        let list = names.u16()? as usize;
        let mut names = Reader { bytes: names.take(list)?, at: 0 };
        while names.at < names.bytes.len() {
            let name_type = names.u8()?;
            let n = names.u16()? as usize;
            let name = names.take(n)?;
            if name_type == 0 {
                return Some(Some(String::from_utf8_lossy(name).into_owned()));
            }
        }
        return Some(None);
    }
    Some(None)
}

/// The first bytes a TLS client (rustls) sends for `name`: for tests and benchmarks of what
/// reads them.
pub fn client_hello_for(name: &str) -> Vec<u8> {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let Ok(config) = rustls::ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions() else {
        return Vec::new();
    };
    let config = config.with_root_certificates(rustls::RootCertStore::empty()).with_no_client_auth();
    let Ok(server) = rustls_pki_types::ServerName::try_from(name.to_string()) else { return Vec::new() };
    let Ok(mut conn) = rustls::ClientConnection::new(std::sync::Arc::new(config), server) else { return Vec::new() };
    let mut out = Vec::new();
    let _ = conn.write_tls(&mut out);
    out
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let out = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(out)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    fn u24(&mut self) -> Option<usize> {
        self.take(3).map(|b| (b[0] as usize) << 16 | (b[1] as usize) << 8 | b[2] as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_a_client_asks_for_is_read_and_garbage_is_not() {
        let hello = client_hello_for("github.com");
        assert_eq!(client_hello(&hello), Hello::Tls(Some("github.com".into())));
        // An address sends no name.
        assert_eq!(client_hello(&client_hello_for("127.0.0.1")), Hello::Tls(None));
        assert_eq!(client_hello(&hello[..hello.len() - 1]), Hello::Incomplete);
        assert_eq!(client_hello(b"SSH-2.0-OpenSSH"), Hello::NotTls);
        let mut broken = hello.clone();
        broken[5] = 2;
        assert_eq!(client_hello(&broken), Hello::Malformed);
        for cut in 0..hello.len() {
            let _ = client_hello(&hello[..cut]);
        }
    }

    /// The fuzz target's seeds are first bytes as clients send them (rustls's ClientHello
    /// is random in parts, so they are written once, with `TEAMSTER_WRITE_SEEDS=1`, and
    /// checked to read as they should).
    #[test]
    fn the_fuzz_seeds_read_as_clients_meant_them() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/sni");
        let seeds = [
            ("hello-name", client_hello_for("api.anthropic.com"), Hello::Tls(Some("api.anthropic.com".into()))),
            ("hello-address", client_hello_for("127.0.0.1"), Hello::Tls(None)),
            ("ssh", b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n".to_vec(), Hello::NotTls),
        ];
        for (name, bytes, meant) in seeds {
            let path = dir.join(name);
            if std::env::var_os("TEAMSTER_WRITE_SEEDS").is_some() {
                std::fs::write(&path, &bytes).unwrap();
            }
            let seed = std::fs::read(&path).unwrap_or_default();
            assert_eq!(fuzz_read(&seed), meant, "{name}: TEAMSTER_WRITE_SEEDS=1 writes it again");
        }
    }
}
