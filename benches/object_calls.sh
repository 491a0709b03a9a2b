#!/usr/bin/env bash
# Calls between objects, side by side on the reference runtime and real workerd:
#   hop latency   what one call from one object to another adds, as a client sees it:
#                 p50/p99 of GET /probe/lat/hop?to=lat-callee&n=1 (the caller makes one
#                 typed call to the callee's `noop`) minus p50/p99 of GET /probe/lat/noop
#                 (the same object answering without a call); one connection, one request
#                 at a time (`dobench http -c 1`).
#   call rate     calls between objects per second: GET /probe/tp{0-15}/hop?to=tpc{0-15}&n=20
#                 from CONNECTIONS users (each request is 20 calls one after another), req/s × 20.
# Targets alternate (workerd, dobench, workerd, ...) for ROUNDS rounds; prints every round
# and the median per target.
#
# Env: DOBENCH_BIN (default target/release/dobench), DURATION (s per measurement, default 5),
#      ROUNDS (default 3), CONNECTIONS (call-rate users, default 16), SKIP_WORKERD=1,
#      DATA_ROOT (where the reference keeps its SQLite files; default $TMPDIR or /tmp).
# The reference runs with `--ceiling off` (the ceiling would pace the callee's turns).
# workerd is started by `dobench target workerd` (its data in a temp dir of its own).
# Needs: workerd from npm (`cd workloads/worker && npm ci`), python3. Loopback only.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DOBENCH_BIN="${DOBENCH_BIN:-$ROOT/target/release/dobench}"
DURATION="${DURATION:-5}"
ROUNDS="${ROUNDS:-3}"
CONNECTIONS="${CONNECTIONS:-16}"
DATA_ROOT="${DATA_ROOT:-${TMPDIR:-/tmp}}"
HOPS=20

[ -x "$DOBENCH_BIN" ] || { echo "DOBENCH_BIN=$DOBENCH_BIN is not executable: cargo build --release -p dobench" >&2; exit 2; }
command -v python3 >/dev/null || { echo "python3 not found (reads dobench's JSON)" >&2; exit 2; }

TMP="$(mktemp -d "$DATA_ROOT/dobench-calls-XXXXXX")"
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]+"${PIDS[@]}"}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

# start NAME CMD... : runs a server that prints "listening on http://IP:PORT" first (both
# `dobench serve` and `dobench target workerd` do), sets URL to it once it answers health.
start() {
  local name="$1" i line=""
  shift
  "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  PIDS+=("$!")
  for i in $(seq 1 300); do
    line="$(grep -m1 -o 'listening on http://[0-9.:]*' "$TMP/$name.out" 2>/dev/null || true)"
    if [ -n "$line" ] && curl -fsS -o /dev/null "${line#listening on }/_dobench/health" 2>/dev/null; then
      URL="${line#listening on }"
      return 0
    fi
    sleep 0.1
  done
  echo "$name did not start:" >&2
  cat "$TMP/$name.err" >&2
  exit 1
}

# http_json ARGS... -> one line "p50 p99 rps errors" from `dobench http --json`
http_json() {
  "$DOBENCH_BIN" http --json "$@" 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
errors = d["errors"]["total"] if isinstance(d.get("errors"), dict) else d.get("errors", 0)
print(d["latency_ms"]["p50"], d["latency_ms"]["p99"], d["achieved_rps"], errors)'
}

median() {
  printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'
}

TARGETS=()
URLS=()
if [ "${SKIP_WORKERD:-0}" != "1" ]; then
  start workerd "$DOBENCH_BIN" target workerd
  TARGETS+=(workerd)
  URLS+=("$URL")
fi
mkdir -p "$TMP/dobench-data"
start dobench "$DOBENCH_BIN" serve --bind 127.0.0.1:0 --ceiling off --data "$TMP/dobench-data"
TARGETS+=(dobench)
URLS+=("$URL")

echo "object calls: ${DURATION}s per measurement x $ROUNDS rounds; hop latency with 1 connection, call rate with $CONNECTIONS users x $HOPS calls per request; data under $DATA_ROOT"
for i in "${!TARGETS[@]}"; do
  echo "  ${TARGETS[$i]}: ${URLS[$i]}"
  # Warm up: construct the objects, open their databases.
  http_json -c 4 -d 1s "${URLS[$i]}/probe/lat/hop?to=lat-callee&n=1" >/dev/null
  http_json -c "$CONNECTIONS" -d 1s "${URLS[$i]}/probe/tp{rand:0-15}/hop?to=tpc{rand:0-15}&n=$HOPS" >/dev/null
done

declare -A N50 N99 H50 H99 RATE
for round in $(seq 1 "$ROUNDS"); do
  for i in "${!TARGETS[@]}"; do
    t="${TARGETS[$i]}"
    u="${URLS[$i]}"
    read -r n50 n99 _ nerr < <(http_json -c 1 -d "${DURATION}s" "$u/probe/lat/noop")
    read -r h50 h99 _ herr < <(http_json -c 1 -d "${DURATION}s" "$u/probe/lat/hop?to=lat-callee&n=1")
    read -r _ _ rps terr < <(http_json -c "$CONNECTIONS" -d "${DURATION}s" "$u/probe/tp{rand:0-15}/hop?to=tpc{rand:0-15}&n=$HOPS")
    calls="$(python3 -c "print(round($rps * $HOPS))")"
    N50[$t]="${N50[$t]:-} $n50"; N99[$t]="${N99[$t]:-} $n99"
    H50[$t]="${H50[$t]:-} $h50"; H99[$t]="${H99[$t]:-} $h99"
    RATE[$t]="${RATE[$t]:-} $calls"
    printf 'round %d  %-8s noop p50 %.3f p99 %.3f ms | one hop p50 %.3f p99 %.3f ms | calls %8d/s | errors %s/%s/%s\n' \
      "$round" "$t" "$n50" "$n99" "$h50" "$h99" "$calls" "$nerr" "$herr" "$terr"
  done
done
echo "--- medians over rounds; what one hop adds = median(hop) - median(noop)"
for t in "${TARGETS[@]}"; do
  # shellcheck disable=SC2086
  n50="$(median ${N50[$t]})"; n99="$(median ${N99[$t]})"; h50="$(median ${H50[$t]})"; h99="$(median ${H99[$t]})"
  # shellcheck disable=SC2086
  printf 'median   %-8s one hop adds p50 %7.1f µs  p99 %7.1f µs   (noop p50/p99 %.3f/%.3f ms, hop %.3f/%.3f ms)   calls between objects %8.0f/s\n' \
    "$t" "$(python3 -c "print(($h50 - $n50) * 1000)")" "$(python3 -c "print(($h99 - $n99) * 1000)")" \
    "$n50" "$n99" "$h50" "$h99" "$(median ${RATE[$t]})"
done
