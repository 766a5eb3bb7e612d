import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { checkRows, MAX_WHOLE, parseIsoTime, prefixProblem } from './parse-rate-deck.ts';
import { MAX_CALL_SECONDS } from './price.ts';
import { TIME_RANGE } from '../clock/clock.ts';
import { parseDecimal, ZERO } from './rational.ts';
import { DEFAULT_ROUNDING, type RateRow, type Rounding, type Service } from './rate-plan.ts';

/** A rating plan of the tariff plan, as Ringbill rows, with when it comes into force. */
export interface CgratesDeck {
  readonly name: string;
  readonly effectiveFrom: Date;
  readonly rows: RateRow[];
}

export type CgratesImport = { ok: true; decks: CgratesDeck[] } | { ok: false; problems: string[] };

const CATEGORIES: Record<string, Service> = { call: 'voice', voice: 'voice', sms: 'sms', fax: 'fax' };
const ROUNDING: Record<string, Rounding['method']> = { '*up': 'up', '*down': 'down', '*middle': 'half_up' };
/** Files of a tariff plan that carry rating behaviour Ringbill does not have: present and non-empty, they refuse the import. */
const UNSUPPORTED_FILES = ['SharedGroups.csv', 'ActionPlans.csv', 'Actions.csv', 'ActionTriggers.csv', 'AccountActions.csv', 'Chargers.csv', 'Filters.csv'];

/** The columns of each file a tariff plan is read from, as CGRateS writes them. */
const COLUMNS: Record<string, readonly string[]> = {
  'Destinations.csv': ['Id', 'Prefix'],
  'Rates.csv': ['Id', 'ConnectFee', 'Rate', 'RateUnit', 'RateIncrement', 'GroupIntervalStart'],
  'DestinationRates.csv': ['Id', 'DestinationId', 'RatesTag', 'RoundingMethod', 'RoundingDecimals', 'MaxCost', 'MaxCostStrategy'],
  'RatingPlans.csv': ['Id', 'DestinationRatesId', 'TimingTag', 'Weight'],
  'RatingProfiles.csv': ['Tenant', 'Category', 'Subject', 'ActivationTime', 'RatingPlanId', 'RatesFallbackSubject'],
  'Timings.csv': ['Id', 'Years', 'Months', 'MonthDays', 'WeekDays', 'Time'],
};

/** A row of a tariff plan file, with the line it starts on. */
interface Row {
  readonly line: number;
  readonly fields: string[];
}

/** A file's rows; undefined when it is missing or cannot be read as CSV (both listed). */
function read(dir: string, file: string, required: boolean, problems: string[]): Row[] | undefined {
  const where = path.join(dir, file);
  if (!existsSync(where)) {
    if (required) problems.push(`${file} is missing`);
    return required ? undefined : [];
  }
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(readFileSync(where, 'utf8'), { comment: '#', skip_empty_lines: true, trim: true, relax_column_count: true, info: true }) as unknown as typeof records;
  } catch (error) {
    problems.push(`${file}: ${(error as Error).message}`);
    return undefined;
  }
  const columns = COLUMNS[file];
  const rows: Row[] = [];
  for (const { record, info } of records) {
    if (!record.some((cell) => cell !== '')) continue;
    // A row short of a column would take its default (no cap, say), and one with more may be an
    // older CGRateS layout whose fields mean other things: neither is read as if it fitted.
    if (columns && record.length !== columns.length) {
      problems.push(`${file}:${info.lines}: ${record.length} fields, where a row has ${columns.length} (${columns.join(', ')})`);
      continue;
    }
    rows.push({ line: info.lines, fields: record });
  }
  return rows;
}

/** CGRateS durations: "60s", "1m", "0s", "1h", or bare seconds; undefined beyond `most` seconds. */
function seconds(text: string, most: number): number | undefined {
  const match = /^(\d+)(s|m|h)?$/.exec(text.trim());
  if (!match) return undefined;
  const value = Number(match[1]) * (match[2] === 'm' ? 60 : match[2] === 'h' ? 3600 : 1);
  return value <= most ? value : undefined;
}

/**
 * Reads a CGRateS tariff plan folder (Destinations, Rates, DestinationRates, RatingPlans,
 * RatingProfiles; Timings `*any`) into one deck per rating plan. What has no Ringbill meaning
 * (other timings, subject-specific profiles, fallback subjects, shared groups) is listed and the
 * whole import is refused, so nothing half-mapped ever prices a call. See docs/rating.md.
 */
export function readCgratesTariffPlan(dir: string): CgratesImport {
  const problems: string[] = [];
  const destinations = read(dir, 'Destinations.csv', true, problems);
  const rates = read(dir, 'Rates.csv', true, problems);
  const destinationRates = read(dir, 'DestinationRates.csv', true, problems);
  const ratingPlans = read(dir, 'RatingPlans.csv', true, problems);
  const ratingProfiles = read(dir, 'RatingProfiles.csv', true, problems);
  const timings = read(dir, 'Timings.csv', false, problems);
  for (const file of UNSUPPORTED_FILES) if ((read(dir, file, false, problems)?.length ?? 0) > 0) problems.push(`${file} has rows: ${file.replace('.csv', '')} cannot be mapped to a rate deck`);
  // A file that could not be read is listed once: what names its ids is not listed again as unknown.
  const unknown = (rows: Row[] | undefined, problem: string) => {
    if (rows) problems.push(problem);
  };
  // A timing that matches every moment (the usual ALWAYS row) is *any under another name. Others
  // refuse the import only when a rating plan uses them: a stock Timings.csv has ASAP and PEAK.
  const always = new Set(['*any']);
  const otherTimings = new Map<string, string>();
  for (const { fields } of timings ?? []) {
    const [tag, years, months, monthDays, weekDays, time] = fields;
    if ([years, months, monthDays, weekDays].every((field) => field === '*any') && ['00:00:00', '*any', ''].includes(time!)) always.add(tag!);
    else otherTimings.set(tag!, fields.slice(1).join(' '));
  }
  // On with the other files whatever these found: the import lists all it cannot map at once.

  const prefixes = new Map<string, string[]>();
  for (const { line, fields: [id, prefix] } of destinations ?? []) {
    const at = `Destinations.csv:${line}`;
    const wrong = /^\+?\d*$/.test(prefix!) ? prefixProblem(prefix!.replace('+', '')) : 'is not E.164 digits';
    // The id becomes the rows' destination name, shown on price lists: as a CSV deck's, no control characters.
    if (id && /\p{Cc}/u.test(id)) {
      problems.push(`${at}: the destination ${JSON.stringify(id)} holds a control character`);
      continue;
    }
    if (!id || wrong) {
      problems.push(id ? `${at}: ${id} has the prefix "${prefix}", which ${wrong}` : `${at}: the prefix "${prefix}" has no destination id`);
      continue;
    }
    prefixes.set(id, [...(prefixes.get(id) ?? []), prefix!.replace('+', '')]);
  }
  const slots = new Map<string, { connectFee: string; rate: string; unit: number; increment: number; start: number; line: number }[]>();
  for (const { line, fields: [id, connectFee, rate, unit, increment, start] } of rates ?? []) {
    const parsed = {
      connectFee: connectFee || '0',
      rate: rate!,
      unit: seconds(unit!, MAX_WHOLE),
      // As a CSV deck's increments: no block longer than a call, so billed seconds stay storable.
      increment: seconds(increment!, MAX_CALL_SECONDS),
      start: seconds(start || '0s', MAX_WHOLE),
    };
    const wrong = [
      ...(parseDecimal(parsed.connectFee) ? [] : [`ConnectFee "${connectFee}"`]),
      ...(parseDecimal(parsed.rate) ? [] : [`Rate "${rate}"`]),
    ].map((field) => `${field} is not a non-negative decimal of up to 12 places`);
    if (!parsed.unit) wrong.push(`RateUnit "${unit}" is not a duration from 1s to ${MAX_WHOLE}s`);
    if (!parsed.increment) wrong.push(`RateIncrement "${increment}" is not a duration from 1s to ${MAX_CALL_SECONDS}s`);
    if (parsed.start === undefined) wrong.push(`GroupIntervalStart "${start}" is not a duration from 0s to ${MAX_WHOLE}s`);
    if (wrong.length > 0 || !parsed.unit || !parsed.increment || parsed.start === undefined) {
      problems.push(`Rates.csv:${line}: ${id}: ${wrong.join('; ')}`);
      continue;
    }
    slots.set(id!, [...(slots.get(id!) ?? []), { ...parsed, unit: parsed.unit, increment: parsed.increment, start: parsed.start, line }]);
  }
  const drs = new Map<string, { destination: string; rates: string; rounding: Rounding; maxCost: string; strategy: string }[]>();
  for (const { line, fields: [id, destination, ratesTag, method, decimals, maxCost, strategy] } of destinationRates ?? []) {
    const at = `DestinationRates.csv:${line}: ${id}`;
    const rounding = { method: ROUNDING[method || '*middle'], decimals: decimals === '' ? DEFAULT_ROUNDING.decimals : Number(decimals) };
    if (!rounding.method) problems.push(`${at} rounds with ${method}, which cannot be mapped (*up, *down, *middle)`);
    if (!Number.isInteger(rounding.decimals) || rounding.decimals < 0 || rounding.decimals > 6) problems.push(`${at} rounds to ${decimals} decimals; Ringbill keeps 0 to 6`);
    if (strategy && strategy !== '*free' && strategy !== '*disconnect') problems.push(`${at} has MaxCostStrategy ${strategy}, which cannot be mapped`);
    // A cap that cannot be read must not become "no cap": the calls would cost more than the plan says.
    if (maxCost && !parseDecimal(maxCost)) problems.push(`${at} has MaxCost "${maxCost}", not a non-negative decimal`);
    if (!prefixes.has(destination!)) unknown(destinations, `${at} names the unknown destination ${destination}`);
    if (!slots.has(ratesTag!)) unknown(rates, `${at} names the unknown rates ${ratesTag}`);
    drs.set(id!, [...(drs.get(id!) ?? []), { destination: destination!, rates: ratesTag!, rounding: rounding as Rounding, maxCost: maxCost!, strategy: strategy! }]);
  }
  const plans = new Map<string, { dr: string; weight: number; line: number }[]>();
  for (const { line, fields: [id, dr, timing, weight] } of ratingPlans ?? []) {
    const at = `RatingPlans.csv:${line}: ${id}`;
    if (!always.has(timing!)) {
      const other = otherTimings.get(timing!);
      problems.push(
        other === undefined
          ? `${at} uses the timing ${timing}, which Timings.csv does not define; only *any (or a timing that matches every moment) can be mapped`
          : `${at} uses the timing ${timing} (${other}), which cannot be mapped: only a timing that matches every moment can`,
      );
    }
    if (!drs.has(dr!)) unknown(destinationRates, `${at} names the unknown destination rates ${dr}`);
    // Which of two destination rates prices a prefix goes by weight: one unread would leave it to line order.
    const parsedWeight = weight === '' ? 0 : /^-?\d+(\.\d+)?$/.test(weight!) ? Number(weight) : undefined;
    if (parsedWeight === undefined) {
      problems.push(`${at} has the Weight "${weight}", not a number`);
      continue;
    }
    plans.set(id!, [...(plans.get(id!) ?? []), { dr: dr!, weight: parsedWeight, line }]);
  }
  /** Each plan's services, each from its own profile's ActivationTime (the earliest, for several tenants). */
  const activation = new Map<string, Map<Service, Date>>();
  const profiles = new Map<string, string>();
  for (const { line, fields: [tenant, category, subject, activationTime, plan, fallback] } of ratingProfiles ?? []) {
    const at = `RatingProfiles.csv:${line}: ${tenant} ${category}`;
    // A later profile for the same tenant and category switches its plan on a date: one
    // Ringbill deck per plan cannot say that, so the switch is refused, not lost.
    const earlier = profiles.get(`${tenant}|${category}|${subject}`);
    if (earlier !== undefined) problems.push(`${at} ${subject} has more than one profile (${earlier} and ${plan} from ${activationTime}); a change of plan over time cannot be mapped: import each plan, then give the organizations the new deck`);
    profiles.set(`${tenant}|${category}|${subject}`, plan!);
    const service = CATEGORIES[category!];
    if (!service) problems.push(`${at}: the category cannot be mapped (call, sms, fax)`);
    if (subject !== '*any') problems.push(`${at} ${subject}: a subject-specific profile cannot be mapped; import its plan and give the organization that deck`);
    if (fallback) problems.push(`${at} ${subject}: fallback subjects cannot be mapped`);
    if (!plans.has(plan!)) unknown(ratingPlans, `${at} names the unknown rating plan ${plan}`);
    // With an offset only: CGRateS reads a time without one in its own configured zone.
    const time = /T.*(Z|[+-]\d{2}:?\d{2})$/.test(activationTime!) ? parseIsoTime(activationTime!) : undefined;
    if (!time) problems.push(`${at}: ActivationTime "${activationTime}" is not an ISO 8601 time with an offset (2026-01-01T00:00:00Z), ${TIME_RANGE}`);
    if (!service || !time || !plan) continue;
    const services = activation.get(plan) ?? new Map<Service, Date>();
    const known = services.get(service);
    services.set(service, known && known < time ? known : time);
    activation.set(plan, services);
  }
  // The decks are built whatever was found so far, so that their own checks are listed with the
  // rest; what a reference names but the folder lacks was listed above and is skipped here.

  const decks: CgratesDeck[] = [];
  for (const [plan, services] of activation) {
    const rows: RateRow[] = [];
    // A prefix priced by two destination rates goes to the heavier one, as CGRateS does.
    // Two of the heaviest weight are a tie CGRateS would settle by chance; a lighter tie is no conflict.
    const chosen = new Map<string, { weight: number; dr: string; line: number; tie?: { dr: string; line: number } }>();
    for (const { dr, weight, line } of plans.get(plan) ?? []) {
      for (const entry of drs.get(dr) ?? []) {
        for (const prefix of prefixes.get(entry.destination) ?? []) {
          const earlier = chosen.get(prefix);
          if (!earlier || weight > earlier.weight) chosen.set(prefix, { weight, dr, line });
          else if (earlier.weight === weight && earlier.dr !== dr) earlier.tie ??= { dr, line };
        }
      }
    }
    for (const [prefix, { dr, line, tie }] of chosen) {
      if (tie) problems.push(`RatingPlans.csv:${line},${tie.line}: ${plan} prices ${prefix || '(any)'} twice with the same weight (${dr}, ${tie.dr})`);
    }
    let line = 0;
    const origins: string[] = [];
    for (const [service, at] of services) {
      for (const [prefix, { dr, line: planLine }] of chosen) {
        for (const entry of drs.get(dr) ?? []) {
          if (!prefixes.get(entry.destination)?.includes(prefix)) continue;
          const sorted = [...(slots.get(entry.rates) ?? [])].sort((a, b) => a.start - b.start);
          if (sorted.length > 0 && sorted[0]!.start !== 0) problems.push(`Rates.csv:${sorted[0]!.line}: ${entry.rates} has no rate from 0s`);
          const maxCost = entry.maxCost && parseDecimal(entry.maxCost) && parseDecimal(entry.maxCost)!.n > 0n ? parseDecimal(entry.maxCost)! : null;
          for (const slot of sorted) {
            origins[line + 1] = `${planLine}: ${plan} prices ${service} ${prefix || '(any)'} with ${entry.rates}`;
            rows.push({
              line: ++line,
              service,
              prefix,
              destination: entry.destination,
              // CGRateS charges the connect fee of the first slot, once.
              connectFee: slot.start === 0 ? parseDecimal(slot.connectFee)! : ZERO,
              rate: parseDecimal(slot.rate)!,
              rateUnitSeconds: slot.unit,
              firstIncrementSeconds: slot.increment,
              nextIncrementSeconds: slot.increment,
              intervalStartSeconds: slot.start,
              minDurationSeconds: 0,
              rounding: entry.rounding,
              maxCost,
              maxCostStrategy: maxCost ? (entry.strategy === '*disconnect' ? 'disconnect' : 'free') : null,
              effectiveFrom: at,
              effectiveTo: null,
            });
          }
        }
      }
    }
    // The checks of a CSV deck: what they refuse there would be stored here and not export back.
    for (const problem of checkRows(rows).problems) problems.push(`RatingPlans.csv:${origins[problem.line]}: ${problem.message.replace(/^line \d+/, 'another slot')}`);
    // The version is in force from the first service's activation; each row from its own.
    const effectiveFrom = new Date(Math.min(...[...services.values()].map((at) => at.getTime())));
    decks.push({ name: plan, effectiveFrom, rows });
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, decks };
}
