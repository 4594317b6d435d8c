// "Who has looked at my record": the patient's view of the audit trail (AuditEvent?patient=),
// in plain words. The server leaves staff names out of what patients see; roles and
// organisations remain.
import type { Resource } from './fhir';
import { referenceKey } from './record';

const kRoleTitles: Record<string, string> = {
  gp: 'GP',
  'hospital-clinician': 'Hospital clinician',
  'community-nurse': 'Community nurse',
  'mental-health-clinician': 'Mental health clinician',
  paramedic: 'Paramedic',
  'out-of-hours-clinician': 'Out-of-hours clinician',
  'community-pharmacist': 'Community pharmacist',
  optometrist: 'Optometrist',
  'care-home-staff': 'Care home staff',
  'adult-social-worker': 'Adult social worker',
  'childrens-social-worker': "Children's social worker",
  patient: 'You',
  proxy: 'Someone you gave access to',
  analyst: 'Analyst',
  administrator: 'Administrator',
  integration: 'A connected system',
};

const kWhat: Record<string, string> = {
  Patient: 'your personal details',
  Condition: 'your health problems',
  MedicationRequest: 'your medicines',
  MedicationStatement: 'your medicines',
  AllergyIntolerance: 'your allergies',
  Observation: 'your test results and readings',
  Flag: 'alerts on your record',
  Encounter: 'your appointments and visits',
  Immunization: 'your vaccinations',
  CarePlan: 'your care plans',
  DocumentReference: 'your documents',
  ServiceRequest: 'your referrals',
  Consent: 'your sharing choices',
  AuditEvent: 'who has looked at your record',
};

const kActions: Record<string, string> = { R: 'Looked at', C: 'Added to', U: 'Changed', D: 'Removed from', E: 'Used' };

export interface Access {
  id: string;
  when: string;
  who: string;
  organisation?: string; // "Organization/..." reference
  what: string;
  emergency: boolean;
  you: boolean;
}

interface Coding {
  system?: string;
  code?: string;
}
interface Agent {
  type?: { coding?: Coding[] };
  role?: { coding?: Coding[] }[];
  who?: { reference?: string };
  requestor?: boolean;
}

export function accessOf(e: Resource): Access {
  const agents = (e.agent as Agent[] | undefined) ?? [];
  const person = agents.find((a) => a.requestor) ?? agents[0];
  const role = person?.role?.[0]?.coding?.[0]?.code ?? '';
  const org = agents.find((a) => a.type?.coding?.some((c) => c.code === 'PROV'))?.who?.reference;
  const entities = (e.entity as { what?: { reference?: string } }[] | undefined) ?? [];
  const types = entities.map((x) => x.what?.reference?.split('/')[0] ?? '').filter((t) => t && t !== 'Patient');
  const type = types[0] ?? 'Patient';
  const subtype = ((e.subtype as Coding[] | undefined) ?? []).map((c) => c.code);
  const purposes = ((e.purposeOfEvent as { coding?: Coding[] }[] | undefined) ?? []).flatMap((p) => p.coding ?? []);
  const action = kActions[String(e.action ?? 'R')] ?? 'Used';
  const access: Access = {
    id: e.id ?? '',
    when: String(e.recorded ?? e.meta?.lastUpdated ?? ''),
    who: kRoleTitles[role] ?? (role || 'Someone'),
    what: subtype.includes('break-glass') ? 'Opened your record in an emergency' : `${action} ${kWhat[type] ?? type}`,
    emergency: subtype.includes('break-glass') || purposes.some((c) => c.code === 'ETREAT'),
    you: role === 'patient',
  };
  const key = referenceKey(org);
  if (key) access.organisation = key;
  return access;
}
