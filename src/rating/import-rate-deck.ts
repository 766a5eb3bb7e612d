import type { Clock } from '../clock/clock.ts';
import { failure, type Result } from '../errors.ts';
import { newId } from '../ids.ts';
import type { Currency } from '../money/index.ts';
import type { Database } from '../store/database.ts';
import { parseRateDeckInTurns } from './parse-rate-deck.ts';
import type { RateRow } from './rate-plan.ts';
import {
  activateVersion,
  deleteStagedVersion,
  findDeckByName,
  insertDeck,
  insertRows,
  insertStagedVersion,
  keepStaged,
  lockDeckNames,
  lockDefaultDeck,
  nextVersionNumber,
  setDefaultDeck,
  stagedVersionGone,
  takeStaleStagedVersions,
  type RateDeck,
  type RateDeckVersion,
  type StagedVersion,
} from './rate-deck-store.ts';

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
  const parsed = await parseRateDeckInTurns(csv, input.effectiveFrom ?? deps.clock.now());
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
  const stored = await storeRateDecks(deps, [{ rows: parsed.rows, input: { ...input, effectiveFrom: input.effectiveFrom ?? earliest } }]);
  return stored.ok ? { ok: true, value: stored.value[0]! } : stored;
}

/**
 * A deck's name as it is kept and looked up: Unicode NFC, white space runs as one space. Names
 * that look the same (Café typed two ways, a no-break space) are one deck, so an import meant as
 * a new version never makes a second deck of the same look.
 */
export function deckName(text: string): string {
  return text.normalize('NFC').replace(/\s+/gu, ' ').trim();
}

type StoreFailure = 'invalid_input' | 'currency_mismatch';
type Stored = { deck: RateDeck; version: RateDeckVersion };

/** A staged version whose import has been silent this long is an import that stopped part way, and is removed. */
const SILENT_FOR_AT_MOST_MS = 60 * 60 * 1000;
/** Rows written between two signs of life of an import. */
const ROWS_BETWEEN_SIGNS = 50_000;

/**
 * Stores already-parsed rows as new versions of the named decks (CSV and CGRateS imports meet
 * here): all of them, or (a name refused, a currency that does not match) none, the failure
 * naming the deck. The rows are written first, as staged versions that nothing prices with, a
 * chunk per statement so that the server answers live calls meanwhile; one short transaction
 * then makes them the decks' new versions.
 */
export async function storeRateDecks(
  deps: { db: Database; clock: Clock },
  decks: readonly { rows: readonly RateRow[]; input: ImportRateDeckInput }[],
): Promise<Result<Stored[], StoreFailure>> {
  const named = (name: string, refused: { code: StoreFailure; message: string }) => failure(refused.code, decks.length > 1 ? `${name}: ${refused.message}` : refused.message);
  const names = new Map<string, string>();
  for (const { input } of decks) {
    const name = deckName(input.name);
    // Two names that are one deck's (RP RETAIL, RP  RETAIL) would make the second a new version
    // of the first, replacing its prices.
    const same = names.get(name);
    if (same !== undefined) return named(input.name, { code: 'invalid_input', message: `names the same deck as "${same}" (${name})` });
    names.set(name, input.name);
    if (name.length === 0 || [...name].length > 100) return named(input.name, { code: 'invalid_input', message: 'name must be 1 to 100 characters' });
    if (/\p{Cc}/u.test(name)) return named(input.name, { code: 'invalid_input', message: 'name must not hold control characters' });
  }
  const currencyRefusal = (deck: RateDeck | undefined, input: ImportRateDeckInput) =>
    deck && input.currency !== undefined && input.currency !== deck.currency
      ? named(deck.name, { code: 'currency_mismatch', message: `the deck "${deck.name}" is in ${deck.currency ?? 'the organizations’ currencies'}, not ${input.currency ?? 'none'}` })
      : undefined;
  // Asked again under the lock below; asked first so that a refused deck writes no rows.
  for (const { input } of decks) {
    const refused = currencyRefusal(await findDeckByName(deps.db, deckName(input.name)), input);
    if (refused) return refused;
  }
  const now = deps.clock.now();
  for (const stale of await takeStaleStagedVersions(deps.db, SILENT_FOR_AT_MOST_MS)) await deleteStagedVersion(deps.db, stale);

  const staged: StagedVersion[] = [];
  try {
    for (const { rows, input } of decks) {
      const version: StagedVersion = { id: newId('rdv'), effectiveFrom: input.effectiveFrom ?? now, rowCount: rows.length, source: input.source ?? '', createdAt: now };
      await insertStagedVersion(deps.db, version);
      staged.push(version);
      await stageRows(deps.db, version.id, rows);
    }
    const activated = await deps.db.transaction(async (tx) => {
      // The default first, then the names, each in one order in every transaction (see both).
      if (decks.some(({ input }) => input.makeDefault)) await lockDefaultDeck(tx);
      await lockDeckNames(tx, decks.map(({ input }) => deckName(input.name)));
      const stored: Stored[] = [];
      for (const [index, { input }] of decks.entries()) {
        const name = deckName(input.name);
        let deck = await findDeckByName(tx, name, { lock: true });
        const refused = currencyRefusal(deck, input);
        if (refused) throw new DeckRefused(refused);
        if (!deck) {
          deck = { id: newId('rdk'), name, currency: input.currency ?? null, isDefault: false, createdAt: now };
          await insertDeck(tx, deck);
        }
        const version: RateDeckVersion = { ...staged[index]!, deckId: deck.id, version: await nextVersionNumber(tx, deck.id) };
        await activateVersion(tx, version.id, deck.id, version.version);
        if (input.makeDefault) {
          await setDefaultDeck(tx, deck.id);
          deck = { ...deck, isDefault: true };
        }
        stored.push({ deck, version });
      }
      return { ok: true as const, value: stored };
    });
    staged.length = 0;
    return activated;
  } catch (error) {
    if (error instanceof DeckRefused) return error.failure;
    throw error;
  } finally {
    // Refused, or failed part way: its rows go, as they came, a chunk at a time.
    for (const version of staged) await deleteStagedVersion(deps.db, version.id);
  }
}

/** Writes a staged version's rows, saying every 50,000 rows that its import is alive. */
async function stageRows(db: Database, versionId: string, rows: readonly RateRow[]): Promise<void> {
  for (let start = 0; start < rows.length; start += ROWS_BETWEEN_SIGNS) {
    if (start > 0 && !(await keepStaged(db, versionId))) throw stagedVersionGone(versionId);
    await insertRows(db, versionId, start === 0 && rows.length <= ROWS_BETWEEN_SIGNS ? rows : rows.slice(start, start + ROWS_BETWEEN_SIGNS));
  }
}

/** Carries a refusal out of the transaction, so that the decks stored before it roll back. */
class DeckRefused extends Error {
  constructor(readonly failure: { ok: false; code: StoreFailure; message: string }) {
    super(failure.message);
  }
}
