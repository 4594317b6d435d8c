#!/usr/bin/env bash
# Search benchmark of `ucr serve` with wrk. Builds nothing.
#
# Usage: bench/search_bench.sh path/to/ucr [--people N] [--data DIR] [--duration S]
#   Loads N synthetic people (default 20000; about 54 resources each, so about 1.1 million
#   resources) with `ucr demo`, or uses the database already in DIR (--data, left in place), gives
#   one patient 2,000 more Observations for the $everything case, then runs wrk (2 threads, 32
#   connections, S seconds, default 10) on the search queries named in the search issue and prints
#   a Markdown table (req/s, p50, p99).
set -euo pipefail

UCR=${1:?usage: search_bench.sh path/to/ucr [--people N] [--duration S]}
shift
PEOPLE=20000
DURATION=10
DATA=""
while (($#)); do
  case "$1" in
    --people) PEOPLE=$2; shift 2 ;;
    --data) DATA=$2; shift 2 ;;
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

if [[ -z "$DATA" ]]; then
  DATA="$WORK/data"
  echo "search_bench: loading $PEOPLE people..." >&2
  start=$(date +%s.%N)
  "$UCR" demo --data "$DATA" --patients "$PEOPLE" 2>/dev/null
  end=$(date +%s.%N)
  echo "search_bench: loaded in $(python3 -c "print(round($end - $start, 1))") s" >&2
fi
RESOURCES=$(sqlite3 "$DATA/ucr.db" "SELECT COUNT(*) FROM resource_current" 2>/dev/null || echo "?")
echo "search_bench: $RESOURCES resources" >&2

PORT=$((20000 + RANDOM % 20000))
"$UCR" serve --listen "127.0.0.1:$PORT" --data "$DATA" --no-access-log --auth off --audit off > "$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" > /dev/null && break; sleep 0.1; done
BASE="http://127.0.0.1:$PORT/fhir"
# Patient H: the last made, given about 2,000 resources. Patient X: an ordinary demo patient with
# heart-rate readings: of the subjects of the first heart-rate Observations, the one with the fewest
# Observations (so never H, nor a patient an earlier run of this script gave 2,000 more).
PID_H=$(curl -s "$BASE/Patient?_count=1&_sort=-_id&_elements=id" | python3 -c 'import sys,json; print(json.load(sys.stdin)["entry"][0]["resource"]["id"])')
PID_X=$(python3 - "$BASE" "$PID_H" <<'PY'
import json, sys, urllib.request
base, h = sys.argv[1], sys.argv[2]
get = lambda q: json.load(urllib.request.urlopen(base + q))
subjects = []
for e in get("/Observation?code=http://loinc.org%7C8867-4&_count=20&_elements=subject").get("entry", []):
    s = e["resource"]["subject"]["reference"].split("/")[1]
    if s != h and s not in subjects:
        subjects.append(s)
print(min(subjects, key=lambda s: get(f"/Patient/{s}/Observation?_summary=count")["total"]))
PY
)
HAVE=$(curl -s "$BASE/Patient/$PID_H/Observation?_summary=count" | python3 -c 'import sys,json; print(json.load(sys.stdin)["total"])')
if ((HAVE < 1900)); then
  python3 - "$BASE" "$PID_H" <<'PY'
import http.client, json, sys, urllib.parse
base, pid = sys.argv[1], sys.argv[2]
u = urllib.parse.urlparse(base)
c = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
for b in range(4):
    entries = [{"resource": {"resourceType": "Observation", "status": "final",
                             "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
                             "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
                             "subject": {"reference": "Patient/" + pid},
                             "effectiveDateTime": f"20{10 + (i % 15):02d}-{1 + i % 12:02d}-{1 + i % 28:02d}T10:00:00Z",
                             "valueQuantity": {"value": 60 + i % 40, "unit": "beats/minute", "system": "http://unitsofmeasure.org", "code": "/min"}},
                "request": {"method": "POST", "url": "Observation"}} for i in range(b * 500, b * 500 + 500)]
    c.request("POST", u.path, json.dumps({"resourceType": "Bundle", "type": "transaction", "entry": entries}),
              {"Content-Type": "application/fhir+json", "Prefer": "return=minimal"})
    r = c.getresponse(); r.read()
    assert r.status == 200, r.status
PY
fi
EVERY=$(curl -s "$BASE/Patient/$PID_H/\$everything?_count=5000" | python3 -c 'import sys,json; print(len(json.load(sys.stdin).get("entry",[])))' 2>/dev/null || echo "?")
echo "search_bench: patient X = $PID_X; patient H = $PID_H with $EVERY resources in its compartment" >&2

# One row: latency of one client alone (wrk -t1 -c1: the time a request takes), then throughput
# and latency under 32 concurrent clients (where latency includes queueing on two cores).
run() {
  local name=$1 path=$2
  local one many
  one=$(wrk -t1 -c1 -d"${DURATION}s" --latency "$BASE$path" 2>&1)
  many=$(wrk -t2 -c32 -d"${DURATION}s" --latency "$BASE$path" 2>&1)
  local p50 p99 rps p50m p99m
  p50=$(awk '$1 == "50%" {print $2}' <<< "$one")
  p99=$(awk '$1 == "99%" {print $2}' <<< "$one")
  rps=$(awk '/Requests\/sec/ {print $2}' <<< "$many")
  p50m=$(awk '$1 == "50%" {print $2}' <<< "$many")
  p99m=$(awk '$1 == "99%" {print $2}' <<< "$many")
  echo "| $name | $p50 | $p99 | $rps | $p50m | $p99m |"
  QUERIES+=("- $name: \`$path\`")
}
QUERIES=()

echo
echo "ucr search benchmark: $RESOURCES resources ($PEOPLE synthetic people); wrk -t2 -c32 -d${DURATION}s; machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p')"
echo
echo "| query | 1 client p50 | 1 client p99 | 32 clients req/s | 32 clients p50 | 32 clients p99 |"
echo "|---|---:|---:|---:|---:|---:|"
run "observations of a patient by code and date, sorted" "/Observation?subject=Patient/$PID_X&code=http://loinc.org%7C8867-4&date=ge2020-01-01&_sort=-date&_count=50"
run "patients by name prefix and birth date" "/Patient?name=smi&birthdate=ge1950&_count=50"
run "everything for a patient with ~2,000 resources" "/Patient/$PID_H/\$everything?_count=5000"
run "read by id (reference)" "/Patient/$PID_X"
echo
printf '%s\n' "${QUERIES[@]}"
