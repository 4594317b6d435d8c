import { type FormEvent, useEffect, useRef, useState } from 'react';
import type { FhirClient, Resource } from '../lib/fhir';
import { conceptText } from '../lib/record';
import { amendedStatus, type ClinicalStatus, correctedValue, enteredInError } from '../lib/write';
import { ErrorSummary } from './Layout';

type Kind = 'error' | 'amend';

/**
 * Correcting an entry: mark it entered in error, or amend it (a problem's or allergy's clinical
 * status, an observation's value), always with a reason. The server keeps the earlier version.
 */
export function CorrectEntry({
  client,
  entry,
  fhirUser,
  onSaved,
  onCancel,
}: {
  client: FhirClient;
  entry: Resource;
  fhirUser: string | undefined;
  onSaved: (what: string) => Promise<void>;
  onCancel: () => void;
}) {
  const [kind, setKind] = useState<Kind | ''>('');
  const [status, setStatus] = useState<ClinicalStatus>('resolved');
  const [value, setValue] = useState('');
  const [reason, setReason] = useState('');
  const [errors, setErrors] = useState<{ field: string; text: string }[]>([]);
  const [busy, setBusy] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), [entry]);
  const name = conceptText(entry.code as never) || entry.resourceType;
  const isObservation = entry.resourceType === 'Observation';
  const canAmendValue = isObservation && typeof (entry.valueQuantity as { value?: unknown } | undefined)?.value === 'number';

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const found: { field: string; text: string }[] = [];
    if (!kind) found.push({ field: 'correct-kind-error', text: 'Select what is wrong with the entry' });
    const number = Number(value);
    if (kind === 'amend' && canAmendValue && (value.trim() === '' || !Number.isFinite(number) || number < 0)) {
      found.push({ field: 'correct-value', text: 'Enter the correct value as a number' });
    }
    if (reason.trim().length < 5) found.push({ field: 'correct-reason', text: 'Enter the reason for the correction, in at least 5 characters' });
    setErrors(found);
    if (found.length > 0 || !kind) return;
    const now = new Date();
    let updated: Resource;
    if (kind === 'error') updated = enteredInError(entry, reason.trim(), fhirUser, now);
    else if (isObservation) updated = correctedValue(entry, number, reason.trim(), fhirUser, now);
    else updated = amendedStatus(entry, status, reason.trim(), fhirUser, now);
    setBusy(true);
    try {
      const version = (entry.meta as { versionId?: string } | undefined)?.versionId;
      await client.request(`${entry.resourceType}/${encodeURIComponent(entry.id ?? '')}`, {
        method: 'PUT',
        body: JSON.stringify(updated),
        headers: version ? { 'If-Match': `W/"${version}"` } : {},
      });
      await onSaved(kind === 'error' ? `${name} marked as entered in error` : `${name} corrected`);
    } catch (err) {
      setErrors([{ field: 'correct-reason', text: err instanceof Error ? err.message : String(err) }]);
    } finally {
      setBusy(false);
    }
  };
  const err = (f: string) => errors.find((x) => x.field === f)?.text;
  const fieldError = (id: string) =>
    err(id) ? (
      <span className="nhsuk-error-message" id={`${id}-message`}>
        <span className="nhsuk-u-visually-hidden">Error:</span> {err(id)}
      </span>
    ) : null;

  return (
    <section className="nhsuk-card" aria-labelledby="correct-heading" data-testid="correct-entry">
      <div className="nhsuk-card__content">
        <h2 className="nhsuk-heading-m" id="correct-heading" tabIndex={-1} ref={heading}>
          Correct: {name}
        </h2>
        {errors.length > 0 && (
          <ErrorSummary
            title="There is a problem"
            items={errors.map((x) => ({ text: x.text, href: `#${x.field === 'correct-kind-error' ? 'correct-kind-error' : x.field}` }))}
          />
        )}
        <p>The entry is kept with its history: the record shows it as corrected, attributed to you.</p>
        <form onSubmit={submit} noValidate>
          <div className={`nhsuk-form-group${err('correct-kind-error') ? ' nhsuk-form-group--error' : ''}`}>
            <fieldset className="nhsuk-fieldset">
              <legend className="nhsuk-fieldset__legend nhsuk-label">What is wrong with it?</legend>
              {fieldError('correct-kind-error')}
              <div className="nhsuk-radios">
                <div className="nhsuk-radios__item">
                  <input
                    className="nhsuk-radios__input"
                    id="correct-kind-error"
                    type="radio"
                    name="correct-kind"
                    checked={kind === 'error'}
                    onChange={() => setKind('error')}
                  />
                  <label className="nhsuk-label nhsuk-radios__label" htmlFor="correct-kind-error">
                    It was entered in error (wrong patient, or never true)
                  </label>
                </div>
                {(!isObservation || canAmendValue) && (
                <div className="nhsuk-radios__item">
                  <input
                    className="nhsuk-radios__input"
                    id="correct-kind-amend"
                    type="radio"
                    name="correct-kind"
                    checked={kind === 'amend'}
                    onChange={() => setKind('amend')}
                  />
                  <label className="nhsuk-label nhsuk-radios__label" htmlFor="correct-kind-amend">
                    {isObservation ? 'The value is wrong' : 'Its status has changed'}
                  </label>
                </div>
                )}
              </div>
            </fieldset>
          </div>
          {kind === 'amend' && !isObservation && (
            <div className="nhsuk-form-group">
              <label className="nhsuk-label" htmlFor="correct-status">
                Status now
              </label>
              <select
                className="nhsuk-select"
                id="correct-status"
                value={status}
                onChange={(e) => setStatus(e.target.value as ClinicalStatus)}
              >
                <option value="active">Active</option>
                <option value="inactive">Inactive</option>
                <option value="resolved">Resolved</option>
              </select>
            </div>
          )}
          {kind === 'amend' && canAmendValue && (
            <div className={`nhsuk-form-group${err('correct-value') ? ' nhsuk-form-group--error' : ''}`}>
              <label className="nhsuk-label" htmlFor="correct-value">
                Correct value ({String((entry.valueQuantity as { unit?: string }).unit ?? '')})
              </label>
              {fieldError('correct-value')}
              <input
                className="nhsuk-input nhsuk-input--width-5"
                id="correct-value"
                inputMode="decimal"
                value={value}
                onChange={(e) => setValue(e.target.value)}
              />
            </div>
          )}
          <div className={`nhsuk-form-group${err('correct-reason') ? ' nhsuk-form-group--error' : ''}`}>
            <label className="nhsuk-label" htmlFor="correct-reason">
              Reason
            </label>
            {fieldError('correct-reason')}
            <textarea
              className="nhsuk-textarea"
              id="correct-reason"
              rows={2}
              value={reason}
              onChange={(e) => setReason(e.target.value)}
            />
          </div>
          <div className="nhsuk-button-group">
            <button className="nhsuk-button" type="submit" disabled={busy}>
              Save the correction
            </button>
            <button className="nhsuk-button nhsuk-button--secondary" type="button" onClick={onCancel}>
              Cancel
            </button>
          </div>
        </form>
      </div>
    </section>
  );
}
