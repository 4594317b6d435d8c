import { type FormEvent, useState } from 'react';
import type { FhirClient } from '../lib/fhir';
import { allergyResource, kAllergyChoices, kReactionChoices, type Severity } from '../lib/write';
import { ErrorSummary } from './Layout';

/** Write-back: a professional records an allergy in the shared record, attributed to them. */
export function RecordAllergy({
  client,
  patientId,
  fhirUser,
  onSaved,
}: {
  client: FhirClient;
  patientId: string;
  fhirUser: string | undefined;
  onSaved: (what: string) => Promise<void>;
}) {
  const [substance, setSubstance] = useState('');
  const [reaction, setReaction] = useState('');
  const [severity, setSeverity] = useState<Severity | ''>('');
  const [errors, setErrors] = useState<{ field: string; text: string }[]>([]);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const s = kAllergyChoices.find((c) => c.code === substance);
    const r = kReactionChoices.find((c) => c.code === reaction);
    const found: { field: string; text: string }[] = [];
    if (!s) found.push({ field: 'allergy-substance', text: 'Select what the person is allergic to' });
    if (!r) found.push({ field: 'allergy-reaction', text: 'Select the reaction' });
    if (!severity) found.push({ field: 'allergy-severity-mild', text: 'Select how severe the reaction was' });
    setErrors(found);
    if (!s || !r || !severity) return;
    setBusy(true);
    try {
      await client.request('AllergyIntolerance', {
        method: 'POST',
        body: JSON.stringify(allergyResource(patientId, { substance: s, reaction: r, severity }, fhirUser, new Date())),
      });
      setSubstance('');
      setReaction('');
      setSeverity('');
      await onSaved(s.display);
    } catch (err) {
      setErrors([{ field: 'allergy-substance', text: err instanceof Error ? err.message : String(err) }]);
    } finally {
      setBusy(false);
    }
  };

  const err = (field: string) => errors.find((x) => x.field.startsWith(field));
  return (
    <details className="nhsuk-details" data-testid="record-allergy">
      <summary className="nhsuk-details__summary">
        <span className="nhsuk-details__summary-text">Record an allergy</span>
      </summary>
      <div className="nhsuk-details__text">
        {errors.length > 0 && (
          <ErrorSummary title="There is a problem" items={errors.map((x) => ({ text: x.text, href: `#${x.field}` }))} />
        )}
        <form onSubmit={submit} noValidate>
          <div className={`nhsuk-form-group${err('allergy-substance') ? ' nhsuk-form-group--error' : ''}`}>
            <label className="nhsuk-label" htmlFor="allergy-substance">
              Allergic to
            </label>
            {err('allergy-substance') && (
              <span className="nhsuk-error-message" id="allergy-substance-error">
                <span className="nhsuk-u-visually-hidden">Error:</span> {err('allergy-substance')?.text}
              </span>
            )}
            <select
              className={`nhsuk-select${err('allergy-substance') ? ' nhsuk-select--error' : ''}`}
              id="allergy-substance"
              value={substance}
              onChange={(e) => setSubstance(e.target.value)}
            >
              <option value="">Select</option>
              {kAllergyChoices.map((c) => (
                <option key={c.code} value={c.code}>
                  {c.display}
                </option>
              ))}
            </select>
          </div>
          <div className={`nhsuk-form-group${err('allergy-reaction') ? ' nhsuk-form-group--error' : ''}`}>
            <label className="nhsuk-label" htmlFor="allergy-reaction">
              Reaction
            </label>
            {err('allergy-reaction') && (
              <span className="nhsuk-error-message" id="allergy-reaction-error">
                <span className="nhsuk-u-visually-hidden">Error:</span> {err('allergy-reaction')?.text}
              </span>
            )}
            <select
              className={`nhsuk-select${err('allergy-reaction') ? ' nhsuk-select--error' : ''}`}
              id="allergy-reaction"
              value={reaction}
              onChange={(e) => setReaction(e.target.value)}
            >
              <option value="">Select</option>
              {kReactionChoices.map((c) => (
                <option key={c.code} value={c.code}>
                  {c.display}
                </option>
              ))}
            </select>
          </div>
          <div className={`nhsuk-form-group${err('allergy-severity') ? ' nhsuk-form-group--error' : ''}`}>
            <fieldset className="nhsuk-fieldset">
              <legend className="nhsuk-fieldset__legend nhsuk-label">Severity</legend>
              {err('allergy-severity') && (
                <span className="nhsuk-error-message" id="allergy-severity-error">
                  <span className="nhsuk-u-visually-hidden">Error:</span> {err('allergy-severity')?.text}
                </span>
              )}
              <div className="nhsuk-radios nhsuk-radios--inline">
                {(['mild', 'moderate', 'severe'] as const).map((v) => (
                  <div className="nhsuk-radios__item" key={v}>
                    <input
                      className="nhsuk-radios__input"
                      id={`allergy-severity-${v}`}
                      name="allergy-severity"
                      type="radio"
                      value={v}
                      checked={severity === v}
                      onChange={() => setSeverity(v)}
                    />
                    <label className="nhsuk-label nhsuk-radios__label" htmlFor={`allergy-severity-${v}`}>
                      {v[0]?.toUpperCase()}
                      {v.slice(1)}
                    </label>
                  </div>
                ))}
              </div>
            </fieldset>
          </div>
          <button className="nhsuk-button nhsuk-button--secondary" type="submit" disabled={busy}>
            Save allergy
          </button>
        </form>
      </div>
    </details>
  );
}
