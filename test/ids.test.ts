import { describe, expect, it } from 'vitest';
import { newId } from '../src/ids.ts';

describe('ids', () => {
  it('are unique, sort in the order they were made and are Crockford base32 ULIDs behind their prefix', async () => {
    const ids: string[] = [];
    // Across many milliseconds, so that fresh random parts are drawn, not only increments.
    const until = Date.now() + 50;
    while (Date.now() < until || ids.length < 20_000) ids.push(newId('txf'));
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    for (const id of ids.slice(0, 100)) expect(id).toMatch(/^txf_[0-9A-HJKMNP-TV-Z]{26}$/);
  });

  it('draw a fresh random part in each new millisecond, from every character of the alphabet', async () => {
    // A ULID is 10 characters of time, then 16 random ones; within one millisecond the random
    // part is only incremented, so only the first id of each millisecond shows the draw.
    const firsts = new Set<string>();
    let time = '';
    let drawn = 0;
    while (drawn < 600) {
      const ulid = newId('ses').slice(4);
      if (ulid.slice(0, 10) !== time) {
        time = ulid.slice(0, 10);
        firsts.add(ulid[10]!);
        drawn++;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    // 600 fair draws leave one of 32 characters unseen about once in six million runs.
    expect(firsts.size).toBe(32);
  });
});
