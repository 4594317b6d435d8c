import { useEffect, useState } from 'react';
import { Link } from '../components/Layout';
import { formatBirthDateAndAge, formatDate } from '../lib/dates';
import { type Bundle, type FhirClient, type Resource, resourcesOf } from '../lib/fhir';
import { patientName } from '../lib/record';
import {
  decisionText,
  gradeAndScore,
  nextPagePath,
  parseReview,
  queueQuery,
  type Review,
  type ReviewView,
  survivorSide,
} from '../lib/review';

interface Page {
  reviews: Review[];
  patients: Map<string, Resource>;
  unreadable: number; // Tasks that are not reviews the app can show
  next?: string;
}

const kViews: { view: ReviewView; to: string; text: string }[] = [
  { view: 'waiting', to: '/app/review', text: 'Waiting for a decision' },
  { view: 'decided', to: '/app/review/decided', text: 'Recently decided' },
];

/** The data-quality officer's queue: possible duplicate records waiting for a decision, or decided lately. */
export function ReviewQueue({ client, view }: { client: FhirClient; view: ReviewView }) {
  // The pages before this one, as paths relative to the FHIR base (the first page is the query itself).
  const [trail, setTrail] = useState<string[]>([]);
  const [page, setPage] = useState<Page | null>(null);
  const [error, setError] = useState('');
  const first = `Task?${new URLSearchParams(queueQuery(view)).toString()}`;
  const path = trail[trail.length - 1] ?? first;

  useEffect(() => {
    document.title =
      view === 'waiting'
        ? 'Possible duplicate records - Universal Care Record'
        : 'Recently decided - Possible duplicate records - Universal Care Record';
  }, [view]);

  useEffect(() => {
    let live = true;
    setPage(null);
    setError('');
    (async () => {
      const bundle = await client.request<Bundle>(path);
      const tasks = resourcesOf(bundle).filter((r) => r.resourceType === 'Task');
      const reviews = tasks.flatMap((t) => parseReview(t) ?? []);
      // Both people of every review on the page, in one search.
      const ids = [...new Set(reviews.flatMap((r) => [r.focusId, r.candidateId]))];
      const patients = new Map<string, Resource>();
      if (ids.length > 0) {
        const found = await client.search('Patient', { _id: ids.join(','), _count: String(ids.length) });
        for (const p of resourcesOf(found)) if (p.resourceType === 'Patient' && p.id) patients.set(p.id, p);
      }
      const next = nextPagePath(bundle, `${window.location.origin}/fhir`);
      if (live) setPage({ reviews, patients, unreadable: tasks.length - reviews.length, ...(next ? { next } : {}) });
    })().catch((e: unknown) => {
      if (live) setError(e instanceof Error ? e.message : String(e));
    });
    return () => {
      live = false;
    };
  }, [client, path]);

  const person = (id: string) => {
    const p = page?.patients.get(id);
    if (!p) return <>Record not found</>;
    return (
      <>
        {patientName(p)}
        <span className="ucr-provenance">Born {formatBirthDateAndAge(p.birthDate as string | undefined)}</span>
      </>
    );
  };
  const who = (r: Review) => {
    const a = page?.patients.get(r.focusId);
    const b = page?.patients.get(r.candidateId);
    return `${a ? patientName(a) : 'a record not found'} and ${b ? patientName(b) : 'a record not found'}`;
  };

  return (
    <>
      <h1 className="nhsuk-heading-l">Possible duplicate records</h1>
      <p>
        These records arrived looking like a person the record already holds, but not certainly. Compare each new
        record with the existing one and decide whether they are the same person.
      </p>
      <nav className="ucr-subnav" aria-label="Reviews">
        <ul className="ucr-subnav__list">
          {kViews.map((v) => (
            <li className="ucr-subnav__item" key={v.view}>
              {v.view === view ? (
                <a href={v.to} aria-current="page" className="ucr-subnav__current">
                  {v.text}
                </a>
              ) : (
                <Link to={v.to}>{v.text}</Link>
              )}
            </li>
          ))}
        </ul>
      </nav>
      {error && (
        <div className="nhsuk-error-summary" role="alert">
          <h2 className="nhsuk-error-summary__title">The reviews could not be loaded</h2>
          <div className="nhsuk-error-summary__body">
            <p>{error}</p>
          </div>
        </div>
      )}
      {!error && page === null && <p role="status">Loading…</p>}
      {page !== null && page.reviews.length === 0 && (
        <div className="nhsuk-inset-text" role="status" data-testid="review-queue-empty">
          <span className="nhsuk-u-visually-hidden">Information: </span>
          <p>
            {view === 'waiting'
              ? trail.length === 0
                ? 'There are no records waiting for review.'
                : 'There are no more records waiting for review.'
              : 'No reviews have been decided yet.'}
          </p>
        </div>
      )}
      {page !== null && page.unreadable > 0 && (
        <p className="nhsuk-body-s">
          {page.unreadable === 1
            ? '1 review on this page could not be read: it does not name the two records to compare.'
            : `${page.unreadable} reviews on this page could not be read: they do not name the two records to compare.`}
        </p>
      )}
      {page !== null && page.reviews.length > 0 && (
        <table className="nhsuk-table ucr-stack" data-testid="review-queue">
          <caption className="nhsuk-table__caption">
            {view === 'waiting' ? 'Waiting for a decision, oldest first' : 'Decided lately, newest first'}
            {trail.length > 0 ? ` (page ${trail.length + 1})` : ''}
          </caption>
          <thead className="nhsuk-table__head">
            <tr className="nhsuk-table__row">
              <th className="nhsuk-table__header" scope="col">
                {view === 'waiting' ? 'Arrived' : 'Decided'}
              </th>
              <th className="nhsuk-table__header" scope="col">
                New record
              </th>
              <th className="nhsuk-table__header" scope="col">
                Existing record
              </th>
              <th className="nhsuk-table__header" scope="col">
                {view === 'waiting' ? 'Match' : 'Decision'}
              </th>
              <th className="nhsuk-table__header" scope="col">
                <span className="nhsuk-u-visually-hidden">Action</span>
              </th>
            </tr>
          </thead>
          <tbody className="nhsuk-table__body">
            {page.reviews.map((r) => (
              <tr className="nhsuk-table__row" key={r.id}>
                <td className="nhsuk-table__cell" data-label={view === 'waiting' ? 'Arrived' : 'Decided'}>
                  {formatDate(view === 'waiting' ? r.authoredOn : r.decidedOn)}
                </td>
                <td className="nhsuk-table__cell" data-label="New record">
                  {person(r.focusId)}
                </td>
                <td className="nhsuk-table__cell" data-label="Existing record">
                  {person(r.candidateId)}
                </td>
                <td className="nhsuk-table__cell" data-label={view === 'waiting' ? 'Match' : 'Decision'}>
                  {view === 'waiting'
                    ? gradeAndScore(r)
                    : r.decision
                      ? decisionText(r.decision, survivorSide(r))
                      : 'Not recorded'}
                </td>
                <td className="nhsuk-table__cell">
                  <Link to={`/app/review/${r.id}`}>
                    {view === 'waiting' ? 'Review' : 'View'}
                    <span className="nhsuk-u-visually-hidden"> {who(r)}</span>
                  </Link>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {page !== null && (trail.length > 0 || page.next) && (
        <nav className="nhsuk-pagination" aria-label="Pages of reviews">
          <ul className="nhsuk-list nhsuk-pagination__list">
            {trail.length > 0 && (
              <li className="nhsuk-pagination-item--previous">
                <button
                  type="button"
                  className="nhsuk-pagination__link nhsuk-pagination__link--prev ucr-pagination-button"
                  onClick={() => {
                    setTrail(trail.slice(0, -1));
                    window.scrollTo(0, 0);
                  }}
                >
                  <span className="nhsuk-pagination__title">
                    Previous<span className="nhsuk-u-visually-hidden"> page</span>
                  </span>
                  <ArrowIcon direction="left" />
                </button>
              </li>
            )}
            {page.next && (
              <li className="nhsuk-pagination-item--next">
                <button
                  type="button"
                  className="nhsuk-pagination__link nhsuk-pagination__link--next ucr-pagination-button"
                  onClick={() => {
                    const next = page.next;
                    if (next) setTrail([...trail, next]);
                    window.scrollTo(0, 0);
                  }}
                >
                  <span className="nhsuk-pagination__title">
                    Next<span className="nhsuk-u-visually-hidden"> page</span>
                  </span>
                  <ArrowIcon direction="right" />
                </button>
              </li>
            )}
          </ul>
        </nav>
      )}
    </>
  );
}

/** The design system's arrow icons (decorative: the button's text says where it goes). */
function ArrowIcon({ direction }: { direction: 'left' | 'right' }) {
  return (
    <svg
      className={`nhsuk-icon nhsuk-icon--arrow-${direction}`}
      xmlns="http://www.w3.org/2000/svg"
      viewBox="0 0 24 24"
      width="16"
      height="16"
      focusable="false"
      aria-hidden="true"
    >
      {direction === 'left' ? (
        <path d="M10.7 6.3c.4.4.4 1 0 1.4L7.4 11H19a1 1 0 0 1 0 2H7.4l3.3 3.3c.4.4.4 1 0 1.4a1 1 0 0 1-1.4 0l-5-5A1 1 0 0 1 4 12c0-.3.1-.5.3-.7l5-5a1 1 0 0 1 1.4 0Z" />
      ) : (
        <path d="m14.7 6.3 5 5c.2.2.3.4.3.7 0 .3-.1.5-.3.7l-5 5a1 1 0 0 1-1.4-1.4l3.3-3.3H5a1 1 0 0 1 0-2h11.6l-3.3-3.3a1 1 0 1 1 1.4-1.4Z" />
      )}
    </svg>
  );
}
