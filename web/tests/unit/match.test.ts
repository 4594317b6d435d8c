import { describe, expect, it } from 'vitest';
import { fieldName, gradeText, matchInfo, matchParameters, verdictText, verdictWords } from '../../src/lib/match';

describe('$match', () => {
  it('sends the typed details as a Patient in Parameters, postcode in capitals', () => {
    const p = matchParameters({ family: ' Davies ', given: 'Christine', birthDate: '1952-06-07', postcode: 'tn12 3ua' });
    expect(p).toEqual({
      resourceType: 'Parameters',
      parameter: [
        {
          name: 'resource',
          resource: {
            resourceType: 'Patient',
            name: [{ family: 'Davies', given: ['Christine'] }],
            birthDate: '1952-06-07',
            address: [{ postalCode: 'TN12 3UA' }],
          },
        },
        { name: 'count', valueInteger: 20 },
      ],
    });
  });
  it('leaves out what was not typed', () => {
    const p = matchParameters({ family: 'Davies', given: '', birthDate: '1952-06-07' });
    const resource = (p.parameter as { resource?: { name: unknown; address?: unknown } }[])[0]?.resource;
    expect(resource?.name).toEqual([{ family: 'Davies' }]);
    expect(resource?.address).toBeUndefined();
  });
  it('reads the grade, score and the fields compared', () => {
    const info = matchInfo({
      search: {
        mode: 'match',
        score: 0.9964,
        extension: [
          { url: 'http://hl7.org/fhir/StructureDefinition/match-grade', valueCode: 'probable' },
          {
            url: 'https://ucr.nhs.example/fhir/StructureDefinition/match-explanation',
            extension: [
              { url: 'nhs_number', valueString: "missing (+0.00): '' / ''" },
              { url: 'family_name', valueString: "close (+3.91): 'daviesx' / 'davies'" },
              { url: 'birth_date', valueString: "exact (+14.18): '1952-06-07' / '1952-06-07'" },
            ],
          },
        ],
      } as never,
    });
    expect(info.grade).toBe('probable');
    expect(info.score).toBe(0.9964);
    expect(info.fields).toEqual([
      { field: 'Last name', verdict: 'close' },
      { field: 'Date of birth', verdict: 'exact' },
    ]);
    expect(gradeText(info.grade)).toBe('Probable match');
  });
  it('reads previous addresses, GP practices, the corroboration and the rule that held the grade', () => {
    const info = matchInfo({
      search: {
        mode: 'match',
        score: 0.998,
        extension: [
          { url: 'http://hl7.org/fhir/StructureDefinition/match-grade', valueCode: 'probable' },
          {
            url: 'https://ucr.nhs.example/fhir/StructureDefinition/match-explanation',
            extension: [
              { url: 'birth_date', valueString: "one_digit (+4.10): '1952-06-07' / '1952-06-08'" },
              { url: 'postcode', valueString: "previous (+9.20): 'ME14 1XX' / 'ME14 1XX'" },
              { url: 'gp_practice', valueString: "exact (+2.30): 'G82001' / 'G82001'" },
              { url: 'local_id', valueString: "missing (+0.00): '' / ''" },
              { url: 'cap', valueString: 'no NHS number match and birth dates only partly agree' },
              { url: 'corroboration', valueString: 'previous address' },
              { url: 'weight', valueDecimal: 21.4 },
            ],
          },
        ],
      } as never,
    });
    expect(info.fields.map(verdictText)).toEqual([
      'Date of birth differs by one digit',
      'Postcode matches a previous address',
      'GP practice agrees',
    ]);
    expect(info.corroboration).toBe('previous address');
    expect(info.rule).toBe('no NHS number match and birth dates only partly agree');
  });
  it('names no corroboration or rule when the server gave none', () => {
    const info = matchInfo({ search: { mode: 'match', extension: [] } as never });
    expect(info.corroboration).toBeUndefined();
    expect(info.rule).toBeUndefined();
    expect(info.grade).toBe('unknown');
  });
  it('names a level it has no words for as the server wrote it, and turns field codes into names', () => {
    expect(verdictText({ field: 'Phone', verdict: 'some_new_level' })).toBe('Phone: some new level');
    expect(fieldName('gp_practice')).toBe('GP practice');
    expect(fieldName('toString')).toBeUndefined();
    expect(verdictWords('previous')).toBe('matches a previous address');
    expect(verdictWords('constructor')).toBeUndefined();
  });
});
