//! The secrets of a share link and what they protect.
//!
//! A link is `SERVER/s/SHARE#r=READ&d=DRIVE`. The part after `#` never reaches the server:
//! browsers do not send it, and `teamster attach` strips it. From its two secrets come four
//! keys (HKDF-SHA256, salted with the share id):
//!
//! - from READ: the viewer's access token (shown to the server, which keeps its hash) and
//!   the session key (AES-256-GCM) that encrypts everything the runner sends;
//! - from DRIVE: the driver's access token, and the MAC key (HMAC-SHA256) under which the
//!   runner checks every keystroke and approval before applying it.
//!
//! So the server can tell who may join, but it cannot read the session, and a driver's
//! authority is checked by the runner, not by the server. A read-only link carries no
//! DRIVE. The web UI derives the same keys with WebCrypto (`web/app.js`); the labels below
//! are the contract between them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SecureRandom;
use ring::{aead, digest, hkdf, hmac};

/// Bytes in each secret (256 bits; the issue's floor is 128).
pub const SECRET_LEN: usize = 32;
const NONCE_LEN: usize = 12;

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(s: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).map_err(|e| format!("not base64url: {e}"))
}

/// `N` bytes from the kernel's random source.
pub fn random<const N: usize>() -> Result<[u8; N], String> {
    let mut out = [0u8; N];
    ring::rand::SystemRandom::new().fill(&mut out).map_err(|_| "the system's random source failed".to_string())?;
    Ok(out)
}

/// A fresh share id: 128 random bits.
pub fn new_share_id() -> Result<String, String> {
    Ok(b64(&random::<16>()?))
}

/// What the server keeps of an access token: its SHA-256, in hex.
pub fn token_hash(token: &str) -> String {
    digest::digest(&digest::SHA256, token.as_bytes()).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares two byte strings in time that depends only on their length.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

struct Len32;
impl hkdf::KeyType for Len32 {
    fn len(&self) -> usize {
        32
    }
}

fn derive(secret: &[u8], share: &str, label: &str) -> [u8; 32] {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, share.as_bytes()).extract(secret);
    let info = [label.as_bytes()];
    let mut out = [0u8; 32];
    // Expanding to 32 bytes cannot fail: the limit is 255 hash lengths.
    if let Ok(okm) = prk.expand(&info, Len32) {
        let _ = okm.fill(&mut out);
    }
    out
}

/// The keys of one share, as far as the holder of a link knows them.
pub struct Keys {
    pub share: String,
    read: [u8; SECRET_LEN],
    drive: Option<[u8; SECRET_LEN]>,
    enc: aead::LessSafeKey,
    mac: Option<hmac::Key>,
    /// For what only drivers may read (a forked conversation): from the drive secret.
    drive_enc: Option<aead::LessSafeKey>,
}

fn aead_key(bytes: &[u8; 32]) -> aead::LessSafeKey {
    aead::LessSafeKey::new(
        aead::UnboundKey::new(&aead::AES_256_GCM, bytes).unwrap_or_else(|_| unreachable!("32-byte key")),
    )
}

impl Keys {
    /// New secrets for a new share; `drive` false makes a share nobody can drive.
    pub fn generate(share: &str, drive: bool) -> Result<Keys, String> {
        let read = random::<SECRET_LEN>()?;
        let drive = if drive { Some(random::<SECRET_LEN>()?) } else { None };
        Ok(Keys::new(share, read, drive))
    }

    fn new(share: &str, read: [u8; SECRET_LEN], drive: Option<[u8; SECRET_LEN]>) -> Keys {
        let enc = aead_key(&derive(&read, share, "teamster/1 encrypt"));
        let mac = drive.map(|d| hmac::Key::new(hmac::HMAC_SHA256, &derive(&d, share, "teamster/1 mac")));
        let drive_enc = drive.map(|d| aead_key(&derive(&d, share, "teamster/1 drive-encrypt")));
        Keys { share: share.to_string(), read, drive, enc, mac, drive_enc }
    }

    /// The keys a link's fragment (`r=...&d=...`) names.
    pub fn from_fragment(share: &str, fragment: &str) -> Result<Keys, String> {
        let mut read = None;
        let mut drive = None;
        for part in fragment.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            let bytes: [u8; SECRET_LEN] = unb64(v)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| format!("the link's `{k}` secret is damaged (it should be {SECRET_LEN} bytes of base64url): copy the whole link again"))?;
            match k {
                "r" => read = Some(bytes),
                "d" => drive = Some(bytes),
                _ => {}
            }
        }
        let read =
            read.ok_or("the link has no secret after `#` (it should end in `#r=...`): copy the whole link again")?;
        Ok(Keys::new(share, read, drive))
    }

    /// The fragment of a link; with `drive`, one that can drive (if these keys can).
    pub fn fragment(&self, drive: bool) -> String {
        match (&self.drive, drive) {
            (Some(d), true) => format!("r={}&d={}", b64(&self.read), b64(d)),
            _ => format!("r={}", b64(&self.read)),
        }
    }

    pub fn can_drive(&self) -> bool {
        self.drive.is_some()
    }

    /// The token a viewer shows the server to join.
    pub fn read_token(&self) -> String {
        b64(&derive(&self.read, &self.share, "teamster/1 read-access"))
    }

    /// The token a driver shows the server to join as a driver.
    pub fn drive_token(&self) -> Option<String> {
        self.drive.map(|d| b64(&derive(&d, &self.share, "teamster/1 drive-access")))
    }

    /// Encrypts `plain`, bound to `aad` (what the message claims to be); nonce first.
    pub fn seal(&self, aad: &str, plain: &[u8]) -> Result<String, String> {
        seal_with(&self.enc, aad, plain)
    }

    /// Decrypts what `seal` made under the same `aad`; anything altered is an error.
    pub fn open(&self, aad: &str, sealed: &str) -> Result<Vec<u8>, String> {
        open_with(&self.enc, aad, sealed)
    }

    /// As `seal`, under the drive secret's key: only drive links open it (a read link's
    /// holder, and the server, never can).
    pub fn seal_for_drivers(&self, aad: &str, plain: &[u8]) -> Result<String, String> {
        seal_with(self.drive_enc.as_ref().ok_or("this share cannot be driven")?, aad, plain)
    }

    pub fn open_as_driver(&self, aad: &str, sealed: &str) -> Result<Vec<u8>, String> {
        open_with(self.drive_enc.as_ref().ok_or("this link cannot drive")?, aad, sealed)
    }

    /// The driver's MAC of `text`, if these keys can drive.
    pub fn sign(&self, text: &str) -> Option<String> {
        self.mac.as_ref().map(|k| b64(hmac::sign(k, text.as_bytes()).as_ref()))
    }

    /// Whether `mac` is the driver's MAC of `text` (compared in constant time).
    pub fn verify(&self, text: &str, mac: &str) -> bool {
        let (Some(key), Ok(tag)) = (&self.mac, unb64(mac)) else { return false };
        hmac::verify(key, text.as_bytes(), &tag).is_ok()
    }
}

fn seal_with(key: &aead::LessSafeKey, aad: &str, plain: &[u8]) -> Result<String, String> {
    let nonce_bytes = random::<NONCE_LEN>()?;
    let nonce = aead::Nonce::assume_unique_for_key(nonce_bytes);
    let mut buf = plain.to_vec();
    key.seal_in_place_append_tag(nonce, aead::Aad::from(aad.as_bytes()), &mut buf)
        .map_err(|_| "encryption failed".to_string())?;
    let mut out = nonce_bytes.to_vec();
    out.extend_from_slice(&buf);
    Ok(b64(&out))
}

fn open_with(key: &aead::LessSafeKey, aad: &str, sealed: &str) -> Result<Vec<u8>, String> {
    let bytes = unb64(sealed)?;
    if bytes.len() < NONCE_LEN + aead::AES_256_GCM.tag_len() {
        return Err("too short to be a sealed message".into());
    }
    let (nonce, rest) = bytes.split_at(NONCE_LEN);
    let nonce = aead::Nonce::try_assume_unique_for_key(nonce).map_err(|_| "damaged nonce".to_string())?;
    let mut buf = rest.to_vec();
    let plain = key
        .open_in_place(nonce, aead::Aad::from(aad.as_bytes()), &mut buf)
        .map_err(|_| "it does not decrypt: altered on the way, or sealed under another key".to_string())?;
    Ok(plain.to_vec())
}

/// What each sealed or signed message is bound to, so the server cannot pass one off as
/// another (an old update under a new number, a viewer's query as a driver's keystroke).
pub mod aad {
    pub fn update(share: &str, seq: u64, snapshot: bool) -> String {
        format!("teamster/1 update {share} {seq} {}", u8::from(snapshot))
    }
    pub fn reply(share: &str) -> String {
        format!("teamster/1 reply {share}")
    }
    /// A forked conversation, for drivers only.
    pub fn fork(share: &str) -> String {
        format!("teamster/1 fork {share}")
    }
    pub fn viewer(share: &str, kind: &str) -> String {
        format!("teamster/1 viewer {share} {kind}")
    }
    /// What a driver signs: the runner's epoch (so nothing signed for an earlier runner
    /// is taken by a later one), the driver's id and sequence (so nothing is taken twice).
    pub fn drive(share: &str, epoch: &str, driver: &str, seq: u64, kind: &str, sealed: &str) -> String {
        format!("teamster/1 drive {share} {epoch} {driver} {seq} {kind} {sealed}")
    }
}

/// A share link, parsed: where the server is, which share, and the keys after `#`.
pub struct Link {
    /// `http(s)://host:port`, without a trailing slash.
    pub server: String,
    pub keys: Keys,
}

impl Link {
    pub fn parse(url: &str) -> Result<Link, String> {
        let url = url.trim();
        let (base, fragment) = url
            .split_once('#')
            .ok_or("this link has no `#` part with its secrets; copy the whole link, including what follows `#`")?;
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(format!("`{base}` is not a share link: it should start with http:// or https://"));
        }
        let (server, share) = base
            .rsplit_once("/s/")
            .ok_or_else(|| format!("`{base}` is not a share link: it should look like http://HOST:6767/s/ID#r=..."))?;
        let share = share.trim_end_matches('/');
        if share.is_empty() || share.contains('/') || unb64(share).is_err() {
            return Err(format!("`{share}` is not a share id; copy the whole link again"));
        }
        Ok(Link { server: server.trim_end_matches('/').to_string(), keys: Keys::from_fragment(share, fragment)? })
    }

    pub fn url(&self, drive: bool) -> String {
        format!("{}/s/{}#{}", self.server, self.keys.share, self.keys.fragment(drive))
    }
}

/// The WebSocket address of a server given as `http(s)://host:port`.
pub fn ws_url(server: &str) -> String {
    let base = server.trim_end_matches('/');
    if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}/ws")
    } else if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}/ws")
    } else {
        format!("{base}/ws")
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn what_is_sealed_for_drivers_opens_with_a_drive_link_only() {
        let keys = Keys::generate("share-for-drivers-0001", true).unwrap();
        let sealed = keys.seal_for_drivers(&aad::fork(&keys.share), b"the conversation").unwrap();
        let driver = Keys::from_fragment(&keys.share, &keys.fragment(true)).unwrap();
        let viewer = Keys::from_fragment(&keys.share, &keys.fragment(false)).unwrap();
        assert_eq!(driver.open_as_driver(&aad::fork(&keys.share), &sealed).unwrap(), b"the conversation");
        assert!(viewer.open_as_driver(&aad::fork(&keys.share), &sealed).is_err(), "a read link cannot");
        assert!(viewer.open(&aad::fork(&keys.share), &sealed).is_err(), "nor under the read key");
        assert!(driver.open_as_driver(&aad::reply(&keys.share), &sealed).is_err(), "bound to what it is");
        assert!(Keys::generate("share-for-drivers-0002", false).unwrap().seal_for_drivers("x", b"y").is_err());
    }

    use super::*;

    #[test]
    fn a_link_round_trips_and_a_read_only_link_cannot_drive() {
        let keys = Keys::generate("abcDEF012345", true).unwrap();
        let link = Link { server: "http://127.0.0.1:6767".into(), keys };
        let back = Link::parse(&link.url(true)).unwrap();
        assert!(back.keys.can_drive());
        assert_eq!(back.keys.read_token(), link.keys.read_token());
        let ro = Link::parse(&link.url(false)).unwrap();
        assert!(!ro.keys.can_drive());
        assert_eq!(ro.keys.drive_token(), None);
        assert_eq!(ro.keys.sign("x"), None);
        assert!(!ro.keys.verify("x", &link.keys.sign("x").unwrap()));
    }

    #[test]
    fn sealed_messages_open_only_unaltered_and_under_their_own_label() {
        let keys = Keys::generate("s1", false).unwrap();
        let sealed = keys.seal(&aad::update("s1", 4, false), b"hello").unwrap();
        assert_eq!(keys.open(&aad::update("s1", 4, false), &sealed).unwrap(), b"hello");
        assert!(keys.open(&aad::update("s1", 5, false), &sealed).is_err(), "replayed under another number");
        let mut bytes = unb64(&sealed).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(keys.open(&aad::update("s1", 4, false), &b64(&bytes)).is_err(), "tampered");
        let other = Keys::generate("s1", false).unwrap();
        assert!(other.open(&aad::update("s1", 4, false), &sealed).is_err(), "another key");
        assert!(keys.open("x", "AAAA").is_err());
    }

    #[test]
    fn tokens_and_keys_differ_and_are_tied_to_the_share() {
        let keys = Keys::generate("s1", true).unwrap();
        assert_ne!(keys.read_token(), keys.drive_token().unwrap());
        let same_secrets = Keys::from_fragment("s2", &keys.fragment(true)).unwrap();
        assert_ne!(keys.read_token(), same_secrets.read_token());
        assert!(!same_secrets.verify("m", &keys.sign("m").unwrap()));
        assert_eq!(token_hash("abc").len(), 64);
        assert!(same(b"abc", b"abc") && !same(b"abc", b"abd") && !same(b"abc", b"ab"));
    }

    #[test]
    fn damaged_links_say_what_is_wrong() {
        for (url, want) in [
            ("http://h/s/abc", "no `#`"),
            ("ftp://h/s/abc#r=x", "http://"),
            ("http://h/x/abc#r=x", "should look like"),
            ("http://h/s/abc#r=short", "damaged"),
            ("http://h/s/abc#d=", "damaged"),
            ("http://h/s/abc#", "no secret"),
        ] {
            let e = Link::parse(url).err().unwrap_or_default();
            assert!(e.contains(want), "{url}: {e}");
        }
        assert_eq!(ws_url("https://x:1/"), "wss://x:1/ws");
        assert_eq!(ws_url("http://x:1"), "ws://x:1/ws");
    }

    /// The same derivation the web UI runs in WebCrypto, pinned: a change here must be
    /// made in `web/app.js` too.
    #[test]
    fn derivation_is_pinned() {
        let keys = Keys::new("share", [7u8; 32], Some([9u8; 32]));
        let sealed = keys.seal("a", b"x").unwrap();
        assert_eq!(keys.open("a", &sealed).unwrap(), b"x");
        assert_eq!(keys.read_token(), b64(&derive(&[7u8; 32], "share", "teamster/1 read-access")));
        assert_eq!(keys.read_token().len(), 43);
    }
}
