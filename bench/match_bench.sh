#!/usr/bin/env bash
# $match benchmark of `ucr serve` with wrk, on a store of generated persons. Builds nothing.
#
# Usage: bench/match_bench.sh path/to/ucr [--people N] [--data DIR] [--duration S] [--queries Q]
#                             [--connections C] [--link-sample M]
#   1. Writes the primary records of a synthetic population of N people (default 100000; look-alikes
#      make it about 1.14 N persons) with `ucr match generate --records persons` and loads them with
#      `ucr import --no-link --no-audit --batch 5000` (the persons are the index: nothing to link them
#      to), or uses the database already in DIR (--data, left in place; loaded there when empty).
#   2. With --link-sample M: imports M of the population's corrupted copies with record linkage on
#      (each is matched against the persons, as a create over HTTP is) and reports records/s.
#   3. Takes Q (default 2000) corrupted copies of the same population (the records other systems hold:
#      typos, nicknames, moves, missing NHS numbers) as query Patients and runs wrk on
#      POST /fhir/Patient/$match (bench/wrk/match.lua): one client (latency) and C clients (default 8;
#      throughput), S seconds each (default 10).
#   4. Reports the server's RSS, the database size and the size of the match index (the _match-key
#      rows of idx_token, from SQLite's dbstat) and the number of keys.
#   Prints a Markdown table. Needs wrk, sqlite3 and python3 (stdlib only).
set -euo pipefail

UCR=${1:?usage: match_bench.sh path/to/ucr [--people N] [--data DIR] [--duration S] [--queries Q]}
shift
PEOPLE=100000
DATA=""
DURATION=10
QUERIES=2000
CONNECTIONS=8
LINK_SAMPLE=0
while (($#)); do
  case "$1" in
    --people) PEOPLE=$2; shift 2 ;;
    --data) DATA=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --queries) QUERIES=$2; shift 2 ;;
    --connections) CONNECTIONS=$2; shift 2 ;;
    --link-sample) LINK_SAMPLE=$2; shift 2 ;;
    *) echo "match_bench: unknown option $1" >&2; exit 2 ;;
  esac
done
for tool in wrk sqlite3 python3; do
  command -v "$tool" >/dev/null || { echo "match_bench: $tool is required" >&2; exit 1; }
done
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ucr-match-bench.XXXXXX")
SERVER_PID=""
cleanup() {
  [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
now() { date -u +%Y-%m-%dT%H:%MZ; }
seconds_since() { python3 -c "import time; print(round(time.time() - $1, 1))"; }

[[ -z "$DATA" ]] && DATA="$WORK/data"
LOAD_LINE="(database in $DATA used as it was)"
if [[ ! -s "$DATA/ucr.db" ]]; then
  echo "match_bench: $(now) generating $PEOPLE people..." >&2
  "$UCR" match generate --people "$PEOPLE" --records persons --out "$WORK/persons.ndjson"
  echo "match_bench: $(now) loading..." >&2
  start=$(date +%s.%N)
  LOAD_LINE=$("$UCR" import --data "$DATA" --no-link --no-audit --batch 5000 "$WORK/persons.ndjson" 2>/dev/null | tail -1)
  echo "match_bench: $(now) loaded in $(seconds_since "$start") s: $LOAD_LINE" >&2
  rm -f "$WORK/persons.ndjson"
fi
PERSONS=$(sqlite3 "$DATA/ucr.db" "SELECT COUNT(*) FROM resource_current WHERE type = 'Patient' AND deleted = 0")
"$UCR" match generate --people "$PEOPLE" --records copies --out "$WORK/copies.ndjson"
python3 - "$WORK/copies.ndjson" "$WORK/queries.ndjson" "$QUERIES" "$WORK/sample.ndjson" "$LINK_SAMPLE" <<'PY'
"""Query bodies: a random sample of the copies, without their ids, as $match Parameters (count 5);
and a second, disjoint sample of copies for the linkage run."""
import json, random, sys
copies = open(sys.argv[1]).read().splitlines()
random.seed(20261126)
random.shuffle(copies)
n, m = int(sys.argv[3]), int(sys.argv[5])
with open(sys.argv[2], "w") as out:
    for line in copies[:n]:
        p = json.loads(line)
        p.pop("id", None)
        out.write(json.dumps({"resourceType": "Parameters", "parameter": [
            {"name": "resource", "resource": p}, {"name": "count", "valueInteger": 5}]}, separators=(",", ":")) + "\n")
with open(sys.argv[4], "w") as out:
    for line in copies[n:n + m]:
        p = json.loads(line)
        p.pop("id", None)  # created, so linked (a line with an id is an update)
        out.write(json.dumps(p, separators=(",", ":")) + "\n")
PY

LINK_LINE=""
if ((LINK_SAMPLE > 0)); then
  echo "match_bench: $(now) importing $LINK_SAMPLE copies with linkage into a copy of the store..." >&2
  cp -r "$DATA" "$WORK/linked"
  LINK_LINE=$("$UCR" import --data "$WORK/linked" --no-audit --batch 500 "$WORK/sample.ndjson" 2>/dev/null | tail -1)
  TASKS=$(sqlite3 "$WORK/linked/ucr.db" "SELECT COUNT(*) FROM resource_current WHERE type = 'Task'" 2>/dev/null || echo "?")
  LINK_LINE="$LINK_LINE; $TASKS review Tasks"
  rm -rf "$WORK/linked"
fi

"$UCR" serve --listen 127.0.0.1:0 --data "$DATA" --no-access-log --auth off --audit off >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
PORT=""
for _ in $(seq 1 600); do
  PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$WORK/server.log" | head -n1)
  [[ -n "$PORT" ]] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
  sleep 0.1
done
[[ -n "$PORT" ]] || { echo "match_bench: the server did not start" >&2; exit 1; }
URL="http://127.0.0.1:$PORT"
export UCR_MATCH_QUERIES="$WORK/queries.ndjson"

# Candidates and answers of the queries, once through (warms the caches as well).
python3 - "$URL" "$WORK/queries.ndjson" >"$WORK/answers.txt" <<'PY'
import http.client, json, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
n = found = certain = 0
for line in open(sys.argv[2]):
    c.request("POST", "/fhir/Patient/$match", line, {"Content-Type": "application/fhir+json"})
    r = c.getresponse()
    body = json.loads(r.read())
    assert r.status == 200, (r.status, body)
    n += 1
    entries = body.get("entry", [])
    found += 1 if entries else 0
    certain += 1 if entries and entries[0]["search"]["extension"][0]["valueCode"] == "certain" else 0
print(f"{n} queries: {found} with a candidate, {certain} with a certain first candidate")
PY

run() {
  local threads=$1 connections=$2
  wrk -t"$threads" -c"$connections" -d"${DURATION}s" --latency -s "$HERE/wrk/match.lua" "$URL" 2>&1
}
echo "match_bench: $(now) wrk, 1 client..." >&2
ONE=$(run 1 1)
echo "match_bench: $(now) wrk, $CONNECTIONS clients..." >&2
MANY=$(run 2 "$CONNECTIONS")
if grep -q "match: status" <<<"$ONE$MANY"; then
  echo "match_bench: some queries failed:" >&2
  grep "match: status" <<<"$ONE$MANY" | head -3 >&2
  exit 1
fi
field() { awk -v k="$1" '$1 == k {print $2}'; }
RSS=$(awk '/^VmRSS/ {printf "%.0f MiB", $2 / 1024}' "/proc/$SERVER_PID/status")
HWM=$(awk '/^VmHWM/ {printf "%.0f MiB", $2 / 1024}' "/proc/$SERVER_PID/status")
kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""
DB_SIZE=$(du -sh "$DATA" | cut -f1)
KEYS=$(sqlite3 "$DATA/ucr.db" "SELECT COUNT(*), COUNT(DISTINCT code) FROM idx_token WHERE param = '_match-key'")
# The match index is part of idx_token (the _match-key rows): its share of that table's pages.
INDEX_SIZE=$(sqlite3 "$DATA/ucr.db" "SELECT printf('%.0f MiB', (SELECT SUM(pgsize) FROM dbstat WHERE name = 'idx_token') * 1.0 *
  (SELECT SUM(LENGTH(type) + LENGTH(param) + LENGTH(code) + LENGTH(system) + LENGTH(text) + 8) FROM idx_token WHERE param = '_match-key') /
  (SELECT SUM(LENGTH(type) + LENGTH(param) + LENGTH(code) + LENGTH(system) + LENGTH(text) + 8) FROM idx_token) / 1048576)" 2>/dev/null || echo "?")

echo
echo "ucr \$match benchmark, $(now): $PERSONS persons (ucr match generate --people $PEOPLE); queries: $QUERIES corrupted copies;"
echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "load: $LOAD_LINE"
[[ -n "$LINK_LINE" ]] && echo "linkage of $LINK_SAMPLE copies on import: $LINK_LINE"
echo "answers: $(cat "$WORK/answers.txt")"
echo
echo "| clients | req/s | p50 | p99 |"
echo "|---|---:|---:|---:|"
echo "| 1 | $(awk '/Requests\/sec/ {print $2}' <<<"$ONE") | $(field 50% <<<"$ONE") | $(field 99% <<<"$ONE") |"
echo "| $CONNECTIONS (wrk -t2) | $(awk '/Requests\/sec/ {print $2}' <<<"$MANY") | $(field 50% <<<"$MANY") | $(field 99% <<<"$MANY") |"
echo
echo "server RSS after the runs $RSS (peak $HWM); database $DB_SIZE; match keys (rows|distinct) $KEYS, about $INDEX_SIZE of idx_token"
