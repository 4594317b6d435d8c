// The patient's sharing choices: R4 Consent resources (scope patient-privacy, provision deny) naming
// kinds of service by ucr role code, which the server enforces on every access (docs/security.md).
import type { Resource } from './fhir';

export interface ShareChoice {
  id: string;
  label: string;
  roles: readonly string[];
}

export const kShareChoices: readonly ShareChoice[] = [
  { id: 'pharmacies', label: 'Community pharmacies', roles: ['community-pharmacist'] },
  { id: 'opticians', label: 'Opticians', roles: ['optometrist'] },
  { id: 'care-homes', label: 'Care homes', roles: ['care-home-staff'] },
  { id: 'social-care', label: 'Council social care', roles: ['adult-social-worker', 'childrens-social-worker'] },
];

const kRoleSystem = 'https://ucr.nhs.example/fhir/CodeSystem/role';

/** A Consent that keeps the patient's record from one kind of service. */
export function dissentConsent(patientId: string, choice: ShareChoice, now: Date): Resource {
  return {
    resourceType: 'Consent',
    status: 'active',
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
    category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0', display: 'Patient Consent' }] }],
    patient: { reference: `Patient/${patientId}` },
    dateTime: now.toISOString(),
    policyRule: { text: `Do not share with ${choice.label.toLowerCase()}` },
    provision: {
      type: 'deny',
      // R4 requires actor.reference: a display-only reference names the kind of service.
      actor: choice.roles.map((code) => ({
        role: { coding: [{ system: kRoleSystem, code }] },
        reference: { display: choice.label },
      })),
    },
  };
}

/** For each choice, the active Consent that records it (if any). */
export function currentChoices(consents: Resource[]): Map<string, Resource> {
  const out = new Map<string, Resource>();
  for (const c of consents) {
    if (c.status !== 'active') continue;
    const scope = (c.scope as { coding?: { code?: string }[] } | undefined)?.coding ?? [];
    if (!scope.some((x) => x.code === 'patient-privacy')) continue;
    const provision = c.provision as { type?: string; actor?: { role?: { coding?: { code?: string }[] } }[] } | undefined;
    if (provision?.type !== 'deny') continue;
    const codes = new Set((provision.actor ?? []).flatMap((a) => (a.role?.coding ?? []).map((x) => x.code ?? '')));
    for (const choice of kShareChoices) {
      if (codes.size === choice.roles.length && choice.roles.every((r) => codes.has(r))) out.set(choice.id, c);
    }
  }
  return out;
}

/** An organisation the patient named, from the directory. */
export interface NamedOrganisation {
  reference: string; // "Organization/id"
  name: string;
}

const kRecipient = { system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP', display: 'information recipient' };

/** A Consent that keeps the patient's record from one named organisation (a real actor reference). */
export function organisationDissent(patientId: string, org: NamedOrganisation, now: Date): Resource {
  return {
    resourceType: 'Consent',
    status: 'active',
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
    category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0', display: 'Patient Consent' }] }],
    patient: { reference: `Patient/${patientId}` },
    dateTime: now.toISOString(),
    policyRule: { text: `Do not share with ${org.name}` },
    provision: {
      type: 'deny',
      actor: [{ role: { coding: [kRecipient] }, reference: { reference: org.reference, display: org.name } }],
    },
  };
}

/** The organisations named in the patient's active dissents, each with the Consent that records it. */
export function namedDissents(consents: Resource[]): Map<string, { org: NamedOrganisation; consent: Resource }> {
  const out = new Map<string, { org: NamedOrganisation; consent: Resource }>();
  for (const c of consents) {
    if (c.status !== 'active') continue;
    const scope = (c.scope as { coding?: { code?: string }[] } | undefined)?.coding ?? [];
    if (!scope.some((x) => x.code === 'patient-privacy')) continue;
    const provision = c.provision as
      | { type?: string; actor?: { role?: { coding?: { code?: string }[] }; reference?: { reference?: string; display?: string } }[] }
      | undefined;
    if (provision?.type !== 'deny') continue;
    for (const a of provision.actor ?? []) {
      const ref = a.reference?.reference;
      if (!ref?.startsWith('Organization/')) continue;
      out.set(ref, { org: { reference: ref, name: a.reference?.display ?? ref }, consent: c });
    }
  }
  return out;
}
