-- Repairs for installs that ran earlier versions.
--
-- Migration 005 as first shipped copied the low-credit threshold onto an organization's credit
-- and unbilled accounts in every currency, where only those in the organization's currency are
-- its spending accounts (an operator could once open accounts with those codes in another). Its
-- file was later changed to say so; it is back as it shipped, and this does what the change did.
UPDATE ledger_accounts AS account
SET low_balance_threshold = NULL
FROM organizations AS organization
WHERE account.organization_id = organization.id
  AND account.currency <> organization.currency
  AND account.low_balance_threshold IS NOT NULL;

-- The environment's operator key was once listed by its first characters; a key chosen by hand
-- may be only 16 long, so it is listed by a fingerprint of its hash (as seeding it now does),
-- also where the variable is no longer set to rewrite it.
UPDATE api_keys
SET prefix = 'env:' || substr(secret_hash, 1, 8)
WHERE id = 'key_environment' AND prefix NOT LIKE 'env:%';
