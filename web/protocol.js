// Generated from teamster's Rust types (src/share/web_types.rs): do not edit.
// `TEAMSTER_WRITE_WEB=1 cargo test --lib web_types` writes it again.
'use strict';
const PROTOCOL = Object.freeze({
  "agentState": {
    "Exited": "exited",
    "Idle": "idle",
    "NeedsApproval": "needs-approval",
    "Starting": "starting",
    "StoppedBySpendCap": "stopped-by-spend-cap",
    "WaitingForInput": "waiting-for-input",
    "Working": "working"
  },
  "attrs": {
    "blink": 64,
    "bold": 1,
    "curly-underline": 32,
    "dashed-underline": 4096,
    "dim": 2,
    "dotted-underline": 2048,
    "double-underline": 16,
    "hidden": 256,
    "inverse": 128,
    "italic": 4,
    "overline": 1024,
    "strike": 512,
    "underline": 8
  },
  "client": {
    "Command": "command",
    "Comment": "comment",
    "Input": "input",
    "Resolve": "resolve"
  },
  "colour": {
    "palette": 256,
    "rgb": 16777216
  },
  "commentOn": {
    "action": {
      "action": 0,
      "on": "action"
    },
    "pane": {
      "line": null,
      "on": "pane",
      "pane": 0
    },
    "session": {
      "on": "session"
    }
  },
  "decision": {
    "approveOnce": {
      "decision": "approve-once"
    },
    "deny": {
      "decision": "deny",
      "reason": ""
    },
    "denyWithMessage": {
      "decision": "deny",
      "reason": "",
      "whose": "person"
    }
  },
  "gate": {
    "asks": "asks",
    "refuses": "refuses"
  },
  "keys": {
    "CtrlC": {
      "key": {
        "code": {
          "char": "c"
        },
        "mods": 4
      }
    },
    "Down": {
      "key": {
        "code": "down",
        "mods": 0
      }
    },
    "Enter": {
      "key": {
        "code": "enter",
        "mods": 0
      }
    },
    "Esc": {
      "key": {
        "code": "esc",
        "mods": 0
      }
    },
    "Tab": {
      "key": {
        "code": "tab",
        "mods": 0
      }
    },
    "Up": {
      "key": {
        "code": "up",
        "mods": 0
      }
    }
  },
  "paste": {
    "paste": ""
  },
  "selectTab": {
    "select-tab": {
      "index": 0
    }
  },
  "server": {
    "Detached": "detached",
    "Error": "error",
    "Frame": "frame",
    "History": "history",
    "Pending": "pending",
    "Reply": "reply",
    "Session": "session"
  },
  "surface": {
    "Browser": "browser"
  },
  "version": 5
});
// A message's fields beside its tag, as the runner reads it.
function protocolMessage(type, fields) { return Object.assign({ type }, fields); }
// A field's value set in a shape serde wrote (`{ paste: '' }` → `{ paste: text }`).
function protocolWith(shape, value) { const key = Object.keys(shape)[0]; return { [key]: value }; }
