#!/usr/bin/env bash
# FHIRPath evaluations per second: ucr::fhirpath vs HL7's fhirpath.js (npm package `fhirpath`, pinned in
# bench/fhirpath-js/package.json) on the same expressions and resources (bench/fhirpath_cases.json), in
# the same run. Builds nothing.
#
# Usage: bench/fhirpath_compare.sh path/to/ucr_bench_fhirpath_compare [--rounds N] [--seconds S]
#   Runs `npm ci` in bench/fhirpath-js when its node_modules is missing. Checks that both sides give the
#   same result count for every case (warnings on stderr and under the table), then alternates ucr and
#   fhirpath.js N times (default 2: ucr, js, ucr, js), S seconds per case and run (default 1), keeping the
#   best rate of each. Prints a Markdown table with the ucr/fhirpath.js ratio and its geometric mean.
# Needs node (20+) and npm.
set -euo pipefail

UCR=${1:?usage: fhirpath_compare.sh path/to/ucr_bench_fhirpath_compare [--rounds N] [--seconds S]}
shift
ROUNDS=2
SECONDS_PER_CASE=1
while (($#)); do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --seconds) SECONDS_PER_CASE=$2; shift 2 ;;
    *) echo "fhirpath_compare: unknown option $1" >&2; exit 2 ;;
  esac
done

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
CASES="$HERE/fhirpath_cases.json"
JS="$HERE/fhirpath-js"
[[ -x "$UCR" ]] || { echo "fhirpath_compare: $UCR is not an executable" >&2; exit 2; }

if [[ ! -d "$JS/node_modules" ]]; then
  npm ci --prefix "$JS" --no-audit --no-fund >&2
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

run_ucr() { "$UCR" --root "$ROOT" --seconds "$SECONDS_PER_CASE" "$@" "$CASES"; }
run_js() { node "$JS/bench.js" --root "$ROOT" --seconds "$SECONDS_PER_CASE" "$@" "$CASES"; }

run_ucr --counts >"$TMP/ucr-counts.json"
run_js --counts >"$TMP/js-counts.json"
for ((i = 1; i <= ROUNDS; ++i)); do
  echo "fhirpath_compare: round $i/$ROUNDS: ucr" >&2
  run_ucr >"$TMP/ucr-$i.json"
  echo "fhirpath_compare: round $i/$ROUNDS: fhirpath.js" >&2
  run_js >"$TMP/js-$i.json"
done

CPU=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)
node - "$TMP" "$ROUNDS" "$CASES" "$JS" "$(nproc)" "${CPU:-unknown}" "$SECONDS_PER_CASE" <<'EOF'
const fs = require('fs');
const path = require('path');
const [tmp, roundsText, casesPath, jsDir, nproc, cpu, seconds] = process.argv.slice(2);
const rounds = Number(roundsText);
const read = (f) => JSON.parse(fs.readFileSync(path.join(tmp, f), 'utf8'));
const cases = JSON.parse(fs.readFileSync(casesPath, 'utf8'));
const ucrCounts = read('ucr-counts.json');
const jsCounts = read('js-counts.json');
const best = (prefix, name) => {
  let b = null;
  for (let i = 1; i <= rounds; ++i) {
    const v = read(`${prefix}-${i}.json`)[name];
    if (typeof v === 'number' && (b === null || v > b)) b = v;
  }
  return b;
};
const fmt = (n) => (n === null ? 'n/a' : Math.round(n).toLocaleString('en-US'));
const warnings = [];
const rows = [];
let logSum = 0;
let logCount = 0;
for (const c of cases) {
  const u = best('ucr', c.name);
  const j = best('js', c.name);
  if (ucrCounts[c.name] !== jsCounts[c.name]) {
    warnings.push(`${c.name}: result count differs: ucr ${ucrCounts[c.name]}, fhirpath.js ${jsCounts[c.name]}`);
  }
  let ratio = 'n/a';
  if (u !== null && j !== null && u > 0 && j > 0) {
    ratio = `${(u / j).toFixed(1)}x`;
    logSum += Math.log(u / j);
    ++logCount;
  }
  rows.push(`| ${c.name} | \`${c.expression.replace(/\|/g, '\\|')}\` | ${fmt(u)} | ${fmt(j)} | ${ratio} |`);
}
const pkg = JSON.parse(fs.readFileSync(path.join(jsDir, 'node_modules', 'fhirpath', 'package.json'), 'utf8'));
const lines = [
  '| case | expression | ucr evals/s | fhirpath.js evals/s | ratio |',
  '|---|---|---:|---:|---:|',
  ...rows,
  '',
  `Geometric mean ratio (ucr / fhirpath.js): **${logCount ? Math.exp(logSum / logCount).toFixed(1) : 'n/a'}x** over ${logCount} cases.`,
  '',
  `Best of ${rounds} alternating runs per side, ~${seconds} s per case after warm-up; expressions compiled once.`,
  `node ${process.version}, fhirpath (npm) ${pkg.version}; nproc ${nproc}; CPU: ${cpu}.`,
];
if (warnings.length) {
  lines.push('', 'Warnings:', ...warnings.map((w) => `- ${w}`));
  for (const w of warnings) process.stderr.write(`fhirpath_compare: warning: ${w}\n`);
}
process.stdout.write(lines.join('\n') + '\n');
EOF
