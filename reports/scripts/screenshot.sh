#!/usr/bin/env bash
# Builds HTML reports from (1) a fixture results store (a simulated run with every panel, and
# a compare group of three strategies) and (2) a real `dobench http --db` run against
# `dobench serve` on a free loopback port, then screenshots each with headless Chromium at
# desktop (1280 px) and phone (412 px) widths.
#
#   reports/scripts/screenshot.sh [OUT_DIR]     (default: target/screenshots)
#
# The PNGs committed under reports/screenshots/ were made by this script and shrunk with
# `convert X.png -colors 64 Y.png` to stay small.
# Needs Debian's `chromium` (installed with apt-get when missing and running as root).
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-$root/target/screenshots}"
mkdir -p "$out"
work="$(mktemp -d)"
serve_pid=""
cleanup() {
  if [[ -n "$serve_pid" ]]; then kill "$serve_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

cd "$root"
cargo build -q -p dobench
cargo build -q -p dobench-reports --example fixture_db
bin="$root/target/debug/dobench"
db="$work/results.db"

# (1) Fixture store.
ids="$("$root/target/debug/examples/fixture_db" "$db")"
single="$(sed -n 's/^single=//p' <<<"$ids")"
group="$(sed -n 's/^group=//p' <<<"$ids")"
"$bin" report "$single" --db "$db" -o "$out/report-single.html"
"$bin" report "$group" --db "$db" -o "$out/report-compare.html"

# (2) A real run: dobench http against the reference runtime.
"$bin" serve --bind 127.0.0.1:0 --data :memory: >"$work/serve.out" 2>"$work/serve.err" &
serve_pid=$!
for _ in $(seq 1 100); do
  url="$(sed -n 's/^listening on //p' "$work/serve.out" | head -n1)"
  [[ -n "$url" ]] && break
  sleep 0.1
done
[[ -n "${url:-}" ]] || { echo "dobench serve did not start" >&2; cat "$work/serve.err" >&2; exit 1; }
"$bin" http "$url/counter/screenshot/increment" --method POST --rate 800 --duration 8s \
  --connections 16 --db "$db" >/dev/null
kill "$serve_pid" && wait "$serve_pid" 2>/dev/null || true
serve_pid=""
"$bin" report latest --db "$db" -o "$out/report-http.html"
"$bin" runs --db "$db"

# Screenshots.
chrome="$(command -v chromium || command -v chromium-browser || true)"
if [[ -z "$chrome" ]]; then
  if [[ "$(id -u)" == 0 ]]; then
    apt-get install -y chromium >/dev/null
    chrome="$(command -v chromium)"
  else
    echo "chromium is missing: sudo apt-get install -y chromium" >&2
    exit 1
  fi
fi
shoot() { # html png width height
  "$chrome" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --hide-scrollbars --user-data-dir="$(mktemp -d -p "$work")" \
    --window-size="$3,$4" --screenshot="$2" "file://$1" 2>/dev/null
  echo "screenshot: $2"
}
for name in single compare http; do
  shoot "$out/report-$name.html" "$out/report-$name-1280.png" 1280 2400
  shoot "$out/report-$name.html" "$out/report-$name-phone.png" 412 4200
done
