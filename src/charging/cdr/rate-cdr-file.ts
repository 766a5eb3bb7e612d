import type { Readable } from 'node:stream';
import { BillPeriods, type Charge } from '../../billing/charge.ts';
import { insertCharges } from '../../billing/charge-store.ts';
import { newId } from '../../ids.ts';
import { isUniqueViolation, type Queryable } from '../../store/database.ts';
import type { Currency } from '../../money/index.ts';
import { findOrganizationsByCodes, findTimeZones } from '../../organizations/organization-store.ts';
import { listAccountsOfOrganizations } from '../../ledger/ledger-store.ts';
import { spendingAccountCode } from '../../organizations/organization.ts';
import type { Organization } from '../../organizations/organization.ts';
import { parseWalletId } from '../../organizations/wallet-id.ts';
import type { CompiledDeck } from '../../rating/compiled-deck.ts';
import { callCost, priceEvent } from '../../rating/price.ts';
import type { RatePlan } from '../../rating/rate-plan.ts';
import type { RateDeck, RateDeckVersion } from '../../rating/rate-deck-store.ts';
import { versionInForce } from '../../rating/rating.ts';
import { usageAccounts, type ChargingDeps } from '../charging-deps.ts';
import { chargeKindOf } from '../usage-record.ts';
import { existingUsageKeys } from '../usage-store.ts';
import type { Cdr, CdrFormat } from './cdr.ts';
import { parseCdrBatches } from './parse-cdrs.ts';
import { USAGE_COPY_COLUMNS, usageLineHead } from './usage-copy.ts';
import { UsageIds } from './usage-ids.ts';

export interface CdrProblem {
  readonly line: number;
  readonly outcome: 'rejected' | 'duplicate';
  readonly reason: string;
}

export interface CdrReport {
  format: CdrFormat;
  dryRun: boolean;
  lines: number;
  /** Priced and charged (free calls included). */
  rated: number;
  /** Unanswered: nothing to charge. */
  skipped: number;
  rejected: number;
  duplicates: number;
  totals: { currency: Currency; amount: bigint; records: number }[];
  /** The lines not rated, up to 1,000 of them. */
  problems: CdrProblem[];
}

export interface RateCdrOptions {
  format: CdrFormat;
  timeZone: string;
  dryRun?: boolean;
  /** Shown on the charges the file creates. */
  fileName?: string;
  onProgress?: (bytes: number) => void;
  /** CDRs per chunk (tests make it small). */
  chunkSize?: number;
}

const CHUNK = 50_000;
const MAX_PROBLEMS = 1000;

/**
 * A priced CDR on its way to being stored: only what charging it needs, as a chunk's records
 * live until it is stored, and a million small objects more cost the collector seconds.
 */
interface Priced {
  readonly line: number;
  readonly externalId: string;
  readonly organization: Organization;
  readonly service: Cdr['service'];
  /** Milliseconds. */
  readonly startedAt: number;
  readonly cost: bigint;
  readonly billPeriod: string;
  /** Its usage record as a COPY line, up to the charge id (see usage-copy.ts). */
  readonly head: string;
}

/** A chunk of a file being priced: each organization's records, and the record ids seen. */
interface Chunk {
  readonly groups: Map<string, Priced[]>;
  readonly seen: Map<Organization, Set<string>>;
  /** CDRs taken in, priced or not. */
  size: number;
}

const newChunk = (): Chunk => ({ groups: new Map(), seen: new Map(), size: 0 });

const DUPLICATE = 'was rated before (in this file or an earlier one)';

/**
 * Rates a CDR file and charges each organization for its calls, streaming it in chunks. Each
 * line is rated, skipped (unanswered), a duplicate (its record id was rated before, in this file
 * or an earlier one), or rejected with its reason (unreadable, no such organization, no price, not
 * enough credit). Good lines land exactly once, whatever the bad lines are; importing a file
 * twice charges nothing the second time.
 */
export async function rateCdrFile(deps: ChargingDeps, input: Readable, options: RateCdrOptions): Promise<CdrReport> {
  const report: CdrReport = { format: options.format, dryRun: options.dryRun ?? false, lines: 0, rated: 0, skipped: 0, rejected: 0, duplicates: 0, totals: [], problems: [] };
  const organizations = new Map<string, Organization | null>();
  const zones = new Map<string, string>();
  const periods = new SlotPeriods();
  const ids = new UsageIds();
  const totals = new Map<Currency, { amount: bigint; records: number }>();
  const problem = (line: number, outcome: CdrProblem['outcome'], reason: string) => {
    if (outcome === 'rejected') report.rejected++;
    else report.duplicates++;
    report.problems.push({ line, outcome, reason });
    // The first lines not rated are kept, whichever chunk's step found them first.
    if (report.problems.length >= 2 * MAX_PROBLEMS) report.problems = firstProblems(report.problems);
  };
  const rated = (priced: Priced) => {
    report.rated++;
    const total = totals.get(priced.organization.currency);
    if (total) {
      total.amount += priced.cost;
      total.records++;
    } else totals.set(priced.organization.currency, { amount: priced.cost, records: 1 });
  };

  /**
   * Prices CDRs into a chunk: each organization's records, without the file's repeats and the
   * lines that cannot be priced. Done a batch at a time, so that the CDRs themselves never
   * outlive a young-generation collection.
   */
  const priceInto = async (chunk: Chunk, cdrs: readonly Cdr[]): Promise<void> => {
    chunk.size += cdrs.length;
    const added = await resolveOrganizations(deps, cdrs, organizations);
    for (const [id, zone] of await findTimeZones(deps.db, added.map((organization) => organization.id))) zones.set(id, zone);
    await prefetchAccounts(deps, added);
    const pricing = await pricingFor(deps, cdrs, organizations, zones);
    const createdAt = deps.clock.now().toISOString();
    for (const cdr of cdrs) {
      const organization = organizations.get(cdr.accountCode);
      if (!organization) {
        problem(cdr.line, 'rejected', `no organization has the account code or wallet ID "${cdr.accountCode}"`);
        continue;
      }
      if (organization.status !== 'active') {
        problem(cdr.line, 'rejected', `organization ${organization.name} is ${organization.status}`);
        continue;
      }
      // Within a chunk, repeats are caught here; a record of an earlier chunk is already stored,
      // and storing finds it. Memory stays bounded by the chunk, not the file.
      let known = chunk.seen.get(organization);
      if (!known) chunk.seen.set(organization, (known = new Set()));
      if (known.has(cdr.externalId)) {
        problem(cdr.line, 'duplicate', `record ${cdr.externalId} appears earlier in this file`);
        continue;
      }
      known.add(cdr.externalId);
      const found = pricing.plan(organization, cdr);
      if (!found.ok) {
        problem(cdr.line, 'rejected', found.reason);
        continue;
      }
      const price = cdr.service === 'voice' ? callCost(found.plan, cdr.quantity) : priceEvent(found.plan, cdr.quantity);
      const billPeriod = periods.of(cdr.startedAt.getTime(), zones.get(organization.id)!);
      const head = usageLineHead({
        id: ids.next(),
        organizationId: organization.id,
        service: cdr.service,
        destination: cdr.destination,
        destinationName: found.plan.destination,
        prefix: found.plan.prefix,
        rateDeckVersionId: found.versionId,
        startedAt: cdr.startedAt,
        quantity: cdr.quantity,
        billedQuantity: price.billedSeconds,
        cost: price.cost,
        currency: organization.currency,
        billPeriod,
        externalId: cdr.externalId,
        createdAt,
      });
      const priced: Priced = { line: cdr.line, externalId: cdr.externalId, organization, service: cdr.service, startedAt: cdr.startedAt.getTime(), cost: price.cost, billPeriod, head };
      const group = chunk.groups.get(organization.id);
      if (group) group.push(priced);
      else chunk.groups.set(organization.id, [priced]);
    }
  };

  /** Whether the last chunk found records stored before: then the next looks for them first. */
  let lookFirst = false;
  /** Charges a priced chunk and stores its records. */
  const store = async (groups: Priced[][]): Promise<void> => {
    if (report.dryRun) {
      ({ groups } = await withoutStored(deps, groups, problem));
      for (const group of groups) group.forEach(rated);
      return;
    }
    const verified = lookFirst;
    if (lookFirst) ({ groups, found: lookFirst } = await withoutStored(deps, groups, problem));
    let outcome: Awaited<ReturnType<typeof charge>>;
    try {
      outcome = await charge(deps, groups, options.fileName, verified, problem);
    } catch (error) {
      if (!(error instanceof StoredBefore)) throw error;
      // Some of the chunk was stored before (a file imported again): nothing of the attempt
      // landed. Look them up, and do so first for the chunks after, as long as it finds some.
      ({ groups, found: lookFirst } = await withoutStored(deps, groups, problem));
      outcome = await charge(deps, groups, options.fileName, true, problem);
    }
    for (const priced of outcome.charged) rated(priced);
    for (const { priced, reason, outcome: kind } of outcome.refused) problem(priced.line, kind, reason);
  };

  // A chunk is priced while the one before it is stored: on a database server, the two overlap.
  let storing: Promise<void> = Promise.resolve();
  const flush = async (chunk: Chunk) => {
    await storing;
    storing = store([...chunk.groups.values()]);
    // Awaited before the next chunk is stored, or at the end; a failure is seen there.
    storing.catch(() => undefined);
  };

  const chunkSize = options.chunkSize ?? CHUNK;
  let chunk = newChunk();
  for await (const batch of parseCdrBatches(input, { format: options.format, timeZone: options.timeZone })) {
    options.onProgress?.(batch.bytes);
    const cdrs: Cdr[] = [];
    for (const line of batch.lines) {
      report.lines++;
      if (line.kind === 'malformed') problem(line.line, 'rejected', `malformed: ${line.reason}`);
      else if (line.kind === 'unanswered') report.skipped++;
      else cdrs.push(line.cdr);
    }
    for (let from = 0; from < cdrs.length; ) {
      const to = Math.min(cdrs.length, from + chunkSize - chunk.size);
      await priceInto(chunk, from === 0 && to === cdrs.length ? cdrs : cdrs.slice(from, to));
      from = to;
      if (chunk.size >= chunkSize) {
        await flush(chunk);
        chunk = newChunk();
      }
    }
  }
  if (chunk.size > 0) await flush(chunk);
  await storing;
  report.totals = [...totals].map(([currency, total]) => ({ currency, ...total })).sort((a, b) => a.currency.localeCompare(b.currency));
  report.problems = firstProblems(report.problems);
  return report;
}

/**
 * Bill periods as BillPeriods works them out (once per zone and 15-minute slot), found by zone and
 * slot number: no text key made per record.
 */
class SlotPeriods {
  private readonly periods = new BillPeriods();
  private readonly zones = new Map<string, Map<number, string>>();

  of(time: number, timeZone: string): string {
    let slots = this.zones.get(timeZone);
    if (!slots) this.zones.set(timeZone, (slots = new Map()));
    const slot = Math.floor(time / 900_000);
    let period = slots.get(slot);
    if (period === undefined) {
      if (slots.size > 100_000) slots.clear();
      period = this.periods.of(new Date(time), timeZone);
      slots.set(slot, period);
    }
    return period;
  }
}

/** The problems of the first lines, in line order, up to MAX_PROBLEMS. */
function firstProblems(problems: CdrProblem[]): CdrProblem[] {
  return problems.sort((a, b) => a.line - b.line).slice(0, MAX_PROBLEMS);
}

/** Takes out of the groups the records stored before (reported as duplicates); says whether there were any. */
async function withoutStored(
  deps: ChargingDeps,
  groups: readonly Priced[][],
  problem: (line: number, outcome: CdrProblem['outcome'], reason: string) => void,
): Promise<{ groups: Priced[][]; found: boolean }> {
  const existing = await existingUsageKeys(deps.db, 'cdr', groups.flatMap((group) => group.map((priced) => ({ organizationId: priced.organization.id, externalId: priced.externalId }))));
  if (existing.size === 0) return { groups: [...groups], found: false };
  const fresh: Priced[][] = [];
  for (const group of groups) {
    const kept: Priced[] = [];
    for (const priced of group) {
      if (existing.has(`${priced.organization.id}\u0000${priced.externalId}`)) problem(priced.line, 'duplicate', `record ${priced.externalId} ${DUPLICATE}`);
      else kept.push(priced);
    }
    if (kept.length > 0) fresh.push(kept);
  }
  return { groups: fresh, found: true };
}

/** A chunk charged without looking for stored records first found some: nothing of it landed. */
class StoredBefore extends Error {}

interface Pricing {
  plan(organization: Organization, cdr: Cdr): { ok: true; plan: RatePlan; versionId: string } | { ok: false; reason: string };
}

/**
 * Looks up, for a chunk, each organization's deck, its versions and the compiled versions the
 * chunk's call times need, so that pricing each line is then a synchronous prefix lookup.
 */
async function pricingFor(deps: ChargingDeps, cdrs: readonly Cdr[], organizations: ReadonlyMap<string, Organization | null>, zones: Map<string, string>): Promise<Pricing> {
  const decks = new Map<string, { deck: RateDeck | undefined; versions: RateDeckVersion[] } | undefined>();
  const compiled = new Map<string, CompiledDeck>();
  const deckOf = new Map<string, string | undefined>();
  for (const cdr of cdrs) {
    const organization = organizations.get(cdr.accountCode);
    if (!organization) continue;
    if (!zones.has(organization.id)) zones.set(organization.id, 'UTC');
    if (!deckOf.has(organization.id)) deckOf.set(organization.id, await deps.rating.deckIdFor(organization));
    const deckId = deckOf.get(organization.id);
    if (!deckId) continue;
    if (!decks.has(deckId)) decks.set(deckId, await deps.rating.deck(deckId));
    const version = versionInForce(decks.get(deckId)?.versions ?? [], cdr.startedAt);
    if (version && !compiled.has(version.id)) compiled.set(version.id, await deps.rating.compile(version.id));
  }
  return {
    plan(organization, cdr) {
      const deckId = deckOf.get(organization.id);
      if (!deckId) return { ok: false, reason: 'the organization has no rate deck, and there is no default deck' };
      const listed = decks.get(deckId);
      if (!listed?.deck) return { ok: false, reason: `the organization’s rate deck ${deckId} does not exist` };
      if (listed.deck.currency && listed.deck.currency !== organization.currency) {
        return { ok: false, reason: `the rate deck "${listed.deck.name}" is in ${listed.deck.currency}; the organization is billed in ${organization.currency}` };
      }
      const version = versionInForce(listed.versions, cdr.startedAt);
      if (!version) return { ok: false, reason: `the rate deck "${listed.deck.name}" has no version in force at ${cdr.startedAt.toISOString()}` };
      const plan = compiled.get(version.id)!.plan(cdr.service, cdr.destination, cdr.startedAt);
      if (!plan) return { ok: false, reason: `the rate deck "${listed.deck.name}" has no ${cdr.service} price for "${cdr.destination}"` };
      return { ok: true, plan, versionId: version.id };
    },
  };
}

/** Finds the organizations the chunk names that were not known yet; answers the ones found. */
async function resolveOrganizations(deps: ChargingDeps, cdrs: readonly Cdr[], known: Map<string, Organization | null>): Promise<Organization[]> {
  const missing = [...new Set(cdrs.map((cdr) => cdr.accountCode))].filter((code) => !known.has(code));
  if (missing.length === 0) return [];
  const lookups = missing.flatMap((code) => [code, parseWalletId(code) ?? code]);
  const found = await findOrganizationsByCodes(deps.db, [...new Set(lookups)]);
  for (const code of missing) {
    const wallet = parseWalletId(code);
    known.set(code, found.find((organization) => organization.accountCode === code) ?? found.find((organization) => wallet !== undefined && organization.walletId === wallet) ?? null);
  }
  return found;
}

/**
 * Charges a chunk: one ledger posting per organization, all in one transaction with every usage
 * record and charge of the chunk. An organization whose credit does not cover its records is then
 * charged record by record, so that the ones it can pay for still land. No idempotency keys are
 * needed: a record's (organization, id) is unique, and the transaction that posts its cost is the
 * one that stores it, so a record stored before rolls the chunk back. When the records were not
 * `verified` (looked up first), that throws StoredBefore; otherwise it was a race (a retry, a
 * concurrent import), and the chunk is run again, its records now found as duplicates.
 */
async function charge(
  deps: ChargingDeps,
  groups: readonly (readonly Priced[])[],
  fileName: string | undefined,
  verified: boolean,
  problem: (line: number, outcome: CdrProblem['outcome'], reason: string) => void,
): Promise<{ charged: Priced[]; refused: { priced: Priced; reason: string; outcome: CdrProblem['outcome'] }[] }> {
  const charged: Priced[] = [];
  const refused: { priced: Priced; reason: string; outcome: CdrProblem['outcome'] }[] = [];
  const whole = await post(deps, groups, fileName, !verified);
  let retry: Priced[][] = [];
  whole.forEach((result, index) => {
    const group = groups[index]!;
    if (result === 'ok') charged.push(...group);
    else if (result === 'taken') for (const priced of group) refused.push({ priced, reason: `record ${priced.externalId} was rated before`, outcome: 'duplicate' });
    else retry.push(group.map((priced) => priced));
  });
  // Charged one by one, records stored before would each roll back a transaction: out first.
  if (!verified && retry.length > 0) ({ groups: retry } = await withoutStored(deps, retry, problem));
  for (const priced of retry.flat()) {
    const [result] = await post(deps, [[priced]], fileName, false);
    if (result === 'ok') charged.push(priced);
    else if (result === 'taken') refused.push({ priced, reason: `record ${priced.externalId} was rated before`, outcome: 'duplicate' });
    else refused.push({ priced, reason: result!.reason, outcome: 'rejected' });
  }
  return { charged, refused };
}

type Posted = 'ok' | 'taken' | { reason: string };

/** Account ids never change, so one import looks each organization's up once. */
const accountIds = new WeakMap<ChargingDeps, Map<string, Promise<{ spending: { id: string }; revenue: { id: string } }>>>();

/** Looks up the accounts of newly met organizations in one query, so charging them needs none. */
async function prefetchAccounts(deps: ChargingDeps, organizations: readonly Organization[]): Promise<void> {
  if (organizations.length === 0) return;
  let cache = accountIds.get(deps);
  if (!cache) accountIds.set(deps, (cache = new Map()));
  const accounts = await listAccountsOfOrganizations(deps.db, organizations.map((organization) => organization.id));
  for (const organization of organizations) {
    const spending = accounts.find((account) => account.organizationId === organization.id && account.code === spendingAccountCode(organization.paymentScheme) && account.currency === organization.currency);
    if (!spending) continue;
    const revenue = deps.ledger.providerAccount('revenue:usage', organization.currency);
    cache.set(`${organization.id}\u0000${organization.paymentScheme}`, revenue.then((found) => ({ spending, revenue: found })));
  }
}

function accountsFor(deps: ChargingDeps, organization: Organization): Promise<{ spending: { id: string }; revenue: { id: string } }> {
  let cache = accountIds.get(deps);
  if (!cache) accountIds.set(deps, (cache = new Map()));
  const key = `${organization.id}\u0000${organization.paymentScheme}`;
  let found = cache.get(key);
  if (!found) {
    found = usageAccounts(deps, organization);
    if (cache.size > 10_000) cache.clear();
    cache.set(key, found);
  }
  return found;
}

async function post(deps: ChargingDeps, groups: readonly (readonly Priced[])[], fileName: string | undefined, optimistic: boolean): Promise<Posted[]> {
  const now = deps.clock.now();
  const prepared = await Promise.all(
    groups.map(async (group) => {
      const organization = group[0]!.organization;
      const { lines, charges, amount } = withCharges(group, fileName, now);
      const { spending, revenue } = await accountsFor(deps, organization);
      return { organization, lines, charges, amount, records: group.length, spending, revenue };
    }),
  );
  const paying = prepared.filter((entry) => entry.amount > 0n);
  const free = prepared.filter((entry) => entry.amount === 0n);
  const commands = paying.map((entry) => ({
    transfers: [
      {
        kind: 'posted' as const,
        debitAccountId: entry.spending.id,
        creditAccountId: entry.revenue.id,
        amount: entry.amount,
        code: 'usage:cdr',
        metadata: { records: entry.records, ...(fileName ? { file: fileName } : {}) },
      },
    ],
  }));
  try {
    const results = await deps.ledger.executeAll(commands, async (tx, outcomes) => {
      const landed = [...free.map((entry) => ({ entry, transferId: null as string | null }))];
      outcomes.forEach((outcome, index) => {
        if (outcome.ok) landed.push({ entry: paying[index]!, transferId: outcome.value.transfers[0]!.id });
      });
      await copyInPieces(tx, landed.map(({ entry }) => entry.lines));
      await insertCharges(tx, landed.flatMap(({ entry, transferId }) => entry.charges.map((charge) => ({ ...charge, transferId }))));
    });
    const byOrganization = new Map<string, Posted>(free.map((entry) => [entry.organization.id, 'ok']));
    results.forEach((result, index) => {
      const entry = paying[index]!;
      byOrganization.set(entry.organization.id, result.ok ? 'ok' : { reason: result.code === 'insufficient_credit' ? `${entry.organization.name} does not have enough usable credit` : result.message });
    });
    return prepared.map((entry) => byOrganization.get(entry.organization.id)!);
  } catch (error) {
    // COPY fails on a record stored before, and with it the whole transaction.
    if (!isUniqueViolation(error)) throw error;
    if (optimistic) throw new StoredBefore('records of the chunk were stored before');
    // Someone stored some of these records first: find which, and charge the rest again.
    if (groups.length === 1 && groups[0]!.length === 1) return ['taken'];
    const existing = await existingUsageKeys(deps.db, 'cdr', groups.flat().map((priced) => ({ organizationId: priced.organization.id, externalId: priced.externalId })));
    const outcomes: Posted[] = [];
    for (const group of groups) {
      const fresh = group.filter((priced) => !existing.has(`${priced.organization.id}\u0000${priced.externalId}`));
      outcomes.push(fresh.length === 0 ? 'taken' : (await post(deps, [fresh], fileName, false))[0]!);
    }
    return outcomes;
  }
}

/** Records per COPY statement. */
const COPY_PIECE = 10_000;

/**
 * Stores the records' lines (each record a run of strings ending in a line break) with COPY,
 * at most `pieceSize` records per statement, in the caller's transaction. PGlite's WASM memory
 * grows to the largest input it has been handed and never shrinks, and one text of a whole
 * chunk is a copy of the chunk the collector must keep besides its records.
 */
export async function copyInPieces(tx: Queryable, groups: readonly (readonly string[])[], pieceSize = COPY_PIECE): Promise<void> {
  let piece: string[] = [];
  let records = 0;
  for (const lines of groups) {
    for (const line of lines) {
      piece.push(line);
      if (line !== '\n') continue;
      if (++records === pieceSize) {
        await tx.copyFromCsv('usage_records', USAGE_COPY_COLUMNS, piece.join(''));
        piece = [];
        records = 0;
      }
    }
  }
  if (records > 0) await tx.copyFromCsv('usage_records', USAGE_COPY_COLUMNS, piece.join(''));
}

/**
 * One charge per service and bill period, for the next invoice; each record's COPY line, pointing
 * at its charge; and the total.
 */
function withCharges(group: readonly Priced[], fileName: string | undefined, now: Date): { lines: string[]; charges: Charge[]; amount: bigint } {
  const organization = group[0]!.organization;
  const charges = new Map<string, { id: string; service: Cdr['service']; billPeriod: string; amount: bigint; occurredAt: number }>();
  const lines: string[] = [];
  let amount = 0n;
  // A group's records are mostly of one service and period.
  let last: { id: string; service: Cdr['service']; billPeriod: string; amount: bigint; occurredAt: number } | undefined;
  for (const priced of group) {
    if (priced.cost === 0n) {
      lines.push(priced.head, '\n');
      continue;
    }
    const { service, startedAt } = priced;
    let charge = last && last.service === service && last.billPeriod === priced.billPeriod ? last : charges.get(`${service}|${priced.billPeriod}`);
    if (!charge) charges.set(`${service}|${priced.billPeriod}`, (charge = { id: newId('chg'), service, billPeriod: priced.billPeriod, amount: 0n, occurredAt: startedAt }));
    last = charge;
    charge.amount += priced.cost;
    if (startedAt < charge.occurredAt) charge.occurredAt = startedAt;
    amount += priced.cost;
    lines.push(priced.head, charge.id, '\n');
  }
  return {
    lines,
    amount,
    charges: [...charges.values()].map((charge) => ({
      id: charge.id,
      organizationId: organization.id,
      kind: chargeKindOf(charge.service),
      description: `${fileName ?? 'CDR file'}: ${charge.service}`,
      amount: charge.amount,
      currency: organization.currency,
      billPeriod: charge.billPeriod,
      occurredAt: new Date(charge.occurredAt),
      transferId: null,
      invoiceId: null,
      createdAt: now,
    })),
  };
}
