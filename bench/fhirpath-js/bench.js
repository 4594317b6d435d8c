#!/usr/bin/env node
// Evaluations per second of HL7's fhirpath.js on the cases of bench/fhirpath_cases.json, measured the same
// way as bench/fhirpath_compare.cpp measures ucr::fhirpath: each expression is compiled once with the R4
// model, evaluated on its resource for a warm-up, then in batches for ~1 s; prints {"name": evals_per_sec}.
//
// usage: node bench.js [--counts] [--seconds S] [--root DIR] CASES.json
//   --counts   evaluate each case once and print {"name": result_count} instead of timing
//   --seconds  measuring time per case (default 1)
//   --root     directory the "resource" paths are relative to (default: the parent of the cases file's
//              directory, i.e. the repository root for bench/fhirpath_cases.json)
'use strict';

const fs = require('fs');
const path = require('path');
const fhirpath = require('fhirpath');
const r4 = require('fhirpath/fhir-context/r4');

function usage(msg) {
  if (msg) process.stderr.write(`bench.js: ${msg}\n`);
  process.stderr.write('usage: node bench.js [--counts] [--seconds S] [--root DIR] CASES.json\n');
  process.exit(2);
}

let countsOnly = false;
let seconds = 1;
let root = null;
let casesPath = null;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; ++i) {
  const a = argv[i];
  if (a === '--counts') countsOnly = true;
  else if (a === '--seconds') seconds = Number(argv[++i]);
  else if (a === '--root') root = argv[++i];
  else if (a.startsWith('-')) usage(`unknown option ${a}`);
  else if (casesPath === null) casesPath = a;
  else usage('more than one cases file');
}
if (casesPath === null) usage('no cases file');
if (!(seconds > 0)) usage('--seconds must be positive');
if (root === null) root = path.resolve(path.dirname(casesPath), '..');

const cases = JSON.parse(fs.readFileSync(casesPath, 'utf8'));
// Compile options: no conversion of the results to plain JS values (resolveInternalTypes: false), so
// fhirpath.js, like ucr, returns its internal items and only the evaluation itself is measured.
const options = { resolveInternalTypes: false };

const now = () => Number(process.hrtime.bigint()) / 1e9;
let sink = 0;

function measure(fn, resource) {
  // Warm-up (lets V8 optimise): at least 0.2 s and 10 evaluations.
  let batch = 1;
  const warmEnd = now() + Math.min(0.2, seconds / 5);
  for (let n = 0; n < 10 || now() < warmEnd; ++n) sink += fn(resource).length;
  // Batch size: ~10 ms per batch so the clock is read rarely.
  for (;;) {
    const t0 = now();
    for (let i = 0; i < batch; ++i) sink += fn(resource).length;
    if (now() - t0 >= 0.01 || batch >= 1 << 30) break;
    batch *= 2;
  }
  let iterations = 0;
  const start = now();
  let elapsed = 0;
  do {
    for (let i = 0; i < batch; ++i) sink += fn(resource).length;
    iterations += batch;
    elapsed = now() - start;
  } while (elapsed < seconds);
  return iterations / elapsed;
}

const out = {};
for (const c of cases) {
  const resource = JSON.parse(fs.readFileSync(path.resolve(root, c.resource), 'utf8'));
  let fn;
  try {
    fn = fhirpath.compile(c.expression, r4, options);
    fn(resource);
  } catch (e) {
    process.stderr.write(`bench.js: ${c.name}: ${e && e.message ? e.message : e}\n`);
    out[c.name] = null;
    continue;
  }
  out[c.name] = countsOnly ? fn(resource).length : Math.round(measure(fn, resource));
}
if (sink < 0) process.stderr.write('unreachable\n');
process.stdout.write(JSON.stringify(out) + '\n');
