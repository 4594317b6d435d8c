// Observation trends: numeric readings grouped into series for charts and their table alternative.
import type { Resource } from './fhir';
import { conceptText } from './record';

export interface Point {
  date: string; // FHIR dateTime
  value: number;
}

export interface Series {
  name: string;
  unit: string;
  points: Point[]; // oldest first
}

/** A chart: one or more series measured in the same unit (blood pressure has two). */
export interface Trend {
  title: string;
  unit: string;
  series: Series[];
}

interface Quantity {
  value?: number;
  unit?: string;
  code?: string;
}
interface Component {
  code?: unknown;
  valueQuantity?: Quantity;
}

function when(o: Resource): string | undefined {
  const v = o.effectiveDateTime ?? (o.effectivePeriod as { start?: string } | undefined)?.start ?? o.issued;
  return typeof v === 'string' ? v : undefined;
}

function add(map: Map<string, Series>, name: string, unit: string, date: string, value: number) {
  const key = `${name}|${unit}`;
  let s = map.get(key);
  if (!s) {
    s = { name, unit, points: [] };
    map.set(key, s);
  }
  s.points.push({ date, value });
}

/**
 * Groups numeric observations into trends: each code with a quantity value is a series, and the
 * components of a panel (blood pressure: systolic and diastolic) share one chart. Only series
 * with at least `minPoints` readings are kept; points are oldest first.
 */
export function trendsOf(observations: Resource[], minPoints = 2): Trend[] {
  const byPanel = new Map<string, Map<string, Series>>();
  for (const o of observations) {
    const date = when(o);
    if (!date) continue;
    const title = conceptText(o.code as never);
    const q = o.valueQuantity as Quantity | undefined;
    if (typeof q?.value === 'number') {
      const panel = byPanel.get(title) ?? new Map<string, Series>();
      add(panel, title, q.unit ?? q.code ?? '', date, q.value);
      byPanel.set(title, panel);
    }
    for (const c of (o.component as Component[] | undefined) ?? []) {
      const cq = c.valueQuantity;
      if (typeof cq?.value !== 'number') continue;
      const panel = byPanel.get(title) ?? new Map<string, Series>();
      add(panel, conceptText(c.code as never), cq.unit ?? cq.code ?? '', date, cq.value);
      byPanel.set(title, panel);
    }
  }
  const trends: Trend[] = [];
  for (const [title, panel] of byPanel) {
    const series = [...panel.values()].filter((s) => s.points.length >= minPoints);
    if (series.length === 0) continue;
    for (const s of series) s.points.sort((a, b) => a.date.localeCompare(b.date));
    const unit = series[0]?.unit ?? '';
    trends.push({ title: title.replace(/ panel with all children optional$/i, ''), unit, series: series.filter((s) => s.unit === unit) });
  }
  return trends.sort((a, b) => a.title.localeCompare(b.title));
}

/** A sentence describing a trend for people who cannot see the chart. */
export function describeTrend(t: Trend): string {
  const parts = t.series.map((s) => {
    const first = s.points[0];
    const last = s.points[s.points.length - 1];
    if (!first || !last) return '';
    const values = s.points.map((p) => p.value);
    return `${s.name}: ${s.points.length} readings from ${Math.min(...values)} to ${Math.max(...values)} ${s.unit}, latest ${last.value} ${s.unit}`;
  });
  return parts.filter(Boolean).join('; ');
}
