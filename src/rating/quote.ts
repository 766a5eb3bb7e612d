import { failure, type Result } from '../errors.ts';
import type { Currency } from '../money/index.ts';
import type { Organization } from '../organizations/organization.ts';
import { priceCall, priceEvent } from './price.ts';
import type { Service } from './rate-plan.ts';
import type { PlanFound, Rating } from './rating.ts';

export interface QuoteRequest {
  /** Rate for this organization (its deck, or the default), or with this deck. */
  organization?: Organization;
  deckId?: string;
  service: Service;
  destination: string;
  /** Voice: the call's seconds. */
  seconds?: number;
  /** Other services: messages, pages, activations. */
  quantity?: number;
  at: Date;
}

export interface Quote {
  readonly cost: bigint;
  /** The currency of the cost: the organization's, else the deck's (null: the deck prices in any currency). */
  readonly currency: Currency | null;
  readonly billed: number;
  readonly prefix: string;
  readonly destination: string;
  readonly found: PlanFound;
}

/** What a call or event would cost, without charging anything. */
export async function quote(rating: Rating, request: QuoteRequest): Promise<Result<Quote, 'no_rate_deck' | 'no_rate' | 'currency_mismatch' | 'rate_deck_not_found' | 'invalid_input'>> {
  const voice = request.service === 'voice';
  const amount = voice ? request.seconds : request.quantity;
  if (amount === undefined || !Number.isInteger(amount) || amount < 0) {
    return failure('invalid_input', voice ? 'a voice quote needs seconds (a whole number)' : `a quote for ${request.service} needs a quantity (a whole number)`);
  }
  // The other measure would be ignored: say so rather than quote something else than was asked.
  if ((voice ? request.quantity : request.seconds) !== undefined) {
    return failure('invalid_input', voice ? 'a voice quote is for seconds, not a quantity' : `a quote for ${request.service} is for a quantity, not seconds`);
  }
  const found = request.organization
    ? await rating.planFor(request.organization, request.service, request.destination, request.at)
    : await rating.planInDeck(request.deckId!, request.service, request.destination, request.at);
  if (!found.ok) return found;
  const price = voice ? priceCall(found.value.plan, amount) : priceEvent(found.value.plan, amount);
  return {
    ok: true,
    value: {
      cost: price.cost,
      currency: request.organization?.currency ?? found.value.deck.currency,
      billed: price.billedSeconds,
      prefix: found.value.plan.prefix,
      destination: found.value.plan.destination,
      found: found.value,
    },
  };
}
