const ALL_DIGITS = /^\d*$/;

/** The longest destination taken, wherever it comes from: room for a SIP URI with its parameters. */
export const MAX_DESTINATION_LENGTH = 64;

/**
 * The E.164 digits of a destination as switches send it: `+44 20 7123 4567`,
 * `sip:+442071234567@10.0.0.5;user=phone`, `tel:+44-20-7123-4567`, `00442071234567`. Only the
 * user part of a URI counts (a host's digits are no part of the number), and a leading `00`
 * is the international access code: no E.164 number starts with 0, so it can mean nothing else.
 */
export function dialledDigits(destination: string): string {
  if (ALL_DIGITS.test(destination)) return destination.startsWith('00') ? destination.slice(2) : destination;
  const user = destination.replace(/^\s*(sips?|tel):/i, '').split(/[@;]/, 1)[0]!;
  const digits = user.replace(/\D/g, '');
  return digits.startsWith('00') ? digits.slice(2) : digits;
}
