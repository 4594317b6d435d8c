import { describe, expect, it } from 'vitest';
import type { Resource } from '../../src/lib/fhir';
import { describeTrend, trendsOf } from '../../src/lib/trends';

const loinc = (code: string, display: string) => ({ coding: [{ system: 'http://loinc.org', code, display }] });
const q = (value: number, unit: string) => ({ value, unit });

const bp = (date: string, sys: number, dia: number): Resource => ({
  resourceType: 'Observation',
  code: loinc('85354-9', 'Blood pressure panel with all children optional'),
  effectiveDateTime: date,
  component: [
    { code: loinc('8480-6', 'Systolic blood pressure'), valueQuantity: q(sys, 'mmHg') },
    { code: loinc('8462-4', 'Diastolic blood pressure'), valueQuantity: q(dia, 'mmHg') },
  ],
});
const hba1c = (date: string, v: number): Resource => ({
  resourceType: 'Observation',
  code: loinc('4548-4', 'Hemoglobin A1c'),
  effectiveDateTime: date,
  valueQuantity: q(v, 'mmol/mol'),
});

describe('trends', () => {
  it('puts systolic and diastolic readings on one blood pressure chart, oldest first', () => {
    const [t] = trendsOf([bp('2025-06-01', 150, 90), bp('2024-01-01', 160, 95)]);
    expect(t?.title).toBe('Blood pressure');
    expect(t?.series.map((s) => s.name)).toEqual(['Systolic blood pressure', 'Diastolic blood pressure']);
    expect(t?.series[0]?.points.map((p) => p.value)).toEqual([160, 150]);
  });
  it('leaves out tests with a single reading', () => {
    const trends = trendsOf([hba1c('2025-01-01', 50), bp('2025-01-01', 120, 80), bp('2025-02-01', 125, 82)]);
    expect(trends.map((t) => t.title)).toEqual(['Blood pressure']);
  });
  it('describes a trend in words for people who cannot see the chart', () => {
    const [t] = trendsOf([hba1c('2024-01-01', 60), hba1c('2025-01-01', 52), hba1c('2024-06-01', 57)]);
    expect(t ? describeTrend(t) : '').toBe('Hemoglobin A1c: 3 readings from 52 to 60 mmol/mol, latest 52 mmol/mol');
  });
});
