import { randomFillSync } from 'node:crypto';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const FORTY_BITS = 2 ** 40;

const DIGITS = [...CROCKFORD].map((digit) => digit.charCodeAt(0));
const codes: number[] = [];

/** `value` (below 32^length) in Crockford's base 32, `length` digits: one string made, not one per digit. */
function base32(value: number, length: number): string {
  codes.length = length;
  for (let index = length - 1; index >= 0; index--) {
    codes[index] = DIGITS[value % 32]!;
    value = Math.floor(value / 32);
  }
  return String.fromCharCode(...codes);
}

/**
 * Usage record ids as `newId('usg')` makes them (`usg_` and a monotonic ULID: 48 bits of
 * milliseconds, 80 random bits counted up within a millisecond), for a CDR file's hundreds of
 * thousands of records: the random bits come from a pool filled a few kilobytes at a time, not
 * one call to the system's generator per id.
 */
export class UsageIds {
  private time = -1;
  private timeText = '';
  /** The 80 random bits as two 40-bit halves. */
  private high = 0;
  private highText = '';
  private low = 0;
  private readonly pool = Buffer.alloc(4096);
  private poolAt = this.pool.length;

  next(): string {
    const now = Date.now();
    if (now > this.time) {
      this.time = now;
      this.timeText = base32(now, 10);
      this.high = this.random40();
      this.highText = base32(this.high, 8);
      this.low = this.random40();
    } else if (++this.low === FORTY_BITS) {
      // Within one millisecond (or with the clock set back), count up, as a monotonic ULID does.
      this.low = 0;
      this.high = (this.high + 1) % FORTY_BITS;
      this.highText = base32(this.high, 8);
    }
    return `usg_${this.timeText}${this.highText}${base32(this.low, 8)}`;
  }

  private random40(): number {
    if (this.poolAt + 5 > this.pool.length) {
      randomFillSync(this.pool);
      this.poolAt = 0;
    }
    const at = this.poolAt;
    this.poolAt += 5;
    return this.pool[at]! * 2 ** 32 + this.pool.readUInt32BE(at + 1);
  }
}
