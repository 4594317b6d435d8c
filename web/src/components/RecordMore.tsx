import { type FormEvent, useState } from 'react';
import { dateFromParts } from '../lib/dates';
import type { FhirClient } from '../lib/fhir';
import {
  bloodPressureResource,
  checkBloodPressure,
  checkVital,
  kProblemChoices,
  kVitalSigns,
  problemResource,
  vitalResource,
} from '../lib/write';
import { ErrorSummary } from './Layout';

interface Props {
  client: FhirClient;
  patientId: string;
  fhirUser: string | undefined;
  onSaved: (what: string) => Promise<void>;
}

function FieldError({ id, text }: { id: string; text: string | undefined }) {
  if (!text) return null;
  return (
    <span className="nhsuk-error-message" id={id}>
      <span className="nhsuk-u-visually-hidden">Error:</span> {text}
    </span>
  );
}

/** Write-back: a problem on the problem list, with the year (and month) it started. */
export function RecordProblem({ client, patientId, fhirUser, onSaved }: Props) {
  const [code, setCode] = useState('');
  const [month, setMonth] = useState('');
  const [year, setYear] = useState('');
  const [errors, setErrors] = useState<{ field: string; text: string }[]>([]);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const problem = kProblemChoices.find((c) => c.code === code);
    const onset = dateFromParts('1', month || '1', year);
    const found: { field: string; text: string }[] = [];
    if (!problem) found.push({ field: 'problem-code', text: 'Select the problem' });
    if (!onset || onset > new Date().toISOString().slice(0, 10)) {
      found.push({ field: 'problem-year', text: 'Enter the year it started, for example 2019' });
    }
    setErrors(found);
    if (!problem || !onset || found.length > 0) return;
    setBusy(true);
    try {
      const when = month ? onset.slice(0, 7) : onset.slice(0, 4);
      await client.request('Condition', {
        method: 'POST',
        body: JSON.stringify(problemResource(patientId, problem, when, fhirUser, new Date())),
      });
      setCode('');
      setMonth('');
      setYear('');
      await onSaved(problem.display);
    } catch (err) {
      setErrors([{ field: 'problem-code', text: err instanceof Error ? err.message : String(err) }]);
    } finally {
      setBusy(false);
    }
  };
  const err = (f: string) => errors.find((x) => x.field === f)?.text;
  return (
    <details className="nhsuk-details" data-testid="record-problem">
      <summary className="nhsuk-details__summary">
        <span className="nhsuk-details__summary-text">Record a problem</span>
      </summary>
      <div className="nhsuk-details__text">
        {errors.length > 0 && (
          <ErrorSummary title="There is a problem" items={errors.map((x) => ({ text: x.text, href: `#${x.field}` }))} />
        )}
        <form onSubmit={submit} noValidate>
          <div className={`nhsuk-form-group${err('problem-code') ? ' nhsuk-form-group--error' : ''}`}>
            <label className="nhsuk-label" htmlFor="problem-code">
              Problem
            </label>
            <FieldError id="problem-code-error" text={err('problem-code')} />
            <select className="nhsuk-select" id="problem-code" value={code} onChange={(e) => setCode(e.target.value)}>
              <option value="">Select</option>
              {kProblemChoices.map((c) => (
                <option key={c.code} value={c.code}>
                  {c.display}
                </option>
              ))}
            </select>
          </div>
          <div className={`nhsuk-form-group${err('problem-year') ? ' nhsuk-form-group--error' : ''}`}>
            <fieldset className="nhsuk-fieldset" role="group" aria-describedby="problem-onset-hint">
              <legend className="nhsuk-fieldset__legend nhsuk-label">When it started</legend>
              <div className="nhsuk-hint" id="problem-onset-hint">
                The month is optional, for example 3 2019
              </div>
              <FieldError id="problem-year-error" text={err('problem-year')} />
              <div className="nhsuk-date-input">
                <div className="nhsuk-date-input__item">
                  <div className="nhsuk-form-group">
                    <label className="nhsuk-label nhsuk-date-input__label" htmlFor="problem-month">
                      Month
                    </label>
                    <input
                      className="nhsuk-input nhsuk-date-input__input nhsuk-input--width-2"
                      id="problem-month"
                      inputMode="numeric"
                      value={month}
                      onChange={(e) => setMonth(e.target.value)}
                    />
                  </div>
                </div>
                <div className="nhsuk-date-input__item">
                  <div className="nhsuk-form-group">
                    <label className="nhsuk-label nhsuk-date-input__label" htmlFor="problem-year">
                      Year
                    </label>
                    <input
                      className={`nhsuk-input nhsuk-date-input__input nhsuk-input--width-4${err('problem-year') ? ' nhsuk-input--error' : ''}`}
                      id="problem-year"
                      inputMode="numeric"
                      value={year}
                      onChange={(e) => setYear(e.target.value)}
                    />
                  </div>
                </div>
              </div>
            </fieldset>
          </div>
          <button className="nhsuk-button nhsuk-button--secondary" type="submit" disabled={busy}>
            Save problem
          </button>
        </form>
      </div>
    </details>
  );
}

/** Write-back: a blood pressure reading, which joins the trend at once. */
export function RecordBloodPressure({ client, patientId, fhirUser, onSaved }: Props) {
  const [systolic, setSystolic] = useState('');
  const [diastolic, setDiastolic] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const problem = checkBloodPressure(systolic, diastolic);
    setError(problem ?? '');
    if (problem) return;
    setBusy(true);
    try {
      await client.request('Observation', {
        method: 'POST',
        body: JSON.stringify(bloodPressureResource(patientId, Number(systolic), Number(diastolic), fhirUser, new Date())),
      });
      setSystolic('');
      setDiastolic('');
      await onSaved(`blood pressure ${systolic}/${diastolic} mmHg`);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <details className="nhsuk-details" data-testid="record-blood-pressure">
      <summary className="nhsuk-details__summary">
        <span className="nhsuk-details__summary-text">Record a blood pressure</span>
      </summary>
      <div className="nhsuk-details__text">
        {error && <ErrorSummary title="There is a problem" items={[{ text: error, href: '#bp-systolic' }]} />}
        <form onSubmit={submit} noValidate>
          <div className={`nhsuk-form-group${error ? ' nhsuk-form-group--error' : ''}`}>
            <FieldError id="bp-error" text={error || undefined} />
            <label className="nhsuk-label" htmlFor="bp-systolic">
              Systolic (mmHg)
            </label>
            <input
              className="nhsuk-input nhsuk-input--width-3"
              id="bp-systolic"
              inputMode="numeric"
              value={systolic}
              onChange={(e) => setSystolic(e.target.value)}
            />
            <label className="nhsuk-label nhsuk-u-margin-top-3" htmlFor="bp-diastolic">
              Diastolic (mmHg)
            </label>
            <input
              className="nhsuk-input nhsuk-input--width-3"
              id="bp-diastolic"
              inputMode="numeric"
              value={diastolic}
              onChange={(e) => setDiastolic(e.target.value)}
            />
          </div>
          <button className="nhsuk-button nhsuk-button--secondary" type="submit" disabled={busy}>
            Save blood pressure
          </button>
        </form>
      </div>
    </details>
  );
}

/** Write-back: pulse, temperature, respiratory rate, SpO2, weight or height, checked against what a person can have. */
export function RecordVital({ client, patientId, fhirUser, onSaved }: Props) {
  const [sign, setSign] = useState('');
  const [value, setValue] = useState('');
  const [errors, setErrors] = useState<{ field: string; text: string }[]>([]);
  const [busy, setBusy] = useState(false);
  const chosen = kVitalSigns.find((s) => s.id === sign);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const found: { field: string; text: string }[] = [];
    if (!chosen) found.push({ field: 'vital-sign', text: 'Select what you measured' });
    const problem = chosen ? checkVital(chosen, value) : null;
    if (problem) found.push({ field: 'vital-value', text: problem });
    setErrors(found);
    if (!chosen || found.length > 0) return;
    setBusy(true);
    try {
      await client.request('Observation', {
        method: 'POST',
        body: JSON.stringify(vitalResource(patientId, chosen, Number(value.trim()), fhirUser, new Date())),
      });
      setValue('');
      await onSaved(`${chosen.label.toLowerCase()} ${value.trim()} ${chosen.unit}`);
    } catch (err) {
      setErrors([{ field: 'vital-value', text: err instanceof Error ? err.message : String(err) }]);
    } finally {
      setBusy(false);
    }
  };
  const err = (f: string) => errors.find((x) => x.field === f)?.text;
  return (
    <details className="nhsuk-details" data-testid="record-vital">
      <summary className="nhsuk-details__summary">
        <span className="nhsuk-details__summary-text">Record another observation</span>
      </summary>
      <div className="nhsuk-details__text">
        {errors.length > 0 && (
          <ErrorSummary title="There is a problem" items={errors.map((x) => ({ text: x.text, href: `#${x.field}` }))} />
        )}
        <form onSubmit={submit} noValidate>
          <div className={`nhsuk-form-group${err('vital-sign') ? ' nhsuk-form-group--error' : ''}`}>
            <label className="nhsuk-label" htmlFor="vital-sign">
              Observation
            </label>
            <FieldError id="vital-sign-error" text={err('vital-sign')} />
            <select className="nhsuk-select" id="vital-sign" value={sign} onChange={(e) => setSign(e.target.value)}>
              <option value="">Select</option>
              {kVitalSigns.map((s) => (
                <option key={s.id} value={s.id}>
                  {s.label}
                </option>
              ))}
            </select>
          </div>
          <div className={`nhsuk-form-group${err('vital-value') ? ' nhsuk-form-group--error' : ''}`}>
            <label className="nhsuk-label" htmlFor="vital-value">
              Value{chosen ? ` (${chosen.unit})` : ''}
            </label>
            {chosen && (
              <div className="nhsuk-hint" id="vital-hint">
                From {chosen.min} to {chosen.max} {chosen.unit}
              </div>
            )}
            <FieldError id="vital-value-error" text={err('vital-value')} />
            <input
              className={`nhsuk-input nhsuk-input--width-5${err('vital-value') ? ' nhsuk-input--error' : ''}`}
              id="vital-value"
              inputMode="decimal"
              aria-describedby={chosen ? 'vital-hint' : undefined}
              value={value}
              onChange={(e) => setValue(e.target.value)}
            />
          </div>
          <button className="nhsuk-button nhsuk-button--secondary" type="submit" disabled={busy}>
            Save observation
          </button>
        </form>
      </div>
    </details>
  );
}
