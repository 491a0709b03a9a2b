#!/usr/bin/env bash
# Side-by-side throughput of `dobench http` (closed model), wrk and oha against the same
# trivial loopback "ok" server, alternating A B C A B C so drift hits every tool alike.
# Prints each round's req/s and each tool's median.
#
# Usage: benches/http_compare.sh [SECONDS_PER_RUN=10] [ROUNDS=2] [CONNECTIONS=64]
# Needs: wrk (apt-get install -y wrk) and oha (cargo install oha); installs them if missing.
set -euo pipefail

SECS=${1:-10}
ROUNDS=${2:-2}
CONNS=${3:-64}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v oha >/dev/null || cargo install oha --locked
command -v jq >/dev/null || { apt-get update -qq && apt-get install -y -qq jq; }

cargo build --release -q -p dobench --bin dobench || { [ -x target/release/dobench ] && echo "warning: build failed, using the existing target/release/dobench" >&2; }
cargo build --release -q -p dobench-loadgen --example ok_server
BIN=target/release/dobench

# The server gets its own port; it prints the port on its first line.
SERVER_OUT=$(mktemp)
target/release/examples/ok_server >"$SERVER_OUT" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -f "$SERVER_OUT"' EXIT
for _ in $(seq 50); do [ -s "$SERVER_OUT" ] && break; sleep 0.1; done
URL="http://127.0.0.1:$(head -1 "$SERVER_OUT")/"
echo "target $URL, $CONNS connections, ${SECS}s per run, $ROUNDS rounds" >&2

run_dobench() { "$BIN" http "$URL" --connections "$CONNS" --duration "${SECS}s" --json 2>/dev/null | jq -r '.achieved_rps'; }
# wrk: one thread per core (2 here) is its best setting; "Requests/sec:" line.
run_wrk() { wrk -t "$(nproc)" -c "$CONNS" -d "${SECS}s" "$URL" | awk '/Requests\/sec/ {print $2}'; }
run_oha() { oha --no-tui -c "$CONNS" -z "${SECS}s" --output-format json "$URL" | jq -r '.summary.requestsPerSec'; }

declare -A RESULTS
for r in $(seq "$ROUNDS"); do
  for tool in dobench wrk oha; do
    sleep 1
    rps=$("run_$tool")
    printf 'round %d  %-8s %12.1f req/s\n' "$r" "$tool" "$rps"
    RESULTS[$tool]="${RESULTS[$tool]:-} $rps"
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
echo "medians:"
for tool in dobench wrk oha; do
  printf '  %-8s %12.1f req/s\n' "$tool" "$(echo "${RESULTS[$tool]}" | median)"
done
D=$(echo "${RESULTS[dobench]}" | median); W=$(echo "${RESULTS[wrk]}" | median); O=$(echo "${RESULTS[oha]}" | median)
awk -v d="$D" -v w="$W" -v o="$O" 'BEGIN { printf "  dobench/oha %.2fx (goal >= 1.2)   dobench/wrk %.2fx (goal >= 0.8)\n", d/o, d/w }'
