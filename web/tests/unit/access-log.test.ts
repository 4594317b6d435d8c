import { describe, expect, it } from 'vitest';
import { accessOf } from '../../src/lib/access-log';

describe('who has looked at my record', () => {
  it('says which role at which organisation looked at what, and when', () => {
    const a = accessOf({
      resourceType: 'AuditEvent',
      id: '9',
      action: 'R',
      recorded: '2026-11-26T01:31:22.309Z',
      subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: 'search-type' }],
      agent: [
        { role: [{ coding: [{ code: 'gp' }] }], who: {}, requestor: true },
        { type: { coding: [{ code: 'PROV' }] }, who: { reference: 'Organization/practice-ds001' }, requestor: false },
      ],
      entity: [{ what: { reference: 'Patient/1' } }, { what: { reference: 'Condition' } }],
    });
    expect(a).toEqual({
      id: '9',
      when: '2026-11-26T01:31:22.309Z',
      who: 'GP',
      organisation: 'Organization/practice-ds001',
      what: 'Looked at your health problems',
      emergency: false,
      you: false,
    });
  });
  it('marks emergency access', () => {
    const a = accessOf({
      resourceType: 'AuditEvent',
      action: 'E',
      subtype: [{ code: 'break-glass' }],
      agent: [{ role: [{ coding: [{ code: 'paramedic' }] }], requestor: true }],
      entity: [{ what: { reference: 'Patient/1' } }],
    });
    expect(a.emergency).toBe(true);
    expect(a.what).toBe('Opened your record in an emergency');
    expect(a.who).toBe('Paramedic');
  });
  it('calls the patient’s own look "You"', () => {
    const a = accessOf({
      resourceType: 'AuditEvent',
      action: 'R',
      agent: [{ role: [{ coding: [{ code: 'patient' }] }], requestor: true }],
      entity: [{ what: { reference: 'Patient/1' } }],
    });
    expect(a.you).toBe(true);
    expect(a.what).toBe('Looked at your personal details');
  });
});
