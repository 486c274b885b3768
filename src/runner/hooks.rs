//! Hook sockets: where agents' hooks report to the runner.
//!
//! Each agent pane has a socket of its own, apart from the control socket, because it is
//! what agents can reach: an agent may only submit an event and wait for the verdict.
//! Nothing said on it can approve, deny or change anything else. Which pane is speaking,
//! and what kind of agent it runs, is which socket it spoke on: nothing in a payload says
//! so, and a sandboxed pane sees no other pane's socket (nor their processes).

use super::{Runner, log};
use crate::agents::Answer;
use crate::layout::PaneId;
use std::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::protocol::{HookRequest, MAX_HOOK};

/// A pane's hook socket being served; dropped, it stops and its socket file goes (whatever
/// ends the pane, or a start that fails half way).
pub struct Listening {
    task: tokio::task::AbortHandle,
    path: std::path::PathBuf,
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Listens on `path` for pane `pane`'s hooks (only its owner may connect).
pub fn listen(runner: &Arc<Runner>, pane: PaneId, path: &Path) -> Result<Listening, String> {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::remove_file(path);
    let listener =
        UnixListener::bind(path).map_err(|e| format!("cannot make the pane's hook socket {}: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("cannot protect {}: {e}", path.display()))?;
    let task = tokio::spawn(serve(Arc::downgrade(runner), listener, pane)).abort_handle();
    Ok(Listening { task, path: path.to_path_buf() })
}

async fn serve(runner: std::sync::Weak<Runner>, listener: UnixListener, pane: PaneId) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let Some(runner) = runner.upgrade() else { return };
                tokio::spawn(handle(runner, stream, pane));
            }
            Err(e) => {
                log(&format!("hook socket of pane {pane}: {e}"));
                // Out of descriptors, say: wait rather than spin.
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

async fn handle(runner: Arc<Runner>, stream: UnixStream, pane: PaneId) {
    match stream.peer_cred() {
        Ok(cred) if cred.uid() == nix::unistd::getuid().as_raw() => {}
        _ => return,
    }
    let (rd, mut wr) = stream.into_split();
    let mut line = Vec::new();
    let mut rd = BufReader::new(rd).take(MAX_HOOK as u64 + 1);
    let verdict = match rd.read_until(b'\n', &mut line).await {
        Ok(_) if line.len() > MAX_HOOK => deny("the hook's report is too large"),
        Ok(_) => match serde_json::from_slice::<HookRequest>(&line) {
            Ok(req) => {
                let mut rd = rd.into_inner();
                let hung_up = async {
                    let mut rest = [0u8; 64];
                    while matches!(rd.read(&mut rest).await, Ok(n) if n > 0) {}
                };
                tokio::select! {
                    verdict = runner.hook(pane, req) => verdict,
                    // The helper hung up (its agent cancelled the call): dropping the
                    // wait withdraws what it held.
                    () = hung_up => return,
                }
            }
            Err(e) => deny(&format!("teamster could not read the hook's report: {e}")),
        },
        Err(e) => deny(&format!("teamster could not read the hook's report: {e}")),
    };
    let mut out = serde_json::to_vec(&verdict).unwrap_or_default();
    out.push(b'\n');
    let _ = wr.write_all(&out).await;
}

fn deny(reason: &str) -> Answer {
    Some(crate::approval::Decision::deny(reason))
}
