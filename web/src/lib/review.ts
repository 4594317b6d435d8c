// The data-quality officer's review queue: possible duplicate records, each a Task of the identity
// service (code review-match) that the server makes when an arriving Patient is probably, but not
// certainly, a person it already holds. Reading those Tasks, asking for a decision
// (POST Task/{id}/$resolve-match) and comparing the two records side by side. Pure functions.
import { formatBirthDateAndAge } from './dates';
import type { Bundle, Resource } from './fhir';
import { fieldName, type Grade, gradeText, verdictText } from './match';
import { addressOf, genderText, kNhsNumberSystem, nhsNumberOf, patientName, practiceReference, referenceKey } from './record';
import { formatNhsNumber } from './nhs-number';

export const kIdentityOperationSystem = 'https://ucr.nhs.example/fhir/CodeSystem/identity-operation';
export const kReviewCode = 'review-match';

/** Reviews waiting for a decision (oldest first), or the ones decided lately (newest first). */
export type ReviewView = 'waiting' | 'decided';

/** The Task search for one view of the queue. */
export function queueQuery(view: ReviewView, count = 20): Record<string, string> {
  return {
    code: `${kIdentityOperationSystem}|${kReviewCode}`,
    status: view === 'waiting' ? 'requested' : 'completed',
    _sort: view === 'waiting' ? 'authored-on' : '-_lastUpdated',
    _count: String(count),
  };
}

/**
 * The next page of a searchset, as a path relative to the FHIR base (for FhirClient.request), or
 * undefined when there is none. Only a next link on the same base is followed.
 */
export function nextPagePath(bundle: Bundle | undefined, base: string): string | undefined {
  const links = (bundle?.link as { relation?: string; url?: string }[] | undefined) ?? [];
  const url = links.find((l) => l.relation === 'next')?.url;
  if (!url) return undefined;
  const prefix = base.endsWith('/') ? base : `${base}/`;
  if (url.startsWith(prefix)) return url.slice(prefix.length);
  // The server may answer with another host name for itself (behind a proxy): keep the path only.
  try {
    const u = new URL(url);
    const path = new URL(prefix).pathname;
    if (u.pathname.startsWith(path)) return u.pathname.slice(path.length) + u.search;
  } catch {
    // not a URL
  }
  return undefined;
}

/** link: the same person, records from different services; merge: a duplicate; distinct: different people. */
export type Decision = 'link' | 'merge' | 'distinct';

export const kMaxNote = 2000;

/** The Parameters body of POST Task/{id}/$resolve-match. `survivorId` is sent only with merge. */
export function decisionParameters(decision: Decision, options: { note?: string; survivorId?: string } = {}): Resource {
  const parameter: Record<string, unknown>[] = [{ name: 'decision', valueCode: decision }];
  if (decision === 'merge' && options.survivorId) {
    parameter.push({ name: 'survivor', valueReference: { reference: `Patient/${options.survivorId}` } });
  }
  const note = options.note?.trim();
  if (note) parameter.push({ name: 'note', valueString: note.slice(0, kMaxNote) });
  return { resourceType: 'Parameters', parameter };
}

/** One field the matcher compared, with the value on each record as the matcher saw it. */
export interface ExplainedField {
  code: string; // the server's code: "family_name"
  field: string; // as people read it: "Last name"
  verdict: string; // the server's level: "exact", "close", "disagree", "missing", ...
  newValue: string; // on the record that arrived
  existingValue: string; // on the record that was there first
  weight?: number; // how much it counted: above 0 towards a match, below 0 against
  compared: boolean; // false when one record or both lack it ("missing")
}

export interface ReviewNote {
  time?: string;
  text: string;
  author?: string;
}

export interface Review {
  id: string;
  focusId: string; // the record that arrived (the new record)
  candidateId: string; // the record that was there first (the existing record)
  score?: number;
  grade: Grade;
  authoredOn?: string;
  status: string; // "requested", "completed", ...
  decision?: Decision;
  survivorId?: string; // merge: the record kept
  outcome?: string; // the server's words for the decision (businessStatus.text)
  decidedBy?: string;
  decidedOn?: string;
  notes: ReviewNote[];
  fields: ExplainedField[];
  rule?: string; // the safety rule that held the grade down
  corroboration?: string; // what confirmed a match made without an NHS number
  needsIndexReview: boolean; // several stored records are certain matches for the new one
  certainMatches?: number;
  otherLines: string[]; // explanation lines of no known form, kept as the server wrote them
}

interface Part {
  type?: { text?: string };
  valueReference?: { reference?: string };
  valueDecimal?: number;
  valueCode?: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function patientIdOf(ref: unknown): string | undefined {
  const key = isObject(ref) ? referenceKey(str(ref.reference)) : undefined;
  return key?.startsWith('Patient/') ? key.slice('Patient/'.length) : undefined;
}

function partsOf(task: Record<string, unknown>, list: 'input' | 'output'): Part[] {
  const parts = task[list];
  return Array.isArray(parts) ? parts.filter(isObject).map((p) => p as Part) : [];
}

function part(parts: Part[], name: string): Part | undefined {
  return parts.find((p) => isObject(p.type) && p.type.text === name);
}

const kGrades: Grade[] = ['certain', 'probable', 'possible', 'certainly-not'];
const kDecisions: Decision[] = ['link', 'merge', 'distinct'];

/** Whether a Task is a review of a possible duplicate (code review-match of the identity service). */
export function isReviewTask(task: unknown): boolean {
  if (!isObject(task) || task.resourceType !== 'Task' || !isObject(task.code)) return false;
  const codings = task.code.coding;
  return (
    Array.isArray(codings) &&
    codings.some((c) => isObject(c) && c.system === kIdentityOperationSystem && c.code === kReviewCode)
  );
}

// "family_name: exact ('smith' / 'smith', +4.10)"
const kFieldLine = /^([a-z_]+): ([a-z_-]+) \('(.*)' \/ '(.*)', ([+-]?\d+(?:\.\d+)?)\)$/;
// "Patient/AAA may be the same person as Patient/BBB (score 0.8123, probable)."
const kFirstLine = /\(score ([\d.]+), ([a-z-]+)\)\.?$/;

/**
 * A review Task as the review pages show it; null when it is not a review or does not name the two
 * records. Whatever else is missing or malformed is left out rather than thrown over.
 */
export function parseReview(task: unknown): Review | null {
  if (!isReviewTask(task) || !isObject(task)) return null;
  const id = str(task.id);
  const inputs = partsOf(task, 'input');
  const focusId = patientIdOf(task.focus) ?? patientIdOf(task.for);
  const candidateId = patientIdOf(part(inputs, 'candidate')?.valueReference);
  if (!id || !focusId || !candidateId) return null;

  const review: Review = {
    id,
    focusId,
    candidateId,
    grade: 'unknown',
    status: str(task.status) ?? 'unknown',
    notes: [],
    fields: [],
    needsIndexReview: false,
    otherLines: [],
  };
  const lines = (str(task.description) ?? '').split('\n').map((l) => l.trim());
  const first = kFirstLine.exec(lines[0] ?? '');
  const score = part(inputs, 'score')?.valueDecimal;
  if (typeof score === 'number' && Number.isFinite(score)) review.score = score;
  else if (first?.[1] && Number.isFinite(Number(first[1]))) review.score = Number(first[1]);
  const grade = part(inputs, 'grade')?.valueCode ?? first?.[2];
  if (grade && (kGrades as string[]).includes(grade)) review.grade = grade as Grade;
  const authoredOn = str(task.authoredOn);
  if (authoredOn) review.authoredOn = authoredOn;

  for (const line of lines.slice(1)) {
    if (!line) continue;
    const f = kFieldLine.exec(line);
    const name = f?.[1] ? fieldName(f[1]) : undefined;
    if (f && name) {
      review.fields.push({
        code: f[1] ?? '',
        field: name,
        verdict: f[2] ?? '',
        newValue: f[3] ?? '',
        existingValue: f[4] ?? '',
        weight: Number(f[5]),
        compared: f[2] !== 'missing',
      });
      continue;
    }
    const certain = /^(\d+) records are certain matches/.exec(line);
    if (line.startsWith('rule: ')) review.rule = line.slice('rule: '.length);
    else if (line.startsWith('corroboration: ')) review.corroboration = line.slice('corroboration: '.length);
    else if (certain) {
      review.needsIndexReview = true;
      review.certainMatches = Number(certain[1]);
    } else review.otherLines.push(line);
  }

  const outputs = partsOf(task, 'output');
  const decision = part(outputs, 'decision')?.valueCode;
  if (decision && (kDecisions as string[]).includes(decision)) review.decision = decision as Decision;
  const survivor = patientIdOf(part(outputs, 'survivor')?.valueReference);
  if (survivor) review.survivorId = survivor;
  const outcome = isObject(task.businessStatus) ? str(task.businessStatus.text) : undefined;
  if (outcome) review.outcome = outcome;

  const notes = Array.isArray(task.note) ? task.note.filter(isObject) : [];
  for (const n of notes) {
    const text = str(n.text);
    if (!text) continue;
    const note: ReviewNote = { text };
    const time = str(n.time);
    if (time) note.time = time;
    const author = str(n.authorString) ?? (isObject(n.authorReference) ? str(n.authorReference.display) : undefined);
    if (author) note.author = author;
    review.notes.push(note);
  }
  const owner = isObject(task.owner) ? str(task.owner.display) : undefined;
  const decidedBy = owner ?? review.notes[review.notes.length - 1]?.author;
  if (review.decision && decidedBy) review.decidedBy = decidedBy;
  const period = isObject(task.executionPeriod) ? str(task.executionPeriod.end) : undefined;
  const decidedOn = period ?? str(task.lastModified) ?? review.notes[review.notes.length - 1]?.time;
  if (review.decision && decidedOn) review.decidedOn = decidedOn;
  return review;
}

/** A score for people: up to 3 decimal places, "0.812". */
export function formatScore(score: number | undefined): string {
  if (score === undefined || !Number.isFinite(score)) return 'not given';
  return String(Math.round(score * 1000) / 1000);
}

/** "Probable match, score 0.812". */
export function gradeAndScore(review: Pick<Review, 'grade' | 'score'>): string {
  return review.score === undefined ? gradeText(review.grade) : `${gradeText(review.grade)}, score ${formatScore(review.score)}`;
}

/** What a decision means, said as the answer to "Are these the same person?". */
export function decisionText(decision: Decision, survivor?: 'new' | 'existing'): string {
  switch (decision) {
    case 'link':
      return 'The same person: the records are linked and shown as one person';
    case 'merge':
      return survivor === 'new'
        ? 'The same person: the records are merged and the new record is kept'
        : survivor === 'existing'
          ? 'The same person: the records are merged and the existing record is kept'
          : 'The same person: the records are merged';
    case 'distinct':
      return 'Different people: the records stay apart';
  }
}

/** Which of the two records a merge kept, if it was one of them. */
export function survivorSide(review: Pick<Review, 'focusId' | 'candidateId' | 'survivorId'>): 'new' | 'existing' | undefined {
  if (review.survivorId === review.focusId) return 'new';
  if (review.survivorId === review.candidateId) return 'existing';
  return undefined;
}

const kKnownLines: Record<string, string> = {
  'a Patient in the same Bundle': 'The two records arrived together, in the same batch of records.',
};

/** The matcher's explanation in words, one sentence a line: how each field compared, the rule and what corroborated. */
export function explanationText(review: Review): {
  compared: string[];
  notCompared: string[];
  rule?: string;
  corroboration?: string;
  others: string[];
} {
  const compared = review.fields
    .filter((f) => f.compared)
    .map((f) => {
      const values =
        f.newValue === f.existingValue
          ? `'${f.newValue}' on both`
          : `'${f.newValue}' on the new record, '${f.existingValue}' on the existing record`;
      const weight =
        f.weight === undefined || f.weight === 0 ? '' : f.weight > 0 ? ': counts towards a match' : ': counts against a match';
      return `${verdictText(f)} (${values})${weight}`;
    });
  const out: ReturnType<typeof explanationText> = {
    compared,
    notCompared: review.fields.filter((f) => !f.compared).map((f) => f.field),
    others: review.otherLines.map((l) => kKnownLines[l] ?? l),
  };
  if (review.rule) out.rule = review.rule;
  if (review.corroboration) out.corroboration = review.corroboration;
  if (review.needsIndexReview) {
    out.others.unshift(
      review.certainMatches
        ? `${review.certainMatches} stored records are certain matches for the new record: the index of people needs review.`
        : 'Several stored records are certain matches for the new record: the index of people needs review.',
    );
  }
  return out;
}

// --- Comparing two Patient records ----------------------------------------------------------------

/** How a detail compares across the two records. */
export type Agreement = 'same' | 'different' | 'partly' | 'only-new' | 'only-existing' | 'neither';

export interface ComparisonRow {
  label: string;
  newValue: string; // as shown; "Not recorded" when the record lacks it
  existingValue: string;
  agreement: Agreement;
}

/** The words for a row's agreement, so a difference is never shown by colour alone. */
export function agreementText(a: Agreement): string {
  switch (a) {
    case 'same':
      return 'Same';
    case 'different':
      return 'Different';
    case 'partly':
      return 'Partly different';
    case 'only-new':
      return 'Only on the new record';
    case 'only-existing':
      return 'Only on the existing record';
    case 'neither':
      return 'Not on either record';
  }
}

interface Identifier {
  system?: string;
  value?: string;
}
interface Telecom {
  system?: string;
  value?: string;
}
interface HumanName {
  use?: string;
  family?: string;
  given?: string[];
  text?: string;
}
interface Address {
  use?: string;
  postalCode?: string;
}

const kNotRecorded = 'Not recorded';
const squash = (s: string) => s.toLowerCase().replace(/\s+/g, ' ').trim();

/** Compares two lists of keys (normalised values): same, different, partly, or on one side only. */
function agreementOf(a: string[], b: string[]): Agreement {
  if (a.length === 0 && b.length === 0) return 'neither';
  if (b.length === 0) return 'only-new';
  if (a.length === 0) return 'only-existing';
  const as = new Set(a);
  const bs = new Set(b);
  const shared = [...as].filter((x) => bs.has(x)).length;
  if (shared === as.size && shared === bs.size) return 'same';
  return shared === 0 ? 'different' : 'partly';
}

function row(label: string, shown: [string[], string[]], keys: [string[], string[]]): ComparisonRow {
  return {
    label,
    newValue: shown[0].length > 0 ? shown[0].join(', ') : kNotRecorded,
    existingValue: shown[1].length > 0 ? shown[1].join(', ') : kNotRecorded,
    agreement: agreementOf(keys[0], keys[1]),
  };
}

function both<T>(a: Resource, b: Resource, f: (p: Resource) => T): [T, T] {
  return [f(a), f(b)];
}

function nameKey(p: Resource): string[] {
  const names = (p.name as HumanName[] | undefined) ?? [];
  const n = names.find((x) => x.use === 'official') ?? names.find((x) => x.use !== 'old') ?? names[0];
  if (!n) return [];
  const key = n.family || (n.given ?? []).length > 0 ? `${n.family ?? ''}|${(n.given ?? []).join(' ')}` : (n.text ?? '');
  return key ? [squash(key)] : [];
}

function mainAddress(p: Resource): Address | undefined {
  const list = (p.address as Address[] | undefined) ?? [];
  return list.find((x) => x.use === 'home') ?? list[0];
}

function telecoms(p: Resource, system: 'phone' | 'email'): string[] {
  const list = (p.telecom as Telecom[] | undefined) ?? [];
  return list.flatMap((t) => (t.system === system && t.value ? [t.value] : []));
}

const phoneKey = (v: string) => v.replace(/\D/g, '').replace(/^44/, '0');

function localIds(p: Resource): Identifier[] {
  const ids = (p.identifier as Identifier[] | undefined) ?? [];
  return ids.filter((i) => i.value && i.system !== kNhsNumberSystem);
}

/** The registered GP practice: its name when known (`practiceNames` by "Organization/id"), else what the reference says. */
function practiceOf(p: Resource, practiceNames: Map<string, string>): { shown: string[]; key: string[] } {
  const ref = practiceReference(p);
  const key = referenceKey(ref?.reference);
  if (!key) return { shown: [], key: [] };
  return { shown: [practiceNames.get(key) ?? ref?.display ?? key], key: [key] };
}

/**
 * The two records side by side: the one that arrived (`newRecord`) and the one that was there first
 * (`existing`), each detail with whether it agrees.
 */
export function comparePatients(
  newRecord: Resource,
  existing: Resource,
  practiceNames: Map<string, string> = new Map(),
): ComparisonRow[] {
  const nhs = both(newRecord, existing, (p) => {
    const n = nhsNumberOf(p);
    return n ? [n.replace(/\s/g, '')] : [];
  });
  const birth = both(newRecord, existing, (p) => (typeof p.birthDate === 'string' && p.birthDate ? [p.birthDate] : []));
  const gender = both(newRecord, existing, (p) => (typeof p.gender === 'string' && p.gender ? [p.gender] : []));
  const address = both(newRecord, existing, (p) => (mainAddress(p) ? [addressOf(p)] : []));
  const postcode = both(newRecord, existing, (p) => {
    const pc = mainAddress(p)?.postalCode;
    return pc ? [pc.toUpperCase()] : [];
  });
  const phones = both(newRecord, existing, (p) => telecoms(p, 'phone'));
  const emails = both(newRecord, existing, (p) => telecoms(p, 'email'));
  const practices = both(newRecord, existing, (p) => practiceOf(p, practiceNames));
  const locals = both(newRecord, existing, localIds);
  const names = both(newRecord, existing, nameKey);
  return [
    row('NHS number', [nhs[0].map(formatNhsNumber), nhs[1].map(formatNhsNumber)], nhs),
    row('Name', [names[0].length ? [patientName(newRecord)] : [], names[1].length ? [patientName(existing)] : []], names),
    row('Date of birth', [birth[0].map((d) => formatBirthDateAndAge(d)), birth[1].map((d) => formatBirthDateAndAge(d))], birth),
    row(
      'Gender',
      [gender[0].length ? [genderText(newRecord)] : [], gender[1].length ? [genderText(existing)] : []],
      gender,
    ),
    row('Address', address, [address[0].map(squash), address[1].map(squash)]),
    row('Postcode', postcode, [postcode[0].map((x) => x.replace(/\s/g, '')), postcode[1].map((x) => x.replace(/\s/g, ''))]),
    row('Phone', phones, [phones[0].map(phoneKey), phones[1].map(phoneKey)]),
    row('Email', emails, [emails[0].map(squash), emails[1].map(squash)]),
    row('GP practice', [practices[0].shown, practices[1].shown], [practices[0].key, practices[1].key]),
    row(
      'Local record numbers',
      [
        locals[0].map((i) => `${i.value ?? ''} (${i.system ?? 'no system given'})`),
        locals[1].map((i) => `${i.value ?? ''} (${i.system ?? 'no system given'})`),
      ],
      [locals[0].map((i) => `${i.system ?? ''}|${i.value ?? ''}`), locals[1].map((i) => `${i.system ?? ''}|${i.value ?? ''}`)],
    ),
  ];
}

/** The practices the two records name ("Organization/id"), to look their names up. */
export function practiceKeys(...patients: Resource[]): string[] {
  const keys = patients.flatMap((p) => {
    const key = referenceKey(practiceReference(p)?.reference);
    return key ? [key] : [];
  });
  return [...new Set(keys)];
}
