import type { Readable } from 'node:stream';
import { BillPeriods, type Charge } from '../../billing/charge.ts';
import { insertCharges } from '../../billing/charge-store.ts';
import { isUniqueViolation } from '../../store/database.ts';
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
import { MAX_RECORD_COST, PricedChunk, type ChunkGroup } from './priced-chunk.ts';
import { USAGE_COPY_COLUMNS } from './usage-copy.ts';
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
const FIRST_CHUNK = 10_000;
const MAX_PROBLEMS = 1000;

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
  const rated = (group: ChunkGroup) => {
    report.rated += group.records;
    const total = totals.get(group.organization.currency);
    if (total) {
      total.amount += group.amount;
      total.records += group.records;
    } else totals.set(group.organization.currency, { amount: group.amount, records: group.records });
  };

  /**
   * Prices CDRs into a chunk: each organization's records, without the lines that cannot be
   * priced (the file's repeats are found when the chunk is stored). Done a batch at a time, so
   * that the CDRs themselves never outlive a young-generation collection.
   */
  const priceInto = async (chunk: PricedChunk, cdrs: readonly Cdr[]): Promise<void> => {
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
      const found = pricing.plan(organization, cdr);
      if (!found.ok) {
        problem(cdr.line, 'rejected', found.reason);
        continue;
      }
      const price = cdr.service === 'voice' ? callCost(found.plan, cdr.quantity) : priceEvent(found.plan, cdr.quantity);
      if (price.cost > MAX_RECORD_COST) {
        problem(cdr.line, 'rejected', `its cost (${price.cost} micro-units) is more than a usage record can hold`);
        continue;
      }
      chunk.add(cdr.line, organization, {
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
        billPeriod: periods.of(cdr.startedAt.getTime(), zones.get(organization.id)!),
        externalId: cdr.externalId,
        createdAt,
      });
    }
  };

  /** Whether the last chunk found records stored before: then the next looks for them first. */
  let lookFirst = false;
  /** Charges a priced chunk and stores its records. */
  const store = async (chunk: PricedChunk): Promise<void> => {
    if (report.dryRun) {
      await dropStored(deps, chunk, problem);
      chunk.groups().forEach(rated);
      return;
    }
    const verified = lookFirst;
    if (lookFirst) lookFirst = await dropStored(deps, chunk, problem);
    try {
      await charge(deps, chunk, options.fileName, verified, problem, rated);
    } catch (error) {
      if (!(error instanceof StoredBefore)) throw error;
      // Some of the chunk was stored before (a file imported again): nothing of the attempt
      // landed. Look them up, and do so first for the chunks after, as long as it finds some.
      lookFirst = await dropStored(deps, chunk, problem);
      await charge(deps, chunk, options.fileName, true, problem, rated);
    }
  };

  // A chunk is priced while the ones before it are stored. On a database server the two overlap,
  // and two chunks are stored at once: each copies its records while the other posts.
  const parallel = deps.db.kind === 'postgres' ? 2 : 1;
  const storing = new Set<Promise<void>>();
  let failed: { error: unknown } | undefined;
  const flush = async (chunk: PricedChunk) => {
    while (storing.size >= parallel) await Promise.race(storing);
    if (failed) throw failed.error;
    const stored: Promise<void> = store(chunk)
      .catch((error: unknown) => {
        failed ??= { error };
      })
      .finally(() => storing.delete(stored));
    storing.add(stored);
  };

  const chunkSize = options.chunkSize ?? CHUNK;
  // The first chunk is smaller: nothing is stored until it is priced.
  let limit = Math.min(chunkSize, FIRST_CHUNK);
  let chunk = new PricedChunk(limit);
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
      const to = Math.min(cdrs.length, from + limit - chunk.size);
      await priceInto(chunk, from === 0 && to === cdrs.length ? cdrs : cdrs.slice(from, to));
      from = to;
      if (chunk.size >= limit) {
        await flush(chunk);
        limit = chunkSize;
        chunk = new PricedChunk(limit);
      }
    }
  }
  if (chunk.size > 0) await flush(chunk);
  await Promise.all(storing);
  if (failed) throw failed.error;
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

type Problem = (line: number, outcome: CdrProblem['outcome'], reason: string) => void;

/** Drops the chunk's repeats of a record earlier in it, reported as duplicates; says whether there were any. */
function dropRepeats(chunk: PricedChunk, problem: Problem): boolean {
  const repeats = chunk.dropRepeats();
  for (const record of repeats) problem(chunk.lines[record]!, 'duplicate', `record ${chunk.externalId(record)} appears earlier in this file`);
  return repeats.length > 0;
}

/**
 * Drops from the chunk its repeats (see dropRepeats) and the records stored before (of the given
 * organizations only, when given), reported as duplicates; says whether any were stored before.
 */
async function dropStored(deps: ChargingDeps, chunk: PricedChunk, problem: Problem, organizations?: ReadonlySet<number>): Promise<boolean> {
  dropRepeats(chunk, problem);
  const records = [...chunk.live(organizations)];
  const existing = await existingUsageKeys(deps.db, 'cdr', records.map((record) => ({ organizationId: chunk.organizationOfRecord(record).id, externalId: chunk.externalId(record) })));
  if (existing.size === 0) return false;
  for (const record of records) {
    const externalId = chunk.externalId(record);
    if (!existing.has(`${chunk.organizationOfRecord(record).id}\u0000${externalId}`)) continue;
    chunk.drop(record);
    problem(chunk.lines[record]!, 'duplicate', `record ${externalId} ${DUPLICATE}`);
  }
  return true;
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
async function charge(deps: ChargingDeps, chunk: PricedChunk, fileName: string | undefined, verified: boolean, problem: Problem, rated: (group: ChunkGroup) => void): Promise<void> {
  const short = new Set<number>();
  for (const { group, result } of await post(deps, chunk, fileName, !verified, problem)) {
    if (result === 'ok') rated(group);
    else short.add(group.index);
  }
  if (short.size === 0) return;
  // Charged one by one, records stored before would each roll back a transaction: out first.
  dropRepeats(chunk, problem);
  if (!verified) await dropStored(deps, chunk, problem, short);
  for (const record of [...chunk.live(short)]) {
    const alone = chunk.single(record);
    for (const { group, result } of await post(deps, alone, fileName, false, problem)) {
      if (result === 'ok') rated(group);
      else problem(alone.lines[0]!, 'rejected', result.reason);
    }
  }
}

type Posted = 'ok' | { reason: string };

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

/** Thrown in a chunk's transaction when postings were refused after its records were copied: it rolls the copy back. */
class Refused extends Error {
  constructor(readonly organizations: ReadonlyMap<number, { reason: string }>) {
    super('the credit does not cover some organizations’ records');
  }
}

/**
 * Posts each organization's records of the chunk and, in the same transaction, stores the records
 * and charges of those whose posting succeeded; answers each organization's outcome. The records
 * are copied before the postings lock accounts, so that chunks stored at the same time copy at
 * the same time; an organization whose posting is refused (its credit does not cover its records)
 * rolls that back, and the chunk goes again without it.
 */
async function post(deps: ChargingDeps, chunk: PricedChunk, fileName: string | undefined, optimistic: boolean, problem: Problem): Promise<{ group: ChunkGroup; result: Posted }[]> {
  const now = deps.clock.now();
  const groups = chunk.groups();
  const refused = new Map<number, { reason: string }>();
  for (;;) {
    const paying = await Promise.all(groups.filter((group) => group.amount > 0n && !refused.has(group.index)).map(async (group) => ({ group, ...(await accountsFor(deps, group.organization)) })));
    const commands = paying.map(({ group, spending, revenue }) => ({
      transfers: [
        {
          kind: 'posted' as const,
          debitAccountId: spending.id,
          creditAccountId: revenue.id,
          amount: group.amount,
          code: 'usage:cdr',
          metadata: { records: group.records, ...(fileName ? { file: fileName } : {}) },
        },
      ],
    }));
    try {
      await deps.ledger.executeAll(commands, {
        before: async (tx) => {
          for (const piece of chunk.copyPieces((organization) => !refused.has(organization), COPY_PIECE)) {
            await tx.copyFromCsv('usage_records', USAGE_COPY_COLUMNS, piece);
          }
        },
        after: async (tx, outcomes) => {
          const charges: Charge[] = [];
          const short = new Map<number, { reason: string }>();
          outcomes.forEach((outcome, index) => {
            const { group } = paying[index]!;
            if (outcome.ok) charges.push(...chargesOf(group, fileName, outcome.value.transfers[0]!.id, now));
            else short.set(group.index, { reason: outcome.code === 'insufficient_credit' ? `${group.organization.name} does not have enough usable credit` : outcome.message });
          });
          if (short.size > 0) throw new Refused(short);
          await insertCharges(tx, charges);
        },
      });
      return groups.map((group) => ({ group, result: refused.get(group.index) ?? 'ok' }));
    } catch (error) {
      if (error instanceof Refused) {
        for (const [organization, reason] of error.organizations) refused.set(organization, reason);
        continue;
      }
      // COPY fails on a record stored before, and with it the whole transaction.
      if (!isUniqueViolation(error)) throw error;
      // The file repeats a record within the chunk: take out the repeats, and charge the rest again.
      if (dropRepeats(chunk, problem)) return post(deps, chunk, fileName, optimistic, problem);
      if (optimistic) throw new StoredBefore('records of the chunk were stored before');
      // Someone stored some of these records first: take them out, and charge the rest again.
      if (!(await dropStored(deps, chunk, problem))) throw error;
      return post(deps, chunk, fileName, false, problem);
    }
  }
}

/** Records per COPY statement: PGlite's WASM memory grows to the largest input it is handed and never shrinks. */
const COPY_PIECE = 10_000;

/** An organization's charges of a chunk, for the next invoice, pointing at the posting that paid them. */
function chargesOf(group: ChunkGroup, fileName: string | undefined, transferId: string, now: Date): Charge[] {
  return group.charges.map(({ charge, amount, occurredAt }) => ({
    id: charge.id,
    organizationId: group.organization.id,
    kind: chargeKindOf(charge.service),
    description: `${fileName ?? 'CDR file'}: ${charge.service}`,
    amount,
    currency: group.organization.currency,
    billPeriod: charge.billPeriod,
    occurredAt: new Date(occurredAt),
    transferId,
    invoiceId: null,
    createdAt: now,
  }));
}
