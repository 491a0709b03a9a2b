#!/usr/bin/env bash
# Object activation over HTTP on loopback: how fast a runtime creates new objects and
# re-activates objects that have left memory, beside the storage floor, measured with wrk
# (-t1, CONNECTIONS connections) against
#   dobench: `$DOBENCH_BIN serve --bind 127.0.0.1:0 --ceiling off --data <dir>`
#   workerd: workloads/worker (real Durable Objects, localDisk SQLite storage)
# Each round runs, in this order, on fresh data directories under DATA_ROOT:
#   floor    `$FLOOR_BIN FLOOR_N <dir>`: create + write + close and reopen + read + write +
#            close of one object database, one thread, no HTTP (the storage floor).
#   new      DURATION s of `POST /counter/<new name>/increment`, a name never used before
#            on every request: each request creates an object.
#   react    pass 1 creates r-1..r-M (one request each), pass 2 touches r-1..r-M again in
#            the same order; the second pass's objects/s is the re-activation rate.
#            dobench is restarted for it on the same data directory with
#            `--memory-budget 32MiB`: past that estimate (~12 KiB per object, ~48 KiB per
#            open database) the least recently used objects leave memory, so only the last
#            few hundred to few thousand touched stay and by pass 2 every one of r-1..r-M
#            has left memory (the stats printed after each pass show live_objects).
#            workerd evicts idle objects on its own schedule (~10 s idle): the script sleeps
#            WORKERD_IDLE_WAIT s between its wrk runs (see below) so they have left memory;
#            still, the output says its pass 2 may hit objects still in memory.
# Targets alternate dobench, workerd, dobench, workerd ... for ROUNDS rounds. Every answer
# must be 200: a round with any other answer or a socket error is reported as FAILED, left
# out of the medians, and the script exits 1 at the end. Prints per round and the medians:
# objects/s, the server's CPU (utime + stime from /proc/PID/stat over the phase) per
# object, and the ratios dobench-new / floor-create, dobench / workerd.
#
# Env: DURATION (s, default 8), ROUNDS (default 3), CONNECTIONS (default 64),
#      M (objects in the re-activation passes, default 60000),
#      FLOOR_N (objects in the storage floor, default 20000),
#      DATA_ROOT (where everything keeps its files; default /dev/shm if writable, else
#                 ${TMPDIR:-/tmp}),
#      DOBENCH_BIN (default target/release/dobench),
#      FLOOR_BIN (default target/release/examples/storage_floor),
#      SKIP_WORKERD=1 (dobench and the floor only),
#      WORKERD_IDLE_WAIT (s between workerd's wrk runs and passes, default 15),
#      WORKERD_M (objects in workerd's re-activation passes, default min(M, 20000)),
#      WORKERD_CHUNK (objects per wrk run against workerd, default from `ulimit -n`: see
#                     below; 4000 with the limit of 20000 open files),
#      PASS_TIMEOUT (s, longest one wrk run of a pass may take, default 600).
# workerd and the open-files limit: workerd keeps ~3 files open (database, -wal, -shm) for
# every object in memory, and an object stays in memory ~10 s after its last request, so
# past about `ulimit -n`/3 objects touched within 10 s it answers 500 SQLITE_CANTOPEN (seen
# here at ~1,000 new objects/s with the limit of 20000, which cannot be raised in this
# container). So against workerd every phase is count-bounded and chunked: "new" is one
# wrk run creating WORKERD_CHUNK new objects (not DURATION s), and each re-activation pass
# is WORKERD_M/WORKERD_CHUNK wrk runs of WORKERD_CHUNK objects with WORKERD_IDLE_WAIT s
# between them (excluded from objects/s and CPU), so those of the run before have left
# memory. dobench runs each pass as one wrk run over all M objects.
# Needs: wrk (apt-get install -y wrk), curl, python3, node + npm (for workerd from npm).
# Only loopback traffic.
set -euo pipefail

DURATION="${DURATION:-8}"
ROUNDS="${ROUNDS:-3}"
CONNECTIONS="${CONNECTIONS:-64}"
M="${M:-60000}"
FLOOR_N="${FLOOR_N:-20000}"
SKIP_WORKERD="${SKIP_WORKERD:-0}"
WORKERD_IDLE_WAIT="${WORKERD_IDLE_WAIT:-15}"
PASS_TIMEOUT="${PASS_TIMEOUT:-600}"
NOFILE="$(ulimit -n)"
if [ -z "${WORKERD_CHUNK:-}" ]; then
  # ~3 open files per object in memory (database, -wal, -shm): stay well below the limit.
  if [ "$NOFILE" = unlimited ]; then WORKERD_CHUNK=10000; else WORKERD_CHUNK=$(( (NOFILE - 1000) / 4 / 1000 * 1000 )); fi
  [ "$WORKERD_CHUNK" -le 10000 ] || WORKERD_CHUNK=10000
  [ "$WORKERD_CHUNK" -ge 500 ] || WORKERD_CHUNK=500
fi
WORKERD_M="${WORKERD_M:-$(( M < 20000 ? M : 20000 ))}"
REACT_BUDGET="32MiB"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORKER_DIR="$ROOT/workloads/worker"
DOBENCH_BIN="${DOBENCH_BIN:-$ROOT/target/release/dobench}"
FLOOR_BIN="${FLOOR_BIN:-$ROOT/target/release/examples/storage_floor}"

command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 2; }
command -v python3 >/dev/null || { echo "python3 not found" >&2; exit 2; }
[ -x "$DOBENCH_BIN" ] || { echo "DOBENCH_BIN=$DOBENCH_BIN is not executable" >&2; exit 2; }
[ -x "$FLOOR_BIN" ] || { echo "FLOOR_BIN=$FLOOR_BIN is not executable" >&2; exit 2; }

if [ -z "${DATA_ROOT:-}" ]; then
  if [ -d /dev/shm ] && [ -w /dev/shm ]; then DATA_ROOT=/dev/shm; else DATA_ROOT="${TMPDIR:-/tmp}"; fi
fi
TMP="$(mktemp -d "$DATA_ROOT/dobench-activation-XXXXXX")"
CLK_TCK="$(getconf CLK_TCK)"
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

# --- wrk scripts --------------------------------------------------------------
# Both build the request text by hand (cheaper than wrk.format on every request).
# wrk calls request() once before the run to check the request parses
# (script_verify_request): that first call is answered with a throwaway request, so no
# name is skipped.

# new.lua: a new object name on every request: <NEW_PREFIX><thread>-<n>.
cat >"$TMP/new.lua" <<'EOF'
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local prefix, head, tail
local n = 0
function init(args)
  local host = wrk.headers["Host"] or (wrk.host .. ":" .. tostring(wrk.port))
  prefix = os.getenv("NEW_PREFIX") .. tostring(tid or 1) .. "-"
  head = "POST /counter/" .. prefix
  tail = "/increment HTTP/1.1\r\nHost: " .. host .. "\r\ncontent-length: 0\r\n\r\n"
end
function request()
  n = n + 1
  return head .. n .. tail
end
EOF

# pass.lua: POST /counter/<PREFIX><FIRST+1>..<PREFIX><FIRST+M_OBJ>/increment once each, in order
# (one chunk of a pass); after the last, cheap
# GET /_dobench/health until the M-th counter answer is in. Then it writes
# "t_first_request_ns t_last_answer_ns ok not_ok" to MARKER and stops the thread (the
# script then interrupts wrk, which otherwise waits out -d). The first answer that is not
# 200 goes to MARKER.bad.
cat >"$TMP/pass.lua" <<'EOF'
local M = tonumber(os.getenv("M_OBJ"))
local first = tonumber(os.getenv("FIRST"))
local marker = os.getenv("MARKER")
local head, tail, health
local probed, sent, ok, bad, done = false, 0, 0, 0, false
local t0
local function now_ns()
  local p = io.popen("date +%s%N")
  local s = p:read("*l")
  p:close()
  return s
end
function init(args)
  local host = wrk.headers["Host"] or (wrk.host .. ":" .. tostring(wrk.port))
  head = "POST /counter/" .. (os.getenv("PREFIX") or "r-")
  tail = "/increment HTTP/1.1\r\nHost: " .. host .. "\r\ncontent-length: 0\r\n\r\n"
  health = "GET /_dobench/health HTTP/1.1\r\nHost: " .. host .. "\r\n\r\n"
end
function request()
  if not probed then
    probed = true
    return health
  end
  if sent < M then
    if sent == 0 then t0 = now_ns() end
    sent = sent + 1
    return head .. (first + sent) .. tail
  end
  return health
end
function response(status, headers, body)
  -- Every answer but the health filler's is a counter answer, whatever its status.
  if done or (status == 200 and body == '{"ok":true}') then return end
  if status == 200 then
    ok = ok + 1
  else
    bad = bad + 1
    if bad == 1 then
      local f = io.open(marker .. ".bad", "w")
      f:write(tostring(status), " ", body, "\n")
      f:close()
    end
  end
  if ok + bad >= M then
    done = true
    local f = io.open(marker, "w")
    f:write(t0, " ", now_ns(), " ", ok, " ", bad, "\n")
    f:close()
    wrk.thread:stop()
  end
end
EOF

# --- helpers -------------------------------------------------------------------
FAILED=0
fail() { # message...
  echo "FAILED: $*" >&2
  FAILED=1
}

wait_health() { # base_url
  local i
  for i in $(seq 1 200); do
    if curl -fsS -o /dev/null "$1/_dobench/health" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "no health from $1" >&2
  return 1
}

cpu_ticks() { # pid -> utime + stime in clock ticks
  sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}

us_per_obj() { # ticks_before ticks_after objects
  awk -v a="$1" -v b="$2" -v n="$3" -v hz="$CLK_TCK" \
    'BEGIN { if (n > 0) printf "%.1f", (b - a) / hz / n * 1e6; else print "nan" }'
}

SRV_PID=""
SRV_URL=""
stop_server() {
  if [ -n "$SRV_PID" ]; then
    kill "$SRV_PID" 2>/dev/null || true
    wait "$SRV_PID" 2>/dev/null || true
    local keep=() p
    for p in "${PIDS[@]+"${PIDS[@]}"}"; do [ "$p" = "$SRV_PID" ] || keep+=("$p"); done
    PIDS=("${keep[@]+"${keep[@]}"}")
  fi
  SRV_PID=""
  SRV_URL=""
}

start_dobench() { # data_dir log_tag [extra serve args...]
  local data="$1" tag="$2"
  shift 2
  mkdir -p "$data"
  "$DOBENCH_BIN" serve --bind 127.0.0.1:0 --ceiling off --data "$data" "$@" \
      >"$TMP/$tag.out" 2>"$TMP/$tag.err" &
  SRV_PID="$!"
  PIDS+=("$SRV_PID")
  local i line=""
  for i in $(seq 1 200); do
    line="$(head -1 "$TMP/$tag.out" 2>/dev/null || true)"
    case "$line" in "listening on http://"*) break ;; esac
    line=""
    sleep 0.05
  done
  if [ -z "$line" ]; then
    echo "dobench serve did not print 'listening on http://IP:PORT'; stderr:" >&2
    cat "$TMP/$tag.err" >&2
    exit 1
  fi
  local port="${line##*:}"
  port="${port%%[!0-9]*}"
  SRV_URL="http://127.0.0.1:$port"
  wait_health "$SRV_URL"
}

start_workerd() { # data_dir log_tag
  local data="$1" tag="$2"
  if [ ! -x "$WORKER_DIR/node_modules/.bin/workerd" ]; then
    echo "installing workerd (npm ci in workloads/worker) ..." >&2
    (cd "$WORKER_DIR" && npm ci --no-audit --no-fund >&2)
  fi
  mkdir -p "$data"
  : >"$TMP/$tag.ctrl"
  # Port 0 + --control-fd: workerd reports the port it bound, no free-port race.
  # exec: $! is workerd itself, whose CPU time is measured.
  (cd "$WORKER_DIR" && exec node_modules/.bin/workerd serve config.capnp \
      --socket-addr http=127.0.0.1:0 \
      --directory-path do-storage="$data" \
      --control-fd 3 3>"$TMP/$tag.ctrl" >"$TMP/$tag.log" 2>&1) &
  SRV_PID="$!"
  PIDS+=("$SRV_PID")
  local i port=""
  for i in $(seq 1 200); do
    port="$(grep -o '"port":[0-9]*' "$TMP/$tag.ctrl" 2>/dev/null | head -1 | cut -d: -f2 || true)"
    [ -n "$port" ] && break
    sleep 0.05
  done
  if [ -z "$port" ]; then
    echo "workerd did not report a port; log:" >&2
    cat "$TMP/$tag.log" >&2
    exit 1
  fi
  SRV_URL="http://127.0.0.1:$port"
  wait_health "$SRV_URL"
}

# wrk_problems WRK_OUTPUT -> "" if every answer was 2xx/3xx and no socket errors
wrk_problems() {
  printf '%s\n' "$1" | awk '
    /Non-2xx or 3xx responses:/ { printf "non-2xx=%s ", $NF }
    /Socket errors:/ { sub(/.*Socket errors: /, ""); if ($0 !~ /^connect 0, read 0, write 0/) printf "socket errors: %s ", $0 }'
}

# phase_new LABEL PREFIX -> sets NEW_RATE, NEW_CPU (µs per object), NEW_REQS; "" on failure
phase_new() {
  local label="$1" prefix="$2" out c0 c1 problems
  NEW_RATE="" NEW_CPU="" NEW_REQS=""
  c0="$(cpu_ticks "$SRV_PID")"
  out="$(NEW_PREFIX="$prefix" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency \
      -s "$TMP/new.lua" "$SRV_URL" 2>&1)" || true
  c1="$(cpu_ticks "$SRV_PID")"
  printf '== %s\n%s\n' "$label" "$out" >>"$TMP/wrk.log"
  local rps reqs
  rps="$(printf '%s\n' "$out" | awk '/^Requests\/sec:/ {print $2}')"
  reqs="$(printf '%s\n' "$out" | awk '/ requests in / {print $1}')"
  problems="$(wrk_problems "$out")"
  if [ -z "$rps" ] || [ -z "$reqs" ]; then
    fail "$label: wrk did not finish:"
    printf '%s\n' "$out" >&2
    return 0
  fi
  if [ -n "$problems" ]; then
    fail "$label: not every answer was 200: $problems"
    printf '%s\n' "$out" >&2
    return 0
  fi
  NEW_RATE="$rps"
  NEW_REQS="$reqs"
  NEW_CPU="$(us_per_obj "$c0" "$c1" "$reqs")"
}

# pass_chunk LABEL PREFIX FIRST COUNT -> one wrk run over <PREFIX><FIRST+1>..<PREFIX><FIRST+COUNT>;
# adds to P_SECS; returns 1 (after fail) if it did not get COUNT 200 answers
pass_chunk() {
  local label="$1" prefix="$2" first="$3" count="$4" marker="$TMP/marker-$1" out wpid
  rm -f "$marker" "$marker.bad"
  PREFIX="$prefix" M_OBJ="$count" FIRST="$first" MARKER="$marker" \
      wrk -t1 -c"$CONNECTIONS" -d"${PASS_TIMEOUT}s" -s "$TMP/pass.lua" "$SRV_URL" >"$TMP/pass.out" 2>&1 &
  wpid="$!"
  PIDS+=("$wpid")
  while [ ! -s "$marker" ] && kill -0 "$wpid" 2>/dev/null; do
    sleep 0.02
  done
  # wrk sleeps out -d even after its thread stopped; SIGINT ends it (and prints its summary).
  kill -INT "$wpid" 2>/dev/null || true
  wait "$wpid" 2>/dev/null || true
  PIDS=("${PIDS[@]:0:${#PIDS[@]}-1}")
  out="$(cat "$TMP/pass.out")"
  printf '== %s\n%s\n' "$label" "$out" >>"$TMP/wrk.log"
  if [ ! -s "$marker" ]; then
    fail "$label: did not get $count counter answers within ${PASS_TIMEOUT}s:"
    printf '%s\n' "$out" >&2
    return 1
  fi
  local t0 t1 ok bad problems
  read -r t0 t1 ok bad <"$marker"
  problems="$(wrk_problems "$out")"
  if [ "$bad" != "0" ] || [ -n "$problems" ]; then
    fail "$label: not every answer was 200: ok=$ok not-ok=$bad $problems"
    printf '%s\n' "$out" >&2
    [ ! -s "$marker.bad" ] || echo "first answer that was not 200: $(head -c 600 "$marker.bad")" >&2
    return 1
  fi
  P_SECS="$(awk -v s="$P_SECS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", s + (b - a) / 1e9 }')"
}

# phase_pass LABEL PREFIX TOTAL CHUNK WAIT -> one pass over <PREFIX>1..<PREFIX>TOTAL in
# order, as wrk runs of CHUNK objects with WAIT s between them; sets PASS_RATE, PASS_CPU,
# PASS_SECS ("" on failure). objects/s counts only the time from each run's first request
# to its last answer; the server's CPU only over the runs.
phase_pass() {
  local label="$1" prefix="$2" total="$3" chunk="$4" wait_s="$5" first=0 count c0 c1 cpu=0
  PASS_RATE="" PASS_CPU="" PASS_SECS=""
  P_SECS=0
  while [ "$first" -lt "$total" ]; do
    [ "$first" = 0 ] || sleep "$wait_s"
    count=$((total - first))
    [ "$count" -le "$chunk" ] || count="$chunk"
    c0="$(cpu_ticks "$SRV_PID")"
    pass_chunk "$label-from-$first" "$prefix" "$first" "$count" || return 0
    c1="$(cpu_ticks "$SRV_PID")"
    cpu=$((cpu + c1 - c0))
    first=$((first + count))
  done
  PASS_SECS="$(awk -v s="$P_SECS" 'BEGIN { printf "%.3f", s }')"
  PASS_RATE="$(awk -v s="$P_SECS" -v n="$total" 'BEGIN { printf "%.1f", n / s }')"
  PASS_CPU="$(us_per_obj 0 "$cpu" "$total")"
}

counter_value() { # base_url name
  curl -fsS -X GET "$1/counter/$2" | sed -E 's/.*"value":([0-9]+).*/\1/'
}

# check_values LABEL M: after both passes r-1 and r-M must read 2 (each touched exactly twice).
check_values() { # label objects
  local label="$1" M="$2" v1 vm
  v1="$(counter_value "$SRV_URL" r-1 || echo '?')"
  vm="$(counter_value "$SRV_URL" "r-$M" || echo '?')"
  if [ "$v1" != "2" ] || [ "$vm" != "2" ]; then
    fail "$label: after two passes r-1=$v1 r-$M=$vm (expected 2 and 2)"
  fi
}

dobench_stats() { # base_url -> "live_objects=.. objects_total=.. open_databases=.. memory_estimate=.."
  curl -fsS "$1/_dobench/stats?top=1" | python3 -c '
import json, sys
s = json.load(sys.stdin)
print("live_objects=%s objects_total=%s open_databases=%s memory_estimate=%.1fMiB" % (
    s.get("live_objects"), s.get("objects_total"), s.get("open_databases"),
    (s.get("memory_estimate_bytes") or 0) / 1048576))' 2>/dev/null || echo "stats unavailable"
}

median() { # numbers...
  printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "nan"; else if (NR % 2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'
}

ratio() { # a b
  awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan" || b + 0 == 0) print "n/a"; else printf "%.2fx", a / b }'
}

fmt() { # number or "" -> printable
  if [ -z "$1" ]; then printf '%s' "FAILED"; else printf '%s' "$1"; fi
}

# --- run ------------------------------------------------------------------------
TARGETS=("dobench")
[ "$SKIP_WORKERD" = "1" ] || TARGETS+=("workerd")

echo "activation: wrk -t1 -c$CONNECTIONS; new objects for ${DURATION}s; re-activation passes of M=$M objects; floor N=$FLOOR_N; $ROUNDS round(s); data under $DATA_ROOT"
echo "  dobench: $DOBENCH_BIN serve --ceiling off (re-activation: --memory-budget $REACT_BUDGET)"
echo "  floor:   $FLOOR_BIN"
if [ "$SKIP_WORKERD" != "1" ]; then
  echo "  workerd: $WORKER_DIR ($("$WORKER_DIR/node_modules/.bin/workerd" --version 2>/dev/null || echo '?'))"
  echo "           open-files limit $NOFILE: new = one run of $WORKERD_CHUNK new objects (not ${DURATION}s); passes of $WORKERD_M objects in runs of $WORKERD_CHUNK, ${WORKERD_IDLE_WAIT}s idle wait between runs"
  echo "  note: workerd evicts idle objects on its own schedule (~10 s idle); its second pass may hit objects still in memory"
fi
echo "  server CPU = utime + stime of the server process over the phase / objects"

declare -A R   # key "metric target" -> space-separated per-round values
add() { R["$1"]="${R[$1]:-} $2"; }

for round in $(seq 1 "$ROUNDS"); do
  # floor
  mkdir -p "$TMP/floor-$round"
  fout="$("$FLOOR_BIN" "$FLOOR_N" "$TMP/floor-$round" 2>&1)" || { fail "floor: $fout"; fout=""; }
  fc="$(printf '%s\n' "$fout" | awk -F'[:,]' '/^create \+ write \+ close:/ {split($2, a, " "); print a[1]}')"
  fcc="$(printf '%s\n' "$fout" | awk -F'[:,]' '/^create \+ write \+ close:/ {split($3, a, " "); print a[1]}')"
  fr="$(printf '%s\n' "$fout" | awk -F'[:,]' '/^reopen \+ read \+ write \+ close:/ {split($2, a, " "); print a[1]}')"
  frc="$(printf '%s\n' "$fout" | awk -F'[:,]' '/^reopen \+ read \+ write \+ close:/ {split($3, a, " "); print a[1]}')"
  rm -rf "$TMP/floor-$round"
  if [ -z "$fc" ] || [ -z "$fr" ]; then
    fail "round $round: could not parse the storage floor's output:"
    printf '%s\n' "$fout" >&2
  else
    add "floor-create" "$fc"; add "floor-create-cpu" "$fcc"
    add "floor-reopen" "$fr"; add "floor-reopen-cpu" "$frc"
  fi
  printf 'round %d  %-8s create %10s obj/s (%s µs CPU/obj)   reopen %10s obj/s (%s µs CPU/obj)\n' \
    "$round" floor "$(fmt "$fc")" "$(fmt "$fcc")" "$(fmt "$fr")" "$(fmt "$frc")"

  for t in "${TARGETS[@]}"; do
    data="$TMP/$t-data-$round"
    if [ "$t" = dobench ]; then start_dobench "$data" "dobench-new-$round"; else start_workerd "$data" "workerd-$round"; fi
    if [ "$t" = dobench ]; then
      tm="$M" tchunk="$M" twait=0
      phase_new "$t-new-$round" "n$round-$t-$$-"
    else
      tm="$WORKERD_M" tchunk="$WORKERD_CHUNK" twait="$WORKERD_IDLE_WAIT"
      phase_pass "$t-new-$round" "n$round-$t-$$-" "$WORKERD_CHUNK" "$WORKERD_CHUNK" 0
      NEW_RATE="$PASS_RATE" NEW_CPU="$PASS_CPU" NEW_REQS="$WORKERD_CHUNK"
      [ -z "$NEW_RATE" ] || sleep "$WORKERD_IDLE_WAIT" # let them leave memory (open files)
    fi
    newinfo=""
    if [ "$t" = dobench ]; then
      newinfo="  [$(dobench_stats "$SRV_URL")]"
      stop_server
      start_dobench "$data" "dobench-react-$round" --memory-budget "$REACT_BUDGET"
    fi
    [ -z "$NEW_RATE" ] || { add "new $t" "$NEW_RATE"; add "new-cpu $t" "$NEW_CPU"; }
    printf 'round %d  %-8s new    %10s obj/s (%s µs CPU/obj, %s objects)%s\n' \
      "$round" "$t" "$(fmt "$NEW_RATE")" "$(fmt "$NEW_CPU")" "$(fmt "$NEW_REQS")" "$newinfo"

    phase_pass "$t-pass1-$round" r- "$tm" "$tchunk" "$twait"
    p1_rate="$PASS_RATE" p1_cpu="$PASS_CPU" p1_secs="$PASS_SECS"
    p1info=""
    if [ "$t" = dobench ]; then
      p1info="  [$(dobench_stats "$SRV_URL")]"
    elif [ -n "$p1_rate" ]; then
      sleep "$WORKERD_IDLE_WAIT"
    fi
    printf 'round %d  %-8s pass 1 %10s obj/s (%s µs CPU/obj, %s objects in %s s: creates r-1..r-%s)%s\n' \
      "$round" "$t" "$(fmt "$p1_rate")" "$(fmt "$p1_cpu")" "$tm" "$(fmt "$p1_secs")" "$tm" "$p1info"
    if [ -n "$p1_rate" ]; then
      phase_pass "$t-pass2-$round" r- "$tm" "$tchunk" "$twait"
      p2info=""
      [ "$t" != dobench ] || p2info="  [$(dobench_stats "$SRV_URL")]"
      [ -z "$PASS_RATE" ] || check_values "$t round $round" "$tm"
      [ -z "$PASS_RATE" ] || { add "react $t" "$PASS_RATE"; add "react-cpu $t" "$PASS_CPU"; }
      printf 'round %d  %-8s pass 2 %10s obj/s (%s µs CPU/obj, %s objects in %s s: re-activates r-1..r-%s)%s\n' \
        "$round" "$t" "$(fmt "$PASS_RATE")" "$(fmt "$PASS_CPU")" "$tm" "$(fmt "$PASS_SECS")" "$tm" "$p2info"
    fi
    stop_server
    rm -rf "$data"
  done
done

echo "---"
m() { # key -> median of its rounds
  # shellcheck disable=SC2086
  median ${R[$1]:-}
}
rounds() { printf '%s' "${R[$1]:- none}"; }
printf 'median   %-8s create %10s obj/s (%s µs CPU/obj; rounds:%s)\n' floor \
  "$(m floor-create)" "$(m floor-create-cpu)" "$(rounds floor-create)"
printf 'median   %-8s reopen %10s obj/s (%s µs CPU/obj; rounds:%s)\n' floor \
  "$(m floor-reopen)" "$(m floor-reopen-cpu)" "$(rounds floor-reopen)"
for t in "${TARGETS[@]}"; do
  printf 'median   %-8s new    %10s obj/s (%s µs CPU/obj; rounds:%s)\n' "$t" \
    "$(m "new $t")" "$(m "new-cpu $t")" "$(rounds "new $t")"
  printf 'median   %-8s react  %10s obj/s (%s µs CPU/obj; rounds:%s)\n' "$t" \
    "$(m "react $t")" "$(m "react-cpu $t")" "$(rounds "react $t")"
done
echo "---"
echo "dobench new / floor create:        $(ratio "$(m "new dobench")" "$(m floor-create)")   (target >= 0.70x, and >= 10000 obj/s)"
echo "dobench react / floor reopen:      $(ratio "$(m "react dobench")" "$(m floor-reopen)")   (target: react >= 20000 obj/s)"
if [ "$SKIP_WORKERD" != "1" ]; then
  echo "dobench new / workerd new:         $(ratio "$(m "new dobench")" "$(m "new workerd")")"
  echo "dobench react / workerd react:     $(ratio "$(m "react dobench")" "$(m "react workerd")")   (workerd's pass 2 may hit objects still in memory)"
fi
if [ "$FAILED" != 0 ]; then
  echo "SOME PHASES FAILED (see FAILED lines above); they are left out of the medians" >&2
  exit 1
fi
