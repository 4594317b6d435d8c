// Sorting table rows by a column the user chose; with no choice the clinical order is kept.

export type Direction = 'ascending' | 'descending';

export interface SortState {
  column: string;
  direction: Direction;
}

/** Clicking a column sorts by it ascending; clicking it again reverses; a third time returns to the clinical order. */
export function nextSort(current: SortState | null, column: string): SortState | null {
  if (!current || current.column !== column) return { column, direction: 'ascending' };
  if (current.direction === 'ascending') return { column, direction: 'descending' };
  return null;
}

/** A stable sort by the text `key` gives (dates as YYYY-MM-DD sort as text); empty values last. */
export function sortRows<T>(rows: readonly T[], key: (row: T) => string, direction: Direction): T[] {
  const sign = direction === 'ascending' ? 1 : -1;
  return rows
    .map((row, i) => ({ row, i, k: key(row) }))
    .sort((a, b) => {
      if (!a.k !== !b.k) return a.k ? -1 : 1;
      return sign * a.k.localeCompare(b.k, 'en-GB', { sensitivity: 'base', numeric: true }) || a.i - b.i;
    })
    .map((x) => x.row);
}
