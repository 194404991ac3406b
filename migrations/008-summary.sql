-- Schema version 7 -> 8: the periodic report. Its notifications have the
-- new kind `summary` and say which period they sum up in `period` (its
-- first UTC day); one per period at most, by a unique index, so however
-- many runs and hosts decide it, it is queued once. SQLite cannot change a
-- CHECK in place, so `notifications` is rebuilt with the same rows and ids.

CREATE TABLE notifications_new (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs(id),
    service     TEXT,
    kind        TEXT    NOT NULL CHECK (kind IN ('down', 'reminder', 'recovery', 'report', 'fallback', 'network', 'summary')),
    created_at  TEXT    NOT NULL,
    sent_at     TEXT,
    sent_run_id INTEGER REFERENCES runs(id),
    attempts    INTEGER NOT NULL DEFAULT 0,
    error       TEXT,
    message_id  TEXT,
    period      TEXT
);

INSERT INTO notifications_new (id, run_id, service, kind, created_at, sent_at, sent_run_id, attempts, error, message_id)
SELECT id, run_id, service, kind, created_at, sent_at, sent_run_id, attempts, error, message_id FROM notifications;

DROP TABLE notifications;
ALTER TABLE notifications_new RENAME TO notifications;

CREATE INDEX notifications_due ON notifications (id) WHERE sent_at IS NULL;
CREATE UNIQUE INDEX notifications_summary ON notifications (period) WHERE kind = 'summary';
