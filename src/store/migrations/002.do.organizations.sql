-- Organizations in full: wallet IDs, payment scheme, invoice setup, billing profiles, credit
-- limits (as the spending account's overdraft, permanent or temporary), charges, audit log.

-- Partial name search. pg_trgm is a trusted extension: a database owner may create it. Where
-- the migrating role may not, a superuser runs this statement once beforehand.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

ALTER TABLE organizations
  ADD COLUMN wallet_id text,
  ADD COLUMN payment_scheme text NOT NULL DEFAULT 'prepaid' CHECK (payment_scheme IN ('prepaid', 'postpaid')),
  ADD COLUMN invoice_setup text NOT NULL DEFAULT 'consolidated' CHECK (invoice_setup IN ('individual', 'consolidated', 'none')),
  ADD COLUMN status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'closed')),
  ADD COLUMN account_code text CHECK (account_code IS NULL OR length(account_code) BETWEEN 1 AND 80),
  ADD COLUMN updated_at timestamptz;

-- Organizations made before wallet IDs get one now: 8 random digits and a Luhn check digit,
-- written 123-456-789 (the application makes new ones the same way).
DO $$
DECLARE
  organization record;
  digits text;
  total int;
  digit int;
  position int;
  candidate text;
BEGIN
  FOR organization IN SELECT id FROM organizations WHERE wallet_id IS NULL LOOP
    LOOP
      digits := lpad(floor(random() * 100000000)::bigint::text, 8, '0');
      total := 0;
      FOR position IN 1..8 LOOP
        digit := substr(digits, 9 - position, 1)::int;
        IF position % 2 = 1 THEN
          digit := digit * 2;
          IF digit > 9 THEN digit := digit - 9; END IF;
        END IF;
        total := total + digit;
      END LOOP;
      digits := digits || ((10 - total % 10) % 10)::text;
      candidate := substr(digits, 1, 3) || '-' || substr(digits, 4, 3) || '-' || substr(digits, 7, 3);
      EXIT WHEN NOT EXISTS (SELECT 1 FROM organizations WHERE wallet_id = candidate);
    END LOOP;
    UPDATE organizations SET wallet_id = candidate WHERE id = organization.id;
  END LOOP;
END $$;

ALTER TABLE organizations ALTER COLUMN wallet_id SET NOT NULL;
CREATE UNIQUE INDEX organizations_wallet_id ON organizations (wallet_id);
CREATE UNIQUE INDEX organizations_account_code ON organizations (account_code) WHERE account_code IS NOT NULL;
CREATE INDEX organizations_name_trgm ON organizations USING gin (name gin_trgm_ops);
CREATE INDEX organizations_name_order ON organizations (lower(name), id);

CREATE TABLE billing_profiles (
  organization_id uuid PRIMARY KEY REFERENCES organizations (id),
  company_name text,
  address_lines text[] NOT NULL DEFAULT '{}',
  city text,
  postal_code text,
  region text,
  -- ISO 3166-1 alpha-2
  country char(2),
  -- IANA, e.g. Asia/Singapore; bill periods are calendar months in it.
  time_zone text NOT NULL DEFAULT 'UTC',
  billing_email text,
  tax_id text,
  -- Percent in micro-units: 9% GST is 9000000.
  tax_rate bigint NOT NULL DEFAULT 0 CHECK (tax_rate BETWEEN 0 AND 100000000),
  updated_at timestamptz NOT NULL
);

INSERT INTO billing_profiles (organization_id, company_name, updated_at)
SELECT id, name, created_at FROM organizations;

-- A credit limit is the overdraft of the organization's spending account (`credit` for prepaid,
-- `unbilled` for postpaid). A temporary limit replaces the permanent one until it expires; the
-- ledger checks the expiry itself, so it holds to the instant whether or not the job has run.
ALTER TABLE ledger_accounts
  ADD COLUMN temporary_overdraft_limit bigint CHECK (temporary_overdraft_limit >= 0),
  ADD COLUMN temporary_overdraft_expires_at timestamptz,
  ADD CHECK ((temporary_overdraft_limit IS NULL) = (temporary_overdraft_expires_at IS NULL));

CREATE INDEX ledger_accounts_temporary_overdraft ON ledger_accounts (temporary_overdraft_expires_at)
  WHERE temporary_overdraft_expires_at IS NOT NULL;

-- What an organization is charged for, and whether an invoice has taken it yet. Unbilled charges
-- are the "expecting invoice" of the credits view.
CREATE TABLE charges (
  id text PRIMARY KEY,
  organization_id uuid NOT NULL REFERENCES organizations (id),
  -- Usage: call, sms, fax, number_activation. Otherwise: subscription, addon, service, hardware, other.
  kind text NOT NULL CHECK (kind IN ('call', 'sms', 'fax', 'number_activation', 'subscription', 'addon', 'service', 'hardware', 'other')),
  description text NOT NULL DEFAULT '',
  -- Positive: the organization owes it.
  amount bigint NOT NULL,
  currency char(3) NOT NULL,
  -- The calendar month, in the organization's time zone, as YYYY-MM.
  bill_period text NOT NULL CHECK (bill_period ~ '^\d{4}-\d{2}$'),
  occurred_at timestamptz NOT NULL,
  transfer_id text,
  invoice_id text,
  created_at timestamptz NOT NULL
);

CREATE INDEX charges_unbilled ON charges (organization_id, kind) WHERE invoice_id IS NULL;
CREATE INDEX charges_period ON charges (organization_id, bill_period);

CREATE TABLE audit_log (
  id text PRIMARY KEY,
  organization_id uuid REFERENCES organizations (id),
  -- The API key id, or `system` for scheduled work, or `cli`.
  actor text NOT NULL,
  action text NOT NULL,
  before jsonb,
  after jsonb,
  at timestamptz NOT NULL
);

CREATE INDEX audit_log_organization ON audit_log (organization_id, id);
