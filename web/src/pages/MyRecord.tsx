import { useEffect, useMemo, useState } from 'react';
import { CriticalFlags, PatientBanner } from '../components/Banner';
import { Documents } from '../components/Documents';
import { Trends } from '../components/Trends';
import { Link } from '../components/Layout';
import { type FhirClient, type Resource, resourcesOf } from '../lib/fhir';
import { formatDate } from '../lib/dates';
import { explain } from '../lib/glossary';
import { type ClinicalSummary, type Demographics, loadClinicalSummary, loadDemographics } from '../lib/load';
import { trendsOf } from '../lib/trends';
import {
  conceptText,
  criticalFlags,
  dosageText,
  medicationName,
  patientName,
  sortAllergies,
  sortMedicines,
  sortProblems,
  withoutEnteredInError,
} from '../lib/record';

function Explained({ text }: { text: string }) {
  const found = explain(text);
  return (
    <>
      <span className="nhsuk-body nhsuk-u-font-weight-bold">{text}</span>
      {found.map((e) => (
        <span className="ucr-provenance" key={e.term}>
          <span className="nhsuk-u-visually-hidden">Meaning: </span>
          {e.plain}
        </span>
      ))}
    </>
  );
}

function valueText(o: Resource): string {
  const q = o.valueQuantity as { value?: number; unit?: string } | undefined;
  if (q?.value !== undefined) return `${q.value} ${q.unit ?? ''}`.trim();
  if (typeof o.valueString === 'string') return o.valueString;
  return conceptText(o.valueCodeableConcept as never);
}

/** The latest result for each test, newest first. */
function latestResults(observations: Resource[]): Resource[] {
  const seen = new Set<string>();
  const out: Resource[] = [];
  for (const o of observations) {
    const name = conceptText(o.code as never);
    if (seen.has(name)) continue;
    seen.add(name);
    out.push(o);
  }
  return out;
}

/** The patient app: my own record, explained in plain English. */
export interface ProxyChoice {
  patients: string[]; // every record the proxy may act for
  onChoose: (id: string) => void;
}

/** For a proxy: whose record this is, and a way to switch when they act for several people. */
function ActingFor({ client, proxy, current }: { client: FhirClient; proxy: ProxyChoice; current: string }) {
  const [names, setNames] = useState<Map<string, string>>(new Map());
  useEffect(() => {
    if (proxy.patients.length < 2) return;
    client
      .search('Patient', { _id: proxy.patients.join(','), _count: String(proxy.patients.length) })
      .then((b) => setNames(new Map(resourcesOf(b).map((p) => [p.id ?? '', patientName(p)]))))
      .catch(() => undefined);
  }, [client, proxy.patients]);
  return (
    <div className="nhsuk-inset-text" data-testid="acting-for">
      <span className="nhsuk-u-visually-hidden">Information: </span>
      <p>You are looking at the record of someone who has given you access, or whom you care for.</p>
      {proxy.patients.length > 1 && (
        <div className="nhsuk-form-group">
          <label className="nhsuk-label" htmlFor="acting-for">
            Whose record
          </label>
          <select
            className="nhsuk-select"
            id="acting-for"
            value={current}
            onChange={(e) => proxy.onChoose(e.target.value)}
          >
            {proxy.patients.map((id) => (
              <option key={id} value={id}>
                {names.get(id) ?? id}
              </option>
            ))}
          </select>
        </div>
      )}
    </div>
  );
}

export function MyRecord({
  client,
  patientId,
  proxy,
}: {
  client: FhirClient;
  patientId: string | undefined;
  proxy?: ProxyChoice | undefined;
}) {
  const my = proxy ? 'Their' : 'My';
  const [demo, setDemo] = useState<Demographics | null>(null);
  const [summary, setSummary] = useState<ClinicalSummary | null>(null);
  const [error, setError] = useState('');
  const trends = useMemo(() => (summary ? trendsOf([...summary.vitals, ...summary.observations]) : []), [summary]);

  useEffect(() => {
    document.title = 'My record - Universal Care Record';
    if (!patientId) return;
    let live = true;
    Promise.all([loadDemographics(client, patientId), loadClinicalSummary(client, patientId)])
      .then(([d, s]) => {
        if (!live) return;
        setDemo(d);
        // Entries a professional marked entered in error are not part of the patient's record.
        setSummary(withoutEnteredInError(s, ['allergies', 'conditions', 'observations', 'vitals', 'immunisations']).summary);
      })
      .catch((e: unknown) => {
        if (live) setError(e instanceof Error ? e.message : String(e));
      });
    return () => {
      live = false;
    };
  }, [client, patientId]);

  if (!patientId) {
    return (
      <>
        <h1 className="nhsuk-heading-l">My record</h1>
        <p>Your account is not linked to a record yet.</p>
      </>
    );
  }
  if (error) {
    return (
      <>
        <h1 className="nhsuk-heading-l">My record</h1>
        <p role="alert">{error}</p>
      </>
    );
  }
  if (!demo || !summary) return <p role="status">Loading your record…</p>;
  const problems = sortProblems(summary.conditions);
  const results = latestResults(summary.observations);
  return (
    <>
      {proxy && <ActingFor client={client} proxy={proxy} current={patientId} />}
      <PatientBanner patient={demo.patient} practice={demo.practice} />
      <CriticalFlags flags={criticalFlags(summary.allergies, summary.flags)} />
      <ul className="nhsuk-list">
        <li>
          <Link to="/app/my-record/who-accessed">See who has looked at my record</Link>
        </li>
        <li>
          <Link to="/app/my-record/sharing">Choose who my record is shared with</Link>
        </li>
      </ul>
      <h2 className="nhsuk-heading-m">{my} medicines</h2>
      <ul className="nhsuk-list nhsuk-list--border" data-testid="my-medicines">
        {summary.medications.length === 0 && <li>No current medicines.</li>}
        {sortMedicines(summary.medications).map((m) => (
          <li key={`${m.resourceType}/${m.id}`}>
            <Explained text={medicationName(m)} />
            {dosageText(m) && <span className="ucr-provenance">How to take it: {dosageText(m)}</span>}
          </li>
        ))}
      </ul>
      <h2 className="nhsuk-heading-m">{my} health problems</h2>
      <ul className="nhsuk-list nhsuk-list--border" data-testid="my-problems">
        {problems.length === 0 && <li>No health problems recorded.</li>}
        {problems.map((c) => (
          <li key={c.id}>
            <Explained text={conceptText(c.code as never)} />
            <span className="ucr-provenance">
              Since {formatDate((c.onsetDateTime ?? c.recordedDate) as string | undefined)}
            </span>
          </li>
        ))}
      </ul>
      <h2 className="nhsuk-heading-m">{my} allergies</h2>
      <ul className="nhsuk-list nhsuk-list--border" data-testid="my-allergies">
        {summary.allergies.length === 0 && <li>No allergies recorded.</li>}
        {sortAllergies(summary.allergies).map((a) => (
          <li key={a.id}>
            <Explained text={conceptText(a.code as never)} />
          </li>
        ))}
      </ul>
      <h2 className="nhsuk-heading-m">{my} vaccinations</h2>
      <ul className="nhsuk-list nhsuk-list--border" data-testid="my-vaccinations">
        {summary.immunisations.length === 0 && <li>No vaccinations recorded.</li>}
        {summary.immunisations.map((v) => (
          <li key={v.id}>
            <Explained text={conceptText(v.vaccineCode as never)} />
            <span className="ucr-provenance">Given on {formatDate(v.occurrenceDateTime as string | undefined)}</span>
          </li>
        ))}
      </ul>
      <h2 className="nhsuk-heading-m">{my} latest test results</h2>
      <ul className="nhsuk-list nhsuk-list--border" data-testid="my-results">
        {results.length === 0 && <li>No test results.</li>}
        {results.map((o) => (
          <li key={o.id}>
            <Explained text={conceptText(o.code as never)} />
            <span className="ucr-provenance">
              {valueText(o)} on {formatDate((o.effectiveDateTime ?? o.issued) as string | undefined)}
            </span>
          </li>
        ))}
      </ul>
      <Trends trends={trends} />
      <Documents sources={summary} heading={`${my} documents`} />
    </>
  );
}
