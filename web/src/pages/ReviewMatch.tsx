import { type FormEvent, type ReactNode, useEffect, useRef, useState } from 'react';
import { ErrorSummary, Link } from '../components/Layout';
import { formatDate, formatTimeAndDate } from '../lib/dates';
import { type FhirClient, type Resource, resourcesOf } from '../lib/fhir';
import { gradeText } from '../lib/match';
import { patientName } from '../lib/record';
import {
  agreementText,
  comparePatients,
  type ComparisonRow,
  type Decision,
  decisionParameters,
  decisionText,
  explanationText,
  formatScore,
  kMaxNote,
  parseReview,
  practiceKeys,
  type Review,
  survivorSide,
} from '../lib/review';

interface Loaded {
  review: Review;
  backTo: string; // the list the review was on when the page opened
  newRecord?: Resource; // the record that arrived (the Task's focus)
  existing?: Resource; // the record that was there first (the candidate)
  practices: Map<string, string>;
}

interface FieldError {
  field: string;
  text: string;
}

// A review in one of these states was closed without a decision; the server refuses to decide it.
const kClosed = ['cancelled', 'rejected', 'failed', 'entered-in-error'];

const kChoices: { decision: Decision; label: string; hint: string }[] = [
  {
    decision: 'link',
    label: 'Yes, link the records (they come from different services)',
    hint: 'Both records are kept, and they are shown as one person.',
  },
  {
    decision: 'merge',
    label: 'Yes, merge them (one is a duplicate)',
    hint: 'One record replaces the other. The record replaced is kept only as history.',
  },
  {
    decision: 'distinct',
    label: 'No, they are different people',
    hint: 'The records stay apart.',
  },
];

/** One possible duplicate: the two records side by side, why the matcher paired them, and the officer's decision. */
export function ReviewMatch({ client, id }: { client: FhirClient; id: string }) {
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [loadError, setLoadError] = useState('');
  const [saved, setSaved] = useState<{ decision: Decision; side?: 'new' | 'existing' } | null>(null);

  useEffect(() => {
    document.title = saved
      ? 'Decision saved - Universal Care Record'
      : 'Review a possible duplicate - Universal Care Record';
  }, [saved]);

  useEffect(() => {
    let live = true;
    setLoaded(null);
    setLoadError('');
    setSaved(null);
    (async () => {
      const task = await client.request<Resource>(`Task/${encodeURIComponent(id)}`);
      const review = parseReview(task);
      if (!review) throw new Error('This task is not a review of a possible duplicate, or it does not name the two records.');
      const found = await client.search('Patient', { _id: `${review.focusId},${review.candidateId}`, _count: '2' });
      const byId = new Map(resourcesOf(found).flatMap((p) => (p.resourceType === 'Patient' && p.id ? [[p.id, p]] : [])));
      const newRecord = byId.get(review.focusId);
      const existing = byId.get(review.candidateId);
      const practices = new Map<string, string>();
      const keys = practiceKeys(...[newRecord, existing].filter((p): p is Resource => p !== undefined));
      if (keys.length > 0) {
        try {
          const orgs = await client.search('Organization', {
            _id: keys.map((k) => k.slice('Organization/'.length)).join(','),
            _count: String(keys.length),
          });
          for (const o of resourcesOf(orgs)) if (typeof o.name === 'string') practices.set(`Organization/${o.id ?? ''}`, o.name);
        } catch {
          // The practice's name helps, but its reference says which practice it is.
        }
      }
      const backTo = review.status === 'completed' ? '/app/review/decided' : '/app/review';
      if (live) {
        setLoaded({ review, backTo, practices, ...(newRecord ? { newRecord } : {}), ...(existing ? { existing } : {}) });
      }
    })().catch((e: unknown) => {
      if (live) setLoadError(e instanceof Error ? e.message : String(e));
    });
    return () => {
      live = false;
    };
  }, [client, id]);

  if (loadError) {
    return (
      <>
        <Link to="/app/review" className="nhsuk-back-link">
          Back to possible duplicate records
        </Link>
        <h1 className="nhsuk-heading-l">This review cannot be shown</h1>
        <p role="alert">{loadError}</p>
      </>
    );
  }
  if (!loaded) return <p role="status">Loading the review…</p>;

  if (saved) {
    return <Confirmation saved={saved} backTo={loaded.backTo} onShowReview={() => setSaved(null)} />;
  }

  const { review, newRecord, existing, practices } = loaded;
  const decided = review.status === 'completed' && review.decision !== undefined;
  return (
    <>
      <Link to={loaded.backTo} className="nhsuk-back-link">
        Back to possible duplicate records
      </Link>
      <h1 className="nhsuk-heading-l">
        <span className="nhsuk-caption-l">
          {review.authoredOn ? `Arrived ${formatDate(review.authoredOn)}` : 'Possible duplicate'}
        </span>
        Review a possible duplicate
      </h1>
      <p className="nhsuk-lede-text">
        {decided
          ? 'A decision has been made about these two records. You can change it at the end of this page.'
          : 'The new record may belong to a person the record already holds. Compare the two records and decide ' +
            'whether they are the same person.'}
      </p>
      {decided && <DecisionSummary review={review} />}
      {(!newRecord || !existing) && (
        <div className="nhsuk-warning-callout">
          <h2 className="nhsuk-warning-callout__label">
            <span role="text">
              <span className="nhsuk-u-visually-hidden">Important: </span>
              A record could not be found
            </span>
          </h2>
          <p>
            {!newRecord ? 'The new record' : 'The existing record'} is not known or was deleted. The review cannot be
            decided until the record is restored.
          </p>
        </div>
      )}
      <Comparison
        rows={comparePatients(newRecord ?? { resourceType: 'Patient' }, existing ?? { resourceType: 'Patient' }, practices)}
      />
      <Explanation review={review} />
      {kClosed.includes(review.status) ? (
        <div className="nhsuk-inset-text">
          <span className="nhsuk-u-visually-hidden">Information: </span>
          <p>This review was closed without a decision ({review.status.replace(/-/g, ' ')}): there is nothing to decide.</p>
        </div>
      ) : (
        <DecisionForm
          client={client}
          review={review}
          newName={newRecord ? patientName(newRecord) : 'the new record'}
          existingName={existing ? patientName(existing) : 'the existing record'}
          onSaved={(task, decision) => {
            const updated = parseReview(task);
            setLoaded({ ...loaded, review: updated ?? review });
            const side = updated ? survivorSide(updated) : undefined;
            setSaved({ decision, ...(side ? { side } : {}) });
          }}
        />
      )}
    </>
  );
}

function Comparison({ rows }: { rows: ComparisonRow[] }) {
  const differences = rows.filter((r) => r.agreement === 'different' || r.agreement === 'partly').length;
  return (
    <>
      <h2 className="nhsuk-heading-m" id="comparison-heading">
        The two records side by side
      </h2>
      <p>
        {differences === 0
          ? 'No detail recorded on both records differs.'
          : differences === 1
            ? '1 detail recorded on both records differs: the last column says which.'
            : `${differences} details recorded on both records differ: the last column says which.`}
      </p>
      <table className="nhsuk-table ucr-stack ucr-compare" data-testid="comparison" aria-labelledby="comparison-heading">
        <thead className="nhsuk-table__head">
          <tr className="nhsuk-table__row">
            <th className="nhsuk-table__header" scope="col">
              Detail
            </th>
            <th className="nhsuk-table__header" scope="col">
              New record
              <span className="ucr-provenance">The record that arrived</span>
            </th>
            <th className="nhsuk-table__header" scope="col">
              Existing record
              <span className="ucr-provenance">The record that was there first</span>
            </th>
            <th className="nhsuk-table__header" scope="col">
              Same or different
            </th>
          </tr>
        </thead>
        <tbody className="nhsuk-table__body">
          {rows.map((r) => {
            const differs = r.agreement === 'different' || r.agreement === 'partly';
            return (
              <tr className={`nhsuk-table__row${differs ? ' ucr-compare__differs' : ''}`} key={r.label}>
                <th className="nhsuk-table__header" scope="row">
                  {r.label}
                </th>
                <td className="nhsuk-table__cell" data-label="New record">
                  {r.newValue}
                </td>
                <td className="nhsuk-table__cell" data-label="Existing record">
                  {r.existingValue}
                </td>
                <td className="nhsuk-table__cell" data-label="Same or different">
                  {differs ? (
                    <strong className="nhsuk-tag nhsuk-tag--orange">{agreementText(r.agreement)}</strong>
                  ) : (
                    agreementText(r.agreement)
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </>
  );
}

function Explanation({ review }: { review: Review }) {
  const words = explanationText(review);
  return (
    <section aria-labelledby="explanation-heading" data-testid="explanation">
      <h2 className="nhsuk-heading-m" id="explanation-heading">
        Why the records were paired
      </h2>
      <p>
        {review.grade === 'unknown' ? (
          'The matcher gave no grade'
        ) : (
          <>
            The matcher graded them: <strong>{gradeText(review.grade)}</strong>
          </>
        )}
        {review.score !== undefined ? ` (score ${formatScore(review.score)}, where 1 is certain)` : ''}.
      </p>
      {words.compared.length > 0 && (
        <>
          <p>How the details it compared agree (the values as the matcher read them):</p>
          <ul>
            {words.compared.map((line) => (
              <li key={line}>{line}</li>
            ))}
          </ul>
        </>
      )}
      {words.notCompared.length > 0 && (
        <p>Not compared, because one record or both do not have it: {words.notCompared.join(', ')}.</p>
      )}
      {words.rule && <p>Held at this grade because: {words.rule}.</p>}
      {words.corroboration && <p>Confirmed without an NHS number by: {words.corroboration}.</p>}
      {words.others.map((line) => (
        <p key={line}>{line}</p>
      ))}
    </section>
  );
}

function DecisionSummary({ review }: { review: Review }) {
  const side = survivorSide(review);
  return (
    <section aria-labelledby="decision-heading" data-testid="decision">
      <h2 className="nhsuk-heading-m" id="decision-heading">
        The decision
      </h2>
      <dl className="nhsuk-summary-list">
        <div className="nhsuk-summary-list__row">
          <dt className="nhsuk-summary-list__key">Decision</dt>
          <dd className="nhsuk-summary-list__value">
            {review.decision ? decisionText(review.decision, side) : (review.outcome ?? 'Not recorded')}
          </dd>
        </div>
        <div className="nhsuk-summary-list__row">
          <dt className="nhsuk-summary-list__key">Decided by</dt>
          <dd className="nhsuk-summary-list__value">{review.decidedBy ?? 'Not recorded'}</dd>
        </div>
        <div className="nhsuk-summary-list__row">
          <dt className="nhsuk-summary-list__key">Decided</dt>
          <dd className="nhsuk-summary-list__value">
            {review.decidedOn ? formatTimeAndDate(review.decidedOn) : 'Not recorded'}
          </dd>
        </div>
      </dl>
      {review.notes.length > 0 && (
        <>
          <h3 className="nhsuk-heading-s">Notes</h3>
          <ul className="nhsuk-list nhsuk-list--border" data-testid="decision-notes">
            {review.notes.map((n, i) => (
              <li key={`${n.time ?? ''}-${i}`}>
                <span className="ucr-note">{n.text}</span>
                {(n.author || n.time) && (
                  <span className="ucr-provenance">
                    {[n.author, n.time ? formatTimeAndDate(n.time) : undefined].filter(Boolean).join(', ')}
                  </span>
                )}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

function DecisionForm({
  client,
  review,
  newName,
  existingName,
  onSaved,
}: {
  client: FhirClient;
  review: Review;
  newName: string;
  existingName: string;
  onSaved: (task: Resource, decision: Decision) => void;
}) {
  const [decision, setDecision] = useState<Decision | ''>('');
  const [keep, setKeep] = useState<'existing' | 'new'>('existing');
  const [note, setNote] = useState('');
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [failure, setFailure] = useState('');
  const [busy, setBusy] = useState(false);
  const decided = review.status === 'completed' && review.decision !== undefined;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const found: FieldError[] = [];
    if (!decision) found.push({ field: 'decision-link', text: 'Select whether these are the same person' });
    if (note.length > kMaxNote) found.push({ field: 'decision-note', text: 'Enter a note of 2,000 characters or fewer' });
    setErrors(found);
    setFailure('');
    if (found.length > 0 || !decision) return;
    setBusy(true);
    try {
      const survivorId = keep === 'new' ? review.focusId : review.candidateId;
      const task = await client.request<Resource>(`Task/${encodeURIComponent(review.id)}/$resolve-match`, {
        method: 'POST',
        body: JSON.stringify(decisionParameters(decision, { note, ...(decision === 'merge' ? { survivorId } : {}) })),
      });
      onSaved(task, decision);
    } catch (err) {
      setFailure(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  const err = (field: string) => errors.find((x) => x.field === field)?.text;

  return (
    <form onSubmit={submit} noValidate data-testid="decision-form">
      {decided && <h2 className="nhsuk-heading-m">Change the decision</h2>}
      {errors.length > 0 && (
        <ErrorSummary title="There is a problem" items={errors.map((x) => ({ text: x.text, href: `#${x.field}` }))} />
      )}
      {failure && <ErrorSummary title="Your decision was not saved" items={[{ text: failure }]} />}
      {decided && review.decision && (
        <div className="nhsuk-warning-callout">
          <h3 className="nhsuk-warning-callout__label">
            <span role="text">
              <span className="nhsuk-u-visually-hidden">Important: </span>
              The earlier decision will be undone
            </span>
          </h3>
          <p>
            If you save a different decision, the earlier one ({decisionText(review.decision, survivorSide(review)).toLowerCase()})
            is undone first. Both decisions are kept in the review&apos;s notes.
          </p>
        </div>
      )}
      <div className={`nhsuk-form-group${err('decision-link') ? ' nhsuk-form-group--error' : ''}`}>
        <fieldset className="nhsuk-fieldset" {...(err('decision-link') ? { 'aria-describedby': 'decision-error' } : {})}>
          <legend className="nhsuk-fieldset__legend nhsuk-fieldset__legend--m">Are these the same person?</legend>
          {err('decision-link') && (
            <span className="nhsuk-error-message" id="decision-error">
              <span className="nhsuk-u-visually-hidden">Error:</span> {err('decision-link')}
            </span>
          )}
          <div className="nhsuk-radios nhsuk-radios--conditional">
            {kChoices.map((c) => (
              <RadioChoice
                key={c.decision}
                choice={c}
                checked={decision === c.decision}
                onChoose={() => setDecision(c.decision)}
              >
                {c.decision === 'merge' && (
                  <div
                    className={`nhsuk-radios__conditional${decision === 'merge' ? '' : ' nhsuk-radios__conditional--hidden'}`}
                    id="decision-merge-conditional"
                  >
                    <div className="nhsuk-form-group">
                      <fieldset className="nhsuk-fieldset">
                        <legend className="nhsuk-fieldset__legend nhsuk-fieldset__legend--s">
                          Which record should be kept?
                        </legend>
                        <div className="nhsuk-radios">
                          <div className="nhsuk-radios__item">
                            <input
                              className="nhsuk-radios__input"
                              id="keep-existing"
                              name="keep"
                              type="radio"
                              checked={keep === 'existing'}
                              onChange={() => setKeep('existing')}
                              aria-describedby="keep-existing-hint"
                            />
                            <label className="nhsuk-label nhsuk-radios__label" htmlFor="keep-existing">
                              The existing record ({existingName})
                            </label>
                            <div className="nhsuk-hint nhsuk-radios__hint" id="keep-existing-hint">
                              Usually the right one to keep: it was there first.
                            </div>
                          </div>
                          <div className="nhsuk-radios__item">
                            <input
                              className="nhsuk-radios__input"
                              id="keep-new"
                              name="keep"
                              type="radio"
                              checked={keep === 'new'}
                              onChange={() => setKeep('new')}
                            />
                            <label className="nhsuk-label nhsuk-radios__label" htmlFor="keep-new">
                              The new record ({newName})
                            </label>
                          </div>
                        </div>
                      </fieldset>
                    </div>
                  </div>
                )}
              </RadioChoice>
            ))}
          </div>
        </fieldset>
      </div>
      <div className={`nhsuk-form-group${err('decision-note') ? ' nhsuk-form-group--error' : ''}`}>
        <label className="nhsuk-label" htmlFor="decision-note">
          Note (optional)
        </label>
        <div className="nhsuk-hint" id="decision-note-hint">
          What you checked and why you decided, for whoever looks at these records later. Up to 2,000 characters.
        </div>
        {err('decision-note') && (
          <span className="nhsuk-error-message" id="decision-note-error">
            <span className="nhsuk-u-visually-hidden">Error:</span> {err('decision-note')}
          </span>
        )}
        <textarea
          className={`nhsuk-textarea${err('decision-note') ? ' nhsuk-textarea--error' : ''}`}
          id="decision-note"
          name="note"
          rows={4}
          maxLength={kMaxNote}
          aria-describedby={`decision-note-hint${err('decision-note') ? ' decision-note-error' : ''}`}
          value={note}
          onChange={(e) => setNote(e.target.value)}
        />
      </div>
      <button className="nhsuk-button" type="submit" disabled={busy}>
        Save decision
      </button>
    </form>
  );
}

function RadioChoice({
  choice,
  checked,
  onChoose,
  children,
}: {
  choice: (typeof kChoices)[number];
  checked: boolean;
  onChoose: () => void;
  children?: ReactNode;
}) {
  const inputId = `decision-${choice.decision}`;
  return (
    <>
      <div className="nhsuk-radios__item">
        <input
          className="nhsuk-radios__input"
          id={inputId}
          name="decision"
          type="radio"
          value={choice.decision}
          checked={checked}
          onChange={onChoose}
          aria-describedby={`${inputId}-hint`}
          {...(choice.decision === 'merge' ? { 'aria-controls': 'decision-merge-conditional' } : {})}
        />
        <label className="nhsuk-label nhsuk-radios__label" htmlFor={inputId}>
          {choice.label}
        </label>
        <div className="nhsuk-hint nhsuk-radios__hint" id={`${inputId}-hint`}>
          {choice.hint}
        </div>
      </div>
      {children}
    </>
  );
}

function Confirmation({
  saved,
  backTo,
  onShowReview,
}: {
  saved: { decision: Decision; side?: 'new' | 'existing' };
  backTo: string;
  onShowReview: () => void;
}) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);
  const next =
    saved.decision === 'link'
      ? 'Both records are kept. Anyone who opens either record sees the person as one.'
      : saved.decision === 'merge'
        ? 'The record not kept now points to the one kept, and is no longer active.'
        : 'The records stay apart as two people.';
  return (
    <>
      <div className="nhsuk-panel" data-testid="decision-saved">
        <h1 className="nhsuk-panel__heading" tabIndex={-1} ref={heading}>
          Decision saved
        </h1>
        <div className="nhsuk-panel__body">{decisionText(saved.decision, saved.side)}</div>
      </div>
      <p>{next} Your decision is recorded with your name, and can be changed later from the recently decided reviews.</p>
      <p>
        <Link to={backTo}>Back to possible duplicate records</Link>
      </p>
      <p>
        <button type="button" className="ucr-link-button" onClick={onShowReview}>
          See this review again
        </button>
      </p>
    </>
  );
}
