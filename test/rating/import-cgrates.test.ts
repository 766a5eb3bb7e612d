import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatMicros, parseCurrency } from '../../src/money/index.ts';
import { CompiledDeck } from '../../src/rating/compiled-deck.ts';
import { readCgratesTariffPlan } from '../../src/rating/import-cgrates.ts';
import { priceCall } from '../../src/rating/price.ts';

const SGD = parseCurrency('SGD')!;
const folders: string[] = [];

/** Writes a tariff plan folder, file by file, as CGRateS keeps one. */
function tariffPlan(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'cgrates-'));
  folders.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), `${text.trim()}\n`);
  return dir;
}

const RETAIL = {
  'Destinations.csv': '#Id,Prefix\nDST_SG_MOBILE,658\nDST_SG_MOBILE,659\nDST_UK_MOBILE,447\nDST_DE,49',
  'Rates.csv': '#Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart\nRT_SG_MOBILE,0,0.021,60s,60s,0s\nRT_UK_MOBILE,0.01,0.085,60s,30s,0s\nRT_UK_MOBILE,0,0.085,60s,6s,30s\nRT_DE,0,0.011,60s,1s,0s',
  'DestinationRates.csv':
    '#Id,DestinationId,RatesTag,RoundingMethod,RoundingDecimals,MaxCost,MaxCostStrategy\nDR_SG_MOBILE,DST_SG_MOBILE,RT_SG_MOBILE,*up,4,0,\nDR_UK_MOBILE,DST_UK_MOBILE,RT_UK_MOBILE,*middle,4,0,\nDR_DE,DST_DE,RT_DE,*up,4,0.50,*free',
  'RatingPlans.csv': '#Id,DestinationRatesId,TimingTag,Weight\nRP_RETAIL,DR_SG_MOBILE,*any,10\nRP_RETAIL,DR_UK_MOBILE,*any,10\nRP_RETAIL,DR_DE,*any,10',
  'RatingProfiles.csv': '#Tenant,Category,Subject,ActivationTime,RatingPlanId,RatesFallbackSubject\nexample.org,call,*any,2026-01-01T00:00:00Z,RP_RETAIL,',
  'Timings.csv': '#Tag,Years,Months,MonthDays,WeekDays,Time',
};

afterAll(() => {
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

describe('importing a CGRateS tariff plan', () => {
  it('maps a rating plan to a deck that prices the README’s calls exactly', () => {
    const read = readCgratesTariffPlan(tariffPlan(RETAIL));
    if (!read.ok) throw new Error(read.problems.join('\n'));
    expect(read.decks.map((deck) => [deck.name, deck.effectiveFrom.toISOString()])).toEqual([['RP_RETAIL', '2026-01-01T00:00:00.000Z']]);
    const deck = new CompiledDeck(read.decks[0]!.rows);
    const at = new Date('2026-11-02T00:00:00Z');
    const cost = (number: string, seconds: number) => formatMicros(priceCall(deck.plan('voice', number, at)!, seconds).cost, SGD);
    expect(cost('6591234567', 61)).toBe('0.042');
    expect(cost('447700900123', 61)).toBe('0.1035');
    expect(cost('4930123456', 1800)).toBe('0.33');
    expect(cost('4930123456', 3600)).toBe('0.50');
  });

  it('lists what it cannot map and imports nothing', () => {
    const read = readCgratesTariffPlan(
      tariffPlan({
        ...RETAIL,
        'RatingPlans.csv': '#Id,DestinationRatesId,TimingTag,Weight\nRP_RETAIL,DR_SG_MOBILE,TM_PEAK,10\nRP_RETAIL,DR_UK_MOBILE,*any,10\nRP_RETAIL,DR_LATE,*any,10',
        'Rates.csv': `${RETAIL['Rates.csv']}\nRT_LATE,0,0.5,60s,60s,30s`,
        'DestinationRates.csv': `${RETAIL['DestinationRates.csv']}\nDR_LATE,DST_DE,RT_LATE,*up,4,0,`,
        'Timings.csv': '#Tag,Years,Months,MonthDays,WeekDays,Time\nTM_PEAK,*any,*any,*any,1;2;3;4;5,08:00:00',
        'RatingProfiles.csv': '#Tenant,Category,Subject,ActivationTime,RatingPlanId,RatesFallbackSubject\nexample.org,call,1001,2026-01-01T00:00:00Z,RP_RETAIL,',
        'SharedGroups.csv': '#Id,Account,Strategy,RatingSubject\nSG1,*any,*lowest,',
      }),
    );
    expect(read.ok).toBe(false);
    if (read.ok) return;
    const text = read.problems.join('\n');
    expect(text).toContain('SharedGroups.csv has rows');
    // All at once, each with its file and line.
    expect(text).toContain('RatingPlans.csv:2: RP_RETAIL uses the timing TM_PEAK (*any *any *any 1;2;3;4;5 08:00:00), which cannot be mapped');
    expect(text).toContain('RatingProfiles.csv');
    expect(text).toContain('Rates.csv:6: RT_LATE has no rate from 0s');
  });

  it('takes a timing that matches every moment (ALWAYS) as *any', () => {
    const read = readCgratesTariffPlan(
      tariffPlan({
        ...RETAIL,
        'RatingPlans.csv': '#Id,DestinationRatesId,TimingTag,Weight\nRP_RETAIL,DR_SG_MOBILE,ALWAYS,10',
        'Timings.csv': '#Tag,Years,Months,MonthDays,WeekDays,Time\nALWAYS,*any,*any,*any,*any,00:00:00',
      }),
    );
    expect(read.ok && read.decks[0]!.rows.map((row) => row.prefix)).toEqual(['658', '659']);
  });

  it('prices each category from its own profile’s activation time', () => {
    const read = readCgratesTariffPlan(
      tariffPlan({
        ...RETAIL,
        'Rates.csv': RETAIL['Rates.csv'].replace('\nRT_UK_MOBILE,0,0.085,60s,6s,30s', ''),
        'RatingProfiles.csv': `${RETAIL['RatingProfiles.csv']}\nexample.org,sms,*any,2026-12-15T00:00:00Z,RP_RETAIL,`,
      }),
    );
    if (!read.ok) throw new Error(read.problems.join('\n'));
    expect(read.decks[0]!.effectiveFrom.toISOString()).toBe('2026-01-01T00:00:00.000Z');
    const deck = new CompiledDeck(read.decks[0]!.rows);
    for (const [at, sms] of [
      ['2026-12-14T23:59:59Z', false],
      ['2026-12-15T00:00:00Z', true],
    ] as const) {
      expect(deck.plan('voice', '6591234567', new Date(at)), at).toBeDefined();
      expect(deck.plan('sms', '6591234567', new Date(at)) !== undefined, at).toBe(sms);
    }
  });

  it('refuses what a Ringbill deck would refuse: message slots after 0s, two slots from one second', () => {
    const read = readCgratesTariffPlan(
      tariffPlan({
        ...RETAIL,
        'Rates.csv': `${RETAIL['Rates.csv']}\nRT_DE,0.02,0.011,60s,1s,0s`,
        'RatingProfiles.csv': `${RETAIL['RatingProfiles.csv']}\nexample.org,sms,*any,2026-01-01T00:00:00Z,RP_RETAIL,`,
      }),
    );
    expect(read.ok).toBe(false);
    if (read.ok) return;
    expect(read.problems).toContain('RatingPlans.csv:3: RP_RETAIL prices sms 447 with RT_UK_MOBILE: only voice rates change during a call');
    expect(read.problems).toContain('RatingPlans.csv:4: RP_RETAIL prices voice 49 with RT_DE: another slot already prices voice 49 from second 0 on the same date');
  });

  it('refuses a max cost it cannot read, rather than charging without a cap', () => {
    for (const maxCost of ['"0,50"', '-1']) {
      const read = readCgratesTariffPlan(tariffPlan({ ...RETAIL, 'DestinationRates.csv': RETAIL['DestinationRates.csv'].replace('0.50,*free', `${maxCost},*free`) }));
      expect(read).toMatchObject({ ok: false, problems: [expect.stringContaining(`DR_DE has MaxCost "${maxCost.replaceAll('"', '')}"`)] });
    }
  });

  it('refuses a change of plan over time and an activation time without an offset', () => {
    const switched = readCgratesTariffPlan(
      tariffPlan({
        ...RETAIL,
        'RatingPlans.csv': `${RETAIL['RatingPlans.csv']}\nRP_NEW,DR_DE,*any,10`,
        'RatingProfiles.csv': `${RETAIL['RatingProfiles.csv']}\nexample.org,call,*any,2026-06-01T00:00:00Z,RP_NEW,`,
      }),
    );
    expect(switched).toMatchObject({ ok: false, problems: [expect.stringContaining('example.org call *any has more than one profile (RP_RETAIL and RP_NEW from 2026-06-01T00:00:00Z)')] });
    const local = readCgratesTariffPlan(tariffPlan({ ...RETAIL, 'RatingProfiles.csv': RETAIL['RatingProfiles.csv'].replace('2026-01-01T00:00:00Z', '2026-01-01T00:00:00') }));
    expect(local).toMatchObject({ ok: false, problems: [expect.stringContaining('"2026-01-01T00:00:00" is not an ISO 8601 time with an offset')] });
    // A date alone has no offset either: CGRateS would read it in its own zone.
    const dated = readCgratesTariffPlan(tariffPlan({ ...RETAIL, 'RatingProfiles.csv': RETAIL['RatingProfiles.csv'].replace('2026-01-01T00:00:00Z', '2026-01-01') }));
    expect(dated).toMatchObject({ ok: false, problems: [expect.stringContaining('"2026-01-01" is not an ISO 8601 time with an offset')] });
  });

  it('refuses what no deck could store or export back: blocks longer than a call, durations past an integer, prefixes past 20 digits', () => {
    const problems = (files: Record<string, string>) => {
      const read = readCgratesTariffPlan(tariffPlan({ ...RETAIL, ...files }));
      return read.ok ? [] : read.problems;
    };
    expect(problems({ 'Rates.csv': RETAIL['Rates.csv'].replace('RT_DE,0,0.011,60s,1s,0s', 'RT_DE,0,0.011,60s,1000000h,0s') })).toContain('Rates.csv:5: RT_DE: RateIncrement "1000000h" is not a duration from 1s to 86400s');
    expect(problems({ 'Rates.csv': RETAIL['Rates.csv'].replace('RT_DE,0,0.011,60s,1s,0s', 'RT_DE,0,0.011,1000000h,1s,0s') })).toContain('Rates.csv:5: RT_DE: RateUnit "1000000h" is not a duration from 1s to 2147483647s');
    // A destination id becomes the rows' destination name: no control characters, as in a CSV deck.
    expect(problems({ 'Destinations.csv': `${RETAIL['Destinations.csv']}\n"DST\u0007X",44` })).toContain('Destinations.csv:6: the destination "DST\\u0007X" holds a control character');
    expect(problems({ 'Destinations.csv': `${RETAIL['Destinations.csv']}\nDST_DE,4912345678901234567890123` })).toEqual([
      'Destinations.csv:6: DST_DE has the prefix "4912345678901234567890123", which is not E.164 digits (at most 20)',
    ]);
  });

  it('names the field of a rate it cannot read', () => {
    const read = readCgratesTariffPlan(tariffPlan({ ...RETAIL, 'Rates.csv': `${RETAIL['Rates.csv']}\nRT_X,0,0.0001666666666667,1s,1s,0s` }));
    expect(read).toMatchObject({ ok: false, problems: ['Rates.csv:6: RT_X: Rate "0.0001666666666667" is not a non-negative decimal of up to 12 places'] });
  });

  it('refuses a row short of a column or past them, naming its line, rather than reading defaults into it', () => {
    const read = readCgratesTariffPlan(
      tariffPlan({
        ...RETAIL,
        // Cut after RoundingDecimals: read as it came, DR_DE would have no cap.
        'DestinationRates.csv': RETAIL['DestinationRates.csv'].replace('DR_DE,DST_DE,RT_DE,*up,4,0.50,*free', 'DR_DE,DST_DE,RT_DE,*up,4'),
        // An older layout, with a Direction first.
        'RatingProfiles.csv': '#Direction,Tenant,Category,Subject,ActivationTime,RatingPlanId,RatesFallbackSubject,CdrStatQueueIds\n*out,example.org,call,*any,2026-01-01T00:00:00Z,RP_RETAIL,,',
      }),
    );
    expect(read).toMatchObject({ ok: false });
    expect(!read.ok && read.problems).toEqual(
      expect.arrayContaining([
        'DestinationRates.csv:4: 5 fields, where a row has 7 (Id, DestinationId, RatesTag, RoundingMethod, RoundingDecimals, MaxCost, MaxCostStrategy)',
        'RatingProfiles.csv:2: 8 fields, where a row has 6 (Tenant, Category, Subject, ActivationTime, RatingPlanId, RatesFallbackSubject)',
      ]),
    );
  });

  it('lets the heaviest of a prefix’s destination rates price it, whatever their order, and refuses a tie between the heaviest', () => {
    const plan = (...rows: string[]) => ({
      ...RETAIL,
      'DestinationRates.csv': `${RETAIL['DestinationRates.csv']}\nDR_DE2,DST_DE,RT_SG_MOBILE,*up,4,0,\nDR_DE3,DST_DE,RT_UK_MOBILE,*up,4,0,`,
      'RatingPlans.csv': `#Id,DestinationRatesId,TimingTag,Weight\n${rows.join('\n')}`,
    });
    for (const order of [
      ['RP_RETAIL,DR_DE,*any,10', 'RP_RETAIL,DR_DE2,*any,10', 'RP_RETAIL,DR_DE3,*any,20'],
      ['RP_RETAIL,DR_DE3,*any,20', 'RP_RETAIL,DR_DE,*any,10', 'RP_RETAIL,DR_DE2,*any,10'],
    ]) {
      const read = readCgratesTariffPlan(tariffPlan(plan(...order)));
      if (!read.ok) throw new Error(read.problems.join('\n'));
      expect(new Set(read.decks[0]!.rows.map((row) => row.rate.n * 1000n / row.rate.d))).toEqual(new Set([85n]));
    }
    const tied = readCgratesTariffPlan(tariffPlan(plan('RP_RETAIL,DR_DE,*any,20', 'RP_RETAIL,DR_DE2,*any,20', 'RP_RETAIL,DR_DE3,*any,10')));
    expect(tied).toMatchObject({ ok: false, problems: ['RatingPlans.csv:2,3: RP_RETAIL prices 49 twice with the same weight (DR_DE, DR_DE2)'] });
  });

  it('refuses a weight it cannot read, which would leave the price of a prefix to line order', () => {
    const read = readCgratesTariffPlan(tariffPlan({ ...RETAIL, 'RatingPlans.csv': RETAIL['RatingPlans.csv'].replace('RP_RETAIL,DR_DE,*any,10', 'RP_RETAIL,DR_DE,*any,abc') }));
    expect(read).toMatchObject({ ok: false, problems: ['RatingPlans.csv:4: RP_RETAIL has the Weight "abc", not a number'] });
  });

  it('takes a Timings.csv with timings no plan uses, and lists a file it cannot read once, not every reference to it', () => {
    const stock = '#Tag,Years,Months,MonthDays,WeekDays,Time\nALWAYS,*any,*any,*any,*any,00:00:00\nASAP,*any,*any,*any,*any,*asap\nPEAK,*any,*any,*any,1;2;3;4;5,08:00:00';
    expect(readCgratesTariffPlan(tariffPlan({ ...RETAIL, 'Timings.csv': stock })).ok).toBe(true);
    const read = readCgratesTariffPlan(tariffPlan({ ...RETAIL, 'Rates.csv': `${RETAIL['Rates.csv']}\nRT_X,"0,0.1,60s,60s,0s` }));
    expect(read.ok || read.problems).toEqual([expect.stringMatching(/^Rates\.csv: .*quote/i)]);
  });

  it('refuses references to what the folder does not define', () => {
    const read = readCgratesTariffPlan(tariffPlan({ ...RETAIL, 'RatingPlans.csv': '#Id,DestinationRatesId,TimingTag,Weight\nRP_RETAIL,DR_NOWHERE,*any,10' }));
    expect(read).toMatchObject({ ok: false, problems: [expect.stringContaining('unknown destination rates DR_NOWHERE')] });
    expect(readCgratesTariffPlan(tariffPlan({ 'Rates.csv': 'x' })).ok).toBe(false);
  });
});
