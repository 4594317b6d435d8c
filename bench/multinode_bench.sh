#!/usr/bin/env bash
# ucr on PostgreSQL with 1 and 2 nodes on one database: read by id, search and create, with wrk.
# Usage: tests/pg/with-postgres.sh bench/multinode_bench.sh path/to/ucr
#   Starts node A, loads 5,000 Patients (family names Family0..Family996 and both genders, as
#   http_bench.sh), runs wrk (2 threads, 32 connections, 8 s) against A alone, then starts node B and
#   runs two wrk processes (1 thread, 16 connections each) against A and B at once; prints the rates.
#   The search is bench/wrk/search.lua: Patient?family=FamilyN&gender=...&_count=10. Both nodes,
#   PostgreSQL and wrk share the machine.
set -euo pipefail
U=$1; DB=$UCR_TEST_POSTGRES; W=$(mktemp -d); B=$(cd "$(dirname "$0")" && pwd)/wrk
start() { "$U" serve --database "$DB" --listen 127.0.0.1:0 --auth off --audit off --no-access-log --data "$W/$1" >"$W/$1.log" 2>&1 & echo $! >"$W/$1.pid";
  for _ in $(seq 1 100); do p=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$W/$1.log" | head -n1); [[ -n "$p" ]] && { echo "$p"; return; }; sleep 0.1; done; cat "$W/$1.log" >&2; exit 1; }
PA=$(start a)
python3 - "$PA" "$W/ids" <<'PY'
import http.client, json, sys
port, out = int(sys.argv[1]), open(sys.argv[2], "w")
c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
for b in range(10):
    e = [{"resource": {"resourceType": "Patient", "name": [{"family": f"Family{n % 997}", "given": [f"Given{n % 101}"]}],
                       "gender": ("male", "female")[n % 2], "birthDate": f"{1930 + n % 90}-{1 + n % 12:02d}-{1 + n % 28:02d}"},
          "request": {"method": "POST", "url": "Patient"}} for n in range(b * 500, b * 500 + 500)]
    c.request("POST", "/fhir", json.dumps({"resourceType": "Bundle", "type": "transaction", "entry": e}), {"Content-Type": "application/fhir+json"})
    r = json.loads(c.getresponse().read())
    out.write("".join(x["response"]["location"].split("/")[1] + "\n" for x in r["entry"]))
PY
export UCR_IDS_FILE="$W/ids"
rps() { sed -n 's/^Requests\/sec:[[:space:]]*\([0-9.]*\).*/\1/p'; }
one_read=$(wrk -t2 -c32 -d8s -s $B/read.lua "http://127.0.0.1:$PA" | rps)
one_search=$(wrk -t2 -c32 -d8s -s $B/search.lua "http://127.0.0.1:$PA" | rps)
one_create=$(wrk -t2 -c32 -d8s -s $B/create.lua "http://127.0.0.1:$PA" | rps)
PB=$(start b)
wrk -t1 -c16 -d8s -s $B/read.lua "http://127.0.0.1:$PA" | rps >"$W/ra" & wrk -t1 -c16 -d8s -s $B/read.lua "http://127.0.0.1:$PB" | rps >"$W/rb"; wait
two_read=$(python3 -c "print($(cat $W/ra) + $(cat $W/rb))")
wrk -t1 -c16 -d8s -s $B/search.lua "http://127.0.0.1:$PA" | rps >"$W/sa" & wrk -t1 -c16 -d8s -s $B/search.lua "http://127.0.0.1:$PB" | rps >"$W/sb"; wait
two_search=$(python3 -c "print($(cat $W/sa) + $(cat $W/sb))")
wrk -t1 -c16 -d8s -s $B/create.lua "http://127.0.0.1:$PA" | rps >"$W/ca" & wrk -t1 -c16 -d8s -s $B/create.lua "http://127.0.0.1:$PB" | rps >"$W/cb"; wait
two_create=$(python3 -c "print($(cat $W/ca) + $(cat $W/cb))")
echo "read by id: 1 node $one_read/s, 2 nodes $two_read/s"
echo "search Patient (family, gender): 1 node $one_search/s, 2 nodes $two_search/s"
echo "create: 1 node $one_create/s, 2 nodes $two_create/s"
kill "$(cat $W/a.pid)" "$(cat $W/b.pid)"; wait 2>/dev/null || true; rm -rf "$W"
