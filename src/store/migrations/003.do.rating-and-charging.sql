-- Rating and charging: rate decks (named, versioned), live charging sessions, usage records,
-- internal events (balance.low), and the organization settings charging uses.

-- A named price list. Without a currency its prices are in the currency of the organization it
-- rates; with one, only organizations in that currency may use it.
CREATE TABLE rate_decks (
  id text PRIMARY KEY,
  name text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
  currency char(3),
  is_default boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL
);

-- At most one provider default deck.
CREATE UNIQUE INDEX rate_decks_one_default ON rate_decks (is_default) WHERE is_default;

-- Each import is a new version; the one in force at a call's start is the newest whose
-- effective_from is not after it.
CREATE TABLE rate_deck_versions (
  id text PRIMARY KEY,
  deck_id text NOT NULL REFERENCES rate_decks (id),
  version int NOT NULL,
  effective_from timestamptz NOT NULL,
  row_count int NOT NULL,
  source text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL,
  UNIQUE (deck_id, version)
);

CREATE INDEX rate_deck_versions_in_force ON rate_deck_versions (deck_id, effective_from);

-- Rates are exact decimal text (a carrier's rate may have more decimals than money does).
CREATE TABLE rate_deck_rows (
  version_id text NOT NULL REFERENCES rate_deck_versions (id),
  line int NOT NULL,
  service text NOT NULL CHECK (service IN ('voice', 'sms', 'fax', 'number_activation')),
  prefix text NOT NULL CHECK (prefix ~ '^\d*$'),
  destination text NOT NULL,
  connect_fee text NOT NULL,
  rate text NOT NULL,
  rate_unit int NOT NULL CHECK (rate_unit > 0),
  first_increment int NOT NULL CHECK (first_increment > 0),
  next_increment int NOT NULL CHECK (next_increment > 0),
  interval_start int NOT NULL CHECK (interval_start >= 0),
  min_duration int NOT NULL CHECK (min_duration >= 0),
  rounding_method text NOT NULL CHECK (rounding_method IN ('up', 'half_up', 'down')),
  rounding_decimals int NOT NULL CHECK (rounding_decimals BETWEEN 0 AND 6),
  max_cost text,
  max_cost_strategy text CHECK (max_cost_strategy IN ('free', 'disconnect')),
  effective_from timestamptz NOT NULL,
  effective_to timestamptz,
  PRIMARY KEY (version_id, line)
);

ALTER TABLE organizations
  ADD COLUMN rate_deck_id text REFERENCES rate_decks (id),
  -- How much call time a live session holds at a time; null: the default (60 s).
  ADD COLUMN charging_interval_seconds int CHECK (charging_interval_seconds BETWEEN 1 AND 3600),
  -- balance.low is raised once each time usable credit falls to or below this.
  ADD COLUMN low_credit_threshold bigint CHECK (low_credit_threshold >= 0),
  ADD COLUMN low_credit_raised boolean NOT NULL DEFAULT false;

CREATE TABLE charging_sessions (
  id text PRIMARY KEY,
  organization_id uuid NOT NULL REFERENCES organizations (id),
  -- The switch's id for the call; asking again with it returns the same session.
  call_id text NOT NULL,
  service text NOT NULL,
  destination text NOT NULL,
  prefix text NOT NULL,
  destination_name text NOT NULL,
  rate_deck_version_id text NOT NULL,
  -- The rate rows in force when the call started, so a new deck mid-call changes nothing.
  rate_plan jsonb NOT NULL,
  interval_seconds int NOT NULL,
  ttl_seconds int NOT NULL,
  state text NOT NULL CHECK (state IN ('active', 'ended')),
  -- How it ended: terminated by the switch, or expired (not updated within its TTL).
  end_reason text CHECK (end_reason IN ('terminated', 'expired')),
  used_seconds int NOT NULL DEFAULT 0,
  -- Cumulative: the call may last this long from its start.
  granted_seconds int NOT NULL,
  -- What has been posted so far, and the hold for the rest of the grant.
  posted_amount bigint NOT NULL DEFAULT 0,
  hold_id text,
  hold_amount bigint NOT NULL DEFAULT 0,
  cost bigint,
  billed_seconds int,
  version int NOT NULL DEFAULT 0,
  started_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  ended_at timestamptz,
  UNIQUE (organization_id, call_id)
);

CREATE INDEX charging_sessions_expiring ON charging_sessions (expires_at) WHERE state = 'active';

CREATE TABLE usage_records (
  id text PRIMARY KEY,
  organization_id uuid NOT NULL REFERENCES organizations (id),
  service text NOT NULL CHECK (service IN ('voice', 'sms', 'fax', 'number_activation')),
  destination text NOT NULL,
  destination_name text NOT NULL,
  prefix text NOT NULL,
  rate_deck_version_id text NOT NULL,
  started_at timestamptz NOT NULL,
  -- Seconds for calls, messages / pages / activations for the rest.
  quantity int NOT NULL CHECK (quantity >= 0),
  billed_quantity int NOT NULL CHECK (billed_quantity >= 0),
  cost bigint NOT NULL CHECK (cost >= 0),
  currency char(3) NOT NULL,
  bill_period text NOT NULL,
  -- session | event | cdr, and the id it had there: nothing is charged twice.
  source text NOT NULL CHECK (source IN ('session', 'event', 'cdr')),
  external_id text NOT NULL,
  charge_id text,
  created_at timestamptz NOT NULL,
  UNIQUE (organization_id, source, external_id)
);

CREATE INDEX usage_records_by_time ON usage_records (organization_id, started_at);

-- Internal events other parts hang work on (auto top-up, notifications), written in the same
-- transaction as what raised them.
CREATE TABLE events (
  id text PRIMARY KEY,
  type text NOT NULL,
  organization_id uuid REFERENCES organizations (id),
  data jsonb NOT NULL,
  created_at timestamptz NOT NULL
);

CREATE INDEX events_by_type ON events (type, id);
