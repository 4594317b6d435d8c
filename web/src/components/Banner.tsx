import type { Resource } from '../lib/fhir';
import { formatBirthDateAndAge } from '../lib/dates';
import { formatNhsNumber } from '../lib/nhs-number';
import { addressOf, type CriticalFlag, genderText, nhsNumberOf, patientName, replacedBy } from '../lib/record';
import { Link } from './Layout';

/** The patient banner: who this record is about, on every screen of the record. */
export function PatientBanner({ patient, practice }: { patient: Resource; practice?: Resource | undefined }) {
  const nhs = nhsNumberOf(patient);
  const practiceName = typeof practice?.name === 'string' ? practice.name : 'Not known';
  const current = replacedBy(patient);
  return (
    <section className="ucr-banner" aria-labelledby="banner-name" data-testid="patient-banner">
      {current && (
        <div className="nhsuk-warning-callout" data-testid="merged-away">
          <h2 className="nhsuk-warning-callout__label">
            <span role="text">
              <span className="nhsuk-u-visually-hidden">Important: </span>
              This record has been merged
            </span>
          </h2>
          <p>
            It was a duplicate of another record of the same person and is no longer kept up to date.{' '}
            <Link to={`/app/patient/${current}`}>Go to the current record</Link>
          </p>
        </div>
      )}
      <h1 className="nhsuk-heading-l ucr-banner__name" id="banner-name">
        {patientName(patient)}
      </h1>
      <dl className="ucr-banner__facts">
        <div className="ucr-banner__fact">
          <dt>NHS number</dt>
          <dd>{nhs ? formatNhsNumber(nhs) : 'Not known'}</dd>
        </div>
        <div className="ucr-banner__fact">
          <dt>Born</dt>
          <dd>{formatBirthDateAndAge(patient.birthDate as string | undefined)}</dd>
        </div>
        <div className="ucr-banner__fact">
          <dt>Gender</dt>
          <dd>{genderText(patient)}</dd>
        </div>
        <div className="ucr-banner__fact">
          <dt>Address</dt>
          <dd>{addressOf(patient)}</dd>
        </div>
        <div className="ucr-banner__fact">
          <dt>GP practice</dt>
          <dd>{practiceName}</dd>
        </div>
      </dl>
    </section>
  );
}

/** Critical information pushed to the top of the record, so nobody has to look for it. */
export function CriticalFlags({ flags }: { flags: CriticalFlag[] }) {
  if (flags.length === 0) {
    return (
      <div className="nhsuk-inset-text ucr-flags" data-testid="critical-flags">
        <span className="nhsuk-u-visually-hidden">Information: </span>
        <p>No allergies or alerts recorded.</p>
      </div>
    );
  }
  return (
    <div className="nhsuk-warning-callout ucr-flags" data-testid="critical-flags">
      <h2 className="nhsuk-warning-callout__label">
        <span role="text">
          <span className="nhsuk-u-visually-hidden">Important: </span>
          Allergies and alerts
        </span>
      </h2>
      <ul className="nhsuk-list ucr-flag-list">
        {flags.map((f, i) => (
          <li key={`${f.kind}-${i}`}>
            <strong className={`nhsuk-tag ${f.kind === 'allergy' ? 'nhsuk-tag--red' : 'nhsuk-tag--orange'}`}>
              {f.label}
            </strong>{' '}
            {f.detail}
          </li>
        ))}
      </ul>
    </div>
  );
}
