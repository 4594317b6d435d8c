#!/usr/bin/env bash
# Bulk export and import benchmark of the `ucr` command. Builds nothing.
#
# Usage: bench/bulk_bench.sh path/to/ucr [--people N] [--bundle-people M] [--data DIR]
#   1. Loads N synthetic people (default 20000; about 54 resources each, so about 1.1 million
#      resources) with `ucr demo`, or uses the database already in DIR (--data, left in place).
#   2. `ucr export` of everything: resources/s and MB/s; then again with `--elements id,meta`
#      (every resource parsed, subset and tagged SUBSETTED) for the cost of `_elements`.
#   3. `ucr import` of that export (NDJSON) into an empty database: resources/s.
#   4. Rewrites M of those people (default 2000) as Synthea-shaped Bundles (one transaction per
#      person with urn:uuid fullUrls and POSTs, plus a batch of the shared organisations and
#      practitioners) and times `ucr import` of them into another empty database: resources/s.
#   Prints a Markdown table. Every figure comes from the commands' own summaries.
set -euo pipefail

UCR=${1:?usage: bulk_bench.sh path/to/ucr [--people N] [--bundle-people M] [--data DIR]}
shift
PEOPLE=20000
BUNDLE_PEOPLE=2000
DATA=""
while (($#)); do
  case "$1" in
    --people) PEOPLE=$2; shift 2 ;;
    --bundle-people) BUNDLE_PEOPLE=$2; shift 2 ;;
    --data) DATA=$2; shift 2 ;;
    *) echo "bulk_bench: unknown option $1" >&2; exit 2 ;;
  esac
done
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ucr-bulk-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

if [[ -z "$DATA" ]]; then
  DATA="$WORK/data"
  echo "bulk_bench: loading $PEOPLE people with ucr demo..." >&2
  "$UCR" demo --data "$DATA" --patients "$PEOPLE" 2>&1 | tail -1 >&2
fi

echo "bulk_bench: exporting..." >&2
export_line=$("$UCR" export --data "$DATA" --to "$WORK/export" 2>/dev/null)
echo "$export_line" >&2

echo "bulk_bench: exporting with --elements id,meta..." >&2
elements_line=$("$UCR" export --data "$DATA" --to "$WORK/export-elements" --elements id,meta 2>/dev/null)
echo "$elements_line" >&2
rm -rf "$WORK/export-elements"

echo "bulk_bench: importing the NDJSON export into an empty database..." >&2
ndjson_line=$("$UCR" import "$WORK/export" --data "$WORK/ndjson-db" --no-audit 2>/dev/null | head -1)
echo "$ndjson_line" >&2

echo "bulk_bench: writing $BUNDLE_PEOPLE people as Synthea-shaped Bundles..." >&2
python3 - "$WORK/export" "$WORK/bundles" "$BUNDLE_PEOPLE" <<'PY'
import json, os, re, sys
src, out, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.makedirs(out, exist_ok=True)
ref = re.compile(r'"reference":"Patient/([^"/]+)"')
people, shared, chosen = {}, [], []
for name in sorted(os.listdir(src)):
    if not name.endswith('.ndjson'):
        continue
    for line in open(os.path.join(src, name)):
        r = json.loads(line)
        r.pop('meta', None)
        if r['resourceType'] == 'Patient':
            pid = r['id']
        else:
            m = ref.search(line)
            pid = m.group(1) if m else None
        if pid is None:
            shared.append(r)
        else:
            people.setdefault(pid, []).append(r)
def entry(r, method):
    url = r['resourceType'] if method == 'POST' else r['resourceType'] + '/' + r['id']
    return {'fullUrl': 'urn:uuid:' + r['id'], 'resource': r, 'request': {'method': method, 'url': url}}
with open(os.path.join(out, 'hospitalInformation0.json'), 'w') as f:
    json.dump({'resourceType': 'Bundle', 'type': 'batch', 'entry': [entry(r, 'PUT') for r in shared]}, f)
count = 0
for pid in sorted(people)[:limit]:
    resources = people[pid]
    if not any(r['resourceType'] == 'Patient' for r in resources):
        continue
    ids = {r['resourceType'] + '/' + r['id']: 'urn:uuid:' + r['id'] for r in resources}
    text = json.dumps({'resourceType': 'Bundle', 'type': 'transaction',
                       'entry': [entry(r, 'POST') for r in resources]}, separators=(',', ':'))
    text = re.sub(r'"reference":"([A-Za-z]+/[^"]+)"',
                  lambda m: '"reference":"%s"' % ids.get(m.group(1), m.group(1)), text)
    with open(os.path.join(out, 'person-%s.json' % pid), 'w') as f:
        f.write(text)
    count += 1
print(f"bulk_bench: {count} person Bundles, {len(shared)} shared resources", file=sys.stderr)
PY
echo "bulk_bench: importing the Bundles into an empty database..." >&2
bundle_line=$("$UCR" import "$WORK/bundles" --data "$WORK/bundle-db" --no-audit 2>/dev/null | head -1)
echo "$bundle_line" >&2

python3 - "$export_line" "$ndjson_line" "$bundle_line" "$elements_line" <<'PY'
import re, sys
export, ndjson, bundles, elements = sys.argv[1:5]
def find(pattern, text):
    m = re.search(pattern, text)
    return m.group(1) if m else "?"
print()
print("| step | resources | seconds | resources/s | MB/s |")
print("|---|---:|---:|---:|---:|")
for label, line in (("export (NDJSON)", export), ("export with _elements=id,meta (SUBSETTED)", elements)):
    print("| %s | %s | %s | %s | %s |" % (label, find(r"([0-9,]+) resources in", line), find(r"MB, in ([0-9.]+) s", line),
          find(r"\(([0-9]+) resources/s", line), find(r", ([0-9.]+) MB/s", line)))
for label, line in (("import of the export (NDJSON, PUT by id)", ndjson),
                    ("import of Synthea-shaped Bundles (transactions, urn:uuid, record linkage)", bundles)):
    print("| %s | %s | %s | %s | |" % (label, find(r"; ([0-9,]+) created", line), find(r"rejected in ([0-9.]+) s", line),
          find(r"\(([0-9]+) resources/s", line)))
PY
