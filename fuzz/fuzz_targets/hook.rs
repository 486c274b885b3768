//! A hook's report as the runner reads it off a pane's hook socket (one JSON line:
//! `{"event": ..., "payload": ...}`), parsed by the adapter of the agent kind the first
//! byte picks; each tool call's command is split as the policy engine splits it, and the
//! answer (none, approve once, approve always, deny) is rendered back in that agent's form,
//! with the payload (its own "always" suggestions) beside it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use teamster::agents::{AgentKind, Answer, HookEvent, hook_reply, parse_hook};
use teamster::approval::{AllowScope, Decision};
use teamster::protocol::HookRequest;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, line)) = data.split_first() else { return };
    let kind = AgentKind::BUILT_IN[pick as usize % AgentKind::BUILT_IN.len()];
    let Ok(req) = serde_json::from_slice::<HookRequest>(line) else { return };
    for event in parse_hook(kind, &req.event, &req.payload) {
        if let HookEvent::ToolCall(call) | HookEvent::PermissionDialog(call) = &event {
            let _ = teamster::policy::paths_outside(
                call.command.as_deref(),
                &call.paths,
                Path::new("/work/project/sub"),
                Path::new("/work/project"),
                Path::new("/home/u"),
            );
        }
    }
    let answers: [Answer; 4] = [
        None,
        Some(Decision::ApproveOnce),
        Some(Decision::ApproveAlways { scope: AllowScope::Workspace }),
        Some(Decision::deny(req.event.clone())),
    ];
    for answer in &answers {
        let _ = hook_reply(kind, &req.event, &req.payload, answer);
    }
});
