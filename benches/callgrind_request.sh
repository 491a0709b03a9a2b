#!/usr/bin/env bash
# Instructions per request of the generator's send–parse–record path, counted by callgrind
# (user-space instructions, no timing noise): `benches/examples/request_path.rs` sends a
# fixed number of requests through the executor on one connection to nginx ("ok", started
# here), once with N1 and once with N2 requests; (Ir(N2) − Ir(N1)) / (N2 − N1) is the count
# per request with start-up and shutdown cancelled out. Done for the plain HTTP/1.1 fast
# path and for the general (hyper) client; then for the open model (fast path, 500 req/s on one
# connection, so every send waits for the pacer) with N1/5 and N2/5 requests.
#
# Usage: benches/callgrind_request.sh [N1=2000] [N2=12000]
# Env: REQUEST_PATH_BIN (another build of the example, for a before/after).
# Needs: valgrind, nginx-light (installed with apt-get when missing).
set -euo pipefail

N1=${1:-2000}
N2=${2:-12000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind; }
if [ -z "${REQUEST_PATH_BIN:-}" ]; then
  cargo build --release -q -p dobench-benches --example request_path
  REQUEST_PATH_BIN=target/release/examples/request_path
fi
BIN=$REQUEST_PATH_BIN

TMP=$(mktemp -d)
NGINX_PID=""
cleanup() {
  if [ -n "$NGINX_PID" ]; then kill "$NGINX_PID" 2>/dev/null; wait "$NGINX_PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
# shellcheck source=benches/nginx_ok.sh
. "$ROOT/benches/nginx_ok.sh"
start_nginx_ok "$TMP" "$(($(nproc) - 1))"

# Total instructions of one run: `request_path URL N MODE`.
count() {
  local out
  out=$(valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.out" "$BIN" "$NGINX_URL" "$2" "$1" 2>"$TMP/vg.err")
  read -r requests errors <<<"$out"
  if [ "$requests" != "$2" ] || [ "$errors" != 0 ]; then
    echo "run $1 $2: $requests requests, $errors errors" >&2
    exit 1
  fi
  awk '/^summary:/ {print $2}' "$TMP/cg.out"
}

per_request() { # MODE N1 N2
  local a b
  a=$(count "$1" "$2")
  b=$(count "$1" "$3")
  awk -v a="$a" -v b="$b" -v n1="$2" -v n2="$3" -v m="$1" \
    'BEGIN { printf "%-8s %8.0f instructions per request  (Ir %d at %d requests, %d at %d)\n", m, (b-a)/(n2-n1), a, n1, b, n2 }'
}
per_request fast "$N1" "$N2"
per_request general "$N1" "$N2"
per_request open "$((N1 / 5))" "$((N2 / 5))"
