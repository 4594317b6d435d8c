// Write-back: new entries a professional records in the shared record, attributed to them.
import type { Resource } from './fhir';
import { referenceKey } from './record';

export interface Choice {
  code: string;
  display: string;
  category?: 'food' | 'medication' | 'environment' | 'biologic';
}

const kSnomed = 'http://snomed.info/sct';

/** Common allergies, as the demo population and UK primary care record them (SNOMED CT). */
export const kAllergyChoices: readonly Choice[] = [
  { code: '91936005', display: 'Allergy to penicillin', category: 'medication' },
  { code: '91935009', display: 'Allergy to peanuts', category: 'food' },
  { code: '91930004', display: 'Allergy to eggs', category: 'food' },
  { code: '300913006', display: 'Shellfish allergy', category: 'food' },
  { code: '300916003', display: 'Latex allergy', category: 'environment' },
  { code: '418689008', display: 'Allergy to grass pollen', category: 'environment' },
  { code: '232350006', display: 'House dust mite allergy', category: 'environment' },
];

export const kReactionChoices: readonly Choice[] = [
  { code: '39579001', display: 'Anaphylaxis' },
  { code: '271807003', display: 'Eruption of skin' },
  { code: '247472004', display: 'Wheal' },
  { code: '422587007', display: 'Nausea' },
];

export type Severity = 'mild' | 'moderate' | 'severe';

export interface NewAllergy {
  substance: Choice;
  reaction: Choice;
  severity: Severity;
}

/** "https://host/fhir/Practitioner/1" → { reference: "Practitioner/1" }; undefined when not a person. */
export function recorderOf(fhirUser: string | undefined): { reference: string } | undefined {
  const key = referenceKey(fhirUser);
  return key && /^(Practitioner|PractitionerRole)\//.test(key) ? { reference: key } : undefined;
}

/** An AllergyIntolerance (R4) for `patientId`, recorded today by the signed-in professional. */
export function allergyResource(patientId: string, a: NewAllergy, fhirUser: string | undefined, today: Date): Resource {
  const r: Resource = {
    resourceType: 'AllergyIntolerance',
    clinicalStatus: {
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active', display: 'Active' }],
    },
    verificationStatus: {
      coding: [
        { system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-verification', code: 'confirmed', display: 'Confirmed' },
      ],
    },
    type: 'allergy',
    ...(a.substance.category ? { category: [a.substance.category] } : {}),
    criticality: a.severity === 'severe' ? 'high' : 'low',
    code: { coding: [{ system: kSnomed, code: a.substance.code, display: a.substance.display }], text: a.substance.display },
    patient: { reference: `Patient/${patientId}` },
    recordedDate: today.toISOString().slice(0, 10),
    reaction: [
      {
        manifestation: [{ coding: [{ system: kSnomed, code: a.reaction.code, display: a.reaction.display }] }],
        severity: a.severity,
      },
    ],
  };
  const recorder = recorderOf(fhirUser);
  if (recorder) r.recorder = recorder;
  return r;
}
