import { describe, expect, it } from 'vitest';
import {
  allergyResource,
  bloodPressureResource,
  checkBloodPressure,
  kAllergyChoices,
  kProblemChoices,
  kReactionChoices,
  problemResource,
  recorderOf,
} from '../../src/lib/write';

describe('recording an allergy', () => {
  const penicillin = kAllergyChoices[0]!;
  const anaphylaxis = kReactionChoices[0]!;
  it('attributes it to the signed-in professional', () => {
    expect(recorderOf('http://127.0.0.1:8080/fhir/Practitioner/pr-1')).toEqual({ reference: 'Practitioner/pr-1' });
    expect(recorderOf('http://127.0.0.1:8080/fhir/Patient/1')).toBeUndefined();
    expect(recorderOf(undefined)).toBeUndefined();
  });
  it('is an active, confirmed AllergyIntolerance with a coded substance and reaction', () => {
    const r = allergyResource(
      'p1',
      { substance: penicillin, reaction: anaphylaxis, severity: 'severe' },
      'http://h/fhir/Practitioner/pr-1',
      new Date('2026-11-26T10:00:00Z'),
    );
    expect(r.resourceType).toBe('AllergyIntolerance');
    expect(r.patient).toEqual({ reference: 'Patient/p1' });
    expect(r.recorder).toEqual({ reference: 'Practitioner/pr-1' });
    expect(r.criticality).toBe('high');
    expect(r.recordedDate).toBe('2026-11-26');
    expect(JSON.stringify(r.code)).toContain('91936005');
    expect(JSON.stringify(r.reaction)).toContain('39579001');
  });
  it('marks mild and moderate reactions as low criticality', () => {
    const r = allergyResource('p1', { substance: penicillin, reaction: anaphylaxis, severity: 'mild' }, undefined, new Date());
    expect(r.criticality).toBe('low');
    expect(r.recorder).toBeUndefined();
  });
});

describe('recording a problem and a blood pressure', () => {
  it('puts the problem on the problem list, active and attributed', () => {
    const r = problemResource('p1', kProblemChoices[0]!, '2026-01-15', 'http://h/fhir/Practitioner/pr-1', new Date('2026-11-26T00:00:00Z'));
    expect(r.resourceType).toBe('Condition');
    expect(JSON.stringify(r.category)).toContain('problem-list-item');
    expect(JSON.stringify(r.clinicalStatus)).toContain('"active"');
    expect(r.onsetDateTime).toBe('2026-01-15');
    expect(r.recorder).toEqual({ reference: 'Practitioner/pr-1' });
  });
  it('records a blood pressure as the LOINC panel the trends read', () => {
    const r = bloodPressureResource('p1', 142, 88, undefined, new Date('2026-11-26T10:00:00Z'));
    expect(JSON.stringify(r.code)).toContain('85354-9');
    expect(JSON.stringify(r.component)).toContain('"value":142');
    expect(JSON.stringify(r.component)).toContain('"value":88');
  });
  it('refuses impossible readings with a reason', () => {
    expect(checkBloodPressure('142', '88')).toBeNull();
    expect(checkBloodPressure('abc', '88')).toMatch(/systolic/);
    expect(checkBloodPressure('142', '10')).toMatch(/diastolic/);
    expect(checkBloodPressure('80', '90')).toMatch(/lower/);
  });
});
