#!/usr/bin/env bash
# WebSocket client scale: `dobench serve` in its own process, and `dobench run chat-fanout
# --target` holding ROOMS × MEMBERS sockets (default 10 × 1,000) that receive every message of
# their room (64-byte bodies) at RATE messages/s in all (default 250: 250,000 frames/s fanned
# out by the reference runtime) for SECONDS. Per round: the generator's peak RSS (from
# /usr/bin/time -v) per socket, frames received per second, delivery latency from the
# intended send (p50, p99), correctness; then the medians. A fresh serve data dir per round.
#
# Usage: benches/ws_scale.sh [SECONDS=10] [ROUNDS=3] [RATE=250] [ROOMS=10] [MEMBERS=1000]
# Env: DOBENCH_BIN (default target/release/dobench, built). Needs jq, /usr/bin/time.
# Only loopback traffic; each run is bounded by its duration (plus connect and check).
set -euo pipefail

SECS=${1:-10}
ROUNDS=${2:-3}
RATE=${3:-250}
ROOMS=${4:-10}
MEMBERS=${5:-1000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
command -v jq >/dev/null || { apt-get update -qq && apt-get install -y -qq jq; }
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time; }
if [ -z "${DOBENCH_BIN:-}" ]; then
  cargo build --release -q -p dobench --bin dobench
  DOBENCH_BIN=target/release/dobench
fi
SOCKETS=$((ROOMS * MEMBERS))

TMP=$(mktemp -d)
SERVE=""
cleanup() {
  if [ -n "$SERVE" ]; then kill "$SERVE" 2>/dev/null; wait "$SERVE" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

declare -a RSS FPS P50 P99
for r in $(seq "$ROUNDS"); do
  rm -rf "$TMP/data" && mkdir -p "$TMP/data"
  "$DOBENCH_BIN" serve --bind 127.0.0.1:0 --data "$TMP/data" >"$TMP/serve.out" 2>"$TMP/serve.err" &
  SERVE=$!
  for _ in $(seq 50); do grep -q '^listening on' "$TMP/serve.out" 2>/dev/null && break; sleep 0.1; done
  URL=$(head -1 "$TMP/serve.out" | awk '{print $3}')
  /usr/bin/time -v "$DOBENCH_BIN" run chat-fanout --target "$URL" \
    --set chat.rooms="$ROOMS" --set chat.members="$MEMBERS" --set load.rate="$RATE" \
    --set 'chat.idle="0s"' --duration "${SECS}s" --json >"$TMP/run.json" 2>"$TMP/run.err" || true
  kill "$SERVE" 2>/dev/null; wait "$SERVE" 2>/dev/null || true; SERVE=""
  rss=$(awk '/Maximum resident set size/ {print $6}' "$TMP/run.err")
  read -r fps p50 p99 ok deliveries <<<"$(jq -r '"\(.achieved_deliveries_per_s) \(.delivery_latency_ms.p50) \(.delivery_latency_ms.p99) \(.correctness.passed) \(.deliveries)"' "$TMP/run.json")"
  per=$(awk -v r="$rss" -v n="$SOCKETS" 'BEGIN {printf "%.2f", r/n}')
  printf 'round %d  %d sockets  peak RSS %d KiB = %s KiB/socket  %.0f frames/s received (%s in all)  delivery p50 %s ms p99 %s ms  correct %s\n' \
    "$r" "$SOCKETS" "$rss" "$per" "$fps" "$deliveries" "$p50" "$p99" "$ok"
  RSS+=("$per"); FPS+=("$fps"); P50+=("$p50"); P99+=("$p99")
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
printf 'medians of %d rounds: %s KiB RSS per socket (goal <= 16), %.0f frames/s received (goal >= 200000), delivery p50 %s ms, p99 %s ms\n' \
  "$ROUNDS" "$(median "${RSS[@]}")" "$(median "${FPS[@]}")" "$(median "${P50[@]}")" "$(median "${P99[@]}")"
