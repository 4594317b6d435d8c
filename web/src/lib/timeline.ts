// One chronological view of what happened, across encounters, problems, medicines, results,
// vaccinations and care plans, newest first.
import type { Resource } from './fhir';
import { conceptText, medicationName } from './record';

export interface TimelineEntry {
  date: string; // FHIR date or dateTime
  kind: 'Encounter' | 'Problem' | 'Medicine' | 'Result' | 'Vaccination' | 'Care plan' | 'Allergy';
  text: string;
  id: string;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export interface TimelineSources {
  encounters: Resource[];
  conditions: Resource[];
  medications: Resource[];
  observations: Resource[];
  immunisations: Resource[];
  carePlans: Resource[];
  allergies: Resource[];
}

export function timelineOf(s: TimelineSources, limit = 40): TimelineEntry[] {
  const out: TimelineEntry[] = [];
  const push = (date: string | undefined, kind: TimelineEntry['kind'], text: string, r: Resource) => {
    if (date && text) out.push({ date, kind, text, id: `${r.resourceType}/${r.id ?? out.length}` });
  };
  for (const e of s.encounters) {
    push(str((e.period as { start?: string } | undefined)?.start), 'Encounter', conceptText((e.type as never[] | undefined)?.[0]), e);
  }
  for (const c of s.conditions) push(str(c.onsetDateTime) ?? str(c.recordedDate), 'Problem', conceptText(c.code as never), c);
  for (const m of s.medications) {
    push(str(m.authoredOn) ?? str((m.effectivePeriod as { start?: string } | undefined)?.start), 'Medicine', medicationName(m), m);
  }
  for (const o of s.observations) push(str(o.effectiveDateTime) ?? str(o.issued), 'Result', conceptText(o.code as never), o);
  for (const i of s.immunisations) push(str(i.occurrenceDateTime), 'Vaccination', conceptText(i.vaccineCode as never), i);
  for (const p of s.carePlans) {
    push(str((p.period as { start?: string } | undefined)?.start), 'Care plan', str(p.title) ?? 'Care plan', p);
  }
  for (const a of s.allergies) push(str(a.recordedDate), 'Allergy', conceptText(a.code as never), a);
  return out.sort((a, b) => b.date.localeCompare(a.date)).slice(0, limit);
}
