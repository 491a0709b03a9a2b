#!/usr/bin/env bash
# Templated requests cost no more than built-in traffic: the closed model at full speed
# (64 virtual users, no think time) against one `dobench serve --ceiling off --data :memory:`
# on loopback, alternating
#   A: the built-in sharded-counter profile (hand-written request code), and
#   B: examples/profiles/templated-counter.toml (the same increments and 5 % reads, written
#      as [[http.requests]] templates, plus its answer checks and invariants),
# both with hash:16 over 10k zipf keys, for ROUNDS rounds of DURATION each. Prints achieved
# req/s per round and B's median as a share of A's (issue 15 claims B ≥ 90 % of A).
#
# Env: DURATION (default 10s), ROUNDS (default 3), VUS (default 64),
#      DOBENCH_BIN (default target/release/dobench; build it with
#      `cargo build --release -p dobench`).
# Needs: python3 (to read the JSON). Only loopback traffic.
set -euo pipefail

DURATION="${DURATION:-10s}"
ROUNDS="${ROUNDS:-3}"
VUS="${VUS:-64}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${DOBENCH_BIN:-$ROOT/target/release/dobench}"
[ -x "$BIN" ] || { echo "no $BIN: cargo build --release -p dobench" >&2; exit 2; }

TMP="$(mktemp -d)"
SERVE_PID=""
cleanup() {
  if [ -n "$SERVE_PID" ]; then
    kill "$SERVE_PID" 2>/dev/null || true
    wait "$SERVE_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

"$BIN" serve --bind 127.0.0.1:0 --ceiling off --data :memory: >"$TMP/serve.log" 2>&1 &
SERVE_PID=$!
for _ in $(seq 100); do
  URL="$(grep -o 'http://127.0.0.1:[0-9]*' "$TMP/serve.log" | head -1 || true)"
  [ -n "$URL" ] && break
  sleep 0.1
done
[ -n "$URL" ] || { echo "dobench serve did not start:" >&2; cat "$TMP/serve.log" >&2; exit 2; }

closed=(--set 'load.model="closed"' --set "load.vus=$VUS" --set "load.max_in_flight=$VUS"
        --set 'thresholds=[]' -d "$DURATION" --target "$URL" --json --db "$TMP/r.db")
rps() { python3 -c 'import json,sys; print(json.load(sys.stdin)["achieved_rps"])'; }

A=(); B=()
for r in $(seq "$ROUNDS"); do
  a="$("$BIN" run sharded-counter --strategy hash:16 "${closed[@]}" | rps)"
  b="$("$BIN" run "$ROOT/examples/profiles/templated-counter.toml" --strategy hash:16 "${closed[@]}" | rps)"
  printf 'round %s  built-in %10.0f req/s   templated %10.0f req/s\n' "$r" "$a" "$b"
  A+=("$a"); B+=("$b")
done
python3 - "${A[*]}" "${B[*]}" <<'PY'
import statistics, sys
a = [float(x) for x in sys.argv[1].split()]
b = [float(x) for x in sys.argv[2].split()]
ma, mb = statistics.median(a), statistics.median(b)
print(f"median    built-in {ma:10.0f} req/s   templated {mb:10.0f} req/s   templated/built-in {mb / ma * 100:.1f} %")
PY
