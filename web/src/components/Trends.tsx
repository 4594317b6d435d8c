import {
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from 'chart.js';
import { useEffect, useRef } from 'react';
import { formatDate } from '../lib/dates';
import { describeTrend, type Trend } from '../lib/trends';

// Only the parts of Chart.js a line chart needs, so the rest is left out of the bundle.
Chart.register(LineController, LineElement, PointElement, LinearScale, CategoryScale, Tooltip, Legend);

// NHS design system colours with enough contrast against white.
const kColours = ['#005eb8', '#330072', '#007f3b', '#d5281b'];

function TrendChart({ trend, id }: { trend: Trend; id: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (!canvas.current) return;
    const dates = [...new Set(trend.series.flatMap((s) => s.points.map((p) => p.date.slice(0, 10))))].sort();
    const chart = new Chart(canvas.current, {
      type: 'line',
      data: {
        labels: dates.map((d) => formatDate(d)),
        datasets: trend.series.map((s, i) => {
          const byDate = new Map(s.points.map((p) => [p.date.slice(0, 10), p.value]));
          return {
            label: s.name,
            data: dates.map((d) => byDate.get(d) ?? null),
            borderColor: kColours[i % kColours.length],
            backgroundColor: kColours[i % kColours.length],
            spanGaps: true,
            tension: 0,
          };
        }),
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        scales: { y: { title: { display: true, text: trend.unit } } },
      },
    });
    return () => chart.destroy();
  }, [trend]);
  return (
    <div className="ucr-chart">
      <canvas ref={canvas} role="img" aria-label={`${trend.title} chart. ${describeTrend(trend)}`} id={id} />
    </div>
  );
}

/** Charts of readings over time, each with the same readings as a table for those who prefer one. */
export function Trends({ trends }: { trends: Trend[] }) {
  if (trends.length === 0) return null;
  return (
    <section aria-labelledby="trends-heading" data-testid="trends">
      <h2 className="nhsuk-heading-m" id="trends-heading">
        Trends
      </h2>
      {trends.map((t, i) => (
        <div key={t.title} className="nhsuk-u-margin-bottom-5">
          <h3 className="nhsuk-heading-s">{t.title}</h3>
          <TrendChart trend={t} id={`trend-${i}`} />
          <details className="nhsuk-details">
            <summary className="nhsuk-details__summary">
              <span className="nhsuk-details__summary-text">Show the readings as a table</span>
            </summary>
            <div className="nhsuk-details__text">
              <table className="nhsuk-table">
                <caption className="nhsuk-table__caption nhsuk-u-visually-hidden">{t.title} readings</caption>
                <thead className="nhsuk-table__head">
                  <tr className="nhsuk-table__row">
                    <th className="nhsuk-table__header" scope="col">
                      Date
                    </th>
                    {t.series.map((s) => (
                      <th className="nhsuk-table__header" scope="col" key={s.name}>
                        {s.name} ({s.unit})
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody className="nhsuk-table__body">
                  {[...(t.series[0]?.points ?? [])].reverse().map((p, row) => (
                    <tr className="nhsuk-table__row" key={`${p.date}-${row}`}>
                      <td className="nhsuk-table__cell">{formatDate(p.date)}</td>
                      {t.series.map((s) => (
                        <td className="nhsuk-table__cell" key={s.name}>
                          {s.points.find((x) => x.date === p.date)?.value ?? ''}
                        </td>
                      ))}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </details>
        </div>
      ))}
    </section>
  );
}
