import { BillPeriods } from '../../billing/charge.ts';
import type { Organization } from '../../organizations/organization.ts';
import { findOrganizationsByCodes, findTimeZones } from '../../organizations/organization-store.ts';
import { parseWalletId } from '../../organizations/wallet-id.ts';
import type { CompiledDeck } from '../../rating/compiled-deck.ts';
import { callCost, priceEvent } from '../../rating/price.ts';
import type { RatePlan } from '../../rating/rate-plan.ts';
import type { RateDeck, RateDeckVersion } from '../../rating/rate-deck-store.ts';
import { versionInForce, type Rating } from '../../rating/rating.ts';
import type { Queryable } from '../../store/database.ts';
import type { Cdr, CdrFormat } from './cdr.ts';
import type { CsvInput } from '../../csv/csv-reader.ts';
import { parseCdrBatches } from './parse-cdrs.ts';
import { MAX_RECORD_COST, PricedChunk } from './priced-chunk.ts';
import { MAX_WHOLE } from '../../rating/parse-rate-deck.ts';
import { UsageIds } from './usage-ids.ts';

/** What pricing reads: organizations and decks (reads only), and the time records are created at. */
export interface PricingSource {
  readonly db: Queryable;
  readonly rating: Rating;
  now(): Date;
}

export interface PricingOptions {
  readonly format: CdrFormat;
  readonly timeZone: string;
  /** CDRs per chunk (tests make it small). */
  readonly chunkSize?: number | undefined;
}

/** A line that was not priced: rejected with its reason, or a repeat of a record. */
export interface CdrProblem {
  readonly line: number;
  readonly outcome: 'rejected' | 'duplicate';
  readonly reason: string;
}

/** What pricing a batch of lines found: counts and problems since the last event, and a chunk when one is full. */
export interface PricingEvent {
  /** Bytes of the input read so far. */
  readonly bytes: number;
  readonly lines: number;
  /** Unanswered calls: nothing to charge. */
  readonly skipped: number;
  readonly problems: CdrProblem[];
  readonly chunk?: PricedChunk;
}

/** How the reason of a line that is no CDR of the format begins. */
export const MALFORMED = 'malformed: ';

const CHUNK = 50_000;
/** The first chunk is smaller: nothing is stored until it is priced. */
const FIRST_CHUNK = 10_000;

/**
 * Parses and prices a CDR file into chunks of priced records, each organization's records without
 * the lines that cannot be priced (the file's repeats are found when a chunk is stored). CDRs are
 * priced a reader's batch at a time, so that they never outlive a young-generation collection.
 */
export async function* priceCdrs(source: PricingSource, input: CsvInput, options: PricingOptions): AsyncGenerator<PricingEvent> {
  const organizations = new Map<string, Organization | null>();
  const zones = new Map<string, string>();
  const periods = new SlotPeriods();
  const ids = new UsageIds();
  let problems: CdrProblem[] = [];
  const problem = (line: number, outcome: CdrProblem['outcome'], reason: string) => problems.push({ line, outcome, reason });

  const priceInto = async (chunk: PricedChunk, pricing: ChunkPricing, cdrs: readonly Cdr[]): Promise<void> => {
    chunk.size += cdrs.length;
    const added = await resolveOrganizations(source.db, cdrs, organizations);
    for (const [id, zone] of await findTimeZones(source.db, added.map((organization) => organization.id))) zones.set(id, zone);
    await pricing.prepare(cdrs, organizations, zones);
    const createdAt = source.now().toISOString();
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
      // Decks stored before their blocks were bounded by a day can bill more seconds than that.
      if (price.billedSeconds > MAX_WHOLE) {
        problem(cdr.line, 'rejected', `its billed quantity (${price.billedSeconds}) is more than a usage record can hold`);
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

  const chunkSize = options.chunkSize ?? CHUNK;
  let limit = Math.min(chunkSize, FIRST_CHUNK);
  let chunk = new PricedChunk(limit);
  let pricing = new ChunkPricing(source.rating);
  let bytes = 0;
  for await (const batch of parseCdrBatches(input, { format: options.format, timeZone: options.timeZone })) {
    const cdrs: Cdr[] = [];
    let skipped = 0;
    for (const line of batch.lines) {
      if (line.kind === 'malformed') problem(line.line, 'rejected', `${MALFORMED}${line.reason}`);
      else if (line.kind === 'unanswered') skipped++;
      else cdrs.push(line.cdr);
    }
    let full: PricedChunk | undefined;
    for (let from = 0; from < cdrs.length; ) {
      const to = Math.min(cdrs.length, from + limit - chunk.size);
      await priceInto(chunk, pricing, from === 0 && to === cdrs.length ? cdrs : cdrs.slice(from, to));
      from = to;
      if (chunk.size >= limit) {
        // A reader's batch fills at most one chunk: batches are smaller than the first chunk.
        if (full) yield { bytes: batch.bytes, lines: 0, skipped: 0, problems: [], chunk: full };
        full = chunk;
        limit = chunkSize;
        chunk = new PricedChunk(limit);
        pricing = new ChunkPricing(source.rating);
      }
    }
    const found = problems;
    problems = [];
    bytes = batch.bytes;
    yield { bytes: batch.bytes, lines: batch.lines.length, skipped, problems: found, ...(full ? { chunk: full } : {}) };
  }
  if (chunk.size > 0 || problems.length > 0) yield { bytes, lines: 0, skipped: 0, problems, chunk };
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

/**
 * For a chunk: each organization's deck, its versions and the compiled versions the chunk's call
 * times need, looked up as its batches come (read once per chunk, so a deck imported meanwhile
 * is used from the next chunk on), so that pricing each line is a synchronous prefix lookup.
 */
class ChunkPricing {
  private readonly decks = new Map<string, { deck: RateDeck | undefined; versions: RateDeckVersion[] } | undefined>();
  private readonly compiled = new Map<string, CompiledDeck>();
  private readonly deckOf = new Map<string, string | undefined>();

  constructor(private readonly rating: Rating) {}

  /** Looks up what pricing the CDRs needs and was not looked up yet. */
  async prepare(cdrs: readonly Cdr[], organizations: ReadonlyMap<string, Organization | null>, zones: Map<string, string>): Promise<void> {
    for (const cdr of cdrs) {
      const organization = organizations.get(cdr.accountCode);
      if (!organization) continue;
      if (!zones.has(organization.id)) zones.set(organization.id, 'UTC');
      if (!this.deckOf.has(organization.id)) this.deckOf.set(organization.id, await this.rating.deckIdFor(organization));
      const deckId = this.deckOf.get(organization.id);
      if (!deckId) continue;
      if (!this.decks.has(deckId)) this.decks.set(deckId, await this.rating.deck(deckId));
      const version = versionInForce(this.decks.get(deckId)?.versions ?? [], cdr.startedAt);
      if (version && !this.compiled.has(version.id)) this.compiled.set(version.id, await this.rating.compile(version.id));
    }
  }

  plan(organization: Organization, cdr: Cdr): { ok: true; plan: RatePlan; versionId: string } | { ok: false; reason: string } {
    const deckId = this.deckOf.get(organization.id);
    if (!deckId) return { ok: false, reason: 'the organization has no rate deck, and there is no default deck' };
    const listed = this.decks.get(deckId);
    if (!listed?.deck) return { ok: false, reason: `the organization’s rate deck ${deckId} does not exist` };
    if (listed.deck.currency && listed.deck.currency !== organization.currency) {
      return { ok: false, reason: `the rate deck "${listed.deck.name}" is in ${listed.deck.currency}; the organization is billed in ${organization.currency}` };
    }
    const version = versionInForce(listed.versions, cdr.startedAt);
    if (!version) return { ok: false, reason: `the rate deck "${listed.deck.name}" has no version in force at ${cdr.startedAt.toISOString()}` };
    const plan = this.compiled.get(version.id)!.plan(cdr.service, cdr.destination, cdr.startedAt);
    if (!plan) return { ok: false, reason: `the rate deck "${listed.deck.name}" has no ${cdr.service} price for "${cdr.destination}"` };
    return { ok: true, plan, versionId: version.id };
  }
}

/** Finds the organizations the chunk names that were not known yet; answers the ones found. */
async function resolveOrganizations(db: Queryable, cdrs: readonly Cdr[], known: Map<string, Organization | null>): Promise<Organization[]> {
  const missing = [...new Set(cdrs.map((cdr) => cdr.accountCode))].filter((code) => !known.has(code));
  if (missing.length === 0) return [];
  const lookups = missing.flatMap((code) => [code, parseWalletId(code) ?? code]);
  const found = await findOrganizationsByCodes(db, [...new Set(lookups)]);
  for (const code of missing) {
    const wallet = parseWalletId(code);
    known.set(code, found.find((organization) => organization.accountCode === code) ?? found.find((organization) => wallet !== undefined && organization.walletId === wallet) ?? null);
  }
  return found;
}

