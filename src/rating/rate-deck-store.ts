import { nextTurn } from '../in-turns.ts';
import type { Currency } from '../money/index.ts';
import type { Queryable } from '../store/database.ts';
import { CompiledDeck } from './compiled-deck.ts';
import { formatDecimal, parseDecimal, type Rational } from './rational.ts';
import type { RateRow, Service } from './rate-plan.ts';

export interface RateDeck {
  readonly id: string;
  readonly name: string;
  /** Null: prices are in the currency of the organization rated. */
  readonly currency: Currency | null;
  readonly isDefault: boolean;
  readonly createdAt: Date;
}

export interface RateDeckVersion {
  readonly id: string;
  readonly deckId: string;
  readonly version: number;
  readonly effectiveFrom: Date;
  readonly rowCount: number;
  readonly source: string;
  readonly createdAt: Date;
}

interface DeckRow {
  id: string;
  name: string;
  currency: string | null;
  is_default: boolean;
  created_at: Date;
}

interface VersionRow {
  id: string;
  deck_id: string;
  version: number;
  effective_from: Date;
  row_count: number;
  source: string;
  created_at: Date;
}

const toDeck = (row: DeckRow): RateDeck => ({
  id: row.id,
  name: row.name,
  currency: row.currency as Currency | null,
  isDefault: row.is_default,
  createdAt: row.created_at,
});

const toVersion = (row: VersionRow): RateDeckVersion => ({
  id: row.id,
  deckId: row.deck_id,
  version: row.version,
  effectiveFrom: row.effective_from,
  rowCount: row.row_count,
  source: row.source,
  createdAt: row.created_at,
});

const DECK_COLUMNS = 'id, name, currency, is_default, created_at';
const VERSION_COLUMNS = 'id, deck_id, version, effective_from, row_count, source, created_at';

export async function findDeck(db: Queryable, id: string): Promise<RateDeck | undefined> {
  const result = await db.query<DeckRow>(`SELECT ${DECK_COLUMNS} FROM rate_decks WHERE id = $1`, [id]);
  return result.rows[0] && toDeck(result.rows[0]);
}

export async function findDeckByName(db: Queryable, name: string, options: { lock?: boolean } = {}): Promise<RateDeck | undefined> {
  const result = await db.query<DeckRow>(`SELECT ${DECK_COLUMNS} FROM rate_decks WHERE name = $1${options.lock ? ' FOR UPDATE' : ''}`, [name]);
  return result.rows[0] && toDeck(result.rows[0]);
}

export async function findDefaultDeck(db: Queryable): Promise<RateDeck | undefined> {
  const result = await db.query<DeckRow>(`SELECT ${DECK_COLUMNS} FROM rate_decks WHERE is_default`);
  return result.rows[0] && toDeck(result.rows[0]);
}

export async function listDecks(db: Queryable): Promise<RateDeck[]> {
  const result = await db.query<DeckRow>(`SELECT ${DECK_COLUMNS} FROM rate_decks ORDER BY name`);
  return result.rows.map(toDeck);
}

export async function insertDeck(db: Queryable, deck: RateDeck): Promise<void> {
  await db.query(`INSERT INTO rate_decks (${DECK_COLUMNS}) VALUES ($1, $2, $3, $4, $5)`, [deck.id, deck.name, deck.currency, deck.isDefault, deck.createdAt]);
}

/**
 * Makes `deckId` the provider's default deck (and no other). In a transaction: the lock, held to
 * its end, puts requests making decks the default one after another. Without it two of them
 * each cleared the old default before either set its own, and the second broke the one-default
 * index (a 500) on a server; the last one now wins.
 */
export async function setDefaultDeck(tx: Queryable, deckId: string): Promise<void> {
  await lockDefaultDeck(tx);
  await tx.query('UPDATE rate_decks SET is_default = false WHERE is_default AND id <> $1', [deckId]);
  await tx.query('UPDATE rate_decks SET is_default = true WHERE id = $1', [deckId]);
}

/**
 * Takes, to the end of the transaction, the right to change which deck is the default. A
 * transaction that will take it takes it before any deck's lock: two imports that each made
 * their deck the default locked their own deck, then waited for the other's (the old default),
 * and one was cut off as a deadlock.
 */
export async function lockDefaultDeck(tx: Queryable): Promise<void> {
  await tx.query(`SELECT pg_advisory_xact_lock(hashtext('ringbill.rate_decks'), hashtext(current_schema() || '.default'))`);
}

/**
 * Takes, to the end of the transaction, the names of the decks it activates versions of, in one
 * order for every transaction, existing decks or not: two CGRateS imports of decks A and B, one
 * listing them A, B and the other B, A, each locked one and waited for the other's, and two
 * imports making one new deck both inserted it.
 */
export async function lockDeckNames(tx: Queryable, names: readonly string[]): Promise<void> {
  for (const name of [...new Set(names)].sort()) {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtext('ringbill.rate_decks'), hashtext(current_schema() || '.name.' || $1))`, [name]);
  }
}

export async function listVersions(db: Queryable, deckId: string): Promise<RateDeckVersion[]> {
  const result = await db.query<VersionRow>(`SELECT ${VERSION_COLUMNS} FROM rate_deck_versions WHERE deck_id = $1 ORDER BY version`, [deckId]);
  return result.rows.map(toVersion);
}

export async function nextVersionNumber(db: Queryable, deckId: string): Promise<number> {
  const result = await db.query<{ next: number }>('SELECT coalesce(max(version), 0) + 1 AS next FROM rate_deck_versions WHERE deck_id = $1', [deckId]);
  return result.rows[0]!.next;
}

/** A version's fields when it is staged: its deck and number come when it is activated. */
export type StagedVersion = Omit<RateDeckVersion, 'deckId' | 'version'>;

/*
 * Whether the import of a staged version is alive goes by the database's clock
 * (clock_timestamp()), the one every process of an install shares: each process's own clock may
 * be set apart, and the test clock moves by hours at a time (migration 009).
 */

export async function insertStagedVersion(db: Queryable, version: StagedVersion): Promise<void> {
  await db.query('INSERT INTO rate_deck_versions (id, effective_from, row_count, source, created_at, staged_at) VALUES ($1, $2, $3, $4, $5, clock_timestamp())', [
    version.id,
    version.effectiveFrom,
    version.rowCount,
    version.source,
    version.createdAt,
  ]);
}

/** The import of a staged version is alive; false when another import has taken it for stopped. */
export async function keepStaged(db: Queryable, versionId: string): Promise<boolean> {
  const kept = await db.query('UPDATE rate_deck_versions SET staged_at = clock_timestamp() WHERE id = $1 AND deck_id IS NULL AND removing_since IS NULL', [versionId]);
  return kept.affectedRows === 1;
}

/**
 * Makes a staged version the deck's next version: from the commit on, it prices calls. Throws
 * when the version is no longer staged or is being removed, so that the transaction activates
 * nothing.
 */
export async function activateVersion(tx: Queryable, versionId: string, deckId: string, version: number): Promise<void> {
  const activated = await tx.query(
    'UPDATE rate_deck_versions SET deck_id = $2, version = $3, staged_at = NULL WHERE id = $1 AND deck_id IS NULL AND removing_since IS NULL',
    [versionId, deckId, version],
  );
  if (activated.affectedRows !== 1) throw stagedVersionGone(versionId);
}

/** A staged version taken from its import, which had been silent so long it seemed stopped. */
export function stagedVersionGone(versionId: string): Error {
  return new Error(`rate deck version ${versionId} was taken for the remains of a stopped import (its import was silent for an hour) while it was imported; import the deck again`);
}

/**
 * Takes the staged versions whose import has been silent for `silentMs`: imports that stopped
 * part way. A version taken is marked as being removed, so that its import, should it wake, can
 * neither write nor activate it, and no other import takes it too (unless this one stops, and
 * stays silent as long, in turn).
 */
export async function takeStaleStagedVersions(db: Queryable, silentMs: number): Promise<string[]> {
  const result = await db.query<{ id: string }>(
    `UPDATE rate_deck_versions SET removing_since = clock_timestamp()
     WHERE deck_id IS NULL AND staged_at < clock_timestamp() - $1 * interval '1 millisecond'
       AND (removing_since IS NULL OR removing_since < clock_timestamp() - $1 * interval '1 millisecond')
     RETURNING id`,
    [silentMs],
  );
  return result.rows.map((row) => row.id);
}

/**
 * Deletes a staged version and its rows, a range of lines per statement (with a turn of the
 * event loop between), like writing them. Only rows of a version still staged go, and the
 * version itself only once it has none.
 */
export async function deleteStagedVersion(db: Queryable, versionId: string): Promise<void> {
  // Ranges of lines found by the primary key, starting at the next line there is: a subquery
  // picking the next thousand rows was planned as a nested loop over the whole version (minutes
  // for a big deck), and counting up through blank lines could take as long.
  for (let from = 0; ; ) {
    const next = (await db.query<{ next: number | null }>('SELECT min(line) AS next FROM rate_deck_rows WHERE version_id = $1 AND line >= $2', [versionId, from])).rows[0]?.next ?? null;
    if (next === null) break;
    const deleted = await db.query(
      'DELETE FROM rate_deck_rows WHERE version_id = $1 AND line >= $2 AND line < $3 AND EXISTS (SELECT 1 FROM rate_deck_versions WHERE id = $1 AND deck_id IS NULL)',
      [versionId, next, next + ROW_CHUNK],
    );
    // Activated meanwhile: its rows are a deck's now.
    if (deleted.affectedRows === 0) return;
    from = next + ROW_CHUNK;
    await nextTurn();
  }
  await db.query('DELETE FROM rate_deck_versions WHERE id = $1 AND deck_id IS NULL AND NOT EXISTS (SELECT 1 FROM rate_deck_rows WHERE version_id = $1)', [versionId]);
}

/**
 * Rows written per statement. On PGlite a statement holds the database (and the server's one
 * thread) until it ends: 1,000 rows take about 20 ms, which a live call can wait.
 */
const ROW_CHUNK = 1000;

/**
 * Writes a version's rows, a chunk per statement, with a turn of the event loop between chunks
 * so that the server goes on answering while a big deck is written.
 */
export async function insertRows(db: Queryable, versionId: string, rows: readonly RateRow[]): Promise<void> {
  for (let start = 0; start < rows.length; start += ROW_CHUNK) {
    await nextTurn();
    const chunk = rows.slice(start, start + ROW_CHUNK);
    await db.query(
      `INSERT INTO rate_deck_rows (version_id, line, service, prefix, destination, connect_fee, rate, rate_unit, first_increment,
         next_increment, interval_start, min_duration, rounding_method, rounding_decimals, max_cost, max_cost_strategy, effective_from, effective_to)
       SELECT $1, * FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[], $9::int[], $10::int[],
         $11::int[], $12::int[], $13::text[], $14::int[], $15::text[], $16::text[], $17::timestamptz[], $18::timestamptz[])`,
      [
        versionId,
        chunk.map((r) => r.line),
        chunk.map((r) => r.service),
        chunk.map((r) => r.prefix),
        chunk.map((r) => r.destination),
        chunk.map((r) => formatDecimal(r.connectFee)),
        chunk.map((r) => formatDecimal(r.rate)),
        chunk.map((r) => r.rateUnitSeconds),
        chunk.map((r) => r.firstIncrementSeconds),
        chunk.map((r) => r.nextIncrementSeconds),
        chunk.map((r) => r.intervalStartSeconds),
        chunk.map((r) => r.minDurationSeconds),
        chunk.map((r) => r.rounding.method),
        chunk.map((r) => r.rounding.decimals),
        chunk.map((r) => (r.maxCost ? formatDecimal(r.maxCost) : null)),
        chunk.map((r) => r.maxCostStrategy),
        chunk.map((r) => r.effectiveFrom),
        chunk.map((r) => r.effectiveTo),
      ],
    );
  }
}

interface StoredRateRow {
  line: number;
  service: Service;
  prefix: string;
  destination: string;
  connect_fee: string;
  rate: string;
  rate_unit: number;
  first_increment: number;
  next_increment: number;
  interval_start: number;
  min_duration: number;
  rounding_method: RateRow['rounding']['method'];
  rounding_decimals: number;
  max_cost: string | null;
  max_cost_strategy: RateRow['maxCostStrategy'];
  effective_from: Date;
  effective_to: Date | null;
}

/** A version's rows in line order, all or a page of them (those after `afterLine`). */
export async function loadRows(db: Queryable, versionId: string, page?: { afterLine: number; limit: number }): Promise<RateRow[]> {
  const result = await db.query<StoredRateRow>(
    `SELECT line, service, prefix, destination, connect_fee, rate, rate_unit, first_increment, next_increment, interval_start,
       min_duration, rounding_method, rounding_decimals, max_cost, max_cost_strategy, effective_from, effective_to
     FROM rate_deck_rows WHERE version_id = $1${page ? ' AND line > $2' : ''} ORDER BY line${page ? ' LIMIT $3' : ''}`,
    page ? [versionId, page.afterLine, page.limit] : [versionId],
  );
  return result.rows.map((row) => ({
    line: row.line,
    service: row.service,
    prefix: row.prefix,
    destination: row.destination,
    connectFee: parseDecimal(row.connect_fee)!,
    rate: parseDecimal(row.rate)!,
    rateUnitSeconds: row.rate_unit,
    firstIncrementSeconds: row.first_increment,
    nextIncrementSeconds: row.next_increment,
    intervalStartSeconds: row.interval_start,
    minDurationSeconds: row.min_duration,
    rounding: { method: row.rounding_method, decimals: row.rounding_decimals },
    maxCost: row.max_cost === null ? null : parseDecimal(row.max_cost)!,
    maxCostStrategy: row.max_cost_strategy,
    effectiveFrom: row.effective_from,
    effectiveTo: row.effective_to,
  }));
}

/**
 * Rows read per statement when compiling a version: about a megabyte of text each. PGlite's WASM
 * memory grows to hold the largest result it has made and never shrinks: pages of 100,000 rows
 * grew it by about 40 MB for the life of the process, 25,000 not at all.
 */
const LOAD_PAGE = 25_000;
/**
 * The columns of a row as one line of text, the destination last (as JSON, so that it may hold
 * anything). The dates come as the database writes them and are read back once per distinct
 * value (a deck has few), so they are the same instants `loadRows` gives.
 */
const ROW_TEXT = `concat_ws(',', line, service, prefix, connect_fee, rate, rate_unit, first_increment, next_increment, interval_start, min_duration,
  rounding_method, rounding_decimals, coalesce(max_cost, ''), coalesce(max_cost_strategy, ''), effective_from, coalesce(effective_to::text, ''),
  to_json(destination)::text)`;
const TEXT_FIELDS = 16;
/** Rows compiled between two turns of the event loop: a few milliseconds of work. */
const ROWS_PER_TURN = 2000;

/**
 * A copy of a piece of a page, where a slice (V8 keeps slices of 13 characters or more as views)
 * would keep the whole page's text alive as long as the deck.
 */
function copied(piece: string): string {
  return piece.length < 13 ? piece : (JSON.parse(`"${piece}"`) as string);
}

/**
 * Loads a version straight into a compiled deck, a page of rows at a time, each page one text
 * value: reading 300,000 rows as rows costs the driver (PGlite above all) seconds of decoding
 * and hundreds of megabytes, where one string per page costs a split. Rates, fees and dates
 * repeat across a deck and are made once each.
 */
export async function loadCompiledDeck(db: Queryable, versionId: string, pageSize = LOAD_PAGE): Promise<CompiledDeck> {
  // The version's row count sizes the deck's columns; counting the rows would cost a scan.
  const version = await db.query<{ row_count: number }>('SELECT row_count FROM rate_deck_versions WHERE id = $1', [versionId]);
  const deck = new CompiledDeck([], version.rows[0]?.row_count ?? 0);
  const decimals = new Map<string, Rational>();
  const decimal = (text: string): Rational => {
    let value = decimals.get(text);
    if (!value) decimals.set(text, (value = parseDecimal(text)!));
    return value;
  };
  const dates = new Map<string, Date>();
  const readDate = async (text: string): Promise<Date> => {
    const read = await db.query<{ at: Date }>('SELECT $1::timestamptz AS at', [text]);
    dates.set(text, read.rows[0]!.at);
    return read.rows[0]!.at;
  };
  // Pages are ranges of line numbers, not ORDER BY line LIMIT: a deck just imported has no
  // statistics yet, and the planner then sorted every row after the page's start for each page.
  // The next page is asked for while this one is read.
  const last = (await db.query<{ last: number | null }>('SELECT max(line) AS last FROM rate_deck_rows WHERE version_id = $1', [versionId])).rows[0]?.last ?? -1;
  const page = (from: number) => {
    const read = db.query<{ rows: string | null }>(`SELECT string_agg(${ROW_TEXT}, E'\\n') AS rows FROM rate_deck_rows WHERE version_id = $1 AND line >= $2 AND line < $3`, [versionId, from, from + pageSize]);
    // Awaited in turn; should reading an earlier page fail, this one's failure is not also thrown.
    read.catch(() => undefined);
    return read;
  };
  let next = last >= 0 ? page(0) : undefined;
  let added = 0;
  for (let from = 0; next; from += pageSize) {
    const { rows } = (await next).rows[0]!;
    next = from + pageSize <= last ? page(from + pageSize) : undefined;
    if (rows === null) continue;
    for (const text of rows.split('\n')) {
      // Without these, compiling a big deck on PGlite held the server's thread for seconds,
      // every live call of every other deck waiting.
      if (++added % ROWS_PER_TURN === 0) await nextTurn();
      // The first 16 fields hold no commas; the destination (JSON) may.
      const fields: string[] = [];
      let start = 0;
      for (let index = 0; index < TEXT_FIELDS; index++) {
        const comma = text.indexOf(',', start);
        fields.push(text.slice(start, comma));
        start = comma + 1;
      }
      const [line, service, prefix, connectFee, rate, rateUnit, first, next, interval, minDuration, method, rounding, maxCost, strategy, from, to] = fields;
      deck.add({
        line: Number(line),
        service: service as Service,
        prefix: copied(prefix!),
        // Parsed even without escapes: a copy, not a slice of the page (see `copied`).
        destination: JSON.parse(text.slice(start)) as string,
        connectFee: decimal(connectFee!),
        rate: decimal(rate!),
        rateUnitSeconds: Number(rateUnit),
        firstIncrementSeconds: Number(first),
        nextIncrementSeconds: Number(next),
        intervalStartSeconds: Number(interval),
        minDurationSeconds: Number(minDuration),
        rounding: { method: method as RateRow['rounding']['method'], decimals: Number(rounding) },
        maxCost: maxCost === '' ? null : decimal(maxCost!),
        maxCostStrategy: strategy === '' ? null : (strategy as RateRow['maxCostStrategy']),
        effectiveFrom: dates.get(from!) ?? (await readDate(from!)),
        effectiveTo: to === '' ? null : (dates.get(to!) ?? (await readDate(to!))),
      });
    }
  }
  return deck;
}
