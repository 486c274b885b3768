#!/bin/bash
# Two real agents driven only through teamster's command line, as a user's script or CI
# would: Claude Code starts with a first prompt, its answer goes to Codex, a prompt is
# refused while a permission question is open, and every command's --json parses with the
# fields docs/scripting.md promises.
#
# Run by tests/agents.rs (`a_script_drives_two_real_agents_through_the_cli`), which puts
# teamster on PATH and writes a config pointing both agents at the mock LLM, with a policy
# that asks before any command mentioning `held-by-policy` (the mock's tool call runs
# `touch held-by-policy`). Node reads the JSON: it is on every machine teamster's tests run.
set -euo pipefail

fail() {
  echo "FAIL: $*" >&2
  teamster ls >&2 || true
  exit 1
}

# `field PATH` prints a field of the JSON on stdin (`a.b.0.c`); missing is a failure.
field() {
  node -e '
    let text = "";
    process.stdin.on("data", (c) => (text += c)).on("end", () => {
      const v = process.argv[1].split(".").reduce((o, k) => (o == null ? undefined : o[k]), JSON.parse(text));
      if (v === undefined) { console.error(`no ${process.argv[1]} in ${text}`); process.exit(1); }
      console.log(typeof v === "object" ? JSON.stringify(v) : String(v));
    });' "$1"
}

step() { echo "== $*"; }

step "a session, and Claude Code with its first prompt"
teamster -d -s script --size 200x50 -- sleep 100000
made=$(teamster new claude -t script --tab --name writer --prompt "MARK-W write a summary" --json)
[ "$(field session <<<"$made")" = script ] || fail "new --json: $made"
[ "$(field place <<<"$made")" = script:2.1 ] || fail "new --json: $made"
writer=$(field pane <<<"$made")
teamster wait writer --for waiting --timeout 180 || fail "Claude Code did not finish its first turn"

step "its last reply, as text and as JSON"
reply=$(teamster capture writer --last-reply)
case "$reply" in "mock reply to MARK-W"*) ;; *) fail "capture --last-reply: $reply" ;; esac
json=$(teamster capture writer --last-reply --json)
[ "$(field reply <<<"$json")" = "$reply" ] || fail "capture --last-reply --json: $json"
[ "$(field pane <<<"$json")" = "$writer" ] || fail "capture --last-reply --json: $json"
screen=$(teamster capture "$writer" --json -n 5)
field rows.0.runs <<<"$screen" >/dev/null || fail "capture --json has no rows: $screen"

step "Codex, given Claude Code's answer"
teamster new codex -t script --name reviewer --json | field pane >/dev/null
teamster wait reviewer --for idle --timeout 180 || fail "Codex did not start"
sent=$(teamster send reviewer --from writer:last-reply "MARK-R review this:" --json)
[ "$(field sent <<<"$sent")" = true ] || fail "send --from: $sent"
teamster wait reviewer --for waiting --timeout 180 || fail "Codex did not finish its turn"
# The mock names the first and the last MARK- word of what it was sent: the prompt's own,
# and the one inside Claude Code's answer.
codex=$(teamster capture reviewer --last-reply)
case "$codex" in "mock reply to MARK-W (you first said: MARK-R)"*) ;; *) fail "Codex answered: $codex" ;; esac
# Its screen shows its answer (rows joined: a narrow pane wraps it).
teamster capture reviewer | tr -d '\n' | grep -q "mock reply to" || fail "Codex's screen does not show its answer"

step "a permission question: nothing is typed into it"
teamster send writer "MARK-T please run the tool" >/dev/null
teamster wait writer --for needs-approval --timeout 180 || fail "the policy did not ask"
if teamster send writer "y" 2>/dev/null; then fail "a prompt was typed into a question"; fi
set +e
refused=$(teamster send writer "y" --json)
status=$?
set -e
[ "$status" = 3 ] || fail "send into a question exited $status"
[ "$(field why <<<"$refused")" = dialog ] || fail "send --json: $refused"
pending=$(teamster approvals --json)
id=$(field pending.0.id <<<"$pending")
for f in session pane agent kind tool what reason since deadline; do field "pending.0.$f" <<<"$pending" >/dev/null; done
[ "$(field pending.0.kind <<<"$pending")" = tool_call ] || fail "approvals --json: $pending"
denied=$(teamster deny "$id" --reason "not in a script" --json)
[ "$(field decision.decision <<<"$denied")" = deny ] || fail "deny --json: $denied"
teamster wait writer --for waiting --timeout 180 || fail "Claude Code did not go on after the deny"
[ ! -e held-by-policy ] || fail "the denied command ran"

step "every command's JSON"
ls=$(teamster ls --json)
[ "$(field sessions.0.name <<<"$ls")" = script ] || fail "ls --json: $ls"
field sessions.0.tabs.1.panes.0.agent.state <<<"$ls" >/dev/null
audit=$(teamster audit --json)
field decisions.0.place <<<"$audit" >/dev/null
rules=$(teamster rules --json)
[ "$(field policies.0.verdict <<<"$rules")" = ask ] || fail "rules --json: $rules"
field policies.0.when.command <<<"$rules" >/dev/null
teamster cost --json | field total >/dev/null
teamster keys --json | field modes.normal >/dev/null
teamster doctor --json | field checks.0.status >/dev/null
all=$(teamster send --all -t script "MARK-A everyone" --no-enter --json)
field results.0.place <<<"$all" >/dev/null
killed=$(teamster kill -t script --json)
field message <<<"$killed" >/dev/null
echo "all good"
