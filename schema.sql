-- upcheck's database, schema version 2 (PRAGMA user_version).
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
    error       TEXT                          -- why the run failed, if it did
);

-- One row per service per run. Only appended to (and pruned by retention).
CREATE TABLE checks (
    id              INTEGER PRIMARY KEY,
    run_id          INTEGER NOT NULL REFERENCES runs(id),
    service         TEXT    NOT NULL,
    checked_at      TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('online', 'degraded', 'timeout', 'offline')),
    response_ms     INTEGER,
    status_code     INTEGER,                  -- HTTP only
    error           TEXT,                     -- the reason; NULL when online
    cert_expires_at TEXT                      -- https only: the certificate's notAfter
);

-- Per-service history ("last outage of X", uptime windows) reads one range of this.
CREATE INDEX checks_service_time ON checks (service, checked_at);

-- One row per service per hour, kept for years while raw checks are pruned
-- (retention); updated in the same transaction that appends the checks.
CREATE TABLE checks_hourly (
    service  TEXT    NOT NULL,
    hour     TEXT    NOT NULL,                -- the hour's start, UTC: 2026-11-21T10:00:00.000Z
    checks   INTEGER NOT NULL,
    online   INTEGER NOT NULL,
    total_ms INTEGER NOT NULL,                -- sum of response_ms, for the average
    PRIMARY KEY (service, hour)
) WITHOUT ROWID;

-- One row per service per day: the long uptime windows read days, not hours.
CREATE TABLE checks_daily (
    service  TEXT    NOT NULL,
    day      TEXT    NOT NULL,                -- UTC: 2026-11-21
    checks   INTEGER NOT NULL,
    online   INTEGER NOT NULL,
    total_ms INTEGER NOT NULL,
    PRIMARY KEY (service, day)
) WITHOUT ROWID;

-- The newest facts per service and its alert state, kept up to date in the
-- same transaction that appends checks: every run is a fresh process, so this
-- is where "DOWN since 10:15, reminded twice" survives between runs.
CREATE TABLE service_state (
    service          TEXT    PRIMARY KEY,
    status           TEXT    NOT NULL,
    since            TEXT    NOT NULL,        -- when it last changed between passing and failing
    last_check_id    INTEGER NOT NULL REFERENCES checks(id),
    fail_streak      INTEGER NOT NULL,        -- failing runs in a row (0 when passing)
    pass_streak      INTEGER NOT NULL,        -- passing runs in a row (0 when failing)
    down             INTEGER NOT NULL,        -- 1: alerted and not yet recovered
    runs_since_alert INTEGER NOT NULL,        -- failing runs since the alert (exponential reminders)
    last_notice_at   TEXT,                    -- last alert or reminder (duration reminders)
    checks_total     INTEGER NOT NULL DEFAULT 0,  -- every check ever, for uptime_all
    online_total     INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- Every alert, reminder, recovery notice, forced report and fallback alert.
-- A row with sent_at NULL is still due: the next run retries it.
CREATE TABLE notifications (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs(id),   -- the run that decided it
    service     TEXT,                                    -- NULL for report and fallback
    kind        TEXT    NOT NULL CHECK (kind IN ('down', 'reminder', 'recovery', 'report', 'fallback')),
    created_at  TEXT    NOT NULL,
    sent_at     TEXT,                                    -- when the transport accepted it
    sent_run_id INTEGER REFERENCES runs(id),             -- the run that delivered it
    attempts    INTEGER NOT NULL DEFAULT 0,
    error       TEXT                                     -- why the last attempt failed
);

CREATE INDEX notifications_due ON notifications (id) WHERE sent_at IS NULL;

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
    reported_at TEXT                          -- when an email telling of it was accepted
);

CREATE INDEX restarts_service_time ON restarts (service, started_at);

-- Heartbeat pings to the outside dead-man's switch. The URL is not stored:
-- it usually is the secret.
CREATE TABLE heartbeats (
    id           INTEGER PRIMARY KEY,
    run_id       INTEGER NOT NULL REFERENCES runs(id),
    kind         TEXT    NOT NULL CHECK (kind IN ('success', 'fail')),
    requested_at TEXT    NOT NULL,
    status_code  INTEGER,
    error        TEXT                         -- NULL: the switch answered 2xx
);

-- Each service's most recent check.
CREATE VIEW latest AS
SELECT c.service, c.checked_at, c.status, c.response_ms, c.status_code, c.error
FROM service_state s
JOIN checks c ON c.id = s.last_check_id;

-- Percent of checks that were online per window (NULL: no checks in it).
-- A window is its part-hour edge from the raw checks, whole hours from
-- checks_hourly up to the first whole day, and whole days from checks_daily;
-- "all" comes from the totals. Every part is a short range of a primary key
-- or index, so the cost stays the same however long the history grows.
CREATE VIEW uptime AS
WITH b AS (
    SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 day') AS s1,
           strftime('%Y-%m-%dT%H:00:00.000Z', 'now', '-1 day', '+1 hour') AS h1,
           strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-7 days') AS s7,
           strftime('%Y-%m-%dT%H:00:00.000Z', 'now', '-7 days', '+1 hour') AS h7,
           strftime('%Y-%m-%dT00:00:00.000Z', 'now', '-7 days', '+1 day') AS dh7,
           strftime('%Y-%m-%d', 'now', '-7 days', '+1 day') AS d7,
           strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-30 days') AS s30,
           strftime('%Y-%m-%dT%H:00:00.000Z', 'now', '-30 days', '+1 hour') AS h30,
           strftime('%Y-%m-%dT00:00:00.000Z', 'now', '-30 days', '+1 day') AS dh30,
           strftime('%Y-%m-%d', 'now', '-30 days', '+1 day') AS d30
),
parts AS (
    SELECT s.service, s.checks_total, s.online_total,
        (SELECT count(*) FROM checks c WHERE c.service = s.service AND c.checked_at >= b.s1 AND c.checked_at < b.h1 AND c.status = 'online')
          + (SELECT coalesce(sum(online), 0) FROM checks_hourly h WHERE h.service = s.service AND h.hour >= b.h1) AS o1,
        (SELECT count(*) FROM checks c WHERE c.service = s.service AND c.checked_at >= b.s1 AND c.checked_at < b.h1)
          + (SELECT coalesce(sum(checks), 0) FROM checks_hourly h WHERE h.service = s.service AND h.hour >= b.h1) AS c1,
        (SELECT count(*) FROM checks c WHERE c.service = s.service AND c.checked_at >= b.s7 AND c.checked_at < b.h7 AND c.status = 'online')
          + (SELECT coalesce(sum(online), 0) FROM checks_hourly h WHERE h.service = s.service AND h.hour >= b.h7 AND h.hour < b.dh7)
          + (SELECT coalesce(sum(online), 0) FROM checks_daily d WHERE d.service = s.service AND d.day >= b.d7) AS o7,
        (SELECT count(*) FROM checks c WHERE c.service = s.service AND c.checked_at >= b.s7 AND c.checked_at < b.h7)
          + (SELECT coalesce(sum(checks), 0) FROM checks_hourly h WHERE h.service = s.service AND h.hour >= b.h7 AND h.hour < b.dh7)
          + (SELECT coalesce(sum(checks), 0) FROM checks_daily d WHERE d.service = s.service AND d.day >= b.d7) AS c7,
        (SELECT count(*) FROM checks c WHERE c.service = s.service AND c.checked_at >= b.s30 AND c.checked_at < b.h30 AND c.status = 'online')
          + (SELECT coalesce(sum(online), 0) FROM checks_hourly h WHERE h.service = s.service AND h.hour >= b.h30 AND h.hour < b.dh30)
          + (SELECT coalesce(sum(online), 0) FROM checks_daily d WHERE d.service = s.service AND d.day >= b.d30) AS o30,
        (SELECT count(*) FROM checks c WHERE c.service = s.service AND c.checked_at >= b.s30 AND c.checked_at < b.h30)
          + (SELECT coalesce(sum(checks), 0) FROM checks_hourly h WHERE h.service = s.service AND h.hour >= b.h30 AND h.hour < b.dh30)
          + (SELECT coalesce(sum(checks), 0) FROM checks_daily d WHERE d.service = s.service AND d.day >= b.d30) AS c30
    FROM b CROSS JOIN service_state s
)
SELECT service,
       checks_total AS checks,
       round(100.0 * o1 / nullif(c1, 0), 3) AS uptime_24h,
       round(100.0 * o7 / nullif(c7, 0), 3) AS uptime_7d,
       round(100.0 * o30 / nullif(c30, 0), 3) AS uptime_30d,
       round(100.0 * online_total / nullif(checks_total, 0), 3) AS uptime_all
FROM parts;
