import { failure, type Failure } from '../errors.ts';
import type { Queryable } from '../store/database.ts';
import { accountCodeTaken } from './organization-store.ts';
import { parseWalletId } from './wallet-id.ts';

/**
 * Refuses an account code another organization answers to in a CDR file: its account code, or
 * its wallet ID (CDR lines name either, and the account code would win, charging the wrong one).
 */
export async function refuseTakenAccountCode(db: Queryable, accountCode: string, exceptId: string | null): Promise<Failure<'account_code_taken'> | undefined> {
  const taken = await accountCodeTaken(db, accountCode, parseWalletId(accountCode), exceptId);
  if (taken === 'account_code') return failure('account_code_taken', `another organization has the account code "${accountCode}"`);
  if (taken === 'wallet_id') return failure('account_code_taken', `"${accountCode}" is another organization's wallet ID; CDRs naming it would be charged to the wrong organization`);
  return undefined;
}
