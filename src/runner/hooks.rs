//! The hook socket: where agents' hooks report to the runner.
//!
//! It is a socket of its own, apart from the control socket, because it is the one agents
//! can reach: an agent may only submit an event and wait for the verdict. Nothing said on
//! it can approve, deny or change anything else. Each pane's hook commands carry a token,
//! given only to that pane, that says which pane is speaking.

use super::{Runner, log};
use crate::agents::{AgentKind, Verdict};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

/// The largest hook payload accepted; a hook reports one tool call, not a file's content.
pub const MAX_HOOK: usize = 4 << 20;

/// One line from `teamster hook`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HookRequest {
    pub token: String,
    pub agent: AgentKind,
    pub event: String,
    pub payload: serde_json::Value,
}

pub async fn serve(runner: Arc<Runner>, listener: UnixListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(handle(runner.clone(), stream));
            }
            Err(e) => {
                log(&format!("hook socket: {e}"));
                // Out of descriptors, say: wait rather than spin.
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

async fn handle(runner: Arc<Runner>, stream: UnixStream) {
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
                    verdict = runner.hook(req) => verdict,
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

fn deny(reason: &str) -> Verdict {
    Verdict::Deny { reason: reason.into() }
}
