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

/** Problems: active ones first, then by onset, newest first. */
export function sortProblems(conditions: Resource[]): Resource[] {
  const isActive = (c: Resource) => conceptCodes(c.clinicalStatus as CodeableConcept | undefined).includes('active');
  const onset = (c: Resource) => String(c.onsetDateTime ?? c.recordedDate ?? '');
  return [...conditions].sort((a, b) => {
    if (isActive(a) !== isActive(b)) return isActive(a) ? -1 : 1;
    return onset(b).localeCompare(onset(a));
  });
}

/** The medicine's name on a MedicationRequest or MedicationStatement. */
export function medicationName(r: Resource): string {
  return conceptText(r.medicationCodeableConcept as CodeableConcept | undefined) || 'Medicine not named';
}

export function dosageText(r: Resource): string {
  const d = (r.dosageInstruction ?? r.dosage) as { text?: string }[] | undefined;
  return d?.[0]?.text ?? '';
}

/** Allergies by clinical importance: high criticality first, then the newest. */
export function sortAllergies(allergies: Resource[]): Resource[] {
  const rank = (a: Resource) => (a.criticality === 'high' ? 0 : a.criticality === 'unable-to-assess' ? 1 : 2);
  return [...allergies].sort(
    (a, b) => rank(a) - rank(b) || String(b.recordedDate ?? '').localeCompare(String(a.recordedDate ?? '')),
  );
}

/** Medicines: prescribed ones before those only reported, then by name, so the list is read the same way every time. */
export function sortMedicines(medicines: Resource[]): Resource[] {
  const rank = (m: Resource) => (m.resourceType === 'MedicationRequest' ? 0 : 1);
  return [...medicines].sort((a, b) => rank(a) - rank(b) || medicationName(a).localeCompare(medicationName(b)));
}
