"""Two `ucr serve` nodes on one PostgreSQL database, with concurrent writers on both and a restart
of the database in the middle of the load. Then: every acknowledged version reads back exactly
(from either node), the shared resource's history has every version once with no gap, each
conditional create made exactly one resource, and every failed request was a 503 with an
OperationOutcome (the database restart) or a 412 (an If-Match that lost a race) -- never a 500.
Then, with sign-in on: a node refuses to start without the key-encryption key of the shared signing
keys; an access token issued by node 1 is accepted by node 2 (and the other way round); after
`ucr admin keys rotate`, a token signed with the new key is accepted by both running nodes.

Run through tests/pg/with-postgres.sh (it provides the server and UCR_TEST_POSTGRES*):
  tests/pg/with-postgres.sh python3 tests/system/multinode_postgres.py path/to/ucr [seconds]
"""
import base64
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

UCR = sys.argv[1]
SECONDS = float(sys.argv[2]) if len(sys.argv) > 2 else 6
URL = os.environ["UCR_TEST_POSTGRES"]
PGBIN = os.environ["UCR_TEST_POSTGRES_BIN"]
PGDATA = os.environ["UCR_TEST_POSTGRES_DATA"]
RUNAS = os.environ.get("UCR_TEST_POSTGRES_RUNAS", "")
WRITERS_PER_NODE = 4
CONDITIONAL_KEYS = 5

work = tempfile.mkdtemp(prefix="ucr-multinode.")
problems = []
lock = threading.Lock()
acks = []  # (id, version, family)
shared_acks = []  # versions of Patient/shared acknowledged
conditional = {}  # key -> set of ids answered
statuses = {}


def problem(text):
    with lock:
        problems.append(text)


KEK = "4f" * 32  # the key-encryption key of the shared signing keys (synthetic, test only)
AUTH_ENV = dict(os.environ, UCR_KEY_ENCRYPTION_KEY=KEK)
NO_KEK_ENV = {k: v for k, v in os.environ.items() if k != "UCR_KEY_ENCRYPTION_KEY"}


def start_node(n, auth=False):
    log = open(os.path.join(work, f"node{n}.log"), "w")
    security = ["--auth", "on", "--audit", "on", "--issuer", "http://ucr.test"] if auth else ["--auth", "off"]
    p = subprocess.Popen([UCR, "serve", "--listen", "127.0.0.1:0", "--database", URL, *security,
                          "--data", os.path.join(work, f"node{n}"), "--no-access-log", "--pool-size", "8"],
                         stdout=subprocess.PIPE, stderr=log, text=True, env=AUTH_ENV if auth else NO_KEK_ENV)
    line = p.stdout.readline()
    m = re.match(r"listening on 127\.0\.0\.1:(\d+)", line)
    if not m:
        sys.exit(f"multinode: node {n} did not start: {line!r}; see {log.name}")
    return p, int(m.group(1))


def request(conn, method, path, body=None, headers=None):
    h = {"Content-Type": "application/fhir+json"}
    h.update(headers or {})
    conn.request(method, path, json.dumps(body) if body is not None else None, h)
    r = conn.getresponse()
    data = r.read()
    with lock:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    if r.status >= 500:
        try:
            outcome = json.loads(data)
        except ValueError:
            outcome = {}
        if r.status != 503 or outcome.get("resourceType") != "OperationOutcome":
            problem(f"{method} {path}: HTTP {r.status} {data[:300]!r}")
    return r.status, data


def patient(family, pid=None, identifier=None):
    p = {"resourceType": "Patient", "name": [{"family": family}]}
    if pid:
        p["id"] = pid
    if identifier:
        p["identifier"] = [{"system": "urn:test", "value": identifier}]
    return p


def writer(node, port, w, stop):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    i = 0
    while not stop.is_set():
        i += 1
        try:
            family = f"N{node}W{w}I{i}"
            status, data = request(conn, "POST", "/fhir/Patient", patient(family))
            if status == 201:
                with lock:
                    acks.append((json.loads(data)["id"], "1", family))
            # Optimistic update of the one resource every writer on both nodes changes.
            status, data = request(conn, "GET", "/fhir/Patient/shared")
            if status == 200:
                version = json.loads(data)["meta"]["versionId"]
                fam = f"shared-{family}"
                status, data = request(conn, "PUT", "/fhir/Patient/shared", patient(fam, "shared"),
                                       {"If-Match": f'W/"{version}"'})
                if status in (200, 201):
                    got = json.loads(data)["meta"]["versionId"]
                    if int(got) != int(version) + 1:
                        problem(f"If-Match {version} produced version {got}")
                    with lock:
                        acks.append(("shared", got, fam))
                        shared_acks.append(int(got))
                elif status not in (412, 503):
                    problem(f"PUT shared: HTTP {status} {data[:200]!r}")
            # Conditional create racing the other writers on both nodes.
            key = f"cc-{i % CONDITIONAL_KEYS}"
            status, data = request(conn, "POST", "/fhir/Patient", patient(f"cond-{key}", identifier=key),
                                   {"If-None-Exist": f"identifier=urn:test|{key}"})
            if status in (200, 201):
                body = json.loads(data) if data else {}
                if "id" in body:
                    with lock:
                        conditional.setdefault(key, set()).add(body["id"])
        except (OSError, http.client.HTTPException) as e:
            problem(f"node {node} writer {w}: connection error {e}")
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)


def pg_ctl(*args):
    cmd = [os.path.join(PGBIN, "pg_ctl"), "-D", PGDATA, *args]
    if RUNAS:
        cmd = ["runuser", "-u", RUNAS, "--"] + cmd
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def admin(*args, env=None):
    out = subprocess.run([UCR, "admin", *args, "--database", URL], capture_output=True, text=True,
                         env=env or AUTH_ENV)
    if out.returncode != 0:
        sys.exit(f"multinode: ucr admin {' '.join(args)} failed: {out.stderr}")
    return out.stdout


def token_from(port, client, secret):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": client,
                                   "client_secret": secret, "scope": "system/Patient.rs"})
    conn.request("POST", "/oauth/token", form, {"Content-Type": "application/x-www-form-urlencoded"})
    r = conn.getresponse()
    data = r.read()
    if r.status != 200:
        problem(f"token from node on port {port}: HTTP {r.status} {data[:300]!r}")
        return ""
    return json.loads(data)["access_token"]


def read_with(port, token):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", "/fhir/Patient/shared", None, {"Authorization": f"Bearer {token}"})
    r = conn.getresponse()
    return r.status, r.read()


def check_shared_signing_keys():
    """Two nodes with sign-in on share the signing keys kept (encrypted) in the database."""
    # No key-encryption key: the node refuses to start, saying what to give.
    out = subprocess.run([UCR, "serve", "--listen", "127.0.0.1:0", "--database", URL, "--auth", "on",
                          "--data", os.path.join(work, "nokey"), "--no-access-log"],
                         capture_output=True, text=True, env=NO_KEK_ENV, timeout=60)
    if out.returncode == 0 or "UCR_KEY_ENCRYPTION_KEY" not in out.stderr:
        problem(f"a node without the key-encryption key started or said nothing useful: {out.stderr[-300:]!r}")
    added = admin("client", "add", "mn-system", "--scope", "system/*.rs", "--grant", "client_credentials",
                  "--role", "integration")
    secret = re.search(r"secret: (\S+)", added).group(1)
    nodes = [start_node(3, auth=True), start_node(4, auth=True)]
    try:
        ports = [port for _, port in nodes]
        for signer, verifier in ((0, 1), (1, 0)):
            token = token_from(ports[signer], "mn-system", secret)
            for port in ports:
                status, data = read_with(port, token)
                if status != 200:
                    problem(f"a token issued by node {signer + 3} answered {status} on node "
                            f"{3 + ports.index(port)}: {data[:300]!r}")
        # A new key made elsewhere (another node, or an operator): a token signed with it is taken
        # by both running nodes at once (they read the shared ring again for a kid they lack).
        rotated = admin("keys", "rotate")
        kid = re.search(r"signing key (\S+) made", rotated).group(1)
        admin_env = dict(AUTH_ENV, UCR_PASSWORD="mn-password-123")
        admin("user", "add", "mn-reader", "--role", "integration", env=admin_env)
        token = admin("token", "--user", "mn-reader", "--scope", "user/Patient.rs").strip()
        header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
        if header.get("kid") != kid:
            problem(f"the token after rotation is signed by {header.get('kid')}, not the new key {kid}")
        for port in ports:
            status, data = read_with(port, token)
            if status != 200:
                problem(f"a token signed with the rotated key answered {status} on port {port}: {data[:300]!r}")
        print(f"multinode: tokens issued by either node accepted by both; rotated key {kid} accepted by both")
    finally:
        for p, _ in nodes:
            p.terminate()
            p.wait(timeout=30)


def main():
    out = subprocess.run([UCR, "admin", "migrate", "--database", URL], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"multinode: ucr admin migrate failed: {out.stderr}")
    print(f"multinode: {out.stdout.strip()}")
    nodes = [start_node(1), start_node(2)]
    conn = http.client.HTTPConnection("127.0.0.1", nodes[0][1], timeout=60)
    status, _ = request(conn, "PUT", "/fhir/Patient/shared", patient("shared-start", "shared"))
    if status != 201:
        sys.exit(f"multinode: creating Patient/shared answered {status}")
    with lock:
        shared_acks.append(1)
    stop = threading.Event()
    threads = [threading.Thread(target=writer, args=(n + 1, port, w, stop))
               for n, (_, port) in enumerate(nodes) for w in range(WRITERS_PER_NODE)]
    for t in threads:
        t.start()
    time.sleep(SECONDS / 2)
    before = len(acks)
    # The database goes away and comes back while both nodes are busy.
    pg_ctl("-m", "fast", "-w", "restart")  # with the options it was started with
    print(f"multinode: restarted PostgreSQL after {before} acknowledged writes")
    time.sleep(SECONDS / 2)
    stop.set()
    for t in threads:
        t.join()
    after = len(acks)
    if after <= before:
        problem("no write was acknowledged after the database restart: the nodes did not reconnect")

    # Every acknowledged version, read back from the node that did not necessarily write it.
    check = http.client.HTTPConnection("127.0.0.1", nodes[1][1], timeout=60)
    for pid, version, family in acks:
        status, data = request(check, "GET", f"/fhir/Patient/{pid}/_history/{version}")
        if status != 200:
            problem(f"vread Patient/{pid}/_history/{version}: HTTP {status}")
            continue
        got = json.loads(data)["name"][0]["family"]
        if got != family:
            problem(f"Patient/{pid} version {version} holds {got!r}, acknowledged {family!r}")
    status, data = request(check, "GET", "/fhir/Patient/shared/_history?_count=1000")
    versions = [int(e["resource"]["meta"]["versionId"]) for e in json.loads(data).get("entry", [])]
    if sorted(versions) != list(range(1, len(versions) + 1)):
        problem(f"history of Patient/shared is not 1..{len(versions)} once each: {sorted(versions)[:20]}...")
    if len(set(shared_acks)) != len(shared_acks):
        problem("a version of Patient/shared was acknowledged twice")
    if shared_acks and max(shared_acks) != len(versions):
        problem(f"{max(shared_acks)} versions of Patient/shared acknowledged but history holds {len(versions)}")
    for key in sorted(conditional):
        status, data = request(check, "GET", f"/fhir/Patient?identifier=urn:test|{key}&_total=accurate")
        total = json.loads(data).get("total")
        if total != 1 or len(conditional[key]) != 1:
            problem(f"conditional create {key}: {total} resources, ids answered {sorted(conditional[key])}")
    for p, _ in nodes:
        p.terminate()
        p.wait(timeout=30)
    check_shared_signing_keys()
    print(f"multinode: {len(acks)} acknowledged writes ({len(shared_acks)} versions of the shared resource, "
          f"{len(conditional)} conditional keys); answers by status: {dict(sorted(statuses.items()))}")
    if problems:
        print(f"multinode: FAIL: {len(problems)} problems", file=sys.stderr)
        for p in problems[:30]:
            print("  " + p, file=sys.stderr)
        for n in (1, 2, 3, 4):
            if not os.path.exists(os.path.join(work, f"node{n}.log")):
                continue
            print(f"--- node{n}.log (last 15 lines)", file=sys.stderr)
            with open(os.path.join(work, f"node{n}.log")) as f:
                sys.stderr.writelines(f.readlines()[-15:])
        sys.exit(1)
    print("multinode: passed")


if __name__ == "__main__":
    main()
