import { describe, expect, it } from 'vitest';
import type { Resource } from '../../src/lib/fhir';
import {
  agreementText,
  comparePatients,
  decisionParameters,
  decisionText,
  explanationText,
  formatScore,
  gradeAndScore,
  isReviewTask,
  nextPagePath,
  parseReview,
  practiceKeys,
  queueQuery,
  survivorSide,
} from '../../src/lib/review';

const kSystem = 'https://ucr.nhs.example/fhir/CodeSystem/identity-operation';

/** The shape the server gives a review Task (src/api/detail/identity.cpp, review_task). */
const sample = (): Resource => ({
  resourceType: 'Task',
  id: 'T1',
  meta: { versionId: '1', lastUpdated: '2026-11-26T10:00:00.000Z' },
  status: 'requested',
  intent: 'order',
  priority: 'routine',
  code: { coding: [{ system: kSystem, code: 'review-match', display: 'Review a possible duplicate record' }] },
  description:
    'Patient/AAA may be the same person as Patient/BBB (score 0.8123, probable).\n' +
    "family_name: exact ('smith' / 'smith', +4.10)\n" +
    "given_name: nickname ('bill' / 'william', +2.00)\n" +
    "birth_date: exact ('1970-03-12' / '1970-03-12', +6.20)\n" +
    "postcode: different ('CT9 1AA' / 'ME14 5AB', -2.10)\n" +
    "phone: missing ('' / '07700900970', +0.00)\n" +
    'rule: no NHS number match and no address (current or previous), phone, e-mail or local id agrees\n' +
    'corroboration: previous address\n',
  focus: { reference: 'Patient/AAA' },
  for: { reference: 'Patient/AAA' },
  authoredOn: '2026-11-26T10:00:00.000Z',
  input: [
    { type: { text: 'candidate' }, valueReference: { reference: 'Patient/BBB' } },
    { type: { text: 'score' }, valueDecimal: 0.8123 },
    { type: { text: 'grade' }, valueCode: 'probable' },
  ],
});

describe('the review queue', () => {
  it('asks for the open reviews oldest first, and the decided ones newest first', () => {
    expect(queueQuery('waiting')).toEqual({
      code: `${kSystem}|review-match`,
      status: 'requested',
      _sort: 'authored-on',
      _count: '20',
    });
    expect(queueQuery('decided', 10)).toEqual({
      code: `${kSystem}|review-match`,
      status: 'completed',
      _sort: '-_lastUpdated',
      _count: '10',
    });
  });
  it('follows the next link of a page, relative to the FHIR base', () => {
    const bundle = {
      resourceType: 'Bundle',
      link: [
        { relation: 'self', url: 'http://127.0.0.1:8080/fhir/Task?status=requested' },
        { relation: 'next', url: 'http://127.0.0.1:8080/fhir/Task?status=requested&_after=%5B1%5D' },
      ],
    };
    expect(nextPagePath(bundle, 'http://127.0.0.1:8080/fhir')).toBe('Task?status=requested&_after=%5B1%5D');
    // The server named itself differently (a proxy in front): the path is kept.
    expect(nextPagePath(bundle, 'https://ucr.example/fhir')).toBe('Task?status=requested&_after=%5B1%5D');
    expect(nextPagePath({ resourceType: 'Bundle', link: [bundle.link[0]] }, 'http://127.0.0.1:8080/fhir')).toBeUndefined();
    expect(nextPagePath({ resourceType: 'Bundle' }, 'http://127.0.0.1:8080/fhir')).toBeUndefined();
    expect(
      nextPagePath({ resourceType: 'Bundle', link: [{ relation: 'next', url: 'https://elsewhere.example/other/Task' }] }, 'http://a/fhir'),
    ).toBeUndefined();
  });
});

describe('reading a review Task', () => {
  it('reads the two records, the score, the grade and each field with both values', () => {
    const r = parseReview(sample());
    expect(r).not.toBeNull();
    if (!r) return;
    expect(r.id).toBe('T1');
    expect(r.focusId).toBe('AAA');
    expect(r.candidateId).toBe('BBB');
    expect(r.score).toBe(0.8123);
    expect(r.grade).toBe('probable');
    expect(r.status).toBe('requested');
    expect(r.authoredOn).toBe('2026-11-26T10:00:00.000Z');
    expect(r.decision).toBeUndefined();
    expect(r.fields).toHaveLength(5);
    expect(r.fields[1]).toEqual({
      code: 'given_name',
      field: 'First name',
      verdict: 'nickname',
      newValue: 'bill',
      existingValue: 'william',
      weight: 2,
      compared: true,
    });
    expect(r.fields[3]?.weight).toBe(-2.1);
    expect(r.fields[4]).toMatchObject({ field: 'Phone', compared: false, existingValue: '07700900970' });
    expect(r.rule).toBe('no NHS number match and no address (current or previous), phone, e-mail or local id agrees');
    expect(r.corroboration).toBe('previous address');
    expect(r.needsIndexReview).toBe(false);
    expect(r.otherLines).toEqual([]);
  });

  it('says in words how each field compared, what was not compared, the rule and the corroboration', () => {
    const r = parseReview(sample());
    if (!r) throw new Error('not parsed');
    const words = explanationText(r);
    expect(words.compared).toEqual([
      "Last name agrees ('smith' on both): counts towards a match",
      "First name: nickname ('bill' on the new record, 'william' on the existing record): counts towards a match",
      "Date of birth agrees ('1970-03-12' on both): counts towards a match",
      "Postcode: different ('CT9 1AA' on the new record, 'ME14 5AB' on the existing record): counts against a match",
    ]);
    expect(words.notCompared).toEqual(['Phone']);
    expect(words.rule).toMatch(/^no NHS number match/);
    expect(words.corroboration).toBe('previous address');
    expect(gradeAndScore(r)).toBe('Probable match, score 0.812');
  });

  it('uses the same words as the $match results for the levels it knows', () => {
    const t = sample();
    t.description =
      'Patient/AAA may be the same person as Patient/BBB (score 0.5, possible).\n' +
      "birth_date: transposed ('1970-12-03' / '1970-03-12', +3.00)\n" +
      "family_name: disagree ('smith' / 'jones', -5.00)\n";
    const r = parseReview(t);
    if (!r) throw new Error('not parsed');
    expect(explanationText(r).compared).toEqual([
      "Date of birth has day and month swapped ('1970-12-03' on the new record, '1970-03-12' on the existing record): counts towards a match",
      "Last name differs ('smith' on the new record, 'jones' on the existing record): counts against a match",
    ]);
  });

  it('notices when the index itself needs review, and keeps lines of no known form', () => {
    const t = sample();
    t.description =
      'Patient/AAA may be the same person as Patient/BBB (score 0.9980, probable).\n' +
      'a Patient in the same Bundle\n' +
      '3 records are certain matches: the index needs review\n';
    const r = parseReview(t);
    if (!r) throw new Error('not parsed');
    expect(r.needsIndexReview).toBe(true);
    expect(r.certainMatches).toBe(3);
    expect(r.otherLines).toEqual(['a Patient in the same Bundle']);
    expect(explanationText(r).others).toEqual([
      '3 stored records are certain matches for the new record: the index of people needs review.',
      'The two records arrived together, in the same batch of records.',
    ]);
  });

  it('reads a decided review: the decision, the record kept, who decided and when, and the notes', () => {
    const t = {
      ...sample(),
      status: 'completed',
      businessStatus: { text: 'The same person: one record replaces the other' },
      output: [
        { type: { text: 'decision' }, valueCode: 'merge' },
        { type: { text: 'survivor' }, valueReference: { reference: 'Patient/BBB' } },
        { type: { text: 'merged-record-was-active' }, valueBoolean: true },
      ],
      owner: { reference: 'Practitioner/p1', display: 'Jo Bloggs' },
      executionPeriod: { end: '2026-11-27T09:30:00.000Z' },
      lastModified: '2026-11-27T09:30:00.000Z',
      note: [
        { time: '2026-11-27T09:00:00.000Z', text: 'Different people: the records stay apart', authorString: 'Sam Smith' },
        { time: '2026-11-27T09:30:00.000Z', text: 'Decision changed.\nSame GP', authorString: 'Jo Bloggs' },
        { text: '' },
        'not a note',
      ],
    };
    const r = parseReview(t);
    if (!r) throw new Error('not parsed');
    expect(r.status).toBe('completed');
    expect(r.decision).toBe('merge');
    expect(r.survivorId).toBe('BBB');
    expect(survivorSide(r)).toBe('existing');
    expect(r.outcome).toBe('The same person: one record replaces the other');
    expect(r.decidedBy).toBe('Jo Bloggs');
    expect(r.decidedOn).toBe('2026-11-27T09:30:00.000Z');
    expect(r.notes).toEqual([
      { time: '2026-11-27T09:00:00.000Z', text: 'Different people: the records stay apart', author: 'Sam Smith' },
      { time: '2026-11-27T09:30:00.000Z', text: 'Decision changed.\nSame GP', author: 'Jo Bloggs' },
    ]);
  });

  it('turns away what is not a review, and reads a malformed one without throwing', () => {
    expect(parseReview(null)).toBeNull();
    expect(parseReview('Task')).toBeNull();
    expect(parseReview({ resourceType: 'Patient', id: 'x' })).toBeNull();
    expect(isReviewTask({ ...sample(), code: { coding: [{ system: kSystem, code: 'something-else' }] } })).toBe(false);
    expect(isReviewTask({ ...sample(), code: 'review-match' })).toBe(false);
    // No candidate, or no focus: there is nothing to compare.
    expect(parseReview({ ...sample(), input: [] })).toBeNull();
    expect(parseReview({ ...sample(), input: 'x' })).toBeNull();
    expect(parseReview({ ...sample(), focus: { reference: 'Organization/1' }, for: undefined })).toBeNull();
    expect(parseReview({ ...sample(), id: undefined })).toBeNull();
    // Everything else may be missing or odd: the review is still read.
    const odd = parseReview({
      ...sample(),
      description: 42,
      status: undefined,
      input: [
        { type: { text: 'candidate' }, valueReference: { reference: 'Patient/BBB' } },
        { type: { text: 'grade' }, valueCode: 'very-likely' },
        { type: { text: 'score' }, valueDecimal: 'high' },
        null,
        { type: 'score' },
      ],
      output: [{ type: { text: 'decision' }, valueCode: 'delete-both' }],
      note: { text: 'not a list' },
      owner: 'someone',
    });
    expect(odd).toMatchObject({ id: 'T1', focusId: 'AAA', candidateId: 'BBB', grade: 'unknown', status: 'unknown', notes: [] });
    expect(odd?.score).toBeUndefined();
    expect(odd?.decision).toBeUndefined();
    expect(odd?.decidedBy).toBeUndefined();
    expect(odd && explanationText(odd).compared).toEqual([]);
    // A field line with a field code the app does not know is kept as it was written.
    const unknown = parseReview({
      ...sample(),
      description: "first line without a score\nshoe_size: exact ('9' / '9', +1.00)\nfamily_name: exact ('a' / 'a')\n",
    });
    expect(unknown?.score).toBe(0.8123); // from the input
    expect(unknown?.fields).toEqual([]);
    expect(unknown?.otherLines).toEqual(["shoe_size: exact ('9' / '9', +1.00)", "family_name: exact ('a' / 'a')"]);
    expect(formatScore(undefined)).toBe('not given');
    expect(gradeAndScore({ grade: 'unknown' })).toBe('Match not graded');
  });
});

describe('a decision', () => {
  it('is sent as Parameters with the note', () => {
    expect(decisionParameters('distinct', { note: '  Different mothers’ names  ' })).toEqual({
      resourceType: 'Parameters',
      parameter: [
        { name: 'decision', valueCode: 'distinct' },
        { name: 'note', valueString: 'Different mothers’ names' },
      ],
    });
    expect(decisionParameters('link', { note: '   ' })).toEqual({
      resourceType: 'Parameters',
      parameter: [{ name: 'decision', valueCode: 'link' }],
    });
  });
  it('names the record kept only for a merge, and never sends more than 2000 characters of note', () => {
    const merge = decisionParameters('merge', { survivorId: 'AAA', note: 'x'.repeat(2500) });
    const params = merge.parameter as { name: string; valueString?: string; valueReference?: unknown }[];
    expect(params[1]).toEqual({ name: 'survivor', valueReference: { reference: 'Patient/AAA' } });
    expect(params[2]?.valueString).toHaveLength(2000);
    const link = decisionParameters('link', { survivorId: 'AAA' });
    expect((link.parameter as { name: string }[]).map((p) => p.name)).toEqual(['decision']);
  });
  it('is said in plain English', () => {
    expect(decisionText('link')).toBe('The same person: the records are linked and shown as one person');
    expect(decisionText('merge', 'existing')).toBe('The same person: the records are merged and the existing record is kept');
    expect(decisionText('merge', 'new')).toBe('The same person: the records are merged and the new record is kept');
    expect(decisionText('distinct')).toBe('Different people: the records stay apart');
    expect(survivorSide({ focusId: 'A', candidateId: 'B', survivorId: 'A' })).toBe('new');
    expect(survivorSide({ focusId: 'A', candidateId: 'B' })).toBeUndefined();
  });
});

describe('comparing two records side by side', () => {
  const arrived: Resource = {
    resourceType: 'Patient',
    id: 'AAA',
    identifier: [
      { system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9434765919' },
      { system: 'https://example.org/hospital-mrn', value: 'H123456' },
    ],
    name: [{ use: 'official', family: 'Smith', given: ['Bill'] }],
    birthDate: '1970-03-12',
    gender: 'male',
    address: [{ use: 'home', line: ['1 New Street'], city: 'Margate', postalCode: 'CT9 1AA' }],
    telecom: [
      { system: 'phone', value: '+44 7700 900970' },
      { system: 'email', value: 'Bill@Example.org' },
    ],
    generalPractitioner: [{ reference: 'Organization/g1' }],
  };
  const stored: Resource = {
    resourceType: 'Patient',
    id: 'BBB',
    identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9434765919' }],
    name: [{ use: 'official', family: 'SMITH', given: ['William'] }],
    birthDate: '1970-03-12',
    gender: 'male',
    address: [{ use: 'home', line: ['97 Grove Road'], city: 'Maidstone', postalCode: 'ME14 5AB' }],
    telecom: [
      { system: 'phone', value: '07700 900970' },
      { system: 'phone', value: '01622 000000' },
      { system: 'email', value: 'bill@example.org' },
    ],
    generalPractitioner: [{ reference: 'Organization/g1' }],
  };

  it('shows every detail of both records and says in words where they differ', () => {
    const rows = comparePatients(arrived, stored, new Map([['Organization/g1', 'Chatham Health Centre']]));
    const by = Object.fromEntries(rows.map((r) => [r.label, r]));
    expect(rows.map((r) => r.label)).toEqual([
      'NHS number',
      'Name',
      'Date of birth',
      'Gender',
      'Address',
      'Postcode',
      'Phone',
      'Email',
      'GP practice',
      'Local record numbers',
    ]);
    expect(by['NHS number']).toMatchObject({ newValue: '943 476 5919', existingValue: '943 476 5919', agreement: 'same' });
    expect(by.Name).toMatchObject({ newValue: 'SMITH, Bill', existingValue: 'SMITH, William', agreement: 'different' });
    expect(by['Date of birth']?.agreement).toBe('same');
    expect(by['Date of birth']?.newValue).toMatch(/^12 March 1970 \(\d+ years\)$/);
    expect(by.Gender).toMatchObject({ newValue: 'Male', agreement: 'same' });
    expect(by.Address).toMatchObject({ newValue: '1 New Street, Margate, CT9 1AA', agreement: 'different' });
    expect(by.Postcode).toMatchObject({ newValue: 'CT9 1AA', existingValue: 'ME14 5AB', agreement: 'different' });
    // One phone number is on both (written differently), the other only on the stored record.
    expect(by.Phone).toMatchObject({ existingValue: '07700 900970, 01622 000000', agreement: 'partly' });
    expect(by.Email?.agreement).toBe('same'); // case does not count
    expect(by['GP practice']).toMatchObject({ newValue: 'Chatham Health Centre', agreement: 'same' });
    expect(by['Local record numbers']).toMatchObject({
      newValue: 'H123456 (https://example.org/hospital-mrn)',
      existingValue: 'Not recorded',
      agreement: 'only-new',
    });
    expect(agreementText('only-new')).toBe('Only on the new record');
    expect(agreementText('different')).toBe('Different');
  });

  it('copes with records that hold next to nothing', () => {
    const rows = comparePatients({ resourceType: 'Patient' }, { resourceType: 'Patient', gender: 'female' });
    const by = Object.fromEntries(rows.map((r) => [r.label, r]));
    expect(by['NHS number']).toMatchObject({ newValue: 'Not recorded', existingValue: 'Not recorded', agreement: 'neither' });
    expect(by.Gender).toMatchObject({ newValue: 'Not recorded', existingValue: 'Female', agreement: 'only-existing' });
    expect(by.Name?.agreement).toBe('neither');
    expect(by['GP practice']?.agreement).toBe('neither');
    expect(agreementText('neither')).toBe('Not on either record');
  });

  it('finds the practices to look up, once each', () => {
    expect(practiceKeys(arrived, stored, { resourceType: 'Patient' })).toEqual(['Organization/g1']);
  });
});
