import { describe, expect, it } from 'vitest';
import { formatNhsNumber, isValidNhsNumber, nhsNumberDigits } from '../../src/lib/nhs-number';

describe('NHS number', () => {
  it('is shown in 3-3-4 groups', () => {
    expect(formatNhsNumber('9434765919')).toBe('943 476 5919');
  });
  it('keeps input that is not ten digits as it came', () => {
    expect(formatNhsNumber('12345')).toBe('12345');
  });
  it('accepts spaces and hyphens when typed', () => {
    expect(nhsNumberDigits('943 476-5919')).toBe('9434765919');
    expect(nhsNumberDigits('943 476 591')).toBeNull();
  });
  it('passes the Modulus 11 check when the check digit is right', () => {
    expect(isValidNhsNumber('943 476 5919')).toBe(true);
    expect(isValidNhsNumber('9990000018')).toBe(true);
  });
  it('fails the check when one digit is wrong', () => {
    expect(isValidNhsNumber('9434765918')).toBe(false);
  });
  it('fails numbers whose check digit would be 10', () => {
    // 1000000010: weights give a remainder of 1, so the check digit would be 10
    expect(isValidNhsNumber('1000000010')).toBe(false);
  });
});
