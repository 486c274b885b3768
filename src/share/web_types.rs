//! The web page's side of the protocol, generated from the Rust types: `web/protocol.js`
//! holds every name, shape and number the page reads or sends (message tags, agent states,
//! decisions, input events, commands, style bits, the colour encoding), each written by
//! serde from a Rust value or taken from the Rust constant, never copied by hand. The page
//! uses them through `PROTOCOL`. `cargo test` fails when the file is out of date, and
//! `TEAMSTER_WRITE_WEB=1 cargo test --lib web_types` writes it again.

use crate::approval::{Decision, Reason, Surface};
use crate::input::{InputEvent, Key, KeyCode, Mods};
use crate::protocol::agent::AgentState;
use crate::protocol::{ClientMsg, Command, DetachReason, GateKind, PROTOCOL_VERSION, Reply, ServerMsg};
use crate::screen::Attrs;
use serde::Serialize;
use serde_json::{Value, json};

/// The message's tag, as serde writes it.
fn tag(msg: &impl Serialize) -> Value {
    serde_json::to_value(msg).map(|v| v["type"].clone()).unwrap_or(Value::Null)
}

fn value(v: &impl Serialize) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// The text of `web/protocol.js`.
pub fn protocol_js() -> String {
    let error = || String::new();
    let server = json!({
        "Session": tag(&ServerMsg::Session { session: Default::default() }),
        "Frame": tag(&ServerMsg::Frame { panes: Vec::new() }),
        "Pending": tag(&ServerMsg::Pending { pending: Vec::new() }),
        "History": tag(&ServerMsg::History { recent: Vec::new() }),
        "Detached": tag(&ServerMsg::Detached { reason: DetachReason::Left }),
        "Error": tag(&ServerMsg::Error { message: error() }),
        "Reply": tag(&ServerMsg::Reply { id: 0, result: Ok(Reply::Done) }),
    });
    let client = json!({
        "Command": tag(&ClientMsg::Command { id: 0, command: Command::NextTab }),
        "Resolve": tag(&ClientMsg::Resolve { id: 0, action: 0, decision: Decision::ApproveOnce, via: Surface::Browser }),
        "Input": tag(&ClientMsg::Input { pane: None, events: Vec::new() }),
        "Comment": tag(&ClientMsg::Comment { id: 0, on: crate::protocol::CommentOn::Session, text: String::new() }),
    });
    let states: serde_json::Map<String, Value> = AgentState::ALL.iter().map(|s| (format!("{s:?}"), value(s))).collect();
    let attrs: serde_json::Map<String, Value> =
        Attrs::NAMES.iter().map(|(bit, name)| (name.to_string(), json!(bit))).collect();
    let key = |code: KeyCode, mods: u8| value(&InputEvent::Key(Key::new(code, mods)));
    let protocol = json!({
        "version": PROTOCOL_VERSION,
        "server": server,
        "client": client,
        "agentState": states,
        "decision": {
            "approveOnce": value(&Decision::ApproveOnce),
            "deny": value(&Decision::deny("")),
            // A deny with the message the person wrote (the agent is told it).
            "denyWithMessage": value(&Decision::Deny { reason: Reason::Message { message: String::new() } }),
        },
        "surface": { "Browser": value(&Surface::Browser) },
        // What a spend cap that stopped the agents does past its limit.
        "gate": { "refuses": value(&GateKind::Refuses), "asks": value(&GateKind::Asks) },
        "selectTab": value(&Command::SelectTab { index: 0 }),
        "commentOn": {
            "session": value(&crate::protocol::CommentOn::Session),
            "pane": value(&crate::protocol::CommentOn::Pane { pane: 0, line: None }),
            "action": value(&crate::protocol::CommentOn::Action { action: 0 }),
        },
        "paste": value(&InputEvent::Paste(String::new())),
        "keys": {
            "Enter": key(KeyCode::Enter, 0),
            "Esc": key(KeyCode::Esc, 0),
            "Tab": key(KeyCode::Tab, 0),
            "Up": key(KeyCode::Up, 0),
            "Down": key(KeyCode::Down, 0),
            "CtrlC": key(KeyCode::Char('c'), Mods::CTRL),
        },
        "attrs": attrs,
        // Colours on the wire (`Color::to_wire`): 0 the default, 1..=256 the palette's
        // index + 1, else this bit and 0xRRGGBB.
        "colour": { "palette": 256, "rgb": crate::screen::Color::Rgb(0, 0, 0).to_wire() },
    });
    let pretty = serde_json::to_string_pretty(&protocol).unwrap_or_default();
    format!(
        "// Generated from teamster's Rust types (src/share/web_types.rs): do not edit.\n\
         // `TEAMSTER_WRITE_WEB=1 cargo test --lib web_types` writes it again.\n\
         'use strict';\n\
         const PROTOCOL = Object.freeze({pretty});\n\
         // A message's fields beside its tag, as the runner reads it.\n\
         function protocolMessage(type, fields) {{ return Object.assign({{ type }}, fields); }}\n\
         // A field's value set in a shape serde wrote (`{{ paste: '' }}` → `{{ paste: text }}`).\n\
         function protocolWith(shape, value) {{ const key = Object.keys(shape)[0]; return {{ [key]: value }}; }}\n"
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn web_types_are_generated_from_the_rust_types() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web/protocol.js");
        let want = super::protocol_js();
        if std::env::var_os("TEAMSTER_WRITE_WEB").is_some() {
            std::fs::write(&path, &want).expect("web/protocol.js");
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "web/protocol.js is not what the Rust types make: run `TEAMSTER_WRITE_WEB=1 cargo test --lib web_types` and commit it"
        );
    }
}
