import { failure, type Failure, type Result } from '../errors.ts';
import { ExpiringCache } from '../expiring-cache.ts';
import type { Organization } from '../organizations/organization.ts';
import type { Queryable } from '../store/database.ts';
import type { CompiledDeck } from './compiled-deck.ts';
import type { RatePlan, Service } from './rate-plan.ts';
import { findDeck, findDefaultDeck, listVersions, loadCompiledDeck, type RateDeck, type RateDeckVersion } from './rate-deck-store.ts';

export interface PlanFound {
  readonly plan: RatePlan;
  readonly deck: RateDeck;
  readonly version: RateDeckVersion;
}

/** Compiled versions kept in memory: a 300,000-prefix deck takes about 60 MB. */
const MAX_COMPILED = 4;
/** How long deck and version lists are trusted before they are read again (other processes may import). */
const LIST_SECONDS = 5;

/**
 * Finds the rate plan for a number: the organization's deck (or the provider's default), the
 * version of it in force at the call's start, and in it the longest prefix priced then. Compiled
 * versions are cached in memory; they never change once stored.
 */
export class Rating {
  private readonly compiled = new Map<string, Promise<CompiledDeck>>();
  private readonly decks = new ExpiringCache<string, ListedDeck>(LIST_SECONDS * 1000);
  private readonly defaultDeck = new ExpiringCache<'default', string | undefined>(LIST_SECONDS * 1000);

  constructor(private readonly db: Queryable) {}

  /** Forgets cached deck lists, after an import in this process. */
  invalidate(): void {
    this.decks.clear();
    this.defaultDeck.clear();
  }

  async deckIdFor(organization: Organization): Promise<string | undefined> {
    if (organization.rateDeckId) return organization.rateDeckId;
    return this.defaultDeck.get('default', async () => (await findDefaultDeck(this.db))?.id);
  }

  /** The deck that prices an organization (its own, else the default) and its version in force at `at`. */
  async versionFor(organization: Organization, at: Date): Promise<Result<DeckInForce, 'no_rate_deck' | 'no_rate'>> {
    const deckId = await this.deckIdFor(organization);
    if (!deckId) return failure('no_rate_deck');
    const found = await this.versionInDeck(deckId, at);
    if (!found.ok && found.code === 'rate_deck_not_found') return failure('no_rate_deck', `the organization’s rate deck ${deckId} does not exist`);
    return found as Result<DeckInForce, 'no_rate'>;
  }

  /** The plan for an organization's call or event. */
  async planFor(organization: Organization, service: Service, number: string, at: Date): Promise<Result<PlanFound, 'no_rate_deck' | 'no_rate' | 'currency_mismatch'>> {
    const found = await this.versionFor(organization, at);
    if (!found.ok) return found;
    const planned = await this.planInVersion(found.value, service, number, at);
    if (!planned.ok) return planned;
    return currencyMismatch(found.value.deck, organization) ?? planned;
  }

  async planInDeck(deckId: string, service: Service, number: string, at: Date): Promise<Result<PlanFound, 'rate_deck_not_found' | 'no_rate'>> {
    const found = await this.versionInDeck(deckId, at);
    return found.ok ? this.planInVersion(found.value, service, number, at) : found;
  }

  private async versionInDeck(deckId: string, at: Date): Promise<Result<DeckInForce, 'rate_deck_not_found' | 'no_rate'>> {
    const listed = await this.deck(deckId);
    if (!listed.deck) return failure('rate_deck_not_found');
    const version = versionInForce(listed.versions, at);
    if (!version) return failure('no_rate', `the rate deck "${listed.deck.name}" has no version in force at ${at.toISOString()}`);
    return { ok: true, value: { deck: listed.deck, version } };
  }

  private async planInVersion({ deck, version }: DeckInForce, service: Service, number: string, at: Date): Promise<Result<PlanFound, 'no_rate'>> {
    const plan = (await this.compile(version.id)).plan(service, number, at);
    if (!plan) return failure('no_rate', `the rate deck "${deck.name}" has no ${service} price for "${number}"`);
    return { ok: true, value: { plan, deck, version } };
  }

  /** A version, compiled once and kept while there is room. */
  compile(versionId: string): Promise<CompiledDeck> {
    let compiled = this.compiled.get(versionId);
    if (!compiled) {
      if (this.compiled.size >= MAX_COMPILED) this.compiled.delete(this.compiled.keys().next().value!);
      compiled = loadCompiledDeck(this.db, versionId);
      compiled.catch(() => this.compiled.delete(versionId));
      this.compiled.set(versionId, compiled);
    }
    return compiled;
  }

  /** A deck and its versions, as last read (for bulk rating, which looks versions up itself). */
  deck(deckId: string): Promise<ListedDeck> {
    return this.decks.get(deckId, () => this.listDeck(deckId));
  }

  private async listDeck(deckId: string): Promise<ListedDeck> {
    const deck = await findDeck(this.db, deckId);
    return { deck, versions: deck ? await listVersions(this.db, deckId) : [] };
  }
}

export interface DeckInForce {
  readonly deck: RateDeck;
  readonly version: RateDeckVersion;
}

/** A deck in one currency prices only organizations billed in it; one without prices any. */
export function currencyMismatch(deck: RateDeck, organization: Organization): Failure<'currency_mismatch'> | undefined {
  if (!deck.currency || deck.currency === organization.currency) return undefined;
  return failure('currency_mismatch', `the rate deck "${deck.name}" is in ${deck.currency}; the organization is billed in ${organization.currency}`);
}

interface ListedDeck {
  readonly deck: RateDeck | undefined;
  readonly versions: RateDeckVersion[];
}

/**
 * The version that takes over from `version`, if any: the first, by date, of those that win over
 * it (a later effective_from, or the same one and a later number). A version imported after
 * another but dated before it prices only the calls before that one's date.
 */
export function versionTakingOver(versions: readonly RateDeckVersion[], version: RateDeckVersion): RateDeckVersion | undefined {
  const later = versions.filter((other) => takesOver(other, version));
  if (later.length === 0) return undefined;
  // The one of them in force from the first of their dates (of several from it, the last imported).
  return versionInForce(later, new Date(Math.min(...later.map((other) => other.effectiveFrom.getTime()))));
}

/** Whether, from its date on, `a` is in force rather than `b`: a later date, or the same one and a later import. */
function takesOver(a: RateDeckVersion, b: RateDeckVersion): boolean {
  return a.effectiveFrom > b.effectiveFrom || (a.effectiveFrom.getTime() === b.effectiveFrom.getTime() && a.version > b.version);
}

/** The newest version whose effective_from is not after `at`. */
export function versionInForce(versions: readonly RateDeckVersion[], at: Date): RateDeckVersion | undefined {
  let best: RateDeckVersion | undefined;
  for (const version of versions) {
    if (version.effectiveFrom.getTime() > at.getTime()) continue;
    if (!best || takesOver(version, best)) best = version;
  }
  return best;
}
