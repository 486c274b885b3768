//! What reading agents' traffic at the proxy costs: a package download and a git push,
//! straight to a local HTTPS server and through a sandbox's proxy listener, which ends the
//! agent's TLS with teamster's own authority, judges the request (the push's pack read for
//! its commits) and sends it on over TLS of its own.
//!
//! - a new connection: TCP and TLS straight, against `CONNECT`, teamster's certificate
//!   and the proxy's own TLS to the server;
//! - a download of a 256 KiB package on a kept-alive connection;
//! - a push of one commit (a real pack from git) on a kept-alive connection.
//!
//! Run: `cargo bench --bench effects` (`-- --quick` for a short run). Figures, not
//! pass/fail: see docs/bench.md.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use teamster::effects::{Effect, HostKind, Registry};
use teamster::meter::ca::Authority;
use teamster::meter::proxy::{Meter, Origin, Target};
use teamster::meter::usage::Reading;

const PACKAGE: usize = 256 << 10;

struct Bench {
    git_port: u16,
    authority: Arc<Authority>,
}

impl Meter for Bench {
    fn target(&self, _token: &str, _route: &str, _chatgpt: bool) -> Option<Target> {
        None
    }
    async fn admit(self: Arc<Self>, _pane: u32, _provider: String, _model: Option<String>) -> Result<(), String> {
        Ok(())
    }
    fn record(&self, _pane: u32, _provider: &str, _reading: Reading) {}
    fn answered(&self, _pane: u32, _text: String) {}
    fn egress(&self, _host: &str, _port: u16) -> Result<bool, String> {
        Ok(true)
    }
    fn refuse(&self, _token: &str, what: &str, why: &str) {
        eprintln!("refused {what}: {why}");
    }
    fn host_kind(&self, _host: &str, port: u16) -> HostKind {
        if port == self.git_port { HostKind::Git } else { HostKind::Registry(Registry::Configured) }
    }
    fn ssh_allowed(&self, _host: &str) -> bool {
        false
    }
    fn authority(&self) -> Result<Arc<Authority>, String> {
        Ok(self.authority.clone())
    }
    async fn judge(self: Arc<Self>, _token: String, _effect: Effect) -> Result<(), String> {
        Ok(())
    }
}

fn git(dir: &Path, args: &[&str], input: Option<&[u8]>) -> Vec<u8> {
    use std::io::Write;
    let mut child = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .env("GIT_AUTHOR_NAME", "b")
        .env("GIT_AUTHOR_EMAIL", "b@example.com")
        .env("GIT_COMMITTER_NAME", "b")
        .env("GIT_COMMITTER_EMAIL", "b@example.com")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("git");
    if let Some(bytes) = input {
        child.stdin.take().expect("stdin").write_all(bytes).expect("write");
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("git");
    assert!(out.status.success(), "git {args:?}");
    out.stdout
}

/// A receive-pack request for one new commit on `main`, as git sends it.
fn push_body(dir: &Path) -> Vec<u8> {
    git(dir, &["init", "-q", "-b", "main"], None);
    git(dir, &["commit", "-q", "--allow-empty", "-m", "A"], None);
    let a = String::from_utf8_lossy(&git(dir, &["rev-parse", "HEAD"], None)).trim().to_string();
    std::fs::write(dir.join("f.txt"), "x".repeat(20_000)).expect("file");
    git(dir, &["add", "f.txt"], None);
    git(dir, &["commit", "-q", "-m", "B"], None);
    let b = String::from_utf8_lossy(&git(dir, &["rev-parse", "HEAD"], None)).trim().to_string();
    let pack = git(dir, &["pack-objects", "--stdout", "--revs"], Some(format!("{b}\n^{a}\n").as_bytes()));
    let line = format!("{a} {b} refs/heads/main\0report-status agent=bench\n");
    let mut body = format!("{:04x}{line}0000", line.len() + 4).into_bytes();
    body.extend(pack);
    body
}

/// The local server: a package, and receive-pack answered "ok".
async fn serve(listener: tokio::net::TcpListener, acceptor: tokio_rustls::TlsAcceptor) {
    let package = Bytes::from(vec![7u8; PACKAGE]);
    while let Ok((stream, _)) = listener.accept().await {
        let (acceptor, package) = (acceptor.clone(), package.clone());
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            let Ok(tls) = acceptor.accept(stream).await else { return };
            let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let package = package.clone();
                async move {
                    let post = req.method() == hyper::Method::POST;
                    let _ = req.into_body().collect().await;
                    let body =
                        if post { Bytes::from_static(b"000eunpack ok\n0019ok refs/heads/main\n0000") } else { package };
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(body)))
                }
            });
            let io = hyper_util::rt::TokioIo::new(tls);
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
        });
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// An HTTPS connection to `server` as a client makes it, straight or by `CONNECT` through
/// `proxy`; and how long that took.
async fn connect(
    server: SocketAddr,
    proxy: Option<SocketAddr>,
    tls: &tokio_rustls::TlsConnector,
) -> (Sender, Duration) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let start = Instant::now();
    let mut tcp = tokio::net::TcpStream::connect(proxy.unwrap_or(server)).await.expect("connect");
    tcp.set_nodelay(true).expect("nodelay");
    if proxy.is_some() {
        tcp.write_all(format!("CONNECT {server} HTTP/1.1\r\nhost: {server}\r\n\r\n").as_bytes())
            .await
            .expect("CONNECT");
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut b = [0u8; 1];
            tcp.read_exact(&mut b).await.expect("CONNECT reply");
            head.push(b[0]);
        }
        assert!(head.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&head));
    }
    let name = rustls_pki_types::ServerName::IpAddress(server.ip().into());
    let stream = tls.connect(name, tcp).await.expect("TLS");
    let (sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.expect("HTTP");
    tokio::spawn(conn);
    (sender, start.elapsed())
}

async fn request(sender: &mut Sender, server: SocketAddr, post: Option<&Bytes>) -> Duration {
    let start = Instant::now();
    let req = hyper::Request::builder()
        .method(if post.is_some() { "POST" } else { "GET" })
        .uri(if post.is_some() { "/repo.git/git-receive-pack" } else { "/tiny/-/tiny-1.0.0.tgz" })
        .header("host", server.to_string())
        .header("content-type", "application/x-git-receive-pack-request")
        .body(Full::new(post.cloned().unwrap_or_default()))
        .expect("request");
    let reply = sender.send_request(req).await.expect("reply");
    let body = reply.into_body().collect().await.expect("body").to_bytes();
    assert!(!body.is_empty());
    start.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let n = if quick { 50 } else { 400 };
    let dir: PathBuf = std::env::temp_dir().join(format!("teamster-bench-effects-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("repo")).expect("dir");
    // The server's own authority, which the proxy trusts as it would the system's roots.
    let server_ca = rcgen::KeyPair::generate().expect("key");
    let mut ca_params = rcgen::CertificateParams::default();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&server_ca).expect("ca");
    std::fs::write(dir.join("server-ca.pem"), ca_cert.pem()).expect("ca file");
    // SAFETY: set before any thread starts.
    unsafe { std::env::set_var("SSL_CERT_FILE", dir.join("server-ca.pem")) };
    let issuer = rcgen::Issuer::new(ca_params, server_ca);
    let leaf_key = rcgen::KeyPair::generate().expect("key");
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .expect("params")
        .signed_by(&leaf_key, &issuer)
        .expect("leaf");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server_config = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls_pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .expect("server config");
    let authority = Arc::new(Authority::open(&dir.join("authority")).expect("authority"));
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca_cert.der().clone()).expect("server CA");
    use rustls_pki_types::pem::PemObject;
    roots.add(rustls_pki_types::CertificateDer::from_pem_slice(authority.pem.as_bytes()).expect("pem")).expect("ours");
    let client_config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(client_config));
    let body = Bytes::from(push_body(&dir.join("repo")));

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async move {
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config));
        let (registry, githost) = (
            tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind"),
            tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind"),
        );
        let (registry_addr, git_addr) = (registry.local_addr().expect("addr"), githost.local_addr().expect("addr"));
        tokio::spawn(serve(registry, acceptor.clone()));
        tokio::spawn(serve(githost, acceptor));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let proxy = listener.local_addr().expect("addr");
        let meter = Arc::new(Bench { git_port: git_addr.port(), authority });
        tokio::spawn(teamster::meter::proxy::serve(
            listener,
            meter,
            Origin::Sandbox { token: "t".into() },
            Default::default(),
        ));

        println!("## Reading agents' traffic at the proxy\n");
        println!("| | straight | through the proxy | added |");
        println!("|---|---|---|---|");
        let mut setups = (Vec::new(), Vec::new());
        for _ in 0..n.min(100) {
            setups.0.push(connect(registry_addr, None, &tls).await.1);
            setups.1.push(connect(registry_addr, Some(proxy), &tls).await.1);
        }
        let row = |what: &str, a: Duration, b: Duration| {
            println!(
                "| {what} | {} | {} | {} ({:.1}x) |",
                ms(a),
                ms(b),
                ms(b.saturating_sub(a)),
                b.as_secs_f64() / a.as_secs_f64()
            )
        };
        row("a new HTTPS connection (TCP, CONNECT, TLS)", median(setups.0), median(setups.1));
        for (what, addr, post) in [
            ("a 256 KiB package download", registry_addr, None),
            ("a push of one commit (20 KB pack)", git_addr, Some(&body)),
        ] {
            let (mut straight, _) = connect(addr, None, &tls).await;
            let (mut via, _) = connect(addr, Some(proxy), &tls).await;
            let mut times = (Vec::new(), Vec::new());
            for _ in 0..n {
                times.0.push(request(&mut straight, addr, post).await);
                times.1.push(request(&mut via, addr, post).await);
            }
            row(what, median(times.0), median(times.1));
        }
        println!();
    });
    let _ = std::fs::remove_dir_all(&dir);
}
