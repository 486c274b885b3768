//! A git host and a package registry on loopback, as a sandboxed agent meets them through
//! teamster's proxy: HTTPS with a certificate from a test authority (made with openssl),
//! git's own `http-backend` behind it for repositories, and fixed files for a registry.
//! They listen on 127.0.0.2, which no agent's `NO_PROXY` names (127.0.0.1 is there so that
//! agents reach teamster's proxy directly).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

pub const ADDR: &str = "127.0.0.2";

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl (Debian package openssl)");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A test authority and a certificate it signed for 127.0.0.2 and localhost, in `dir`
/// (`ca.pem`, `server.pem`, `server.key`); returns the authority's file.
pub fn certificates(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).expect("cert dir");
    let days = ["-days", "2"];
    openssl(
        dir,
        &[
            &["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem"][..],
            &days,
            &["-subj", "/CN=test git host CA"],
        ]
        .concat(),
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.2",
        ],
    );
    std::fs::write(dir.join("ext.cnf"), "subjectAltName=IP:127.0.0.2,DNS:localhost\nbasicConstraints=CA:FALSE\n")
        .expect("ext");
    openssl(
        dir,
        &[
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.pem",
                "-extfile",
                "ext.cnf",
            ][..],
            &days,
        ]
        .concat(),
    );
    dir.join("ca.pem")
}

/// Files the server hands out as they are, by path.
pub type Files = HashMap<String, Vec<u8>>;

/// A running host. It stops with the test's process.
pub struct Host {
    /// Where it listens: 127.0.0.2, or `localhost` (127.0.0.1).
    pub name: &'static str,
    pub port: u16,
    /// What it was asked, `METHOD /path`, in order.
    pub requests: Arc<parking_lot::Mutex<Vec<String>>>,
    _rt: tokio::runtime::Runtime,
}

impl Host {
    /// Serves the repositories under `root` (git's smart HTTP, pushes allowed) and `files`,
    /// with the certificate in `certs`, on 127.0.0.2.
    pub fn start(certs: &Path, root: &Path, files: Files) -> Host {
        Host::start_on(ADDR, certs, root, files)
    }

    /// The same on `name` (`localhost`: npm's proxy agent checks a certificate of a host
    /// given by address against "localhost", so a registry needs a name).
    pub fn start_on(name: &'static str, certs: &Path, root: &Path, files: Files) -> Host {
        use rustls_pki_types::pem::PemObject;
        let chain: Vec<rustls_pki_types::CertificateDer<'static>> =
            rustls_pki_types::CertificateDer::pem_file_iter(certs.join("server.pem"))
                .expect("server.pem")
                .collect::<Result<_, _>>()
                .expect("certificates");
        let key = rustls_pki_types::PrivateKeyDer::from_pem_file(certs.join("server.key")).expect("server.key");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        let ip = if name == "localhost" { "127.0.0.1" } else { name };
        let listener = rt.block_on(tokio::net::TcpListener::bind((ip, 0))).expect("listen");
        let port = listener.local_addr().expect("addr").port();
        let requests = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let (root, files, seen) = (root.to_path_buf(), Arc::new(files), requests.clone());
        rt.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (acceptor, root, files, seen) = (acceptor.clone(), root.clone(), files.clone(), seen.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(stream).await else { return };
                    let service = hyper::service::service_fn(move |req| {
                        let (root, files, seen) = (root.clone(), files.clone(), seen.clone());
                        async move { Ok::<_, std::convert::Infallible>(answer(req, &root, &files, &seen).await) }
                    });
                    let io = hyper_util::rt::TokioIo::new(tls);
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
                });
            }
        });
        Host { name, port, requests, _rt: rt }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://{}:{}{path}", self.name, self.port)
    }

    /// `NAME:PORT`, as the config names it.
    pub fn authority(&self) -> String {
        format!("{}:{}", self.name, self.port)
    }
}

type Body = http_body_util::Full<bytes::Bytes>;

async fn answer(
    req: hyper::Request<hyper::body::Incoming>,
    root: &Path,
    files: &Files,
    seen: &parking_lot::Mutex<Vec<String>>,
) -> hyper::Response<Body> {
    use http_body_util::BodyExt;
    let path = req.uri().path().to_string();
    seen.lock().push(format!("{} {path}", req.method()));
    if let Some(file) = files.get(&path) {
        return hyper::Response::new(Body::from(file.clone()));
    }
    let (head, body) = req.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let root = root.to_path_buf();
    tokio::task::spawn_blocking(move || cgi(&root, &head, &body)).await.unwrap_or_else(|e| {
        let mut r = hyper::Response::new(Body::from(format!("{e}")));
        *r.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}

/// One request through `git http-backend`, as a web server runs a CGI program.
fn cgi(root: &Path, head: &hyper::http::request::Parts, body: &[u8]) -> hyper::Response<Body> {
    let header = |name: &str| head.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let mut child = Command::new("git")
        .arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", root)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REMOTE_USER", "tester")
        .env("REMOTE_ADDR", ADDR)
        .env("REQUEST_METHOD", head.method.as_str())
        .env("PATH_INFO", head.uri.path())
        .env("QUERY_STRING", head.uri.query().unwrap_or(""))
        .env("CONTENT_TYPE", header("content-type"))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("HTTP_CONTENT_ENCODING", header("content-encoding"))
        .env("HTTP_GIT_PROTOCOL", header("git-protocol"))
        .env("GIT_PROTOCOL", header("git-protocol"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("git http-backend");
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(body);
    }
    let out = child.wait_with_output().expect("http-backend output").stdout;
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").map(|i| (i, 4));
    let split = split.or_else(|| out.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let (head_end, gap) = split.unwrap_or((out.len(), 0));
    let mut response = hyper::Response::builder();
    let mut status = 200;
    for line in String::from_utf8_lossy(&out[..head_end]).lines() {
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("status") {
                status = value.split(' ').next().and_then(|s| s.parse().ok()).unwrap_or(500);
            } else {
                response = response.header(name.trim(), value);
            }
        }
    }
    let body = out.get(head_end + gap..).unwrap_or_default().to_vec();
    response.status(status).body(Body::from(body)).expect("response")
}
