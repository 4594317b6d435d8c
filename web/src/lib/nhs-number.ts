// NHS numbers: ten digits, the last a Modulus 11 check digit (NHS Data Dictionary, "NHS Number").
// Shown to people as 3-3-4 groups ("943 476 5919"); searched and stored as plain digits.

/** The digits of an NHS number as typed (spaces and hyphens allowed), or null if it is not ten digits. */
export function nhsNumberDigits(input: string): string | null {
  const digits = input.replace(/[\s-]/g, '');
  return /^\d{10}$/.test(digits) ? digits : null;
}

/** True when the ten digits carry a correct Modulus 11 check digit. */
export function isValidNhsNumber(input: string): boolean {
  const digits = nhsNumberDigits(input);
  if (digits === null) return false;
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += Number(digits[i]) * (10 - i);
  const check = 11 - (sum % 11);
  if (check === 10) return false; // no valid number has this remainder
  return (check === 11 ? 0 : check) === Number(digits[9]);
}

/** "9434765919" → "943 476 5919"; anything that is not ten digits is returned as it came. */
export function formatNhsNumber(input: string): string {
  const digits = nhsNumberDigits(input);
  if (digits === null) return input;
  return `${digits.slice(0, 3)} ${digits.slice(3, 6)} ${digits.slice(6)}`;
}
