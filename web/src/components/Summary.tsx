import { useState } from 'react';
import type { Resource } from '../lib/fhir';
import { formatDate } from '../lib/dates';
import { timelineOf } from '../lib/timeline';
import type { ClinicalSummary } from '../lib/load';
import {
  abnormalFlag,
  conceptCodes,
  conceptText,
  correctionNote,
  dosageText,
  isCorrected,
  isEnteredInError,
  medicationName,
  provenanceOf,
  sortAllergies,
  sortMedicines,
  sortProblems,
  sortResults,
  sourceOrganisation,
  statusText,
} from '../lib/record';
import { type Column, DataTable } from './DataTable';

function ProvenanceLine({ r, summary }: { r: Resource; summary: ClinicalSummary }) {
  const p = provenanceOf(r, summary.known, summary.organisationOf);
  const parts: string[] = [];
  if (p.recordedBy) parts.push(`Recorded by ${p.recordedBy}`);
  if (p.source) parts.push(`source ${p.source}`);
  if (p.lastUpdated) parts.push(`last updated ${formatDate(p.lastUpdated)}`);
  if (parts.length === 0) return null;
  return <span className="ucr-provenance">{parts.join('; ')}</span>;
}

/** "Entered in error" or "Corrected" with the reason, for an entry changed after it was recorded. */
export function CorrectionTag({ r }: { r: Resource }) {
  const note = correctionNote(r);
  if (isEnteredInError(r)) {
    return (
      <span className="ucr-provenance" data-testid="correction">
        <strong className="nhsuk-tag nhsuk-tag--red">Entered in error</strong> {note}
      </span>
    );
  }
  if (!isCorrected(r)) return null;
  return (
    <span className="ucr-provenance" data-testid="correction">
      <strong className="nhsuk-tag nhsuk-tag--orange">Corrected</strong> {note}
    </span>
  );
}

/** The button that opens the correction form for an entry. */
export function CorrectButton({ r, label, onCorrect }: { r: Resource; label: string; onCorrect?: ((r: Resource) => void) | undefined }) {
  if (!onCorrect || isEnteredInError(r)) return null;
  return (
    <span className="ucr-provenance">
      <button type="button" className="ucr-link-button" onClick={() => onCorrect(r)}>
        Correct<span className="nhsuk-u-visually-hidden"> {label}</span>
      </button>
    </span>
  );
}

function statusTag(r: Resource) {
  if (isEnteredInError(r)) return <strong className="nhsuk-tag nhsuk-tag--red">Entered in error</strong>;
  const codes = conceptCodes(r.clinicalStatus as { coding?: { code?: string }[] } | undefined);
  if (codes.includes('active')) return <strong className="nhsuk-tag nhsuk-tag--blue">Active</strong>;
  if (codes.includes('resolved')) return <strong className="nhsuk-tag nhsuk-tag--grey">Resolved</strong>;
  if (codes.length > 0) return <strong className="nhsuk-tag nhsuk-tag--grey">{codes[0]}</strong>;
  return null;
}

function EmptyRow({ cols, text }: { cols: number; text: string }) {
  return (
    <tr className="nhsuk-table__row">
      <td className="nhsuk-table__cell" colSpan={cols}>
        {text}
      </td>
    </tr>
  );
}

export function ProblemsTable({
  summary,
  onCorrect,
}: {
  summary: ClinicalSummary;
  onCorrect?: ((r: Resource) => void) | undefined;
}) {
  const [activeOnly, setActiveOnly] = useState(false);
  const all = sortProblems(summary.conditions);
  const shown = activeOnly
    ? all.filter((c) => conceptCodes(c.clinicalStatus as { coding?: { code?: string }[] } | undefined).includes('active'))
    : all;
  const since = (c: Resource) => String(c.onsetDateTime ?? c.recordedDate ?? '');
  const name = (c: Resource) => conceptText(c.code as never);
  const columns: Column<Resource>[] = [
    {
      id: 'name',
      label: 'Problem',
      sortKey: name,
      render: (c) => (
        <>
          {name(c)}
          <CorrectionTag r={c} />
          <ProvenanceLine r={c} summary={summary} />
          <CorrectButton r={c} label={name(c)} onCorrect={onCorrect} />
        </>
      ),
    },
    { id: 'status', label: 'Status', sortKey: statusText, render: statusTag },
    { id: 'since', label: 'Since', sortKey: since, render: (c) => formatDate(since(c) || undefined) },
  ];
  return (
    <>
      <h3 className="nhsuk-heading-s nhsuk-u-margin-bottom-2">Problems</h3>
      <div className="nhsuk-checkboxes nhsuk-checkboxes--small nhsuk-u-margin-bottom-2">
        <div className="nhsuk-checkboxes__item">
          <input
            className="nhsuk-checkboxes__input"
            id="problems-active-only"
            type="checkbox"
            checked={activeOnly}
            onChange={(e) => setActiveOnly(e.target.checked)}
          />
          <label className="nhsuk-label nhsuk-checkboxes__label" htmlFor="problems-active-only">
            Show only active problems
          </label>
        </div>
      </div>
      <DataTable
        id="problems"
        caption="Problems"
        captionHidden
        rows={shown}
        columns={columns}
        rowKey={(c) => c.id ?? ''}
        organisationOf={(r) => sourceOrganisation(r, summary.known, summary.organisationOf)}
        statusOf={statusText}
        empty={activeOnly ? 'No active problems recorded.' : 'No problems recorded.'}
      />
    </>
  );
}

const started = (m: Resource) =>
  String(m.authoredOn ?? (m.effectivePeriod as { start?: string } | undefined)?.start ?? '');

export function MedicationsTable({ summary }: { summary: ClinicalSummary }) {
  const columns: Column<Resource>[] = [
    {
      id: 'name',
      label: 'Medicine',
      sortKey: medicationName,
      render: (m) => (
        <>
          {medicationName(m)}
          {m.resourceType === 'MedicationStatement' && ' (reported)'}
          <ProvenanceLine r={m} summary={summary} />
        </>
      ),
    },
    { id: 'dose', label: 'How to take it', render: (m) => dosageText(m) || 'Not recorded' },
    { id: 'status', label: 'Status', sortKey: statusText, render: statusText },
    { id: 'started', label: 'Started', sortKey: started, render: (m) => formatDate(started(m) || undefined) },
  ];
  return (
    <DataTable
      id="medications"
      caption="Current medicines"
      rows={sortMedicines(summary.medications)}
      columns={columns}
      rowKey={(m) => `${m.resourceType}/${m.id ?? ''}`}
      organisationOf={(r) => sourceOrganisation(r, summary.known, summary.organisationOf)}
      statusOf={statusText}
      empty="No current medicines recorded."
    />
  );
}

const kSeverityText: Record<string, string> = { mild: 'mild', moderate: 'moderate', severe: 'severe' };

type Props = { summary: ClinicalSummary; onCorrect?: ((r: Resource) => void) | undefined };

export function AllergiesTable({ summary, onCorrect }: Props) {
  const org = (r: Resource) => sourceOrganisation(r, summary.known, summary.organisationOf);
  const columns: Column<Resource>[] = [
    {
      id: 'allergy',
      label: 'Allergy',
      sortKey: (a) => conceptText(a.code as never),
      render: (a) => (
        <>
          {conceptText(a.code as never)}
          {a.criticality === 'high' && (
            <>
              {' '}
              <strong className="nhsuk-tag nhsuk-tag--red">High risk</strong>
            </>
          )}
          <CorrectionTag r={a} />
          <ProvenanceLine r={a} summary={summary} />
          <CorrectButton r={a} label={conceptText(a.code as never)} onCorrect={onCorrect} />
        </>
      ),
    },
    {
      id: 'reaction',
      label: 'Reaction',
      render: (a) => {
        const reaction = (a.reaction as { manifestation?: never[]; severity?: string }[] | undefined)?.[0];
        const severity = kSeverityText[reaction?.severity ?? ''];
        return `${conceptText(reaction?.manifestation?.[0]) || 'Not recorded'}${severity ? ` (${severity})` : ''}`;
      },
    },
    { id: 'status', label: 'Status', sortKey: statusText, render: statusText },
    { id: 'recorded', label: 'Recorded', sortKey: (a) => String(a.recordedDate ?? ''), render: (a) => formatDate(a.recordedDate as string | undefined) },
  ];
  return (
    <DataTable
      id="allergies"
      caption="Allergies and adverse reactions"
      rows={sortAllergies(summary.allergies)}
      columns={columns}
      rowKey={(a) => a.id ?? ''}
      organisationOf={org}
      statusOf={statusText}
      empty="No allergies recorded."
    />
  );
}

const kEncounterClass: Record<string, string> = {
  AMB: 'Appointment',
  EMER: 'Emergency department',
  IMP: 'Hospital stay',
  VR: 'Phone or video',
  HH: 'Home visit',
  FLD: 'Ambulance',
};

const encounterStart = (e: Resource) => String((e.period as { start?: string } | undefined)?.start ?? '');

export function EncountersTable({ summary }: { summary: ClinicalSummary }) {
  const org = (r: Resource) => sourceOrganisation(r, summary.known, summary.organisationOf);
  const what = (e: Resource) => conceptText((e.type as never[] | undefined)?.[0]) || 'Encounter';
  const columns: Column<Resource>[] = [
    { id: 'date', label: 'Date', sortKey: encounterStart, render: (e) => formatDate(encounterStart(e) || undefined) },
    {
      id: 'what',
      label: 'What',
      sortKey: what,
      render: (e) => {
        const cls = (e.class as { code?: string; display?: string } | undefined) ?? {};
        return (
          <>
            {what(e)}
            <span className="ucr-provenance">{kEncounterClass[cls.code ?? ''] ?? cls.display ?? ''}</span>
          </>
        );
      },
    },
    { id: 'where', label: 'Where', sortKey: org, render: (e) => org(e) || 'Not recorded' },
    { id: 'status', label: 'Status', sortKey: statusText, render: statusText },
  ];
  return (
    <DataTable
      id="encounters"
      caption="Recent care"
      rows={summary.encounters}
      limit={10}
      columns={columns}
      rowKey={(e) => e.id ?? ''}
      organisationOf={org}
      statusOf={statusText}
      empty="No encounters recorded."
    />
  );
}

const periodStart = (c: Resource) => String((c.period as { start?: string } | undefined)?.start ?? '');

export function CarePlans({ summary }: { summary: ClinicalSummary }) {
  const org = (r: Resource) => sourceOrganisation(r, summary.known, summary.organisationOf);
  const title = (c: Resource) => (typeof c.title === 'string' ? c.title : 'Care plan');
  const columns: Column<Resource>[] = [
    {
      id: 'plan',
      label: 'Plan',
      sortKey: title,
      render: (c) => (
        <>
          {title(c)}
          {typeof c.description === 'string' && <span className="ucr-provenance">{c.description}</span>}
          <ProvenanceLine r={c} summary={summary} />
        </>
      ),
    },
    { id: 'status', label: 'Status', sortKey: statusText, render: statusText },
    { id: 'since', label: 'Since', sortKey: periodStart, render: (c) => formatDate(periodStart(c) || undefined) },
  ];
  if (summary.carePlans.length === 0) return null;
  return (
    <section aria-labelledby="care-plans-heading">
      <h2 className="nhsuk-heading-m" id="care-plans-heading">
        Care plans
      </h2>
      <DataTable
        id="care-plans"
        caption="Care plans"
        rows={summary.carePlans}
        columns={columns}
        rowKey={(c) => c.id ?? ''}
        organisationOf={org}
        statusOf={statusText}
        empty="No care plans."
      />
    </section>
  );
}

/** A result's value with its unit, or its text. */
export function resultValue(o: Resource): string {
  const q = o.valueQuantity as { value?: number; unit?: string } | undefined;
  if (q?.value !== undefined) return `${q.value} ${q.unit ?? ''}`.trim();
  if (typeof o.valueString === 'string') return o.valueString;
  const parts = ((o.component as { code?: never; valueQuantity?: { value?: number; unit?: string } }[] | undefined) ?? [])
    .filter((c) => c.valueQuantity?.value !== undefined)
    .map((c) => String(c.valueQuantity?.value));
  if (parts.length > 0) {
    const unit = (o.component as { valueQuantity?: { unit?: string } }[])[0]?.valueQuantity?.unit ?? '';
    return `${parts.join('/')} ${unit}`.trim();
  }
  return conceptText(o.valueCodeableConcept as never);
}

const resultDate = (o: Resource) => String(o.effectiveDateTime ?? o.issued ?? '');

/** Results and readings: abnormal ones flagged and first, then newest first. */
export function ResultsTable({ summary, onCorrect }: Props) {
  const org = (r: Resource) => sourceOrganisation(r, summary.known, summary.organisationOf);
  const name = (o: Resource) => conceptText(o.code as never);
  const columns: Column<Resource>[] = [
    {
      id: 'test',
      label: 'Test',
      sortKey: name,
      render: (o) => (
        <>
          {name(o)}
          <CorrectionTag r={o} />
          <ProvenanceLine r={o} summary={summary} />
          <CorrectButton r={o} label={name(o)} onCorrect={onCorrect} />
        </>
      ),
    },
    {
      id: 'value',
      label: 'Result',
      render: (o) => {
        const flag = abnormalFlag(o);
        return (
          <>
            {resultValue(o)}
            {flag && (
              <>
                {' '}
                <strong className="nhsuk-tag nhsuk-tag--red" data-testid="abnormal">
                  {flag}
                </strong>
              </>
            )}
          </>
        );
      },
    },
    { id: 'status', label: 'Status', sortKey: statusText, render: statusText },
    { id: 'date', label: 'Date', sortKey: resultDate, render: (o) => formatDate(resultDate(o) || undefined) },
  ];
  return (
    <section aria-labelledby="results-heading">
      <h2 className="nhsuk-heading-m" id="results-heading">
        Results and readings
      </h2>
      <DataTable
        id="results"
        caption="Results and readings, abnormal first"
        rows={sortResults([...summary.observations, ...summary.vitals])}
        limit={20}
        columns={columns}
        rowKey={(o) => o.id ?? ''}
        organisationOf={org}
        statusOf={statusText}
        empty="No results recorded."
      />
    </section>
  );
}

const immunisationDate = (v: Resource) => String(v.occurrenceDateTime ?? '');

export function ImmunisationsTable({ summary }: { summary: ClinicalSummary }) {
  const org = (r: Resource) => sourceOrganisation(r, summary.known, summary.organisationOf);
  const vaccine = (v: Resource) => conceptText(v.vaccineCode as never);
  const columns: Column<Resource>[] = [
    {
      id: 'vaccine',
      label: 'Vaccine',
      sortKey: vaccine,
      render: (v) => (
        <>
          {vaccine(v)}
          <ProvenanceLine r={v} summary={summary} />
        </>
      ),
    },
    { id: 'status', label: 'Status', sortKey: statusText, render: statusText },
    { id: 'date', label: 'Given', sortKey: immunisationDate, render: (v) => formatDate(immunisationDate(v) || undefined) },
  ];
  return (
    <section aria-labelledby="immunisations-heading">
      <h2 className="nhsuk-heading-m" id="immunisations-heading">
        Immunisations
      </h2>
      <DataTable
        id="immunisations"
        caption="Immunisations"
        rows={summary.immunisations}
        limit={10}
        columns={columns}
        rowKey={(v) => v.id ?? ''}
        organisationOf={org}
        statusOf={statusText}
        empty="No immunisations recorded."
      />
    </section>
  );
}

/** Everything in date order, newest first, with a filter by kind. */
export function Timeline({ summary }: { summary: ClinicalSummary }) {
  const [kind, setKind] = useState('');
  // Filtered first, then cut to the newest 40, so an older kind of entry can still be picked out.
  const all = timelineOf(summary, Number.POSITIVE_INFINITY);
  const kinds = [...new Set(all.map((e) => e.kind))].sort();
  const shown = (kind ? all.filter((e) => e.kind === kind) : all).slice(0, 40);
  return (
    <section aria-labelledby="timeline-heading" data-testid="timeline">
      <h2 className="nhsuk-heading-m" id="timeline-heading">
        Timeline
      </h2>
      <div className="nhsuk-form-group">
        <label className="nhsuk-label" htmlFor="timeline-kind">
          Show
        </label>
        <select className="nhsuk-select" id="timeline-kind" value={kind} onChange={(e) => setKind(e.target.value)}>
          <option value="">Everything</option>
          {kinds.map((k) => (
            <option key={k} value={k}>
              {k}
            </option>
          ))}
        </select>
      </div>
      <table className="nhsuk-table ucr-stack">
        <caption className="nhsuk-table__caption nhsuk-u-visually-hidden">Timeline</caption>
        <thead className="nhsuk-table__head">
          <tr className="nhsuk-table__row">
            <th className="nhsuk-table__header" scope="col">Date</th>
            <th className="nhsuk-table__header" scope="col">Kind</th>
            <th className="nhsuk-table__header" scope="col">What</th>
          </tr>
        </thead>
        <tbody className="nhsuk-table__body">
          {shown.length === 0 && <EmptyRow cols={3} text="Nothing recorded." />}
          {shown.map((e) => (
            <tr className="nhsuk-table__row" key={e.id}>
              <td className="nhsuk-table__cell" data-label="Date">
                {formatDate(e.date)}
              </td>
              <td className="nhsuk-table__cell" data-label="Kind">
                {e.kind}
              </td>
              <td className="nhsuk-table__cell" data-label="What">
                {e.text}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
