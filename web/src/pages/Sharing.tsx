import { type FormEvent, useCallback, useEffect, useState } from 'react';
import { Link } from '../components/Layout';
import { type FhirClient, type Resource, resourcesOf } from '../lib/fhir';
import {
  currentChoices,
  dissentConsent,
  kShareChoices,
  type NamedOrganisation,
  namedDissents,
  organisationDissent,
} from '../lib/sharing';

/** The patient's sharing choices, saved as Consent resources that the server enforces. */
export function Sharing({ client, patientId }: { client: FhirClient; patientId: string | undefined }) {
  const [inForce, setInForce] = useState<Map<string, Resource> | null>(null);
  const [wanted, setWanted] = useState<Set<string>>(new Set());
  const [named, setNamed] = useState<Map<string, { org: NamedOrganisation; consent: Resource }>>(new Map());
  const [wantedOrgs, setWantedOrgs] = useState<NamedOrganisation[]>([]);
  const [message, setMessage] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  const load = useCallback(async () => {
    if (!patientId) return;
    const consents = resourcesOf(await client.search('Consent', { patient: patientId, status: 'active', _count: '100' }));
    const now = currentChoices(consents);
    setInForce(now);
    setWanted(new Set(now.keys()));
    const orgs = namedDissents(consents);
    setNamed(orgs);
    setWantedOrgs([...orgs.values()].map((x) => x.org));
  }, [client, patientId]);

  useEffect(() => {
    document.title = 'Who my record is shared with - Universal Care Record';
    load().catch((e: unknown) => setError(e instanceof Error ? e.message : String(e)));
  }, [load]);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    if (!patientId || !inForce) return;
    setBusy(true);
    setError('');
    setMessage('');
    try {
      for (const choice of kShareChoices) {
        const existing = inForce.get(choice.id);
        if (wanted.has(choice.id) && !existing) {
          await client.request('Consent', { method: 'POST', body: JSON.stringify(dissentConsent(patientId, choice, new Date())) });
        } else if (!wanted.has(choice.id) && existing?.id) {
          // Withdrawn, not deleted: the record keeps the history of what the patient asked for.
          await client.request(`Consent/${existing.id}`, {
            method: 'PUT',
            body: JSON.stringify({ ...existing, status: 'inactive' }),
          });
        }
      }
      for (const org of wantedOrgs) {
        if (!named.has(org.reference)) {
          await client.request('Consent', { method: 'POST', body: JSON.stringify(organisationDissent(patientId, org, new Date())) });
        }
      }
      for (const [ref, { consent }] of named) {
        if (!wantedOrgs.some((o) => o.reference === ref) && consent.id) {
          await client.request(`Consent/${consent.id}`, { method: 'PUT', body: JSON.stringify({ ...consent, status: 'inactive' }) });
        }
      }
      await load();
      setMessage('Your choices are saved. They apply from now on, everywhere your record is used.');
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <Link to="/app/my-record" className="nhsuk-back-link">
        Back to my record
      </Link>
      <h1 className="nhsuk-heading-l">Who my record is shared with</h1>
      <p>
        Your GP practice always sees your record. Other services that care for you see it too, unless you choose
        otherwise here. In an emergency a professional can still open it; that is recorded and reviewed.
      </p>
      {message && (
        <div className="nhsuk-inset-text" role="status" data-testid="sharing-saved">
          <span className="nhsuk-u-visually-hidden">Information: </span>
          <p>{message}</p>
        </div>
      )}
      {error && <p role="alert">{error}</p>}
      {inForce === null && !error && <p role="status">Loading…</p>}
      {inForce !== null && (
        <form onSubmit={save} noValidate>
          <div className="nhsuk-form-group">
            <fieldset className="nhsuk-fieldset" aria-describedby="sharing-hint">
              <legend className="nhsuk-fieldset__legend nhsuk-fieldset__legend--m">
                Do not share my record with
              </legend>
              <div className="nhsuk-hint" id="sharing-hint">
                Select all that apply
              </div>
              <div className="nhsuk-checkboxes">
                {kShareChoices.map((c) => (
                  <div className="nhsuk-checkboxes__item" key={c.id}>
                    <input
                      className="nhsuk-checkboxes__input"
                      id={`share-${c.id}`}
                      type="checkbox"
                      checked={wanted.has(c.id)}
                      onChange={(e) => {
                        const next = new Set(wanted);
                        if (e.target.checked) next.add(c.id);
                        else next.delete(c.id);
                        setWanted(next);
                      }}
                    />
                    <label className="nhsuk-label nhsuk-checkboxes__label" htmlFor={`share-${c.id}`}>
                      {c.label}
                    </label>
                  </div>
                ))}
              </div>
            </fieldset>
          </div>
          <NamedOrganisations client={client} chosen={wantedOrgs} onChange={setWantedOrgs} />
          <button className="nhsuk-button" type="submit" disabled={busy}>
            Save my choices
          </button>
        </form>
      )}
    </>
  );
}

/** Organisations the patient names from the directory (searched by name) to keep their record from. */
function NamedOrganisations({
  client,
  chosen,
  onChange,
}: {
  client: FhirClient;
  chosen: NamedOrganisation[];
  onChange: (orgs: NamedOrganisation[]) => void;
}) {
  const [query, setQuery] = useState('');
  const [found, setFound] = useState<NamedOrganisation[] | null>(null);
  const [error, setError] = useState('');

  const search = async () => {
    setError('');
    if (query.trim().length < 2) {
      setError('Enter at least 2 letters of the organisation\'s name');
      return;
    }
    try {
      const b = await client.search('Organization', { name: query.trim(), _count: '20' });
      setFound(
        resourcesOf(b)
          .filter((o) => o.id && typeof o.name === 'string')
          .map((o) => ({ reference: `Organization/${o.id ?? ''}`, name: String(o.name) })),
      );
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };

  return (
    <div className="nhsuk-form-group" data-testid="named-organisations">
      <h2 className="nhsuk-heading-m">Do not share my record with these organisations</h2>
      {chosen.length === 0 ? (
        <p>You have not named any organisations.</p>
      ) : (
        <ul className="nhsuk-list nhsuk-list--border" data-testid="chosen-organisations">
          {chosen.map((o) => (
            <li key={o.reference}>
              {o.name}{' '}
              <button
                type="button"
                className="ucr-link-button"
                onClick={() => onChange(chosen.filter((x) => x.reference !== o.reference))}
              >
                Remove<span className="nhsuk-u-visually-hidden"> {o.name}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
      <div className={`nhsuk-form-group${error ? ' nhsuk-form-group--error' : ''}`}>
        <label className="nhsuk-label" htmlFor="organisation-search">
          Find an organisation by name
        </label>
        <div className="nhsuk-hint" id="organisation-search-hint">
          For example, a pharmacy, a care home or a hospital trust
        </div>
        {error && (
          <span className="nhsuk-error-message" id="organisation-search-error" role="alert">
            <span className="nhsuk-u-visually-hidden">Error:</span> {error}
          </span>
        )}
        <input
          className="nhsuk-input nhsuk-u-width-two-thirds"
          id="organisation-search"
          type="search"
          aria-describedby={`organisation-search-hint${error ? ' organisation-search-error' : ''}`}
          value={query}
          onChange={(e) => setQuery(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter') {
              e.preventDefault();
              void search();
            }
          }}
        />
      </div>
      <button className="nhsuk-button nhsuk-button--secondary" type="button" onClick={() => void search()}>
        Search organisations
      </button>
      {found !== null && (
        <div role="status" data-testid="organisation-results">
          {found.length === 0 ? (
            <p>No organisations found with that name.</p>
          ) : (
            <ul className="nhsuk-list nhsuk-list--border">
              {found.map((o) => {
                const already = chosen.some((x) => x.reference === o.reference);
                return (
                  <li key={o.reference}>
                    {o.name}{' '}
                    {already ? (
                      <span className="ucr-provenance">Already chosen</span>
                    ) : (
                      <button type="button" className="ucr-link-button" onClick={() => onChange([...chosen, o])}>
                        Add<span className="nhsuk-u-visually-hidden"> {o.name}</span>
                      </button>
                    )}
                  </li>
                );
              })}
            </ul>
          )}
        </div>
      )}
    </div>
  );
}
