// Dates as the NHS design system writes them ("1 March 2024") and ages in whole years.

const kMonths = [
  'January', 'February', 'March', 'April', 'May', 'June',
  'July', 'August', 'September', 'October', 'November', 'December',
];

interface Ymd {
  y: number;
  m: number; // 1-12
  d: number;
}

function parseYmd(value: string): Ymd | null {
  const m = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?/.exec(value);
  if (!m) return null;
  return { y: Number(m[1]), m: m[2] ? Number(m[2]) : 0, d: m[3] ? Number(m[3]) : 0 };
}

/** Whole years between a FHIR birth date (YYYY-MM-DD) and `on` (default today); null if unknown. */
export function ageInYears(birthDate: string | undefined, on: Date = new Date()): number | null {
  if (!birthDate) return null;
  const b = parseYmd(birthDate);
  if (!b || b.m === 0 || b.d === 0) return null;
  const y = on.getFullYear();
  const m = on.getMonth() + 1;
  const d = on.getDate();
  let age = y - b.y;
  if (m < b.m || (m === b.m && d < b.d)) age -= 1;
  return age >= 0 ? age : null;
}

/** "2024-03-01" or "2024-03-01T10:00:00Z" → "1 March 2024"; partial dates keep their precision. */
export function formatDate(value: string | undefined): string {
  if (!value) return 'Not known';
  const p = parseYmd(value);
  if (!p) return value;
  if (p.m === 0) return String(p.y);
  const month = kMonths[p.m - 1] ?? '';
  if (p.d === 0) return `${month} ${p.y}`;
  return `${p.d} ${month} ${p.y}`;
}

/** A birth date with the age: "1 March 1950 (74 years)". */
export function formatBirthDateAndAge(birthDate: string | undefined, on: Date = new Date()): string {
  if (!birthDate) return 'Not known';
  const age = ageInYears(birthDate, on);
  return age === null ? formatDate(birthDate) : `${formatDate(birthDate)} (${age} ${age === 1 ? 'year' : 'years'})`;
}

/** A FHIR date (YYYY-MM-DD) from day, month and year fields, or null when they do not make a real date. */
export function dateFromParts(day: string, month: string, year: string): string | null {
  const d = Number(day);
  const m = Number(month);
  const y = Number(year);
  if (!Number.isInteger(d) || !Number.isInteger(m) || !Number.isInteger(y) || y < 1850 || y > 2200) return null;
  const date = new Date(Date.UTC(y, m - 1, d));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== m - 1 || date.getUTCDate() !== d) return null;
  return `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

/** An instant in the reader's local time: "14:05 on 26 November 2026". */
export function formatTimeAndDate(instant: string): string {
  const d = new Date(instant);
  if (Number.isNaN(d.getTime())) return instant;
  const hh = String(d.getHours()).padStart(2, '0');
  const mm = String(d.getMinutes()).padStart(2, '0');
  return `${hh}:${mm} on ${d.getDate()} ${kMonths[d.getMonth()] ?? ''} ${d.getFullYear()}`;
}
