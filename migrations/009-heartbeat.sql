-- Schema version 8 -> 9: the heartbeat as dead-man's switches understand
-- it. A run keeps its id (`uuid`, the `rid` of healthchecks' pings and the
-- `run_id` of its JSON log lines); a heartbeat may be healthchecks' `start`
-- ping, or come from a run that never got a row (the lock was not
-- obtained: `run_id` NULL). SQLite cannot change a CHECK or a NOT NULL in
-- place, so `heartbeats` is rebuilt with the same rows and ids.

ALTER TABLE runs ADD COLUMN uuid TEXT;

CREATE TABLE heartbeats_new (
    id           INTEGER PRIMARY KEY,
    run_id       INTEGER REFERENCES runs(id),
    kind         TEXT    NOT NULL CHECK (kind IN ('start', 'success', 'fail')),
    requested_at TEXT    NOT NULL,
    status_code  INTEGER,
    error        TEXT
);

INSERT INTO heartbeats_new (id, run_id, kind, requested_at, status_code, error)
SELECT id, run_id, kind, requested_at, status_code, error FROM heartbeats;

DROP TABLE heartbeats;
ALTER TABLE heartbeats_new RENAME TO heartbeats;
