#!/usr/bin/env bash
# Per-key sharding at Durable Object scale (issue 13, Must-show 3): the embedded runtime and
# the generator in one process, data on tmpfs, ceiling on (the profile's default):
#   `dobench run sharded-counter --set strategy=per-key --set keyspace.keys=KEYS
#        --set load.rate=RATE --set load.duration=DURATION --json`
# ROUNDS times, one after another, each under `/usr/bin/time -v` for the process's peak RSS.
# Prints per round and the medians: achieved/offered req/s, missed sends, latency p50/p99
# (from the intended send), p99 of the requests that brought their object into memory
# ("cold") and of the rest ("warm"), objects used, correctness, peak RSS, CPU seconds
# (user + system) per 1,000 requests of the whole process (the generator's included),
# and the load average before the round (the machine is shared: read rounds with a load
# above ~1.5 as contended).
# Env: KEYS (default 100000), RATE (default 10000), DURATION (default 30s), ROUNDS (default 3),
#      DOBENCH_BIN (default target/release/dobench), DATA_ROOT (default /dev/shm).
# Exits 1 if a round's run failed to produce a summary. Only loopback traffic (embedded).
set -euo pipefail

KEYS="${KEYS:-100000}"
RATE="${RATE:-10000}"
DURATION="${DURATION:-30s}"
ROUNDS="${ROUNDS:-3}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DOBENCH_BIN="${DOBENCH_BIN:-$ROOT/target/release/dobench}"
DATA_ROOT="${DATA_ROOT:-/dev/shm}"
[ -x "$DOBENCH_BIN" ] || { echo "DOBENCH_BIN=$DOBENCH_BIN is not executable" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time not found: apt-get install -y time" >&2; exit 2; }

TMP="$(mktemp -d "$DATA_ROOT/per_key_scale.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
echo "per-key scale: $KEYS zipf keys, $RATE req/s offered for $DURATION, $ROUNDS round(s), data under $DATA_ROOT"
echo "  $DOBENCH_BIN run sharded-counter --set strategy=per-key --set keyspace.keys=$KEYS --set load.rate=$RATE --set load.duration=$DURATION --json"

failed=0
for r in $(seq 1 "$ROUNDS"); do
  load="$(cut -d' ' -f1 /proc/loadavg)"
  rm -rf "$TMP/run" && mkdir -p "$TMP/run"
  if ! (cd "$TMP/run" && TMPDIR="$TMP/run" /usr/bin/time -v -o "$TMP/time.txt" "$DOBENCH_BIN" run sharded-counter \
      --set strategy=per-key --set keyspace.keys="$KEYS" --set load.rate="$RATE" \
      --set load.duration="$DURATION" --json >"$TMP/out.json" 2>"$TMP/err.txt"); then
    # A failed threshold exits non-zero with a full summary; only a missing summary fails.
    :
  fi
  if ! python3 - "$TMP/out.json" "$TMP/time.txt" "$r" "$load" >>"$TMP/rounds.txt" <<'EOF'
import json, re, sys
out, tim, r, load = sys.argv[1:]
d = json.load(open(out))
t = open(tim).read()
rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1))
cpu = float(re.search(r"User time \(seconds\): ([\d.]+)", t).group(1)) + \
      float(re.search(r"System time \(seconds\): ([\d.]+)", t).group(1))
lat, cold, warm = d["latency_ms"], d["cold_start_latency_ms"] or {}, d["warm_latency_ms"] or {}
print(json.dumps({
    "round": int(r), "load": float(load),
    "achieved": d["achieved_rps"], "offered": d["offered_rps"], "missed": d["missed"],
    "p50": lat["p50"], "p99": lat["p99"], "cold_p99": cold.get("p99", 0.0),
    "warm_p99": warm.get("p99", 0.0), "cold_starts": d["cold_starts"],
    "objects": d["objects_total"], "correct": d["correctness"]["passed"],
    "rss_mb": rss_kb / 1024, "cpu_ms_per_1k": cpu / max(d["requests"], 1) * 1e6,
}))
EOF
  then
    echo "round $r: no summary; stderr:" >&2; tail -5 "$TMP/err.txt" >&2; failed=1; continue
  fi
  # Which seconds were slow (from the run's stored per-second rows): a contended machine
  # shows as a stretch of slow seconds, the cold start as the first ones.
  python3 - "$TMP/run/.dobench/results.db" <<'EOF2' || true
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
rid = c.execute("SELECT id FROM runs ORDER BY rowid DESC LIMIT 1").fetchone()[0]
rows = c.execute("SELECT second, p99_ms FROM seconds WHERE run_id = ? ORDER BY second", (rid,)).fetchall()
slow = [s for s, p in rows if p > 50]
print("  seconds with p99 > 50 ms: %d of %d%s" % (len(slow), len(rows), (" (" + ", ".join(map(str, slow[:20])) + ("…" if len(slow) > 20 else "") + ")") if slow else ""))
EOF2
  python3 -c "
import json,sys
x=json.loads(open('$TMP/rounds.txt').read().splitlines()[-1])
print('round %(round)d  %(achieved).1f of %(offered).0f req/s, %(missed)d missed, p50 %(p50).2f p99 %(p99).2f ms (cold p99 %(cold_p99).2f, warm p99 %(warm_p99).2f), %(objects)d objects, correct=%(correct)s, RSS %(rss_mb).0f MB, %(cpu_ms_per_1k).0f ms CPU per 1k req, load %(load).2f' % x)"
done
[ -s "$TMP/rounds.txt" ] && python3 - "$TMP/rounds.txt" <<'EOF'
import json, statistics, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
med = lambda k: statistics.median(x[k] for x in rs)
print("---")
print("median  %.1f of %.0f req/s (%.2f %%), missed %d, p50 %.2f ms, p99 %.2f ms (cold %.2f, warm %.2f), "
      "RSS %.0f MB, %.0f ms CPU per 1k requests; correctness %d/%d; rounds %d"
      % (med("achieved"), med("offered"), 100 * med("achieved") / med("offered"), med("missed"),
         med("p50"), med("p99"), med("cold_p99"), med("warm_p99"), med("rss_mb"),
         med("cpu_ms_per_1k"), sum(x["correct"] for x in rs), len(rs), len(rs)))
EOF
exit "$failed"
