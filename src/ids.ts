import { monotonicFactory } from 'ulidx';

const ulid = monotonicFactory();

export type IdPrefix = 'acc' | 'txf' | 'cmd' | 'key' | 'aud' | 'chg' | 'rdk' | 'rdv' | 'ses' | 'usg' | 'evt' | 'cdf';

/**
 * A new id of ours: a prefix naming what it is and a ULID, so ids sort by creation time
 * (`txf_01JD5...`). Organizations keep a UUID instead, as their screens show.
 */
export function newId(prefix: IdPrefix): string {
  return `${prefix}_${ulid()}`;
}
