#!/bin/bash
# Records what vim, htop, top and Claude Code write to a 100x30 terminal, for the fidelity
# test (tests/terminal.rs, `recorded_programs_look_the_same_in_teamster_and_in_vt100`).
# Run once where the programs are installed; the recordings are kept in git.
# Claude Code runs with a fresh home in a network namespace of its own: its first-run
# screens, drawn by Ink, with nothing sent anywhere.
set -euo pipefail
cd "$(dirname "$0")"
record() { # NAME COMMAND
  local raw
  raw=$(mktemp)
  TERM=xterm-256color script -q -O "$raw" -c "stty rows 30 cols 100; $2" </dev/null >/dev/null 2>&1 || true
  # script's own first and last lines are not the program's.
  sed '1d;$d' "$raw" | head -c 200000 >"$1.bytes"
  rm -f "$raw"
  echo "$1: $(wc -c <"$1.bytes") bytes"
}
src=$(cd ../.. && pwd)/src/screen/term.rs
record vim "vim -u NONE -N -i NONE -c 'syntax on' -c 'set number laststatus=2 ruler' -c 'normal 40Gzz' -c 'redraw!' -c 'sleep 300m' -c 'qa!' $src"
record htop "timeout -s INT 2 htop -d 5"
record top "timeout -s INT 2 top -d 0.5"
claude="${TEAMSTER_TEST_CACHE:-$HOME/.cache/teamster-tests}/npm/claude/node_modules/.bin/claude"
home=$(mktemp -d)
record claude "unshare -rn env HOME=$home timeout -s INT 6 $claude"
rm -rf "$home"
