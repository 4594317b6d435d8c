#!/usr/bin/env bash
# HTTP benchmark of `ucr serve` with wrk. Builds nothing.
#
# Usage: bench/http_bench.sh path/to/ucr [--patients N] [--duration S] [--connections C] [--threads T]
#                            [--server-threads N] [--rss] [--secure]
#   Loads N Patients (default 100000) with 500-entry transaction Bundles, then runs wrk for S seconds
#   (default 10) per scenario: GET /healthz (baseline), read by random id, create (a Patient, which is
#   matched against the stored ones, and an Observation, which is not), update with If-Match,
#   and 20-resource transaction Bundles. Prints a Markdown table.
#   --rss also loads Patients up to 1,000,000 stored resources and reports the server's VmRSS (slow).
#   --secure runs the server as deployed: every request carries an access token (an integration system's,
#   from `ucr admin token`) that is verified and authorised, and every access is audited. Without it the
#   server runs with --auth off --audit off, so the two runs give the cost of security.
# Needs wrk and python3 (stdlib only).
set -euo pipefail

UCR=${1:?usage: http_bench.sh path/to/ucr [--patients N] [--duration S] [--rss]}
shift
PATIENTS=100000
DURATION=10
CONNECTIONS=32
THREADS=2
SERVER_THREADS=0
RSS=0
SECURE=0
while (($#)); do
  case "$1" in
    --patients) PATIENTS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --connections) CONNECTIONS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --server-threads) SERVER_THREADS=$2; shift 2 ;;
    --rss) RSS=1; shift ;;
    --secure) SECURE=1; shift ;;
    *) echo "http_bench: unknown option $1" >&2; exit 2 ;;
  esac
done

command -v wrk >/dev/null || { echo "http_bench: wrk is required" >&2; exit 1; }
command -v python3 >/dev/null || { echo "http_bench: python3 is required" >&2; exit 1; }
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ucr-http-bench.XXXXXX")
SERVER_PID=""
cleanup() {
  [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

SECURITY=(--auth off --audit off)
if ((SECURE)); then
  SECURITY=(--auth on --audit on --issuer http://bench.test)
  # On PostgreSQL (UCR_DATABASE) the signing keys live in the database, encrypted under this key.
  [[ -n "${UCR_DATABASE:-}" ]] &&
    export UCR_KEY_ENCRYPTION_KEY=${UCR_KEY_ENCRYPTION_KEY:-$(python3 -c 'import secrets; print(secrets.token_hex(32))')}
  printf 'bench-password\n' | "$UCR" admin user add bench --role integration --password-stdin --data "$WORK/data" >/dev/null
fi
"$UCR" serve --listen 127.0.0.1:0 --data "$WORK/data" --no-access-log --threads "$SERVER_THREADS" "${SECURITY[@]}" \
  >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
PORT=""
for _ in $(seq 1 300); do
  PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$WORK/server.log" | head -n1)
  [[ -n "$PORT" ]] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
  sleep 0.1
done
[[ -n "$PORT" ]] || { echo "http_bench: the server did not start" >&2; exit 1; }
URL="http://127.0.0.1:$PORT"
AUTH_HEADER=()
export UCR_TOKEN=""
if ((SECURE)); then
  UCR_TOKEN=$("$UCR" admin token --user bench --minutes 600 --data "$WORK/data")
  AUTH_HEADER=(-H "Authorization: Bearer $UCR_TOKEN")
fi

cat >"$WORK/load.py" <<'PY'
"""Loads Patients with transaction Bundles over a few connections; appends their ids to a file."""
import http.client, json, os, sys, threading, time

port, total, ids_path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
per_bundle, conns = 500, 2
lock = threading.Lock()
state = {"next": 0}
out = open(ids_path, "a")


def bundle(start, n):
    entries = []
    for i in range(start, start + n):
        entries.append({"fullUrl": f"urn:uuid:00000000-0000-4000-8000-{i:012d}",
                        "resource": {"resourceType": "Patient",
                                     "identifier": [{"system": "urn:bench", "value": str(i)}],
                                     "name": [{"family": f"Family{i % 997}", "given": [f"Given{i % 101}"]}],
                                     "gender": ("male", "female")[i % 2],
                                     "birthDate": f"{1930 + i % 90}-{1 + i % 12:02d}-{1 + i % 28:02d}"},
                        "request": {"method": "POST", "url": "Patient"}})
    return json.dumps({"resourceType": "Bundle", "type": "transaction", "entry": entries})


def worker():
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    while True:
        with lock:
            start = state["next"]
            if start >= total:
                return
            n = min(per_bundle, total - start)
            state["next"] += n
        hdr = {"Content-Type": "application/fhir+json"}
        if os.environ.get("UCR_TOKEN"):
            hdr["Authorization"] = "Bearer " + os.environ["UCR_TOKEN"]
        c.request("POST", "/fhir", bundle(start, n), hdr)
        r = c.getresponse()
        body = r.read()
        if r.status != 200:
            sys.exit(f"load: transaction answered {r.status}: {body[:300]!r}")
        ids = [e["response"]["location"].split("/")[1] for e in json.loads(body)["entry"]]
        with lock:
            out.write("".join(i + "\n" for i in ids))


t0 = time.time()
threads = [threading.Thread(target=worker) for _ in range(conns)]
for t in threads:
    t.start()
for t in threads:
    t.join()
out.close()
print(f"{total / (time.time() - t0):.0f}")
PY

rss_kib() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$SERVER_PID/status"; }

IDS="$WORK/ids.txt"
: >"$IDS"
echo "http_bench: loading $PATIENTS Patients in 500-entry transactions..." >&2
LOAD_RATE=$(python3 "$WORK/load.py" "$PORT" "$PATIENTS" "$IDS")
LOADED=$(wc -l <"$IDS")
((LOADED == PATIENTS)) || { echo "http_bench: loaded $LOADED of $PATIENTS" >&2; exit 1; }
echo "http_bench: loaded $LOADED Patients at $LOAD_RATE resources/s; server VmRSS $(($(rss_kib) / 1024)) MiB" >&2

export UCR_IDS_FILE="$IDS" UCR_WRK_THREADS="$THREADS"
declare -a ROWS=()
BASE_RPS=""

CREATED=0  # resources created by the wrk rows (approximate: counts every answered request)

# run NAME SCRIPT|- PATH RESOURCES_PER_REQUEST NEW_RESOURCES_PER_REQUEST
run() {
  local name=$1 script=$2 path=$3 per=$4 creates=$5 out
  local args=(-t "$THREADS" -c "$CONNECTIONS" -d "${DURATION}s" --latency "${AUTH_HEADER[@]}")
  [[ "$script" != - ]] && args+=(-s "$HERE/wrk/$script")
  echo "http_bench: $name..." >&2
  out=$(wrk "${args[@]}" "$URL$path")
  echo "$out" >"$WORK/wrk-${name//[^A-Za-z0-9]/_}.txt"
  local rps p99 errors
  rps=$(sed -n 's/^Requests\/sec:[[:space:]]*\([0-9.]*\).*/\1/p' <<<"$out")
  p99=$(sed -n 's/^[[:space:]]*99%[[:space:]]*\([0-9.]*[a-z]*\).*/\1/p' <<<"$out")
  errors=$(sed -n 's/^[[:space:]]*Non-2xx or 3xx responses:[[:space:]]*\([0-9]*\).*/\1/p' <<<"$out")
  local sock
  sock=$(sed -n 's/^[[:space:]]*Socket errors: \(.*\)/\1/p' <<<"$out")
  [[ -z "$BASE_RPS" ]] && BASE_RPS=$rps
  local n
  n=$(sed -n 's/^[[:space:]]*\([0-9]*\) requests in .*/\1/p' <<<"$out")
  CREATED=$((CREATED + ${n:-0} * creates))
  local frac res
  frac=$(python3 -c "print(f'{$rps / $BASE_RPS:.2f}')")
  res=$(python3 -c "print(f'{$rps * $per:.0f}')")
  ROWS+=("| $name | $(printf %.0f "$rps") | $res | $p99 | $frac | ${errors:-0}${sock:+; socket: $sock} |")
}

run "GET /healthz (baseline)" - /healthz 0 0
run "read Patient by id" read.lua /fhir/Patient/x 1 0
run "search Patient (family, gender)" search.lua /fhir/Patient 1 0
run "create Patient (POST)" create.lua /fhir/Patient 1 1
run "create Observation (POST)" create_observation.lua /fhir/Observation 1 1
run "update Patient (PUT, If-Match)" update.lua /fhir/Patient/x 1 0
run "transaction Bundle (20 resources)" transaction.lua /fhir 20 20

echo
echo "ucr HTTP benchmark ($( ((SECURE)) && echo "access tokens verified and authorised, every access audited" || echo "--auth off --audit off")): wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s per row; $LOADED Patients preloaded ($LOAD_RATE resources/s by 500-entry transactions)"
echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n1); server and wrk share the machine"
echo
echo "| scenario | req/s | resources/s | p99 latency | fraction of baseline | non-2xx |"
echo "|---|---:|---:|---:|---:|---|"
for r in "${ROWS[@]}"; do echo "$r"; done

if ((RSS)); then
  STORED=$((LOADED + CREATED))
  TARGET=1000000
  MORE=$((TARGET > STORED ? TARGET - STORED : 0))
  echo >&2
  echo "http_bench: --rss: about $STORED resources stored; loading $MORE more Patients..." >&2
  : >"$WORK/more-ids.txt"
  ((MORE > 0)) && python3 "$WORK/load.py" "$PORT" "$MORE" "$WORK/more-ids.txt" >/dev/null
  echo
  echo "Resident memory after loading up to $TARGET resources (VmRSS of the server): $(($(rss_kib) / 1024)) MiB"
  echo "(database size on disk: $(du -sh "$WORK/data" | cut -f1))"
fi
