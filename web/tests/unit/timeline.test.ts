import { describe, expect, it } from 'vitest';
import { timelineOf } from '../../src/lib/timeline';

const code = (display: string) => ({ coding: [{ display }] });

describe('timeline', () => {
  it('merges every kind of event, newest first', () => {
    const t = timelineOf({
      encounters: [{ resourceType: 'Encounter', id: 'e', type: [code('GP consultation')], period: { start: '2024-05-01T09:00:00Z' } }],
      conditions: [{ resourceType: 'Condition', id: 'c', code: code('Asthma'), onsetDateTime: '2010-03-01' }],
      medications: [{ resourceType: 'MedicationRequest', id: 'm', medicationCodeableConcept: { text: 'Salbutamol' }, authoredOn: '2024-05-01' }],
      observations: [{ resourceType: 'Observation', id: 'o', code: code('HbA1c'), effectiveDateTime: '2025-01-01T09:30:00Z' }],
      immunisations: [{ resourceType: 'Immunization', id: 'i', vaccineCode: code('Influenza vaccine'), occurrenceDateTime: '2023-10-01' }],
      carePlans: [],
      allergies: [{ resourceType: 'AllergyIntolerance', id: 'a', code: code('Allergy to penicillin'), recordedDate: '2001-01-01' }],
    });
    expect(t.map((e) => e.kind)).toEqual(['Result', 'Encounter', 'Medicine', 'Vaccination', 'Problem', 'Allergy']);
    expect(t[0]?.text).toBe('HbA1c');
  });
  it('keeps the newest entries up to the limit and skips undated ones', () => {
    const obs = Array.from({ length: 5 }, (_, i) => ({
      resourceType: 'Observation',
      id: String(i),
      code: code(`Test ${i}`),
      effectiveDateTime: `202${i}-01-01`,
    }));
    const t = timelineOf(
      { encounters: [], conditions: [{ resourceType: 'Condition', code: code('Undated') }], medications: [], observations: obs, immunisations: [], carePlans: [], allergies: [] },
      3,
    );
    expect(t.map((e) => e.text)).toEqual(['Test 4', 'Test 3', 'Test 2']);
  });
});
