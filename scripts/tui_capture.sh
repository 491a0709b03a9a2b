#!/usr/bin/env bash
# Drives the live TUI for real: runs a dobench command with --tui inside a detached tmux
# pane, captures the pane mid-run (`tmux capture-pane -p`) into scripts/tui_capture.txt,
# presses `q`, and checks the run stopped early yet ended with a saved run (`dobench runs`).
#
#   scripts/tui_capture.sh                       # dobench run chat-fanout --tui --duration 20s
#   scripts/tui_capture.sh http 'http://127.0.0.1:8787/counter/x/increment' --method POST \
#       --rate 2000 --duration 20s --tui        # any dobench command (its --db is added)
#
# Env: WIDTH/HEIGHT (pane size, default 120x40), CAPTURE_AFTER (s before the capture, 8),
# OUT (capture file), DOBENCH (binary; built with cargo when unset).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v tmux >/dev/null; then
    apt-get install -y tmux >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y tmux >/dev/null; }
fi
if [[ -z "${DOBENCH:-}" ]]; then
    cargo build -q -p dobench
    DOBENCH=$PWD/target/debug/dobench
fi
WIDTH=${WIDTH:-120}
HEIGHT=${HEIGHT:-40}
CAPTURE_AFTER=${CAPTURE_AFTER:-8}
OUT=${OUT:-scripts/tui_capture.txt}
work=$(mktemp -d)
db=$work/results.db
session=dobench-tui-$$
trap 'tmux kill-session -t "$session" 2>/dev/null || true; rm -rf "$work"' EXIT

if [[ $# -eq 0 ]]; then
    set -- run chat-fanout --tui --duration 20s
fi
cmd=$(printf '%q ' "$DOBENCH" "$@" --db "$db")
echo "== in tmux (${WIDTH}x${HEIGHT}): dobench $* --db $db"
# The pane outlives the command so its summary can be read after `q`.
tmux new-session -d -s "$session" -x "$WIDTH" -y "$HEIGHT" \
    "$cmd; echo DOBENCH_EXIT=\$?; sleep 120"

sleep "$CAPTURE_AFTER"
tmux capture-pane -p -t "$session" >"$OUT"
echo "== captured mid-run into $OUT:"
cat "$OUT"

echo "== pressing q"
tmux send-keys -t "$session" q
for _ in $(seq 1 60); do
    tmux capture-pane -p -S -100 -t "$session" >"$work/after.txt"
    grep -q DOBENCH_EXIT= "$work/after.txt" && break
    sleep 0.5
done
echo "== after q (the run's own summary):"
grep -v '^$' "$work/after.txt" || true

fail=0
grep -q 'DOBENCH_EXIT=' "$work/after.txt" || { echo "FAIL: the run did not end after q"; fail=1; }
grep -qi 'ceiling' "$OUT" || { echo "FAIL: the capture shows no ceiling"; fail=1; }
grep -qi 'stopped early' "$work/after.txt" || { echo "FAIL: the summary does not say it stopped early"; fail=1; }
echo "== dobench runs --db $db"
"$DOBENCH" runs --db "$db" | tee "$work/runs.txt"
[[ $(grep -vc '^\s*$' "$work/runs.txt") -ge 2 ]] || { echo "FAIL: no saved run"; fail=1; }
if [[ $fail -eq 0 ]]; then
    echo "OK: dashboard drawn, q stopped the run, run saved"
fi
exit $fail
