-- Foundation: organizations (minimal), the double-entry ledger, idempotency keys, API keys.
-- Amounts are BIGINT micro-units (10^-6 of the currency's major unit); times are timestamptz
-- written from the application's clock, never from now(), so that test clocks work.

CREATE TABLE organizations (
  id uuid PRIMARY KEY,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  currency char(3) NOT NULL,
  created_at timestamptz NOT NULL
);

CREATE TABLE ledger_accounts (
  id text PRIMARY KEY,
  -- NULL for the provider's own accounts (revenue, bank, rounding, ...).
  organization_id uuid REFERENCES organizations (id),
  code text NOT NULL,
  currency char(3) NOT NULL,
  debits_posted bigint NOT NULL DEFAULT 0 CHECK (debits_posted >= 0),
  credits_posted bigint NOT NULL DEFAULT 0 CHECK (credits_posted >= 0),
  debits_pending bigint NOT NULL DEFAULT 0 CHECK (debits_pending >= 0),
  credits_pending bigint NOT NULL DEFAULT 0 CHECK (credits_pending >= 0),
  -- A spending account: posted and pending debits may not exceed posted credits plus the overdraft.
  debits_must_not_exceed_credits boolean NOT NULL DEFAULT false,
  credits_must_not_exceed_debits boolean NOT NULL DEFAULT false,
  overdraft_limit bigint NOT NULL DEFAULT 0 CHECK (overdraft_limit >= 0),
  created_at timestamptz NOT NULL,
  CONSTRAINT ledger_accounts_one_code UNIQUE NULLS NOT DISTINCT (organization_id, code, currency)
);

CREATE INDEX ledger_accounts_organization ON ledger_accounts (organization_id);

CREATE TABLE ledger_transfers (
  id text PRIMARY KEY,
  -- posted | pending (a hold) | post_pending | void_pending | expire_pending
  kind text NOT NULL CHECK (kind IN ('posted', 'pending', 'post_pending', 'void_pending', 'expire_pending')),
  -- The row's money never changes. Only a hold's state moves, once, from pending to
  -- posted, voided or expired; the transfer that resolved it points back with pending_id.
  state text NOT NULL CHECK (state IN ('posted', 'pending', 'voided', 'expired')),
  -- No foreign keys here, on purpose: the ledger checks both accounts under its row locks before
  -- it writes, accounts are never deleted, and `ringbill ledger verify` checks the references.
  -- Foreign keys would add a row lock per reference to every posting, on the hot path.
  debit_account_id text NOT NULL,
  credit_account_id text NOT NULL,
  amount bigint NOT NULL CHECK (amount >= 0),
  currency char(3) NOT NULL,
  pending_id text,
  timeout_at timestamptz,
  resolved_at timestamptz,
  -- What the money is for: topup, usage, adjustment, ...; free text for raw operator transfers.
  code text NOT NULL,
  -- The transfers of one command (a linked group) share it.
  command_id text NOT NULL,
  metadata jsonb,
  created_at timestamptz NOT NULL,
  CHECK (debit_account_id <> credit_account_id),
  CHECK (CASE kind
    WHEN 'pending' THEN true
    WHEN 'void_pending' THEN state = 'voided'
    WHEN 'expire_pending' THEN state = 'expired'
    ELSE state = 'posted' END),
  CHECK ((kind IN ('post_pending', 'void_pending', 'expire_pending')) = (pending_id IS NOT NULL))
);

-- A hold is resolved at most once: a second post or void cannot be written, whatever the code does.
CREATE UNIQUE INDEX ledger_transfers_one_resolution ON ledger_transfers (pending_id) WHERE pending_id IS NOT NULL;
CREATE INDEX ledger_transfers_debit ON ledger_transfers (debit_account_id, id);
CREATE INDEX ledger_transfers_credit ON ledger_transfers (credit_account_id, id);
CREATE INDEX ledger_transfers_open_holds ON ledger_transfers (timeout_at) WHERE state = 'pending';

-- The first successful result of every money-moving command, by its idempotency key: the
-- request's fingerprint and the transfers it made (a replay answers with those transfers).
CREATE TABLE idempotency_keys (
  scope text NOT NULL,
  key text NOT NULL,
  request_hash text NOT NULL,
  command_id text NOT NULL,
  transfer_ids text[] NOT NULL,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (scope, key)
);

CREATE TABLE api_keys (
  id text PRIMARY KEY,
  -- SHA-256 of the secret; the secret itself is shown once and never stored.
  secret_hash text NOT NULL UNIQUE,
  -- The first characters, so people can tell keys apart in lists.
  prefix text NOT NULL,
  role text NOT NULL CHECK (role IN ('operator', 'organization')),
  organization_id uuid REFERENCES organizations (id),
  name text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL,
  revoked_at timestamptz,
  CHECK ((role = 'organization') = (organization_id IS NOT NULL))
);
