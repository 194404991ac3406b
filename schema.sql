-- upcheck's database, schema version 10 (PRAGMA user_version).
-- Applied to a new, empty file on first run. An older database is brought here
-- by migrations/NNN-*.sql instead; this file always describes the newest schema
-- in full, and a test checks that both roads lead to the same place.
-- Times are UTC ISO-8601 text: 2026-11-21T10:22:01.443Z.

-- One row per `upcheck run`, written before probing so even a run that dies
-- leaves a trace (finished_at stays NULL).
CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    started_at  TEXT    NOT NULL,
    finished_at TEXT,
    forced      INTEGER NOT NULL DEFAULT 0,   -- 1 for --force
    host        TEXT    NOT NULL,
    version     TEXT    NOT NULL,             -- upcheck's version
    services    INTEGER,                      -- services probed
    failing     INTEGER,                      -- of which not online
    error       TEXT,                         -- why the run failed, if it did
    network_error TEXT,                       -- the connectivity guard found no target reachable: why (nothing probed)
    uuid        TEXT                          -- the run's id in its log lines and heartbeat pings (rid)
);

-- One row per service per run. Only appended to (and pruned by retention).
-- Kept in time order, with no rowid: the key starts with checked_at, so a
-- run appends at the end of the table however long the history, retention
-- deletes from its start, and a time window is one range of it. Each row
-- is stored once (no second index): about 60 bytes. upcheck hands out the
-- ids (counted in `sequences`), in the order it writes checks.
CREATE TABLE checks (
    id              INTEGER NOT NULL,
    run_id          INTEGER NOT NULL REFERENCES runs(id),
    service         TEXT    NOT NULL,
    checked_at      TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('online', 'degraded', 'timeout', 'offline')),
    response_ms     INTEGER,
    status_code     INTEGER,                  -- HTTP only
    error           TEXT,                     -- the reason; NULL when online
    cert_expires_at TEXT,                     -- https only: the certificate's notAfter
    PRIMARY KEY (checked_at, id)
) WITHOUT ROWID;

-- The last id handed out, for tables whose ids upcheck counts itself.
CREATE TABLE sequences (
    name TEXT    PRIMARY KEY,
    last INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO sequences (name, last) VALUES ('checks', 0);

-- One row per service per hour, kept for years while raw checks are pruned
-- (retention); updated in the same transaction that appends the checks.
CREATE TABLE checks_hourly (
    service  TEXT    NOT NULL,
    hour     TEXT    NOT NULL,                -- the hour's start, UTC: 2026-11-21T10:00:00.000Z
    checks   INTEGER NOT NULL,
    online   INTEGER NOT NULL,
    total_ms INTEGER NOT NULL,                -- sum of response_ms, for the average
    -- Time first: a run's upserts and the uptime windows all touch the last
    -- few pages, however long the history.
    PRIMARY KEY (hour, service)
) WITHOUT ROWID;

-- One row per service per day: the long uptime windows read days, not hours.
CREATE TABLE checks_daily (
    service  TEXT    NOT NULL,
    day      TEXT    NOT NULL,                -- UTC: 2026-11-21
    checks   INTEGER NOT NULL,
    online   INTEGER NOT NULL,
    total_ms INTEGER NOT NULL,
    PRIMARY KEY (day, service)
) WITHOUT ROWID;

-- The newest facts per service and its alert state, kept up to date in the
-- same transaction that appends checks: every run is a fresh process, so this
-- is where "DOWN since 10:15, reminded twice" survives between runs.
CREATE TABLE service_state (
    service          TEXT    PRIMARY KEY,
    status           TEXT    NOT NULL,
    since            TEXT    NOT NULL,        -- when it last changed between passing and failing
    last_check_id    INTEGER NOT NULL,        -- its latest check: with last_checked_at, the key in checks
    fail_streak      INTEGER NOT NULL,        -- failing runs in a row (0 when passing)
    pass_streak      INTEGER NOT NULL,        -- passing runs in a row (0 when failing)
    down             INTEGER NOT NULL,        -- 1: alerted and not yet recovered
    runs_since_alert INTEGER NOT NULL,        -- failing runs since the alert (exponential reminders)
    last_notice_at   TEXT,                    -- last alert or reminder (duration reminders)
    checks_total     INTEGER NOT NULL DEFAULT 0,  -- every check ever, for uptime_all
    online_total     INTEGER NOT NULL DEFAULT 0,
    last_checked_at  TEXT    NOT NULL,        -- that check's checked_at
    FOREIGN KEY (last_checked_at, last_check_id) REFERENCES checks (checked_at, id)
) WITHOUT ROWID;

-- What deleting a check looks up (the foreign key above, and pruning): a
-- seek, not a pass over every service.
CREATE INDEX service_state_last_check ON service_state (last_checked_at, last_check_id);

-- Every alert, reminder, recovery notice, forced report, fallback alert and
-- network notice (the connectivity guard: once per outage of this host's network).
-- A row with sent_at NULL is still due: the next run retries it.
CREATE TABLE notifications (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs(id),   -- the run that decided it
    service     TEXT,                                    -- NULL for report, fallback, network and summary
    kind        TEXT    NOT NULL CHECK (kind IN ('down', 'reminder', 'recovery', 'report', 'fallback', 'network', 'summary')),
    created_at  TEXT    NOT NULL,
    sent_at     TEXT,                                    -- when the transport accepted it
    sent_run_id INTEGER REFERENCES runs(id),             -- the run that delivered it
    attempts    INTEGER NOT NULL DEFAULT 0,
    error       TEXT,                                    -- why the last attempt failed
    message_id  TEXT,                                    -- the email that carried it (last attempt)
    period      TEXT,                                    -- a summary: its period ("week 2026-11-23")
    began       TEXT                                     -- a down alert: when the failing began
);

CREATE INDEX notifications_due ON notifications (id) WHERE sent_at IS NULL;
CREATE UNIQUE INDEX notifications_summary ON notifications (period) WHERE kind = 'summary';

-- Alert commands: one row per (notification, command) it is due for.
-- sent_at NULL: still due, retried next run.
CREATE TABLE command_deliveries (
    notification_id INTEGER NOT NULL REFERENCES notifications(id),
    command         TEXT    NOT NULL,         -- the command's argv, as JSON
    sent_at         TEXT,                     -- when it exited 0
    attempts        INTEGER NOT NULL DEFAULT 0,
    error           TEXT,                     -- why the last attempt failed
    PRIMARY KEY (notification_id, command)
) WITHOUT ROWID;

CREATE INDEX command_deliveries_due ON command_deliveries (notification_id) WHERE sent_at IS NULL;

-- Every restart the watchdog ran, and what came of it.
CREATE TABLE restarts (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs(id),
    service     TEXT    NOT NULL,
    started_at  TEXT    NOT NULL,
    exit_code   INTEGER,                      -- NULL: timed out, killed by a signal, or did not start
    outcome     TEXT    NOT NULL,             -- "exit 0", "still running at the timeout, killed", ...
    output      TEXT,                         -- the tail of what it printed
    duration_ms INTEGER NOT NULL,
    reported_at TEXT,                         -- when an email telling of it was accepted
    -- The restarted service probed again after the command: online as soon
    -- as it passes, else its status when its restart_timeout ran out.
    recheck_status TEXT,                      -- NULL: not probed again (out of time, or stopped)
    recheck_reason TEXT,
    recheck_ms     INTEGER                    -- from started_at to that probe
);

CREATE INDEX restarts_service_time ON restarts (service, started_at);

-- Heartbeat pings to the outside dead-man's switch. The URL is not stored:
-- it usually is the secret. `start`: healthchecks' ping as a run begins.
-- run_id NULL: a run that never got a row (the lock was not obtained).
CREATE TABLE heartbeats (
    id           INTEGER PRIMARY KEY,
    run_id       INTEGER REFERENCES runs(id),
    kind         TEXT    NOT NULL CHECK (kind IN ('start', 'success', 'fail')),
    requested_at TEXT    NOT NULL,
    status_code  INTEGER,
    error        TEXT                         -- NULL: the switch answered 2xx
);

-- Each service's most recent check.
CREATE VIEW latest AS
SELECT c.service, c.checked_at, c.status, c.response_ms, c.status_code, c.error
FROM service_state s
JOIN checks c ON c.checked_at = s.last_checked_at AND c.id = s.last_check_id;

-- Percent of checks that were online per window (NULL: no checks in it).
-- Windows are whole UTC hours and days, so they come from the rollups alone:
-- 24h is the current hour and the 24 before it; 7d and 30d are today and the
-- 7 or 30 days before. "all" comes from the totals. The rollups are keyed by
-- time first, so each window is one short range at the end of a table, the
-- same cost however long the history.
CREATE VIEW uptime AS
WITH b AS (
    SELECT strftime('%Y-%m-%dT%H:00:00.000Z', 'now', '-24 hours') AS h24,
           strftime('%Y-%m-%d', 'now', '-7 days') AS d7,
           strftime('%Y-%m-%d', 'now', '-30 days') AS d30,
           -- Rollups stamped after now were written by a clock that ran
           -- ahead: no window counts them.
           strftime('%Y-%m-%dT%H:00:00.000Z', 'now') AS hour_now,
           strftime('%Y-%m-%d', 'now') AS today
),
hours AS (
    SELECT h.service, sum(h.online) AS o24, sum(h.checks) AS c24
    FROM b CROSS JOIN checks_hourly h
    WHERE h.hour >= b.h24 AND h.hour <= b.hour_now
    GROUP BY h.service
),
days AS (
    SELECT d.service,
           sum(CASE WHEN d.day >= b.d7 THEN d.online END) AS o7,
           sum(CASE WHEN d.day >= b.d7 THEN d.checks END) AS c7,
           sum(d.online) AS o30,
           sum(d.checks) AS c30
    FROM b CROSS JOIN checks_daily d
    WHERE d.day >= b.d30 AND d.day <= b.today
    GROUP BY d.service
)
SELECT s.service,
       s.checks_total AS checks,
       round(100.0 * h.o24 / nullif(h.c24, 0), 3) AS uptime_24h,
       round(100.0 * d.o7 / nullif(d.c7, 0), 3) AS uptime_7d,
       round(100.0 * d.o30 / nullif(d.c30, 0), 3) AS uptime_30d,
       round(100.0 * s.online_total / nullif(s.checks_total, 0), 3) AS uptime_all
FROM service_state s
LEFT JOIN hours h ON h.service = s.service
LEFT JOIN days d ON d.service = s.service;

-- Silences from the command line (`upcheck silence`). A silenced service is
-- still probed and stored; its own alerts, reminders and restarts wait until
-- `ends_at`. Kept after they end: what was silenced last month is a query away.
CREATE TABLE silences (
    id         INTEGER PRIMARY KEY,
    service    TEXT,                 -- NULL: every service
    starts_at  TEXT NOT NULL,
    ends_at    TEXT NOT NULL,        -- `silence remove` sets it to the time of removal
    reason     TEXT,
    created_at TEXT NOT NULL
);

CREATE INDEX silences_ends ON silences (ends_at);
