import type { Queryable } from '../store/database.ts';
import { csvPages, pages } from '../store/pages.ts';
import { formatRateDeckRows } from './format-rate-deck.ts';
import { loadRows, type RateDeckVersion } from './rate-deck-store.ts';
import type { RateRow } from './rate-plan.ts';
import { versionInForce } from './rating.ts';

/** Rows per statement: a 300,000-row deck leaves in pages instead of one 100 MB array. */
const EXPORT_PAGE = 10_000;

/**
 * The version an export means: the one numbered, else the one in force at `at`, else (a deck
 * whose first version starts later) the newest.
 */
export function versionToExport(versions: readonly RateDeckVersion[], choice: { version?: number; at: Date }): RateDeckVersion | undefined {
  if (choice.version !== undefined) return versions.find((version) => version.version === choice.version);
  return versionInForce(versions, choice.at) ?? versions.reduce<RateDeckVersion | undefined>((newest, version) => (!newest || version.version > newest.version ? version : newest), undefined);
}

/** A version's rows as deck CSV (the import format, header first), a page at a time, in the order they were imported. */
export function exportRateDeck(db: Queryable, versionId: string): AsyncGenerator<string> {
  const rows = pages<RateRow>((last) => loadRows(db, versionId, { afterLine: last?.line ?? -1, limit: EXPORT_PAGE }), EXPORT_PAGE);
  return csvPages(rows, formatRateDeckRows);
}
