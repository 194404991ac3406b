-- Schema version 1 -> 2: hourly and daily rollups and all-time totals, so uptime
-- figures cost the same whatever the size of the raw history. Backfilled from
-- the raw checks.

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

INSERT INTO checks_hourly (service, hour, checks, online, total_ms)
SELECT service, strftime('%Y-%m-%dT%H:00:00.000Z', checked_at), count(*),
       sum(status = 'online'), coalesce(sum(response_ms), 0)
FROM checks
GROUP BY 1, 2;

-- One row per service per day: the long uptime windows read days, not hours.
CREATE TABLE checks_daily (
    service  TEXT    NOT NULL,
    day      TEXT    NOT NULL,                -- UTC: 2026-11-21
    checks   INTEGER NOT NULL,
    online   INTEGER NOT NULL,
    total_ms INTEGER NOT NULL,
    PRIMARY KEY (day, service)
) WITHOUT ROWID;

INSERT INTO checks_daily (service, day, checks, online, total_ms)
SELECT service, substr(hour, 1, 10), sum(checks), sum(online), sum(total_ms)
FROM checks_hourly
GROUP BY 1, 2;

ALTER TABLE service_state ADD COLUMN checks_total INTEGER NOT NULL DEFAULT 0;
ALTER TABLE service_state ADD COLUMN online_total INTEGER NOT NULL DEFAULT 0;

UPDATE service_state SET
    checks_total = (SELECT coalesce(sum(checks), 0) FROM checks_hourly h WHERE h.service = service_state.service),
    online_total = (SELECT coalesce(sum(online), 0) FROM checks_hourly h WHERE h.service = service_state.service);

DROP VIEW uptime;

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
           strftime('%Y-%m-%d', 'now', '-30 days') AS d30
),
hours AS (
    SELECT h.service, sum(h.online) AS o24, sum(h.checks) AS c24
    FROM b CROSS JOIN checks_hourly h
    WHERE h.hour >= b.h24
    GROUP BY h.service
),
days AS (
    SELECT d.service,
           sum(CASE WHEN d.day >= b.d7 THEN d.online END) AS o7,
           sum(CASE WHEN d.day >= b.d7 THEN d.checks END) AS c7,
           sum(d.online) AS o30,
           sum(d.checks) AS c30
    FROM b CROSS JOIN checks_daily d
    WHERE d.day >= b.d30
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
