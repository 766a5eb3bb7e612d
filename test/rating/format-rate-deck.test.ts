import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { versionToExport } from '../../src/rating/export-rate-deck.ts';
import { formatRateDeckRows } from '../../src/rating/format-rate-deck.ts';
import { parseRateDeck } from '../../src/rating/parse-rate-deck.ts';
import { parseDecimal } from '../../src/rating/rational.ts';
import type { RateDeckVersion } from '../../src/rating/rate-deck-store.ts';
import { SERVICES, type RateRow } from '../../src/rating/rate-plan.ts';

const DECK = readFileSync(new URL('../fixtures/rate-deck.csv', import.meta.url), 'utf8');
const IMPORTED_AT = new Date('2026-11-02T00:00:00Z');

/** A row as the deck means it: the line it came from is the file's, not the price's. */
const meaning = ({ line: _line, ...row }: RateRow) => row;

function reparsed(rows: readonly RateRow[]): RateRow[] {
  const parsed = parseRateDeck(formatRateDeckRows(rows, { header: true }), new Date('1999-01-01T00:00:00Z'));
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return parsed.rows;
}

const decimal = fc
  .tuple(fc.bigInt({ min: 0n, max: 10n ** 9n }), fc.integer({ min: 0, max: 12 }))
  .map(([digits, decimals]) => parseDecimal(decimals === 0 ? digits.toString() : `${digits / 10n ** BigInt(decimals)}.${(digits % 10n ** BigInt(decimals)).toString().padStart(decimals, '0')}`)!);
const instant = fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2035, 0, 1) }).map((ms) => new Date(ms));

const row = fc
  .record({
    service: fc.constantFrom(...SERVICES),
    destination: fc.string({ maxLength: 30 }).map((text) => text.trim()),
    connectFee: decimal,
    rate: decimal,
    rateUnitSeconds: fc.integer({ min: 1, max: 3600 }),
    firstIncrementSeconds: fc.integer({ min: 1, max: 600 }),
    nextIncrementSeconds: fc.integer({ min: 1, max: 600 }),
    minDurationSeconds: fc.integer({ min: 0, max: 600 }),
    rounding: fc.record({ method: fc.constantFrom('up' as const, 'half_up' as const, 'down' as const), decimals: fc.integer({ min: 0, max: 6 }) }),
    // A cap of 0 is refused: empty means none.
    maxCost: fc.option(decimal.filter((value) => value.n > 0n)),
    maxCostStrategy: fc.constantFrom('free' as const, 'disconnect' as const),
    effectiveFrom: instant,
    lasts: fc.option(fc.integer({ min: 1, max: 10 ** 10 })),
  })
  .map(({ lasts, ...rest }) => ({ ...rest, effectiveTo: lasts === null ? null : new Date(rest.effectiveFrom.getTime() + lasts) }));

describe('writing a rate deck as CSV', () => {
  it('reads back as the same deck, whatever its rows hold', () => {
    fc.assert(
      fc.property(fc.array(row, { maxLength: 20 }), (drafts) => {
        // One row per prefix, each from second 0: the deck rules a file must keep.
        const rows: RateRow[] = drafts.map((draft, index) => ({ ...draft, line: index + 2, prefix: String(index), intervalStartSeconds: 0 }));
        fc.pre(rows.length > 0);
        expect(reparsed(rows).map(meaning)).toEqual(rows.map(meaning));
      }),
    );
  });

  it('writes a destination a spreadsheet would run as a formula as text, and reads it back as it was', () => {
    const parsed = parseRateDeck('prefix,destination,rate\n44,"=HYPERLINK(""http://x"")",0.1\n45,-Mobile,0.1', IMPORTED_AT);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
    const written = formatRateDeckRows(parsed.rows, { header: true });
    expect(written).toContain(`"'=HYPERLINK(""http://x"")"`);
    expect(written).toContain(",'-Mobile,");
    expect(reparsed(parsed.rows).map((row) => row.destination)).toEqual(['=HYPERLINK("http://x")', '-Mobile']);
  });

  it('keeps the sample deck, with its rates that change during a call and its dated versions, row for row', () => {
    const parsed = parseRateDeck(DECK, IMPORTED_AT);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
    expect(parsed.rows.some((r) => r.intervalStartSeconds > 0)).toBe(true);
    expect(reparsed(parsed.rows).map(meaning)).toEqual(parsed.rows.map(meaning));
  });
});

describe('the version an export means', () => {
  const version = (number: number, from: string): RateDeckVersion => ({
    id: `rdv_${number}`,
    deckId: 'rdk_1',
    version: number,
    effectiveFrom: new Date(from),
    rowCount: 1,
    source: 'test',
    createdAt: new Date('2026-01-01T00:00:00Z'),
  });
  const versions = [version(1, '2026-01-01T00:00:00Z'), version(2, '2026-12-01T00:00:00Z'), version(3, '2027-01-01T00:00:00Z')];

  it('is the one numbered, else the one in force, else (before the first starts) the newest', () => {
    expect(versionToExport(versions, { version: 2, at: new Date('2026-06-01T00:00:00Z') })?.version).toBe(2);
    expect(versionToExport(versions, { version: 4, at: new Date('2026-06-01T00:00:00Z') })).toBeUndefined();
    expect(versionToExport(versions, { at: new Date('2026-06-01T00:00:00Z') })?.version).toBe(1);
    expect(versionToExport(versions, { at: new Date('2026-12-15T00:00:00Z') })?.version).toBe(2);
    expect(versionToExport(versions, { at: new Date('2025-06-01T00:00:00Z') })?.version).toBe(3);
    expect(versionToExport([], { at: new Date('2026-06-01T00:00:00Z') })).toBeUndefined();
  });
});
