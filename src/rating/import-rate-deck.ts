import type { Clock } from '../clock/clock.ts';
import { failure, type Result } from '../errors.ts';
import { newId } from '../ids.ts';
import type { Currency } from '../money/index.ts';
import type { Database } from '../store/database.ts';
import { parseRateDeck } from './parse-rate-deck.ts';
import type { RateRow } from './rate-plan.ts';
import { findDeckByName, insertDeck, insertRows, insertVersion, nextVersionNumber, setDefaultDeck, type RateDeck, type RateDeckVersion } from './rate-deck-store.ts';

export interface ImportRateDeckInput {
  name: string;
  /** When the version comes into force; default: its earliest row's date (a row without one: now). Rows may carry their own later dates. */
  effectiveFrom?: Date;
  /** A new deck's currency (none: it prices in each organization's currency). */
  currency?: Currency | null;
  makeDefault?: boolean;
  source?: string;
}

/** Parses and stores a deck as a new version of the named deck: every row, or none. */
export async function importRateDeck(
  deps: { db: Database; clock: Clock },
  csv: string,
  input: ImportRateDeckInput,
): Promise<Result<{ deck: RateDeck; version: RateDeckVersion }, 'invalid_rate_deck' | 'invalid_input' | 'currency_mismatch'>> {
  const parsed = parseRateDeck(csv, input.effectiveFrom ?? deps.clock.now());
  if (!parsed.ok) {
    return failure(
      'invalid_rate_deck',
      `${parsed.problems.length} problem(s), the first on line ${parsed.problems[0]!.line}: ${parsed.problems[0]!.field} ${parsed.problems[0]!.message}`,
      parsed.problems.map((problem) => ({ ...problem })),
    );
  }
  // Without a date of its own the version comes into force with its earliest row (undated rows
  // count as now): next month's list, dated in its rows, leaves the version in force until then,
  // and a list dated in the past prices calls from that date, as its rows say.
  const earliest = parsed.rows.reduce((first, row) => (row.effectiveFrom < first ? row.effectiveFrom : first), parsed.rows[0]!.effectiveFrom);
  return storeRateDeck(deps, parsed.rows, { ...input, effectiveFrom: input.effectiveFrom ?? earliest });
}

/**
 * A deck's name as it is kept and looked up: Unicode NFC, white space runs as one space. Names
 * that look the same (Café typed two ways, a no-break space) are one deck, so an import meant as
 * a new version never makes a second deck of the same look.
 */
export function deckName(text: string): string {
  return text.normalize('NFC').replace(/\s+/gu, ' ').trim();
}

/** Stores already-parsed rows as a new version of the named deck (CSV and CGRateS imports meet here). */
export async function storeRateDeck(
  deps: { db: Database; clock: Clock },
  rows: readonly RateRow[],
  input: ImportRateDeckInput,
): Promise<Result<{ deck: RateDeck; version: RateDeckVersion }, 'invalid_input' | 'currency_mismatch'>> {
  const name = deckName(input.name);
  if (name.length === 0 || [...name].length > 100) return failure('invalid_input', 'name must be 1 to 100 characters');
  if (/\p{Cc}/u.test(name)) return failure('invalid_input', 'name must not hold control characters');
  const now = deps.clock.now();
  const effectiveFrom = input.effectiveFrom ?? now;
  return deps.db.transaction(async (tx) => {
    let deck = await findDeckByName(tx, name, { lock: true });
    if (deck && input.currency !== undefined && input.currency !== deck.currency) {
      return failure('currency_mismatch', `the deck "${name}" is in ${deck.currency ?? 'the organizations’ currencies'}, not ${input.currency ?? 'none'}`);
    }
    if (!deck) {
      deck = { id: newId('rdk'), name, currency: input.currency ?? null, isDefault: false, createdAt: now };
      await insertDeck(tx, deck);
    }
    const version: RateDeckVersion = {
      id: newId('rdv'),
      deckId: deck.id,
      version: await nextVersionNumber(tx, deck.id),
      effectiveFrom,
      rowCount: rows.length,
      source: input.source ?? '',
      createdAt: now,
    };
    await insertVersion(tx, version);
    await insertRows(tx, version.id, rows);
    if (input.makeDefault) {
      await setDefaultDeck(tx, deck.id);
      deck = { ...deck, isDefault: true };
    }
    return { ok: true, value: { deck, version } };
  });
}
