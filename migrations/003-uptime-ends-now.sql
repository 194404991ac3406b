-- Schema version 2 -> 3: the uptime windows end now. Rollups stamped in the
-- future (by a run whose clock was ahead) counted in every window until the
-- clock caught up: a service online all of the real last day showed 50%.

DROP VIEW uptime;

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
