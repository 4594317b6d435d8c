import { describe, expect, it } from 'vitest';
import type { Resource } from '../../src/lib/fhir';
import { amendedStatus, checkVital, correctedValue, enteredInError, kVitalSigns, vitalResource } from '../../src/lib/write';

const sign = (id: string) => kVitalSigns.find((s) => s.id === id)!;
const now = new Date('2026-11-26T10:00:00Z');
const gp = 'https://ucr.example/fhir/Practitioner/p1';

describe('recording other observations', () => {
  it('codes each sign in LOINC with a UCUM unit', () => {
    const byId = Object.fromEntries(kVitalSigns.map((s) => [s.id, [s.loinc, s.ucum]]));
    expect(byId).toEqual({
      pulse: ['8867-4', '/min'],
      temperature: ['8310-5', 'Cel'],
      'respiratory-rate': ['9279-1', '/min'],
      spo2: ['59408-5', '%'],
      weight: ['29463-7', 'kg'],
      height: ['8302-2', 'cm'],
    });
  });
  it('accepts values a person can have and refuses the rest before anything is sent', () => {
    expect(checkVital(sign('pulse'), '72')).toBeNull();
    expect(checkVital(sign('pulse'), '72.5')).toMatch(/whole number from 20 to 250/);
    expect(checkVital(sign('pulse'), '300')).toMatch(/pulse/);
    expect(checkVital(sign('temperature'), '37.2')).toBeNull();
    expect(checkVital(sign('temperature'), '37.25')).toMatch(/up to 1 decimal place from 30 to 45/);
    expect(checkVital(sign('temperature'), '99')).not.toBeNull(); // Fahrenheit by mistake
    expect(checkVital(sign('spo2'), '101')).not.toBeNull();
    expect(checkVital(sign('spo2'), '96')).toBeNull();
    expect(checkVital(sign('weight'), '')).not.toBeNull();
    expect(checkVital(sign('weight'), '-3')).not.toBeNull();
    expect(checkVital(sign('height'), '1e2')).not.toBeNull();
  });
  it('builds a vital-signs Observation performed by the signed-in professional', () => {
    const o = vitalResource('pat1', sign('temperature'), 38.4, gp, now);
    expect(o).toMatchObject({
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '8310-5' }] },
      subject: { reference: 'Patient/pat1' },
      effectiveDateTime: '2026-11-26T10:00:00.000Z',
      valueQuantity: { value: 38.4, system: 'http://unitsofmeasure.org', code: 'Cel' },
      performer: [{ reference: 'Practitioner/p1' }],
    });
    expect((o.category as { coding: { code: string }[] }[])[0]?.coding[0]?.code).toBe('vital-signs');
  });
});

describe('correcting entries', () => {
  const allergy: Resource = {
    resourceType: 'AllergyIntolerance',
    id: 'a1',
    meta: { versionId: '1' },
    clinicalStatus: { coding: [{ code: 'active' }] },
    verificationStatus: { coding: [{ code: 'confirmed' }] },
    code: { text: 'Latex allergy' },
    patient: { reference: 'Patient/pat1' },
  };
  it('marks a condition or allergy entered in error in verificationStatus, with no clinicalStatus (con-5, ait-2)', () => {
    const out = enteredInError(allergy, 'wrong patient', gp, now);
    expect(out.clinicalStatus).toBeUndefined();
    expect(out.verificationStatus).toEqual({
      coding: [
        {
          system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-verification',
          code: 'entered-in-error',
          display: 'Entered in Error',
        },
      ],
    });
    expect(out.note).toEqual([
      { text: 'Entered in error: wrong patient', time: '2026-11-26T10:00:00.000Z', authorReference: { reference: 'Practitioner/p1' } },
    ]);
    expect(allergy.clinicalStatus).toBeDefined(); // the original is left alone
  });
  it('marks an observation entered in error in its status', () => {
    const o: Resource = { resourceType: 'Observation', id: 'o1', status: 'final', valueQuantity: { value: 72, unit: '/min' } };
    expect(enteredInError(o, 'another patient\'s reading', gp, now).status).toBe('entered-in-error');
  });
  it('amends a problem to resolved with the day it ended, keeping earlier notes', () => {
    const problem: Resource = {
      resourceType: 'Condition',
      id: 'c1',
      clinicalStatus: { coding: [{ code: 'active' }] },
      note: [{ text: 'first note' }],
    };
    const out = amendedStatus(problem, 'resolved', 'treated', gp, now);
    expect((out.clinicalStatus as { coding: { code: string; system: string }[] }).coding[0]).toMatchObject({
      code: 'resolved',
      system: 'http://terminology.hl7.org/CodeSystem/condition-clinical',
    });
    expect(out.abatementDateTime).toBe('2026-11-26');
    expect((out.note as { text: string }[]).map((n) => n.text)).toEqual(['first note', 'Amended: treated']);
  });
  it('corrects an observation\'s value and sets status corrected', () => {
    const o: Resource = { resourceType: 'Observation', id: 'o1', status: 'final', valueQuantity: { value: 27, unit: 'kg', code: 'kg' } };
    const out = correctedValue(o, 72, 'typed 27 for 72', gp, now);
    expect(out.status).toBe('corrected');
    expect(out.valueQuantity).toEqual({ value: 72, unit: 'kg', code: 'kg' });
  });
});
