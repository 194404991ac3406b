-- PostgreSQL schema version 1 -> 2: as migrations/009-heartbeat.sql: a
-- run keeps its id (`uuid`); a heartbeat may be a `start` ping, or come
-- from a run that never got a row (`run_id` NULL).

ALTER TABLE runs ADD COLUMN uuid TEXT;
ALTER TABLE heartbeats ALTER COLUMN run_id DROP NOT NULL;
ALTER TABLE heartbeats DROP CONSTRAINT heartbeats_kind_check;
ALTER TABLE heartbeats ADD CONSTRAINT heartbeats_kind_check CHECK (kind IN ('start', 'success', 'fail'));
