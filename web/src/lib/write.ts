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

/** A single-value vital sign a professional can record: LOINC code, UCUM unit and the range a person can have. */
export interface VitalSign {
  id: string;
  label: string;
  loinc: string;
  display: string;
  unit: string; // as shown
  ucum: string; // UCUM code
  min: number;
  max: number;
  decimals: number; // places allowed
}

export const kVitalSigns: readonly VitalSign[] = [
  { id: 'pulse', label: 'Pulse', loinc: '8867-4', display: 'Heart rate', unit: 'beats/min', ucum: '/min', min: 20, max: 250, decimals: 0 },
  { id: 'temperature', label: 'Temperature', loinc: '8310-5', display: 'Body temperature', unit: '°C', ucum: 'Cel', min: 30, max: 45, decimals: 1 },
  { id: 'respiratory-rate', label: 'Respiratory rate', loinc: '9279-1', display: 'Respiratory rate', unit: 'breaths/min', ucum: '/min', min: 4, max: 80, decimals: 0 },
  { id: 'spo2', label: 'Oxygen saturation (SpO2)', loinc: '59408-5', display: 'Oxygen saturation in Arterial blood by Pulse oximetry', unit: '%', ucum: '%', min: 50, max: 100, decimals: 0 },
  { id: 'weight', label: 'Weight', loinc: '29463-7', display: 'Body weight', unit: 'kg', ucum: 'kg', min: 0.5, max: 400, decimals: 1 },
  { id: 'height', label: 'Height', loinc: '8302-2', display: 'Body height', unit: 'cm', ucum: 'cm', min: 20, max: 250, decimals: 1 },
];

/** Null when `text` is a number in the sign's range with no more decimal places than it allows; else the message to show. */
export function checkVital(sign: VitalSign, text: string): string | null {
  const t = text.trim();
  const places = sign.decimals === 0 ? 'a whole number' : `a number with up to ${sign.decimals} decimal place`;
  const message = `Enter the ${sign.label.toLowerCase()} as ${places} from ${sign.min} to ${sign.max} ${sign.unit}`;
  const re = sign.decimals === 0 ? /^\d+$/ : new RegExp(`^\\d+(\\.\\d{1,${sign.decimals}})?$`);
  if (!re.test(t)) return message;
  const v = Number(t);
  if (!Number.isFinite(v) || v < sign.min || v > sign.max) return message;
  return null;
}

/** A vital-signs Observation (R4 vital signs profile: category, LOINC code, UCUM quantity). */
export function vitalResource(patientId: string, sign: VitalSign, value: number, fhirUser: string | undefined, now: Date): Resource {
  const r: Resource = {
    resourceType: 'Observation',
    status: 'final',
    category: [
      { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs', display: 'Vital Signs' }] },
    ],
    code: { coding: [{ system: 'http://loinc.org', code: sign.loinc, display: sign.display }], text: sign.display },
    subject: { reference: `Patient/${patientId}` },
    effectiveDateTime: now.toISOString(),
    valueQuantity: { value, unit: sign.unit, system: 'http://unitsofmeasure.org', code: sign.ucum },
  };
  const performer = recorderOf(fhirUser);
  if (performer) r.performer = [performer];
  return r;
}

const kVerification: Record<string, string> = {
  Condition: 'http://terminology.hl7.org/CodeSystem/condition-ver-status',
  AllergyIntolerance: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-verification',
};

function withNote(r: Resource, text: string, fhirUser: string | undefined, now: Date): Resource {
  const author = recorderOf(fhirUser);
  const note = { text, time: now.toISOString(), ...(author ? { authorReference: author } : {}) };
  return { ...r, note: [...((r.note as unknown[] | undefined) ?? []), note] };
}

/**
 * The new version of an entry marked entered in error, with the reason in a note by the professional.
 * R4: a condition or allergy says so in verificationStatus and then has no clinicalStatus (con-5,
 * ait-2); an observation says so in status.
 */
export function enteredInError(r: Resource, reason: string, fhirUser: string | undefined, now: Date): Resource {
  const out = withNote(r, `Entered in error: ${reason}`, fhirUser, now);
  const system = kVerification[r.resourceType];
  if (system) {
    delete out.clinicalStatus;
    out.verificationStatus = { coding: [{ system, code: 'entered-in-error', display: 'Entered in Error' }] };
  } else {
    out.status = 'entered-in-error';
  }
  return out;
}

export type ClinicalStatus = 'active' | 'inactive' | 'resolved';

/** An amended condition or allergy: a new clinical status, with the reason in a note. */
export function amendedStatus(r: Resource, status: ClinicalStatus, reason: string, fhirUser: string | undefined, now: Date): Resource {
  const out = withNote(r, `Amended: ${reason}`, fhirUser, now);
  const system =
    r.resourceType === 'Condition'
      ? 'http://terminology.hl7.org/CodeSystem/condition-clinical'
      : 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical';
  out.clinicalStatus = { coding: [{ system, code: status, display: status.charAt(0).toUpperCase() + status.slice(1) }] };
  if (r.resourceType === 'Condition' && status === 'resolved' && !out.abatementDateTime) {
    out.abatementDateTime = now.toISOString().slice(0, 10);
  }
  return out;
}

/** A corrected observation: the new value, status "corrected" (R4 observation-status), with the reason. */
export function correctedValue(r: Resource, value: number, reason: string, fhirUser: string | undefined, now: Date): Resource {
  const out = withNote(r, `Corrected: ${reason}`, fhirUser, now);
  const q = (r.valueQuantity as Record<string, unknown> | undefined) ?? {};
  out.valueQuantity = { ...q, value };
  out.status = 'corrected';
  return out;
}
