import { useEffect, useState } from 'react';
import { Link } from '../components/Layout';
import { type Access, accessOf } from '../lib/access-log';
import { formatTimeAndDate } from '../lib/dates';
import { type FhirClient, resourcesOf } from '../lib/fhir';

/** The patient's view of the audit trail: who (by role and organisation) looked at their record, and when. */
export function WhoAccessed({ client, patientId }: { client: FhirClient; patientId: string | undefined }) {
  const [accesses, setAccesses] = useState<Access[] | null>(null);
  const [organisations, setOrganisations] = useState<Map<string, string>>(new Map());
  const [error, setError] = useState('');

  useEffect(() => {
    document.title = 'Who has looked at my record - Universal Care Record';
    if (!patientId) return;
    let live = true;
    (async () => {
      const events = await client.search('AuditEvent', { patient: patientId, _count: '100' });
      const list = resourcesOf(events).map(accessOf).filter((a) => !a.you);
      const ids = [...new Set(list.flatMap((a) => (a.organisation ? [a.organisation.split('/')[1] ?? ''] : [])))];
      const names = new Map<string, string>();
      if (ids.length > 0) {
        const orgs = await client.search('Organization', { _id: ids.join(','), _count: String(ids.length) });
        for (const o of resourcesOf(orgs)) if (typeof o.name === 'string') names.set(`Organization/${o.id ?? ''}`, o.name);
      }
      if (!live) return;
      setOrganisations(names);
      setAccesses(list);
    })().catch((e: unknown) => {
      if (live) setError(e instanceof Error ? e.message : String(e));
    });
    return () => {
      live = false;
    };
  }, [client, patientId]);

  return (
    <>
      <Link to="/app/my-record" className="nhsuk-back-link">
        Back to my record
      </Link>
      <h1 className="nhsuk-heading-l">Who has looked at my record</h1>
      <p>
        Every time someone opens or changes your record it is recorded. Staff are shown by their role and
        organisation. Emergency access is always reviewed.
      </p>
      {error && <p role="alert">{error}</p>}
      {!error && accesses === null && <p role="status">Loading…</p>}
      {accesses !== null && accesses.length === 0 && (
        <div className="nhsuk-inset-text">
          <span className="nhsuk-u-visually-hidden">Information: </span>
          <p>Nobody else has looked at your record yet.</p>
        </div>
      )}
      {accesses !== null && accesses.length > 0 && (
        <table className="nhsuk-table ucr-stack" data-testid="accesses">
          <caption className="nhsuk-table__caption">The latest {accesses.length} times</caption>
          <thead className="nhsuk-table__head">
            <tr className="nhsuk-table__row">
              <th className="nhsuk-table__header" scope="col">When</th>
              <th className="nhsuk-table__header" scope="col">Who</th>
              <th className="nhsuk-table__header" scope="col">What</th>
            </tr>
          </thead>
          <tbody className="nhsuk-table__body">
            {accesses.map((a) => (
              <tr className="nhsuk-table__row" key={a.id}>
                <td className="nhsuk-table__cell" data-label="When">
                  {a.when ? formatTimeAndDate(a.when) : 'Not known'}
                </td>
                <td className="nhsuk-table__cell" data-label="Who">
                  {a.who}
                  {a.organisation && organisations.get(a.organisation) ? `, ${organisations.get(a.organisation) ?? ''}` : ''}
                </td>
                <td className="nhsuk-table__cell" data-label="What">
                  {a.emergency && <strong className="nhsuk-tag nhsuk-tag--red">Emergency access</strong>} {a.what}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
