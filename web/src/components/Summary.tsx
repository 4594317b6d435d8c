import { useState } from 'react';
import type { Resource } from '../lib/fhir';
import { formatDate } from '../lib/dates';
import { nextSort, type SortState, sortRows } from '../lib/sort';
import { timelineOf } from '../lib/timeline';
import type { ClinicalSummary } from '../lib/load';
import {
  conceptCodes,
  conceptText,
  dosageText,
  medicationName,
  provenanceOf,
  sortAllergies,
  sortMedicines,
  sortProblems,
} from '../lib/record';

function ProvenanceLine({ r, summary }: { r: Resource; summary: ClinicalSummary }) {
  const p = provenanceOf(r, summary.known, summary.organisationOf);
  const parts: string[] = [];
  if (p.recordedBy) parts.push(`Recorded by ${p.recordedBy}`);
  if (p.source) parts.push(`source ${p.source}`);
  if (p.lastUpdated) parts.push(`last updated ${formatDate(p.lastUpdated)}`);
  if (parts.length === 0) return null;
  return <span className="ucr-provenance">{parts.join('; ')}</span>;
}

/** A column header that sorts the table by that column (state told to screen readers by aria-sort). */
function SortHeader({
  label,
  column,
  sort,
  onSort,
}: {
  label: string;
  column: string;
  sort: SortState | null;
  onSort: (column: string) => void;
}) {
  const active = sort?.column === column;
  return (
    <th className="nhsuk-table__header" scope="col" aria-sort={active ? sort.direction : 'none'}>
      <button type="button" className="ucr-sort" onClick={() => onSort(column)}>
        {label}
      </button>
    </th>
  );
}

function statusTag(r: Resource) {
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

export function ProblemsTable({ summary }: { summary: ClinicalSummary }) {
  const [activeOnly, setActiveOnly] = useState(false);
  const [sort, setSort] = useState<SortState | null>(null);
  const onSort = (column: string) => setSort(nextSort(sort, column));
  const all = sortProblems(summary.conditions);
  const shown = activeOnly
    ? all.filter((c) => conceptCodes(c.clinicalStatus as { coding?: { code?: string }[] } | undefined).includes('active'))
    : all;
  const since = (c: Resource) => String(c.onsetDateTime ?? c.recordedDate ?? '');
  const problems = sort
    ? sortRows(shown, sort.column === 'since' ? since : (c) => conceptText(c.code as never), sort.direction)
    : shown;
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
      <table className="nhsuk-table ucr-stack" data-testid="problems">
        <caption className="nhsuk-table__caption nhsuk-u-visually-hidden">Problems</caption>
        <thead className="nhsuk-table__head">
          <tr className="nhsuk-table__row">
            <SortHeader label="Problem" column="name" sort={sort} onSort={onSort} />
            <th className="nhsuk-table__header" scope="col">Status</th>
            <SortHeader label="Since" column="since" sort={sort} onSort={onSort} />
          </tr>
        </thead>
        <tbody className="nhsuk-table__body">
          {problems.length === 0 && (
            <EmptyRow cols={3} text={activeOnly ? 'No active problems recorded.' : 'No problems recorded.'} />
          )}
          {problems.map((c) => (
            <tr className="nhsuk-table__row" key={c.id}>
              <td className="nhsuk-table__cell" data-label="Problem">
                {conceptText(c.code as never)}
                <ProvenanceLine r={c} summary={summary} />
              </td>
              <td className="nhsuk-table__cell" data-label="Status">
                {statusTag(c)}
              </td>
              <td className="nhsuk-table__cell" data-label="Since">
                {formatDate((c.onsetDateTime ?? c.recordedDate) as string | undefined)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

const started = (m: Resource) =>
  String(m.authoredOn ?? (m.effectivePeriod as { start?: string } | undefined)?.start ?? '');

export function MedicationsTable({ summary }: { summary: ClinicalSummary }) {
  const [sort, setSort] = useState<SortState | null>(null);
  const clinical = sortMedicines(summary.medications);
  const meds = sort
    ? sortRows(clinical, sort.column === 'started' ? started : medicationName, sort.direction)
    : clinical;
  const onSort = (column: string) => setSort(nextSort(sort, column));
  return (
    <table className="nhsuk-table ucr-stack" data-testid="medications">
      <caption className="nhsuk-table__caption">Current medicines</caption>
      <thead className="nhsuk-table__head">
        <tr className="nhsuk-table__row">
          <SortHeader label="Medicine" column="name" sort={sort} onSort={onSort} />
          <th className="nhsuk-table__header" scope="col">How to take it</th>
          <SortHeader label="Started" column="started" sort={sort} onSort={onSort} />
        </tr>
      </thead>
      <tbody className="nhsuk-table__body">
        {meds.length === 0 && <EmptyRow cols={3} text="No current medicines recorded." />}
        {meds.map((m) => (
          <tr className="nhsuk-table__row" key={`${m.resourceType}/${m.id}`}>
            <td className="nhsuk-table__cell" data-label="Medicine">
              {medicationName(m)}
              {m.resourceType === 'MedicationStatement' && ' (reported)'}
              <ProvenanceLine r={m} summary={summary} />
            </td>
            <td className="nhsuk-table__cell" data-label="How to take it">
              {dosageText(m) || 'Not recorded'}
            </td>
            <td className="nhsuk-table__cell" data-label="Started">
              {formatDate(started(m) || undefined)}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function AllergiesTable({ summary }: { summary: ClinicalSummary }) {
  const list = sortAllergies(summary.allergies);
  return (
    <table className="nhsuk-table ucr-stack" data-testid="allergies">
      <caption className="nhsuk-table__caption">Allergies and adverse reactions</caption>
      <thead className="nhsuk-table__head">
        <tr className="nhsuk-table__row">
          <th className="nhsuk-table__header" scope="col">Allergy</th>
          <th className="nhsuk-table__header" scope="col">Reaction</th>
          <th className="nhsuk-table__header" scope="col">Recorded</th>
        </tr>
      </thead>
      <tbody className="nhsuk-table__body">
        {list.length === 0 && <EmptyRow cols={3} text="No allergies recorded." />}
        {list.map((a) => {
          const reaction = (a.reaction as { manifestation?: never[]; severity?: string }[] | undefined)?.[0];
          return (
            <tr className="nhsuk-table__row" key={a.id}>
              <td className="nhsuk-table__cell" data-label="Allergy">
                {conceptText(a.code as never)}
                <ProvenanceLine r={a} summary={summary} />
              </td>
              <td className="nhsuk-table__cell" data-label="Reaction">
                {conceptText(reaction?.manifestation?.[0]) || 'Not recorded'}
                {reaction?.severity ? ` (${reaction.severity})` : ''}
              </td>
              <td className="nhsuk-table__cell" data-label="Recorded">
                {formatDate(a.recordedDate as string | undefined)}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

const kEncounterClass: Record<string, string> = {
  AMB: 'Appointment',
  EMER: 'Emergency department',
  IMP: 'Hospital stay',
  VR: 'Phone or video',
  HH: 'Home visit',
};

export function EncountersTable({ summary }: { summary: ClinicalSummary }) {
  const list = summary.encounters;
  return (
    <table className="nhsuk-table ucr-stack" data-testid="encounters">
      <caption className="nhsuk-table__caption">Recent care</caption>
      <thead className="nhsuk-table__head">
        <tr className="nhsuk-table__row">
          <th className="nhsuk-table__header" scope="col">Date</th>
          <th className="nhsuk-table__header" scope="col">What</th>
          <th className="nhsuk-table__header" scope="col">Where</th>
        </tr>
      </thead>
      <tbody className="nhsuk-table__body">
        {list.length === 0 && <EmptyRow cols={3} text="No encounters recorded." />}
        {list.map((e) => {
          const cls = (e.class as { code?: string; display?: string } | undefined) ?? {};
          const provider = e.serviceProvider as { reference?: string } | undefined;
          const org = summary.known.get(provider?.reference ?? '');
          return (
            <tr className="nhsuk-table__row" key={e.id}>
              <td className="nhsuk-table__cell" data-label="Date">
                {formatDate((e.period as { start?: string } | undefined)?.start)}
              </td>
              <td className="nhsuk-table__cell" data-label="What">
                {conceptText((e.type as never[] | undefined)?.[0]) || 'Encounter'}
                <span className="ucr-provenance">{kEncounterClass[cls.code ?? ''] ?? cls.display ?? ''}</span>
              </td>
              <td className="nhsuk-table__cell" data-label="Where">
                {typeof org?.name === 'string' ? org.name : 'Not recorded'}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

export function CarePlans({ summary }: { summary: ClinicalSummary }) {
  if (summary.carePlans.length === 0) return null;
  return (
    <section aria-labelledby="care-plans-heading" data-testid="care-plans">
      <h2 className="nhsuk-heading-m" id="care-plans-heading">
        Care plans
      </h2>
      {summary.carePlans.map((c) => (
        <div className="nhsuk-card" key={c.id}>
          <div className="nhsuk-card__content">
            <h3 className="nhsuk-card__heading nhsuk-heading-s">{typeof c.title === 'string' ? c.title : 'Care plan'}</h3>
            {typeof c.description === 'string' && <p className="nhsuk-card__description">{c.description}</p>}
            <ProvenanceLine r={c} summary={summary} />
          </div>
        </div>
      ))}
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
