//! Sharing a live session by URL: the share server (`server`, `store`), what crosses its
//! WebSocket (`wire`), and the link's secrets (`crypto`). The runner's side of a share is
//! in `runner::share`, a remote TUI's in `tui::remote`; the browser's in `web/`.

pub mod bus;
pub mod crypto;
pub mod server;
pub mod store;
pub mod web_types;
pub mod wire;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;

/// A connection to a share server, over TLS or not.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}
pub type Client = WebSocketStream<Box<dyn Io>>;

/// A share server's address, `http(s)://host[:port]`: whether it is TLS, its host, its port.
pub fn connect_address(server: &str) -> Result<(bool, String, u16), String> {
    let bad = || {
        format!("`{}` is not a share server address: write it as http(s)://HOST[:PORT]", crate::text::visible(server))
    };
    let uri: hyper::Uri = server.parse().map_err(|_| bad())?;
    let tls = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(bad()),
    };
    let host = uri.host().ok_or_else(bad)?.trim_start_matches('[').trim_end_matches(']').to_string();
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    Ok((tls, host, port))
}

/// Where `teamster join` keeps the member token for `server`, and the runner finds it.
pub fn member_token_path(server: &str) -> Result<std::path::PathBuf, String> {
    let (_, host, port) = connect_address(server)?;
    // One file per host and port; a host name is letters, digits, dots, dashes (an IPv6
    // address's colons become dashes).
    let name: String =
        host.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '-' }).collect();
    Ok(crate::paths::config_dir().join("members").join(format!("{name}_{port}")))
}

/// Connects to a share server given as `http(s)://host[:port]`, and opens its WebSocket.
/// TLS is checked against the system's roots (`SSL_CERT_FILE` adds one).
pub async fn connect(server: &str) -> Result<Client, String> {
    let (tls, host, port) = connect_address(server)?;
    let tcp =
        tokio::time::timeout(std::time::Duration::from_secs(10), tokio::net::TcpStream::connect((host.as_str(), port)))
            .await
            .map_err(|_| format!("the share server at {server} did not answer within 10 s"))?
            .map_err(|e| format!("cannot reach the share server at {server}: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let io: Box<dyn Io> = if tls {
        use rustls_platform_verifier::ConfigVerifierExt;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let config = rustls::ClientConfig::with_platform_verifier().map_err(|e| format!("cannot set up TLS: {e}"))?;
        let name = rustls_pki_types::ServerName::try_from(host.clone())
            .map_err(|e| format!("`{host}` is not a host name: {e}"))?;
        let stream = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS with the share server at {server} failed: {e}"))?;
        Box::new(stream)
    } else {
        Box::new(tcp)
    };
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(wire::MAX_RUNNER_MSG))
        .max_frame_size(Some(wire::MAX_RUNNER_MSG));
    let (ws, _) = tokio_tungstenite::client_async_with_config(crypto::ws_url(server), io, Some(config))
        .await
        .map_err(|e| format!("the share server at {server} did not take a WebSocket: {e}"))?;
    Ok(ws)
}

/// The longest a share lasts, in seconds: `teamster share` takes no longer, and the server
/// holds every share to it, whatever its runner asks (a runner may be anything).
pub const LONGEST_SHARE: u64 = 30 * 86400;

/// "30m", "8h", "2d", "90s" as seconds; links last at most `LONGEST_SHARE`.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("`{text}` is not a duration: write e.g. 30m, 8h or 2d"))?;
    let secs = match unit {
        "s" => n,
        "m" | "" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86400),
        _ => return Err(format!("`{text}` is not a duration: the unit is s, m, h or d (e.g. 8h)")),
    };
    if secs == 0 {
        return Err("a share must last longer than nothing".into());
    }
    if secs > LONGEST_SHARE {
        let days = LONGEST_SHARE / 86400;
        return Err(format!("`{text}` is too long: a link lasts at most {days} days ({days}d)"));
    }
    Ok(secs)
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations() {
        assert_eq!(super::parse_duration("90s"), Ok(90));
        assert_eq!(super::parse_duration("8h"), Ok(8 * 3600));
        assert_eq!(super::parse_duration("2d"), Ok(2 * 86400));
        assert!(super::parse_duration("31d").unwrap_err().contains("at most"));
        assert!(super::parse_duration("soon").unwrap_err().contains("not a duration"));
        assert!(super::parse_duration("3w").unwrap_err().contains("unit"));
    }
}
