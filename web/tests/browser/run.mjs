// Browser tests: the web apps in Debian's Chromium (driven by playwright-core, which never downloads a
// browser) against a real `ucr serve --demo` on a free 127.0.0.1 port, started and stopped here.
// Each test asserts what the user sees; axe-core checks every page against WCAG 2.1 A and AA.
//
// Environment: UCR_BIN (default ../build/src/cli/ucr), CHROMIUM (default /usr/bin/chromium),
// DEMO_PEOPLE (default 300), SCREENSHOTS=DIR to save JPEGs of each page checked at desktop and phone
// widths (SCREENSHOT_PAGES=a,b,... to keep only those pages).
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import axe from 'axe-core';

const here = dirname(fileURLToPath(import.meta.url));
const webDir = resolve(here, '../..');
const ucr = resolve(process.env.UCR_BIN ?? join(webDir, '../build/src/cli/ucr'));
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const people = process.env.DEMO_PEOPLE ?? '300';
const shots = process.env.SCREENSHOTS ? resolve(process.env.SCREENSHOTS) : null;
const shotPages = process.env.SCREENSHOT_PAGES ? new Set(process.env.SCREENSHOT_PAGES.split(',')) : null;
const kNhs = 'https://fhir.nhs.uk/Id/nhs-number';

function fail(message) {
  console.error(`browser tests: ${message}`);
  process.exit(1);
}

if (!existsSync(ucr)) fail(`no ucr binary at ${ucr} (build it, or set UCR_BIN)`);
if (!existsSync(chromiumPath)) fail(`no Chromium at ${chromiumPath} (apt-get install chromium, or set CHROMIUM)`);
if (!existsSync(join(webDir, 'dist/index.html'))) fail('web/dist is not built (npm run build)');

function freePort() {
  return new Promise((ok, ko) => {
    const s = createServer();
    s.on('error', ko);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

const dataDir = mkdtempSync(join(tmpdir(), 'ucr-web-test-'));
const port = await freePort();
const origin = `http://127.0.0.1:${port}`;
const server = spawn(
  ucr,
  ['serve', '--listen', `127.0.0.1:${port}`, '--data', dataDir, '--demo', people, '--web-root', join(webDir, 'dist'),
    '--no-access-log', '--threads', '2'],
  { stdio: ['ignore', 'pipe', 'pipe'] },
);
let serverLog = '';
server.stdout.on('data', (d) => (serverLog += d));
server.stderr.on('data', (d) => (serverLog += d));
let browser;

async function cleanUp() {
  if (browser) await browser.close().catch(() => {});
  if (server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((ok) => server.once('exit', ok));
  }
  rmSync(dataDir, { recursive: true, force: true });
}

async function waitForServer() {
  for (let i = 0; i < 600; i++) {
    if (server.exitCode !== null) throw new Error(`ucr serve exited (${server.exitCode}):\n${serverLog}`);
    if (serverLog.includes('listening on')) {
      try {
        const r = await fetch(`${origin}/healthz`);
        if (r.ok) return;
      } catch {
        // not yet
      }
    }
    await new Promise((ok) => setTimeout(ok, 250));
  }
  throw new Error(`ucr serve did not start:\n${serverLog}`);
}

function token(user) {
  return execFileSync(ucr, ['admin', 'token', '--user', user, '--data', dataDir], { encoding: 'utf8' }).trim();
}

function claims(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
}

async function fhir(jwt, path) {
  const r = await fetch(`${origin}/fhir/${path}`, { headers: { Authorization: `Bearer ${jwt}` } });
  return { status: r.status, body: await r.json().catch(() => null) };
}

async function write(jwt, resource) {
  const r = await fetch(`${origin}/fhir/${resource.resourceType}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${jwt}`, 'Content-Type': 'application/fhir+json' },
    body: JSON.stringify(resource),
  });
  if (r.status !== 201) throw new Error(`could not write a ${resource.resourceType}: ${r.status} ${await r.text()}`);
  return r.json();
}

const nhsOf = (p) => p.identifier?.find((i) => i.system === kNhs)?.value;
const familyOf = (p) => p.name?.[0]?.family;

/** Patients the demo GP may open (one with an allergy) and one they may not (break-glass). */
async function pickPatients() {
  const system = token('integration');
  const gp = token('gp');
  const org = claims(gp).organisation; // "Organization/..."
  if (!org) throw new Error('the demo gp account has no organisation');
  // An adult of the practice with an NHS number; the demo data is random in which of them have an
  // allergy or blood pressure readings, so the test gives this person both through the API.
  const mine = await fhir(system, `Patient?general-practitioner=${org}&birthdate=le1990&identifier=${encodeURIComponent(kNhs + '|')}&_count=20`);
  // Never the demo patient's or carer's own record: the patient tests need it untouched by the GP
  // (the server keeps a GP's access decision for a minute; emergency access overrides dissent).
  const own = new Set([claims(token('patient')).patient, claims(token('proxy')).patient]);
  const withAllergy = (mine.body?.entry ?? [])
    .map((e) => e.resource)
    .find((p) => nhsOf(p) && familyOf(p) && p.birthDate && !own.has(p.id));
  if (!withAllergy) throw new Error(`no adult patient at ${org}: ${JSON.stringify(mine.body).slice(0, 300)}`);
  await write(system, {
    resourceType: 'AllergyIntolerance',
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' }] },
    criticality: 'high',
    code: { coding: [{ system: 'http://snomed.info/sct', code: '91936005', display: 'Allergy to penicillin' }] },
    patient: { reference: `Patient/${withAllergy.id}` },
    recordedDate: '2015-06-01',
    recorder: { reference: claims(gp).fhirUser.replace(/^.*\/fhir\//, '') },
    reaction: [{ manifestation: [{ coding: [{ system: 'http://snomed.info/sct', code: '39579001', display: 'Anaphylaxis' }] }], severity: 'severe' }],
  });
  for (const [date, sys, dia] of [['2024-03-01', 152, 94], ['2025-03-01', 141, 88]]) {
    await write(system, {
      resourceType: 'Observation',
      status: 'final',
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
      code: { coding: [{ system: 'http://loinc.org', code: '85354-9', display: 'Blood pressure panel with all children optional' }] },
      subject: { reference: `Patient/${withAllergy.id}` },
      effectiveDateTime: `${date}T10:00:00Z`,
      component: [
        { code: { coding: [{ system: 'http://loinc.org', code: '8480-6', display: 'Systolic blood pressure' }] }, valueQuantity: { value: sys, unit: 'mmHg', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' } },
        { code: { coding: [{ system: 'http://loinc.org', code: '8462-4', display: 'Diastolic blood pressure' }] }, valueQuantity: { value: dia, unit: 'mmHg', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' } },
      ],
    });
  }
  const others = await fhir(system, `Patient?identifier=${encodeURIComponent(kNhs + '|')}&_count=200`);
  let notMine;
  for (const e of others.body?.entry ?? []) {
    const p = e.resource;
    if ((p.generalPractitioner ?? []).some((g) => g.reference === org) || own.has(p.id)) continue;
    const probe = await fhir(gp, `Condition?patient=${p.id}&_count=1`);
    if (probe.status === 403) {
      notMine = p;
      break;
    }
  }
  if (!notMine) throw new Error('no patient outside the demo GP practice to test emergency access with');
  const practice = await fhir(system, org);
  return { withAllergy, notMine, org: practice.body };
}

/** A patient of the demo GP's practice with `n` resources (problems, medicines, results), written in one transaction. */
async function bigRecord(practiceId, n) {
  const system = token('integration');
  const entry = [
    {
      fullUrl: 'urn:uuid:7d1c1c9e-0000-4000-8000-000000000000',
      resource: {
        resourceType: 'Patient',
        name: [{ use: 'official', family: 'Bigrecord', given: ['Test'] }],
        birthDate: '1950-01-01',
        gender: 'female',
        generalPractitioner: [{ reference: `Organization/${practiceId}` }],
      },
      request: { method: 'POST', url: 'Patient' },
    },
  ];
  const subject = { reference: 'urn:uuid:7d1c1c9e-0000-4000-8000-000000000000' };
  const day = (i) => new Date(Date.UTC(2000, 0, 1) + i * 86_400_000 * 3).toISOString().slice(0, 10);
  for (let i = 1; i < n; i++) {
    let resource;
    if (i % 10 === 0) {
      resource = {
        resourceType: 'Condition',
        clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: i === 10 ? 'active' : 'resolved' }] },
        code: { coding: [{ system: 'http://snomed.info/sct', code: '195967001', display: 'Asthma' }] },
        subject,
        onsetDateTime: day(i),
      };
    } else if (i % 25 === 1) {
      resource = {
        resourceType: 'MedicationRequest',
        status: 'completed',
        intent: 'order',
        medicationCodeableConcept: { text: 'Salbutamol 100micrograms/dose inhaler CFC free' },
        subject,
        authoredOn: day(i),
      };
    } else {
      resource = {
        resourceType: 'Observation',
        status: 'final',
        category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
        code: { coding: [{ system: 'http://loinc.org', code: '4548-4', display: 'Hemoglobin A1c' }] },
        subject,
        effectiveDateTime: day(i),
        valueQuantity: { value: 40 + (i % 30), unit: 'mmol/mol', system: 'http://unitsofmeasure.org', code: 'mmol/mol' },
      };
    }
    entry.push({ resource, request: { method: 'POST', url: resource.resourceType } });
  }
  const r = await fetch(`${origin}/fhir`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${system}`, 'Content-Type': 'application/fhir+json' },
    body: JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry }),
  });
  const body = await r.json();
  if (r.status !== 200) throw new Error(`the large record was not written: ${r.status} ${JSON.stringify(body).slice(0, 400)}`);
  const location = body.entry?.[0]?.response?.location ?? '';
  return /Patient\/([^/]+)/.exec(location)?.[1];
}

/** Checks the page with axe; with SCREENSHOTS, saves it at desktop and phone widths (`focus`: a
 *  locator to show in a screen-sized shot instead of the whole page, for parts of a long page). */
async function checkAccessibility(page, name, focus) {
  const result = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }),
  );
  if (shots && (!shotPages || shotPages.has(name))) {
    const size = page.viewportSize();
    const shoot = async (path) => {
      if (focus) {
        await focus.evaluate((e) => e.scrollIntoView({ block: 'start' }));
        await page.screenshot({ path, quality: 80 });
      } else {
        await page.screenshot({ path, fullPage: true, quality: 80 });
      }
    };
    await shoot(join(shots, `${name}-desktop.jpg`));
    await page.setViewportSize({ width: 375, height: 740 });
    await shoot(join(shots, `${name}-phone.jpg`));
    if (size) await page.setViewportSize(size);
  }
  axeChecks.push({ name, violations: result.violations.length });
  if (result.violations.length > 0) {
    const lines = result.violations.map(
      (v) => `  ${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('\n    ')}`,
    );
    throw new Error(`axe found ${result.violations.length} WCAG 2.1 AA violation(s) on ${name}:\n${lines.join('\n')}`);
  }
}

/** Fails when the page is wider than the screen, naming the widest elements that stick out. */
async function phoneFits(page, what) {
  // Charts redraw at the new width a moment after the viewport changes: let the layout settle first.
  await page
    .waitForFunction(() => document.documentElement.scrollWidth <= window.innerWidth, undefined, { timeout: 5000 })
    .catch(() => {});
  const found = await page.evaluate(() => {
    const overflow = document.documentElement.scrollWidth - window.innerWidth;
    const wide = [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
      .slice(-3)
      .map((e) => `${e.tagName.toLowerCase()}.${e.className} (${Math.round(e.getBoundingClientRect().right)}px)`);
    return { overflow, wide };
  });
  if (found.overflow > 0) throw new Error(`${what} is ${found.overflow}px wider than the phone screen: ${found.wide.join(', ')}`);
}

function expectText(actual, expected, what) {
  if (!String(actual).includes(expected)) throw new Error(`${what}: expected to see "${expected}", saw "${actual}"`);
}

const formatNhs = (n) => `${n.slice(0, 3)} ${n.slice(3, 6)} ${n.slice(6)}`;
const axeChecks = [];
const cspViolations = [];
const foreignRequests = [];
const results = [];

async function test(name, fn) {
  try {
    await fn();
    results.push({ name, ok: true });
    console.log(`ok   ${name}`);
  } catch (e) {
    results.push({ name, ok: false });
    console.log(`FAIL ${name}\n     ${String(e?.stack ?? e).split('\n').join('\n     ')}`);
  }
}

async function signIn(page, user) {
  await page.goto(`${origin}/app/`);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/oauth\/authorize/);
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(`ucr-demo-${user}`);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

try {
  await waitForServer();
  const { withAllergy, notMine, org } = await pickPatients();
  if (shots) mkdirSync(shots, { recursive: true });
  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  // The pages run under their real Content-Security-Policy: axe-core is added by the browser's
  // debugging protocol (init scripts are not subject to the page's policy), and any policy
  // violation the browser reports fails the run.
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.addInitScript({ content: axe.source });
  context.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(origin) && !url.startsWith('data:')) foreignRequests.push(url);
  });
  context.on('console', (message) => {
    if (/Content.Security.Policy|Refused to/i.test(message.text())) cspViolations.push(message.text());
  });
  const page = await context.newPage();

  await test('start page offers sign-in and passes axe', async () => {
    await page.goto(`${origin}/app/`);
    await page.getByRole('heading', { name: 'Universal Care Record', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await checkAccessibility(page, 'start');
  });

  await test('the server sign-in page passes axe', async () => {
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/oauth\/authorize/);
    await page.getByLabel('User name').waitFor();
    await checkAccessibility(page, 'sign-in');
  });

  await test('a GP signs in with PKCE and lands on Find a patient', async () => {
    await page.getByLabel('User name').fill('gp');
    await page.getByLabel('Password').fill('ucr-demo-gp');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Find a patient' }).waitFor();
    expectText(await page.getByRole('navigation', { name: 'Account' }).innerText(), 'Sign out', 'header');
    const stored = await page.evaluate(() => Object.keys(window.sessionStorage));
    if (stored.includes('ucr.signin')) throw new Error('the PKCE verifier was left in storage after sign-in');
    await checkAccessibility(page, 'find-patient');
  });

  await test('an invalid NHS number is explained in an error summary', async () => {
    await page.getByRole('textbox', { name: 'NHS number' }).fill('123 456 7890');
    await page.getByRole('button', { name: 'Search by NHS number' }).click();
    const summary = page.getByRole('alert').filter({ hasText: 'There is a problem' });
    expectText(await summary.innerText(), 'Enter a valid 10-digit NHS number', 'error summary');
    await checkAccessibility(page, 'find-patient-error');
  });

  const nhs = nhsOf(withAllergy);
  await test('finding a patient by NHS number shows them in a results table', async () => {
    await page.getByRole('textbox', { name: 'NHS number' }).fill(formatNhs(nhs));
    await page.getByRole('button', { name: 'Search by NHS number' }).click();
    const table = page.getByTestId('search-results');
    await table.waitFor();
    expectText(await table.innerText(), formatNhs(nhs), 'results');
    expectText(await table.innerText(), familyOf(withAllergy).toUpperCase(), 'results');
    await checkAccessibility(page, 'search-results');
  });

  await test('finding a patient by name, date of birth and postcode shows how each result matched', async () => {
    const [y, m, d] = withAllergy.birthDate.split('-');
    // A keying slip in the last name: the matcher still finds the patient and says the name is close.
    await page.getByLabel('Last name').fill(`${familyOf(withAllergy)}x`);
    await page.getByLabel('Day').fill(String(Number(d)));
    await page.getByLabel('Month').fill(String(Number(m)));
    await page.getByLabel('Year').fill(y);
    await page.getByLabel('Postcode (optional)').fill(withAllergy.address?.[0]?.postalCode ?? '');
    await page.getByRole('button', { name: 'Search by name and date of birth' }).click();
    const row = page.getByTestId('search-results').getByRole('row').filter({ hasText: formatNhs(nhs) });
    await row.waitFor();
    const text = await row.innerText();
    if (!/(Certain|Probable|Possible) match/.test(text)) throw new Error(`no match grade in "${text}"`);
    expectText(text, 'Last name', 'match explanation'); // "close" for most names; very short ones may differ more
    expectText(text, 'Date of birth agrees', 'match explanation');
    // A typo in the last name leaves no NHS number match: the grade is held by a safety rule or
    // confirmed by the postcode, and the row says which.
    const postcodeGiven = Boolean(withAllergy.address?.[0]?.postalCode);
    if (postcodeGiven && !/Held at this grade because: |Confirmed without an NHS number by: /.test(text)) {
      throw new Error(`no rule or corroboration in "${text}"`);
    }
    await checkAccessibility(page, 'match-results');
  });

  await test('opening the record shows the banner, the allergy flag and the summary with provenance', async () => {
    await page.getByTestId('search-results').getByRole('row').filter({ hasText: formatNhs(nhs) }).getByRole('link').click();
    const banner = page.getByTestId('patient-banner');
    await banner.waitFor();
    const text = await banner.innerText();
    expectText(text, formatNhs(nhs), 'banner NHS number');
    expectText(text, familyOf(withAllergy).toUpperCase(), 'banner name');
    expectText(text, 'years)', 'banner age');
    expectText(text, 'GP practice', 'banner practice');
    const flags = page.getByTestId('critical-flags');
    await flags.getByText('Allergies and alerts').waitFor();
    expectText(await flags.innerText(), 'Allergy', 'flags');
    await page.getByTestId('problems').waitFor();
    await page.getByTestId('medications').waitFor();
    const allergies = await page.getByTestId('allergies').innerText();
    expectText(allergies, 'Recorded by', 'allergy provenance');
    expectText(allergies, 'last updated', 'allergy provenance');
    expectText(allergies, org.name, 'the recorder\'s organisation');
    expectText(await page.getByTestId('encounters').innerText(), 'Recent care', 'encounters');
    await page.getByLabel('Show', { exact: true }).selectOption('Allergy');
    expectText(await page.getByTestId('timeline').locator('tbody').innerText(), 'Allergy', 'timeline filtered to allergies');
    if ((await page.getByTestId('timeline').locator('tbody').innerText()).includes('Encounter')) {
      throw new Error('the timeline filter let other kinds through');
    }
    await page.getByLabel('Show', { exact: true }).selectOption('');
    const problemHeader = page.getByTestId('problems').getByRole('columnheader', { name: 'Problem' });
    await problemHeader.getByRole('button').click();
    if ((await problemHeader.getAttribute('aria-sort')) !== 'ascending') throw new Error('not sorted by problem');
    const names = await page.getByTestId('problems').locator('tbody tr td:first-child').evaluateAll((cells) =>
      cells.map((c) => c.childNodes[0]?.textContent ?? ''),
    );
    const sortedNames = [...names].sort((a, b) => a.localeCompare(b, 'en-GB', { sensitivity: 'base', numeric: true }));
    if (JSON.stringify(names) !== JSON.stringify(sortedNames)) throw new Error(`problems not in name order: ${names.join(', ')}`);
    await problemHeader.getByRole('button').click();
    await problemHeader.getByRole('button').click(); // back to the clinical order
    await page.getByLabel('Show only active problems').check();
    if ((await page.getByTestId('problems').innerText()).includes('Resolved')) throw new Error('resolved problems still shown');
    await page.getByLabel('Show only active problems').uncheck();
    const trends = page.getByTestId('trends');
    expectText(await trends.innerText(), 'Blood pressure', 'trends');
    if ((await trends.locator('canvas[role="img"]').count()) === 0) throw new Error('no trend chart drawn');
    await trends.getByText('Show the readings as a table').first().click();
    expectText(await trends.locator('table').first().innerText(), 'Systolic blood pressure', 'readings table');
    await checkAccessibility(page, 'patient-summary', page.getByTestId('patient-banner'));
  });

  await test('the record fits a phone-sized screen', async () => {
    await page.setViewportSize({ width: 375, height: 740 });
    await page.reload();
    await page.getByTestId('patient-banner').waitFor();
    await page.getByTestId('problems').waitFor();
    try {
      await page.getByTestId('documents').waitFor();
      await phoneFits(page, 'the record');
      // The column headers are hidden on a phone; a "Sort by" list does their work there.
      await page.getByTestId('problems').getByLabel('Sort by').selectOption({ label: 'Problem, descending' });
      const names = await page.getByTestId('problems').locator('tbody tr td:first-child').evaluateAll((cells) =>
        cells.map((c) => c.childNodes[0]?.textContent ?? ''),
      );
      const sorted = [...names].sort((a, b) => b.localeCompare(a, 'en-GB', { sensitivity: 'base', numeric: true }));
      if (JSON.stringify(names) !== JSON.stringify(sorted)) throw new Error(`problems not sorted on the phone: ${names.join(', ')}`);
      await checkAccessibility(page, 'patient-summary-phone');
      await page.getByTestId('problems').getByLabel('Sort by').selectOption({ label: 'Clinical order' });
    } finally {
      await page.setViewportSize({ width: 1280, height: 900 });
    }
  });

  await test('a GP records an allergy: it is attributed to them and pushed to the top', async () => {
    await page.getByText('Record an allergy').click();
    await page.getByRole('button', { name: 'Save allergy' }).click();
    expectText(await page.getByRole('alert').first().innerText(), 'Select what the person is allergic to', 'validation');
    await checkAccessibility(page, 'record-allergy-error');
    await page.getByLabel('Allergic to').selectOption({ label: 'Latex allergy' });
    await page.getByLabel('Reaction').selectOption({ label: 'Wheal' });
    await page.getByLabel('Moderate').check();
    await page.getByRole('button', { name: 'Save allergy' }).click();
    await page.getByTestId('saved').waitFor();
    expectText(await page.getByTestId('critical-flags').innerText(), 'Latex allergy: Wheal (moderate)', 'flags');
    const row = page.getByTestId('allergies').getByRole('row').filter({ hasText: 'Latex allergy' }).first();
    expectText(await row.innerText(), `Recorded by`, 'provenance of the new allergy');
    expectText(await row.innerText(), org.name, 'the recorder\'s organisation');
  });

  await test('a GP records a problem and a blood pressure; both appear in the record at once', async () => {
    await page.getByText('Record a problem').click();
    await page.getByRole('button', { name: 'Save problem' }).click();
    expectText(await page.getByRole('alert').first().innerText(), 'Select the problem', 'validation');
    await page.getByLabel('Problem', { exact: true }).selectOption({ label: 'Atrial fibrillation' });
    await page.getByTestId('record-problem').getByLabel('Year').fill('2021');
    await page.getByRole('button', { name: 'Save problem' }).click();
    await page.getByTestId('problems').getByText('Atrial fibrillation').first().waitFor();
    await page.getByText('Record a blood pressure').click();
    await page.getByLabel('Systolic (mmHg)').fill('90');
    await page.getByLabel('Diastolic (mmHg)').fill('95');
    await page.getByRole('button', { name: 'Save blood pressure' }).click();
    expectText(await page.getByRole('alert').first().innerText(), 'must be lower', 'validation');
    await checkAccessibility(page, 'record-error');
    await page.getByLabel('Systolic (mmHg)').fill('163');
    await page.getByLabel('Diastolic (mmHg)').fill('97');
    await page.getByRole('button', { name: 'Save blood pressure' }).click();
    await page.getByTestId('saved').getByText('163/97').waitFor();
    await page.getByTestId('trends').getByText('Show the readings as a table').first().click();
    const table = await page.getByTestId('trends').locator('table').first().innerText();
    expectText(table, '163', 'the new reading in the trend');
  });

  await test('the demo population has clinical letters (DocumentReference with inline text)', async () => {
    const found = await fhir(token('integration'), 'DocumentReference?_count=5&_total=accurate');
    const docs = (found.body?.entry ?? []).map((e) => e.resource);
    if (docs.length === 0) throw new Error(`no demo documents: ${JSON.stringify(found.body).slice(0, 300)}`);
    const d = docs[0];
    const text = Buffer.from(d.content[0].attachment.data, 'base64').toString('utf8');
    expectText(d.content[0].attachment.contentType, 'text/plain', 'content type');
    expectText(text, 'Date of birth', 'letter text');
    if (!d.custodian?.reference || !d.author?.[0]?.reference || !d.type?.coding?.[0]?.code) {
      throw new Error(`a demo document lacks custodian, author or type: ${JSON.stringify(d).slice(0, 400)}`);
    }
  });

  await test('a GP reads the documents: sorted, filtered by type and organisation, a letter opened as text', async () => {
    const system = token('integration');
    const letter = (type, code, custodian, date, text) => ({
      resourceType: 'DocumentReference',
      status: 'current',
      docStatus: 'final',
      type: { coding: [{ system: 'http://snomed.info/sct', code, display: type }], text: type },
      subject: { reference: `Patient/${withAllergy.id}` },
      date,
      author: [{ reference: claims(token('gp')).fhirUser.replace(/^.*\/fhir\//, '') }],
      custodian: { reference: custodian },
      content: [{ attachment: { contentType: 'text/plain; charset=utf-8', data: Buffer.from(text, 'utf8').toString('base64') } }],
    });
    await write(system, letter('Discharge summary', '373942005', 'Organization/ekhuft', '2025-02-03T10:00:00Z',
      'Discharge summary\nAdmitted with chest pain.\n<b>not bold</b> <img src=x onerror=alert(1)>\n'));
    await write(system, letter('Clinic letter', '371530004', `Organization/${org.id}`, '2024-05-06T10:00:00Z',
      'Clinic letter\nSeen in the asthma clinic.\n'));
    await page.goto(`${origin}/app/patient/${withAllergy.id}`);
    const docs = page.getByTestId('documents');
    await docs.locator('tbody').getByText('Discharge summary').first().waitFor();
    expectText(await docs.innerText(), 'East Kent Hospitals University NHS Foundation Trust', 'custodian shown');
    const dateHeader = docs.getByRole('columnheader', { name: 'Date' });
    await dateHeader.getByRole('button').click();
    if ((await dateHeader.getAttribute('aria-sort')) !== 'ascending') throw new Error('not sorted by date');
    const dates = await docs.locator('tbody tr td:first-child').allInnerTexts();
    const parsed = dates.map((d) => Date.parse(d.replace(/^Date:\s*/, '')));
    if (parsed.some((d, i) => i > 0 && d < parsed[i - 1])) throw new Error(`documents not in date order: ${dates.join(', ')}`);
    await docs.getByLabel('Type').selectOption('Clinic letter');
    if ((await docs.locator('tbody').innerText()).includes('Discharge summary')) throw new Error('the type filter let others through');
    await docs.getByLabel('Type').selectOption('');
    await docs.getByLabel('Organisation').selectOption(org.name);
    if ((await docs.locator('tbody').innerText()).includes('Discharge summary')) throw new Error('the organisation filter let others through');
    await docs.getByLabel('Organisation').selectOption('');
    await docs.getByRole('button', { name: /^Discharge summary from 3 February 2025/ }).click();
    const view = page.getByTestId('document');
    await view.waitFor();
    const shown = await view.innerText();
    expectText(shown, 'Admitted with chest pain.', 'the letter');
    expectText(shown, '<b>not bold</b>', 'markup shown as text');
    expectText(shown, 'East Kent Hospitals University NHS Foundation Trust', 'provenance: organisation');
    expectText(shown, 'Written by', 'provenance: author');
    if ((await view.locator('b, img').count()) > 0) throw new Error('the letter was injected as HTML');
    await checkAccessibility(page, 'documents', page.getByTestId('document'));
    await page.setViewportSize({ width: 375, height: 740 });
    try {
      await phoneFits(page, 'the document');
    } finally {
      await page.setViewportSize({ width: 1280, height: 900 });
    }
    await view.getByRole('button', { name: 'Close the document' }).click();
  });

  await test('results: abnormal ones flagged and first; every list sorts and filters', async () => {
    await write(token('integration'), {
      resourceType: 'Observation',
      status: 'final',
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
      code: { coding: [{ system: 'http://loinc.org', code: '2823-3', display: 'Potassium [Moles/volume] in Serum or Plasma' }] },
      subject: { reference: `Patient/${withAllergy.id}` },
      effectiveDateTime: '2019-01-01T09:00:00Z',
      valueQuantity: { value: 6.4, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' },
      interpretation: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation', code: 'HH' }] }],
    });
    await page.reload();
    const results = page.getByTestId('results');
    await results.getByText('Potassium').first().waitFor();
    // Abnormal results first (critical ones before the rest), whatever their date; the demo's own
    // results are interpreted too, so the new one is compared with its neighbours.
    const rows = await results.locator('tbody tr').evaluateAll((trs) =>
      trs.map((tr) => ({ text: tr.innerText, flag: tr.querySelector('[data-testid="abnormal"]')?.textContent ?? '' })),
    );
    const potassium = rows.findIndex((r) => r.text.includes('Potassium') && r.text.includes('6.4'));
    if (potassium < 0) throw new Error('the critical potassium is not among the first results shown');
    expectText(rows[potassium].flag, 'Critically high', 'abnormal flag');
    if (rows.slice(0, potassium).some((r) => !r.flag.startsWith('Critically'))) throw new Error('a less abnormal result came first');
    const firstNormal = rows.findIndex((r) => !r.flag);
    if (firstNormal >= 0 && rows.slice(firstNormal).some((r) => r.flag)) throw new Error('an abnormal result came after a normal one');
    const testHeader = results.getByRole('columnheader', { name: 'Test' });
    await testHeader.getByRole('button').click();
    await testHeader.getByRole('button').click();
    if ((await testHeader.getAttribute('aria-sort')) !== 'descending') throw new Error('results not sorted descending');
    for (const id of ['allergies', 'encounters', 'immunisations', 'documents']) {
      const headers = await page.getByTestId(id).locator('th[aria-sort]').count();
      if (headers === 0) throw new Error(`${id}: no sortable column`);
    }
    const encounters = page.getByTestId('encounters');
    const orgs = await encounters.getByLabel('Organisation').locator('option').allInnerTexts().catch(() => []);
    if (orgs.length > 2) {
      await encounters.getByLabel('Organisation').selectOption(orgs[1]);
      const where = await encounters.locator('tbody td[data-label="Where"]').allInnerTexts();
      if (where.some((w) => w !== orgs[1])) throw new Error(`encounters filter let others through: ${where.join(', ')}`);
      await encounters.getByLabel('Organisation').selectOption('');
    }
    await checkAccessibility(page, 'results', page.getByRole('heading', { name: 'Results and readings' }));
  });

  await test('a GP records a pulse (range checked first) and a temperature', async () => {
    await page.getByText('Record another observation').click();
    await page.getByLabel('Observation', { exact: true }).selectOption({ label: 'Pulse' });
    await page.getByTestId('record-vital').getByLabel(/^Value/).fill('300');
    await page.getByRole('button', { name: 'Save observation' }).click();
    expectText(await page.getByRole('alert').first().innerText(), 'from 20 to 250', 'range check');
    await checkAccessibility(page, 'record-vital-error');
    await page.getByTestId('record-vital').getByLabel(/^Value/).fill('71');
    await page.getByRole('button', { name: 'Save observation' }).click();
    await page.getByTestId('saved').getByText('pulse 71 beats/min').waitFor();
    // Abnormal results come first (the demo's own may fill the first rows): newest first instead.
    const dateHeader = page.getByTestId('results').getByRole('columnheader', { name: 'Date' });
    await dateHeader.getByRole('button').click();
    await dateHeader.getByRole('button').click();
    if ((await dateHeader.getAttribute('aria-sort')) !== 'descending') throw new Error('results not sorted newest first');
    const row = page.getByTestId('results').locator('tbody tr').first();
    expectText(await row.innerText(), 'Heart rate', 'the new pulse first');
    expectText(await row.innerText(), '71', 'the new pulse in the results');
    expectText(await row.innerText(), 'Recorded by', 'attributed');
    await page.getByLabel('Observation', { exact: true }).selectOption({ label: 'Temperature' });
    await page.getByTestId('record-vital').getByLabel(/^Value/).fill('38.4');
    await page.getByRole('button', { name: 'Save observation' }).click();
    await page.getByTestId('saved').getByText('temperature 38.4').waitFor();
  });

  await test('a GP marks an allergy entered in error and resolves a problem; the record shows the corrections', async () => {
    // The demo record may have a latex allergy of its own: count, and expect one fewer.
    const latexRows = () => page.getByTestId('allergies').locator('tbody tr').filter({ hasText: 'Latex allergy' }).count();
    const latexFlags = async () => ((await page.getByTestId('critical-flags').innerText()).match(/Latex/g) ?? []).length;
    const [rowsBefore, flagsBefore] = [await latexRows(), await latexFlags()];
    await page.getByRole('button', { name: 'Correct Latex allergy' }).first().click();
    const form = page.getByTestId('correct-entry');
    await form.waitFor();
    await form.getByRole('button', { name: 'Save the correction' }).click();
    expectText(await form.getByRole('alert').first().innerText(), 'Select what is wrong', 'validation');
    await checkAccessibility(page, 'correct-entry', page.getByTestId('correct-entry'));
    await form.getByLabel(/entered in error/).check();
    await form.getByLabel('Reason').fill('Recorded for the wrong patient');
    await form.getByRole('button', { name: 'Save the correction' }).click();
    await page.getByTestId('saved').getByText('Latex allergy marked as entered in error').waitFor();
    if ((await latexRows()) !== rowsBefore - 1) throw new Error('the allergy is still in the summary');
    if ((await latexFlags()) !== flagsBefore - 1) throw new Error('the allergy is still flagged');
    await page.getByLabel(/Show the .*entered in error/).check();
    const row = page.getByTestId('allergies').locator('tbody tr').filter({ hasText: 'Recorded for the wrong patient' }).first();
    expectText(await row.innerText(), 'Latex allergy', 'the allergy shown again');
    expectText(await row.innerText(), 'Entered in error', 'shown as entered in error');
    expectText(await row.innerText(), 'Recorded for the wrong patient', 'the reason');
    await page.getByLabel(/Show the .*entered in error/).uncheck();
    const list = await fhir(token('integration'), `AllergyIntolerance?patient=${withAllergy.id}&code=http://snomed.info/sct|300916003`);
    const stored = (list.body?.entry ?? [])
      .map((e) => e.resource)
      .find((a) => a.verificationStatus?.coding?.[0]?.code === 'entered-in-error');
    if (stored?.verificationStatus?.coding?.[0]?.code !== 'entered-in-error' || stored.clinicalStatus) {
      throw new Error(`stored allergy not marked entered in error: ${JSON.stringify(stored)}`);
    }
    if (Number(stored.meta?.versionId) < 2) throw new Error('no new version was made');
    if (!stored.note?.[0]?.authorReference?.reference?.startsWith('Practitioner/')) throw new Error('the correction is not attributed');
    await page.getByRole('button', { name: 'Correct Atrial fibrillation' }).first().click();
    await form.getByLabel('Its status has changed').check();
    await form.getByLabel('Status now').selectOption('resolved');
    await form.getByLabel('Reason').fill('Ablation in 2025, no recurrence');
    await form.getByRole('button', { name: 'Save the correction' }).click();
    await page.getByTestId('saved').getByText('Atrial fibrillation corrected').waitFor();
    const problem = page.getByTestId('problems').locator('tbody tr').filter({ hasText: 'Atrial fibrillation' }).first();
    expectText(await problem.innerText(), 'Corrected', 'corrected tag');
    expectText(await problem.innerText(), 'Resolved', 'new status');
    await page.getByRole('button', { name: 'Correct Heart rate' }).first().click();
    await form.getByLabel('The value is wrong').check();
    await form.getByLabel(/^Correct value/).fill('74');
    await form.getByLabel('Reason').fill('Misread the monitor');
    await form.getByRole('button', { name: 'Save the correction' }).click();
    await page.getByTestId('saved').getByText('Heart rate corrected').waitFor();
    const pulse = page.getByTestId('results').locator('tbody tr').filter({ hasText: 'Misread the monitor' }).first();
    expectText(await pulse.innerText(), '74', 'the corrected value');
    expectText(await pulse.innerText(), 'Corrected', 'the corrected status');
  });

  await test('a record of 2,000 resources opens (time measured and reported, not asserted)', async () => {
    const id = await bigRecord(org.id, 2000);
    const t0 = performance.now();
    await page.goto(`${origin}/app/patient/${id}`);
    await page.getByTestId('patient-banner').waitFor();
    const banner = performance.now() - t0;
    await page.getByTestId('problems').getByText('Asthma').first().waitFor();
    await page.getByTestId('trends').waitFor();
    const summary = performance.now() - t0;
    console.log(
      `     record of 2,000 resources: banner after ${banner.toFixed(0)} ms, summary and trends after ${summary.toFixed(0)} ms`,
    );
  });

  await test('without a care relationship the reason and emergency access are shown, then the record', async () => {
    await page.goto(`${origin}/app/patient/${notMine.id}`);
    const refused = page.getByTestId('access-refused');
    await refused.waitFor();
    expectText(await refused.innerText(), 'You cannot see this record yet', 'refusal');
    expectText(await refused.innerText(), 'break-glass', 'server reason');
    expectText(await page.getByTestId('patient-banner').innerText(), formatNhs(nhsOf(notMine)), 'banner');
    await checkAccessibility(page, 'break-glass');
    await page.getByRole('button', { name: 'Get emergency access' }).click();
    expectText(await page.getByRole('alert').first().innerText(), 'Enter the reason', 'empty reason');
    await page.getByLabel('Why do you need to see this record?').fill('Unconscious patient in ED, no GP record available');
    await page.getByRole('button', { name: 'Get emergency access' }).click();
    await page.getByTestId('problems').waitFor();
    await page.getByTestId('critical-flags').waitFor();
    const notice = await page.getByTestId('emergency-access').innerText();
    expectText(notice, 'You have emergency access until', 'time limit');
    expectText(notice, 'recorded in the audit trail', 'audit notice');
    await checkAccessibility(page, 'emergency-record', page.getByTestId('patient-banner'));
  });

  await test('signing out forgets the session', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    const stored = await page.evaluate(() => Object.keys(window.sessionStorage));
    if (stored.length > 0) throw new Error(`sessionStorage still holds ${stored.join(', ')}`);
    await page.goto(`${origin}/app/patient/${withAllergy.id}`);
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
  });

  await test('a patient signs in and sees their own record explained in plain English', async () => {
    // The demo patient's record varies: give it a problem the glossary explains, through the API.
    const ownId = claims(token('patient')).patient;
    const written = await fetch(`${origin}/fhir/Condition`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token('integration')}`, 'Content-Type': 'application/fhir+json' },
      body: JSON.stringify({
        resourceType: 'Condition',
        clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
        code: { coding: [{ system: 'http://snomed.info/sct', code: '38341003', display: 'Hypertensive disorder, systemic arterial' }] },
        subject: { reference: `Patient/${ownId}` },
        onsetDateTime: '2020-01-01',
      }),
    });
    if (written.status !== 201) throw new Error(`could not record the test problem: ${written.status} ${await written.text()}`);
    const patientPage = await context.newPage();
    await signIn(patientPage, 'patient');
    await patientPage.getByRole('heading', { name: 'My medicines' }).waitFor();
    await patientPage.getByTestId('patient-banner').waitFor();
    await patientPage.getByRole('heading', { name: 'My health problems' }).waitFor();
    await patientPage.getByRole('heading', { name: 'My latest test results' }).waitFor();
    await patientPage.getByRole('heading', { name: 'My vaccinations' }).waitFor();
    const problems = await patientPage.getByTestId('my-problems').innerText();
    expectText(problems, 'Hypertensive disorder, systemic arterial', 'the problem recorded for this test');
    expectText(problems, 'High blood pressure.', 'plain-English explanation');
    await checkAccessibility(patientPage, 'my-record');
    await patientPage.getByRole('link', { name: 'See who has looked at my record' }).click();
    await patientPage.getByRole('heading', { name: 'Who has looked at my record' }).waitFor();
    // The integration system wrote a problem to this record above: the write is in the audit trail.
    const accesses = await patientPage.getByTestId('accesses').innerText();
    expectText(accesses, 'A connected system', 'who');
    expectText(accesses, 'Added to your health problems', 'what');
    await checkAccessibility(patientPage, 'who-accessed');
    await patientPage.close();
  });

  await test('a patient chooses not to share with pharmacies, and the server then refuses a pharmacist', async () => {
    const ownId = claims(token('patient')).patient;
    const patientPage = await context.newPage(); // a new tab: sessionStorage is per tab, so sign in again
    await signIn(patientPage, 'patient');
    await patientPage.getByRole('link', { name: 'Choose who my record is shared with' }).click();
    await patientPage.getByRole('heading', { name: 'Who my record is shared with' }).waitFor();
    await checkAccessibility(patientPage, 'sharing');
    await patientPage.getByLabel('Community pharmacies').check();
    await patientPage.getByRole('button', { name: 'Save my choices' }).click();
    await patientPage.getByTestId('sharing-saved').waitFor();
    await patientPage.reload();
    await patientPage.getByRole('button', { name: 'Save my choices' }).waitFor();
    if (!(await patientPage.getByLabel('Community pharmacies').isChecked())) throw new Error('the choice was not kept');
    // The demo pharmacist works at the patient's own practice, so only the patient's choice stops them.
    // (They have not read this record before: the server keeps a decision for a minute per user.)
    const after = await fhir(token('community-pharmacist'), `MedicationRequest?patient=${ownId}&_count=1`);
    if (after.status !== 403) throw new Error(`the pharmacist still reads the record: ${after.status}`);
    expectText(JSON.stringify(after.body), 'not to be shared', 'the server\'s reason');
    await patientPage.close();
  });

  await test('a patient reads their documents as plain text', async () => {
    const ownId = claims(token('patient')).patient;
    await write(token('integration'), {
      resourceType: 'DocumentReference',
      status: 'current',
      type: { coding: [{ system: 'http://snomed.info/sct', code: '734163000', display: 'Care plan' }], text: 'Care plan review' },
      subject: { reference: `Patient/${ownId}` },
      date: '2025-09-01T10:00:00Z',
      custodian: { reference: `Organization/${org.id}` },
      content: [{ attachment: { contentType: 'text/plain', data: Buffer.from('Care plan review\nKeep active.\n').toString('base64') } }],
    });
    const patientPage = await context.newPage();
    await signIn(patientPage, 'patient');
    await patientPage.getByRole('heading', { name: 'My documents' }).waitFor();
    await patientPage.getByTestId('documents').getByRole('button', { name: /^Care plan review from 1 September 2025/ }).click();
    expectText(await patientPage.getByTestId('letter').innerText(), 'Keep active.', 'the letter');
    await checkAccessibility(patientPage, 'my-documents', patientPage.getByTestId('document'));
    await patientPage.close();
  });

  await test('a patient names an organisation from the directory, and the server then refuses its staff', async () => {
    const ownId = claims(token('patient')).patient;
    const gpOrg = await fhir(token('integration'), claims(token('gp')).organisation);
    const name = gpOrg.body.name;
    const patientPage = await context.newPage();
    await signIn(patientPage, 'patient');
    await patientPage.getByRole('link', { name: 'Choose who my record is shared with' }).click();
    await patientPage.getByLabel('Find an organisation by name').fill(name.split(' ')[0]);
    await patientPage.getByRole('button', { name: 'Search organisations' }).click();
    await patientPage.getByTestId('organisation-results').getByRole('button', { name: `Add ${name}` }).click();
    expectText(await patientPage.getByTestId('chosen-organisations').innerText(), name, 'chosen');
    await checkAccessibility(patientPage, 'sharing-named');
    await patientPage.getByRole('button', { name: 'Save my choices' }).click();
    await patientPage.getByTestId('sharing-saved').waitFor();
    await patientPage.reload();
    await patientPage.getByTestId('chosen-organisations').getByText(name).waitFor();
    const consents = await fhir(token('integration'), `Consent?patient=${ownId}&status=active`);
    const named = (consents.body?.entry ?? []).map((e) => e.resource)
      .find((c) => c.provision?.actor?.some((a) => a.reference?.reference === gpOrg.body.resourceType + '/' + gpOrg.body.id));
    if (!named) throw new Error('no Consent names the organisation by reference');
    // The demo GP works there: whatever their relationship, the patient's wish now stops them.
    const after = await fhir(token('gp'), `Condition?patient=${ownId}&_count=1`);
    if (after.status !== 403) throw new Error(`the named organisation still reads the record: ${after.status}`);
    expectText(JSON.stringify(after.body), 'not to be shared', 'the server\'s reason');
    await patientPage.setViewportSize({ width: 375, height: 740 });
    await phoneFits(patientPage, 'the sharing page');
    // Withdrawn again, so the rest of the run sees the record as before.
    await patientPage.getByTestId('chosen-organisations').getByRole('button', { name: `Remove ${name}` }).click();
    await patientPage.getByRole('button', { name: 'Save my choices' }).click();
    await patientPage.getByTestId('sharing-saved').waitFor();
    await patientPage.close();
  });

  await test('a carer signs in and sees the record of the person they look after, said to be theirs', async () => {
    const child = claims(token('proxy')).patient;
    const person = await fhir(token('integration'), `Patient/${child}`);
    const proxyPage = await context.newPage();
    await signIn(proxyPage, 'proxy');
    await proxyPage.getByTestId('acting-for').waitFor();
    expectText(await proxyPage.getByTestId('patient-banner').innerText(), familyOf(person.body).toUpperCase(), 'banner');
    await proxyPage.getByRole('heading', { name: 'Their medicines' }).waitFor();
    await checkAccessibility(proxyPage, 'proxy-record');
    await proxyPage.close();
  });

  await test('an unknown app page says so', async () => {
    await signIn(page, 'gp');
    await page.getByRole('heading', { name: 'Find a patient' }).waitFor();
    await page.goto(`${origin}/app/no/such/page`);
    await page.getByRole('heading', { name: 'Page not found' }).waitFor();
    await checkAccessibility(page, 'not-found');
  });

  await test('the demo data puts possible duplicate records on the review queue', async () => {
    const waiting = await fhir(
      token('data-quality-officer'),
      `Task?code=${encodeURIComponent('https://ucr.nhs.example/fhir/CodeSystem/identity-operation|review-match')}&status=requested&_count=1`,
    );
    if (waiting.status !== 200 || (waiting.body?.entry ?? []).length === 0) {
      throw new Error(`no review waiting in the demo data: ${waiting.status} ${JSON.stringify(waiting.body).slice(0, 300)}`);
    }
  });

  await test('a data-quality officer compares a possible duplicate and decides they are different people', async () => {
    const system = token('integration');
    // A record arrives that is probably, not certainly, a person already held: the same name and date of
    // birth, no NHS number, another address and a hospital number. The server puts it on the review queue.
    const own = new Set([claims(token('patient')).patient, claims(token('proxy')).patient, withAllergy.id, notMine.id]);
    const held = await fhir(system, `Patient?birthdate=le1990&identifier=${encodeURIComponent(kNhs + '|')}&_count=50`);
    const existing = (held.body?.entry ?? [])
      .map((e) => e.resource)
      .find((p) => familyOf(p) && p.name?.[0]?.given?.length && p.birthDate && !own.has(p.id));
    if (!existing) throw new Error('no adult in the demo data to make a possible duplicate of');
    const arrived = await write(system, {
      resourceType: 'Patient',
      name: [{ use: 'official', family: familyOf(existing), given: existing.name[0].given }],
      birthDate: existing.birthDate,
      gender: existing.gender,
      address: [{ use: 'home', line: ['1 Test Street'], city: 'Margate', postalCode: 'CT9 9ZZ' }],
      identifier: [{ system: 'https://example.org/hospital-mrn', value: 'H123456' }],
    });
    const officerToken = token('data-quality-officer');
    const found = await fhir(officerToken, `Task?focus=Patient/${arrived.id}`);
    const task = found.body?.entry?.[0]?.resource;
    if (!task) throw new Error(`no review was made for the new record: ${JSON.stringify(found.body).slice(0, 300)}`);

    const officer = await context.newPage(); // a new tab: its own session
    try {
      await signIn(officer, 'data-quality-officer');
      await officer.getByRole('heading', { name: 'Possible duplicate records', level: 1 }).waitFor();
      if ((await officer.title()) !== 'Possible duplicate records - Universal Care Record') {
        throw new Error(`page title "${await officer.title()}"`);
      }
      const queue = officer.getByTestId('review-queue');
      await queue.waitFor();
      if ((await queue.locator('tbody tr').count()) === 0) throw new Error('the queue lists no review');
      if (!/(Probable|Possible) match, score \d/.test(await queue.innerText())) throw new Error('no grade and score in the queue');
      await checkAccessibility(officer, 'review-queue');
      // The new review is the newest: page on until it is listed (the queue is oldest first).
      const link = queue.locator(`a[href="/app/review/${task.id}"]`);
      for (let page = 2; (await link.count()) === 0; page++) {
        if (page > 50) throw new Error('the new review is not on the queue');
        await officer.getByRole('button', { name: 'Next page' }).click();
        await queue.getByText(`(page ${page})`).waitFor();
      }
      expectText(await link.innerText(), familyOf(existing).toUpperCase(), 'the link names the two people');
      await link.click();

      await officer.getByRole('heading', { name: 'Review a possible duplicate' }).waitFor();
      if ((await officer.title()) !== 'Review a possible duplicate - Universal Care Record') {
        throw new Error(`page title "${await officer.title()}"`);
      }
      const comparison = officer.getByTestId('comparison');
      await comparison.waitFor();
      const postcode = await comparison.getByRole('row').filter({ hasText: 'Postcode' }).innerText();
      expectText(postcode, 'CT9 9ZZ', 'the new record\'s postcode');
      expectText(postcode, 'Different', 'a difference marked in words');
      expectText(await comparison.getByRole('row').filter({ hasText: 'Date of birth' }).innerText(), 'Same', 'same birth date');
      expectText(await comparison.getByRole('row').filter({ hasText: 'Local record numbers' }).innerText(), 'H123456', 'hospital number');
      expectText(
        await comparison.getByRole('row').filter({ hasText: 'NHS number' }).innerText(),
        formatNhs(nhsOf(existing)),
        'the existing record\'s NHS number',
      );
      const explanation = await officer.getByTestId('explanation').innerText();
      expectText(explanation, 'Date of birth agrees', 'explanation');
      expectText(explanation, 'Postcode differs', 'explanation');
      expectText(explanation, 'Held at this grade because: no NHS number match', 'the rule that held the grade');
      await checkAccessibility(officer, 'review-match', officer.getByTestId('comparison'));

      await officer.getByRole('button', { name: 'Save decision' }).click();
      const summary = officer.getByRole('alert').filter({ hasText: 'There is a problem' });
      expectText(await summary.innerText(), 'Select whether these are the same person', 'error summary');
      await checkAccessibility(officer, 'review-match-error');
      // Merging asks which record to keep; the other answers do not.
      const keep = officer.getByRole('group', { name: 'Which record should be kept?' });
      if (await keep.isVisible()) throw new Error('the record to keep is asked before merging is chosen');
      await officer.getByLabel('Yes, merge them (one is a duplicate)').check();
      await keep.waitFor();
      if (!(await officer.getByLabel(/^The existing record/).isChecked())) throw new Error('the existing record is not kept by default');
      await officer.getByLabel('No, they are different people').check();
      await keep.waitFor({ state: 'hidden' });
      await officer.getByLabel('Note (optional)').fill('Different mothers\' names on the hospital record');
      await officer.setViewportSize({ width: 375, height: 740 });
      try {
        await phoneFits(officer, 'the review');
      } finally {
        await officer.setViewportSize({ width: 1280, height: 900 });
      }
      await officer.getByRole('button', { name: 'Save decision' }).click();
      const saved = officer.getByTestId('decision-saved');
      await saved.waitFor();
      expectText(await saved.innerText(), 'Different people: the records stay apart', 'confirmation');
      await checkAccessibility(officer, 'review-saved');

      const after = await fhir(officerToken, `Task/${task.id}`);
      const decision = after.body?.output?.find((o) => o.type?.text === 'decision')?.valueCode;
      if (after.body?.status !== 'completed' || decision !== 'distinct') {
        throw new Error(`the review was not completed as distinct: ${JSON.stringify(after.body).slice(0, 400)}`);
      }
      expectText(after.body.note?.map((n) => n.text).join('\n'), 'Different mothers\' names', 'the note');

      // The decided review shows who decided, and may be changed.
      await officer.getByRole('button', { name: 'See this review again' }).click();
      const decided = await officer.getByTestId('decision').innerText();
      expectText(decided, 'Different people: the records stay apart', 'the decision');
      expectText(decided, 'Decided by', 'who decided');
      expectText(decided, 'Different mothers\' names', 'the note');
      await officer.getByRole('heading', { name: 'Change the decision' }).waitFor();
      expectText(await officer.getByTestId('decision-form').innerText(), 'The earlier decision will be undone', 'warning');
      // Back to the list it came from: the reviews waiting, where it is no longer.
      await officer.getByRole('link', { name: 'Back to possible duplicate records' }).click();
      await officer.locator('[data-testid="review-queue"], [data-testid="review-queue-empty"]').first().waitFor();
      if ((await officer.getByRole('link', { name: 'Waiting for a decision' }).getAttribute('aria-current')) !== 'page') {
        throw new Error('the back link did not lead to the reviews waiting');
      }
      if ((await queue.locator(`a[href="/app/review/${task.id}"]`).count()) > 0) throw new Error('the decided review is still waiting');
      await officer.getByRole('link', { name: 'Find a patient' }).click();
      await officer.getByRole('heading', { name: 'Find a patient' }).waitFor();
      await officer.getByRole('navigation', { name: 'Menu' }).getByRole('link', { name: 'Possible duplicate records' }).click();
      await officer.getByRole('link', { name: 'Recently decided' }).click();
      await officer.getByTestId('review-queue').locator(`a[href="/app/review/${task.id}"]`).waitFor();
      await checkAccessibility(officer, 'review-decided');
    } finally {
      await officer.close();
    }
  });

  await test('a data-quality officer sees who a person is, never their clinical record', async () => {
    const officer = await context.newPage();
    try {
      await signIn(officer, 'data-quality-officer');
      await officer.getByRole('heading', { name: 'Possible duplicate records', level: 1 }).waitFor();
      await officer.goto(`${origin}/app/patient/${withAllergy.id}`);
      expectText(await officer.getByTestId('patient-banner').innerText(), formatNhs(nhs), 'banner');
      await officer.getByTestId('demographics-only').waitFor();
      for (const id of ['critical-flags', 'problems', 'allergies', 'medications']) {
        if ((await officer.getByTestId(id).count()) > 0) throw new Error(`the ${id} are shown to a data-quality officer`);
      }
      if ((await officer.getByRole('button', { name: 'Get emergency access' }).count()) > 0) throw new Error('emergency access offered');
      await checkAccessibility(officer, 'demographics-only');
      const refused = await fhir(token('data-quality-officer'), `AllergyIntolerance?patient=${withAllergy.id}`);
      if (refused.status !== 403) throw new Error(`the server let a data-quality officer read allergies: ${refused.status}`);

      // A record merged away as a duplicate says so, and leads to the record that replaced it.
      const system = token('integration');
      const person = (given) => ({
        resourceType: 'Patient',
        name: [{ family: 'Merriweather', given: [given] }],
        gender: 'female',
        birthDate: '1961-04-23',
        address: [{ postalCode: 'TN23 1AA' }],
      });
      const kept = await write(system, person('Rosalind'));
      const duplicate = await write(system, person('Ros'));
      const merged = await fetch(`${origin}/fhir/Patient/$merge`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${system}`, 'Content-Type': 'application/fhir+json' },
        body: JSON.stringify({
          resourceType: 'Parameters',
          parameter: [
            { name: 'source-patient', valueReference: { reference: `Patient/${duplicate.id}` } },
            { name: 'target-patient', valueReference: { reference: `Patient/${kept.id}` } },
          ],
        }),
      });
      if (merged.status !== 200) throw new Error(`the merge failed: ${merged.status} ${await merged.text()}`);
      await officer.goto(`${origin}/app/patient/${duplicate.id}`);
      const notice = officer.getByTestId('merged-away');
      await notice.waitFor();
      expectText(await notice.innerText(), 'This record has been merged', 'merged-away notice');
      await checkAccessibility(officer, 'merged-away');
      await notice.getByRole('link', { name: 'Go to the current record' }).click();
      await officer.waitForURL(`${origin}/app/patient/${kept.id}`);
      await officer.getByTestId('patient-banner').waitFor();
      if ((await officer.getByTestId('merged-away').count()) > 0) throw new Error('the current record says it was merged away');
    } finally {
      await officer.close();
    }
  });

  await test('nothing was fetched from any other site (no fonts or scripts from a CDN)', async () => {
    if (foreignRequests.length > 0) throw new Error(foreignRequests.join('\n'));
  });

  await test('no page broke its Content-Security-Policy', async () => {
    if (cspViolations.length > 0) throw new Error(cspViolations.join('\n'));
  });

} catch (e) {
  console.error(String(e?.stack ?? e));
  results.push({ name: 'set-up', ok: false });
} finally {
  await cleanUp();
}

const passed = results.filter((r) => r.ok).length;
const failed = results.length - passed;
console.log(`axe: ${axeChecks.length} pages checked, ${axeChecks.reduce((n, c) => n + c.violations, 0)} violations`);
console.log(`browser: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
