// Clinical documents (R4 DocumentReference): letters and summaries shown as plain text. A letter's
// text is only ever rendered as text, never as HTML, whatever its content type claims.
import type { Resource } from './fhir';
import { formatDate } from './dates';
import { conceptText, referenceKey, referenceName } from './record';

interface Attachment {
  contentType?: string;
  data?: string;
  url?: string;
  title?: string;
  language?: string;
}

export function documentType(d: Resource): string {
  return conceptText(d.type as never) || (typeof d.description === 'string' ? d.description : '') || 'Document';
}

export function documentDate(d: Resource): string {
  const a = attachmentOf(d);
  return String(d.date ?? a?.creation ?? '');
}

function attachmentOf(d: Resource): (Attachment & { creation?: string }) | undefined {
  return (d.content as { attachment?: Attachment & { creation?: string } }[] | undefined)?.[0]?.attachment;
}

/** The organisation that holds the document (custodian), by name when it was fetched. */
export function documentOrganisation(d: Resource, known: Map<string, Resource>): string {
  return referenceName(d.custodian as { reference?: string; display?: string } | undefined, known) ?? '';
}

/** The person (or organisation) who wrote it. */
export function documentAuthor(d: Resource, known: Map<string, Resource>, organisationOf: Map<string, string>): string {
  const ref = (d.author as { reference?: string; display?: string }[] | undefined)?.[0];
  const name = referenceName(ref, known);
  if (!name) return '';
  const org = organisationOf.get(referenceKey(ref?.reference) ?? '');
  return org && org !== name ? `${name}, ${org}` : name;
}

const kStatus: Record<string, string> = {
  current: 'Current',
  superseded: 'Replaced by a newer version',
  'entered-in-error': 'Entered in error',
};

export function documentStatus(d: Resource): string {
  const s = typeof d.status === 'string' ? d.status : '';
  const doc = typeof d.docStatus === 'string' ? d.docStatus : '';
  const base = kStatus[s] ?? s;
  return doc && doc !== 'final' && s === 'current' ? `${base} (${doc})` : base;
}

export type DocumentContent = { text: string } | { unavailable: string };

/** Decodes base64 to UTF-8 text; undefined when it is not valid base64 or not valid UTF-8. */
export function decodeBase64Text(data: string): string | undefined {
  try {
    const bytes = Uint8Array.from(atob(data.replace(/\s+/g, '')), (c) => c.charCodeAt(0));
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

/** The letter's text when it is inline plain text; otherwise why it cannot be shown here. */
export function documentContent(d: Resource): DocumentContent {
  const a = attachmentOf(d);
  if (!a) return { unavailable: 'This document has no content.' };
  const type = (a.contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (type !== 'text/plain') {
    return { unavailable: `This document is stored as ${type || 'an unknown format'} and cannot be shown here.` };
  }
  if (!a.data) return { unavailable: 'The text of this document is held elsewhere and cannot be shown here.' };
  const text = decodeBase64Text(a.data);
  if (text === undefined) return { unavailable: 'The text of this document could not be read.' };
  return { text };
}

/** "Emergency department patient visit on 3 February 2025": the visit the document is about, when it was loaded. */
export function documentEncounter(doc: Resource, encounters: Resource[]): string {
  const refs = (doc.context as { encounter?: { reference?: string }[] } | undefined)?.encounter ?? [];
  if (refs.length === 0) return 'Not linked to a visit';
  const key = referenceKey(refs[0]?.reference);
  const e = encounters.find((x) => `Encounter/${x.id ?? ''}` === key);
  if (!e) return 'A visit or stay in this record';
  const what = conceptText((e.type as never[] | undefined)?.[0]) || 'Visit';
  return `${what} on ${formatDate((e.period as { start?: string } | undefined)?.start)}`;
}
