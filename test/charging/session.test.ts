import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { planGrant } from '../../src/charging/session.ts';
import { CompiledDeck } from '../../src/rating/compiled-deck.ts';
import { parseRateDeck } from '../../src/rating/parse-rate-deck.ts';
import { MAX_CALL_SECONDS, priceCall } from '../../src/rating/price.ts';
import type { RatePlan } from '../../src/rating/rate-plan.ts';

const T = new Date('2026-11-02T12:00:00Z');

/** 0.02 to connect, then 0.20 a minute billed 30/6. */
function plan(): RatePlan {
  const parsed = parseRateDeck(
    'service,prefix,destination,connect_fee,rate,rate_unit,increments\nvoice,234,Nigeria,0.02,0.20,60,30/6\n',
    new Date('2026-01-01T00:00:00Z'),
  );
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return new CompiledDeck(parsed.rows).plan('voice', '2348031234567', T)!;
}

const UNLIMITED = 10n ** 15n;

describe('planning a grant', () => {
  it('grants one interval past the seconds used and prices used and granted time as the whole call', () => {
    expect(planGrant(plan(), 0, UNLIMITED, 60)).toEqual({ grantedTotal: 60, costUsed: 0n, costGranted: 220_000n });
    // 61 s bill 66 s under 30/6: 0.02 + 0.22.
    expect(planGrant(plan(), 61, UNLIMITED, 60)).toEqual({ grantedTotal: 121, costUsed: 240_000n, costGranted: priceCall(plan(), 121).cost });
  });

  it('grants only the time the budget pays for, and nothing past the seconds used when it pays for none', () => {
    // 0.12 pays the connect fee and the first 30 s block (0.10), not the next 6 s block.
    expect(planGrant(plan(), 0, 120_000n, 60)).toMatchObject({ grantedTotal: 30, costGranted: 120_000n });
    expect(planGrant(plan(), 0, 10_000n, 60)).toMatchObject({ grantedTotal: 0, costGranted: 0n });
    expect(planGrant(plan(), 45, 120_000n, 60)).toMatchObject({ grantedTotal: 45 });
  });

  it('never grants a call past 24 hours, however much credit there is', () => {
    expect(planGrant(plan(), MAX_CALL_SECONDS - 10, UNLIMITED, 60).grantedTotal).toBe(MAX_CALL_SECONDS);
    expect(planGrant(plan(), MAX_CALL_SECONDS, UNLIMITED, 60).grantedTotal).toBe(MAX_CALL_SECONDS);
  });

  it('holds no more than the budget and never less than what was used', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_CALL_SECONDS }), fc.bigInt({ min: 0n, max: 50_000_000n }), fc.integer({ min: 1, max: 3600 }), (used, budget, interval) => {
        const grant = planGrant(plan(), used, budget, interval);
        expect(grant.grantedTotal).toBeGreaterThanOrEqual(used);
        expect(grant.grantedTotal).toBeLessThanOrEqual(Math.min(used + interval, MAX_CALL_SECONDS));
        expect(grant.costGranted).toBe(priceCall(plan(), grant.grantedTotal).cost);
        if (grant.grantedTotal > used) expect(grant.costGranted).toBeLessThanOrEqual(budget);
      }),
    );
  });
});
