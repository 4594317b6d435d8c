import { type FormEvent, useCallback, useEffect, useState } from 'react';
import { Link } from '../components/Layout';
import { type FhirClient, type Resource, resourcesOf } from '../lib/fhir';
import { currentChoices, dissentConsent, kShareChoices } from '../lib/sharing';

/** The patient's sharing choices, saved as Consent resources that the server enforces. */
export function Sharing({ client, patientId }: { client: FhirClient; patientId: string | undefined }) {
  const [inForce, setInForce] = useState<Map<string, Resource> | null>(null);
  const [wanted, setWanted] = useState<Set<string>>(new Set());
  const [message, setMessage] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  const load = useCallback(async () => {
    if (!patientId) return;
    const consents = resourcesOf(await client.search('Consent', { patient: patientId, status: 'active', _count: '100' }));
    const now = currentChoices(consents);
    setInForce(now);
    setWanted(new Set(now.keys()));
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
          <button className="nhsuk-button" type="submit" disabled={busy}>
            Save my choices
          </button>
        </form>
      )}
    </>
  );
}
