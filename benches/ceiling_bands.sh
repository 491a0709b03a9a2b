#!/usr/bin/env bash
# Where one object saturates with the ceiling following the work (runtime/src/ceiling.rs):
# three handlers driven at one object each, closed model, CONNECTIONS users for DURATION s
# with `dobench http`, so the object is always busy and its served turns/s is its
# saturation rate. Cases:
#   counter       POST /counter/c/increment                       (1 row written)
#   ratelimit     POST /ratelimit/r/check?key=k&limit=100000&window_ms=250
#                 (a sliding log admitting every check: DELETE the aged admission, read the
#                 quarter-second window's rows, INSERT: ~150 rows read and 2 written a turn)
#   write-heavy   POST /counter/w/increment?rows=20               (21 rows written)
# Targets: `dobench serve --ceiling 1000` (default costs, data on DATA_ROOT) and, unless
# SKIP_WORKERD=1, workerd running workloads/worker (`dobench target workerd`), for the
# record (workerd has no ceiling emulation: its figure is this machine's real rate).
# ROUNDS rounds alternate the targets; prints per round and the medians, plus the object's
# mean virtual service time per turn and rows per turn from /_dobench/stats.
# Production's bands: pass-through ~1,000/s, moderate 500-750/s, complex 200-500/s.
# Env: DURATION (s, default 4), ROUNDS (3), CONNECTIONS (64), DOBENCH_BIN
#      (target/release/dobench), DATA_ROOT (/dev/shm if writable), SKIP_WORKERD.
# Only loopback traffic. Needs curl and python3.
set -euo pipefail

DURATION="${DURATION:-4}"
ROUNDS="${ROUNDS:-3}"
CONNECTIONS="${CONNECTIONS:-64}"
BIN="${DOBENCH_BIN:-target/release/dobench}"
SKIP_WORKERD="${SKIP_WORKERD:-0}"
if [[ -z "${DATA_ROOT:-}" ]]; then
  if [[ -w /dev/shm ]]; then DATA_ROOT=/dev/shm; else DATA_ROOT="${TMPDIR:-/tmp}"; fi
fi
[[ -x "$BIN" ]] || { echo "no $BIN: cargo build --release" >&2; exit 2; }
TMP="$(mktemp -d "$DATA_ROOT/dobench-bands.XXXXXX")"
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [[ -n "$p" ]] && kill "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

CASES=("counter|/counter/c/increment|counter"
       "ratelimit|/ratelimit/r/check?key=k&limit=100000&window_ms=250|ratelimit"
       "write-heavy|/counter/w/increment?rows=20|counter")

# start_dobench -> sets SRV_URL and SRV_PID
start_dobench() {
  rm -rf "$TMP/data" "$TMP/serve.out" && mkdir -p "$TMP/data" && : >"$TMP/serve.out"
  "$BIN" serve --bind 127.0.0.1:0 --ceiling 1000 --data "$TMP/data" >"$TMP/serve.out" 2>&1 &
  SRV_PID=$!
  PIDS+=("$SRV_PID")
  for _ in $(seq 100); do
    SRV_URL="$(sed -n 's/^listening on \(http:[^ ]*\).*/\1/p' "$TMP/serve.out")"
    [[ -n "$SRV_URL" ]] && return 0
    sleep 0.1
  done
  echo "dobench serve did not start:" >&2; cat "$TMP/serve.out" >&2; exit 1
}

start_workerd() {
  rm -f "$TMP/workerd.out" && : >"$TMP/workerd.out"
  "$BIN" target workerd --port 0 >"$TMP/workerd.out" 2>&1 &
  SRV_PID=$!
  PIDS+=("$SRV_PID")
  for _ in $(seq 300); do
    SRV_URL="$(grep -o 'http://127.0.0.1:[0-9]*' "$TMP/workerd.out" | head -1 || true)"
    if [[ -n "$SRV_URL" ]] && curl -sf "$SRV_URL/_dobench/health" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  echo "workerd did not start:" >&2; cat "$TMP/workerd.out" >&2; exit 1
}

stop_server() { kill "$SRV_PID" 2>/dev/null || true; wait "$SRV_PID" 2>/dev/null || true; }

# drive LABEL PATH -> prints "served_rps"
drive() {
  "$BIN" http -m POST -c "$CONNECTIONS" -d "${DURATION}s" --json "$SRV_URL$2" 2>/dev/null |
    python3 -c 'import json,sys; s=json.load(sys.stdin); print("%.1f" % s["achieved_rps"])'
}

# service LABEL -> mean service ms per turn and rows per turn of the busiest object
service() {
  curl -sf "$SRV_URL/_dobench/stats" | python3 -c '
import json, sys
o = json.load(sys.stdin)["objects"][0]
t = max(o["turns"], 1)
print("%.3f ms/turn, %.1f rows read, %.1f rows written per turn" % (
    o.get("service_ms_per_turn", 0), o.get("rows_read", 0) / t, o.get("rows_written", 0) / t))'
}

declare -A RESULTS
for round in $(seq "$ROUNDS"); do
  for target in dobench workerd; do
    [[ "$target" == workerd && "$SKIP_WORKERD" == 1 ]] && continue
    for case in "${CASES[@]}"; do
      IFS='|' read -r label path _ <<<"$case"
      if [[ "$target" == dobench ]]; then start_dobench; else start_workerd; fi
      rps="$(drive "$label" "$path")"
      detail=""
      [[ "$target" == dobench ]] && detail="  ($(service))"
      stop_server
      echo "round $round  $target  $label: $rps turns/s$detail"
      RESULTS["$target|$label"]+="$rps "
    done
  done
done

echo
echo "medians over $ROUNDS rounds (turns/s at saturation, one object, $CONNECTIONS users):"
for case in "${CASES[@]}"; do
  IFS='|' read -r label _ _ <<<"$case"
  line="  $label:"
  for target in dobench workerd; do
    v="${RESULTS["$target|$label"]:-}"
    [[ -z "$v" ]] && continue
    med="$(python3 -c 'import statistics,sys; print("%.0f" % statistics.median(float(x) for x in sys.argv[1:]))' $v)"
    line+="  $target $med"
  done
  echo "$line"
done
