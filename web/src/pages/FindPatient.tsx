import { type FormEvent, useState } from 'react';
import { ErrorSummary, Link } from '../components/Layout';
import { type Bundle, type FhirClient, type Resource, resourcesOf } from '../lib/fhir';
import { gradeText, type MatchInfo, matchInfo, matchParameters, verdictText } from '../lib/match';
import { dateFromParts, formatBirthDateAndAge } from '../lib/dates';
import { formatNhsNumber, isValidNhsNumber, nhsNumberDigits } from '../lib/nhs-number';
import { addressOf, genderText, kNhsNumberSystem, nhsNumberOf, patientName } from '../lib/record';

interface FieldError {
  field: string;
  text: string;
}

export function FindPatient({ client }: { client: FhirClient }) {
  const [nhs, setNhs] = useState('');
  const [family, setFamily] = useState('');
  const [given, setGiven] = useState('');
  const [postcode, setPostcode] = useState('');
  const [day, setDay] = useState('');
  const [month, setMonth] = useState('');
  const [year, setYear] = useState('');
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [results, setResults] = useState<Found[] | null>(null);
  const [failure, setFailure] = useState('');
  const [busy, setBusy] = useState(false);

  const run = async (find: () => Promise<Found[]>) => {
    setBusy(true);
    setFailure('');
    try {
      setResults(await find());
    } catch (e) {
      setFailure(e instanceof Error ? e.message : String(e));
      setResults(null);
    } finally {
      setBusy(false);
    }
  };

  const byNhsNumber = (e: FormEvent) => {
    e.preventDefault();
    if (!isValidNhsNumber(nhs)) {
      setErrors([{ field: 'nhs-number', text: 'Enter a valid 10-digit NHS number' }]);
      return;
    }
    setErrors([]);
    void run(async () => {
      const bundle = await client.search('Patient', {
        identifier: `${kNhsNumberSystem}|${nhsNumberDigits(nhs) ?? ''}`,
        _count: '50',
      });
      return resourcesOf(bundle)
        .filter((r) => r.resourceType === 'Patient')
        .map((patient) => ({ patient }));
    });
  };

  const byNameAndBirthDate = (e: FormEvent) => {
    e.preventDefault();
    const found: FieldError[] = [];
    if (family.trim().length < 2) found.push({ field: 'family-name', text: 'Enter at least 2 letters of the last name' });
    const birth = dateFromParts(day, month, year);
    if (!birth) found.push({ field: 'birth-date-day', text: 'Enter a real date of birth, for example 15 3 1984' });
    setErrors(found);
    if (found.length > 0 || !birth) return;
    // The matcher tolerates typing slips, nicknames and moves, and says how each candidate matched.
    void run(async () => {
      const bundle = await client.request<Bundle>('Patient/$match', {
        method: 'POST',
        body: JSON.stringify(matchParameters({ family, given, birthDate: birth, postcode })),
      });
      return (bundle.entry ?? []).flatMap((e) =>
        e.resource?.resourceType === 'Patient' ? [{ patient: e.resource, match: matchInfo(e) }] : [],
      );
    });
  };

  const errorFor = (field: string) => errors.find((x) => x.field === field || x.field.startsWith(`${field}-`));

  return (
    <>
      {errors.length > 0 && (
        <ErrorSummary title="There is a problem" items={errors.map((x) => ({ text: x.text, href: `#${x.field}` }))} />
      )}
      <h1 className="nhsuk-heading-l">Find a patient</h1>
      <div className="nhsuk-grid-row">
        <div className="nhsuk-grid-column-one-half">
          <form onSubmit={byNhsNumber} noValidate aria-labelledby="by-nhs">
            <h2 className="nhsuk-heading-m" id="by-nhs">
              By NHS number
            </h2>
            <div className={`nhsuk-form-group${errorFor('nhs-number') ? ' nhsuk-form-group--error' : ''}`}>
              <label className="nhsuk-label" htmlFor="nhs-number">
                NHS number
              </label>
              <div className="nhsuk-hint" id="nhs-number-hint">
                10 digits, for example 999 000 0018
              </div>
              {errorFor('nhs-number') && (
                <span className="nhsuk-error-message" id="nhs-number-error">
                  <span className="nhsuk-u-visually-hidden">Error:</span> {errorFor('nhs-number')?.text}
                </span>
              )}
              <input
                className={`nhsuk-input nhsuk-input--width-10${errorFor('nhs-number') ? ' nhsuk-input--error' : ''}`}
                id="nhs-number"
                name="nhs-number"
                type="text"
                inputMode="numeric"
                spellCheck={false}
                autoComplete="off"
                aria-describedby={`nhs-number-hint${errorFor('nhs-number') ? ' nhs-number-error' : ''}`}
                value={nhs}
                onChange={(e) => setNhs(e.target.value)}
              />
            </div>
            <button className="nhsuk-button" type="submit" disabled={busy}>
              Search by NHS number
            </button>
          </form>
        </div>
        <div className="nhsuk-grid-column-one-half">
          <form onSubmit={byNameAndBirthDate} noValidate aria-labelledby="by-name">
            <h2 className="nhsuk-heading-m" id="by-name">
              By name and date of birth
            </h2>
            <p className="nhsuk-body-s">Close matches are found too, and each result says how well it matches.</p>
            <div className={`nhsuk-form-group${errorFor('family-name') ? ' nhsuk-form-group--error' : ''}`}>
              <label className="nhsuk-label" htmlFor="family-name">
                Last name
              </label>
              {errorFor('family-name') && (
                <span className="nhsuk-error-message" id="family-name-error">
                  <span className="nhsuk-u-visually-hidden">Error:</span> {errorFor('family-name')?.text}
                </span>
              )}
              <input
                className={`nhsuk-input nhsuk-u-width-two-thirds${errorFor('family-name') ? ' nhsuk-input--error' : ''}`}
                id="family-name"
                name="family-name"
                type="text"
                autoComplete="off"
                spellCheck={false}
                value={family}
                onChange={(e) => setFamily(e.target.value)}
                {...(errorFor('family-name') ? { 'aria-describedby': 'family-name-error' } : {})}
              />
            </div>
            <div className="nhsuk-form-group">
              <label className="nhsuk-label" htmlFor="given-name">
                First name (optional)
              </label>
              <input
                className="nhsuk-input nhsuk-u-width-two-thirds"
                id="given-name"
                name="given-name"
                type="text"
                autoComplete="off"
                spellCheck={false}
                value={given}
                onChange={(e) => setGiven(e.target.value)}
              />
            </div>
            <div className={`nhsuk-form-group${errorFor('birth-date') ? ' nhsuk-form-group--error' : ''}`}>
              <fieldset
                className="nhsuk-fieldset"
                role="group"
                aria-describedby={`birth-date-hint${errorFor('birth-date') ? ' birth-date-error' : ''}`}
              >
                <legend className="nhsuk-fieldset__legend nhsuk-label">Date of birth</legend>
                <div className="nhsuk-hint" id="birth-date-hint">
                  For example, 15 3 1984
                </div>
                {errorFor('birth-date') && (
                  <span className="nhsuk-error-message" id="birth-date-error">
                    <span className="nhsuk-u-visually-hidden">Error:</span> {errorFor('birth-date')?.text}
                  </span>
                )}
                <div className="nhsuk-date-input" id="birth-date">
                  {(
                    [
                      ['day', 'Day', day, setDay, 2],
                      ['month', 'Month', month, setMonth, 2],
                      ['year', 'Year', year, setYear, 4],
                    ] as const
                  ).map(([part, label, value, set, width]) => (
                    <div className="nhsuk-date-input__item" key={part}>
                      <div className="nhsuk-form-group">
                        <label className="nhsuk-label nhsuk-date-input__label" htmlFor={`birth-date-${part}`}>
                          {label}
                        </label>
                        <input
                          className={`nhsuk-input nhsuk-date-input__input nhsuk-input--width-${width}${errorFor('birth-date') ? ' nhsuk-input--error' : ''}`}
                          id={`birth-date-${part}`}
                          name={`birth-date-${part}`}
                          type="text"
                          inputMode="numeric"
                          value={value}
                          onChange={(e) => set(e.target.value)}
                        />
                      </div>
                    </div>
                  ))}
                </div>
              </fieldset>
            </div>
            <div className="nhsuk-form-group">
              <label className="nhsuk-label" htmlFor="postcode">
                Postcode (optional)
              </label>
              <input
                className="nhsuk-input nhsuk-input--width-10"
                id="postcode"
                name="postcode"
                type="text"
                autoComplete="off"
                spellCheck={false}
                value={postcode}
                onChange={(e) => setPostcode(e.target.value)}
              />
            </div>
            <button className="nhsuk-button" type="submit" disabled={busy}>
              Search by name and date of birth
            </button>
          </form>
        </div>
      </div>
      {failure && (
        <div className="nhsuk-error-summary" role="alert">
          <h2 className="nhsuk-error-summary__title">The search did not work</h2>
          <div className="nhsuk-error-summary__body">
            <p>{failure}</p>
          </div>
        </div>
      )}
      {results !== null && <Results results={results} />}
    </>
  );
}

interface Found {
  patient: Resource;
  match?: MatchInfo;
}

function MatchCell({ match }: { match: MatchInfo }) {
  const colour = match.grade === 'certain' ? 'green' : match.grade === 'probable' ? 'blue' : 'grey';
  return (
    <>
      <strong className={`nhsuk-tag nhsuk-tag--${colour}`}>{gradeText(match.grade)}</strong>
      {match.fields.length > 0 && <span className="ucr-provenance">{match.fields.map(verdictText).join(', ')}</span>}
      {match.corroboration && (
        <span className="ucr-provenance">Confirmed without an NHS number by: {match.corroboration}</span>
      )}
      {match.rule && <span className="ucr-provenance">Held at this grade because: {match.rule}</span>}
    </>
  );
}

function Results({ results }: { results: Found[] }) {
  const matched = results.some((r) => r.match);
  if (results.length === 0) {
    return (
      <div className="nhsuk-inset-text" role="status">
        <span className="nhsuk-u-visually-hidden">Information: </span>
        <p>No patients found. Check the details and try again.</p>
      </div>
    );
  }
  return (
    <table className="nhsuk-table-responsive ucr-stack nhsuk-table" data-testid="search-results">
      <caption className="nhsuk-table__caption" role="status">
        {results.length === 1 ? '1 patient found' : `${results.length} patients found`}
      </caption>
      <thead className="nhsuk-table__head">
        <tr className="nhsuk-table__row">
          <th className="nhsuk-table__header" scope="col">Name</th>
          <th className="nhsuk-table__header" scope="col">NHS number</th>
          <th className="nhsuk-table__header" scope="col">Born</th>
          <th className="nhsuk-table__header" scope="col">Gender</th>
          <th className="nhsuk-table__header" scope="col">Address</th>
          {matched && (
            <th className="nhsuk-table__header" scope="col">
              Match
            </th>
          )}
        </tr>
      </thead>
      <tbody className="nhsuk-table__body">
        {results.map(({ patient: p, match }) => {
          const nhs = nhsNumberOf(p);
          return (
            <tr className="nhsuk-table__row" key={p.id}>
              <td className="nhsuk-table__cell" data-label="Name">
                <Link to={`/app/patient/${p.id ?? ''}`}>{patientName(p)}</Link>
              </td>
              <td className="nhsuk-table__cell" data-label="NHS number">
                {nhs ? formatNhsNumber(nhs) : 'Not known'}
              </td>
              <td className="nhsuk-table__cell" data-label="Born">
                {formatBirthDateAndAge(p.birthDate as string | undefined)}
              </td>
              <td className="nhsuk-table__cell" data-label="Gender">
                {genderText(p)}
              </td>
              <td className="nhsuk-table__cell" data-label="Address">
                {addressOf(p)}
              </td>
              {matched && (
                <td className="nhsuk-table__cell" data-label="Match">
                  {match && <MatchCell match={match} />}
                </td>
              )}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
