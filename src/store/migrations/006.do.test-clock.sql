-- A test clock's time, saved at every advance: a server started again with --test-clock goes on
-- from it instead of going back to the wall-clock time behind what it stamped.
CREATE TABLE test_clock (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  now timestamptz NOT NULL
);
