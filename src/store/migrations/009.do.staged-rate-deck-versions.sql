-- A deck's rows are written over many statements, the server answering live calls in between
-- (a million rows are tens of seconds of writing on PGlite, where one transaction would hold
-- the database for all of them). Until its last row is in, a version is staged: it belongs to
-- no deck and has no number, so no lookup, list or price can see it. Activating it sets both.
-- staged_at is when the import last wrote, by the database's clock (every process of an install
-- shares it; the test clock moves by hours at a time): a staged version whose import has been
-- silent for an hour is an import that stopped part way, and the next import removes it, first
-- setting removing_since, after which its import, should it wake, can neither write nor
-- activate it.
ALTER TABLE rate_deck_versions
  DROP CONSTRAINT IF EXISTS rate_deck_versions_staged,
  ALTER COLUMN deck_id DROP NOT NULL,
  ALTER COLUMN version DROP NOT NULL,
  ADD COLUMN IF NOT EXISTS staged_at timestamptz,
  ADD COLUMN IF NOT EXISTS removing_since timestamptz,
  ADD CONSTRAINT rate_deck_versions_staged CHECK (
    (deck_id IS NULL) = (version IS NULL) AND (deck_id IS NULL) = (staged_at IS NOT NULL) AND (removing_since IS NULL OR deck_id IS NULL)
  );

CREATE INDEX IF NOT EXISTS rate_deck_versions_staged_since ON rate_deck_versions (staged_at) WHERE deck_id IS NULL;
