-- Schema version 5 -> 6: the connectivity guard. A run that cannot reach
-- any of `[connectivity] targets` says why in `runs.network_error` and
-- probes nothing; the first such run of an outage creates one notification
-- of the new kind `network`. SQLite cannot change a CHECK in place, so
-- `notifications` is rebuilt with the same rows and ids, SQLite's way:
-- migrations run with foreign keys off and are checked before they commit.

ALTER TABLE runs ADD COLUMN network_error TEXT;

CREATE TABLE notifications_new (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs(id),
    service     TEXT,
    kind        TEXT    NOT NULL CHECK (kind IN ('down', 'reminder', 'recovery', 'report', 'fallback', 'network')),
    created_at  TEXT    NOT NULL,
    sent_at     TEXT,
    sent_run_id INTEGER REFERENCES runs(id),
    attempts    INTEGER NOT NULL DEFAULT 0,
    error       TEXT
);

INSERT INTO notifications_new (id, run_id, service, kind, created_at, sent_at, sent_run_id, attempts, error)
SELECT id, run_id, service, kind, created_at, sent_at, sent_run_id, attempts, error FROM notifications;

DROP TABLE notifications;
ALTER TABLE notifications_new RENAME TO notifications;

CREATE INDEX notifications_due ON notifications (id) WHERE sent_at IS NULL;
