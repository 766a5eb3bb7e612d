import { describe, expect, it } from 'vitest';
import type { RateDeckVersion } from '../../src/rating/rate-deck-store.ts';
import { versionInForce, versionTakingOver } from '../../src/rating/rating.ts';

/** Versions of one deck, numbered in import order, each from its date. */
function versions(...dates: string[]): RateDeckVersion[] {
  return dates.map((date, i) => ({ id: `v${i + 1}`, deckId: 'deck', version: i + 1, effectiveFrom: new Date(date), rowCount: 1, source: 'test', createdAt: new Date(date) }));
}

describe('which version of a deck is in force, and which takes over from it', () => {
  it('names as taking over the version that is in force from then, also of several from one date', () => {
    // 2 and 3 share a date: 3, imported later, is in force from it.
    const all = versions('2026-01-01T00:00:00Z', '2026-06-01T00:00:00Z', '2026-06-01T00:00:00Z', '2026-09-01T00:00:00Z');
    const [v1, v2, v3, v4] = all;
    expect(versionTakingOver(all, v1!)?.version).toBe(3);
    expect(versionInForce(all, new Date('2026-06-01T00:00:00Z'))?.version).toBe(3);
    // 2 is never in force: 3 takes over from its own first moment.
    expect(versionTakingOver(all, v2!)?.version).toBe(3);
    expect(versionTakingOver(all, v3!)?.version).toBe(4);
    expect(versionTakingOver(all, v4!)).toBeUndefined();
  });

  it('gives a version dated before the one in force only the time before that one', () => {
    const all = versions('2026-11-25T00:00:00Z', '2026-11-01T00:00:00Z');
    expect(versionTakingOver(all, all[1]!)?.version).toBe(1);
    expect(versionTakingOver(all, all[0]!)).toBeUndefined();
    expect([versionInForce(all, new Date('2026-11-10T00:00:00Z'))?.version, versionInForce(all, new Date('2026-11-26T00:00:00Z'))?.version]).toEqual([2, 1]);
  });
});
