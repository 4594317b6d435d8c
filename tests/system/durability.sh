#!/usr/bin/env bash
# Durability under a hard crash: start `ucr serve`, run concurrent writers (creates, If-Match updates and small
# transactions) recording every acknowledged (2xx) Patient id+version, `kill -9` the server mid-load, then check
# that `ucr check` passes and, after a restart on the same data directory, that every acknowledged version reads
# back (vread) with the content that was written, and that the audit trail (written in the same transactions)
# still verifies. The writers sign in as an integration system with a token from `ucr admin token`.
#
# Usage: tests/system/durability.sh path/to/ucr [writers=8] [seconds=3]
# Correctness does not depend on timing: the kill happens after `seconds` AND at least MIN_ACKS acknowledgements.
set -euo pipefail

UCR=${1:?usage: durability.sh path/to/ucr [writers] [seconds]}
WRITERS=${2:-8}
SECONDS_UNDER_LOAD=${3:-3}
MIN_ACKS=${MIN_ACKS:-50}

command -v python3 >/dev/null || { echo "durability: python3 is required" >&2; exit 1; }
[[ -x "$UCR" ]] || { echo "durability: $UCR is not executable" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ucr-durability.XXXXXX")
DATA="$WORK/data"
SERVER_PID=""
WRITER_PID=""
cleanup() {
  [[ -n "$WRITER_PID" ]] && kill "$WRITER_PID" 2>/dev/null || true
  [[ -n "$SERVER_PID" ]] && kill -9 "$SERVER_PID" 2>/dev/null || true
  if [[ "${KEEP_WORK:-0}" == 1 ]]; then echo "durability: work files kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

fail() {
  echo "durability: FAIL: $*" >&2
  for f in "$WORK"/server*.log; do
    [[ -f "$f" ]] && { echo "--- $f (last 20 lines)" >&2; tail -n 20 "$f" >&2; }
  done
  exit 1
}

# Starts the server on a free port; sets SERVER_PID and PORT.
start_server() {
  local log="$WORK/server$1.log"
  "$UCR" serve --listen 127.0.0.1:0 --data "$DATA" --issuer http://ucr.test --no-access-log >"$log" 2>&1 &
  SERVER_PID=$!
  PORT=""
  for _ in $(seq 1 300); do
    PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$log" | head -n1)
    [[ -n "$PORT" ]] && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || fail "the server exited at start"
    sleep 0.1
  done
  fail "the server did not report its port within 30 s"
}

cat >"$WORK/writer.py" <<'PY'
"""Concurrent writers; appends 'id version family' for every acknowledged Patient version to the acks file."""
import http.client, json, os, sys, threading, uuid

port, acks_path, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
lock = threading.Lock()
acks = open(acks_path, "a", buffering=1)


def ack(pid, version, family):
    with lock:
        acks.write(f"{pid} {version} {family}\n")


def patient(family, pid=None):
    p = {"resourceType": "Patient", "name": [{"family": family, "given": ["Dura"]}], "gender": "other"}
    if pid:
        p["id"] = pid
    return p


def writer(w):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    hdr = {"Content-Type": "application/fhir+json", "Authorization": "Bearer " + os.environ["UCR_TOKEN"]}
    i = 0
    try:
        while True:
            i += 1
            family = f"W{w}N{i}"
            conn.request("POST", "/fhir/Patient", json.dumps(patient(family)), hdr)
            r = conn.getresponse()
            body = r.read()
            if r.status != 201:
                print(f"writer {w}: create answered {r.status}: {body[:300]!r}", file=sys.stderr)
                continue
            pid = json.loads(body)["id"]
            ack(pid, 1, family)
            for v in (2, 3):
                family_v = f"{family}V{v}"
                conn.request("PUT", f"/fhir/Patient/{pid}", json.dumps(patient(family_v, pid)),
                             dict(hdr, **{"If-Match": f'W/"{v - 1}"'}))
                r = conn.getresponse()
                body = r.read()
                if r.status != 200:
                    print(f"writer {w}: update answered {r.status}: {body[:300]!r}", file=sys.stderr)
                    break
                got = json.loads(body)["meta"]["versionId"]
                if got != str(v):
                    print(f"writer {w}: update made version {got}, expected {v}", file=sys.stderr)
                    break
                ack(pid, v, family_v)
            if i % 5 == 0:  # a small transaction of three new Patients
                entries, families = [], []
                for k in range(3):
                    fam = f"{family}T{k}"
                    families.append(fam)
                    entries.append({"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": patient(fam),
                                    "request": {"method": "POST", "url": "Patient"}})
                bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
                conn.request("POST", "/fhir", json.dumps(bundle), hdr)
                r = conn.getresponse()
                body = r.read()
                if r.status != 200:
                    print(f"writer {w}: transaction answered {r.status}: {body[:300]!r}", file=sys.stderr)
                    continue
                for fam, e in zip(families, json.loads(body)["entry"]):
                    parts = e["response"]["location"].split("/")  # Patient/{id}/_history/{v}
                    ack(parts[parts.index("Patient") + 1], int(parts[parts.index("_history") + 1]), fam)
    except (OSError, http.client.HTTPException):
        return  # the server was killed


threads = [threading.Thread(target=writer, args=(w,)) for w in range(n)]
for t in threads:
    t.start()
for t in threads:
    t.join()
PY

cat >"$WORK/verify.py" <<'PY'
"""Checks every acknowledged version reads back exactly; prints specifics of every failure."""
import http.client, json, os, sys

port, acks_path = int(sys.argv[1]), sys.argv[2]
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
auth = {"Authorization": "Bearer " + os.environ["UCR_TOKEN"]}
bad, latest = [], {}
lines = [l.split() for l in open(acks_path) if l.strip()]
for pid, version, family in lines:
    latest[pid] = max(latest.get(pid, 0), int(version))
    conn.request("GET", f"/fhir/Patient/{pid}/_history/{version}", headers=auth)
    r = conn.getresponse()
    body = r.read()
    if r.status != 200:
        bad.append(f"vread Patient/{pid}/_history/{version}: HTTP {r.status} {body[:200]!r}")
        continue
    res = json.loads(body)
    got_family = res.get("name", [{}])[0].get("family")
    got_version = res.get("meta", {}).get("versionId")
    if got_family != family or got_version != version:
        bad.append(f"vread Patient/{pid}/_history/{version}: family={got_family!r} versionId={got_version!r}, "
                   f"acknowledged family={family!r}")
for pid, v in latest.items():
    conn.request("GET", f"/fhir/Patient/{pid}", headers=auth)
    r = conn.getresponse()
    body = r.read()
    cur = json.loads(body).get("meta", {}).get("versionId") if r.status == 200 else None
    if cur is None or int(cur) < v:
        bad.append(f"read Patient/{pid}: HTTP {r.status} versionId={cur!r}, but version {v} was acknowledged")
print(f"checked {len(lines)} acknowledged versions of {len(latest)} patients; {len(bad)} problems")
for b in bad[:50]:
    print("  " + b)
sys.exit(1 if bad else 0)
PY

ACKS="$WORK/acks.txt"
: >"$ACKS"
printf 'durability-password\n' | "$UCR" admin user add writer --role integration --password-stdin --data "$DATA" >/dev/null \
  || fail "ucr admin user add failed"
start_server 1
UCR_TOKEN=$("$UCR" admin token --user writer --minutes 60 --data "$DATA") || fail "ucr admin token failed"
export UCR_TOKEN
echo "durability: server 1 on port $PORT; $WRITERS writers for ${SECONDS_UNDER_LOAD}s"
python3 "$WORK/writer.py" "$PORT" "$ACKS" "$WRITERS" 2>"$WORK/writers.err" &
WRITER_PID=$!
sleep "$SECONDS_UNDER_LOAD"
for _ in $(seq 1 600); do  # on a slow machine, keep going until there is something to check
  (($(wc -l <"$ACKS") >= MIN_ACKS)) && break
  kill -0 "$WRITER_PID" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$SERVER_PID" 2>/dev/null || fail "the server died under load before the kill"
kill -9 "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""
wait "$WRITER_PID" 2>/dev/null || true
WRITER_PID=""
ACKED=$(wc -l <"$ACKS")
echo "durability: killed the server with SIGKILL after $ACKED acknowledged versions"
if [[ -s "$WORK/writers.err" ]]; then
  echo "durability: writer errors before the kill:" >&2
  cat "$WORK/writers.err" >&2
  fail "writers saw unexpected (non-2xx) answers under load"
fi
((ACKED >= MIN_ACKS)) || fail "only $ACKED versions were acknowledged (need $MIN_ACKS to be meaningful)"

CHECK=$("$UCR" check --data "$DATA" 2>&1) || fail "ucr check after the crash failed: $CHECK"
[[ "$CHECK" == "ok" ]] || fail "ucr check after the crash printed: $CHECK"
echo "durability: ucr check after the crash: ok"

start_server 2
echo "durability: server 2 on port $PORT; verifying"
python3 "$WORK/verify.py" "$PORT" "$ACKS" || fail "acknowledged writes were lost or changed"
AUDIT=$("$UCR" audit verify --quiet --data "$DATA" 2>&1) || fail "the audit trail does not verify after the crash: $AUDIT"
echo "durability: $AUDIT"
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || fail "the server did not stop cleanly on SIGTERM (exit $?)"
SERVER_PID=""

CHECK=$("$UCR" check --data "$DATA" 2>&1) || fail "ucr check after the restart failed: $CHECK"
[[ "$CHECK" == "ok" ]] || fail "ucr check after the restart printed: $CHECK"
echo "durability: PASS ($ACKED acknowledged versions survived kill -9; integrity ok)"
