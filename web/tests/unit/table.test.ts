import { describe, expect, it } from 'vitest';
import { choicesOf, filterRows } from '../../src/lib/table';

const rows = [
  { org: 'Kent Surgery', status: 'Active' },
  { org: 'East Kent Hospitals', status: 'Resolved' },
  { org: 'Kent Surgery', status: 'Resolved' },
  { org: '', status: 'Active' },
];
const org = (r: (typeof rows)[number]) => r.org;
const status = (r: (typeof rows)[number]) => r.status;

describe('table filters', () => {
  it('offers the distinct values present, in alphabetical order, without blanks', () => {
    expect(choicesOf(rows, org)).toEqual(['East Kent Hospitals', 'Kent Surgery']);
  });
  it('keeps the rows matching every chosen filter, in their order', () => {
    expect(filterRows(rows, { organisation: 'Kent Surgery', status: '' }, org, status)).toEqual([rows[0], rows[2]]);
    expect(filterRows(rows, { organisation: 'Kent Surgery', status: 'Resolved' }, org, status)).toEqual([rows[2]]);
    expect(filterRows(rows, { organisation: '', status: '' }, org, status)).toEqual(rows);
  });
  it('ignores a filter the table does not have', () => {
    expect(filterRows(rows, { organisation: 'Nowhere', status: 'Active' }, undefined, status)).toEqual([rows[0], rows[3]]);
  });
});
