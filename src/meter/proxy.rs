//! The metering proxy: an HTTP server on loopback that agents use as their LLM API's base
//! URL. A request to `/t/TOKEN/ROUTE/rest` is the pane TOKEN's call to the upstream its
//! ROUTE stands for (its real provider, a company gateway, a mock): the proxy asks the
//! policies first (a spend gate may hold it, or deny it), forwards it, and passes the
//! reply back chunk by chunk as it arrives, reading the usage as it goes by.
//!
//! What a pane's routes lead to, what the policies say and where spend goes is the
//! runner's business, behind `Meter`.

use super::reply::ReplyReader;
use super::upstream::{self, RouteOrigin};
use super::usage::{Api, Reading, UsageReader, requested_model};
use crate::effects::{Contact, Effect, HostKind, Push};
use crate::sandbox::Subject;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::{Body, Frame, Incoming};
use hyper::{Request, Response, StatusCode, header};
use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// Where one pane's route leads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub pane: u32,
    /// The API family, for prices and errors: anthropic, openai, google.
    pub provider: String,
    /// The base URL the agent would have used; the request's path below the route goes
    /// after it.
    pub upstream: String,
    /// Placeholders the sandboxed agent holds instead of this provider's keys, and the
    /// real keys: swapped in the request's credential headers and `key` parameter, never
    /// seen by the agent. Empty unless `origin` gets the key.
    pub secrets: Vec<(String, String)>,
    /// Who named `upstream`, as the runner knows it: an upstream the agent named gets no
    /// key and is confined (`forward_to`).
    pub origin: RouteOrigin,
}

/// The runner's side of the proxy.
pub trait Meter: Send + Sync + 'static {
    /// The target of `route` for the pane with `token`; `chatgpt` when the request carries
    /// ChatGPT login (Codex and opencode then go to ChatGPT's backend, not the API).
    fn target(&self, token: &str, route: &str, chatgpt: bool) -> Option<Target>;
    /// May this model call go out? The policies decide; an ask waits here for a person.
    fn admit(
        self: Arc<Self>,
        pane: u32,
        provider: String,
        model: Option<String>,
    ) -> impl Future<Output = Result<(), String>> + Send;
    /// What a call used (or that it could not be read).
    fn record(&self, pane: u32, provider: &str, reading: Reading);
    /// A turn of the agent's conversation ended with this answer (text, no tool called).
    fn answered(&self, pane: u32, text: String);
    /// May a sandboxed pane reach `host:port` (not an LLM route) through the proxy?
    /// `Ok(literal)`: yes, and `literal` if the config named the address itself (then it
    /// may be on this machine). A refusal says why (the proxy records it with `refuse`).
    fn egress(&self, host: &str, port: u16) -> Result<bool, String>;
    /// Records something the proxy refused the sandboxed pane with `token`.
    fn refuse(&self, token: &str, what: &str, why: &str);
    /// The same, saying what it was about (a host through the proxy), so that what the
    /// agent meets at every start is told from news.
    fn refuse_about(&self, token: &str, what: &str, why: &str, _subject: Subject) {
        self.refuse(token, what, why)
    }
    /// Whether the proxy reads the traffic to `host:port` (a git host, a registry), or
    /// tunnels it as it is.
    fn host_kind(&self, host: &str, port: u16) -> HostKind;
    /// May SSH go to `host` (which counts as a possible push)?
    fn ssh_allowed(&self, host: &str) -> bool;
    /// The authority whose certificates the proxy reads TLS with.
    fn authority(&self) -> Result<Arc<super::ca::Authority>, String>;
    /// May the sandboxed pane with `token` do this? The policies decide; an ask waits here
    /// for a person. A refusal says why.
    fn judge(self: Arc<Self>, token: String, effect: Effect) -> impl Future<Output = Result<(), String>> + Send;
}

/// Who is on the other end of a listener: any local program (the runner's loopback port,
/// which serves only pane routes), or one sandboxed pane (its own listener inside its
/// network namespace: its only way out).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    Loopback,
    Sandbox { token: String },
}

pub type ProxyBody = BoxBody<Bytes, std::io::Error>;

/// The largest request body forwarded: a request carries a conversation, not a disk.
const MAX_REQUEST: usize = 64 << 20;

/// Headers that belong to one hop, not to the request.
pub const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
];

/// Serves the proxy on `listener` until the process ends (a sandbox's listener: until the
/// runner aborts it, when its pane is gone). `client` goes upstream; one for all listeners.
pub async fn serve<M: Meter>(listener: TcpListener, meter: Arc<M>, origin: Origin, client: LazyClient) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of descriptors, say: wait rather than spin.
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (meter, client, origin) = (meter.clone(), client.clone(), origin.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let (meter, client, origin) = (meter.clone(), client.clone(), origin.clone());
                async move {
                    if req.method() == hyper::Method::CONNECT || req.uri().scheme().is_some() {
                        return Ok::<_, Infallible>(egress(req, meter, &origin, client).await);
                    }
                    Ok::<_, Infallible>(handle(req, meter, client, &origin).await)
                }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).with_upgrades().await;
        });
    }
}

/// A sandboxed agent going somewhere other than its LLM: `CONNECT host:port` (HTTPS, by
/// `HTTPS_PROXY`) to a host the config allows, once the policies let it contact the host,
/// is read (a git host, a registry: `intercept`) or tunnelled; anything else is refused
/// with a message that says why and what to change.
async fn egress<M: Meter>(
    req: Request<Incoming>,
    meter: Arc<M>,
    origin: &Origin,
    clients: LazyClient,
) -> Response<ProxyBody> {
    let refused = |why: String| full(StatusCode::FORBIDDEN, "text/plain", format!("teamster sandbox: {why}\n"));
    let Origin::Sandbox { token } = origin else {
        return refused("this proxy forwards only model calls from agents' panes".into());
    };
    let Some(authority) = req.uri().authority().cloned() else {
        return full(StatusCode::BAD_REQUEST, "text/plain", "teamster: a proxy request needs host:port\n".into());
    };
    let host = authority.host().to_string();
    if req.method() != hyper::Method::CONNECT {
        let why = format!("plain http to {host} is not forwarded; use https");
        meter.refuse_about(token, &format!("plain http to {host} through the proxy"), &why, Subject::Host(&host, 80));
        return refused(why);
    }
    let port = authority.port_u16().unwrap_or(443);
    let literal = match meter.egress(&host, port) {
        Ok(literal) => literal,
        Err(why) => {
            meter.refuse_about(
                token,
                &format!("connection to {host}:{port} through the proxy"),
                &why,
                Subject::Host(&host, port),
            );
            return refused(why);
        }
    };
    // The name is looked up here, once: a name that leads to this machine or the private
    // network (DNS rebinding) is refused unless the config named the address itself.
    let addrs: Vec<std::net::SocketAddr> = match tokio::net::lookup_host((host.as_str(), port)).await {
        Ok(a) => a.collect(),
        Err(e) => return full(StatusCode::BAD_GATEWAY, "text/plain", format!("teamster: cannot find {host}: {e}\n")),
    };
    // Every spelling counts: `::ffff:127.0.0.1` is this machine as much as 127.0.0.1.
    if !literal && let Some((ip, what)) = upstream::first_forbidden(&addrs) {
        let why = format!("{host} leads to {ip}, {what}; name the address in `allow_hosts` to allow it");
        meter.refuse_about(
            token,
            &format!("connection to {host}:{port} through the proxy"),
            &why,
            Subject::Host(&host, port),
        );
        return refused(why);
    }
    let kind = meter.host_kind(&host, port);
    let contact = Contact { host: host.clone(), port, kind, first: false };
    if let Err(why) = meter.clone().judge(token.clone(), Effect::Contact(contact)).await {
        return refused(why);
    }
    let token = token.clone();
    tokio::spawn(async move {
        let Ok(upgraded) = hyper::upgrade::on(req).await else { return };
        if kind != HostKind::Other {
            let host = super::intercept::Host { name: host, port, addrs, kind };
            return super::intercept::serve(upgraded, host, meter, token, clients).await;
        }
        tunnel(upgraded, host, port, addrs, meter, token).await;
    });
    Response::new(http_body_util::Empty::new().map_err(|e: Infallible| match e {}).boxed())
}

/// How long a tunnel waits for the agent's first bytes before it connects anyway (a
/// protocol where the server speaks first), and for the rest of a first message that
/// stopped short.
const FIRST_BYTES: std::time::Duration = std::time::Duration::from_secs(3);

/// Carries a connection as it is, once its first bytes show it is not SSH, which goes only
/// to hosts the config lets SSH reach, each connection counted as a possible push. The
/// agent's first bytes are judged whenever they come: where the server speaks first, it is
/// heard, but nothing of the agent's goes on before that judgement.
async fn tunnel<M: Meter>(
    upgraded: hyper::upgrade::Upgraded,
    host: String,
    port: u16,
    addrs: Vec<std::net::SocketAddr>,
    meter: Arc<M>,
    token: String,
) {
    use super::sni::{Hello, client_hello};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut agent = hyper_util::rt::TokioIo::new(upgraded);
    let mut first = vec![0u8; 16 << 10];
    let mut remote: Option<tokio::net::TcpStream> = None;
    let mut n = match tokio::time::timeout(FIRST_BYTES, agent.read(&mut first)).await {
        Ok(Ok(0) | Err(_)) => return,
        Ok(Ok(n)) => n,
        Err(_) => {
            let Ok(mut server) = tokio::net::TcpStream::connect(addrs.as_slice()).await else { return };
            let mut heard = vec![0u8; 16 << 10];
            let n = loop {
                tokio::select! {
                    got = agent.read(&mut first) => match got {
                        Ok(0) | Err(_) => return,
                        Ok(n) => break n,
                    },
                    got = server.read(&mut heard) => match got {
                        Ok(0) | Err(_) => return,
                        Ok(m) => {
                            if agent.write_all(&heard[..m]).await.is_err() {
                                return;
                            }
                        }
                    },
                }
            };
            remote = Some(server);
            n
        }
    };
    // TLS goes only to the host the tunnel was opened to: the name the client asks for
    // must be that host's (or none, for an address). An allowed host's tunnel carrying
    // TLS for another (domain fronting) is refused, and so is TLS that does not read; so is
    // a first message that stops short where it could still be SSH's.
    let could_be_ssh = |b: &[u8]| b.len() < 4 && b"SSH-".starts_with(b);
    let mut hello = client_hello(&first[..n]);
    while (hello == Hello::Incomplete || could_be_ssh(&first[..n])) && n < first.len() {
        match tokio::time::timeout(FIRST_BYTES, agent.read(&mut first[n..])).await {
            Ok(Ok(more)) if more > 0 => n += more,
            _ => break,
        }
        hello = client_hello(&first[..n]);
    }
    let wanted = |name: &str| name.trim_end_matches('.').eq_ignore_ascii_case(host.trim_end_matches('.'));
    let refusal = match &hello {
        Hello::Tls(Some(name)) if !wanted(name) => Some(format!(
            "the tunnel to {host}:{port} carried TLS for {}; a tunnel carries TLS only for the host it was opened to",
            crate::text::visible(name)
        )),
        Hello::Incomplete | Hello::Malformed => {
            Some(format!("the tunnel to {host}:{port} carried TLS that teamster cannot read, so it goes nowhere"))
        }
        _ if could_be_ssh(&first[..n]) => {
            Some(format!("the tunnel to {host}:{port} began as SSH does and stopped short, so it goes nowhere"))
        }
        Hello::Tls(_) | Hello::NotTls => None,
    };
    if let Some(why) = refusal {
        meter.refuse_about(&token, &format!("a connection to {host}:{port}"), &why, Subject::Host(&host, port));
        return;
    }
    if first[..n].starts_with(b"SSH-") {
        let what = format!("git over SSH to {host}:{port}");
        if !meter.ssh_allowed(&host) {
            let why = "SSH is refused (git over SSH cannot be read); push over HTTPS, or name the host in `ssh_hosts` under [sandbox]";
            meter.refuse_about(&token, &what, why, Subject::Host(&host, port));
            return;
        }
        let push = Push { host: format!("{host}:{port}"), repository: String::new(), refs: Vec::new(), over_ssh: true };
        if meter.clone().judge(token.clone(), Effect::Push(push)).await.is_err() {
            return;
        }
    }
    let mut remote = match remote {
        Some(r) => r,
        None => match tokio::net::TcpStream::connect(addrs.as_slice()).await {
            Ok(r) => r,
            Err(_) => return,
        },
    };
    if remote.write_all(&first[..n]).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut agent, &mut remote).await;
}

pub fn full(status: StatusCode, content_type: &str, body: String) -> Response<ProxyBody> {
    let mut r = Response::new(Full::new(Bytes::from(body)).map_err(|e: Infallible| match e {}).boxed());
    *r.status_mut() = status;
    if let Ok(v) = header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

/// An error in the shape the agent's API uses, so the agent shows the message.
pub fn api_error(provider: &str, status: StatusCode, message: &str) -> Response<ProxyBody> {
    use serde_json::json;
    let body = match provider {
        "anthropic" => json!({ "type": "error", "error": { "type": "permission_error", "message": message } }),
        "google" => json!({ "error": { "code": status.as_u16(), "message": message, "status": "PERMISSION_DENIED" } }),
        _ => json!({ "error": { "message": message, "type": "teamster_policy", "code": "teamster" } }),
    };
    full(status, "application/json", body.to_string())
}

/// A spend gate's refusal, in the provider's own shape for quota or credit running out,
/// with teamster's reason, answered with a status the agents show as it is and do not
/// retry: an authorization error makes Claude Code ask for a login, and a 429 makes Codex,
/// opencode and Gemini CLI retry (Codex then says only "exceeded retry limit, last status:
/// 429"; Codex shows a 429 `insufficient_quota` as its own fixed "Quota exceeded" text, and
/// Gemini CLI takes a 429 to its model-fallback dialog, both without the reason).
///
/// - Anthropic: 400 `invalid_request_error`, as its "credit balance is too low" comes.
/// - OpenAI (Codex, opencode, Pi): 400 with OpenAI's `insufficient_quota` error body; a 400
///   is an invalid request to every OpenAI client, never retried, its message shown.
/// - Google (Gemini CLI): 400 `FAILED_PRECONDITION`, as the Gemini API refuses a project
///   whose billing does not allow the call, with a `google.rpc.ErrorInfo` naming the
///   quota; Gemini CLI never retries a 400 and shows its message (`[API Error: …]`).
pub fn quota_error(provider: &str, message: &str) -> Response<ProxyBody> {
    use serde_json::json;
    let body = match provider {
        "anthropic" => json!({ "type": "error", "error": { "type": "invalid_request_error", "message": message } }),
        "google" => json!({ "error": {
            "code": 400,
            "message": message,
            "status": "FAILED_PRECONDITION",
            "details": [{
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "QUOTA_EXHAUSTED",
                "domain": "teamster",
                "metadata": { "gate": "spend" },
            }],
        } }),
        _ => json!({ "error": { "message": message, "type": "insufficient_quota", "code": "insufficient_quota" } }),
    };
    full(StatusCode::BAD_REQUEST, "application/json", body.to_string())
}

/// The upstream HTTPS clients, built on the first model call that needs each (TLS and
/// the system's root certificates cost a runner with no agents several megabytes it should
/// not carry): one for the providers and the user's config, and one per checked set of
/// addresses an agent's upstream is pinned to, kept so that its connections are reused.
#[derive(Default)]
pub struct Clients {
    shared: std::sync::OnceLock<Result<reqwest::Client, String>>,
    pinned: parking_lot::Mutex<HashMap<(String, Vec<SocketAddr>), reqwest::Client>>,
}

pub type LazyClient = Arc<Clients>;

/// More pinned clients than this (an agent naming host after host) are let go at once.
const PINNED_MAX: usize = 32;

impl Clients {
    fn shared(&self) -> Result<reqwest::Client, String> {
        self.shared.get_or_init(|| build_client(None)).clone()
    }

    pub fn pinned(&self, host: &str, addrs: &[SocketAddr]) -> Result<reqwest::Client, String> {
        let key = (host.to_string(), addrs.to_vec());
        if let Some(c) = self.pinned.lock().get(&key) {
            return Ok(c.clone());
        }
        let client = build_client(Some((host, addrs)))?;
        let mut pinned = self.pinned.lock();
        if pinned.len() >= PINNED_MAX {
            pinned.clear();
        }
        pinned.insert(key, client.clone());
        Ok(client)
    }
}

/// An upstream client. Redirects are the agent's to follow, not the proxy's (a redirect
/// would take the key, or the agent's request, somewhere nobody checked). `pinned`: the
/// only addresses `host` may lead to, already checked; such a client connects to them and
/// nowhere else (no second lookup, no proxy of the user's that would look the name up
/// again).
fn build_client(pinned: Option<(&str, &[SocketAddr])>) -> Result<reqwest::Client, String> {
    // rustls on ring; installing twice (a second proxy in the process) is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut b = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none());
    if let Some((host, addrs)) = pinned {
        b = b.no_proxy().resolve_to_addrs(host, addrs);
    }
    b.build().map_err(|e| e.to_string())
}

/// Where a model call of `target` goes, and the client that takes it there; or the reply
/// that refuses it (`upstream::check` judges the URL). An upstream the agent named (its
/// settings files, its hook payloads) gets no key, must be on a host `allow_hosts` lets
/// agents reach, and must lead, by every address its name has now, away from this machine
/// and every private network; the client then connects to exactly those addresses.
async fn forward_to<M: Meter>(
    target: &Target,
    meter: &M,
    token: &str,
    clients: &Clients,
) -> Result<(url::Url, reqwest::Client), Response<ProxyBody>> {
    let refuse = |why: String| {
        let shown = crate::text::visible(&target.upstream);
        let what = format!("a model call to {shown} (an upstream named by {})", target.origin.words());
        meter.refuse(token, &what, &why);
        api_error(&target.provider, StatusCode::FORBIDDEN, &format!("teamster: {why}"))
    };
    let unreachable = |why: String| api_error(&target.provider, StatusCode::BAD_GATEWAY, &format!("teamster: {why}"));
    let url = upstream::check(target.origin, &target.provider, &target.upstream).map_err(refuse)?;
    if target.origin != RouteOrigin::Agent {
        let client = clients.shared().map_err(|e| unreachable(format!("no HTTPS client for the provider: {e}")))?;
        return Ok((url, client));
    }
    let (host, port) = upstream::host_port(&url);
    meter.egress(&host, port).map_err(|why| refuse(format!("{why} (the agent named this upstream)")))?;
    // An address literal is taken as it is; a name is looked up here, once.
    let addrs: Vec<SocketAddr> = match tokio::net::lookup_host((host.as_str(), port)).await {
        Ok(a) => a.collect(),
        Err(e) => return Err(unreachable(format!("cannot find {host}: {e}"))),
    };
    if addrs.is_empty() {
        return Err(unreachable(format!("{host} has no address")));
    }
    if let Some((ip, what)) = upstream::first_forbidden(&addrs) {
        return Err(refuse(format!("{host} leads to {ip}, {what}: an upstream the agent names may not lead there")));
    }
    let client = clients.pinned(&host, &addrs).map_err(unreachable)?;
    Ok((url, client))
}

async fn handle<M: Meter>(
    req: Request<Incoming>,
    meter: Arc<M>,
    client: LazyClient,
    origin: &Origin,
) -> Response<ProxyBody> {
    let path_and_query = req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
    let mut parts = path_and_query.splitn(4, '/').skip(1);
    let (Some("t"), Some(token), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
        return full(StatusCode::NOT_FOUND, "text/plain", "teamster's metering proxy: not a pane's address\n".into());
    };
    // A sandbox's listener serves its own pane only: another pane's token (and keys) are
    // not reachable from it.
    if matches!(origin, Origin::Sandbox { token: mine } if mine != token) {
        return full(
            StatusCode::NOT_FOUND,
            "text/plain",
            "teamster's metering proxy: not this pane's address\n".into(),
        );
    }
    let (route, suffix) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let chatgpt = req.headers().contains_key("chatgpt-account-id");
    let Some(target) = meter.target(token, route, chatgpt) else {
        return full(
            StatusCode::NOT_FOUND,
            "text/plain",
            "teamster's metering proxy does not know this pane: it was closed, or teamster restarted; restart the agent\n".into(),
        );
    };
    // Codex tries a WebSocket first and falls back to plain HTTP at once when refused;
    // plain HTTP is what the proxy meters.
    if req.headers().get(header::UPGRADE).is_some() {
        return full(StatusCode::UPGRADE_REQUIRED, "text/plain", "teamster meters plain HTTP; use it\n".into());
    }
    // Where it goes is settled before anything is read or asked: a refused upstream costs
    // nobody a decision.
    let (base, client) = match forward_to(&target, meter.as_ref(), token, &client).await {
        Ok(f) => f,
        Err(refusal) => return refusal,
    };
    // The runner gives keys only with origins that get them; this holds it here too.
    let secrets: &[(String, String)] = if target.origin.gets_key() { &target.secrets } else { &[] };
    // The base was checked whole; the agent's path and query go after its path, where
    // they cannot change its host.
    let url = format!("{}{}", base.as_str().trim_end_matches('/'), reveal_query(suffix, secrets));
    let (head, body) = req.into_parts();
    let body = match http_body_util::Limited::new(body, MAX_REQUEST).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return api_error(
                &target.provider,
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("teamster could not read the request: {e}"),
            );
        }
    };
    let api = Api::of_path(suffix);
    let model = api.and_then(|_| requested_model(suffix, &body));
    let converses = api.is_some() && super::reply::offers_tools(&body);
    if api.is_some()
        && let Err(reason) = meter.clone().admit(target.pane, target.provider.clone(), model.clone()).await
    {
        return quota_error(&target.provider, &format!("teamster: {reason}"));
    }
    let mut out = client.request(head.method.clone(), &url).body(body);
    for (name, value) in &head.headers {
        if !HOP_BY_HOP.contains(&name.as_str()) && name != header::ACCEPT_ENCODING && name != header::CONTENT_LENGTH {
            match value.to_str().ok().and_then(|v| reveal_credential(name.as_str(), v, secrets)) {
                Some(real) => out = out.header(name, real),
                None => out = out.header(name, value),
            }
        }
    }
    // Replies come uncompressed, so their usage can be read as they pass.
    out = out.header(header::ACCEPT_ENCODING, "identity");
    let upstream = match out.send().await {
        Ok(r) => r,
        Err(e) => {
            let message = format!("teamster could not reach {}: {e}", target.upstream);
            return api_error(&target.provider, StatusCode::BAD_GATEWAY, &message);
        }
    };
    let status = upstream.status();
    let content_type =
        upstream.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let mut response = Response::builder().status(status);
    for (name, value) in upstream.headers() {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            response = response.header(name, value);
        }
    }
    // Errors are not billed; only a successful model call is metered.
    let reader = api.filter(|_| status.is_success()).map(|api| UsageReader::new(api, &content_type, model));
    let answer = api.filter(|_| status.is_success() && converses).map(|api| ReplyReader::new(api, &content_type));
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(relay(upstream, tx, Readers { usage: reader, answer }, meter, target));
    response.body(BodyExt::boxed(Relay { rx })).unwrap_or_else(|e| {
        full(StatusCode::BAD_GATEWAY, "text/plain", format!("teamster: a bad reply from upstream: {e}\n"))
    })
}

/// What is read out of a model's reply as it passes: its usage, and (for a turn of the
/// conversation) its answer.
struct Readers {
    usage: Option<UsageReader>,
    answer: Option<ReplyReader>,
}

/// Passes the upstream's reply on as it arrives, reading usage on the way; records it when
/// the reply ends (or breaks, or the agent hangs up).
async fn relay<M: Meter>(
    mut upstream: reqwest::Response,
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    mut readers: Readers,
    meter: Arc<M>,
    target: Target,
) {
    let whole = loop {
        match upstream.chunk().await {
            Ok(Some(chunk)) => {
                if let Some(r) = &mut readers.usage {
                    r.feed(&chunk);
                }
                if let Some(r) = &mut readers.answer {
                    r.feed(&chunk);
                }
                if tx.send(Ok(chunk)).await.is_err() {
                    // The agent hung up.
                    break false;
                }
            }
            Ok(None) => break true,
            Err(e) => {
                let _ = tx.send(Err(std::io::Error::other(format!("the upstream reply broke off: {e}")))).await;
                break false;
            }
        }
    };
    if let Some(text) = readers.answer.and_then(|r| r.finish(whole)) {
        meter.answered(target.pane, text);
    }
    if let Some(r) = readers.usage {
        meter.record(target.pane, &target.provider, r.finish(whole));
    }
}

/// The real value of a credential header that holds exactly a placeholder (or `Bearer`
/// and one). Nothing else is ever swapped: a placeholder put elsewhere (the path, a body,
/// another header) reaches the provider as it is, so the key cannot be echoed back.
fn reveal_credential(header: &str, value: &str, secrets: &[(String, String)]) -> Option<String> {
    const CREDENTIALS: [&str; 4] = ["authorization", "x-api-key", "x-goog-api-key", "api-key"];
    if !CREDENTIALS.contains(&header) {
        return None;
    }
    let (scheme, token) = match value.split_once(' ') {
        Some((s, t)) if s.eq_ignore_ascii_case("bearer") => (Some(s), t),
        _ => (None, value),
    };
    let real = secrets.iter().find(|(p, _)| p == token).map(|(_, real)| real)?;
    Some(scheme.map_or_else(|| real.clone(), |s| format!("{s} {real}")))
}

/// `suffix` (path and query) with a `key=` parameter that is exactly a placeholder given
/// its real value (Gemini's API takes its key there).
fn reveal_query(suffix: &str, secrets: &[(String, String)]) -> String {
    let Some((path, query)) = suffix.split_once('?') else { return suffix.to_string() };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.strip_prefix("key=").and_then(|v| secrets.iter().find(|(p, _)| p == v)) {
            Some((_, real)) => format!("key={real}"),
            None => pair.to_string(),
        })
        .collect();
    format!("{path}?{}", query.join("&"))
}

/// The reply's body, as the relay hands it over.
struct Relay {
    rx: mpsc::Receiver<Result<Bytes, std::io::Error>>,
}

impl Body for Relay {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        self.rx.poll_recv(cx).map(|chunk| chunk.map(|c| c.map(Frame::data)))
    }
}
