//! Git's smart HTTP protocol, as much of it as judging a push needs: the commands of a
//! `git-receive-pack` request (which refs, from what to what), the commits in its pack
//! (to tell a fast-forward from a rewrite), a protocol-v2 fetch of the commits the pack
//! builds on, and the reply that refuses a push so that git prints teamster's reason.
//!
//! Everything here reads bytes an agent sent (or a server answered): lengths are checked,
//! nothing is trusted to be well formed, and a malformed request is an error, never a
//! guess that lets a push through.

use std::collections::{HashMap, HashSet};

/// An object id, in lowercase hex (40 digits for SHA-1, 64 for SHA-256).
pub type Oid = String;

/// One ref a push updates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    pub old: Oid,
    pub new: Oid,
    pub name: String,
}

impl Command {
    pub fn creates(&self) -> bool {
        is_zero(&self.old)
    }
    pub fn deletes(&self) -> bool {
        is_zero(&self.new)
    }
}

fn is_zero(oid: &str) -> bool {
    oid.bytes().all(|b| b == b'0')
}

/// A `git-receive-pack` request body, read.
#[derive(Debug, PartialEq, Eq)]
pub struct PushRequest {
    pub commands: Vec<Command>,
    pub capabilities: Vec<String>,
    /// Where the pack starts in the body; `None` when there is none (only deletions, or
    /// git's probe of an empty request).
    pub pack_at: Option<usize>,
}

impl PushRequest {
    pub fn has(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c == capability)
    }

    /// Whether object ids are SHA-256.
    pub fn sha256(&self) -> bool {
        self.capabilities.iter().any(|c| c == "object-format=sha256")
    }
}

/// One pkt-line: its payload, or a flush/delimiter/end marker.
#[derive(Debug, PartialEq, Eq)]
enum Pkt<'a> {
    Data(&'a [u8]),
    Flush,
    Delim,
    End,
}

/// The pkt-line at `at` in `buf`, and where the next starts.
fn pkt(buf: &[u8], at: usize) -> Result<(Pkt<'_>, usize), String> {
    let head = buf.get(at..at + 4).ok_or("the request ends inside a pkt-line's length")?;
    let text = std::str::from_utf8(head).map_err(|_| "a pkt-line length is not hex")?;
    let len = usize::from_str_radix(text, 16).map_err(|_| format!("a pkt-line length is not hex: {text:?}"))?;
    match len {
        0 => Ok((Pkt::Flush, at + 4)),
        1 => Ok((Pkt::Delim, at + 4)),
        2 => Ok((Pkt::End, at + 4)),
        3 => Err("a pkt-line of length 3".into()),
        n => {
            let data = buf.get(at + 4..at + n).ok_or("the request ends inside a pkt-line")?;
            Ok((Pkt::Data(data), at + n))
        }
    }
}

/// Reads the commands of a receive-pack request (and skips its push options).
pub fn parse_push(body: &[u8]) -> Result<PushRequest, String> {
    let mut at = 0;
    let mut commands = Vec::new();
    let mut capabilities = Vec::new();
    if body.is_empty() {
        return Ok(PushRequest { commands, capabilities, pack_at: None });
    }
    loop {
        let (p, next) = pkt(body, at)?;
        at = next;
        let data = match p {
            Pkt::Flush => break,
            Pkt::Data(d) => d,
            Pkt::Delim | Pkt::End => return Err("a marker where a push command belongs".into()),
        };
        let line = data.strip_suffix(b"\n").unwrap_or(data);
        let (line, caps) = match line.iter().position(|b| *b == 0) {
            Some(i) => (&line[..i], Some(&line[i + 1..])),
            None => (line, None),
        };
        let line = std::str::from_utf8(line).map_err(|_| "a push command is not text")?;
        if let Some(caps) = caps {
            let caps = std::str::from_utf8(caps).map_err(|_| "push capabilities are not text")?;
            capabilities.extend(caps.split(' ').filter(|c| !c.is_empty()).map(str::to_string));
        }
        if line.starts_with("shallow ") {
            continue;
        }
        if line.starts_with("push-cert") {
            return Err("a signed push (push certificate), which teamster cannot read".into());
        }
        let mut parts = line.splitn(3, ' ');
        let (Some(old), Some(new), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!("not a push command: {:?}", crate::text::visible(line)));
        };
        for oid in [old, new] {
            if !(oid.len() == 40 || oid.len() == 64) || !oid.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!("not an object id: {:?}", crate::text::visible(oid)));
            }
        }
        commands.push(Command { old: old.to_ascii_lowercase(), new: new.to_ascii_lowercase(), name: name.into() });
    }
    if capabilities.iter().any(|c| c == "push-options") {
        loop {
            let (p, next) = pkt(body, at)?;
            at = next;
            if p == Pkt::Flush {
                break;
            }
        }
    }
    let pack_at = (at < body.len()).then_some(at);
    if let Some(p) = pack_at
        && !body[p..].starts_with(b"PACK")
    {
        return Err("what follows the push commands is not a pack".into());
    }
    Ok(PushRequest { commands, capabilities, pack_at })
}

/// The commits of a pack: each one's parents.
pub type Commits = HashMap<Oid, Vec<Oid>>;

/// The largest commit object read (its message included): a pack is an agent's to shape.
const MAX_COMMIT: usize = 16 << 20;

/// Reads every commit in `pack` (deltas against commits in the same pack resolved), with
/// its id. Trees and blobs are inflated only to find where the next object starts.
pub fn commits_in_pack(pack: &[u8], sha256: bool) -> Result<Commits, String> {
    if pack.len() < 12 || &pack[..4] != b"PACK" {
        return Err("not a pack".into());
    }
    let count = u32::from_be_bytes([pack[8], pack[9], pack[10], pack[11]]);
    let id_len = if sha256 { 32 } else { 20 };
    let mut at = 12;
    // Commits by where they start (for offset deltas) and by id (for ref deltas).
    let mut by_offset: HashMap<usize, Vec<u8>> = HashMap::new();
    let mut by_id: HashMap<Oid, Vec<u8>> = HashMap::new();
    let mut commits = Commits::new();
    for _ in 0..count {
        let start = at;
        let byte = |i: usize| pack.get(i).copied().ok_or("the pack ends inside an object header");
        let mut c = byte(at)?;
        at += 1;
        let kind = (c >> 4) & 7;
        let mut size = (c & 15) as u64;
        let mut shift = 4;
        while c & 0x80 != 0 {
            c = byte(at)?;
            at += 1;
            if shift > 56 {
                return Err("an object size too large".into());
            }
            size |= ((c & 0x7f) as u64) << shift;
            shift += 7;
        }
        // The commit a delta applies to, if its base is one.
        let base: Option<Vec<u8>> = match kind {
            6 => {
                let mut c = byte(at)?;
                at += 1;
                let mut ofs = (c & 0x7f) as usize;
                while c & 0x80 != 0 {
                    c = byte(at)?;
                    at += 1;
                    ofs = ofs.checked_add(1).and_then(|o| o.checked_mul(128)).ok_or("a delta offset too large")?
                        | (c & 0x7f) as usize;
                }
                let base_at = start.checked_sub(ofs).ok_or("a delta before the pack's start")?;
                by_offset.get(&base_at).cloned()
            }
            7 => {
                let id = pack.get(at..at + id_len).ok_or("the pack ends inside a delta's base")?;
                at += id_len;
                by_id.get(&hex(id)).cloned()
            }
            1..=4 => None,
            other => return Err(format!("an object of unknown type {other}")),
        };
        let keep = kind == 1 || base.is_some();
        if keep && size as usize > MAX_COMMIT {
            return Err("a commit larger than teamster reads".into());
        }
        let (data, used) = inflate(&pack[at..], keep)?;
        at += used;
        let commit = match (kind, base) {
            (1, _) => Some(data),
            (6 | 7, Some(base)) => Some(apply_delta(&base, &data)?),
            _ => None,
        };
        if let Some(body) = commit {
            let id = object_id("commit", &body, sha256);
            commits.insert(id.clone(), parents(&body));
            by_offset.insert(start, body.clone());
            by_id.insert(id, body);
        }
    }
    Ok(commits)
}

/// Inflates the zlib stream at the start of `input`: its bytes if `keep`, and how many
/// bytes of `input` it took.
fn inflate(input: &[u8], keep: bool) -> Result<(Vec<u8>, usize), String> {
    use flate2::{Decompress, FlushDecompress, Status};
    let mut z = Decompress::new(true);
    let mut out = Vec::new();
    let mut scratch = vec![0u8; 64 << 10];
    loop {
        let before_in = z.total_in() as usize;
        let before_out = z.total_out();
        let status = z
            .decompress(&input[before_in..], &mut scratch, FlushDecompress::None)
            .map_err(|e| format!("a pack object does not inflate: {e}"))?;
        let made = (z.total_out() - before_out) as usize;
        if keep {
            if out.len() + made > MAX_COMMIT {
                return Err("a commit larger than teamster reads".into());
            }
            out.extend_from_slice(&scratch[..made]);
        }
        match status {
            Status::StreamEnd => return Ok((out, z.total_in() as usize)),
            _ if made == 0 && z.total_in() as usize == before_in => {
                return Err("the pack ends inside an object".into());
            }
            _ => {}
        }
    }
}

/// Git's delta: `base` rebuilt by copy and insert instructions.
fn apply_delta(base: &[u8], delta: &[u8]) -> Result<Vec<u8>, String> {
    let bad = || "a malformed delta".to_string();
    let mut at = 0;
    let varint = |at: &mut usize| -> Result<usize, String> {
        let (mut n, mut shift) = (0usize, 0);
        loop {
            let c = *delta.get(*at).ok_or_else(bad)?;
            *at += 1;
            n |= ((c & 0x7f) as usize).checked_shl(shift).ok_or_else(bad)?;
            shift += 7;
            if c & 0x80 == 0 || shift > 56 {
                return Ok(n);
            }
        }
    };
    let _base_len = varint(&mut at)?;
    let out_len = varint(&mut at)?;
    if out_len > MAX_COMMIT {
        return Err("a commit larger than teamster reads".into());
    }
    let mut out = Vec::with_capacity(out_len);
    while at < delta.len() {
        let op = delta[at];
        at += 1;
        if op & 0x80 != 0 {
            let mut field = |bits: std::ops::Range<u8>| -> Result<usize, String> {
                let mut v = 0usize;
                for (i, bit) in bits.enumerate() {
                    if op & (1 << bit) != 0 {
                        v |= (*delta.get(at).ok_or_else(bad)? as usize) << (8 * i);
                        at += 1;
                    }
                }
                Ok(v)
            };
            let offset = field(0..4)?;
            let size = match field(4..7)? {
                0 => 0x10000,
                n => n,
            };
            out.extend_from_slice(base.get(offset..offset.checked_add(size).ok_or_else(bad)?).ok_or_else(bad)?);
        } else if op != 0 {
            out.extend_from_slice(delta.get(at..at + op as usize).ok_or_else(bad)?);
            at += op as usize;
        } else {
            return Err(bad());
        }
        if out.len() > out_len {
            return Err(bad());
        }
    }
    if out.len() != out_len {
        return Err(bad());
    }
    Ok(out)
}

fn object_id(kind: &str, body: &[u8], sha256: bool) -> Oid {
    use ring::digest;
    let alg = if sha256 { &digest::SHA256 } else { &digest::SHA1_FOR_LEGACY_USE_ONLY };
    let mut ctx = digest::Context::new(alg);
    ctx.update(format!("{kind} {}\0", body.len()).as_bytes());
    ctx.update(body);
    hex(ctx.finish().as_ref())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The parents a commit names (its header, up to the first empty line).
fn parents(body: &[u8]) -> Vec<Oid> {
    body.split(|b| *b == b'\n')
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.strip_prefix(b"parent "))
        .filter_map(|p| std::str::from_utf8(p).ok())
        .map(|p| p.trim().to_ascii_lowercase())
        .collect()
}

/// What walking back from a ref's new commit found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Walk {
    /// The old commit is an ancestor: a fast-forward.
    FastForward,
    /// The walk ended at these commits, which the pack builds on but does not hold (the
    /// server has them); whether the old commit lies beneath them is the server's to say.
    Boundary(Vec<Oid>),
    /// Every path back ended at a root without meeting the old commit: the old history is
    /// gone from the ref, a rewrite.
    Rewrite,
}

/// Walks back from `new` through `commits` looking for `old`.
pub fn walk(old: &str, new: &str, commits: &Commits) -> Walk {
    let mut seen = HashSet::new();
    let mut todo = vec![new.to_string()];
    let mut boundary = Vec::new();
    while let Some(c) = todo.pop() {
        if c == old {
            return Walk::FastForward;
        }
        if !seen.insert(c.clone()) {
            continue;
        }
        match commits.get(&c) {
            Some(parents) => todo.extend(parents.iter().cloned()),
            None => boundary.push(c),
        }
    }
    if boundary.is_empty() { Walk::Rewrite } else { Walk::Boundary(boundary) }
}

/// The body of a protocol-v2 fetch of the commits reachable from `wants` and not from
/// `have`: with `filter` (`tree:0`), commits only.
pub fn fetch_request(wants: &[Oid], have: &str, sha256: bool, filter: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut line = |s: &str| out.extend_from_slice(format!("{:04x}{s}", s.len() + 4).as_bytes());
    line("command=fetch\n");
    line("agent=teamster\n");
    if sha256 {
        line("object-format=sha256\n");
    }
    out.extend_from_slice(b"0001");
    let mut line = |s: &str| out.extend_from_slice(format!("{:04x}{s}", s.len() + 4).as_bytes());
    line("no-progress\n");
    line("ofs-delta\n");
    if filter {
        line("filter tree:0\n");
    }
    for w in wants {
        line(&format!("want {w}\n"));
    }
    line(&format!("have {have}\n"));
    line("done\n");
    out.extend_from_slice(b"0000");
    out
}

/// The pack in a protocol-v2 fetch response (its `packfile` section, side-band band 1).
pub fn fetched_pack(body: &[u8]) -> Result<Vec<u8>, String> {
    let mut at = 0;
    let mut in_pack = false;
    let mut pack = Vec::new();
    while at < body.len() {
        let (p, next) = pkt(body, at)?;
        at = next;
        match p {
            Pkt::Flush | Pkt::End if in_pack => return Ok(pack),
            Pkt::Flush | Pkt::Delim | Pkt::End => {}
            Pkt::Data(d) if !in_pack => {
                if d.starts_with(b"ERR ") {
                    return Err(format!(
                        "the server said: {}",
                        crate::text::visible(&String::from_utf8_lossy(&d[4..]))
                    ));
                }
                in_pack = d == b"packfile\n" || d == b"packfile";
            }
            Pkt::Data(d) => match d.split_first() {
                Some((1, data)) => pack.extend_from_slice(data),
                Some((3, msg)) => {
                    return Err(format!("the server said: {}", crate::text::visible(&String::from_utf8_lossy(msg))));
                }
                _ => {}
            },
        }
    }
    if in_pack { Ok(pack) } else { Err("the server sent no pack".into()) }
}

/// The reply to a receive-pack request that refuses every command with `reason`, as the
/// request asked for it (report-status, side-band), so that git prints
/// `! [remote rejected] main -> main (reason)` and a `remote:` line with the reason.
pub fn refusal(request: &PushRequest, reason: &str) -> Vec<u8> {
    // One line, no control characters: it goes into git's own output.
    let reason: String = reason.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let reason = format!("teamster: {reason}");
    let mut report = Vec::new();
    let mut line = |s: &str| report.extend_from_slice(format!("{:04x}{s}", s.len() + 4).as_bytes());
    line("unpack ok\n");
    for c in &request.commands {
        line(&format!("ng {} {reason}\n", c.name));
    }
    report.extend_from_slice(b"0000");
    let band = request.has("side-band-64k") || request.has("side-band");
    if !band {
        return report;
    }
    let max = if request.has("side-band-64k") { 65515 } else { 995 };
    let mut out = Vec::new();
    let mut packet = |band: u8, data: &[u8]| {
        out.extend_from_slice(format!("{:04x}", data.len() + 5).as_bytes());
        out.push(band);
        out.extend_from_slice(data);
    };
    let message = format!("{reason}\n");
    packet(2, &message.as_bytes()[..message.len().min(max)]);
    for chunk in report.chunks(max) {
        packet(1, chunk);
    }
    out.extend_from_slice(b"0000");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt_line(s: &[u8]) -> Vec<u8> {
        let mut v = format!("{:04x}", s.len() + 4).into_bytes();
        v.extend_from_slice(s);
        v
    }

    const A: &str = "1111111111111111111111111111111111111111";
    const B: &str = "2222222222222222222222222222222222222222";
    const Z: &str = "0000000000000000000000000000000000000000";

    #[test]
    fn a_push_request_says_which_refs_and_how() {
        let mut body = pkt_line(format!("{A} {B} refs/heads/main\0report-status side-band-64k agent=git\n").as_bytes());
        body.extend(pkt_line(format!("{A} {Z} refs/heads/old\n").as_bytes()));
        body.extend(b"0000PACK\0\0\0\x02\0\0\0\0");
        let r = parse_push(&body).expect("parses");
        assert_eq!(r.commands.len(), 2);
        assert!(!r.commands[0].deletes() && r.commands[1].deletes() && !r.commands[0].creates());
        assert!(r.has("report-status") && r.has("side-band-64k"));
        assert_eq!(r.pack_at, Some(body.len() - 12));
        // Git's probe before a large push, and garbage.
        assert_eq!(parse_push(b"0000").expect("probe").commands, vec![]);
        for bad in [&b"00"[..], b"zzzz", b"0009abcde", b"0003", b"000aa b c\n0000"] {
            assert!(parse_push(bad).is_err(), "{bad:?}");
        }
        let mut trailing = pkt_line(format!("{A} {B} refs/heads/main\n").as_bytes());
        trailing.extend(b"0000junk");
        assert!(parse_push(&trailing).is_err());
    }

    #[test]
    fn the_refusal_is_what_git_prints() {
        let mut body = pkt_line(format!("{A} {B} refs/heads/main\0report-status side-band-64k\n").as_bytes());
        body.extend(b"0000");
        let r = parse_push(&body).expect("parses");
        let reply = refusal(&r, "no\x1b[2J pushes");
        let text = String::from_utf8_lossy(&reply);
        assert!(text.contains("ng refs/heads/main teamster: no [2J pushes\n"), "{text}");
        assert!(text.contains("\x02teamster: no"), "{text}");
        assert!(reply.ends_with(b"0000"));
    }

    #[test]
    fn deltas_fail_cleanly_when_malformed() {
        assert!(apply_delta(b"abc", &[3, 3, 0x91, 0, 3]).is_ok());
        for bad in [&[][..], &[3, 2, 0x91, 0, 3][..], &[3, 3, 0x91, 9, 3][..], &[3, 3, 0][..], &[3, 9, 5, b'x'][..]] {
            assert!(apply_delta(b"abc", bad).is_err(), "{bad:?}");
        }
        assert!(commits_in_pack(b"PACK\0\0\0\x02\0\0\0\x05\x95", false).is_err());
        assert!(commits_in_pack(b"nope", false).is_err());
    }

    /// Runs git in `dir` with no configuration but its own.
    fn git(dir: &std::path::Path, args: &[&str], input: Option<&str>) -> Vec<u8> {
        use std::io::Write;
        let mut child = std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", dir)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("git");
        if let Some(text) = input {
            child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write");
        }
        drop(child.stdin.take());
        let out = child.wait_with_output().expect("git output");
        assert!(out.status.success(), "git {args:?}");
        out.stdout
    }

    #[test]
    fn the_commits_of_a_real_pack_and_what_a_push_does() {
        let dir = std::env::temp_dir().join(format!("teamster-pack-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        git(&dir, &["init", "-q", "-b", "main"], None);
        let text = |s: &[u8]| String::from_utf8_lossy(s).trim().to_string();
        let mut ids = Vec::new();
        for i in 0..4 {
            // Long, similar messages: git deltas them against each other.
            let message = format!("commit {i}\n\n{}", "the same long body line\n".repeat(40));
            git(&dir, &["commit", "-q", "--allow-empty", "-F", "-"], Some(&message));
            ids.push(text(&git(&dir, &["rev-parse", "HEAD"], None)));
        }
        let (base, tip) = (&ids[0], &ids[3]);
        let pack = git(
            &dir,
            &["pack-objects", "--stdout", "--revs", "--delta-base-offset"],
            Some(&format!("{tip}\n^{base}\n")),
        );
        let commits = commits_in_pack(&pack, false).expect("reads the pack");
        assert_eq!(commits.len(), 3, "{commits:?}");
        assert_eq!(commits[tip], vec![ids[2].clone()]);
        // From the tip, the old commit is reached: a fast-forward; from elsewhere, the
        // walk ends where the pack does.
        assert_eq!(walk(base, tip, &commits), Walk::FastForward);
        assert_eq!(walk(tip, &ids[2], &commits), Walk::Boundary(vec![base.clone()]));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_walk_tells_fast_forward_boundary_and_rewrite() {
        let c: Commits = [("n".to_string(), vec!["m".to_string()]), ("m".to_string(), vec!["o".to_string()])].into();
        assert_eq!(walk("o", "n", &c), Walk::FastForward);
        assert_eq!(walk("x", "n", &c), Walk::Boundary(vec!["o".into()]));
        let roots: Commits = [("n".to_string(), vec![])].into();
        assert_eq!(walk("o", "n", &roots), Walk::Rewrite);
    }
}
