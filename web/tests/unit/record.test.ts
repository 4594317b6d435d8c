import { describe, expect, it } from 'vitest';
import type { Resource } from '../../src/lib/fhir';
import { outcomeText } from '../../src/lib/fhir';
import {
  addressOf,
  criticalFlags,
  nhsNumberOf,
  patientName,
  provenanceOf,
  replacedBy,
  sortAllergies,
  sortMedicines,
  sortProblems,
} from '../../src/lib/record';

const patient: Resource = {
  resourceType: 'Patient',
  id: '1',
  name: [{ use: 'official', family: 'Example', given: ['Ann', 'May'], prefix: ['Mrs'] }],
  identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9990000018' }],
  address: [{ use: 'home', line: ['1 High Street'], city: 'Maidstone', postalCode: 'ME14 1AA' }],
};

const concept = (system: string, code: string, display: string) => ({ coding: [{ system, code, display }] });

describe('record display', () => {
  it('writes the name family first in capitals, with the title', () => {
    expect(patientName(patient)).toBe('EXAMPLE, Ann May (Mrs)');
  });
  it('finds the NHS number and the home address', () => {
    expect(nhsNumberOf(patient)).toBe('9990000018');
    expect(addressOf(patient)).toBe('1 High Street, Maidstone, ME14 1AA');
  });
  it('puts allergies first, then child protection, end of life, reasonable adjustments, communication', () => {
    const flag = (code: string, display: string, status = 'active'): Resource => ({
      resourceType: 'Flag',
      status,
      code: concept('https://example.org/demo', code, display),
    });
    const allergy: Resource = {
      resourceType: 'AllergyIntolerance',
      clinicalStatus: concept('x', 'active', 'Active'),
      code: concept('http://snomed.info/sct', '91936005', 'Allergy to penicillin'),
      reaction: [{ manifestation: [concept('http://snomed.info/sct', '39579001', 'Anaphylaxis')], severity: 'severe' }],
    };
    const flags = criticalFlags(
      [allergy],
      [
        flag('interpreter-required', 'Interpreter required: Polish'),
        flag('dnacpr', 'DNACPR decision in place'),
        flag('child-protection-plan', 'Subject of a child protection plan', 'inactive'),
        flag('reasonable-adjustment-learning-disability', 'Reasonable adjustments: learning disability'),
      ],
    );
    expect(flags.map((f) => f.kind)).toEqual(['allergy', 'end-of-life', 'learning-disability', 'communication']);
    expect(flags[0]?.detail).toBe('Allergy to penicillin: Anaphylaxis (severe)');
  });
  it('says who recorded an item and when it was last updated', () => {
    const known = new Map<string, Resource>([
      ['Practitioner/p1', { resourceType: 'Practitioner', id: 'p1', name: [{ prefix: ['Dr'], given: ['Sam'], family: 'Jones' }] }],
    ]);
    const condition: Resource = {
      resourceType: 'Condition',
      recorder: { reference: 'Practitioner/p1' },
      meta: { lastUpdated: '2026-01-02T03:04:05Z', source: 'urn:system:gp' },
    };
    expect(provenanceOf(condition, known)).toEqual({
      recordedBy: 'Dr Sam Jones',
      source: 'urn:system:gp',
      lastUpdated: '2026-01-02T03:04:05Z',
    });
    const organisationOf = new Map([['Practitioner/p1', 'Chatham Health Centre']]);
    expect(provenanceOf(condition, known, organisationOf).recordedBy).toBe('Dr Sam Jones, Chatham Health Centre');
  });
  it('lists active problems before resolved ones, newest first', () => {
    const c = (id: string, status: string, onset: string): Resource => ({
      resourceType: 'Condition',
      id,
      clinicalStatus: concept('x', status, status),
      onsetDateTime: onset,
    });
    const sorted = sortProblems([c('a', 'resolved', '2025-01-01'), c('b', 'active', '2010-01-01'), c('c', 'active', '2020-01-01')]);
    expect(sorted.map((x) => x.id)).toEqual(['c', 'b', 'a']);
  });
  it('reads the reason out of an OperationOutcome', () => {
    expect(outcomeText({ resourceType: 'OperationOutcome', issue: [{ diagnostics: 'no care relationship' }] })).toBe(
      'no care relationship',
    );
  });
});

describe('ordering by clinical relevance', () => {
  it('puts high-criticality allergies first, then the newest', () => {
    const a = (id: string, criticality: string, recordedDate: string): Resource => ({
      resourceType: 'AllergyIntolerance',
      id,
      criticality,
      recordedDate,
    });
    const sorted = sortAllergies([a('old-low', 'low', '2001-01-01'), a('new-low', 'low', '2020-01-01'), a('high', 'high', '1999-01-01')]);
    expect(sorted.map((x) => x.id)).toEqual(['high', 'new-low', 'old-low']);
  });
  it('lists prescribed medicines before reported ones, by name', () => {
    const m = (resourceType: string, text: string): Resource => ({ resourceType, medicationCodeableConcept: { text } });
    const sorted = sortMedicines([m('MedicationStatement', 'Aspirin'), m('MedicationRequest', 'Ramipril'), m('MedicationRequest', 'Amlodipine')]);
    expect(sorted.map((x) => (x.medicationCodeableConcept as { text: string }).text)).toEqual(['Amlodipine', 'Ramipril', 'Aspirin']);
  });
});

describe('replacedBy', () => {
  it('names the record that replaced a merged-away one', () => {
    const merged: Resource = {
      resourceType: 'Patient',
      active: false,
      link: [
        { type: 'seealso', other: { reference: 'Patient/other-source' } },
        { type: 'replaced-by', other: { reference: 'Patient/survivor-1' } },
      ],
    };
    expect(replacedBy(merged)).toBe('survivor-1');
    const absolute: Resource = {
      resourceType: 'Patient',
      link: [{ type: 'replaced-by', other: { reference: 'https://ucr.example/fhir/Patient/abc' } }],
    };
    expect(replacedBy(absolute)).toBe('abc');
  });
  it('is undefined for a current record, a record that replaces others, or a malformed link', () => {
    expect(replacedBy({ resourceType: 'Patient' })).toBeUndefined();
    expect(replacedBy({ resourceType: 'Patient', link: [{ type: 'replaces', other: { reference: 'Patient/x' } }] })).toBeUndefined();
    expect(replacedBy({ resourceType: 'Patient', link: [{ type: 'replaced-by', other: { reference: 'Organization/x' } }] })).toBeUndefined();
    expect(replacedBy({ resourceType: 'Patient', link: [{ type: 'replaced-by' }] })).toBeUndefined();
  });
});
