import { type FormEvent, useCallback, useEffect, useMemo, useState } from 'react';
import { CriticalFlags, PatientBanner } from '../components/Banner';
import { ErrorSummary, Link } from '../components/Layout';
import {
  AllergiesTable,
  CarePlans,
  EncountersTable,
  ImmunisationsTable,
  MedicationsTable,
  ProblemsTable,
  ResultsTable,
  Timeline,
} from '../components/Summary';
import { CorrectEntry } from '../components/CorrectEntry';
import { Documents } from '../components/Documents';
import { RecordAllergy } from '../components/RecordAllergy';
import { RecordBloodPressure, RecordProblem, RecordVital } from '../components/RecordMore';
import { Trends } from '../components/Trends';
import { FhirError, type FhirClient, type Resource } from '../lib/fhir';
import {
  breakGlass,
  type ClinicalSummary,
  type Demographics,
  loadClinicalSummary,
  loadDemographics,
} from '../lib/load';
import { formatTimeAndDate } from '../lib/dates';
import { criticalFlags, withoutEnteredInError } from '../lib/record';
import { trendsOf } from '../lib/trends';

type Clinical =
  | { state: 'loading' }
  | { state: 'loaded'; summary: ClinicalSummary }
  | { state: 'refused'; reason: string }
  | { state: 'failed'; reason: string };

/**
 * The clinician's view of one patient: banner, critical flags and the summary, or emergency access.
 * `demographicsOnly`: the user's role may see who the person is but never their clinical record (a
 * data-quality officer), so only the banner is shown and the clinical record is not asked for.
 */
export function PatientRecord({
  client,
  id,
  fhirUser,
  demographicsOnly = false,
}: {
  client: FhirClient;
  id: string;
  fhirUser?: string | undefined;
  demographicsOnly?: boolean;
}) {
  const [demo, setDemo] = useState<Demographics | null>(null);
  const [demoError, setDemoError] = useState('');
  const [clinical, setClinical] = useState<Clinical>({ state: 'loading' });
  const [emergencyUntil, setEmergencyUntil] = useState<string | null>(null);
  const [saved, setSaved] = useState('');
  const [correcting, setCorrecting] = useState<Resource | null>(null);
  const [showErrors, setShowErrors] = useState(false);
  // Entries marked entered in error leave the summary (and the trends), unless asked for.
  const view = useMemo(() => {
    if (clinical.state !== 'loaded') return null;
    const { summary, hidden } = withoutEnteredInError(clinical.summary, ['allergies', 'conditions', 'observations', 'vitals']);
    return { summary: showErrors ? clinical.summary : summary, hidden, trendsFrom: summary };
  }, [clinical, showErrors]);
  const trends = useMemo(
    () => (view ? trendsOf([...view.trendsFrom.vitals, ...view.trendsFrom.observations]) : []),
    [view],
  );

  // `quiet`: keep showing the record while it is read again (after something was added to it).
  const loadClinical = useCallback(async (quiet = false) => {
    if (!quiet) setClinical({ state: 'loading' });
    try {
      setClinical({ state: 'loaded', summary: await loadClinicalSummary(client, id) });
    } catch (e) {
      if (e instanceof FhirError && e.status === 403) setClinical({ state: 'refused', reason: e.message });
      else setClinical({ state: 'failed', reason: e instanceof Error ? e.message : String(e) });
    }
  }, [client, id]);

  const onSaved = useCallback(
    async (what: string) => {
      await loadClinical(true);
      setCorrecting(null);
      setSaved(what); // after the record shows it
    },
    [loadClinical],
  );

  useEffect(() => {
    let live = true;
    setDemo(null);
    setDemoError('');
    loadDemographics(client, id)
      .then((d) => {
        if (live) setDemo(d);
      })
      .catch((e: unknown) => {
        if (live) setDemoError(e instanceof Error ? e.message : String(e));
      });
    if (!demographicsOnly) void loadClinical();
    return () => {
      live = false;
    };
  }, [client, id, loadClinical, demographicsOnly]);

  useEffect(() => {
    if (demo) document.title = 'Patient record - Universal Care Record';
  }, [demo]);

  if (demoError) {
    return (
      <>
        <h1 className="nhsuk-heading-l">Record not available</h1>
        <p role="alert">{demoError}</p>
        <p>
          <Link to={demographicsOnly ? '/app/find-patient' : '/app/'}>Find another patient</Link>
        </p>
      </>
    );
  }
  if (!demo) return <p role="status">Loading the record…</p>;

  if (demographicsOnly) {
    return (
      <>
        <Link to="/app/find-patient" className="nhsuk-back-link">
          Find another patient
        </Link>
        <PatientBanner patient={demo.patient} practice={demo.practice} />
        <div className="nhsuk-inset-text" data-testid="demographics-only">
          <span className="nhsuk-u-visually-hidden">Information: </span>
          <p>
            Your role lets you see who this person is, so that their records can be kept right. It does not let you
            see their health and care record.
          </p>
        </div>
      </>
    );
  }

  return (
    <>
      <Link to="/app/" className="nhsuk-back-link">
        Find another patient
      </Link>
      <PatientBanner patient={demo.patient} practice={demo.practice} />
      {clinical.state === 'loading' && <p role="status">Loading the clinical record…</p>}
      {clinical.state === 'failed' && (
        <div className="nhsuk-error-summary" role="alert">
          <h2 className="nhsuk-error-summary__title">The record could not be loaded</h2>
          <div className="nhsuk-error-summary__body">
            <p>{clinical.reason}</p>
          </div>
        </div>
      )}
      {clinical.state === 'refused' && (
        <BreakGlass
          reason={clinical.reason}
          onDone={async (until) => {
            setEmergencyUntil(until ?? '');
            await loadClinical();
          }}
          client={client}
          id={id}
        />
      )}
      {clinical.state === 'loaded' && emergencyUntil !== null && (
        <div
          className="nhsuk-notification-banner"
          role="region"
          aria-labelledby="emergency-title"
          data-testid="emergency-access"
        >
          <div className="nhsuk-notification-banner__header">
            <h2 className="nhsuk-notification-banner__title" id="emergency-title">
              Emergency access
            </h2>
          </div>
          <div className="nhsuk-notification-banner__content">
            <p className="nhsuk-notification-banner__heading">
              {emergencyUntil ? `You have emergency access until ${formatTimeAndDate(emergencyUntil)}.` : 'You have emergency access.'}
            </p>
            <p>Your reason is recorded in the audit trail, and this access will be reviewed.</p>
          </div>
        </div>
      )}
      {view && (
        <>
          <CriticalFlags flags={criticalFlags(view.summary.allergies, view.summary.flags)} />
          <CarePlans summary={view.summary} />
          <h2 className="nhsuk-heading-m">Summary</h2>
          {view.hidden > 0 && (
            <div className="nhsuk-checkboxes nhsuk-checkboxes--small nhsuk-u-margin-bottom-3" data-testid="entered-in-error">
              <div className="nhsuk-checkboxes__item">
                <input
                  className="nhsuk-checkboxes__input"
                  id="show-entered-in-error"
                  type="checkbox"
                  checked={showErrors}
                  onChange={(e) => setShowErrors(e.target.checked)}
                />
                <label className="nhsuk-label nhsuk-checkboxes__label" htmlFor="show-entered-in-error">
                  Show {view.hidden === 1 ? 'the entry' : `the ${view.hidden} entries`} marked as entered in error
                </label>
              </div>
            </div>
          )}
          <ProblemsTable summary={view.summary} onCorrect={setCorrecting} />
          <MedicationsTable summary={view.summary} />
          <AllergiesTable summary={view.summary} onCorrect={setCorrecting} />
          {saved && (
            <p className="nhsuk-body" role="status" data-testid="saved">
              Saved: {saved}. It is now in the shared record, recorded by you.
            </p>
          )}
          {correcting && (
            <CorrectEntry
              key={`${correcting.resourceType}/${correcting.id ?? ''}`}
              client={client}
              entry={correcting}
              fhirUser={fhirUser}
              onSaved={onSaved}
              onCancel={() => setCorrecting(null)}
            />
          )}
          <h2 className="nhsuk-heading-m">Add to the record</h2>
          <RecordAllergy client={client} patientId={id} fhirUser={fhirUser} onSaved={onSaved} />
          <RecordProblem client={client} patientId={id} fhirUser={fhirUser} onSaved={onSaved} />
          <RecordBloodPressure client={client} patientId={id} fhirUser={fhirUser} onSaved={onSaved} />
          <RecordVital client={client} patientId={id} fhirUser={fhirUser} onSaved={onSaved} />
          <Trends trends={trends} />
          <ResultsTable summary={view.summary} onCorrect={setCorrecting} />
          <Documents sources={view.summary} />
          <EncountersTable summary={view.summary} />
          <ImmunisationsTable summary={view.summary} />
          <Timeline summary={view.summary} />
        </>
      )}
    </>
  );
}

function BreakGlass({
  reason,
  onDone,
  client,
  id,
}: {
  reason: string;
  onDone: (until: string | undefined) => Promise<void>;
  client: FhirClient;
  id: string;
}) {
  const [text, setText] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (text.trim().length < 10) {
      setError('Enter the reason you need emergency access, in at least 10 characters');
      return;
    }
    setBusy(true);
    setError('');
    try {
      await onDone(await breakGlass(client, id, text.trim()));
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      {error && <ErrorSummary title="There is a problem" items={[{ text: error, href: '#break-glass-reason' }]} />}
      <div className="nhsuk-warning-callout" data-testid="access-refused">
        <h2 className="nhsuk-warning-callout__label">
          <span role="text">
            <span className="nhsuk-u-visually-hidden">Important: </span>
            You cannot see this record yet
          </span>
        </h2>
        <p>{reason}</p>
      </div>
      <form onSubmit={submit} noValidate>
        <h2 className="nhsuk-heading-m">Emergency access</h2>
        <p>
          Use emergency access only when this person needs care now and you cannot wait. Access lasts 4 hours, is
          recorded in the audit trail with your reason, and is reviewed.
        </p>
        <div className={`nhsuk-form-group${error ? ' nhsuk-form-group--error' : ''}`}>
          <label className="nhsuk-label" htmlFor="break-glass-reason">
            Why do you need to see this record?
          </label>
          <div className="nhsuk-hint" id="break-glass-hint">
            For example: unconscious patient in the emergency department, no GP record available
          </div>
          {error && (
            <span className="nhsuk-error-message" id="break-glass-error">
              <span className="nhsuk-u-visually-hidden">Error:</span> {error}
            </span>
          )}
          <textarea
            className={`nhsuk-textarea${error ? ' nhsuk-textarea--error' : ''}`}
            id="break-glass-reason"
            name="reason"
            rows={3}
            aria-describedby={`break-glass-hint${error ? ' break-glass-error' : ''}`}
            value={text}
            onChange={(e) => setText(e.target.value)}
          />
        </div>
        <button className="nhsuk-button nhsuk-button--warning" type="submit" disabled={busy}>
          Get emergency access
        </button>
      </form>
    </>
  );
}
