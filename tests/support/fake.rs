//! A stand-in for Claude Code, for tests that need an agent but not a model: a prompt loop
//! that reports each step through `teamster hook` with Claude Code's payloads.
//!
//!   hello        says `you said: hello`
//!   run CMD      asks to run CMD (PreToolUse); runs it unless denied
//!   confirm CMD  as Claude Code does when its own rules say ask: reports the call
//!                (PreToolUse), then asks its user (PermissionRequest); runs it if allowed
//!   ask MODEL [ROUTE]  one model call through teamster's proxy (the `ANTHROPIC_BASE_URL`
//!                of its `--settings`, or another ROUTE of the pane), with the key it holds
//!                (`ANTHROPIC_API_KEY`), printing the reply
//!   impatient MODEL  `ask`, but gives up waiting for the answer after a second (as an
//!                HTTP client's timeout does) and sends the same request again
//!   spawn FILE   starts `bash FILE` in the background, as the agent's own process
//!
//! `--resume ID` comes back in conversation ID.

use super::Env;
use std::path::Path;

pub const FAKE_CLAUDE: &str = r#"#!/bin/bash
session="s-$$"
settings="$2"
[ "$3" = "--resume" ] && { session="$4"; echo "resumed $session"; }
h() { printf '%s' "$2" | teamster hook claude "$1"; }
# A model call over bash's /dev/tcp: no curl needed. `send` opens it on descriptor 3 and
# sends the request; `ask` prints the reply.
ask() {
  send "$@" || return
  local reply
  reply=$(cat <&3)
  exec 3<&-
  echo "reply: $(printf '%s' "$reply" | head -1 | tr -d '\r') $(printf '%s' "$reply" | grep -o '"text":"[^"]*"\|"message":"[^"]*"' | head -1)"
}
impatient() {
  send "$@" || return
  local first
  if read -r -t 1 first <&3; then exec 3<&-; echo "answered at once"; return; fi
  exec 3<&-
  echo "gave up waiting"
  ask "$@"
}
send() {
  local url
  url=$(sed -n 's/.*"ANTHROPIC_BASE_URL": *"\([^"]*\)".*/\1/p' "$settings")
  [ -z "$url" ] && { echo "no proxy in $settings"; return 1; }
  local rest=${url#http://} hostport=${url#http://}
  hostport=${hostport%%/*}
  local path="/${rest#*/}/v1/messages"
  [ -n "$2" ] && path="${path%/anthropic/v1/messages}/$2/v1/messages"
  local body="{\"model\":\"$1\",\"max_tokens\":10,\"stream\":false,\"tools\":[{\"name\":\"Bash\"}],\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}"
  exec 3<>"/dev/tcp/${hostport%:*}/${hostport#*:}"
  printf 'POST %s HTTP/1.1\r\nhost: %s\r\ncontent-type: application/json\r\nx-api-key: %s\r\ncontent-length: %d\r\nconnection: close\r\n\r\n%s' \
    "$path" "$hostport" "${ANTHROPIC_API_KEY:-k}" "${#body}" "$body" >&3
}
h SessionStart "{\"session_id\":\"$session\"}" >/dev/null
while IFS= read -r -p 'fake> ' line; do
  h UserPromptSubmit "{\"session_id\":\"$session\",\"prompt\":\"p\"}" >/dev/null
  case "$line" in
    run\ *)
      cmd="${line#run }"
      verdict=$(h PreToolUse "{\"session_id\":\"$session\",\"tool_name\":\"Bash\",\"tool_input\":{\"command\":\"$cmd\"},\"tool_use_id\":\"t1\"}")
      case "$verdict" in
        *'"deny"'*) echo "denied: $verdict" ;;
        *) eval "$cmd"; echo "ran: $cmd" ;;
      esac ;;
    confirm\ *)
      cmd="${line#confirm }"
      call="\"tool_name\":\"Bash\",\"tool_input\":{\"command\":\"$cmd\"}"
      h PreToolUse "{\"session_id\":\"$session\",$call,\"tool_use_id\":\"t2\"}" >/dev/null
      verdict=$(h PermissionRequest "{\"session_id\":\"$session\",$call}")
      case "$verdict" in
        *'"allow"'*) eval "$cmd"; echo "ran: $cmd" ;;
        *) echo "not run: $verdict" ;;
      esac ;;
    ask\ *) set -- ${line#ask }; ask "$1" "$2" ;;
    impatient\ *) set -- ${line#impatient }; impatient "$1" "$2" ;;
    spawn\ *) bash "${line#spawn }" >"${line#spawn }.log" 2>&1 & echo "spawned" ;;
    *) echo "you said: $line" ;;
  esac
  h Stop "{\"session_id\":\"$session\"}" >/dev/null
done
"#;

/// A policy that holds every shell command mentioning `git push` for a person.
pub const ASK_BEFORE_PUSH: &str = r#"
[[policy]]
name = "pushes need a look"
on = "tool_call"
tool = ["shell"]
command = '\bgit\s+push\b'
verdict = "ask"
reason = "pushing leaves the machine"
"#;

/// Writes an executable script. A child process writes it, so no descriptor open for writing
/// ever exists in this (multi-threaded) process: another test's fork between our write and
/// our exec would hold one and make the exec fail with "Text file busy".
pub fn write_script(path: &Path, text: &str) {
    use std::io::Write;
    let mut child = std::process::Command::new("sh")
        .args(["-c", "cat > \"$1\" && chmod 755 \"$1\"", "sh"])
        .arg(path)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("sh");
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("script");
    assert!(child.wait().expect("sh").success(), "writing {}", path.display());
}

/// Installs the stand-in in `env`; returns its `[agents.fake]` entry.
pub fn fake_claude(env: &Env) -> String {
    let path = env.dir.join("fake-claude");
    write_script(&path, FAKE_CLAUDE);
    format!("[agents.fake]\nkind = \"claude\"\ncommand = \"{}\"\n", path.display())
}
