-- Schema version 7 -> 8: the periodic report, and when outages began. A
-- report's notification has the new kind `summary` and says which period
-- it sums up in `period` ("week 2026-11-23", "month 2026-11-01"); one per
-- period at most, by a unique index, so however many runs decide it, it is
-- queued once. A DOWN alert keeps when its failing began in `began`, so
-- the recovery and the report know it after the checks are pruned. SQLite cannot change a
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
    period      TEXT,
    began       TEXT
);

INSERT INTO notifications_new (id, run_id, service, kind, created_at, sent_at, sent_run_id, attempts, error, message_id)
SELECT id, run_id, service, kind, created_at, sent_at, sent_run_id, attempts, error, message_id FROM notifications;

DROP TABLE notifications;
ALTER TABLE notifications_new RENAME TO notifications;

CREATE INDEX notifications_due ON notifications (id) WHERE sent_at IS NULL;
CREATE UNIQUE INDEX notifications_summary ON notifications (period) WHERE kind = 'summary';
