//! A sandboxed agent's connection to a host whose traffic teamster reads (a git host, a
//! package registry): the proxy ends the agent's TLS with a certificate from its own
//! authority, judges each request by what it does (a push, a download), and sends the
//! request on over TLS of its own to the addresses already checked. A client that does
//! not trust the authority cannot connect at all: nothing goes around.

use super::proxy::{Meter, ProxyBody, full};
use crate::effects::git::{self, Walk};
use crate::effects::{Change, Effect, HostKind, Push, RefUpdate, registry};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response, StatusCode, header};
use std::net::SocketAddr;
use std::sync::Arc;

/// The largest push teamster holds while it is judged: the pack waits in memory.
const MAX_PUSH: usize = 1 << 30;
/// The largest other request body forwarded.
const MAX_BODY: usize = 64 << 20;

/// Where a read connection leads.
#[derive(Clone)]
pub struct Host {
    pub name: String,
    pub port: u16,
    pub addrs: Vec<SocketAddr>,
    pub kind: HostKind,
}

impl Host {
    /// `name`, or `name:port` off the usual port.
    fn authority(&self) -> String {
        let name = if self.name.contains(':') { format!("[{}]", self.name) } else { self.name.clone() };
        if self.port == 443 { name } else { format!("{name}:{}", self.port) }
    }
}

/// Serves one agent connection to `host`, already upgraded from its CONNECT.
pub async fn serve<M: Meter>(
    upgraded: hyper::upgrade::Upgraded,
    host: Host,
    meter: Arc<M>,
    token: String,
    clients: super::proxy::LazyClient,
) {
    let config = match meter.authority().and_then(|a| a.server_config(&host.name)) {
        Ok(c) => c,
        Err(why) => {
            meter.refuse(&token, &format!("a connection to {}", host.authority()), &why);
            return;
        }
    };
    let tls = match tokio_rustls::TlsAcceptor::from(config).accept(hyper_util::rt::TokioIo::new(upgraded)).await {
        Ok(t) => t,
        Err(e) => {
            // A client that does not trust teamster's authority: it goes nowhere.
            let why = format!("its TLS client did not accept teamster's authority ({e}), so nothing went out");
            meter.refuse(&token, &format!("a connection to {}", host.authority()), &why);
            return;
        }
    };
    let service = hyper::service::service_fn(move |req| {
        let (host, meter, token, clients) = (host.clone(), meter.clone(), token.clone(), clients.clone());
        async move { Ok::<_, std::convert::Infallible>(handle(req, &host, meter, &token, &clients).await) }
    });
    let io = hyper_util::rt::TokioIo::new(tls);
    let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
}

async fn handle<M: Meter>(
    req: Request<Incoming>,
    host: &Host,
    meter: Arc<M>,
    token: &str,
    clients: &super::proxy::Clients,
) -> Response<ProxyBody> {
    let path = req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into());
    if !path.starts_with('/') {
        return full(StatusCode::BAD_REQUEST, "text/plain", "teamster: a request's path must start with /\n".into());
    }
    let client = match clients.pinned(&host.name, &host.addrs) {
        Ok(c) => c,
        Err(e) => return full(StatusCode::BAD_GATEWAY, "text/plain", format!("teamster: no HTTPS client: {e}\n")),
    };
    let url = format!("https://{}{path}", host.authority());
    let (head, body) = req.into_parts();
    let push = host.kind == HostKind::Git && is_push(&head);
    let limit = if push { MAX_PUSH } else { MAX_BODY };
    let body = match http_body_util::Limited::new(body, limit).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            let message = format!("teamster could not read the request (at most {} MiB): {e}\n", limit >> 20);
            return full(StatusCode::PAYLOAD_TOO_LARGE, "text/plain", message);
        }
    };
    match host.kind {
        HostKind::Git if push => {
            // Read as sent (a client may gzip it); forwarded as it came.
            let read = match decoded(&head.headers, &body) {
                Ok(b) => b,
                Err(why) => return full(StatusCode::BAD_REQUEST, "text/plain", format!("teamster: {why}\n")),
            };
            let request = match git::parse_push(&read) {
                Ok(r) => r,
                Err(why) => {
                    let why = format!("teamster cannot read this push, so it does not let it through: {why}");
                    meter.refuse(token, &format!("a push to {}", host.authority()), &why);
                    return full(StatusCode::FORBIDDEN, "text/plain", format!("{why}\n"));
                }
            };
            // Git's probe before a large push carries no commands.
            if !request.commands.is_empty() {
                let push = read_push(&request, &read, host, &path, &head.headers, &client).await;
                if let Err(reason) = meter.clone().judge(token.to_string(), Effect::Push(push)).await {
                    return push_refused(&request, &reason);
                }
            }
        }
        HostKind::Registry(r) if head.method == hyper::Method::GET => {
            if let Some(d) = registry::download(r, &host.authority(), &path)
                && let Err(reason) = meter.clone().judge(token.to_string(), Effect::Download(d)).await
            {
                return full(StatusCode::FORBIDDEN, "text/plain", format!("teamster: {reason}\n"));
            }
        }
        _ => {}
    }
    forward(&client, &url, &head, body).await
}

/// A request body as its sender meant it: gunzipped if it says it is gzipped.
fn decoded<'a>(headers: &hyper::HeaderMap, body: &'a Bytes) -> Result<std::borrow::Cow<'a, [u8]>, String> {
    let gzip = headers.get(header::CONTENT_ENCODING).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    if !gzip {
        return Ok(std::borrow::Cow::Borrowed(&body[..]));
    }
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&body[..])
        .take(MAX_PUSH as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("the request says it is gzipped, and it is not: {e}"))?;
    if out.len() > MAX_PUSH {
        return Err(format!("a push larger than teamster reads ({} MiB)", MAX_PUSH >> 20));
    }
    Ok(std::borrow::Cow::Owned(out))
}

/// Whether a request to a git host is a push: a POST to `git-receive-pack` however the path
/// is spelt (escaped, in capitals, doubled or trailing slashes: a server may route them all
/// there), or one that says it carries a receive-pack request.
fn is_push(head: &hyper::http::request::Parts) -> bool {
    if head.method != hyper::Method::POST {
        return false;
    }
    let says = head
        .headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| String::from_utf8_lossy(v.as_bytes()).to_ascii_lowercase().contains("receive-pack"));
    let decoded = crate::effects::registry::percent_decode(head.uri.path()).to_ascii_lowercase();
    says || decoded.trim_end_matches('/').ends_with("git-receive-pack")
}

fn path_of(path_and_query: &str) -> &str {
    path_and_query.split('?').next().unwrap_or("")
}

/// Sends the request on as it came (its own hop's headers aside) and streams the reply
/// back.
async fn forward(
    client: &reqwest::Client,
    url: &str,
    head: &hyper::http::request::Parts,
    body: Bytes,
) -> Response<ProxyBody> {
    let mut out = client.request(head.method.clone(), url).body(body);
    for (name, value) in &head.headers {
        // The body goes whole: no `Expect: 100-continue` on the way on.
        if !super::proxy::HOP_BY_HOP.contains(&name.as_str())
            && name != header::CONTENT_LENGTH
            && name != header::EXPECT
        {
            out = out.header(name, value);
        }
    }
    let upstream = match out.send().await {
        Ok(r) => r,
        Err(e) => return full(StatusCode::BAD_GATEWAY, "text/plain", format!("teamster could not reach {url}: {e}\n")),
    };
    let mut response = Response::builder().status(upstream.status());
    for (name, value) in upstream.headers() {
        if !super::proxy::HOP_BY_HOP.contains(&name.as_str()) {
            response = response.header(name, value);
        }
    }
    use futures_util::StreamExt;
    let stream = upstream.bytes_stream().map(|chunk| chunk.map(Frame::data).map_err(std::io::Error::other));
    response.body(BodyExt::boxed(http_body_util::StreamBody::new(stream))).unwrap_or_else(|e| {
        full(StatusCode::BAD_GATEWAY, "text/plain", format!("teamster: a bad reply from upstream: {e}\n"))
    })
}

/// A refused push, answered so that git prints the reason against each ref.
fn push_refused(request: &git::PushRequest, reason: &str) -> Response<ProxyBody> {
    let body = git::refusal(request, reason);
    let mut r = full(StatusCode::OK, "application/x-git-receive-pack-result", String::new());
    *r.body_mut() = http_body_util::Full::new(Bytes::from(body)).map_err(|e| match e {}).boxed();
    r.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-cache"));
    r
}

/// What a push does to each ref. Whether an update is a fast-forward is read from the
/// pack's commits; where they build on commits the server has, the server is asked (a
/// protocol-v2 fetch of the commits between) which of them lie above the old one.
async fn read_push(
    request: &git::PushRequest,
    body: &[u8],
    host: &Host,
    path: &str,
    headers: &hyper::HeaderMap,
    client: &reqwest::Client,
) -> Push {
    let sha256 = request.sha256();
    // The repository: the path before `git-receive-pack`, however that was spelt.
    let decoded = crate::effects::registry::percent_decode(path_of(path));
    let trimmed = decoded.trim_end_matches('/');
    let repo = match trimmed.to_ascii_lowercase().strip_suffix("git-receive-pack") {
        Some(before) => trimmed[..before.len()].trim_end_matches('/').to_string(),
        None => String::new(),
    };
    let mut commits = match request.pack_at {
        Some(at) => git::commits_in_pack(&body[at..], sha256).ok(),
        None => Some(git::Commits::new()),
    };
    let mut refs = Vec::new();
    for c in &request.commands {
        let change = if c.deletes() {
            Change::Delete
        } else if c.creates() {
            Change::Create
        } else if c.old == c.new {
            Change::FastForward
        } else if let Some(known) = commits.as_mut() {
            match git::walk(&c.old, &c.new, known) {
                Walk::FastForward => Change::FastForward,
                Walk::Rewrite => Change::Rewrite,
                Walk::Boundary(wants) => {
                    match fetch_commits(client, host, &repo, headers, &wants, &c.old, sha256).await {
                        Ok(more) => {
                            known.extend(more);
                            match git::walk(&c.old, &c.new, known) {
                                Walk::FastForward => Change::FastForward,
                                // What the server left out lies beneath the old commit.
                                Walk::Boundary(_) | Walk::Rewrite => Change::Rewrite,
                            }
                        }
                        Err(_) => Change::Unknown,
                    }
                }
            }
        } else {
            Change::Unknown
        };
        refs.push(RefUpdate { name: c.name.clone(), change });
    }
    Push { host: host.authority(), repository: repo.trim_start_matches('/').to_string(), refs, over_ssh: false }
}

/// The commits reachable from `wants` and not from `have`, from the server: commits only
/// where it can filter, everything otherwise. The agent's own credentials for this
/// repository go with the request, to the same server its push goes to.
async fn fetch_commits(
    client: &reqwest::Client,
    host: &Host,
    repo: &str,
    headers: &hyper::HeaderMap,
    wants: &[git::Oid],
    have: &str,
    sha256: bool,
) -> Result<git::Commits, String> {
    let url = format!("https://{}{repo}/git-upload-pack", host.authority());
    let mut last = String::new();
    for filter in [true, false] {
        let mut req = client
            .post(&url)
            .header("git-protocol", "version=2")
            .header(header::CONTENT_TYPE, "application/x-git-upload-pack-request")
            .header(header::ACCEPT, "application/x-git-upload-pack-result")
            .body(git::fetch_request(wants, have, sha256, filter));
        if let Some(auth) = headers.get(header::AUTHORIZATION) {
            req = req.header(header::AUTHORIZATION, auth);
        }
        let reply = match req.send().await {
            Ok(r) if r.status().is_success() => r.bytes().await.map_err(|e| e.to_string()),
            Ok(r) => Err(format!("the server answered {}", r.status())),
            Err(e) => Err(e.to_string()),
        };
        match reply.and_then(|b| git::fetched_pack(&b)).and_then(|p| git::commits_in_pack(&p, sha256)) {
            Ok(c) => return Ok(c),
            Err(e) => last = e,
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(method: &str, path: &str, content_type: Option<&str>) -> hyper::http::request::Parts {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(ct) = content_type {
            b = b.header(header::CONTENT_TYPE, ct);
        }
        b.body(()).map(|r| r.into_parts().0).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn a_push_is_a_push_however_its_path_is_spelt() {
        for path in [
            "/o/r.git/git-receive-pack",
            "/o/r.git/git-receive-pack/",
            "/o/r.git/GIT-RECEIVE-PACK",
            "/o/r.git/git%2Dreceive%2Dpack",
            "/o/r.git//git-receive-pack?x=1",
        ] {
            assert!(is_push(&parts("POST", path, None)), "{path}");
        }
        assert!(is_push(&parts("POST", "/o/r.git/other", Some("application/x-git-receive-pack-request"))));
        assert!(!is_push(&parts("POST", "/o/r.git/git-upload-pack", Some("application/x-git-upload-pack-request"))));
        assert!(!is_push(&parts("GET", "/o/r.git/info/refs?service=git-receive-pack", None)));
    }
}
