-- balance.low moves into the ledger. An organization's low-credit threshold is copied onto its
-- spending accounts (credit and unbilled), and the ledger raises the event in the transaction
-- that takes an account's available balance from above it to at or below it. It compares the
-- balance before and after each change under the account's lock, so it needs no flag: the
-- organization's low_credit_raised goes.
ALTER TABLE ledger_accounts
  ADD COLUMN low_balance_threshold bigint CHECK (low_balance_threshold >= 0);

UPDATE ledger_accounts AS account
SET low_balance_threshold = organization.low_credit_threshold
FROM organizations AS organization
WHERE account.organization_id = organization.id
  AND account.code IN ('credit', 'unbilled')
  AND organization.low_credit_threshold IS NOT NULL;

ALTER TABLE organizations DROP COLUMN low_credit_raised;
