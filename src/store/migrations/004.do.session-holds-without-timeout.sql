-- Holds of live calls used to time out an hour after their session's TTL. If the scheduler was
-- down that long, the ledger released the credit first and the call could never be charged. A
-- session's hold is now settled by the session's own expiry only.
UPDATE ledger_transfers
SET timeout_at = NULL
WHERE state = 'pending'
  AND id IN (SELECT hold_id FROM charging_sessions WHERE state = 'active' AND hold_id IS NOT NULL);
