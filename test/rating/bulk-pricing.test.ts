import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CompiledDeck } from '../../src/rating/compiled-deck.ts';
import { dialledDigits } from '../../src/rating/dialled-number.ts';
import { callCost, priceCall } from '../../src/rating/price.ts';
import { parseDecimal } from '../../src/rating/rational.ts';
import type { RatePlan, RateRow, Service } from '../../src/rating/rate-plan.ts';

const T = new Date('2026-11-02T12:00:00Z');

/** Exact decimals of up to 12 places, small and large, as decks have them. */
const decimal = fc.oneof(
  fc.constantFrom('0', '0.01', '0.02', '0.06', '0.0703333', '0.5', '2.40', '0.000001', '0.123456789012', '999999.999999999999'),
  fc.tuple(fc.nat({ max: 20 }), fc.nat({ max: 999_999 })).map(([whole, fraction]) => `${whole}.${String(fraction).padStart(6, '0')}`),
  fc.tuple(fc.nat({ max: 99 }), fc.integer({ min: 1, max: 12 }), fc.bigInt({ min: 0n, max: 10n ** 12n - 1n })).map(([whole, places, fraction]) => `${whole}.${String(fraction).padStart(12, '0').slice(0, places)}`),
);

function row(overrides: Partial<RateRow>): RateRow {
  return {
    line: 2,
    service: 'voice',
    prefix: '65',
    destination: 'Singapore',
    connectFee: parseDecimal('0')!,
    rate: parseDecimal('0.06')!,
    rateUnitSeconds: 60,
    firstIncrementSeconds: 60,
    nextIncrementSeconds: 60,
    intervalStartSeconds: 0,
    minDurationSeconds: 0,
    rounding: { method: 'half_up', decimals: 6 },
    maxCost: null,
    maxCostStrategy: null,
    effectiveFrom: new Date('2026-01-01T00:00:00Z'),
    effectiveTo: null,
    ...overrides,
  };
}

const planArbitrary: fc.Arbitrary<RatePlan> = fc
  .record({
    connectFee: decimal,
    rate: decimal,
    rateUnitSeconds: fc.constantFrom(1, 6, 60, 3600, 86_400),
    firstIncrementSeconds: fc.integer({ min: 1, max: 120 }),
    nextIncrementSeconds: fc.integer({ min: 1, max: 120 }),
    minDurationSeconds: fc.constantFrom(0, 0, 10, 60),
    method: fc.constantFrom('up' as const, 'half_up' as const, 'down' as const),
    decimals: fc.integer({ min: 0, max: 6 }),
    maxCost: fc.option(decimal, { nil: null }),
    second: fc.option(fc.tuple(decimal, fc.integer({ min: 1, max: 600 }), fc.integer({ min: 1, max: 60 })), { nil: null }),
  })
  .map((p) => {
    const head = row({
      connectFee: parseDecimal(p.connectFee)!,
      rate: parseDecimal(p.rate)!,
      rateUnitSeconds: p.rateUnitSeconds,
      firstIncrementSeconds: p.firstIncrementSeconds,
      nextIncrementSeconds: p.nextIncrementSeconds,
      minDurationSeconds: p.minDurationSeconds,
      rounding: { method: p.method, decimals: p.decimals },
      maxCost: p.maxCost === null ? null : parseDecimal(p.maxCost)!,
      maxCostStrategy: p.maxCost === null ? null : 'free',
    });
    const rows = p.second ? [head, row({ rate: parseDecimal(p.second[0])!, intervalStartSeconds: p.second[1], firstIncrementSeconds: p.second[2], nextIncrementSeconds: p.second[2], line: 3 })] : [head];
    return { prefix: '65', destination: 'Singapore', rows };
  });

describe('bulk pricing (callCost)', () => {
  it('bills and costs every call exactly as priceCall does', () => {
    fc.assert(
      fc.property(planArbitrary, fc.oneof(fc.integer({ min: 0, max: 600 }), fc.integer({ min: 0, max: 86_400 })), (plan, seconds) => {
        const price = priceCall(plan, seconds);
        expect(callCost(plan, seconds)).toEqual({ billedSeconds: price.billedSeconds, cost: price.cost });
      }),
      { numRuns: 20_000 },
    );
  });

  it('rounds ties and near-ties as priceCall does', () => {
    // 1/3 of a micro-unit, a half exactly, and values right at the edge of plain integers.
    for (const rate of ['0.00002', '0.00003', '0.000001', '0.0000005', '0.123456789012', '99.999999999999']) {
      for (const method of ['up', 'half_up', 'down'] as const) {
        for (const decimals of [0, 2, 6]) {
          const plan = { prefix: '1', destination: '', rows: [row({ rate: parseDecimal(rate)!, rateUnitSeconds: 60, firstIncrementSeconds: 1, nextIncrementSeconds: 1, rounding: { method, decimals } })] };
          for (const seconds of [1, 3, 30, 59, 60, 61, 86_400]) {
            const price = priceCall(plan, seconds);
            expect(callCost(plan, seconds)).toEqual({ billedSeconds: price.billedSeconds, cost: price.cost });
          }
        }
      }
    }
  });
});

/** The compiled deck as it was before it was kept in columns: the reference for lookups. */
class ReferenceDeck {
  private readonly services = new Map<Service, Map<string, { from: number; to: number; plan: RatePlan }[]>>();

  constructor(rows: readonly RateRow[]) {
    const grouped = new Map<string, RateRow[]>();
    for (const r of rows) {
      const key = `${r.service}\u0000${r.prefix}\u0000${r.effectiveFrom.getTime()}`;
      grouped.set(key, [...(grouped.get(key) ?? []), r]);
    }
    for (const group of grouped.values()) {
      const sorted = [...group].sort((a, b) => a.intervalStartSeconds - b.intervalStartSeconds);
      const head = sorted[0]!;
      let prefixes = this.services.get(head.service);
      if (!prefixes) this.services.set(head.service, (prefixes = new Map()));
      const versions = prefixes.get(head.prefix) ?? [];
      versions.push({ from: head.effectiveFrom.getTime(), to: head.effectiveTo?.getTime() ?? Number.POSITIVE_INFINITY, plan: { prefix: head.prefix, destination: head.destination, rows: sorted } });
      versions.sort((a, b) => b.from - a.from);
      prefixes.set(head.prefix, versions);
    }
  }

  plan(service: Service, number: string, at: Date): RatePlan | undefined {
    const prefixes = this.services.get(service);
    if (!prefixes) return undefined;
    const digits = dialledDigits(number);
    // Something without a digit is no number; nothing at all may still be priced by the row for
    // any, but only for what needs no number (a fax page, an activation), never a call.
    if (digits === '' && (number.trim() !== '' || service === 'voice')) return undefined;
    for (let length = digits.length; length >= 0; length--) {
      for (const version of prefixes.get(digits.slice(0, length)) ?? []) {
        if (version.from <= at.getTime() && at.getTime() < version.to) return version.plan;
      }
    }
    return undefined;
  }
}

const day = (n: number) => new Date(Date.UTC(2026, 0, 1) + n * 86_400_000);

describe('the compiled deck', () => {
  const rowsArbitrary = fc.array(
    fc.record({
      service: fc.constantFrom<Service>('voice', 'voice', 'sms', 'number_activation'),
      // Short and long prefixes, leading zeros, the empty prefix; few digits, so that they nest.
      prefix: fc.oneof(fc.stringMatching(/^[019]{0,4}$/), fc.stringMatching(/^[019]{12,16}$/)),
      from: fc.integer({ min: 0, max: 3 }),
      to: fc.option(fc.integer({ min: 1, max: 3 }), { nil: null }),
      interval: fc.constantFrom(0, 0, 30),
      rate: decimal,
      destination: fc.constantFrom('A', 'B, "quoted"', ''),
    }),
    { maxLength: 40 },
  );

  it('finds the plan the reference finds, for any rows, numbers and dates', () => {
    fc.assert(
      fc.property(rowsArbitrary, fc.array(fc.tuple(fc.stringMatching(/^[019+ ]{0,18}$/), fc.integer({ min: 0, max: 4 })), { maxLength: 20 }), (specs, lookups) => {
        const rows = specs.map((spec, index) =>
          row({
            line: index + 2,
            service: spec.service,
            prefix: spec.prefix,
            destination: spec.destination,
            rate: parseDecimal(spec.rate)!,
            intervalStartSeconds: spec.interval,
            effectiveFrom: day(spec.from),
            effectiveTo: spec.to === null ? null : day(spec.from + spec.to),
          }),
        );
        // Rows of one (service, prefix, date) share a start second only in decks that would be refused.
        const unique = [...new Map(rows.map((r) => [`${r.service}|${r.prefix}|${r.effectiveFrom.getTime()}|${r.intervalStartSeconds}`, r])).values()];
        const compiled = new CompiledDeck(unique);
        const reference = new ReferenceDeck(unique);
        for (const [number, at] of lookups) {
          for (const service of ['voice', 'sms', 'fax'] as const) {
            expect(compiled.plan(service, number, day(at))).toEqual(reference.plan(service, number, day(at)));
          }
        }
        expect(compiled.size).toBe(new Set(unique.map((r) => `${r.service}|${r.prefix}`)).size);
      }),
      { numRuns: 3000 },
    );
  });

  it('takes rows in any order and after construction, until the first lookup', () => {
    const rows = [row({ prefix: '65', line: 2 }), row({ prefix: '65', line: 3, intervalStartSeconds: 30, rate: parseDecimal('0.01')! }), row({ prefix: '6591', line: 4 })];
    const deck = new CompiledDeck([rows[1]!]);
    deck.add(rows[2]!);
    deck.add(rows[0]!);
    expect(deck.plan('voice', '6590000', T)!.rows.map((r) => r.line)).toEqual([2, 3]);
    expect(deck.plan('voice', '6591000', T)!.prefix).toBe('6591');
    expect(() => deck.add(row({ prefix: '1' }))).toThrow();
  });
});
