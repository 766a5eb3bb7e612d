import { failure, type Result } from '../errors.ts';
import { listAccountsOfOrganizations } from '../ledger/ledger-store.ts';
import type { Account } from '../ledger/types.ts';
import type { Queryable } from '../store/database.ts';
import { isOrganizationAccount, spendingAccountCode, type Organization } from './organization.ts';
import { searchOrganizations, type OrganizationQuery, type SearchCursor } from './organization-store.ts';
import { parseWalletId } from './wallet-id.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What the finance team typed: an exact UUID, an exact wallet ID, else part of a name. */
export function interpretQuery(text: string): OrganizationQuery {
  const trimmed = text.trim();
  if (trimmed === '') return { by: 'all' };
  if (UUID.test(trimmed)) return { by: 'id', id: trimmed.toLowerCase() };
  const walletId = parseWalletId(trimmed);
  if (walletId) return { by: 'wallet_id', walletId };
  return { by: 'name', fragment: trimmed };
}

export interface SearchRow {
  organization: Organization;
  /** The account the credit limit is on. */
  spending: Account;
  accounts: Record<string, string>;
}

/** One page of organizations matching the text, by name, each with its accounts (for its credit limit). */
export async function searchOrganizationsByText(
  db: Queryable,
  input: { text: string; cursor?: string; limit: number; onlyId?: string },
): Promise<Result<{ rows: SearchRow[]; nextCursor: string | null }, 'invalid_input'>> {
  let after: SearchCursor | undefined;
  if (input.cursor) {
    after = decodeCursor(input.cursor);
    if (!after) return failure('invalid_input', 'querystring/cursor is not a cursor this search gave');
  }
  // An organization key only ever finds its own organization, whatever it typed.
  const found = await searchOrganizations(db, interpretQuery(input.text), { ...(after ? { after } : {}), limit: input.limit, ...(input.onlyId ? { onlyId: input.onlyId } : {}) });
  const organizations = found.map((row) => row.organization);
  const accounts = await listAccountsOfOrganizations(db, organizations.map((organization) => organization.id));
  const rows = organizations.map((organization) => {
    // Its own four, as an organization is shown on its own: not the accounts the operator opened for it.
    const own = accounts.filter((account) => account.organizationId === organization.id && account.currency === organization.currency && isOrganizationAccount(account.code));
    return {
      organization,
      spending: own.find((account) => account.code === spendingAccountCode(organization.paymentScheme))!,
      accounts: Object.fromEntries(own.map((account) => [account.code, account.id])),
    };
  });
  const last = found.at(-1);
  return { ok: true, value: { rows, nextCursor: found.length === input.limit && last ? encodeCursor({ name: last.sortName, id: last.organization.id }) : null } };
}

function encodeCursor(cursor: SearchCursor): string {
  return Buffer.from(JSON.stringify([cursor.name, cursor.id])).toString('base64url');
}

function decodeCursor(text: string): SearchCursor | undefined {
  try {
    const [name, id] = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown[];
    if (typeof name === 'string' && typeof id === 'string' && UUID.test(id) && !name.includes('\u0000')) return { name, id };
  } catch {
    // Not ours: answered below.
  }
  return undefined;
}
