import { describe, expect, it } from 'vitest';
import { ageInYears, dateFromParts, formatBirthDateAndAge, formatDate, formatTimeAndDate } from '../../src/lib/dates';

describe('dates', () => {
  const on = new Date(2026, 10, 26); // 26 November 2026, local time
  it('counts a birthday not yet reached this year as a year less', () => {
    expect(ageInYears('1950-12-01', on)).toBe(75);
    expect(ageInYears('1950-11-26', on)).toBe(76);
    expect(ageInYears('1950-11-27', on)).toBe(75);
  });
  it('has no age for an unknown or partial birth date', () => {
    expect(ageInYears(undefined, on)).toBeNull();
    expect(ageInYears('1950', on)).toBeNull();
  });
  it('writes dates the NHS way', () => {
    expect(formatDate('2024-03-01')).toBe('1 March 2024');
    expect(formatDate('2024-03-01T10:15:00Z')).toBe('1 March 2024');
    expect(formatDate('2024-03')).toBe('March 2024');
    expect(formatDate(undefined)).toBe('Not known');
  });
  it('shows the birth date with the age', () => {
    expect(formatBirthDateAndAge('2025-11-01', on)).toBe('1 November 2025 (1 year)');
    expect(formatBirthDateAndAge('1950-11-26', on)).toBe('26 November 1950 (76 years)');
  });
  it('makes a FHIR date from day, month and year fields, refusing impossible dates', () => {
    expect(dateFromParts('15', '3', '1984')).toBe('1984-03-15');
    expect(dateFromParts('31', '2', '1984')).toBeNull();
    expect(dateFromParts('', '3', '1984')).toBeNull();
    expect(dateFromParts('1', '1', '84')).toBeNull();
  });
  it('writes an instant as a time and date in local time', () => {
    expect(formatTimeAndDate(new Date(2026, 10, 26, 14, 5).toISOString())).toBe('14:05 on 26 November 2026');
    expect(formatTimeAndDate('not a time')).toBe('not a time');
  });
});
