import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSwitchTime, SwitchTimes } from '../../../src/charging/cdr/cdr.ts';
import { detached } from '../../../src/charging/cdr/parse-cdrs.ts';
import { PricedChunk } from '../../../src/charging/cdr/priced-chunk.ts';
import { csvText, usageLine, type UsageLine } from '../../../src/charging/cdr/usage-copy.ts';
import { UsageIds } from '../../../src/charging/cdr/usage-ids.ts';
import { parseCurrency } from '../../../src/money/index.ts';
import type { Organization } from '../../../src/organizations/organization.ts';

describe('switch times read many at a time', () => {
  const zones = ['UTC', 'Asia/Singapore', 'America/New_York', 'Australia/Lord_Howe', 'Pacific/Chatham', 'Pacific/Auckland', 'Asia/Kolkata', 'Nowhere/Land'];

  it('read a time in an hour whose offset changes within it (Chatham, 03:45) with the offset of its minute', () => {
    // Chatham leaves summer time (+13:45) at 03:45 on 2026-04-05, back to 02:45 (+12:45).
    expect(parseSwitchTime('2026-04-05 03:50:00', 'Pacific/Chatham')!.toISOString()).toBe('2026-04-04T15:05:00.000Z');
    expect(new SwitchTimes('Pacific/Chatham').parse('2026-04-05 03:50:00')).toBe(Date.parse('2026-04-04T15:05:00Z'));
    expect(parseSwitchTime('2026-04-05 01:10:00', 'Pacific/Chatham')!.toISOString()).toBe('2026-04-04T11:25:00.000Z');
  });

  it('read a time the zone has twice as its first occurrence, and one it skips with the offset before the change, on either side of UTC', () => {
    const cases: [string, string, string][] = [
      // Clocks go back: the hour from 01:00 (New York), 02:00 (Auckland), the half hour from 01:30 (Lord Howe) comes twice.
      ['America/New_York', '2026-11-01 01:30:00', '2026-11-01T05:30:00.000Z'],
      ['Pacific/Auckland', '2026-04-05 02:30:00', '2026-04-04T13:30:00.000Z'],
      ['Australia/Lord_Howe', '2026-04-05 01:45:00', '2026-04-04T14:45:00.000Z'],
      ['Europe/London', '2026-10-25 01:30:00', '2026-10-25T00:30:00.000Z'],
      // Clocks go forward: a skipped time lands as far after the change as it was written after it.
      ['America/New_York', '2026-03-08 02:30:00', '2026-03-08T07:30:00.000Z'],
      ['Pacific/Auckland', '2026-09-27 02:30:00', '2026-09-26T14:30:00.000Z'],
      ['Europe/London', '2026-03-29 01:30:00', '2026-03-29T01:30:00.000Z'],
    ];
    for (const [zone, text, instant] of cases) {
      expect(parseSwitchTime(text, zone)?.toISOString(), `${zone} ${text}`).toBe(instant);
      expect(new SwitchTimes(zone).parse(text), `${zone} ${text}`).toBe(Date.parse(instant));
    }
    // Years 1 to 99 are those years, not 1901 to 1999 (as Date.UTC would have them).
    expect(parseSwitchTime('0050-06-15 10:00:00', 'UTC')?.toISOString()).toBe('0050-06-15T10:00:00.000Z');
    expect(new SwitchTimes('UTC').parse('0001-01-02 08:00:00')).toBe(Date.parse('0001-01-02T08:00:00Z'));
    expect(parseSwitchTime('0004-02-29 00:00:00', 'UTC')?.toISOString()).toBe('0004-02-29T00:00:00.000Z');
    expect(parseSwitchTime('0005-02-29 00:00:00', 'UTC')).toBeUndefined();
    // A skipped time is never earlier than the last one before the change.
    expect(parseSwitchTime('2026-03-08 02:30:00', 'America/New_York')!.getTime()).toBeGreaterThan(parseSwitchTime('2026-03-08 01:59:59', 'America/New_York')!.getTime());
  });

  it('read every text as parseSwitchTime does', () => {
    const digits = (count: number) => fc.stringMatching(new RegExp(`^[0-9]{${count}}$`));
    const text = fc.oneof(
      // The usual form, with real and impossible dates and times.
      fc.tuple(fc.integer({ min: 1999, max: 2031 }), fc.integer({ min: 0, max: 13 }), fc.integer({ min: 0, max: 32 }), fc.integer({ min: 0, max: 25 }), fc.integer({ min: 0, max: 61 }), fc.integer({ min: 0, max: 61 }), fc.constantFrom(' ', 'T', 'x'))
        .map(([y, mo, d, h, mi, s, sep]) => `${y}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}${sep}${String(h).padStart(2, '0')}:${String(mi).padStart(2, '0')}:${String(s).padStart(2, '0')}`),
      // Near misses and other forms.
      fc.tuple(digits(4), digits(2), digits(2)).map(([y, m, d]) => ` ${y}-${m}-${d} 10:00:0`),
      fc.constantFrom('2026-04-05 03:50:00', '2026-04-05 03:44:59', '2026-04-05 02:50:00', '2026-11-02 09:15:04.250', '2026-11-02T09:15:04+08:00', '2026-11-02 09:15:04Z', '', ' ', 'not a date', '2026-03-08 02:30:00', '2026-11-01 01:30:00', '2026-04-05 02:30:00', '2026-09-27 02:30:00', '2026-04-05 01:45:00', '2026-11-02 9:15:04', '2026-11-02 09:1a:04', '2026-11-02 09:15:4 '),
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
    const record: UsageLine = {
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
    };
    expect(usageLine(record, 'chg_1')).toBe('usg_1,org,sms,"","Singapore, Mobile",65,rdv_1,2026-11-02T01:15:04.000Z,2,2,60000,SGD,2026-11,cdr,m-1,2026-11-03T00:00:00.000Z,chg_1\n');
    expect(usageLine({ ...record, cost: 0n }, null)).toBe('usg_1,org,sms,"","Singapore, Mobile",65,rdv_1,2026-11-02T01:15:04.000Z,2,2,0,SGD,2026-11,cdr,m-1,2026-11-03T00:00:00.000Z,\n');
  });
});

describe('a priced chunk', () => {
  const sgd = parseCurrency('SGD')!;
  const organization = (n: number) => ({ id: `org-${n}`, name: `Org ${n}`, currency: sgd }) as unknown as Organization;
  const record = (n: number, organizationId: string, cost: bigint, service: 'voice' | 'sms', billPeriod: string): UsageLine => ({
    id: `usg_${n}`,
    organizationId,
    service,
    destination: `659${n}`,
    destinationName: n % 3 === 0 ? 'Singapore, "Mobile"' : 'Singapore',
    prefix: '65',
    rateDeckVersionId: 'rdv_1',
    startedAt: new Date(Date.UTC(2026, 10, 1) + n * 1000),
    quantity: n,
    billedQuantity: n,
    cost,
    currency: sgd,
    billPeriod,
    externalId: `x-${n}`,
    createdAt: '2026-11-03T00:00:00.000Z',
  });
  const chargeOf = (line: string) => line.slice(line.lastIndexOf(',') + 1, -1);

  it('copies the lines of the records kept, once, in order, at most pieceSize per piece, and adds them up per organization and charge', () => {
    const entry = fc.record({ organization: fc.integer({ min: 0, max: 3 }), cost: fc.bigInt({ min: 0n, max: 5_000_000n }), service: fc.constantFrom('voice' as const, 'sms' as const), period: fc.constantFrom('2026-10', '2026-11'), dropped: fc.boolean() });
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 40 }), fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 8 }), fc.subarray([0, 1, 2, 3]), (entries, capacity, pieceSize, excluded) => {
        const organizations = [0, 1, 2, 3].map(organization);
        const chunk = new PricedChunk(capacity);
        const lines: string[] = [];
        entries.forEach((e, n) => {
          chunk.add(n + 1, organizations[e.organization]!, record(n, `org-${e.organization}`, e.cost, e.service, e.period));
        });
        // The line each record got, charge id included: recovered from a copy of everything.
        const all = Buffer.concat([...chunk.copyPieces(() => true, entries.length + 1)]).toString('utf8');
        lines.push(...all.split(/(?<=\n)/).filter((line) => line !== ''));
        expect(lines).toHaveLength(entries.length);
        entries.forEach((e, n) => {
          expect(lines[n]!.startsWith(usageLine(record(n, `org-${e.organization}`, e.cost, e.service, e.period), null).slice(0, -1))).toBe(true);
          if (e.cost === 0n) expect(chargeOf(lines[n]!)).toBe('');
          else expect(chargeOf(lines[n]!)).toMatch(/^chg_[0-9A-Z]{26}$/);
        });
        // One charge per organization, service and period.
        const chargeIds = new Map<string, string>();
        entries.forEach((e, n) => {
          if (e.cost === 0n) return;
          const key = `${e.organization}|${e.service}|${e.period}`;
          expect(chargeOf(lines[n]!)).toBe(chargeIds.get(key) ?? chargeOf(lines[n]!));
          chargeIds.set(key, chargeOf(lines[n]!));
        });
        expect(new Set(chargeIds.values()).size).toBe(chargeIds.size);

        entries.forEach((e, n) => e.dropped && chunk.drop(n));
        const kept = entries.map((e, n) => ({ ...e, n })).filter((e) => !e.dropped && !excluded.includes(e.organization));
        const pieces = [...chunk.copyPieces((index) => !excluded.includes(Number(chunk.organizations[index]!.id.slice(4))), pieceSize)].map((piece) => Buffer.from(piece).toString('utf8'));
        expect(pieces.join('')).toBe(kept.map((e) => lines[e.n]).join(''));
        for (const piece of pieces) {
          const count = piece.split('\n').length - 1;
          expect(count).toBeGreaterThan(0);
          expect(count).toBeLessThanOrEqual(pieceSize);
        }
        expect(pieces.length).toBe(Math.ceil(kept.length / pieceSize));

        const live = entries.map((e, n) => ({ ...e, n })).filter((e) => !e.dropped);
        expect([...chunk.live()]).toEqual(live.map((e) => e.n));
        const groups = chunk.groups();
        expect(groups.map((group) => group.organization.id).sort()).toEqual([...new Set(live.map((e) => `org-${e.organization}`))].sort());
        for (const group of groups) {
          const mine = live.filter((e) => `org-${e.organization}` === group.organization.id);
          expect(group.records).toBe(mine.length);
          expect(group.amount).toBe(mine.reduce((sum, e) => sum + e.cost, 0n));
          expect(group.charges.reduce((sum, c) => sum + c.amount, 0n)).toBe(group.amount);
          for (const { charge, amount, occurredAt } of group.charges) {
            const under = mine.filter((e) => e.cost > 0n && chargeOf(lines[e.n]!) === charge.id);
            expect(under.length).toBeGreaterThan(0);
            expect(amount).toBe(under.reduce((sum, e) => sum + e.cost, 0n));
            expect(occurredAt).toBe(Math.min(...under.map((e) => Date.UTC(2026, 10, 1) + e.n * 1000)));
            expect(under.every((e) => e.service === charge.service && e.period === charge.billPeriod)).toBe(true);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('drops the repeats of a record earlier in the chunk, of the same organization', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.constantFrom('a', 'b', 'é-1', 'c,"d"')), { maxLength: 30 }), fc.array(fc.nat(29)), (entries, dropped) => {
        const chunk = new PricedChunk(3);
        entries.forEach(([org, id], n) => chunk.add(n + 1, organization(org), { ...record(n, `org-${org}`, 10n, 'voice', '2026-11'), externalId: id }));
        for (const n of dropped) if (n < entries.length) chunk.drop(n);
        const before = [...chunk.live()];
        const seen = new Set<string>();
        const expected = before.filter((n) => {
          const key = `${entries[n]![0]}|${entries[n]![1]}`;
          if (seen.has(key)) return true;
          seen.add(key);
          return false;
        });
        expect(chunk.dropRepeats()).toEqual(expected);
        expect([...chunk.live()]).toEqual(before.filter((n) => !expected.includes(n)));
        for (const n of before) expect(chunk.externalId(n)).toBe(entries[n]![1]);
        expect(chunk.dropRepeats()).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('gives records a chunk and charges of their own, their lines otherwise the same', () => {
    const chunk = new PricedChunk(4);
    const org = organization(1);
    chunk.add(7, org, record(1, 'org-1', 120_000n, 'voice', '2026-11'));
    chunk.add(8, org, record(2, 'org-1', 0n, 'voice', '2026-11'));
    const [whole] = [...chunk.copyPieces(() => true, 10)].map((piece) => Buffer.from(piece).toString('utf8').split(/(?<=\n)/));
    const alone = chunk.subset([0]);
    const [line] = [...alone.copyPieces(() => true, 10)].map((piece) => Buffer.from(piece).toString('utf8'));
    expect(alone.lines[0]).toBe(7);
    expect(alone.externalId(0)).toBe('x-1');
    const [group] = alone.groups();
    expect(group!.amount).toBe(120_000n);
    expect(group!.charges).toHaveLength(1);
    expect(group!.charges[0]!.charge.id).not.toBe(chargeOf(whole![0]!));
    expect(line).toBe(`${whole![0]!.slice(0, -31)}${group!.charges[0]!.charge.id}\n`);
    const free = chunk.subset([1]);
    expect([...free.copyPieces(() => true, 10)].map((piece) => Buffer.from(piece).toString('utf8'))).toEqual([whole![1]]);
    expect(free.groups()[0]!.charges).toEqual([]);
    // Two records of one organization, service and month share one new charge.
    chunk.add(9, org, record(3, 'org-1', 30_000n, 'voice', '2026-11'));
    const both = chunk.subset([0, 2]);
    expect(both.lines.slice(0, 2)).toEqual(Int32Array.from([7, 9]));
    expect(both.groups()).toMatchObject([{ amount: 150_000n, records: 2, charges: [{ amount: 150_000n }] }]);
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
