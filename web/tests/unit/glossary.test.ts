import { describe, expect, it } from 'vitest';
import { explain } from '../../src/lib/glossary';

describe('glossary', () => {
  it('explains hypertension as high blood pressure', () => {
    expect(explain('Hypertensive disorder, systemic arterial').map((e) => e.plain)).toEqual(['High blood pressure.']);
    expect(explain('hypertension')[0]?.plain).toBe('High blood pressure.');
  });
  it('matches whole words only, in any case', () => {
    expect(explain('ASTHMA')).toHaveLength(1);
    expect(explain('asthmatic')).toHaveLength(0);
  });
  it('prefers the longer phrase and does not explain its words twice', () => {
    const found = explain('Diabetes mellitus type 2');
    expect(found).toHaveLength(1);
    expect(found[0]?.plain).toMatch(/^Type 2 diabetes/);
  });
  it('explains each medicine in a name', () => {
    expect(explain('Amlodipine 5mg tablets')[0]?.plain).toMatch(/blood pressure/);
  });
  it('gives nothing for text it does not know', () => {
    expect(explain('Sprain of ankle')).toEqual([]);
  });
});
