import { describe, expect, it } from 'vitest';
import type { Resource } from '../../src/lib/fhir';
import {
  decodeBase64Text,
  documentAuthor,
  documentContent,
  documentEncounter,
  documentOrganisation,
  documentStatus,
  documentType,
} from '../../src/lib/documents';

const utf8base64 = (text: string) => btoa(String.fromCharCode(...new TextEncoder().encode(text)));

const letter = (attachment: Record<string, unknown>): Resource => ({
  resourceType: 'DocumentReference',
  id: 'd1',
  status: 'current',
  docStatus: 'final',
  type: { coding: [{ system: 'http://snomed.info/sct', code: '373942005', display: 'Discharge summary' }], text: 'Discharge summary' },
  date: '2025-03-04T12:00:00Z',
  author: [{ reference: 'Practitioner/p1' }],
  custodian: { reference: 'Organization/o1' },
  content: [{ attachment }],
});

const known = new Map<string, Resource>([
  ['Practitioner/p1', { resourceType: 'Practitioner', id: 'p1', name: [{ prefix: ['Dr'], given: ['Ann'], family: 'Lee' }] }],
  ['Organization/o1', { resourceType: 'Organization', id: 'o1', name: 'East Kent Hospitals' }],
]);

describe('documents', () => {
  it('decodes inline UTF-8 plain text, line breaks and accents kept', () => {
    const d = letter({ contentType: 'text/plain; charset=utf-8', data: utf8base64('Discharge summary\nPatient: Zoë Brontë\n') });
    expect(documentContent(d)).toEqual({ text: 'Discharge summary\nPatient: Zoë Brontë\n' });
  });
  it('shows markup as the text it is, never as HTML', () => {
    const d = letter({ contentType: 'text/plain', data: utf8base64('<script>alert(1)</script>') });
    expect(documentContent(d)).toEqual({ text: '<script>alert(1)</script>' });
  });
  it('refuses other formats, external content and broken base64 with a reason', () => {
    expect(documentContent(letter({ contentType: 'text/html', data: utf8base64('<p>x</p>') }))).toEqual({
      unavailable: 'This document is stored as text/html and cannot be shown here.',
    });
    expect('unavailable' in documentContent(letter({ contentType: 'text/plain', url: 'https://example.org/x' }))).toBe(true);
    expect('unavailable' in documentContent(letter({ contentType: 'text/plain', data: '!!!not base64' }))).toBe(true);
    expect(decodeBase64Text(btoa('\xff\xfe'))).toBeUndefined(); // not UTF-8
  });
  it('names the type, author with their organisation, custodian and status', () => {
    const d = letter({ contentType: 'text/plain', data: '' });
    expect(documentType(d)).toBe('Discharge summary');
    expect(documentOrganisation(d, known)).toBe('East Kent Hospitals');
    expect(documentAuthor(d, known, new Map([['Practitioner/p1', 'East Kent Hospitals']]))).toBe('Dr Ann Lee, East Kent Hospitals');
    expect(documentStatus(d)).toBe('Current');
    expect(documentStatus({ ...d, status: 'entered-in-error' })).toBe('Entered in error');
    expect(documentStatus({ ...d, docStatus: 'preliminary' })).toBe('Current (preliminary)');
  });
});

describe('the visit a document is about', () => {
  const ed: Resource = {
    resourceType: 'Encounter',
    id: 'e1',
    type: [{ text: 'Emergency department patient visit' }],
    period: { start: '2025-02-03T09:00:00Z' },
  };
  const doc = (context?: unknown): Resource => ({ resourceType: 'DocumentReference', ...(context ? { context } : {}) });
  it('names the encounter and its date when it was loaded', () => {
    expect(documentEncounter(doc({ encounter: [{ reference: 'Encounter/e1' }] }), [ed])).toBe(
      'Emergency department patient visit on 3 February 2025',
    );
  });
  it('says when the encounter is not at hand, or there is none', () => {
    expect(documentEncounter(doc({ encounter: [{ reference: 'Encounter/other' }] }), [ed])).toBe('A visit or stay in this record');
    expect(documentEncounter(doc(), [ed])).toBe('Not linked to a visit');
  });
});
