import { randomFillSync } from 'node:crypto';
import { monotonicFactory } from 'ulidx';

// ulidx draws each of an id's 16 random characters with a call of its own into Web Crypto
// (about 3% of the server's thread under call load, in a profile); a pool of random bytes
// refilled 4 KiB at a time costs a small fraction of that. A byte's low five bits pick one of
// the 32 characters, each with the same odds.
const pool = new Uint8Array(4096);
let next = pool.length;

function randomFraction(): number {
  if (next === pool.length) {
    randomFillSync(pool);
    next = 0;
  }
  return (pool[next++]! & 31) / 32;
}

const ulid = monotonicFactory(randomFraction);

export type IdPrefix = 'acc' | 'txf' | 'cmd' | 'key' | 'aud' | 'chg' | 'rdk' | 'rdv' | 'ses' | 'usg' | 'evt' | 'cdf';

/**
 * A new id of ours: a prefix naming what it is and a ULID, so ids sort by creation time
 * (`txf_01JD5...`). Organizations keep a UUID instead, as their screens show.
 */
export function newId(prefix: IdPrefix): string {
  return `${prefix}_${ulid()}`;
}
