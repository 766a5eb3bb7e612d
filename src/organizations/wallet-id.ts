import { randomInt } from 'node:crypto';

/**
 * Wallet IDs are nine digits, written `512-884-037`: eight random digits and a Luhn check digit,
 * so a digit misheard on the phone is caught before anything is looked up.
 */
export function newWalletId(random: (max: number) => number = randomInt): string {
  const base = String(random(100_000_000)).padStart(8, '0');
  const digits = base + luhnCheckDigit(base);
  return `${digits.slice(0, 3)}-${digits.slice(3, 6)}-${digits.slice(6)}`;
}

function luhnCheckDigit(digits: string): number {
  let total = 0;
  for (let position = 1; position <= digits.length; position++) {
    let digit = Number(digits[digits.length - position]);
    if (position % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    total += digit;
  }
  return (10 - (total % 10)) % 10;
}

/** The canonical form of something typed as a wallet ID (spaces, dashes, dots allowed), or undefined. */
export function parseWalletId(text: string): string | undefined {
  const digits = text.replace(/[\s.-]/g, '');
  if (!/^\d{9}$/.test(digits)) return undefined;
  if (luhnCheckDigit(digits.slice(0, 8)) !== Number(digits[8])) return undefined;
  return `${digits.slice(0, 3)}-${digits.slice(3, 6)}-${digits.slice(6)}`;
}
