import { describe, expect, it } from 'vitest';
import type { Resource } from '../../src/lib/fhir';
import {
  abnormalFlag,
  correctionNote,
  criticalFlags,
  isCorrected,
  isEnteredInError,
  sortAllergies,
  sortMedicines,
  sortProblems,
  sortResults,
  sourceOrganisation,
  statusText,
  withoutEnteredInError,
} from '../../src/lib/record';

const status = (system: string, code: string) => ({ coding: [{ system, code }] });
const kClinical = 'http://terminology.hl7.org/CodeSystem/condition-clinical';
const kSeverity = (code: string) => ({ coding: [{ system: 'http://snomed.info/sct', code }] });

const problem = (id: string, clinical: string, onset: string, severity?: string): Resource => ({
  resourceType: 'Condition',
  id,
  clinicalStatus: status(kClinical, clinical),
  onsetDateTime: onset,
  ...(severity ? { severity: kSeverity(severity) } : {}),
});

const result = (id: string, date: string, interpretation?: string): Resource => ({
  resourceType: 'Observation',
  id,
  status: 'final',
  effectiveDateTime: date,
  ...(interpretation
    ? { interpretation: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation', code: interpretation }] }] }
    : {}),
});

const ids = (rs: Resource[]) => rs.map((r) => r.id);

describe('clinical relevance ordering', () => {
  it('puts active problems before resolved ones, the most severe first, then the most recent', () => {
    const list = [
      problem('resolved-new', 'resolved', '2025-01-01', '24484000'),
      problem('active-mild-new', 'active', '2025-01-01', '255604002'),
      problem('active-severe-old', 'active', '2001-01-01', '24484000'),
      problem('active-unknown-new', 'active', '2024-06-01'),
      problem('active-moderate-old', 'active', '2010-01-01', '6736007'),
    ];
    expect(ids(sortProblems(list))).toEqual([
      'active-severe-old',
      'active-moderate-old',
      'active-mild-new',
      'active-unknown-new',
      'resolved-new',
    ]);
  });

  it('puts active high-criticality allergies first and resolved ones last', () => {
    const allergy = (id: string, criticality: string, clinical: string, recorded: string): Resource => ({
      resourceType: 'AllergyIntolerance',
      id,
      criticality,
      clinicalStatus: status('http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', clinical),
      recordedDate: recorded,
    });
    const list = [
      allergy('low-new', 'low', 'active', '2025-01-01'),
      allergy('high-resolved', 'high', 'resolved', '2025-02-01'),
      allergy('high-old', 'high', 'active', '2001-01-01'),
    ];
    expect(ids(sortAllergies(list))).toEqual(['high-old', 'low-new', 'high-resolved']);
  });

  it('puts current medicines before stopped ones, prescriptions before reported ones', () => {
    const med = (id: string, type: string, st: string, name: string): Resource => ({
      resourceType: type,
      id,
      status: st,
      medicationCodeableConcept: { text: name },
    });
    const list = [
      med('stopped', 'MedicationRequest', 'stopped', 'Aspirin'),
      med('reported', 'MedicationStatement', 'active', 'Atenolol'),
      med('current', 'MedicationRequest', 'active', 'Metformin'),
      med('completed', 'MedicationRequest', 'completed', 'Amoxicillin'),
    ];
    expect(ids(sortMedicines(list))).toEqual(['current', 'reported', 'completed', 'stopped']);
  });

  it('flags abnormal results and puts them first, critical ones before the rest', () => {
    const list = [
      result('normal-new', '2025-05-01', 'N'),
      result('high-old', '2020-01-01', 'H'),
      result('none', '2025-06-01'),
      result('low-new', '2025-04-01', 'L'),
      result('critical', '2019-01-01', 'LL'),
      result('abnormal', '2018-01-01', 'A'),
    ];
    expect(ids(sortResults(list))).toEqual(['critical', 'low-new', 'high-old', 'abnormal', 'none', 'normal-new']);
    expect(abnormalFlag(list[1] as Resource)).toBe('High');
    expect(abnormalFlag(list[4] as Resource)).toBe('Critically low');
    expect(abnormalFlag(list[0] as Resource)).toBe('');
  });
});

describe('corrected entries', () => {
  const wrong: Resource = {
    resourceType: 'AllergyIntolerance',
    id: 'a1',
    meta: { versionId: '2' } as never,
    verificationStatus: status('http://terminology.hl7.org/CodeSystem/allergyintolerance-verification', 'entered-in-error'),
    code: { text: 'Latex allergy' },
    note: [{ text: 'Entered in error: wrong patient' }],
  };
  it('knows entries entered in error by verification status or status', () => {
    expect(isEnteredInError(wrong)).toBe(true);
    expect(isEnteredInError(result('o', '2025-01-01'))).toBe(false);
    expect(isEnteredInError({ ...result('o', '2025-01-01'), status: 'entered-in-error' })).toBe(true);
    expect(statusText(wrong)).toBe('Entered in error');
    expect(correctionNote(wrong)).toBe('Entered in error: wrong patient');
  });
  it('knows amended entries by a later version or a corrected status', () => {
    expect(isCorrected({ ...result('o', '2025-01-01'), status: 'corrected' })).toBe(true);
    expect(isCorrected({ ...problem('p', 'resolved', '2020'), meta: { versionId: '2' } as never })).toBe(true);
    expect(isCorrected({ ...problem('p', 'active', '2020'), meta: { versionId: '1' } as never })).toBe(false);
    expect(isCorrected(wrong)).toBe(false); // shown as entered in error instead
  });
  it('hides entries entered in error from the summary and counts them; no allergy flag for them', () => {
    const summary = { allergies: [wrong], conditions: [problem('p', 'active', '2020')], other: 1 };
    const { summary: shown, hidden } = withoutEnteredInError(summary, ['allergies', 'conditions']);
    expect(hidden).toBe(1);
    expect(shown.allergies).toEqual([]);
    expect(shown.conditions).toHaveLength(1);
    expect(shown.other).toBe(1);
    expect(criticalFlags([wrong], [])).toEqual([]);
  });
});

describe('source organisation', () => {
  const known = new Map<string, Resource>([
    ['Organization/o1', { resourceType: 'Organization', id: 'o1', name: 'William Harvey Hospital' }],
    ['Practitioner/p1', { resourceType: 'Practitioner', id: 'p1', name: [{ family: 'Lee' }] }],
  ]);
  it('is the provider, the custodian, or the recorder\'s organisation', () => {
    expect(sourceOrganisation({ resourceType: 'Encounter', serviceProvider: { reference: 'Organization/o1' } }, known)).toBe(
      'William Harvey Hospital',
    );
    expect(sourceOrganisation({ resourceType: 'DocumentReference', custodian: { reference: 'Organization/o1' } }, known)).toBe(
      'William Harvey Hospital',
    );
    expect(
      sourceOrganisation(
        { resourceType: 'Condition', recorder: { reference: 'Practitioner/p1' } },
        known,
        new Map([['Practitioner/p1', 'Kent Surgery']]),
      ),
    ).toBe('Kent Surgery');
    expect(sourceOrganisation({ resourceType: 'Condition' }, known)).toBe('');
  });
});
