import { describe, expect, it } from 'vitest';
import { currentChoices, dissentConsent, kShareChoices } from '../../src/lib/sharing';

describe('sharing choices', () => {
  const social = kShareChoices.find((c) => c.id === 'social-care')!;
  it('records a choice as an active patient-privacy Consent that denies those roles', () => {
    const c = dissentConsent('p1', social, new Date('2026-11-26T10:00:00Z'));
    expect(c.status).toBe('active');
    expect(c.patient).toEqual({ reference: 'Patient/p1' });
    expect((c.provision as { type: string }).type).toBe('deny');
    expect(JSON.stringify(c.provision)).toContain('adult-social-worker');
    expect(JSON.stringify(c.provision)).toContain('childrens-social-worker');
  });
  it('reads back which choices are in force', () => {
    const active = { ...dissentConsent('p1', social, new Date()), id: 'c1' };
    const withdrawn = { ...dissentConsent('p1', kShareChoices[0]!, new Date()), id: 'c2', status: 'inactive' };
    const dnacpr = {
      resourceType: 'Consent',
      status: 'active',
      scope: { coding: [{ code: 'adr' }] },
      provision: { type: 'deny' },
    };
    const now = currentChoices([active, withdrawn, dnacpr]);
    expect([...now.keys()]).toEqual(['social-care']);
    expect(now.get('social-care')?.id).toBe('c1');
  });
});
