-- Schema version 9 -> 10: `checks` kept in time order, each row stored
-- once. A rowid table plus its (service, checked_at) index stored every
-- check twice (101 bytes each at 10 million), and each run added an entry in
-- as many places of that index as it has services. Now the table itself is
-- keyed by (checked_at, id) WITHOUT ROWID: a run appends at its end, the
-- retention deletes from its start. ids are kept; upcheck counts new ones
-- in `sequences`. service_state points at its latest check by that key
-- (a foreign key must name a unique key). Both tables are rebuilt, as
-- SQLite's procedure for changing a table's shape says; the views that
-- read them are dropped first and made again after.

DROP VIEW latest;
DROP VIEW uptime;

CREATE TABLE checks_new (
    id              INTEGER NOT NULL,
    run_id          INTEGER NOT NULL REFERENCES runs(id),
    service         TEXT    NOT NULL,
    checked_at      TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('online', 'degraded', 'timeout', 'offline')),
    response_ms     INTEGER,
    status_code     INTEGER,
    error           TEXT,
    cert_expires_at TEXT,
    PRIMARY KEY (checked_at, id)
) WITHOUT ROWID;

-- In id order, as the rows lie: nearly the key's order, so no sort.
INSERT INTO checks_new (id, run_id, service, checked_at, status, response_ms, status_code, error, cert_expires_at)
SELECT id, run_id, service, checked_at, status, response_ms, status_code, error, cert_expires_at
FROM checks ORDER BY id;

CREATE TABLE sequences (
    name TEXT    PRIMARY KEY,
    last INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO sequences (name, last) SELECT 'checks', coalesce(max(id), 0) FROM checks;

CREATE TABLE service_state_new (
    service          TEXT    PRIMARY KEY,
    status           TEXT    NOT NULL,
    since            TEXT    NOT NULL,
    last_check_id    INTEGER NOT NULL,
    fail_streak      INTEGER NOT NULL,
    pass_streak      INTEGER NOT NULL,
    down             INTEGER NOT NULL,
    runs_since_alert INTEGER NOT NULL,
    last_notice_at   TEXT,
    checks_total     INTEGER NOT NULL DEFAULT 0,
    online_total     INTEGER NOT NULL DEFAULT 0,
    last_checked_at  TEXT    NOT NULL,
    FOREIGN KEY (last_checked_at, last_check_id) REFERENCES checks (checked_at, id)
) WITHOUT ROWID;

-- A state whose check someone deleted stays (its reference was broken
-- before and stays broken; `since` stands in for the missing time).
INSERT INTO service_state_new
    (service, status, since, last_check_id, fail_streak, pass_streak, down, runs_since_alert,
     last_notice_at, checks_total, online_total, last_checked_at)
SELECT s.service, s.status, s.since, s.last_check_id, s.fail_streak, s.pass_streak, s.down,
       s.runs_since_alert, s.last_notice_at, s.checks_total, s.online_total, coalesce(c.checked_at, s.since)
FROM service_state s LEFT JOIN checks c ON c.id = s.last_check_id;

DROP TABLE service_state;
DROP TABLE checks;
ALTER TABLE checks_new RENAME TO checks;
ALTER TABLE service_state_new RENAME TO service_state;

CREATE INDEX service_state_last_check ON service_state (last_checked_at, last_check_id);

-- Each service's most recent check.
CREATE VIEW latest AS
SELECT c.service, c.checked_at, c.status, c.response_ms, c.status_code, c.error
FROM service_state s
JOIN checks c ON c.checked_at = s.last_checked_at AND c.id = s.last_check_id;

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
