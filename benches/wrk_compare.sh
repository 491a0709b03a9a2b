#!/usr/bin/env bash
# `dobench http` beside wrk against nginx answering "ok" on loopback (Debian nginx-light, one
# worker), the same connection count, alternating wrk / dobench closed model / dobench open
# model at RATE req/s for ROUNDS rounds so drift hits all alike. nginx runs pinned to the
# last core, each generator to the first (when the machine has two or more; GEN_CPUS=all
# leaves the generators unpinned). For every run: req/s, user and system CPU µs per request
# (from /usr/bin/time), requests per CPU-second. Then the medians, dobench/wrk ratios, and the
# open model's CPU per request against the closed model's (the goal: no more).
#
# Usage: benches/wrk_compare.sh [SECONDS_PER_RUN=8] [ROUNDS=3] [CONNECTIONS=64] [RATE=50000]
# Env: DOBENCH_BIN (default: target/release/dobench, built if missing or stale),
#      DOBENCH_ARGS (extra flags for every dobench run),
#      DOBENCH_BEFORE (another build: its closed and open runs join every round, as
#      "before" and "before-open", for a before/after comparison),
#      GEN_CPUS (cpu list for the generators, or "all" for unpinned), SKIP_WRK=1 (dobench only).
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
  SERVER_CPU=$((CORES - 1)); DEFAULT_GEN="0-$((CORES - 2))"
else
  SERVER_CPU=0; DEFAULT_GEN=0
fi
GEN_CPUS=${GEN_CPUS:-$DEFAULT_GEN}

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
echo "nginx $(nginx -v 2>&1 | sed 's/.*\///') on cpu $SERVER_CPU at $URL; generators on cpu $GEN_CPUS; $CONNS connections, ${SECS}s per run, $ROUNDS rounds; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# Each run prints: req/s  requests  user_s  sys_s
timed() {
  if [ "$GEN_CPUS" = all ]; then
    /usr/bin/time -f "%U %S" -o "$TMP/time" "$@"
  else
    /usr/bin/time -f "%U %S" -o "$TMP/time" taskset -c "$GEN_CPUS" "$@"
  fi
}
run_wrk() {
  timed wrk -t1 -c "$CONNS" -d "${SECS}s" "$URL" >"$TMP/out"
  local rps n
  rps=$(awk '/Requests\/sec/ {print $2}' "$TMP/out")
  n=$(awk '/requests in/ {print $1}' "$TMP/out")
  echo "$rps $n $(cat "$TMP/time")"
}
run_dobench() { # BIN [extra flags]
  local bin=$1; shift
  # shellcheck disable=SC2086
  timed "$bin" http "$URL" --connections "$CONNS" --duration "${SECS}s" --json ${DOBENCH_ARGS:-} "$@" >"$TMP/out" 2>"$TMP/err"
  jq -r '"\(.achieved_rps) \(.requests)"' "$TMP/out" | tr '\n' ' '
  cat "$TMP/time"
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
declare -A RPS USER SYS CPU PERCPU
report() { # tool  rps n user sys
  local tool=$1 rps=$2 n=$3 u=$4 s=$5
  local uu su cu pc
  uu=$(awk -v u="$u" -v n="$n" 'BEGIN {printf "%.2f", u*1e6/n}')
  su=$(awk -v s="$s" -v n="$n" 'BEGIN {printf "%.2f", s*1e6/n}')
  cu=$(awk -v u="$u" -v s="$s" -v n="$n" 'BEGIN {printf "%.2f", (u+s)*1e6/n}')
  pc=$(awk -v u="$u" -v s="$s" -v n="$n" 'BEGIN {printf "%.0f", n/(u+s)}')
  printf 'round %d  %-12s %10.0f req/s  user %5s  sys %5s  cpu %5s µs/req  %8s req/CPU-s\n' "$r" "$tool" "$rps" "$uu" "$su" "$cu" "$pc"
  RPS[$tool]+="$rps "; USER[$tool]+="$uu "; SYS[$tool]+="$su "; CPU[$tool]+="$cu "; PERCPU[$tool]+="$pc "
}

TOOLS="dobench dobench-open"
[ "${SKIP_WRK:-0}" = 1 ] || TOOLS="wrk $TOOLS"
[ -z "${DOBENCH_BEFORE:-}" ] || TOOLS="$TOOLS before before-open"
for r in $(seq "$ROUNDS"); do
  for tool in $TOOLS; do
    sleep 1
    case $tool in
      wrk) report wrk $(run_wrk) ;;
      dobench) report dobench $(run_dobench "$DOBENCH_BIN") ;;
      dobench-open) report dobench-open $(run_dobench "$DOBENCH_BIN" --rate "$RATE") ;;
      before) report before $(run_dobench "$DOBENCH_BEFORE") ;;
      before-open) report before-open $(run_dobench "$DOBENCH_BEFORE" --rate "$RATE") ;;
    esac
  done
done

med() { echo "$1" | tr ' ' '\n' | grep -v '^$' | median; }
echo "medians of $ROUNDS rounds (load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)):"
for tool in $TOOLS; do
  printf '  %-12s %10.0f req/s  user %5.2f  sys %5.2f  cpu %5.2f µs/req  %8.0f req/CPU-s\n' "$tool" \
    "$(med "${RPS[$tool]}")" "$(med "${USER[$tool]}")" "$(med "${SYS[$tool]}")" "$(med "${CPU[$tool]}")" "$(med "${PERCPU[$tool]}")"
done
if [ "${SKIP_WRK:-0}" != 1 ]; then
  awk -v dr="$(med "${RPS[dobench]}")" -v wr="$(med "${RPS[wrk]}")" \
      -v dc="$(med "${PERCPU[dobench]}")" -v wc="$(med "${PERCPU[wrk]}")" \
      'BEGIN { printf "  dobench/wrk: %.2fx req/s, %.2fx req per CPU-second (goal >= 0.9 each)\n", dr/wr, dc/wc }'
fi
ratios() { # open closed label
  awk -v ou="$(med "${USER[$1]}")" -v cu="$(med "${USER[$2]}")" \
      -v os="$(med "${SYS[$1]}")" -v cs="$(med "${SYS[$2]}")" \
      -v oc="$(med "${CPU[$1]}")" -v cc="$(med "${CPU[$2]}")" -v label="$3" \
      'BEGIN { printf "  %s at '"$RATE"' req/s vs the closed model: %.2fx the CPU per request (%.2f vs %.2f µs; user %.2fx, system %.2fx; goal <= 1)\n", label, oc/cc, oc, cc, ou/cu, os/cs }'
}
ratios dobench-open dobench "open model"
[ -z "${DOBENCH_BEFORE:-}" ] || ratios before-open before "open model (before)"
