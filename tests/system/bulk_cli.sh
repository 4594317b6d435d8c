#!/usr/bin/env bash
# `ucr import` and `ucr export` end to end: Synthea-shaped Bundles load (exit 0), a second run
# skips them, a bad NDJSON line is reported with file:line (exit 1) without stopping the rest, and
# an export imported into an empty database gives the same number of resources, also gzip-compressed,
# and an export --since lists a deletion that importing it applies.
set -euo pipefail
UCR=${1:?usage: bulk_cli.sh path/to/ucr}
DATA_DIR=$(cd "$(dirname "$0")/../data/bulk" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ucr-bulk-cli.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
fail() { echo "bulk_cli: $*" >&2; exit 1; }

out=$("$UCR" import "$DATA_DIR/synthea" --data "$WORK/a" 2>/dev/null) || fail "Synthea import failed: $out"
grep -q "3 files read, 0 skipped (done before); 7 created, 0 updated, 0 rejected" <<<"$out" || fail "unexpected summary: $out"
out=$("$UCR" import "$DATA_DIR/synthea" --data "$WORK/a" 2>/dev/null) || fail "second import failed: $out"
grep -q "0 files read, 3 skipped" <<<"$out" || fail "second run did not skip: $out"

printf '%s\n' '{"resourceType":"Patient","id":"x1","name":[{"family":"One"}]}' '{"resourceType":"Patient","id":"x2",' \
  '{"resourceType":"Patient","id":"x3","name":[{"family":"Three"}]}' > "$WORK/bad.ndjson"
set +e
out=$("$UCR" import "$WORK/bad.ndjson" --data "$WORK/a" 2>/dev/null)
rc=$?
set -e
[[ $rc -eq 1 ]] || fail "a rejected line must give exit 1, got $rc"
grep -q "2 created, 0 updated, 1 rejected" <<<"$out" || fail "unexpected summary: $out"
grep -q "rejected: $WORK/bad.ndjson:2: not valid JSON" <<<"$out" || fail "the bad line is not reported: $out"

# The writer's cache is the operator's choice within bounds; out of bounds is refused before anything.
set +e
err=$("$UCR" import "$WORK/bad.ndjson" --data "$WORK/z" --cache-mib 8 2>&1 >/dev/null)
rc=$?
set -e
[[ $rc -ne 0 ]] || fail "--cache-mib 8 must be refused"
grep -q "cache-mib" <<<"$err" || fail "the refusal does not name --cache-mib: $err"
[[ ! -e "$WORK/z/ucr.db" ]] || fail "a refused command created a database"
printf '%s\n' '{"resourceType":"Patient","id":"c1","name":[{"family":"Cache"}]}' > "$WORK/cache.ndjson"
out=$("$UCR" import "$WORK/cache.ndjson" --data "$WORK/z" --cache-mib 256 2>/dev/null) || fail "import with --cache-mib 256 failed: $out"
grep -q "1 created" <<<"$out" || fail "unexpected summary: $out"

out=$("$UCR" export --data "$WORK/a" --to "$WORK/export" 2>/dev/null) || fail "export failed: $out"
grep -q "^export: 9 resources in" <<<"$out" || fail "unexpected export summary: $out"
[[ -f "$WORK/export/manifest.json" ]] || fail "no manifest.json"
out=$("$UCR" import "$WORK/export" --data "$WORK/b" 2>/dev/null) || fail "import of the export failed: $out"
grep -q "9 created, 0 updated, 0 rejected" <<<"$out" || fail "unexpected summary: $out"
# gzip input: the export's NDJSON and a Synthea Bundle, compressed.
mkdir -p "$WORK/gz"
for f in "$WORK"/export/*.ndjson; do gzip -c "$f" > "$WORK/gz/$(basename "$f").gz"; done
out=$("$UCR" import "$WORK/gz" --data "$WORK/c" 2>/dev/null) || fail "import of gzip NDJSON failed: $out"
grep -q "9 created, 0 updated, 0 rejected" <<<"$out" || fail "unexpected gzip summary: $out"
mkdir -p "$WORK/gz-synthea"
for f in "$DATA_DIR"/synthea/*.json; do gzip -c "$f" > "$WORK/gz-synthea/$(basename "$f").gz"; done
out=$("$UCR" import "$WORK/gz-synthea" --data "$WORK/d" 2>/dev/null) || fail "import of gzip Bundles failed: $out"
grep -q "3 files read, 0 skipped (done before); 7 created, 0 updated, 0 rejected" <<<"$out" ||
  fail "unexpected gzip Bundle summary: $out"
# An incremental export carries deletions (the manifest's deleted), and importing it applies them.
since=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
sleep 0.01
printf '%s\n' '{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"DELETE","url":"Patient/x1"}}]}' \
  > "$WORK/delete.ndjson"
out=$("$UCR" import "$WORK/delete.ndjson" --data "$WORK/a" 2>/dev/null) || fail "import of a DELETE Bundle failed: $out"
grep -q "import: 1 resources deleted" <<<"$out" || fail "the DELETE Bundle was not applied: $out"
out=$("$UCR" export --data "$WORK/a" --to "$WORK/increment" --since "$since" 2>/dev/null) || fail "export --since failed: $out"
python3 - "$WORK/increment/manifest.json" <<'PY' || fail "the manifest does not list the deletion"
import json, sys
m = json.load(open(sys.argv[1]))
assert [(d["type"], d["count"]) for d in m["deleted"]] == [("Bundle", 1)], m
PY
out=$("$UCR" import "$WORK/increment" --data "$WORK/b" 2>/dev/null) || fail "import of the increment failed: $out"
grep -q "import: 1 resources deleted" <<<"$out" || fail "the increment's deletion was not applied: $out"
set +e
"$UCR" import "$WORK/missing" --data "$WORK/b" >/dev/null 2>&1
rc=$?
set -e
[[ $rc -ne 0 ]] || fail "a missing path must fail"
echo "bulk_cli: ok"
