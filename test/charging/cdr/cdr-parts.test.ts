import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSwitchTime, SwitchTimes } from '../../../src/charging/cdr/cdr.ts';
import { detached } from '../../../src/charging/cdr/parse-cdrs.ts';
import { copyInPieces } from '../../../src/charging/cdr/rate-cdr-file.ts';
import { csvText, USAGE_COPY_COLUMNS, usageLineHead } from '../../../src/charging/cdr/usage-copy.ts';
import { UsageIds } from '../../../src/charging/cdr/usage-ids.ts';
import { parseCurrency } from '../../../src/money/index.ts';

describe('switch times read many at a time', () => {
  const zones = ['UTC', 'Asia/Singapore', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kolkata', 'Nowhere/Land'];

  it('read every text as parseSwitchTime does', () => {
    const digits = (count: number) => fc.stringMatching(new RegExp(`^[0-9]{${count}}$`));
    const text = fc.oneof(
      // The usual form, with real and impossible dates and times.
      fc.tuple(fc.integer({ min: 1999, max: 2031 }), fc.integer({ min: 0, max: 13 }), fc.integer({ min: 0, max: 32 }), fc.integer({ min: 0, max: 25 }), fc.integer({ min: 0, max: 61 }), fc.integer({ min: 0, max: 61 }), fc.constantFrom(' ', 'T', 'x'))
        .map(([y, mo, d, h, mi, s, sep]) => `${y}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}${sep}${String(h).padStart(2, '0')}:${String(mi).padStart(2, '0')}:${String(s).padStart(2, '0')}`),
      // Near misses and other forms.
      fc.tuple(digits(4), digits(2), digits(2)).map(([y, m, d]) => ` ${y}-${m}-${d} 10:00:0`),
      fc.constantFrom('2026-11-02 09:15:04.250', '2026-11-02T09:15:04+08:00', '2026-11-02 09:15:04Z', '', ' ', 'not a date', '2026-03-08 02:30:00', '2026-11-01 01:30:00', '2026-11-02 9:15:04', '2026-11-02 09:1a:04', '2026-11-02 09:15:4 '),
    );
    fc.assert(
      fc.property(fc.constantFrom(...zones), fc.array(text, { maxLength: 20 }), (zone, texts) => {
        const times = new SwitchTimes(zone);
        for (const value of texts) {
          const expected = parseSwitchTime(value, zone)?.getTime() ?? Number.NaN;
          expect(times.parse(value)).toBe(expected);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('usage ids', () => {
  it('look like newId’s, sort in the order they were made and do not repeat', () => {
    const ids = new UsageIds();
    const made = Array.from({ length: 50_000 }, () => ids.next());
    for (const id of made) expect(id).toMatch(/^usg_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(new Set(made).size).toBe(made.length);
    expect([...made].sort()).toEqual(made);
    const time = parseInt(made[0]!.slice(4, 14).replace(/./g, (c) => '0123456789ABCDEFGHJKMNPQRSTVWXYZ'.indexOf(c).toString(32)), 32);
    expect(Math.abs(time - Date.now())).toBeLessThan(60_000);
  });
});

describe('usage lines for COPY', () => {
  it('quote what needs quoting, and empty texts (which COPY would read as NULL)', () => {
    expect(csvText('6591234567')).toBe('6591234567');
    expect(csvText('')).toBe('""');
    expect(csvText('Sales, "Desk" 2')).toBe('"Sales, ""Desk"" 2"');
    expect(csvText('a\nb')).toBe('"a\nb"');
    const head = usageLineHead({
      id: 'usg_1',
      organizationId: 'org',
      service: 'sms',
      destination: '',
      destinationName: 'Singapore, Mobile',
      prefix: '65',
      rateDeckVersionId: 'rdv_1',
      startedAt: new Date('2026-11-02T01:15:04Z'),
      quantity: 2,
      billedQuantity: 2,
      cost: 60_000n,
      currency: parseCurrency('SGD')!,
      billPeriod: '2026-11',
      externalId: 'm-1',
      createdAt: '2026-11-03T00:00:00.000Z',
    });
    expect(head).toBe('usg_1,org,sms,"","Singapore, Mobile",65,rdv_1,2026-11-02T01:15:04.000Z,2,2,60000,SGD,2026-11,cdr,m-1,2026-11-03T00:00:00.000Z,');
  });
});

describe('usage records copied in pieces', () => {
  it('send every line once, in order, at most pieceSize records per COPY', async () => {
    fc.assert(
      await fc.asyncProperty(
        fc.array(fc.array(fc.boolean(), { maxLength: 8 }), { maxLength: 6 }),
        fc.integer({ min: 1, max: 5 }),
        async (shapes, pieceSize) => {
          // Each record is its head, then its charge id when it has one, then the line break.
          let n = 0;
          const groups = shapes.map((group) => group.flatMap((charged) => (n++, charged ? [`r${n},`, `chg${n}`, '\n'] : [`r${n},`, '\n'])));
          const copies: string[] = [];
          const tx = {
            query: () => Promise.reject(new Error('no queries')),
            exec: () => Promise.reject(new Error('no statements')),
            copyFromCsv: (table: string, columns: readonly string[], csv: string) => {
              expect(table).toBe('usage_records');
              expect(columns).toBe(USAGE_COPY_COLUMNS);
              copies.push(csv);
              return Promise.resolve();
            },
          };
          await copyInPieces(tx, groups, pieceSize);
          expect(copies.join('')).toBe(groups.flat().join(''));
          for (const csv of copies) {
            const records = csv.split('\n').length - 1;
            expect(records).toBeGreaterThan(0);
            expect(records).toBeLessThanOrEqual(pieceSize);
            expect(csv.endsWith('\n')).toBe(true);
          }
          expect(copies.length).toBe(Math.ceil(n / pieceSize));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('detached texts', () => {
  it('are the texts they were made from', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), fc.nat(40), (text, from) => {
        const slice = text.slice(from);
        expect(detached(slice)).toBe(slice);
      }),
    );
  });
});
