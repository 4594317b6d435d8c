import { type ReactNode, useState } from 'react';
import { nextSort, type SortState, sortRows } from '../lib/sort';
import { choicesOf, type Filters, filterRows } from '../lib/table';

export interface Column<T> {
  id: string;
  label: string;
  /** Text to sort by (dates as YYYY-MM-DD); a column without it cannot be sorted. */
  sortKey?: (row: T) => string;
  render: (row: T) => ReactNode;
}

/** A column header that sorts the table by that column (state told to screen readers by aria-sort). */
export function SortHeader({
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

function FilterSelect({
  id,
  label,
  value,
  choices,
  onChange,
}: {
  id: string;
  label: string;
  value: string;
  choices: string[];
  onChange: (v: string) => void;
}) {
  return (
    <div className="nhsuk-form-group ucr-filter">
      <label className="nhsuk-label" htmlFor={id}>
        {label}
      </label>
      <select className="nhsuk-select" id={id} value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">All</option>
        {choices.map((c) => (
          <option key={c} value={c}>
            {c}
          </option>
        ))}
      </select>
    </div>
  );
}

/**
 * A list of the record as a table: rows in the clinical order they are given, any column sortable
 * (asc, desc, back to the clinical order), filterable by source organisation and by status.
 * Stacks into labelled blocks on a phone.
 */
export function DataTable<T>({
  id,
  caption,
  captionHidden = false,
  rows,
  columns,
  rowKey,
  organisationOf,
  statusOf,
  statusLabel = 'Status',
  limit,
  empty,
}: {
  id: string;
  caption: string;
  /** When a heading already names the table. */
  captionHidden?: boolean;
  rows: readonly T[];
  columns: Column<T>[];
  rowKey: (row: T) => string;
  organisationOf?: (row: T) => string;
  statusOf?: (row: T) => string;
  /** The second filter's label: "Status" unless it filters by something else (a document's type). */
  statusLabel?: string;
  /** Rows shown before "Show all" (sorting and filtering apply to every row first). */
  limit?: number;
  empty: string;
}) {
  const [sort, setSort] = useState<SortState | null>(null);
  const [filters, setFilters] = useState<Filters>({ organisation: '', status: '' });
  const [all, setAll] = useState(false);
  const onSort = (column: string) => setSort(nextSort(sort, column));
  const filtered = filterRows(rows, filters, organisationOf, statusOf);
  const key = sort ? columns.find((c) => c.id === sort.column)?.sortKey : undefined;
  const ordered = sort && key ? sortRows(filtered, key, sort.direction) : filtered;
  const shown = limit && !all ? ordered.slice(0, limit) : ordered;
  const organisations = organisationOf ? choicesOf(rows, organisationOf) : [];
  const statuses = statusOf ? choicesOf(rows, statusOf) : [];
  const sortable = columns.filter((c) => c.sortKey);
  return (
    <div data-testid={id}>
      {(organisations.length > 1 || statuses.length > 1 || filters.organisation || filters.status || rows.length > 1) && (
        <div className="ucr-filters">
          {sortable.length > 0 && rows.length > 1 && (
            <div className="nhsuk-form-group ucr-filter ucr-phone-only">
              <label className="nhsuk-label" htmlFor={`${id}-sort`}>
                Sort by
              </label>
              <select
                className="nhsuk-select"
                id={`${id}-sort`}
                value={sort ? `${sort.column}:${sort.direction}` : ''}
                onChange={(e) => {
                  const [column = '', direction] = e.target.value.split(':');
                  setSort(column ? { column, direction: direction === 'descending' ? 'descending' : 'ascending' } : null);
                }}
              >
                <option value="">Clinical order</option>
                {sortable.flatMap((c) => [
                  <option key={`${c.id}:ascending`} value={`${c.id}:ascending`}>
                    {c.label}, ascending
                  </option>,
                  <option key={`${c.id}:descending`} value={`${c.id}:descending`}>
                    {c.label}, descending
                  </option>,
                ])}
              </select>
            </div>
          )}
          {organisationOf && (organisations.length > 1 || filters.organisation) && (
            <FilterSelect
              id={`${id}-organisation`}
              label="Organisation"
              value={filters.organisation}
              choices={organisations}
              onChange={(organisation) => setFilters({ ...filters, organisation })}
            />
          )}
          {statusOf && (statuses.length > 1 || filters.status) && (
            <FilterSelect
              id={`${id}-status`}
              label={statusLabel}
              value={filters.status}
              choices={statuses}
              onChange={(status) => setFilters({ ...filters, status })}
            />
          )}
        </div>
      )}
      <table className="nhsuk-table ucr-stack">
        <caption className={`nhsuk-table__caption${captionHidden ? ' nhsuk-u-visually-hidden' : ''}`}>{caption}</caption>
        <thead className="nhsuk-table__head">
          <tr className="nhsuk-table__row">
            {columns.map((c) =>
              c.sortKey ? (
                <SortHeader key={c.id} label={c.label} column={c.id} sort={sort} onSort={onSort} />
              ) : (
                <th key={c.id} className="nhsuk-table__header" scope="col">
                  {c.label}
                </th>
              ),
            )}
          </tr>
        </thead>
        <tbody className="nhsuk-table__body">
          {shown.length === 0 && (
            <tr className="nhsuk-table__row">
              <td className="nhsuk-table__cell" colSpan={columns.length}>
                {rows.length === 0 ? empty : 'Nothing matches the filters.'}
              </td>
            </tr>
          )}
          {shown.map((r) => (
            <tr className="nhsuk-table__row" key={rowKey(r)}>
              {columns.map((c) => (
                <td className="nhsuk-table__cell" data-label={c.label} key={c.id}>
                  {c.render(r)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      {shown.length < ordered.length && (
        <button type="button" className="nhsuk-button nhsuk-button--secondary" onClick={() => setAll(true)}>
          Show all {ordered.length}
          <span className="nhsuk-u-visually-hidden"> rows of {caption.toLowerCase()}</span>
        </button>
      )}
    </div>
  );
}
