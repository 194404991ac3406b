-- Schema version 1 -> 2: hourly rollups and all-time totals, so uptime
-- figures cost the same whatever the size of the raw history. Backfilled from
-- the raw checks.

CREATE TABLE checks_hourly (
    service  TEXT    NOT NULL,
    hour     TEXT    NOT NULL,                -- the hour's start, UTC: 2026-11-21T10:00:00.000Z
    checks   INTEGER NOT NULL,
    online   INTEGER NOT NULL,
    total_ms INTEGER NOT NULL,                -- sum of response_ms, for the average
    PRIMARY KEY (service, hour)
) WITHOUT ROWID;

INSERT INTO checks_hourly (service, hour, checks, online, total_ms)
SELECT service, strftime('%Y-%m-%dT%H:00:00.000Z', checked_at), count(*),
       sum(status = 'online'), coalesce(sum(response_ms), 0)
FROM checks
GROUP BY 1, 2;

ALTER TABLE service_state ADD COLUMN checks_total INTEGER NOT NULL DEFAULT 0;
ALTER TABLE service_state ADD COLUMN online_total INTEGER NOT NULL DEFAULT 0;

UPDATE service_state SET
    checks_total = (SELECT coalesce(sum(checks), 0) FROM checks_hourly h WHERE h.service = service_state.service),
    online_total = (SELECT coalesce(sum(online), 0) FROM checks_hourly h WHERE h.service = service_state.service);

DROP VIEW uptime;

-- Percent of checks that were online per window (NULL: no checks in it).
-- Whole hours come from checks_hourly, the part-hour at the window's start
-- from the raw checks, and "all" from the totals: the cost does not grow with
-- the history.
CREATE VIEW uptime AS
WITH b AS (
    SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 day') AS s1,
           strftime('%Y-%m-%dT%H:00:00.000Z', 'now', '-1 day', '+1 hour') AS h1,
           strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-7 days') AS s7,
           strftime('%Y-%m-%dT%H:00:00.000Z', 'now', '-7 days', '+1 hour') AS h7,
           strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-30 days') AS s30,
           strftime('%Y-%m-%dT%H:00:00.000Z', 'now', '-30 days', '+1 hour') AS h30
),
hours AS (
    SELECT h.service,
           sum(CASE WHEN h.hour >= b.h1 THEN h.online END) AS o1, sum(CASE WHEN h.hour >= b.h1 THEN h.checks END) AS c1,
           sum(CASE WHEN h.hour >= b.h7 THEN h.online END) AS o7, sum(CASE WHEN h.hour >= b.h7 THEN h.checks END) AS c7,
           sum(h.online) AS o30, sum(h.checks) AS c30
    FROM service_state s CROSS JOIN b
    JOIN checks_hourly h ON h.service = s.service AND h.hour >= b.h30
    GROUP BY h.service
),
edges AS (
    SELECT s.service,
           (SELECT count(*) FROM checks c WHERE c.service = s.service AND c.checked_at >= b.s1 AND c.checked_at < b.h1 AND c.status = 'online') AS o1,
           (SELECT count(*) FROM checks c WHERE c.service = s.service AND c.checked_at >= b.s1 AND c.checked_at < b.h1) AS c1,
           (SELECT count(*) FROM checks c WHERE c.service = s.service AND c.checked_at >= b.s7 AND c.checked_at < b.h7 AND c.status = 'online') AS o7,
           (SELECT count(*) FROM checks c WHERE c.service = s.service AND c.checked_at >= b.s7 AND c.checked_at < b.h7) AS c7,
           (SELECT count(*) FROM checks c WHERE c.service = s.service AND c.checked_at >= b.s30 AND c.checked_at < b.h30 AND c.status = 'online') AS o30,
           (SELECT count(*) FROM checks c WHERE c.service = s.service AND c.checked_at >= b.s30 AND c.checked_at < b.h30) AS c30
    FROM service_state s CROSS JOIN b
)
SELECT s.service,
       s.checks_total AS checks,
       round(100.0 * (coalesce(h.o1, 0) + e.o1) / nullif(coalesce(h.c1, 0) + e.c1, 0), 3) AS uptime_24h,
       round(100.0 * (coalesce(h.o7, 0) + e.o7) / nullif(coalesce(h.c7, 0) + e.c7, 0), 3) AS uptime_7d,
       round(100.0 * (coalesce(h.o30, 0) + e.o30) / nullif(coalesce(h.c30, 0) + e.c30, 0), 3) AS uptime_30d,
       round(100.0 * s.online_total / nullif(s.checks_total, 0), 3) AS uptime_all
FROM service_state s
JOIN edges e ON e.service = s.service
LEFT JOIN hours h ON h.service = s.service;
