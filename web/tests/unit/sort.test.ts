import { describe, expect, it } from 'vitest';
import { nextSort, sortRows } from '../../src/lib/sort';

describe('sorting a table', () => {
  it('goes ascending, descending, then back to the clinical order', () => {
    const a = nextSort(null, 'name');
    expect(a).toEqual({ column: 'name', direction: 'ascending' });
    const d = nextSort(a, 'name');
    expect(d).toEqual({ column: 'name', direction: 'descending' });
    expect(nextSort(d, 'name')).toBeNull();
    expect(nextSort(d, 'started')).toEqual({ column: 'started', direction: 'ascending' });
  });
  it('sorts text without regard to case, keeps ties in order and puts empty values last', () => {
    const rows = [{ n: 'ramipril', i: 1 }, { n: '', i: 2 }, { n: 'Amlodipine', i: 3 }, { n: 'ramipril', i: 4 }];
    expect(sortRows(rows, (r) => r.n, 'ascending').map((r) => r.i)).toEqual([3, 1, 4, 2]);
    expect(sortRows(rows, (r) => r.n, 'descending').map((r) => r.i)).toEqual([1, 4, 3, 2]);
  });
  it('sorts ISO dates in time order', () => {
    const rows = ['2024-01-05', '2023-12-31', '2024-01-04'];
    expect(sortRows(rows, (r) => r, 'descending')).toEqual(['2024-01-05', '2024-01-04', '2023-12-31']);
  });
});
