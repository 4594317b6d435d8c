#!/usr/bin/env bash
# Search benchmark of `ucr serve` with wrk. Builds nothing.
#
# Usage: bench/search_bench.sh path/to/ucr [--people N] [--duration S]
#   Loads N synthetic people (default 60000; about 4.5 resources each) with `ucr demo`, then runs
#   wrk (2 threads, 32 connections, S seconds, default 10) on the search queries named in the
#   search issue, each for one fixed patient, and prints a Markdown table (req/s, p50, p99).
set -euo pipefail

UCR=${1:?usage: search_bench.sh path/to/ucr [--people N] [--duration S]}
shift
PEOPLE=60000
DURATION=10
while (($#)); do
  case "$1" in
    --people) PEOPLE=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    *) echo "search_bench: unknown option $1" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "search_bench: wrk is required" >&2; exit 1; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ucr-search-bench.XXXXXX")
SERVER_PID=""
cleanup() {
  [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "search_bench: loading $PEOPLE people..." >&2
start=$(date +%s.%N)
"$UCR" demo --data "$WORK/data" --people "$PEOPLE" 2>/dev/null
end=$(date +%s.%N)
RESOURCES=$(sqlite3 "$WORK/data/ucr.db" "SELECT COUNT(*) FROM resource_current" 2>/dev/null || echo "?")
echo "search_bench: $RESOURCES resources in $(python3 -c "print(round($end - $start, 1))") s" >&2

PORT=$((20000 + RANDOM % 20000))
"$UCR" serve --listen "127.0.0.1:$PORT" --data "$WORK/data" --no-access-log > "$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" > /dev/null && break; sleep 0.1; done
BASE="http://127.0.0.1:$PORT/fhir"
PID_X=$(curl -s "$BASE/Patient?_count=1&_sort=-_lastUpdated&_elements=id" | python3 -c 'import sys,json; print(json.load(sys.stdin)["entry"][0]["resource"]["id"])')

run() {
  local name=$1 path=$2
  local out
  out=$(wrk -t2 -c32 -d"${DURATION}s" --latency "$BASE$path" 2>&1)
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<< "$out")
  p50=$(awk '$1 == "50%" {print $2}' <<< "$out")
  p99=$(awk '$1 == "99%" {print $2}' <<< "$out")
  echo "| $name | \`$path\` | $rps | $p50 | $p99 |"
}

echo
echo "ucr search benchmark: $RESOURCES resources ($PEOPLE synthetic people); wrk -t2 -c32 -d${DURATION}s; machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p')"
echo
echo "| query | request | req/s | p50 | p99 |"
echo "|---|---|---:|---:|---:|"
run "observations of a patient by code and date, sorted" "/Observation?subject=Patient/$PID_X&code=http://loinc.org%7C8480-6&date=ge2020-01-01&_sort=-date&_count=50"
run "patients by name prefix and birth date" "/Patient?name=smi&birthdate=ge1950&_count=50"
run "everything for one patient" "/Patient/$PID_X/\$everything"
run "read by id (reference)" "/Patient/$PID_X"
