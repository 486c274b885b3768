//! teamster's own certificate authority, for reading what sandboxed agents send to git
//! hosts and package registries: the proxy ends their TLS with a certificate it signs for
//! the host, reads the requests, and sends them on over TLS of its own.
//!
//! Only teamster's sandboxes trust it (their environment names a bundle with it); it is
//! never added to the system's store, its key stays in the state directory (0600, hidden
//! from every sandbox), and a client that does not trust it fails to connect rather than
//! going around.

use parking_lot::Mutex;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub struct Authority {
    issuer: Issuer<'static, KeyPair>,
    /// The authority's certificate, PEM.
    pub pem: String,
    /// A TLS server configuration per host, made on its first connection.
    hosts: Mutex<HashMap<String, Arc<rustls::ServerConfig>>>,
}

const NAME: &str = "teamster sandbox authority (trusted only inside teamster's sandboxes)";

/// The authority's own parameters: the same every time, so that a key read back signs
/// certificates its certificate vouches for.
fn params() -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name.push(DnType::CommonName, NAME);
    p.distinguished_name.push(DnType::OrganizationName, "teamster");
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    p
}

impl Authority {
    /// The authority kept in `dir` (`ca.key`, `ca.pem`), made on first use.
    pub fn open(dir: &Path) -> Result<Authority, String> {
        crate::paths::ensure_private_dir(dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
        let (key_path, pem_path) = (dir.join("ca.key"), dir.join("ca.pem"));
        let read = |p: &Path| std::fs::read_to_string(p);
        let (key, pem) = match (read(&key_path), read(&pem_path)) {
            (Ok(k), Ok(c)) => {
                let key = KeyPair::from_pem(&k).map_err(|e| {
                    format!(
                        "{} is not a key teamster can use ({e}); remove it and its ca.pem to make a new authority",
                        key_path.display()
                    )
                })?;
                (key, c)
            }
            _ => {
                let key = KeyPair::generate().map_err(|e| format!("cannot make the authority's key: {e}"))?;
                let cert = params().self_signed(&key).map_err(|e| format!("cannot make the authority: {e}"))?;
                write_private(&key_path, key.serialize_pem().as_bytes())?;
                write_private(&pem_path, cert.pem().as_bytes())?;
                (key, cert.pem())
            }
        };
        Ok(Authority { issuer: Issuer::new(params(), key), pem, hosts: Mutex::new(HashMap::new()) })
    }

    /// The TLS configuration that serves `host` (a name or an address) with a certificate
    /// this authority signed.
    pub fn server_config(&self, host: &str) -> Result<Arc<rustls::ServerConfig>, String> {
        if let Some(c) = self.hosts.lock().get(host) {
            return Ok(c.clone());
        }
        let fail = |e: &dyn std::fmt::Display| format!("cannot make a certificate for {host}: {e}");
        let key = KeyPair::generate().map_err(|e| fail(&e))?;
        let mut p = CertificateParams::new(vec![host.to_string()]).map_err(|e| fail(&e))?;
        p.distinguished_name.push(DnType::CommonName, host);
        p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let cert = p.signed_by(&key, &self.issuer).map_err(|e| fail(&e))?;
        let chain = vec![cert.der().clone()];
        let key = rustls_pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| fail(&e))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| fail(&e))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let config = Arc::new(config);
        self.hosts.lock().insert(host.to_string(), config.clone());
        Ok(config)
    }

    /// Writes, in `dir`, the files a sandbox's TLS clients are pointed at: `teamster-ca.pem`
    /// (this authority) and `ca-bundle.pem` (the system's roots and this authority).
    pub fn write_trust(&self, dir: &Path) -> Result<Trust, String> {
        let own = dir.join("teamster-ca.pem");
        let bundle = dir.join("ca-bundle.pem");
        let mut all = system_roots();
        if !all.is_empty() && !all.ends_with('\n') {
            all.push('\n');
        }
        all.push_str(&self.pem);
        for (path, text) in [(&own, &self.pem), (&bundle, &all)] {
            let _ = std::fs::remove_file(path);
            write_private(path, text.as_bytes())?;
        }
        Ok(Trust { own, bundle })
    }
}

/// The files a sandbox trusts.
pub struct Trust {
    pub own: PathBuf,
    pub bundle: PathBuf,
}

impl Trust {
    /// The variables that point TLS clients at them: OpenSSL and everything built on it,
    /// curl, git, Python's requests and pip, Node (which adds to its own roots), npm and
    /// its kin, cargo, Deno, AWS tools.
    pub fn env(&self) -> Vec<(String, String)> {
        let (own, bundle) = (self.own.to_string_lossy(), self.bundle.to_string_lossy());
        [
            ("SSL_CERT_FILE", &bundle),
            ("CURL_CA_BUNDLE", &bundle),
            ("GIT_SSL_CAINFO", &bundle),
            ("REQUESTS_CA_BUNDLE", &bundle),
            ("PIP_CERT", &bundle),
            ("CARGO_HTTP_CAINFO", &bundle),
            ("DENO_CERT", &bundle),
            ("AWS_CA_BUNDLE", &bundle),
            ("NODE_EXTRA_CA_CERTS", &own),
            // npm, pnpm and yarn take a `cafile` (some systems set one in /etc/npmrc),
            // which outranks Node's own roots.
            ("npm_config_cafile", &bundle),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }
}

/// The roots this machine trusts, as PEM: `SSL_CERT_FILE` of teamster's own environment,
/// else the distribution's bundle. Read once: every sandboxed pane's bundle starts with it.
fn system_roots() -> String {
    static ROOTS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ROOTS.get_or_init(read_system_roots).clone()
}

fn read_system_roots() -> String {
    let candidates = std::env::var_os("SSL_CERT_FILE").map(PathBuf::from).into_iter().chain(
        [
            "/etc/ssl/certs/ca-certificates.crt",
            "/etc/pki/tls/certs/ca-bundle.crt",
            "/etc/ssl/cert.pem",
            "/etc/ssl/ca-bundle.pem",
        ]
        .map(PathBuf::from),
    );
    candidates
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .find(|t| t.contains("BEGIN CERTIFICATE"))
        .unwrap_or_default()
}

/// A new file only its owner reads, never through a symbolic link.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    f.write_all(bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authority_is_made_once_private_and_signs_for_hosts() {
        let dir = std::env::temp_dir().join(format!("teamster-ca-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let a = Authority::open(&dir).expect("made");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("ca.key")).expect("key").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let again = Authority::open(&dir).expect("read back");
        assert_eq!(a.pem, again.pem, "the same authority after a restart");
        assert!(again.server_config("github.com").is_ok() && again.server_config("127.0.0.1").is_ok());
        std::fs::write(dir.join("ca.key"), "garbage").expect("spoil");
        let err = Authority::open(&dir).err().unwrap_or_default();
        assert!(err.contains("remove it"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
