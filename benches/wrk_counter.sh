#!/usr/bin/env bash
# Single-object SQLite counter increments/s over HTTP on loopback, measured with wrk
# (-t1, 64 connections), against
#   A: workerd running workloads/worker (real Durable Objects, localDisk SQLite storage)
#   B: the dobench reference runtime, if DOBENCH_BIN points at a dobench binary
#      (started as `$DOBENCH_BIN serve --bind 127.0.0.1:0 --ceiling off --data <tmpdir>`).
# Targets alternate A B A B ... for ROUNDS rounds of DURATION seconds; prints req/s per
# round and the median per target.
#
# Env: DURATION (s, default 10), ROUNDS (default 3), CONNECTIONS (default 64),
#      WARMUP (s, default 2, per target before the first round), DOBENCH_BIN (optional),
#      OBJECT (counter object name, default wrk-<pid>),
#      DATA_ROOT (where both targets keep their SQLite files; default $TMPDIR or /tmp.
#                 Each commit is fsynced, so on a slow disk this measures the disk:
#                 DATA_ROOT=/dev/shm measures the runtimes instead).
# Needs: wrk (apt-get install -y wrk), node + npm (for workerd from npm).
# Only loopback traffic.
set -euo pipefail

DURATION="${DURATION:-10}"
ROUNDS="${ROUNDS:-3}"
CONNECTIONS="${CONNECTIONS:-64}"
WARMUP="${WARMUP:-2}"
OBJECT="${OBJECT:-wrk-$$}"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORKER_DIR="$ROOT/workloads/worker"

command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 2; }

DATA_ROOT="${DATA_ROOT:-${TMPDIR:-/tmp}}"
TMP="$(mktemp -d "$DATA_ROOT/dobench-wrk-XXXXXX")"
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]+"${PIDS[@]}"}"; do
    kill "$p" 2>/dev/null || true
  done
  for p in "${PIDS[@]+"${PIDS[@]}"}"; do
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

cat >"$TMP/post.lua" <<'EOF'
wrk.method = "POST"
wrk.headers["content-length"] = "0"
EOF

wait_health() { # base_url
  local i
  for i in $(seq 1 100); do
    if curl -fsS -o /dev/null "$1/_dobench/health" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "no health from $1" >&2
  return 1
}

# --- A: workerd -------------------------------------------------------------
start_workerd() {
  if [ ! -x "$WORKER_DIR/node_modules/.bin/workerd" ]; then
    echo "installing workerd (npm ci in workloads/worker) ..." >&2
    (cd "$WORKER_DIR" && npm ci --no-audit --no-fund >&2)
  fi
  mkdir -p "$TMP/workerd-data"
  : >"$TMP/workerd.ctrl"
  # Port 0 + --control-fd: workerd reports the port it bound, no free-port race.
  (cd "$WORKER_DIR" && exec node_modules/.bin/workerd serve config.capnp \
      --socket-addr http=127.0.0.1:0 \
      --directory-path do-storage="$TMP/workerd-data" \
      --control-fd 3 3>"$TMP/workerd.ctrl" >"$TMP/workerd.log" 2>&1) &
  PIDS+=("$!")
  local i port=""
  for i in $(seq 1 100); do
    port="$(grep -o '"port":[0-9]*' "$TMP/workerd.ctrl" 2>/dev/null | head -1 | cut -d: -f2 || true)"
    [ -n "$port" ] && break
    sleep 0.1
  done
  if [ -z "$port" ]; then
    echo "workerd did not report a port; log:" >&2
    cat "$TMP/workerd.log" >&2
    exit 1
  fi
  WORKERD_URL="http://127.0.0.1:$port"
  wait_health "$WORKERD_URL"
}

# --- B: dobench reference runtime (optional) --------------------------------
DOBENCH_URL=""
start_dobench() {
  mkdir -p "$TMP/dobench-data"
  "$DOBENCH_BIN" serve --bind 127.0.0.1:0 --ceiling off --data "$TMP/dobench-data" \
      >"$TMP/dobench.out" 2>"$TMP/dobench.err" &
  PIDS+=("$!")
  local i line=""
  for i in $(seq 1 100); do
    line="$(head -1 "$TMP/dobench.out" 2>/dev/null || true)"
    case "$line" in "listening on http://"*) break ;; esac
    line=""
    sleep 0.1
  done
  if [ -z "$line" ]; then
    echo "dobench serve did not print 'listening on http://IP:PORT'; stderr:" >&2
    cat "$TMP/dobench.err" >&2
    exit 1
  fi
  DOBENCH_URL="${line#listening on }"
  DOBENCH_URL="${DOBENCH_URL%%[[:space:]]*}"
  wait_health "$DOBENCH_URL"
}

# run_wrk LABEL BASE_URL SECONDS -> prints req/s; logs the wrk output
run_wrk() {
  local label="$1" base="$2" secs="$3" out
  out="$(wrk -t1 -c"$CONNECTIONS" -d"${secs}s" --latency -s "$TMP/post.lua" \
      "$base/counter/$OBJECT/increment" 2>&1)"
  printf '%s\n' "$out" >>"$TMP/wrk-$label.log"
  local rps non2xx errs
  rps="$(printf '%s\n' "$out" | awk '/^Requests\/sec:/ {print $2}')"
  non2xx="$(printf '%s\n' "$out" | awk '/Non-2xx or 3xx responses:/ {print $NF}')"
  errs="$(printf '%s\n' "$out" | awk '/Socket errors:/ {sub(/.*Socket errors: /, ""); print}')"
  if [ -z "$rps" ]; then
    echo "wrk failed against $label:" >&2
    printf '%s\n' "$out" >&2
    exit 1
  fi
  if [ -n "$non2xx" ] || [ -n "$errs" ]; then
    echo "  ($label: non-2xx=${non2xx:-0} socket-errors=[${errs:-none}])" >&2
  fi
  echo "$rps"
}

median() { # numbers...
  printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'
}

counter_value() { # base_url
  curl -fsS "$1/counter/$OBJECT" | sed -E 's/.*"value":([0-9]+).*/\1/'
}

start_workerd
TARGETS=("workerd")
URLS=("$WORKERD_URL")
if [ -n "${DOBENCH_BIN:-}" ]; then
  if [ -x "$DOBENCH_BIN" ]; then
    start_dobench
    TARGETS+=("dobench")
    URLS+=("$DOBENCH_URL")
  else
    echo "DOBENCH_BIN=$DOBENCH_BIN is not an executable file: skipping the reference runtime" >&2
  fi
else
  echo "DOBENCH_BIN not set: skipping the reference runtime" >&2
fi

echo "wrk -t1 -c$CONNECTIONS, ${DURATION}s x $ROUNDS rounds, POST /counter/$OBJECT/increment (one object), data under $DATA_ROOT"
for i in "${!TARGETS[@]}"; do
  echo "  ${TARGETS[$i]}: ${URLS[$i]}"
  if [ "$WARMUP" != "0" ]; then run_wrk "${TARGETS[$i]}-warmup" "${URLS[$i]}" "$WARMUP" >/dev/null; fi
done

declare -A RESULTS
for round in $(seq 1 "$ROUNDS"); do
  for i in "${!TARGETS[@]}"; do
    t="${TARGETS[$i]}"
    rps="$(run_wrk "$t" "${URLS[$i]}" "$DURATION")"
    RESULTS[$t]="${RESULTS[$t]:-} $rps"
    printf 'round %d  %-8s %10.1f req/s\n' "$round" "$t" "$rps"
  done
done

echo "---"
for i in "${!TARGETS[@]}"; do
  t="${TARGETS[$i]}"
  # shellcheck disable=SC2086
  printf 'median   %-8s %10.1f req/s   (rounds:%s; counter value now %s)\n' \
    "$t" "$(median ${RESULTS[$t]})" "${RESULTS[$t]}" "$(counter_value "${URLS[$i]}")"
done
