import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatMicros, parseCurrency } from '../../src/money/index.ts';
import { CompiledDeck } from '../../src/rating/compiled-deck.ts';
import { parseRateDeck, parseRateDeckInTurns } from '../../src/rating/parse-rate-deck.ts';
import { affordableSeconds, priceCall, priceEvent } from '../../src/rating/price.ts';
import type { RatePlan } from '../../src/rating/rate-plan.ts';

const SGD = parseCurrency('SGD')!;
const T = new Date('2026-11-02T12:00:00Z');

function deck(csv: string): CompiledDeck {
  const parsed = parseRateDeck(csv, new Date('2026-01-01T00:00:00Z'));
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return new CompiledDeck(parsed.rows);
}

const HEADER = 'service,prefix,destination,connect_fee,rate,rate_unit,increments,interval_start,min_duration';

function plan(increments: string, rate = '0.06', extra = ''): RatePlan {
  return deck(`${HEADER}${extra ? `,${extra.split('=')[0]}` : ''}\nvoice,1,Test,0,${rate},60,${increments},0,0${extra ? `,${extra.split('=')[1]}` : ''}`).plan('voice', '1555', T)!;
}

const cost = (p: RatePlan, seconds: number) => formatMicros(priceCall(p, seconds).cost, SGD);

describe('pricing a call', () => {
  it('bills the public increment check points', () => {
    expect(priceCall(plan('60/60'), 61).billedSeconds).toBe(120);
    expect(priceCall(plan('30/6'), 61).billedSeconds).toBe(66);
    expect(priceCall(plan('6/6'), 61).billedSeconds).toBe(66);
    expect(priceCall(plan('1/1'), 61).billedSeconds).toBe(61);
    expect(priceCall(plan('30/6'), 10).billedSeconds).toBe(30);
    expect(priceCall(plan('30/6'), 31).billedSeconds).toBe(36);
    expect(priceCall(plan('60/1'), 61).billedSeconds).toBe(61);
  });

  it('is exact where slice-by-slice rounding drifts: 600 s at 0.02 a minute billed per second is 0.2', () => {
    expect(cost(plan('1/1', '0.02'), 600)).toBe('0.20');
    // 0.02 / 60 per second is 0.000333..., which no per-slice rounding can add up to 0.2.
    expect(cost(plan('1/1', '0.02'), 1)).toBe('0.000333');
  });

  it('costs nothing for an unanswered call', () => {
    expect(priceCall(plan('60/60'), 0)).toMatchObject({ cost: 0n, billedSeconds: 0 });
  });

  it('rounds the call total once, with the deck’s method and decimals', () => {
    const up = plan('1/1', '0.02', 'rounding=up');
    expect(cost(up, 1)).toBe('0.000334');
    const cents = deck(`${HEADER},rounding,rounding_decimals\nvoice,1,T,0,0.02,60,1/1,0,0,down,2`).plan('voice', '1', T)!;
    expect(cost(cents, 599)).toBe('0.19');
    expect(() => parseRateDeck(`${HEADER},rounding_decimals\nvoice,1,T,0,0.02,60,1/1,0,0,7`, T)).not.toThrow();
    expect(parseRateDeck(`${HEADER},rounding_decimals\nvoice,1,T,0,0.02,60,1/1,0,0,7`, T).ok).toBe(false);
  });

  it('changes rate during the call at each interval start', () => {
    const nigeria = deck(`${HEADER}\nvoice,2348,Nigeria - Mobile,0.02,0.20,60,60/60,0,0\nvoice,2348,Nigeria - Mobile,0,0.15,60,1/1,300,0`).plan('voice', '2348031234567', T)!;
    expect(priceCall(nigeria, 361)).toMatchObject({ billedSeconds: 361 });
    expect(cost(nigeria, 361)).toBe('1.1725');
    expect(cost(nigeria, 301)).toBe('1.0225');
    expect(cost(nigeria, 300)).toBe('1.02');
    expect(cost(nigeria, 1)).toBe('0.22');
    // A block that starts before the next interval is priced whole at its own rate.
    const overlap = deck(`${HEADER}\nvoice,9,X,0,0.60,60,60/60,0,0\nvoice,9,X,0,0.06,60,1/1,30,0`).plan('voice', '9', T)!;
    expect(priceCall(overlap, 61)).toMatchObject({ billedSeconds: 61 });
    expect(cost(overlap, 61)).toBe('0.601');
  });

  it('applies the minimum duration before the blocks', () => {
    const satellite = deck(`${HEADER}\nvoice,8818,Satellite,0.50,2.40,60,60/60,0,10`).plan('voice', '881812345678', T)!;
    expect(priceCall(satellite, 5)).toMatchObject({ billedSeconds: 60 });
    expect(cost(satellite, 5)).toBe('2.90');
  });

  it('caps the cost with free, and with disconnect grants only the time the cap buys', () => {
    const free = deck(`${HEADER},max_cost,max_cost_strategy\nvoice,49,DE,0,0.011,60,1/1,0,0,0.50,free`).plan('voice', '4930123456', T)!;
    expect(cost(free, 1800)).toBe('0.33');
    expect(cost(free, 3600)).toBe('0.50');
    expect(priceCall(free, 3600).capped).toBe(true);
    expect(affordableSeconds(free, 10_000_000n, 7200)).toBe(7200);
    const disconnect = deck(`${HEADER},max_cost,max_cost_strategy\nvoice,49,DE,0,0.06,60,1/1,0,0,0.30,disconnect`).plan('voice', '49', T)!;
    expect(affordableSeconds(disconnect, 10_000_000n, 3600)).toBe(300);
  });

  it('never charges more than the cap, even a cap finer than the rounding', () => {
    const capped = deck(`${HEADER},rounding,rounding_decimals,max_cost\nvoice,49,DE,0,1,60,1/1,0,0,half_up,2,0.505`).plan('voice', '49', T)!;
    expect(cost(capped, 3600)).toBe('0.50');
    expect(cost(capped, 30)).toBe('0.50');
    expect(cost(capped, 29)).toBe('0.48');
  });

  it('finds the longest affordable call', () => {
    const perMinute = plan('60/60', '0.06');
    expect(affordableSeconds(perMinute, 60_000n, 600)).toBe(60);
    expect(affordableSeconds(perMinute, 119_999n, 600)).toBe(60);
    expect(affordableSeconds(perMinute, 120_000n, 600)).toBe(120);
    expect(affordableSeconds(perMinute, 59_999n, 600)).toBe(0);
    expect(affordableSeconds(perMinute, 1_000_000_000n, 90)).toBe(90);
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2_000_000n }), fc.integer({ min: 1, max: 3600 }), (budget, limit) => {
        const seconds = affordableSeconds(perMinute, budget, limit);
        expect(seconds <= limit).toBe(true);
        if (seconds > 0) expect(priceCall(perMinute, seconds).cost <= budget).toBe(true);
        if (seconds < limit) expect(priceCall(perMinute, seconds + 1).cost > budget).toBe(true);
      }),
    );
  });

  it('never charges less for a longer call, nor more than the cap, whatever the rounding and the cap', () => {
    const nigeria = deck(`${HEADER}\nvoice,2348,N,0.02,0.20,60,60/60,0,0\nvoice,2348,N,0,0.15,60,30/6,300,0`).plan('voice', '2348', T)!;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: 600 }), (seconds, more) => {
        expect(priceCall(nigeria, seconds + more).cost >= priceCall(nigeria, seconds).cost).toBe(true);
      }),
    );
    const decimal = (max: number) => fc.integer({ min: 1, max }).map((n) => (n / 1000).toFixed(3));
    const capped = fc.record({
      connect: fc.oneof(fc.constant('0'), decimal(200)),
      rate: decimal(500),
      increments: fc.constantFrom('60/60', '30/6', '1/1', '6/6'),
      method: fc.constantFrom('up', 'half_up', 'down'),
      decimals: fc.integer({ min: 0, max: 6 }),
      cap: decimal(1000),
      strategy: fc.constantFrom('free', 'disconnect'),
    });
    fc.assert(
      fc.property(capped, fc.integer({ min: 0, max: 3600 }), fc.integer({ min: 0, max: 600 }), (row, seconds, more) => {
        const header = `${HEADER},rounding,rounding_decimals,max_cost,max_cost_strategy`;
        const p = deck(`${header}\nvoice,2,X,${row.connect},${row.rate},60,${row.increments},0,0,${row.method},${row.decimals},${row.cap},${row.strategy}`).plan('voice', '2', T)!;
        const shorter = priceCall(p, seconds).cost;
        const longer = priceCall(p, seconds + more).cost;
        expect(longer >= shorter).toBe(true);
        expect(longer <= BigInt(Math.round(Number(row.cap) * 1_000_000))).toBe(true);
      }),
    );
  });

  it('charges the cap rounded down once the rounded cost passes it: a call priced 0.12 rounded up to 0.2 under a 0.15 cap costs 0.1', () => {
    const capped = deck(`${HEADER},rounding,rounding_decimals,max_cost\nvoice,2,X,0,0.12,60,1/1,0,0,up,1,0.15`).plan('voice', '2', T)!;
    expect([cost(capped, 50), cost(capped, 60), cost(capped, 75), cost(capped, 76)]).toEqual(['0.10', '0.10', '0.10', '0.10']);
    expect(priceEvent(deck(`service,prefix,rate,connect_fee,rounding,rounding_decimals,max_cost\nsms,,0.05,0.1,up,1,0.15`).plan('sms', '44', T)!, 1).cost).toBe(100_000n);
  });
});

describe('the sample rate deck', () => {
  const sample = deck(readFileSync(new URL('../fixtures/rate-deck.csv', import.meta.url), 'utf8'));
  const call = (number: string, seconds: number, at = T) => {
    const found = sample.plan('voice', number, at)!;
    const price = priceCall(found, seconds);
    return { prefix: found.prefix, destination: found.destination, billed: price.billedSeconds, cost: formatMicros(price.cost, SGD) };
  };

  it('prices every worked call of the samples README with the row it matches', () => {
    expect(call('6591234567', 61)).toMatchObject({ prefix: '659', destination: 'Singapore - Mobile', billed: 120, cost: '0.042' });
    expect(call('447700900123', 61)).toMatchObject({ prefix: '447', destination: 'United Kingdom - Mobile', billed: 66, cost: '0.0935' });
    expect(call('447700900123', 61, new Date('2026-12-02T10:00:00Z'))).toMatchObject({ prefix: '447', destination: 'United Kingdom - Mobile', billed: 66, cost: '0.088' });
    expect(call('442071234567', 125)).toMatchObject({ prefix: '4420', destination: 'United Kingdom - London', billed: 125, cost: '0.01875' });
    expect(call('12425551234', 30)).toMatchObject({ prefix: '1242', destination: 'Bahamas', billed: 60, cost: '0.19' });
    expect(call('12125551234', 61)).toMatchObject({ prefix: '1', billed: 66, cost: '0.0066' });
    expect(call('61298765432', 61)).toMatchObject({ prefix: '61', destination: 'Australia', billed: 61, cost: '0.070333' });
    expect(call('2348031234567', 361)).toMatchObject({ prefix: '2348', destination: 'Nigeria - Mobile', billed: 361, cost: '1.1725' });
    expect(call('2348031234567', 301)).toMatchObject({ prefix: '2348', destination: 'Nigeria - Mobile', billed: 301, cost: '1.0225' });
    expect(call('881812345678', 5)).toMatchObject({ prefix: '8818', destination: 'Satellite', billed: 60, cost: '2.90' });
    expect(call('18005550100', 60)).toMatchObject({ prefix: '1800', destination: 'Toll free', billed: 60, cost: '0.00' });
  });

  it('prices messages, fax pages and activations per item, the empty prefix taking any number', () => {
    const event = (service: 'sms' | 'fax' | 'number_activation', number: string, quantity: number) => {
      const found = sample.plan(service, number, T)!;
      const price = priceEvent(found, quantity);
      return { prefix: found.prefix, destination: found.destination, billed: price.billedSeconds, cost: formatMicros(price.cost, SGD) };
    };
    expect(event('sms', '6591234567', 1)).toEqual({ prefix: '65', destination: 'Singapore', billed: 1, cost: '0.03' });
    expect(event('sms', '447700900123', 1)).toEqual({ prefix: '', destination: 'Any destination', billed: 1, cost: '0.05' });
    expect(event('fax', '6591234567', 3)).toEqual({ prefix: '', destination: 'Any destination', billed: 3, cost: '0.30' });
    expect(event('number_activation', '', 1)).toEqual({ prefix: '', destination: 'Number activation fee', billed: 1, cost: '5.00' });
  });

  it('matches the longest prefix and takes + and spaces in numbers', () => {
    expect(sample.plan('voice', '+44 20 7123 4567', T)!.prefix).toBe('4420');
    expect(sample.plan('voice', '4470', T)!.prefix).toBe('447');
    expect(sample.plan('voice', '4401', T)!.prefix).toBe('44');
    expect(sample.plan('voice', '999', T)).toBeUndefined();
    // The number of a SIP or tel URI is its user part: the host's digits are not dialled.
    expect(sample.plan('voice', 'sip:+6591234567@192.168.1.10:5060;transport=udp', T)!.prefix).toBe('659');
    expect(sample.plan('voice', 'tel:+44-20-7123-4567;phone-context=+44', T)!.prefix).toBe('4420');
    // 00 is the international access code: no E.164 number starts with 0.
    expect(sample.plan('voice', '00442071234567', T)!.prefix).toBe('4420');
    expect(sample.plan('voice', '+00 44 20 7123 4567', T)!.prefix).toBe('4420');
    // Nothing in force before the deck's dates.
    expect(sample.plan('voice', '44', new Date('2025-06-01T00:00:00Z'))).toBeUndefined();
  });

  it('prices any number with the empty prefix, but not a destination without a digit', () => {
    const anyNumber = deck(`${HEADER}\nvoice,,Anywhere,0,0.30,60,60/60,0,0\nvoice,65,Singapore,0,0.02,60,60/60,0,0\nfax,,Fax,0,0.10,60,1/1,0,0`);
    expect(anyNumber.plan('voice', '6591234567', T)!.prefix).toBe('65');
    expect(anyNumber.plan('voice', '+1 555 0100', T)!.destination).toBe('Anywhere');
    expect(anyNumber.plan('voice', 'sip:+6591234567@pbx', T)!.prefix).toBe('65');
    // Asterisk's "s" and "h" extensions are no numbers: no price, not the price for any number.
    expect(anyNumber.plan('voice', 's', T)).toBeUndefined();
    expect(anyNumber.plan('voice', 'h', T)).toBeUndefined();
    // A fax page or an activation needs no number at all; a call does.
    expect(anyNumber.plan('fax', '', T)!.destination).toBe('Fax');
    expect(anyNumber.plan('voice', '', T)).toBeUndefined();
  });
});

describe('parsing a rate deck', () => {
  it('reads a big deck in turns of the event loop, to the rows it reads at once', async () => {
    const csv = [HEADER, ...Array.from({ length: 40_000 }, (_, index) => `voice,${100_000 + index},Place ${index},0,0.0${index % 97},60,${index % 2 ? '60/60' : '30/6'},0,0`)].join('\n');
    let turns = 0;
    const counting = setInterval(() => turns++, 0);
    const inTurns = await parseRateDeckInTurns(csv, T);
    clearInterval(counting);
    expect(turns).toBeGreaterThan(1);
    expect(inTurns).toEqual(parseRateDeck(csv, T));
    expect(inTurns.ok && inTurns.rows.length).toBe(40_000);
  });

  it('lists the first 1,000 problems of the file by line, unreadable lines among them', () => {
    const lines = ['prefix,rate', ...Array.from({ length: 500 }, (_, index) => `${1000 + index},abc`), ...Array.from({ length: 20_000 }, (_, index) => `${100_000 + index},0.01`), ...Array.from({ length: 1500 }, (_, index) => `${200_000 + index},"0.01`)];
    const parsed = parseRateDeck(lines.join('\n'), T);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.problems).toHaveLength(1000);
    expect(parsed.problems.slice(0, 500).map((problem) => [problem.line, problem.field])).toEqual(Array.from({ length: 500 }, (_, index) => [index + 2, 'rate']));
    expect(parsed.problems.slice(500).map((problem) => problem.line)).toEqual(Array.from({ length: 500 }, (_, index) => 20_502 + index));
  });

  it('reports a bad header and the unreadable lines after it', () => {
    expect(parseRateDeck('prefix,rat\n1,"0.1\n2,0.2', T)).toMatchObject({
      ok: false,
      problems: [
        { line: 1, field: 'rat' },
        { line: 1, field: 'rate' },
        { line: 2, field: 'csv' },
      ],
    });
  });

  it('reports every bad row with its line number and keeps none', () => {
    const parsed = parseRateDeck(
      [
        HEADER,
        'voice,44,UK,0,0.01,60,60/60,0,0',
        'voice,4a,Bad prefix,0,0.01,60,60/60,0,0',
        'voice,45,Bad rate,0,abc,60,60/60,0,0',
        'voice,46,Bad increments,0,0.01,60,60,0,0',
        'phone,47,Bad service,0,0.01,60,60/60,0,0',
        'voice,48,No start,0,0.01,60,60/60,30,0',
        'voice,44,Again,0,0.02,60,60/60,0,0',
        'voice,49,Negative,0,-0.01,60,60/60,0,0',
      ].join('\n'),
      T,
    );
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.problems.map((p) => [p.line, p.field])).toEqual([
      [3, 'prefix'],
      [4, 'rate'],
      [5, 'increments'],
      [6, 'service'],
      [7, 'interval_start'],
      [8, 'interval_start'],
      [9, 'rate'],
    ]);
  });

  it('refuses an unknown column, a missing column and an empty deck', () => {
    expect(parseRateDeck('prefix,rate,colour\n1,0.1,red', T)).toMatchObject({ ok: false, problems: [{ line: 1, field: 'colour' }] });
    expect(parseRateDeck('prefix,destination\n1,x', T)).toMatchObject({ ok: false, problems: [{ line: 1, field: 'rate' }] });
    expect(parseRateDeck('prefix,rate\n', T).ok).toBe(false);
    expect(parseRateDeck('"unterminated', T).ok).toBe(false);
    expect(parseRateDeck('prefix,rate,rate\n44,0.1,0.2', T)).toMatchObject({ ok: false, problems: [{ line: 1, field: 'rate', message: 'the column "rate" is named twice' }] });
    // The header's problems are on the header's own line, after blank lines too.
    expect(parseRateDeck('\n\nprefix,rate,colour\n1,0.1,red', T)).toMatchObject({ ok: false, problems: [{ line: 3, field: 'colour' }] });
    // A control character in a name (a NUL the database would refuse) is the row's problem.
    expect(parseRateDeck('prefix,destination,rate\n44,UK\u0000Fixed,0.1\n45,UK\u0007,0.1', T)).toMatchObject({
      ok: false,
      problems: [
        { line: 2, field: 'destination' },
        { line: 3, field: 'destination' },
      ],
    });
  });

  it('reports a line of the wrong length or a stray quote with the other problems, not instead of them', () => {
    const parsed = parseRateDeck(['prefix,rate', '44,abc', '45,0.1,extra', '46', '47,"0"1"', '48,0.2', '49,"0.3'].join('\n'), T);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.problems.map((p) => [p.line, p.field])).toEqual([
      [2, 'rate'],
      [3, 'csv'],
      [4, 'csv'],
      [5, 'csv'],
      [7, 'csv'],
    ]);
    expect(parsed.problems[1]!.message).toBe('the line has 3 field(s); the header names 2');
    expect(parsed.problems[4]!.message).toBe('a quoted field is not closed on its line');
    // Text after a closing quote is that line's problem; the lines after it are still checked
    // (csv-parse's own recovery dropped them, and reported a deck with no rows).
    const quoted = parseRateDeck('prefix,destination,rate\n44,"UK" Fixed,0.01\n45,X,abc\n46,Y,-1\n', T);
    expect(quoted.ok ? [] : quoted.problems.map((p) => [p.line, p.field])).toEqual([
      [2, 'csv'],
      [3, 'rate'],
      [4, 'rate'],
    ]);
  });

  it('refuses whole numbers a database integer cannot hold, blocks longer than a call, and dates that do not exist or are not kept', () => {
    const problems = (row: string, header = HEADER) => {
      const parsed = parseRateDeck(`${header}\n${row}`, T);
      return parsed.ok ? [] : parsed.problems.map((p) => p.field);
    };
    // An empty rate is no price: the row would be dropped and its numbers priced by a shorter prefix.
    expect(problems('voice,44,UK,0,,60,60/60,0,0')).toEqual(['rate']);
    expect(problems('voice,44,UK,0, ,60,60/60,0,0')).toEqual(['rate']);
    expect(problems('voice,44,UK,0,0.01,3000000000,60/60,0,0')).toEqual(['rate_unit']);
    expect(problems('voice,44,UK,0,0.01,60,3000000000/1,0,0')).toEqual(['increments']);
    // Billed seconds (the call rounded up to its blocks) must fit a usage record: 1 s then a
    // block of 2,147,483,647 s billed a 2 s call 2,147,483,648 s, which none holds.
    expect(problems('voice,44,UK,0,0.01,60,1/2147483647,0,0')).toEqual(['increments']);
    expect(problems('voice,44,UK,0,0.01,60,86401/60,0,0')).toEqual(['increments']);
    expect(problems('voice,44,UK,0,0.01,60,86400/86400,0,0')).toEqual([]);
    expect(problems('voice,44,UK,0,0.01,60,60/60,0,86401')).toEqual(['min_duration']);
    expect(problems('voice,44,UK,0,0.01,60,60/60,0,86400')).toEqual([]);
    expect(problems('voice,0044,UK,0,0.01,60,60/60,0,0')).toEqual(['prefix']);
    expect(problems('voice,44,UK,0,0.01,60,60/60,0,0,0', `${HEADER},max_cost`)).toEqual(['max_cost']);
    expect(problems('voice,44,UK,0,0.01,60,60/60,0,0,2026-02-30', `${HEADER},effective_from`)).toEqual(['effective_from']);
    expect(problems('voice,44,UK,0,0.01,60,60/60,0,0,2026-02-30T00:00:00Z', `${HEADER},effective_from`)).toEqual(['effective_from']);
    expect(problems('voice,44,UK,0,0.01,60,60/60,0,0,2028-02-29', `${HEADER},effective_from`)).toEqual([]);
    // Years 1 to 99 are years like any other.
    expect(problems('voice,44,UK,0,0.01,60,60/60,0,0,0050-01-01', `${HEADER},effective_from`)).toEqual([]);
    expect(problems('voice,44,UK,0,0.01,60,60/60,0,0,0050-02-29', `${HEADER},effective_from`)).toEqual(['effective_from']);
    // In 9999 where written, in 10000 in UTC: no column keeps it.
    expect(problems('voice,44,UK,0,0.01,60,60/60,0,0,9999-12-31T23:00:00-05:00', `${HEADER},effective_from`)).toEqual(['effective_from']);
    expect(problems('voice,44,UK,0,0.01,60,60/60,0,0,9999-12-31T23:00:00+05:00', `${HEADER},effective_from`)).toEqual([]);
  });

  it('refuses what a row after second 0 says about the whole call, which only the row from second 0 sets', () => {
    const parsed = parseRateDeck(
      [
        `${HEADER},rounding,max_cost`,
        'voice,234,NG,0.02,0.20,60,60/60,0,0,half_up,5.00',
        'voice,234,NG,0.05,0.15,60,1/1,300,10,up,4.00',
        'voice,235,X,0.02,0.20,60,60/60,0,0,half_up,5.00',
        'voice,235,X,0,0.15,60,1/1,300,0,half_up,5.00',
      ].join('\n'),
      T,
    );
    expect(parsed.ok ? [] : parsed.problems.map((p) => [p.line, p.field])).toEqual([
      [3, 'connect_fee'],
      [3, 'min_duration'],
      [3, 'rounding'],
      [3, 'max_cost'],
    ]);
    // An end date of its own on a later row (its rate was charged after it), refused; the same
    // end as the row from second 0, or none, is fine.
    const ended = parseRateDeck(
      [
        'prefix,destination,rate,interval_start,effective_from,effective_to',
        '65,Singapore,0.10,0,2026-11-01,',
        '65,Singapore,0.50,60,2026-11-01,2026-12-05',
        '66,Thailand,0.10,0,2026-11-01,2026-12-05',
        '66,Thailand,0.50,60,2026-11-01,2026-12-05',
        '66,Thailand,0.40,120,2026-11-01,',
      ].join('\n'),
      T,
    );
    expect(ended.ok ? [] : ended.problems.map((p) => [p.line, p.field, p.message])).toEqual([[3, 'effective_to', "only the row from second 0 (line 2) sets the call's effective_to; leave it empty or the same here"]]);
  });

  it('gives a later row that leaves the call’s rounding and cap empty those of the row from second 0', () => {
    const parsed = parseRateDeck('prefix,rate,increments,interval_start,rounding,rounding_decimals,max_cost,max_cost_strategy\n44,1,60/60,0,up,2,5,disconnect\n44,0.5,1/1,60,,,,\n', T);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
    const [head, later] = parsed.rows;
    expect([later!.rounding, later!.maxCost, later!.maxCostStrategy]).toEqual([head!.rounding, head!.maxCost, 'disconnect']);
    expect(formatMicros(priceCall(deck('prefix,rate,increments,interval_start,rounding,rounding_decimals,max_cost\n44,1,60/60,0,up,2,5\n44,0.5,1/1,60,,,\n').plan('voice', '44', T)!, 61).cost, SGD)).toBe('1.01');
  });
});
