#!/usr/bin/env bash
# Soak (issue 20, Must-show 6): `dobench serve` under mixed load — counter increments (open
# model), a chat room (the chat-fanout profile) and alarms — is SIGKILLed and restarted on the
# same data directory every ROUND seconds for DURATION seconds. After every restart:
#   - the counter holds at least every acknowledged increment and at most every one sent;
#   - every alarm scheduled in the previous round (all due before its kill) has fired;
# and once per round, at the same point, the server's RSS and open files are sampled. Exits 1 if
# anything acknowledged was lost, a due alarm is missing, a chat run failed its correctness check,
# or RSS / open files grew past GROWTH × the first rounds' maximum (plus slack); prints a table.
#
# Env: DURATION (s, default 600), ROUND (s, default 20), RATE (increments/s, default 300),
#      ALARMS (per round, default 40), GROWTH (default 1.5),
#      DOBENCH_BIN (default target/release/dobench), DATA_ROOT (default $TMPDIR or /tmp).
# Needs: curl, jq. Only loopback traffic.
set -euo pipefail

DURATION="${DURATION:-600}"
ROUND="${ROUND:-20}"
RATE="${RATE:-300}"
ALARMS="${ALARMS:-40}"
GROWTH="${GROWTH:-1.5}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${DOBENCH_BIN:-$ROOT/target/release/dobench}"
DATA_ROOT="${DATA_ROOT:-${TMPDIR:-/tmp}}"
for tool in curl jq; do
  command -v "$tool" >/dev/null || { echo "$tool not found" >&2; exit 2; }
done
[ -x "$BIN" ] || { echo "no dobench binary at $BIN (cargo build --release)" >&2; exit 2; }
(( ROUND >= 15 )) || { echo "ROUND must be at least 15 s" >&2; exit 2; }

TMP="$(mktemp -d "$DATA_ROOT/dobench-soak-XXXXXX")"
DATA="$TMP/data"
SERVER=""
cleanup() {
  [ -n "$SERVER" ] && kill -9 "$SERVER" 2>/dev/null || true
  jobs -p | xargs -r kill 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

now_ms() { date +%s%3N; }

start_server() {
  local out="$TMP/out.$1"
  : >"$out"
  "$BIN" serve --bind 127.0.0.1:0 --data "$DATA" --ceiling off >"$out" 2>>"$TMP/server.err" &
  SERVER=$!
  disown "$SERVER" 2>/dev/null || true
  local i
  for i in $(seq 1 100); do
    if [ "$(wc -l <"$out")" -ge 2 ]; then break; fi
    sleep 0.1
  done
  URL="$(head -1 "$out" | sed 's/^listening on //')"
  [[ "$URL" == http://127.0.0.1:* ]] || { echo "server did not start: $(cat "$out")" >&2; exit 2; }
}

FAIL=0
ACKED=0
SENT=0
ROUNDS=$(( DURATION / ROUND ))
declare -a RSS FDS
# Columns: acked/sent after the round's kill; stored = the counter read at the round's start
# (checked against the previous round's acked/sent); alarms = previous round's missing alarms.
printf '%5s %9s %12s %9s %7s %8s %9s %5s\n' round acked stored@start sent alarms chat rss_kib fds

for (( r = 1; r <= ROUNDS + 1; r++ )); do
  start_server "$r"
  t0="$(date +%s)"
  # 1. Nothing acknowledged lost, nothing unsent stored.
  stored="$(curl -sf "$URL/counter/soak" | jq '.value')"
  if (( stored < ACKED || stored > SENT )); then
    echo "round $r: counter $stored outside [acked $ACKED, sent $SENT]" >&2
    FAIL=1
  fi
  # 2. Every alarm of the previous round (all due before its kill) has fired; overdue ones
  #    fire at once after the restart: wait up to 15 s.
  missing=0
  if (( r > 1 )); then
    deadline=$(( $(date +%s) + 15 ))
    for (( i = 0; i < ALARMS; i++ )); do
      while :; do
        n="$(curl -sf "$URL/alarm/soak-$((r - 1))-$i/fired" | jq '.fired | length')"
        (( n >= 1 )) && break
        if (( $(date +%s) >= deadline )); then missing=$(( missing + 1 )); break; fi
        sleep 0.2
      done
    done
    if (( missing > 0 )); then
      echo "round $r: $missing of $ALARMS due alarms never fired" >&2
      FAIL=1
    fi
  fi
  (( r > ROUNDS )) && { printf '%5s %9s %12s %9s %7s\n' end "$ACKED" "$stored" "$SENT" "-$missing"; break; }
  # 3. This round's load: alarms due 1..ROUND-6 s from now, counter increments for longer than
  #    the round (the kill lands mid-stream), one chat-fanout run.
  base="$(now_ms)"
  for (( i = 0; i < ALARMS; i++ )); do
    at=$(( base + 1000 + i * (ROUND - 7) * 1000 / ALARMS ))
    curl -sf -X POST "$URL/alarm/soak-$r-$i/schedule?at_ms=$at" >/dev/null
  done
  "$BIN" http "$URL/counter/soak/increment" -m POST --rate "$RATE" -c 64 \
    -d "$(( ROUND + 5 ))s" --timeout 2s --json >"$TMP/http.$r" 2>/dev/null &
  HTTP=$!
  chat="pass"
  if ! "$BIN" run chat-fanout --target "$URL" -d 5s --json --db "$TMP/results.db" \
       --set 'thresholds=["correctness = true"]' >"$TMP/chat.$r" 2>"$TMP/chat.$r.err"; then
    chat="FAIL"
    echo "round $r: chat-fanout failed: $(tail -3 "$TMP/chat.$r.err")" >&2
    FAIL=1
  fi
  # 4. RSS and open files at the same point of every round.
  sleep $(( ROUND - 3 - ($(date +%s) - t0) > 0 ? ROUND - 3 - ($(date +%s) - t0) : 0 ))
  rss="$(awk '/^VmRSS:/ {print $2}' "/proc/$SERVER/status")"
  fds="$(ls "/proc/$SERVER/fd" | wc -l)"
  RSS+=("$rss"); FDS+=("$fds")
  sleep $(( ROUND - ($(date +%s) - t0) > 0 ? ROUND - ($(date +%s) - t0) : 0 ))
  kill -9 "$SERVER"
  while kill -0 "$SERVER" 2>/dev/null; do sleep 0.05; done
  wait "$HTTP" 2>/dev/null || true
  requests="$(jq '.requests' "$TMP/http.$r")"
  errors="$(jq '.errors.total' "$TMP/http.$r")"
  ACKED=$(( ACKED + requests - errors ))
  SENT=$(( SENT + requests ))
  printf '%5s %9s %12s %9s %7s %8s %9s %5s\n' "$r" "$ACKED" "$stored" "$SENT" "-$missing" "$chat" "$rss" "$fds"
done

# RSS and open files flat: no round past GROWTH × the first three rounds' maximum (+ slack).
first=3; (( ${#RSS[@]} < first )) && first=${#RSS[@]}
max_rss=0; max_fds=0
for (( i = 0; i < first; i++ )); do
  (( RSS[i] > max_rss )) && max_rss=${RSS[i]}
  (( FDS[i] > max_fds )) && max_fds=${FDS[i]}
done
rss_cap="$(awk -v m="$max_rss" -v g="$GROWTH" 'BEGIN { printf "%d", m * g + 20480 }')"
fds_cap="$(awk -v m="$max_fds" -v g="$GROWTH" 'BEGIN { printf "%d", m * g + 32 }')"
for (( i = 0; i < ${#RSS[@]}; i++ )); do
  if (( RSS[i] > rss_cap || FDS[i] > fds_cap )); then
    echo "round $(( i + 1 )): RSS ${RSS[i]} KiB / ${FDS[i]} fds past the cap $rss_cap KiB / $fds_cap fds" >&2
    FAIL=1
  fi
done
if (( FAIL )); then echo "soak: FAILED" >&2; exit 1; fi
echo "soak: passed ($ROUNDS kills, $ACKED acknowledged increments all stored, every due alarm fired, RSS ≤ $rss_cap KiB and fds ≤ $fds_cap throughout)"
