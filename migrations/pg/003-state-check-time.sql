-- PostgreSQL schema version 2 -> 3: as migrations/010-checks-in-time-order.sql,
-- service_state also keeps its latest check's time (`last_checked_at`), so
-- the store's statements are the same on both. PostgreSQL keeps `checks`
-- as it was: a heap with its own id key and the (service, checked_at) index.

ALTER TABLE service_state ADD COLUMN last_checked_at TEXT COLLATE "C";
UPDATE service_state s
SET last_checked_at = coalesce((SELECT c.checked_at FROM checks c WHERE c.id = s.last_check_id), s.since);
ALTER TABLE service_state ALTER COLUMN last_checked_at SET NOT NULL;
