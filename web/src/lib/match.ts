// Finding a patient by demographics with the server's probabilistic matcher (R4
// patient-operation-match, POST Patient/$match), and reading how each candidate matched.
import type { BundleEntry, Resource } from './fhir';

export interface MatchQuery {
  family: string;
  given?: string;
  birthDate: string; // YYYY-MM-DD
  postcode?: string;
}

/** The Parameters body of a $match request. */
export function matchParameters(q: MatchQuery, count = 20): Resource {
  const name: { family: string; given?: string[] } = { family: q.family.trim() };
  if (q.given?.trim()) name.given = [q.given.trim()];
  const patient: Resource = { resourceType: 'Patient', name: [name], birthDate: q.birthDate };
  if (q.postcode?.trim()) patient.address = [{ postalCode: q.postcode.trim().toUpperCase() }];
  return {
    resourceType: 'Parameters',
    parameter: [
      { name: 'resource', resource: patient },
      { name: 'count', valueInteger: count },
    ],
  };
}

export type Grade = 'certain' | 'probable' | 'possible' | 'certainly-not' | 'unknown';

export interface FieldVerdict {
  field: string; // as people read it: "Last name"
  verdict: string; // "exact", "close", "different", ...
}

export interface MatchInfo {
  grade: Grade;
  score?: number;
  fields: FieldVerdict[]; // only the fields both sides had
  /** What confirmed a link made without an NHS number: "postcode", "previous address", ... */
  corroboration?: string;
  /** The safety rule that held the grade down, e.g. "no NHS number match and birth dates disagree". */
  rule?: string;
}

const kGradeUrl = 'http://hl7.org/fhir/StructureDefinition/match-grade';
// The server's field codes (docs/mpi.md), as people read them.
const kFieldNames: Record<string, string> = {
  nhs_number: 'NHS number',
  family_name: 'Last name',
  given_name: 'First name',
  birth_date: 'Date of birth',
  gender: 'Gender',
  postcode: 'Postcode',
  phone: 'Phone',
  email: 'Email',
  local_id: 'Local record number',
  gp_practice: 'GP practice',
};

// The server's comparison levels (docs/mpi.md), as people read them.
const kVerdictWords: Record<string, string> = {
  exact: 'agrees',
  close: 'nearly agrees',
  phonetic: 'sounds alike',
  variant: 'is a variant (such as a short form)',
  partial: 'partly agrees',
  transposed: 'has day and month swapped',
  one_digit: 'differs by one digit',
  previous: 'matches a previous address',
  sector: 'same postcode sector',
  district: 'same postcode district',
  disagree: 'differs',
};

/** "Last name" for the server's field code "family_name"; undefined for a code it does not know. */
export function fieldName(code: string): string | undefined {
  return Object.hasOwn(kFieldNames, code) ? kFieldNames[code] : undefined;
}

/** "agrees" for the server's level "exact", and the like; undefined for a level it does not know. */
export function verdictWords(verdict: string): string | undefined {
  return Object.hasOwn(kVerdictWords, verdict) ? kVerdictWords[verdict] : undefined;
}

/** "Date of birth has day and month swapped" and the like ("Phone: level" for a level not known here). */
export function verdictText(f: FieldVerdict): string {
  const words = verdictWords(f.verdict);
  return words ? `${f.field} ${words}` : `${f.field}: ${f.verdict.replace(/_/g, ' ')}`;
}

interface Extension {
  url?: string;
  valueCode?: string;
  valueString?: string;
  extension?: Extension[];
}

/** The grade, score and per-field verdicts the server gave a $match candidate. */
export function matchInfo(entry: BundleEntry): MatchInfo {
  const search = entry.search as (BundleEntry['search'] & { extension?: Extension[] }) | undefined;
  const ext = search?.extension ?? [];
  const grade = (ext.find((e) => e.url === kGradeUrl)?.valueCode ?? 'unknown') as Grade;
  const fields: FieldVerdict[] = [];
  let corroboration: string | undefined;
  let rule: string | undefined;
  for (const e of ext) {
    for (const f of e.extension ?? []) {
      if (f.url === 'corroboration' && f.valueString) corroboration = f.valueString;
      if (f.url === 'cap' && f.valueString) rule = f.valueString;
      const name = f.url ? fieldName(f.url) : undefined;
      const verdict = /^([a-z_-]+)/.exec(f.valueString ?? '')?.[1];
      if (name && verdict && verdict !== 'missing') fields.push({ field: name, verdict });
    }
  }
  const info: MatchInfo = { grade, fields };
  if (typeof search?.score === 'number') info.score = search.score;
  if (corroboration) info.corroboration = corroboration;
  if (rule) info.rule = rule;
  return info;
}

/** "Probable match" and the like, for a tag. */
export function gradeText(grade: Grade): string {
  switch (grade) {
    case 'certain':
      return 'Certain match';
    case 'probable':
      return 'Probable match';
    case 'possible':
      return 'Possible match';
    case 'certainly-not':
      return 'Not a match';
    default:
      return 'Match not graded';
  }
}
