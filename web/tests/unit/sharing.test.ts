import { describe, expect, it } from 'vitest';
import { currentChoices, dissentConsent, kShareChoices, namedDissents, organisationDissent } from '../../src/lib/sharing';

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

describe('sharing by named organisation', () => {
  const pharmacy = { reference: 'Organization/ph1', name: 'Canterbury Pharmacy' };
  it('records the organisation as a real actor reference, with the role R4 requires', () => {
    const c = dissentConsent('p1', kShareChoices[0]!, new Date());
    const named = organisationDissent('p1', pharmacy, new Date('2026-11-26T10:00:00Z'));
    expect(named.provision).toEqual({
      type: 'deny',
      actor: [
        {
          role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP', display: 'information recipient' }] },
          reference: { reference: 'Organization/ph1', display: 'Canterbury Pharmacy' },
        },
      ],
    });
    expect(named.scope).toEqual(c.scope);
  });
  it('reads back the named organisations, not the kinds of service, and only active dissents', () => {
    const named = { ...organisationDissent('p1', pharmacy, new Date()), id: 'c1' };
    const byKind = { ...dissentConsent('p1', kShareChoices[0]!, new Date()), id: 'c2' };
    const withdrawn = { ...organisationDissent('p1', { reference: 'Organization/x', name: 'X' }, new Date()), status: 'inactive' };
    const found = namedDissents([named, byKind, withdrawn]);
    expect([...found.keys()]).toEqual(['Organization/ph1']);
    expect(found.get('Organization/ph1')?.org.name).toBe('Canterbury Pharmacy');
    expect(currentChoices([named]).size).toBe(0); // a named organisation is not a kind of service
  });
});
