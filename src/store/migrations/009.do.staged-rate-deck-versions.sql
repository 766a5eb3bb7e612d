-- A deck's rows are written over many statements, the server answering live calls in between
-- (a million rows are tens of seconds of writing on PGlite, where one transaction would hold
-- the database for all of them). Until its last row is in, a version is staged: it belongs to
-- no deck and has no number, so no lookup, list or price can see it. Activating it sets both.
ALTER TABLE rate_deck_versions
  DROP CONSTRAINT IF EXISTS rate_deck_versions_staged,
  ALTER COLUMN deck_id DROP NOT NULL,
  ALTER COLUMN version DROP NOT NULL,
  ADD CONSTRAINT rate_deck_versions_staged CHECK ((deck_id IS NULL) = (version IS NULL));

CREATE INDEX IF NOT EXISTS rate_deck_versions_staged_since ON rate_deck_versions (created_at) WHERE deck_id IS NULL;
