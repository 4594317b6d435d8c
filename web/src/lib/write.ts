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

/** Long-term conditions as the demo population codes them (SNOMED CT). */
export const kProblemChoices: readonly Choice[] = [
  { code: '38341003', display: 'Hypertensive disorder, systemic arterial' },
  { code: '44054006', display: 'Diabetes mellitus type 2' },
  { code: '195967001', display: 'Asthma' },
  { code: '13645005', display: 'Chronic obstructive lung disease' },
  { code: '49436004', display: 'Atrial fibrillation' },
  { code: '35489007', display: 'Depressive disorder' },
  { code: '709044004', display: 'Chronic kidney disease' },
];

/** A Condition on the problem list, recorded by the signed-in professional. */
export function problemResource(patientId: string, problem: Choice, onset: string, fhirUser: string | undefined, today: Date): Resource {
  const r: Resource = {
    resourceType: 'Condition',
    clinicalStatus: {
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active', display: 'Active' }],
    },
    verificationStatus: {
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed', display: 'Confirmed' }],
    },
    category: [
      {
        coding: [
          { system: 'http://terminology.hl7.org/CodeSystem/condition-category', code: 'problem-list-item', display: 'Problem List Item' },
        ],
      },
    ],
    code: { coding: [{ system: kSnomed, code: problem.code, display: problem.display }] },
    subject: { reference: `Patient/${patientId}` },
    onsetDateTime: onset,
    recordedDate: today.toISOString().slice(0, 10),
  };
  const recorder = recorderOf(fhirUser);
  if (recorder) r.recorder = recorder;
  return r;
}

/** A blood pressure reading (LOINC 85354-9 panel with systolic 8480-6 and diastolic 8462-4 components). */
export function bloodPressureResource(
  patientId: string,
  systolic: number,
  diastolic: number,
  fhirUser: string | undefined,
  now: Date,
): Resource {
  const loinc = (code: string, display: string) => ({ coding: [{ system: 'http://loinc.org', code, display }] });
  const mmHg = (value: number) => ({ value, unit: 'mmHg', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' });
  const r: Resource = {
    resourceType: 'Observation',
    status: 'final',
    category: [
      { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs', display: 'Vital Signs' }] },
    ],
    code: loinc('85354-9', 'Blood pressure panel with all children optional'),
    subject: { reference: `Patient/${patientId}` },
    effectiveDateTime: now.toISOString(),
    component: [
      { code: loinc('8480-6', 'Systolic blood pressure'), valueQuantity: mmHg(systolic) },
      { code: loinc('8462-4', 'Diastolic blood pressure'), valueQuantity: mmHg(diastolic) },
    ],
  };
  const performer = recorderOf(fhirUser);
  if (performer) r.performer = [performer];
  return r;
}

/** Whole mmHg within what a person can have; the first of systolic above diastolic. */
export function checkBloodPressure(systolic: string, diastolic: string): string | null {
  const s = Number(systolic);
  const d = Number(diastolic);
  if (!Number.isInteger(s) || s < 50 || s > 300) return 'Enter the systolic pressure as a whole number from 50 to 300';
  if (!Number.isInteger(d) || d < 20 || d > 200) return 'Enter the diastolic pressure as a whole number from 20 to 200';
  if (d >= s) return 'The diastolic pressure must be lower than the systolic pressure';
  return null;
}
