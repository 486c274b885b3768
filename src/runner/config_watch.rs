//! The config, watched: when the config file, the key map, a theme or a policy file it
//! includes changes on disk, the runner applies it (prices, policies, providers, agents
//! for panes started after) and tells every attached client, which reloads its keys and
//! theme; a file that does not load keeps the last good config in force and says why.

use super::Runner;
use crate::protocol::ServerMsg;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// How often the files are looked at: a save shows within this.
const EVERY: Duration = Duration::from_millis(500);

/// What the config's files look like now: each `.toml` file in the config's directory (and
/// one level below it, where included policy files go), by path, size and time.
fn fingerprint(config: &Path) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    let mut files = vec![config.to_path_buf()];
    if let Some(dir) = config.parent() {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                files.extend(std::fs::read_dir(&path).into_iter().flatten().flatten().map(|e| e.path()));
            } else {
                files.push(path);
            }
        }
    }
    files.retain(|p| p.extension().is_some_and(|x| x == "toml"));
    files.sort();
    files.dedup();
    files
        .into_iter()
        .map(|p| {
            let meta = std::fs::metadata(&p).ok();
            let (len, modified) = (meta.as_ref().map_or(0, |m| m.len()), meta.and_then(|m| m.modified().ok()));
            (p, len, modified)
        })
        .collect()
}

/// Watches the config for as long as the runner runs (on a thread of its own: reading a
/// directory is blocking work).
pub fn start(runner: &Arc<Runner>) {
    let runner = runner.clone();
    let spawned = std::thread::Builder::new().name("config-watch".into()).spawn(move || {
        let mut seen = fingerprint(&runner.config_path);
        loop {
            std::thread::sleep(EVERY);
            if *runner.shutdown.borrow() {
                return;
            }
            let now = fingerprint(&runner.config_path);
            if now == seen {
                continue;
            }
            seen = now;
            let error = runner.reload_config().err();
            match &error {
                Some(e) => super::log(e),
                None => super::log("config reloaded"),
            }
            let st = runner.state.lock();
            for s in st.sessions.values() {
                let msg = ServerMsg::ConfigReloaded { error: error.clone() };
                let _ = s.events.send(super::SessionEvent::Message(msg));
            }
        }
    });
    if let Err(e) = spawned {
        super::log(&format!("cannot watch the config: {e}"));
    }
}
