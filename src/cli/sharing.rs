//! `teamster share`, `unshare`, `serve`, and `attach LINK`.

use super::{load_config, runtime};
use crate::client::{existing, request};
use crate::paths;
use crate::protocol::{ClientMsg, Reply, ShareRequest, ShareView};
use crate::text::{visible, visible_lines};
use anyhow::bail;
use std::io::IsTerminal;
use std::path::PathBuf;

/// `teamster share`: starts a share and prints its links (or lists the shares).
pub fn share(mut req: ShareRequest, list: bool, json: bool) -> anyhow::Result<()> {
    let rt = runtime()?;
    let shares = rt.block_on(async {
        let Some(mut conn) = existing(&paths::socket_path()).await? else {
            bail!("no runner is running, so there is nothing to share; start a session with `teamster`")
        };
        if list {
            return match request(&mut conn, |id| ClientMsg::Shares { id }).await? {
                Reply::Shares { shares } => Ok(shares),
                _ => bail!("unexpected reply"),
            };
        }
        // From inside a pane: that pane's session.
        if req.session.is_none()
            && req.pane.is_none()
            && let Some(pane) = std::env::var("TEAMSTER_PANE").ok().and_then(|p| p.parse::<u32>().ok())
            && let Reply::Sessions { sessions } = request(&mut conn, |id| ClientMsg::List { id }).await?
        {
            req.session = sessions.into_iter().find(|s| s.pane(pane).is_some()).map(|s| s.name);
        }
        match request(&mut conn, |id| ClientMsg::Share { id, share: req }).await? {
            Reply::Shares { shares } => Ok(shares),
            _ => bail!("unexpected reply"),
        }
    })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "shares": shares }))?);
    } else if list && shares.is_empty() {
        println!("nothing is shared; `teamster share` shares the current session");
    } else {
        for s in &shares {
            print!("{}", describe(s, !list));
        }
    }
    Ok(())
}

fn describe(s: &ShareView, new: bool) -> String {
    let what = match s.pane {
        Some(p) => format!("pane {p} of session `{}`", visible(&s.session)),
        None => format!("session `{}`", visible(&s.session)),
    };
    let until = crate::runner::store::local_time(s.expires);
    let mut out =
        format!("{} {what} (share {}, until {until})\n", if new { "sharing" } else { "shared:" }, visible(&s.id));
    // Links come from the share server: shown, not obeyed.
    out += &format!("  watch: {}\n", visible(&s.read_url));
    if let Some(d) = &s.drive_url {
        let d = visible(d);
        out += &format!("  drive: {d}\n         (this one can type and approve: give it only to someone you trust)\n");
    }
    if new {
        out += "open a link in a browser, or run: teamster attach 'LINK'\n";
        out += &format!("stop with: teamster unshare {}\n", visible(&s.id));
    } else {
        let state = if s.connected { "connected" } else { "reconnecting to the server" };
        // Viewers name themselves.
        let watching =
            if s.viewers.is_empty() { "nobody yet".to_string() } else { visible(&s.viewers.join(", ")).into_owned() };
        out += &format!("  {state}; watching: {watching}\n");
    }
    out
}

/// `teamster unshare`: stops shares; their viewers are cut off.
pub fn unshare(id: Option<String>, session: Option<String>, json: bool) -> anyhow::Result<()> {
    let rt = runtime()?;
    let text = rt.block_on(async {
        let Some(mut conn) = existing(&paths::socket_path()).await? else {
            bail!("nothing is shared (no runner is running)")
        };
        match request(&mut conn, |rid| ClientMsg::Unshare { id: rid, share: id, session }).await? {
            Reply::Text { text } => Ok(text),
            _ => bail!("unexpected reply"),
        }
    })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "message": text }))?);
    } else {
        println!("{}", visible_lines(&text));
    }
    Ok(())
}

/// How `teamster serve` was asked to run.
pub struct ServeHow {
    pub listen: std::net::SocketAddr,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub insecure: bool,
    pub db: Option<PathBuf>,
    pub database: Option<String>,
    pub bus: Option<String>,
    pub team_token_file: Option<PathBuf>,
    pub members_only: bool,
}

/// The records `--db` or `--database` name (default: server.db in the state directory).
fn records(db: Option<PathBuf>, database: Option<String>) -> anyhow::Result<crate::share::store::Target> {
    use crate::share::store::Target;
    Ok(match database {
        Some(url) => Target::database(&url).map_err(anyhow::Error::msg)?,
        None => Target::Sqlite(db.unwrap_or_else(|| paths::state_dir().join("server.db"))),
    })
}

/// `teamster serve`: the share server, in the foreground.
pub fn serve(how: ServeHow) -> anyhow::Result<()> {
    let db = records(how.db, how.database)?;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let opts = crate::share::server::Options {
        listen: how.listen,
        tls: how.tls,
        insecure: how.insecure,
        db,
        bus: how.bus,
        team_token_file: how.team_token_file,
        members_only: how.members_only,
    };
    rt.block_on(crate::share::server::serve(opts))
}

/// `teamster serve invite NAME`: a one-time join URL.
pub fn serve_invite(
    config_path: PathBuf,
    name: &str,
    expires: &str,
    server: Option<String>,
    db: Option<PathBuf>,
    database: Option<String>,
) -> anyhow::Result<()> {
    let target = records(db, database)?;
    let lasts = crate::share::parse_duration(expires).map_err(anyhow::Error::msg)?;
    let public = match server {
        Some(s) => s,
        None => load_config(&config_path)?.share.server,
    };
    crate::share::connect_address(&public).map_err(anyhow::Error::msg)?;
    let url =
        runtime()?.block_on(crate::share::server::invite(&target, name, lasts, &public)).map_err(anyhow::Error::msg)?;
    let days = lasts as f64 / 86400.0;
    println!("{url}");
    eprintln!(
        "give this to {} (it works once, for {}): they run `teamster join '{}'`",
        visible(name),
        if days >= 1.0 { format!("{days:.0} days") } else { format!("{:.0} hours", lasts as f64 / 3600.0) },
        visible(&url)
    );
    Ok(())
}

/// `teamster serve members [--revoke NAME]`.
pub fn serve_members(
    revoke: Option<String>,
    json: bool,
    db: Option<PathBuf>,
    database: Option<String>,
) -> anyhow::Result<()> {
    let target = records(db, database)?;
    let rt = runtime()?;
    let (members, revoked) = rt.block_on(async {
        let store = target.open().await.map_err(anyhow::Error::msg)?;
        let revoked = match &revoke {
            Some(who) => Some(store.revoke_member(who, crate::runner::now_secs()).await.map_err(anyhow::Error::msg)?),
            None => None,
        };
        anyhow::Ok((store.members().await.map_err(anyhow::Error::msg)?, revoked))
    })?;
    if let (Some(who), Some(gone)) = (&revoke, &revoked)
        && gone.is_empty()
    {
        bail!("no member `{}` to revoke (by name or id; `teamster serve members` lists them)", visible(who));
    }
    if json {
        let list: Vec<_> = members
            .iter()
            .map(|m| serde_json::json!({ "id": m.id, "name": m.name, "joined": m.joined, "revoked": m.revoked }))
            .collect();
        let revoked: Vec<_> = revoked.unwrap_or_default().iter().map(|m| m.id.clone()).collect();
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "members": list, "revoked": revoked }))?);
        return Ok(());
    }
    if let Some(gone) = &revoked {
        for m in gone {
            println!(
                "revoked {} ({}): their token no longer registers shares, and their shares end when their runner next connects",
                visible(&m.name),
                m.id
            );
        }
        return Ok(());
    }
    if members.is_empty() {
        println!("no members yet: `teamster serve invite NAME` makes a join URL for one");
        return Ok(());
    }
    let local = crate::runner::store::local_time;
    println!("{:<24} {:<18} {:<20} state", "name", "id", "joined");
    for m in &members {
        let state = m.revoked.map_or("member".to_string(), |at| format!("revoked {}", local(at)));
        println!("{:<24} {:<18} {:<20} {state}", visible(&m.name), m.id, local(m.joined));
    }
    Ok(())
}

/// `teamster join URL`: uses an invite; the member token is kept (0600) where the runner
/// finds it for that server (`share::member_token_path`).
pub fn join(url: &str) -> anyhow::Result<()> {
    let (server, code) = url.split_once("/join#").filter(|(s, c)| !s.is_empty() && !c.is_empty()).ok_or_else(|| {
        anyhow::anyhow!(
            "`{}` is not an invite URL: it looks like https://HOST/join#CODE (copy all of it, # included)",
            visible(url)
        )
    })?;
    crate::share::connect_address(server).map_err(anyhow::Error::msg)?;
    let path = crate::share::member_token_path(server).map_err(anyhow::Error::msg)?;
    let rt = runtime()?;
    let joined = rt.block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let body = serde_json::to_string(&crate::share::server::JoinRequest { code: code.to_string() })?;
        let resp = client
            .post(format!("{server}/join"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("cannot reach the share server at {}: {e}", visible(server)))?;
        let status = resp.status();
        let text = resp.text().await?;
        if !status.is_success() {
            let why = serde_json::from_str::<crate::share::server::JoinError>(&text)
                .map(|e| e.error)
                .unwrap_or_else(|_| format!("it answered {status}"));
            bail!("the share server at {} did not let you in: {}", visible(server), visible(&why));
        }
        serde_json::from_str::<crate::share::server::Joined>(&text)
            .map_err(|e| anyhow::anyhow!("the share server answered something unexpected: {e}"))
    })?;
    crate::agents::write_private(&path, &format!("{}\n", joined.token))
        .map_err(|e| anyhow::anyhow!("cannot keep your member token in {}: {e}", path.display()))?;
    println!(
        "joined {} as {}; `teamster share --server {}` now registers your shares there (token kept in {})",
        visible(server),
        visible(&joined.name),
        visible(server),
        path.display()
    );
    Ok(())
}

/// `teamster attach LINK`: the TUI on a teammate's shared session.
pub fn attach_url(config_path: PathBuf, url: &str, name: Option<String>) -> anyhow::Result<()> {
    let config = load_config(&config_path)?;
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        bail!(
            "teamster attach needs a terminal (stdin and stdout must be a tty); to look in a browser, open the link there"
        );
    }
    let name = name.or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "someone".into());
    let rt = runtime()?;
    let reason = rt.block_on(async {
        let remote = crate::tui::remote::Remote::connect(url, name).await.map_err(anyhow::Error::msg)?;
        let opts = crate::tui::Options {
            config,
            config_path,
            target: crate::protocol::AttachTarget::Default,
            context: super::context(),
        };
        crate::tui::run(remote, opts).await
    })?;
    // Why the link ended may be the server's or the sharer's words.
    if !reason.is_empty() {
        println!("{}", visible_lines(&reason));
    }
    rt.shutdown_timeout(std::time::Duration::from_millis(50));
    Ok(())
}

/// `teamster fork LINK [--pane N]`: a shared agent's conversation (and its worktree's
/// committed branch) continued in a pane of your own teamster, resumed into it.
pub fn fork(
    config_path: PathBuf,
    url: &str,
    pane: Option<u32>,
    target: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    use crate::protocol::{ClientMsg, NewPane, Reply, Resume, ServerMsg, Spawn};
    use crate::tui::link::Link as _;
    let config = load_config(&config_path)?;
    let link = crate::share::crypto::Link::parse(url).map_err(anyhow::Error::msg)?;
    if !link.keys.can_drive() {
        bail!(
            "forking takes a drive link (the one with &d=): an agent's conversation may hold more than its screen shows, and the sharer gives that only with the drive link"
        );
    }
    let name = std::env::var("USER").unwrap_or_else(|_| "someone".into());
    let rt = runtime()?;
    let (pack, from_pane) = rt.block_on(async {
        let mut remote = crate::tui::remote::Remote::connect(url, name).await.map_err(anyhow::Error::msg)?;
        let deadline = std::time::Duration::from_secs(60);
        // The session first: which pane, if none was named (the focused one).
        let mut asked: Option<u32> = None;
        loop {
            let msg = tokio::time::timeout(deadline, remote.recv())
                .await
                .map_err(|_| anyhow::anyhow!("the share did not answer within 60 s"))??;
            match msg {
                Some(ServerMsg::Session { session }) if asked.is_none() => {
                    let p = pane
                        .or_else(|| session.focused())
                        .ok_or_else(|| anyhow::anyhow!("the shared session has no pane"))?;
                    remote.send(ClientMsg::Fork { id: 1, pane: p }).await?;
                    asked = Some(p);
                }
                Some(ServerMsg::Reply { id: 1, result }) => {
                    let p = asked.unwrap_or_default();
                    return match result {
                        Ok(Reply::Forked { sealed }) => {
                            let aad = crate::share::crypto::aad::fork(&link.keys.share);
                            let plain = link
                                .keys
                                .open_as_driver(&aad, &sealed)
                                .map_err(|e| anyhow::anyhow!("the fork did not open: {e}"))?;
                            let pack: crate::protocol::ForkPack = serde_json::from_slice(&plain)
                                .map_err(|e| anyhow::anyhow!("the fork came malformed: {e}"))?;
                            Ok((pack, p))
                        }
                        Ok(_) => bail!("the sharer's runner answered something unexpected"),
                        Err(e) => bail!("the sharer's runner did not fork pane {p}: {}", visible(&e)),
                    };
                }
                Some(ServerMsg::Detached { reason }) => bail!("the share ended: {}", visible(&reason.words())),
                Some(_) => {}
                None => bail!("the share link closed"),
            }
        }
    })?;
    // An agent of yours of the same kind: the same name if you have it.
    let agents = crate::agents::all(&config);
    let agent = agents
        .iter()
        .find(|a| a.name == pack.agent && a.kind == pack.kind)
        .or_else(|| agents.iter().find(|a| a.kind == pack.kind))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "your config has no agent of the kind {:?} to continue {}'s conversation",
                pack.kind,
                visible(&pack.agent)
            )
        })?
        .name
        .clone();
    let cwd = std::env::current_dir()?;
    let branch = match &pack.branch {
        Some(b) => Some(import_branch(&cwd, b)?),
        None => None,
    };
    let conversation = pack.conversation.clone();
    let near = std::env::var("TEAMSTER_PANE").ok().and_then(|p| p.parse().ok());
    let request = NewPane {
        session: target,
        near,
        spawn: Spawn::Agent { name: agent.clone() },
        tab: false,
        dir: None,
        context: super::context(),
        worktree: branch.clone(),
        base: None,
        name: Some(format!("fork of {}", visible(&pack.agent))),
        resume: Some(Box::new(Resume {
            conversation: conversation.clone(),
            transcript: Some(pack.transcript),
            transcript_path: Some(pack.transcript_path),
        })),
    };
    let (pane, session) = rt.block_on(async {
        let Some(mut conn) = super::existing(&paths::socket_path()).await? else {
            bail!("no session of yours is running to fork into; start one with `teamster`, then fork again");
        };
        match super::request(&mut conn, |id| ClientMsg::NewPane { id, pane: request }).await? {
            Reply::Pane { pane, session } => Ok((pane, session)),
            _ => bail!("unexpected reply"),
        }
    })?;
    if json {
        let v = serde_json::json!({ "pane": pane, "session": session, "agent": agent, "conversation": conversation, "branch": branch });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        let on = branch.as_deref().map(|b| format!(", on the branch {}", visible(b))).unwrap_or_default();
        println!(
            "forked pane {from_pane}'s conversation: pane {pane} of session {} runs {agent} in it{on}",
            visible(&session)
        );
    }
    Ok(())
}

/// The forked branch in the repository around `cwd`, as `fork/NAME` (numbered when that
/// is taken): its commits from the bundle, or the commit it starts from when it has none.
/// git runs as the runner runs it (no hook, no global config: the repository's own
/// configuration may be an agent's).
fn import_branch(cwd: &std::path::Path, b: &crate::protocol::ForkBranch) -> anyhow::Result<String> {
    use crate::runner::worktree::git;
    let repo = git(cwd, &["rev-parse", "--show-toplevel"]).map_err(|_| {
        anyhow::anyhow!("the shared pane works on a branch: run `teamster fork` in a checkout of the same repository")
    })?;
    let repo = std::path::PathBuf::from(repo);
    let safe: String = b
        .name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/') { c } else { '-' })
        .collect();
    let safe = safe.split('/').filter(|p| !p.is_empty() && !p.starts_with('.')).collect::<Vec<_>>().join("/");
    let exists = |name: &str| git(&repo, &["rev-parse", "--verify", "--quiet", &format!("refs/heads/{name}")]).is_ok();
    let name = (1..)
        .map(|n| if n == 1 { format!("fork/{safe}") } else { format!("fork/{safe}-{n}") })
        .find(|n| !exists(n))
        .unwrap_or_default();
    git(&repo, &["check-ref-format", "--branch", &name])
        .map_err(|_| anyhow::anyhow!("the shared branch's name `{}` is not one git takes", visible(&b.name)))?;
    // A commit id and nothing else: the sharer's words go to git as an argument.
    let hex = |s: &str| (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit());
    if !hex(&b.base) {
        bail!("the shared branch came with `{}` for its base, not a commit id", visible(&b.base));
    }
    let lacks = |e: String| {
        anyhow::anyhow!(
            "your checkout lacks the commit {} that the branch {} starts from: fetch the sharer's base branch (git fetch) and fork again ({})",
            visible(&b.base),
            visible(&b.name),
            visible(&e)
        )
    };
    match &b.bundle {
        None => {
            git(&repo, &["branch", "--end-of-options", &name, &b.base]).map_err(lacks)?;
        }
        Some(bundle) => {
            let bytes =
                crate::share::crypto::unb64(bundle).map_err(|e| anyhow::anyhow!("the branch came malformed: {e}"))?;
            let file = paths::fork_scratch("bundle")?;
            crate::nofollow::write(&crate::nofollow::base_of(&file)?, &file, &bytes)?;
            let refspec = format!("refs/heads/{}:refs/heads/{name}", b.name);
            // The objects are a peer's: checked as they come in.
            let source = file.to_string_lossy().into_owned();
            let args =
                ["-c", "transfer.fsckObjects=true", "fetch", "--no-tags", "--no-write-fetch-head", &source, &refspec];
            let fetched = git(&repo, &args);
            let _ = std::fs::remove_file(&file);
            fetched.map_err(lacks)?;
        }
    }
    Ok(name)
}
