//! The periodic report's rows: a `summary` notification queued once per
//! period (a unique index decides, however many runs race), the newest one
//! not yet sent, and a period's figures per service from `checks_daily` and
//! the DOWN alerts.

use std::collections::BTreeMap;

use super::value::values;
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use super::types::Stamp;
use super::{RunId, Store};
use crate::history::PeriodStats;

/// What an unsent summary overtaken by a newer period is marked with: it
/// is never sent (the report of the last complete period is).
const SUPERSEDED: &str = "superseded by the report of a later period";

impl Store {
    /// When the first run recorded started (runs are numbered in order).
    pub fn first_run_started(&self) -> Result<Option<DateTime<Utc>>> {
        let first: Vec<Stamp> = self.read_all(
            "SELECT started_at FROM runs ORDER BY id LIMIT 1",
            &[],
            "reading the first run",
            |r| r.get(0),
        )?;
        Ok(first.into_iter().next().map(|s| s.0))
    }

    /// Queues the summary of `period` ("week 2026-11-23"), unless one was;
    /// older ones still unsent are superseded. Most runs find it queued and
    /// write nothing.
    pub fn queue_summary(&mut self, run: RunId, period: &str, at: DateTime<Utc>) -> Result<()> {
        let queued: Vec<i64> = self.read_all(
            "SELECT id FROM notifications WHERE kind = 'summary' AND period = ?1",
            values![period],
            "reading the report",
            |r| r.get(0),
        )?;
        if !queued.is_empty() {
            return Ok(());
        }
        self.conn
            .transaction(|tx| {
                tx.execute(
                    "INSERT INTO notifications (run_id, kind, created_at, period)
                     VALUES (?1, 'summary', ?2, ?3) ON CONFLICT DO NOTHING",
                    values![run.0, Stamp(at), period],
                )?;
                tx.execute(
                    "UPDATE notifications SET error = ?2
                     WHERE kind = 'summary' AND sent_at IS NULL
                       AND id < (SELECT id FROM notifications WHERE kind = 'summary' AND period = ?1)",
                    values![period, SUPERSEDED],
                )?;
                Ok(())
            })
            .context("queueing the report")
    }

    /// The newest summary not yet sent: its id, its period, and the
    /// Message-ID of a send a stopped run may have completed (the retry
    /// reuses it, so a mail client that got both shows one).
    pub fn due_summary(&self) -> Result<Option<(i64, String, Option<String>)>> {
        let due: Vec<(i64, String, Option<String>)> = self.read_all(
            "SELECT id, period, CASE WHEN error = ?2 OR error LIKE ?3 || '%' THEN message_id END
             FROM notifications
             WHERE kind = 'summary' AND sent_at IS NULL AND coalesce(error, '') != ?1
             ORDER BY id DESC LIMIT 1",
            values![
                SUPERSEDED,
                super::outbox::SENDING,
                super::outbox::SENT_MAYBE_THEN
            ],
            "reading the due report",
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        Ok(due.into_iter().next())
    }

    /// Each service's figures over `[start, end)`, by name.
    pub fn period_stats(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<PeriodStats>> {
        let day = |t: DateTime<Utc>| t.format("%Y-%m-%d").to_string();
        let rows: Vec<(String, i64, i64, i64)> = self.read_all(
            // PostgreSQL sums BIGINTs as NUMERIC: cast back.
            "SELECT service, CAST(sum(checks) AS BIGINT), CAST(sum(online) AS BIGINT),
                    CAST(sum(total_ms) AS BIGINT) FROM checks_daily
             WHERE day >= ?1 AND day < ?2 GROUP BY service",
            values![day(start), day(end)],
            "reading a period's uptime",
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        let mut stats: BTreeMap<String, PeriodStats> = rows
            .into_iter()
            .map(|(service, checks, online, total_ms)| {
                let s = PeriodStats {
                    service: service.clone(),
                    checks,
                    online,
                    total_ms,
                    ..PeriodStats::default()
                };
                (service, s)
            })
            .collect();
        // Alerts raised in the period, and those before it (up to the
        // history's reach) whose outage ran into it.
        let reach = Stamp(start - chrono::Duration::days(crate::history::DAYS));
        let alerts: Vec<(i64, String, Stamp, Option<Stamp>)> = self.read_all(
            "SELECT id, service, created_at, began FROM notifications
             WHERE kind = 'down' AND created_at >= ?1 AND created_at < ?2",
            values![reach, Stamp(end)],
            "reading a period's outages",
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        for (id, service, alerted, began) in alerts {
            let began = self.began(&service, alerted.0, began)?;
            let ended = self.outage_ended(&service, id, alerted.0)?.unwrap_or(end);
            if ended <= start {
                continue;
            }
            let s = stats.entry(service.clone()).or_insert_with(|| PeriodStats {
                service,
                ..PeriodStats::default()
            });
            s.outages += 1;
            s.downtime += ended.min(end) - began.max(start);
        }
        Ok(stats.into_values().collect())
    }
}
