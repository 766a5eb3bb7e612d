-- An organization's events of one type since an instant: the expiry of a temporary credit limit
-- asks whether `balance.low` was raised since the limit was set, and the payments issue's auto
-- top-up will ask the same of its own events. Without it that read scans every event.
CREATE INDEX events_by_organization ON events (organization_id, type, created_at);
