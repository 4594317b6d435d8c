// Filtering table rows by source organisation and status (the choices are the values present).

export interface Filters {
  organisation: string; // '' for all
  status: string; // '' for all
}

/** The distinct non-empty values, in alphabetical order, for a filter's choices. */
export function choicesOf<T>(rows: readonly T[], value: (row: T) => string): string[] {
  return [...new Set(rows.map(value).filter(Boolean))].sort((a, b) => a.localeCompare(b, 'en-GB'));
}

/** The rows that match every chosen filter (a filter the table does not have is ignored). */
export function filterRows<T>(
  rows: readonly T[],
  filters: Filters,
  organisationOf?: (row: T) => string,
  statusOf?: (row: T) => string,
): T[] {
  return rows.filter(
    (r) =>
      (!filters.organisation || !organisationOf || organisationOf(r) === filters.organisation) &&
      (!filters.status || !statusOf || statusOf(r) === filters.status),
  );
}
