-- Schema version 1 -> 2: hourly and daily rollups and all-time totals, so uptime
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

-- One row per service per day: the long uptime windows read days, not hours.
CREATE TABLE checks_daily (
    service  TEXT    NOT NULL,
    day      TEXT    NOT NULL,                -- UTC: 2026-11-21
    checks   INTEGER NOT NULL,
    online   INTEGER NOT NULL,
    total_ms INTEGER NOT NULL,
    PRIMARY KEY (service, day)
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
