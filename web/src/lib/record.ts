// Reading a patient's record for display: names, identifiers, addresses, coded items, critical
// flags and where each item came from. Pure functions over FHIR R4 JSON.
import type { Resource } from './fhir';

export const kNhsNumberSystem = 'https://fhir.nhs.uk/Id/nhs-number';

interface Coding {
  system?: string;
  code?: string;
  display?: string;
}
interface CodeableConcept {
  coding?: Coding[];
  text?: string;
}
interface Reference {
  reference?: string;
  display?: string;
}
interface HumanName {
  use?: string;
  family?: string;
  given?: string[];
  prefix?: string[];
  text?: string;
}
interface Address {
  use?: string;
  line?: string[];
  city?: string;
  district?: string;
  postalCode?: string;
  text?: string;
}

function obj<T>(r: Resource, key: string): T | undefined {
  return r[key] as T | undefined;
}

/** The text of a CodeableConcept: its text, else the first coding's display, else its code. */
export function conceptText(c: CodeableConcept | undefined): string {
  if (!c) return '';
  if (c.text) return c.text;
  for (const coding of c.coding ?? []) if (coding.display) return coding.display;
  return c.coding?.[0]?.code ?? '';
}

export function conceptCodes(c: CodeableConcept | undefined): string[] {
  return (c?.coding ?? []).flatMap((x) => (x.code ? [x.code] : []));
}

/** "SMITH, Ann (Mrs)" is the NHS convention for patient banners: family name in capitals first. */
export function patientName(p: Resource): string {
  const names = obj<HumanName[]>(p, 'name') ?? [];
  const n = names.find((x) => x.use === 'official') ?? names.find((x) => x.use !== 'old') ?? names[0];
  if (!n) return 'Name not known';
  if (!n.family && n.text) return n.text;
  const given = (n.given ?? []).join(' ');
  const family = (n.family ?? '').toUpperCase();
  const title = n.prefix?.[0] ? ` (${n.prefix[0]})` : '';
  return [family, given].filter(Boolean).join(', ') + title;
}

export function nhsNumberOf(p: Resource): string | undefined {
  const ids = obj<{ system?: string; value?: string }[]>(p, 'identifier') ?? [];
  return ids.find((i) => i.system === kNhsNumberSystem)?.value;
}

export function addressOf(p: Resource): string {
  const list = obj<Address[]>(p, 'address') ?? [];
  const a = list.find((x) => x.use === 'home') ?? list[0];
  if (!a) return 'Not known';
  if (a.text) return a.text;
  return [...(a.line ?? []), a.city, a.district, a.postalCode].filter(Boolean).join(', ');
}

export function genderText(p: Resource): string {
  const g = obj<string>(p, 'gender');
  switch (g) {
    case 'male':
      return 'Male';
    case 'female':
      return 'Female';
    case 'other':
      return 'Other';
    default:
      return 'Not known';
  }
}

/**
 * The id of the record that replaced this one when it was merged away as a duplicate
 * (Patient.link type `replaced-by`), or undefined when it is current.
 */
export function replacedBy(p: Resource): string | undefined {
  const links = obj<{ type?: string; other?: Reference }[]>(p, 'link') ?? [];
  for (const l of links) {
    if (l.type !== 'replaced-by') continue;
    const m = /(?:^|\/)Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(l.other?.reference ?? '');
    if (m?.[1]) return m[1];
  }
  return undefined;
}

/** The reference to the registered GP practice (an Organization in Patient.generalPractitioner). */
export function practiceReference(p: Resource): Reference | undefined {
  const refs = obj<Reference[]>(p, 'generalPractitioner') ?? [];
  return refs.find((r) => r.reference?.startsWith('Organization/'));
}

/** "Organization/123" or a full URL ending so → "Organization/123". */
export function referenceKey(ref: string | undefined): string | undefined {
  if (!ref) return undefined;
  const m = /([A-Za-z]+\/[A-Za-z0-9\-.]+)(?:\/_history\/[^/]+)?$/.exec(ref);
  return m?.[1];
}

/** The name to show for a referenced Practitioner or Organization, from the resources fetched. */
export function referenceName(ref: Reference | undefined, known: Map<string, Resource>): string | undefined {
  if (!ref) return undefined;
  const key = referenceKey(ref.reference);
  const r = key ? known.get(key) : undefined;
  if (r?.resourceType === 'Organization' && typeof r.name === 'string') return r.name;
  if (r?.resourceType === 'Practitioner') {
    const n = (r.name as HumanName[] | undefined)?.[0];
    if (n) {
      const prefix = n.prefix?.[0] ? `${n.prefix[0]} ` : '';
      return `${prefix}${(n.given ?? []).join(' ')} ${n.family ?? ''}`.trim();
    }
  }
  return ref.display;
}

/** Where an item came from: who recorded it (person and/or organisation), the source system and when. */
export interface Provenance {
  recordedBy?: string;
  source?: string;
  lastUpdated?: string;
}

const kAuthorFields = ['recorder', 'asserter', 'requester', 'informationSource', 'author', 'performer'];

/**
 * Where an item came from. `organisationOf` maps a practitioner ("Practitioner/id") to the name of
 * the organisation they work for (from their PractitionerRole), so a person is shown with their
 * organisation: "Dr Sam Jones, Chatham Health Centre".
 */
export function provenanceOf(
  r: Resource,
  known: Map<string, Resource>,
  organisationOf: Map<string, string> = new Map(),
): Provenance {
  const out: Provenance = {};
  for (const field of kAuthorFields) {
    const v = r[field];
    const ref = (Array.isArray(v) ? v[0] : v) as Reference | { actor?: Reference } | undefined;
    const actual = ref && 'actor' in ref ? ref.actor : (ref as Reference | undefined);
    const name = referenceName(actual, known);
    if (name) {
      const key = referenceKey(actual?.reference);
      const organisation = key ? organisationOf.get(key) : undefined;
      out.recordedBy = organisation && organisation !== name ? `${name}, ${organisation}` : name;
      break;
    }
  }
  if (r.meta?.source) out.source = r.meta.source;
  if (r.meta?.lastUpdated) out.lastUpdated = r.meta.lastUpdated;
  return out;
}

/** A critical item pushed to the top of every screen. */
export interface CriticalFlag {
  kind: 'allergy' | 'child-protection' | 'end-of-life' | 'learning-disability' | 'communication' | 'other';
  label: string;
  detail: string;
}

const kFlagKinds: [RegExp, CriticalFlag['kind'], string][] = [
  [/child-protection|safeguard/i, 'child-protection', 'Child protection'],
  [/dnacpr|respect|end-of-life|advance/i, 'end-of-life', 'End of life'],
  [/learning-disability|reasonable-adjustment/i, 'learning-disability', 'Reasonable adjustments'],
  [/interpreter|hearing|visual|communication/i, 'communication', 'Communication needs'],
];

function active(r: Resource): boolean {
  if (r.resourceType === 'Flag') return r.status === 'active';
  if (r.resourceType === 'AllergyIntolerance') {
    if (isEnteredInError(r)) return false;
    const codes = conceptCodes(r.clinicalStatus as CodeableConcept | undefined);
    return codes.length === 0 || codes.includes('active');
  }
  return true;
}

/** The critical flags of a record: active allergies first, then active Flag resources by kind. */
export function criticalFlags(allergies: Resource[], flags: Resource[]): CriticalFlag[] {
  const out: CriticalFlag[] = [];
  for (const a of sortAllergies(allergies).filter(active)) {
    const reaction = (a.reaction as { manifestation?: CodeableConcept[]; severity?: string }[] | undefined)?.[0];
    const what = conceptText(reaction?.manifestation?.[0]);
    const severity = reaction?.severity ? ` (${reaction.severity})` : '';
    out.push({
      kind: 'allergy',
      label: 'Allergy',
      detail: `${conceptText(a.code as CodeableConcept)}${what ? `: ${what}${severity}` : ''}`,
    });
  }
  for (const f of flags.filter(active)) {
    const code = f.code as CodeableConcept | undefined;
    const key = [...conceptCodes(code), conceptText(code)].join(' ');
    const match = kFlagKinds.find(([re]) => re.test(key));
    out.push({
      kind: match?.[1] ?? 'other',
      label: match?.[2] ?? (conceptText((f.category as CodeableConcept[] | undefined)?.[0]) || 'Flag'),
      detail: conceptText(code),
    });
  }
  const order: CriticalFlag['kind'][] = [
    'allergy',
    'child-protection',
    'end-of-life',
    'learning-disability',
    'communication',
    'other',
  ];
  return out.sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind));
}

const kSeverityRank: Record<string, number> = { '24484000': 0, '6736007': 1, '255604002': 2 }; // severe, moderate, mild

/** Problems by clinical relevance: active before resolved, then the most severe, then the most recent. */
export function sortProblems(conditions: Resource[]): Resource[] {
  const isActive = (c: Resource) => conceptCodes(c.clinicalStatus as CodeableConcept | undefined).includes('active');
  const severity = (c: Resource) =>
    Math.min(3, ...conceptCodes(c.severity as CodeableConcept | undefined).map((x) => kSeverityRank[x] ?? 3));
  const onset = (c: Resource) => String(c.onsetDateTime ?? c.recordedDate ?? '');
  return [...conditions].sort((a, b) => {
    if (isActive(a) !== isActive(b)) return isActive(a) ? -1 : 1;
    return severity(a) - severity(b) || onset(b).localeCompare(onset(a));
  });
}

/** Marked as entered in error (R4: verificationStatus on conditions and allergies, status elsewhere). */
export function isEnteredInError(r: Resource): boolean {
  if (r.status === 'entered-in-error') return true;
  return conceptCodes(r.verificationStatus as CodeableConcept | undefined).includes('entered-in-error');
}

/** Changed after it was first recorded: a later version, or an observation's status amended/corrected. */
export function isCorrected(r: Resource): boolean {
  if (r.status === 'amended' || r.status === 'corrected') return true;
  const version = Number((r.meta as { versionId?: string } | undefined)?.versionId ?? '1');
  return version > 1 && !isEnteredInError(r);
}

const kAbnormal: Record<string, string> = {
  H: 'High',
  HH: 'Critically high',
  HU: 'Very high',
  L: 'Low',
  LL: 'Critically low',
  LU: 'Very low',
  A: 'Abnormal',
  AA: 'Critically abnormal',
};

/** "High", "Critically low", ... when the result is flagged abnormal (R4 v3-ObservationInterpretation); else ''. */
export function abnormalFlag(o: Resource): string {
  for (const i of (o.interpretation as CodeableConcept[] | undefined) ?? []) {
    for (const code of conceptCodes(i)) if (kAbnormal[code]) return kAbnormal[code];
  }
  return '';
}

/** Results: abnormal ones first (critical before others), then newest first. */
export function sortResults(observations: Resource[]): Resource[] {
  const rank = (o: Resource) => {
    const f = abnormalFlag(o);
    if (!f) return 2;
    return f.startsWith('Critically') || f.startsWith('Very') ? 0 : 1;
  };
  const when = (o: Resource) => String(o.effectiveDateTime ?? o.issued ?? '');
  return [...observations].sort((a, b) => rank(a) - rank(b) || when(b).localeCompare(when(a)));
}

/** The organisation an item came from: the encounter's provider, the document's custodian, or the recorder's organisation. */
export function sourceOrganisation(
  r: Resource,
  known: Map<string, Resource>,
  organisationOf: Map<string, string> = new Map(),
): string {
  for (const field of ['serviceProvider', 'custodian', 'managingOrganization']) {
    const name = referenceName(r[field] as Reference | undefined, known);
    if (name) return name;
  }
  for (const field of kAuthorFields) {
    const v = r[field];
    const ref = (Array.isArray(v) ? v[0] : v) as Reference | { actor?: Reference } | undefined;
    const actual = ref && 'actor' in ref ? ref.actor : (ref as Reference | undefined);
    const key = referenceKey(actual?.reference);
    if (!key) continue;
    if (key.startsWith('Organization/')) return referenceName(actual, known) ?? '';
    const org = organisationOf.get(key);
    if (org) return org;
  }
  return '';
}

/** A status to show and filter by: clinical status (or entered in error) for problems and allergies, status otherwise. */
export function statusText(r: Resource): string {
  if (isEnteredInError(r)) return 'Entered in error';
  const clinical = conceptCodes(r.clinicalStatus as CodeableConcept | undefined)[0];
  const s = clinical ?? (typeof r.status === 'string' ? r.status : '');
  if (!s) return '';
  return s.charAt(0).toUpperCase() + s.slice(1).replace(/-/g, ' ');
}

/** The medicine's name on a MedicationRequest or MedicationStatement. */
export function medicationName(r: Resource): string {
  return conceptText(r.medicationCodeableConcept as CodeableConcept | undefined) || 'Medicine not named';
}

export function dosageText(r: Resource): string {
  const d = (r.dosageInstruction ?? r.dosage) as { text?: string }[] | undefined;
  return d?.[0]?.text ?? '';
}

/** Allergies by clinical importance: active before resolved, high criticality first, then the newest. */
export function sortAllergies(allergies: Resource[]): Resource[] {
  const rank = (a: Resource) => (a.criticality === 'high' ? 0 : a.criticality === 'unable-to-assess' ? 1 : 2);
  const inactive = (a: Resource) => (active(a) ? 0 : 1);
  return [...allergies].sort(
    (a, b) =>
      inactive(a) - inactive(b) ||
      rank(a) - rank(b) ||
      String(b.recordedDate ?? '').localeCompare(String(a.recordedDate ?? '')),
  );
}

const kCurrentMedicine = new Set(['active', 'on-hold', 'intended', 'draft']);

/** Current medicines before stopped or completed ones; prescribed before only reported; then by name. */
export function sortMedicines(medicines: Resource[]): Resource[] {
  const stopped = (m: Resource) => (kCurrentMedicine.has(String(m.status ?? 'active')) ? 0 : 1);
  const rank = (m: Resource) => (m.resourceType === 'MedicationRequest' ? 0 : 1);
  return [...medicines].sort(
    (a, b) => stopped(a) - stopped(b) || rank(a) - rank(b) || medicationName(a).localeCompare(medicationName(b)),
  );
}

/** The reason given when the entry was last corrected or marked entered in error (from its notes). */
export function correctionNote(r: Resource): string {
  const notes = (r.note as { text?: string }[] | undefined) ?? [];
  for (let i = notes.length - 1; i >= 0; i--) {
    const text = notes[i]?.text ?? '';
    if (/^(Entered in error|Amended|Corrected):/.test(text)) return text;
  }
  return '';
}

/** Everything but the entries marked entered in error, and how many were left out. */
export function withoutEnteredInError<K extends string, T extends { [key in K]: Resource[] }>(
  summary: T,
  lists: readonly K[],
): { summary: T; hidden: number } {
  let hidden = 0;
  const out = { ...summary };
  for (const key of lists) {
    const kept = summary[key].filter((r) => !isEnteredInError(r));
    hidden += summary[key].length - kept.length;
    (out as { [key in K]: Resource[] })[key] = kept;
  }
  return { summary: out, hidden };
}
