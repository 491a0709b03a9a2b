#!/usr/bin/env bash
# `dobench http` beside wrk against nginx answering "ok" on loopback (Debian nginx-light, one
# worker), the same connection count, alternating wrk / dobench for ROUNDS rounds so drift
# hits both alike. nginx runs pinned to the last core, each generator to the first (when the
# machine has two or more). For every run: req/s, user and system CPU µs per request (from
# /usr/bin/time), requests per CPU-second. Then the medians, dobench/wrk ratios, and the open
# model at RATE req/s (CPU per request, to hold beside the closed model's).
#
# Usage: benches/wrk_compare.sh [SECONDS_PER_RUN=8] [ROUNDS=3] [CONNECTIONS=64] [RATE=50000]
# Env: DOBENCH_BIN (default: target/release/dobench, built if missing or stale),
#      DOBENCH_ARGS (extra flags for every dobench run).
# Needs: nginx-light, wrk, jq, /usr/bin/time (installed with apt-get when missing).
# Only loopback traffic; every run is bounded by its duration.
set -euo pipefail

SECS=${1:-8}
ROUNDS=${2:-3}
CONNS=${3:-64}
RATE=${4:-50000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

need() { command -v "$1" >/dev/null || { apt-get update -qq && apt-get install -y -qq "$2"; }; }
need wrk wrk
need jq jq
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time; }

if [ -z "${DOBENCH_BIN:-}" ]; then
  cargo build --release -q -p dobench --bin dobench
  DOBENCH_BIN=target/release/dobench
fi

CORES=$(nproc)
if [ "$CORES" -ge 2 ]; then
  SERVER_CPU=$((CORES - 1)); GEN_CPUS="0-$((CORES - 2))"
else
  SERVER_CPU=0; GEN_CPUS=0
fi

TMP=$(mktemp -d)
NGINX_PID=""
cleanup() {
  if [ -n "$NGINX_PID" ]; then kill "$NGINX_PID" 2>/dev/null; wait "$NGINX_PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

# shellcheck source=benches/nginx_ok.sh
. "$ROOT/benches/nginx_ok.sh"
start_nginx_ok "$TMP" "$SERVER_CPU"
URL=$NGINX_URL
echo "nginx $(nginx -v 2>&1 | sed 's/.*\///') on cpu $SERVER_CPU at $URL; generators on cpu $GEN_CPUS; $CONNS connections, ${SECS}s per run, $ROUNDS rounds" >&2

# Each run prints: req/s  requests  user_s  sys_s
timed() { /usr/bin/time -f "%U %S" -o "$TMP/time" taskset -c "$GEN_CPUS" "$@"; }
run_wrk() {
  timed wrk -t1 -c "$CONNS" -d "${SECS}s" "$URL" >"$TMP/out"
  local rps n
  rps=$(awk '/Requests\/sec/ {print $2}' "$TMP/out")
  n=$(awk '/requests in/ {print $1}' "$TMP/out")
  echo "$rps $n $(cat "$TMP/time")"
}
run_dobench() {
  # shellcheck disable=SC2086
  timed "$DOBENCH_BIN" http "$URL" --connections "$CONNS" --duration "${SECS}s" --json ${DOBENCH_ARGS:-} "$@" >"$TMP/out" 2>"$TMP/err"
  jq -r '"\(.achieved_rps) \(.requests)"' "$TMP/out" | tr '\n' ' '
  cat "$TMP/time"
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
declare -A RPS USER SYS PERCPU
report() { # tool  rps n user sys
  local tool=$1 rps=$2 n=$3 u=$4 s=$5
  local uu su pc
  uu=$(awk -v u="$u" -v n="$n" 'BEGIN {printf "%.2f", u*1e6/n}')
  su=$(awk -v s="$s" -v n="$n" 'BEGIN {printf "%.2f", s*1e6/n}')
  pc=$(awk -v u="$u" -v s="$s" -v n="$n" 'BEGIN {printf "%.0f", n/(u+s)}')
  printf 'round %d  %-14s %10.0f req/s  user %5s µs/req  sys %5s µs/req  %8s req/CPU-s\n' "$r" "$tool" "$rps" "$uu" "$su" "$pc"
  RPS[$tool]+="$rps "; USER[$tool]+="$uu "; SYS[$tool]+="$su "; PERCPU[$tool]+="$pc "
}

for r in $(seq "$ROUNDS"); do
  sleep 1; report wrk $(run_wrk)
  sleep 1; report dobench $(run_dobench)
  sleep 1; report "dobench-open" $(run_dobench --rate "$RATE")
done

med() { echo "$1" | tr ' ' '\n' | grep -v '^$' | median; }
echo "medians of $ROUNDS rounds:"
for tool in wrk dobench dobench-open; do
  printf '  %-14s %10.0f req/s  user %5.2f µs/req  sys %5.2f µs/req  %8.0f req/CPU-s\n' "$tool" \
    "$(med "${RPS[$tool]}")" "$(med "${USER[$tool]}")" "$(med "${SYS[$tool]}")" "$(med "${PERCPU[$tool]}")"
done
awk -v dr="$(med "${RPS[dobench]}")" -v wr="$(med "${RPS[wrk]}")" \
    -v dc="$(med "${PERCPU[dobench]}")" -v wc="$(med "${PERCPU[wrk]}")" \
    -v oc="$(med "${PERCPU[dobench-open]}")" \
    'BEGIN { printf "  dobench/wrk: %.2fx req/s, %.2fx req per CPU-second (goal >= 0.9 each)\n  open model at '"$RATE"' req/s: %.2fx the closed model'"'"'s req per CPU-second (goal >= 1)\n", dr/wr, dc/wc, oc/dc }'
