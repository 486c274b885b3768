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
}

/// `teamster serve`: the share server, in the foreground.
pub fn serve(how: ServeHow) -> anyhow::Result<()> {
    use crate::share::store::Target;
    let db = match how.database {
        Some(url) => Target::database(&url).map_err(anyhow::Error::msg)?,
        None => Target::Sqlite(how.db.unwrap_or_else(|| paths::state_dir().join("server.db"))),
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let opts = crate::share::server::Options {
        listen: how.listen,
        tls: how.tls,
        insecure: how.insecure,
        db,
        bus: how.bus,
        team_token_file: how.team_token_file,
    };
    rt.block_on(crate::share::server::serve(opts))
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
