// Loading one patient's record through the public FHIR API: demographics (readable without a care
// relationship) and the clinical summary (which answers 403, with the reason, without one).
import { type Bundle, type FhirClient, type Resource, resourcesOf } from './fhir';
import { practiceReference, referenceKey } from './record';

export interface Demographics {
  patient: Resource;
  practice?: Resource;
}

export interface ClinicalSummary {
  allergies: Resource[];
  flags: Resource[];
  conditions: Resource[];
  medications: Resource[]; // MedicationRequest and MedicationStatement
  observations: Resource[]; // laboratory results, newest first
  vitals: Resource[]; // vital signs (blood pressure, pulse, temperature, ...), newest first
  encounters: Resource[]; // newest first
  carePlans: Resource[]; // active ones
  immunisations: Resource[]; // newest first
  documents: Resource[]; // letters and summaries (DocumentReference), newest first
  known: Map<string, Resource>; // Practitioner/Organization by "Type/id", for provenance
  organisationOf: Map<string, string>; // "Practitioner/id" → the name of their organisation
}

export async function loadDemographics(client: FhirClient, id: string): Promise<Demographics> {
  const patient = await client.request<Resource>(`Patient/${encodeURIComponent(id)}`);
  const key = referenceKey(practiceReference(patient)?.reference);
  const out: Demographics = { patient };
  if (key) {
    try {
      out.practice = await client.request<Resource>(key);
    } catch {
      // The practice name is helpful, not essential: the banner says "Not known" without it.
    }
  }
  return out;
}

const kRefFields = [
  'recorder',
  'asserter',
  'requester',
  'informationSource',
  'author',
  'performer',
  'serviceProvider',
  'custodian',
];

function referencedKeys(resources: Resource[]): Set<string> {
  const keys = new Set<string>();
  for (const r of resources) {
    for (const f of kRefFields) {
      const v = r[f];
      const list = (Array.isArray(v) ? v : [v]) as ({ reference?: string; actor?: { reference?: string } } | undefined)[];
      for (const ref of list) {
        const key = referenceKey(ref?.reference ?? ref?.actor?.reference);
        if (key && /^(Practitioner|Organization)\//.test(key)) keys.add(key);
      }
    }
  }
  return keys;
}

async function byIds(client: FhirClient, type: string, ids: string[]): Promise<Resource[]> {
  if (ids.length === 0) return [];
  const found: Resource[] = [];
  for (let i = 0; i < ids.length; i += 50) {
    const slice = ids.slice(i, i + 50);
    const b = await client.search(type, { _id: slice.join(','), _count: String(slice.length) });
    found.push(...resourcesOf(b));
  }
  return found;
}

/** Loads the summary; a 403 (no care relationship, dissent) is thrown as a FhirError for the caller. */
export async function loadClinicalSummary(client: FhirClient, id: string): Promise<ClinicalSummary> {
  const p = { patient: id, _count: '200' };
  // The first search is made alone: if it is refused, the others would be too.
  const allergies = await client.search('AllergyIntolerance', p);
  const [flags, conditions, requests, statements, observations, vitals, encounters, carePlans, immunisations, documents] =
    await Promise.all<Bundle>([
    client.search('Flag', p),
    client.search('Condition', { ...p, _sort: '-recorded-date' }),
    client.search('MedicationRequest', { ...p, status: 'active', _sort: '-authoredon' }),
    client.search('MedicationStatement', { ...p, status: 'active' }),
    client.search('Observation', { ...p, category: 'laboratory', _sort: '-date', _count: '50' }),
    client.search('Observation', { ...p, category: 'vital-signs', _sort: '-date', _count: '100' }),
    client.search('Encounter', { ...p, _sort: '-date', _count: '20' }),
    client.search('CarePlan', { ...p, status: 'active' }),
    client.search('Immunization', { ...p, _sort: '-date', _count: '50' }),
    client.search('DocumentReference', { ...p, _sort: '-date', _count: '50' }),
  ]);
  const summary: ClinicalSummary = {
    allergies: resourcesOf(allergies),
    flags: resourcesOf(flags),
    conditions: resourcesOf(conditions),
    medications: [...resourcesOf(requests), ...resourcesOf(statements)],
    observations: resourcesOf(observations),
    vitals: resourcesOf(vitals),
    encounters: resourcesOf(encounters),
    carePlans: resourcesOf(carePlans),
    immunisations: resourcesOf(immunisations),
    documents: resourcesOf(documents),
    known: new Map(),
    organisationOf: new Map(),
  };
  const keys = referencedKeys([
    ...summary.allergies,
    ...summary.flags,
    ...summary.conditions,
    ...summary.medications,
    ...summary.observations,
    ...summary.encounters,
    ...summary.carePlans,
    ...summary.vitals,
    ...summary.immunisations,
    ...summary.documents,
  ]);
  const ids = (type: string) => [...keys].filter((k) => k.startsWith(`${type}/`)).map((k) => k.split('/')[1] ?? '');
  const practitionerIds = ids('Practitioner');
  const [practitioners, organisations, roles] = await Promise.all([
    byIds(client, 'Practitioner', practitionerIds),
    byIds(client, 'Organization', ids('Organization')),
    practitionerIds.length === 0
      ? Promise.resolve([])
      : client
          .search('PractitionerRole', {
            practitioner: practitionerIds.map((id) => `Practitioner/${id}`).join(','),
            _include: 'PractitionerRole:organization',
            _count: '200',
          })
          .then(resourcesOf),
  ]);
  for (const r of [...practitioners, ...organisations, ...roles]) {
    if (r.resourceType !== 'PractitionerRole') summary.known.set(`${r.resourceType}/${r.id ?? ''}`, r);
  }
  for (const role of roles.filter((r) => r.resourceType === 'PractitionerRole')) {
    const who = referenceKey((role.practitioner as { reference?: string } | undefined)?.reference);
    const org = summary.known.get(referenceKey((role.organization as { reference?: string } | undefined)?.reference) ?? '');
    if (who && typeof org?.name === 'string' && !summary.organisationOf.has(who)) summary.organisationOf.set(who, org.name);
  }
  return summary;
}

/** Emergency access (POST Patient/{id}/$break-glass with a reason; see docs/api.md): when it ends. */
export async function breakGlass(client: FhirClient, id: string, reason: string): Promise<string | undefined> {
  const out = await client.request(`Patient/${encodeURIComponent(id)}/$break-glass`, {
    method: 'POST',
    body: JSON.stringify({
      resourceType: 'Parameters',
      parameter: [{ name: 'reason', valueString: reason }],
    }),
  });
  const params = (out.parameter as { name?: string; valueInstant?: string; valueDateTime?: string }[] | undefined) ?? [];
  const expires = params.find((p) => p.name === 'expires');
  return expires?.valueInstant ?? expires?.valueDateTime;
}
