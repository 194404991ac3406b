//! Reading the history the status page draws: daily uptime from
//! `checks_daily`, hourly response times from `checks_hourly`, and outages
//! from the DOWN alerts in `notifications`, each bounded to its window.

use std::collections::HashMap;

use super::value::values;
use anyhow::Result;
use chrono::{DateTime, Duration, Utc};

use super::Store;
use super::types::Stamp;
use crate::history::{DAYS, Day, HOURS, History, Hour, Period};

/// A DOWN alert as the outage list reads it: id, service, when, the
/// reason of the check that raised it, when its failing began.
type DownRow = (i64, String, Stamp, Option<String>, Option<Stamp>);

/// Which way from a moment to look for an hour with a pass.
pub(super) enum Look {
    /// That moment's hour or an earlier one.
    Back,
    /// That moment's hour or a later one.
    On,
}

/// The outages the page lists at most.
const OUTAGES: usize = 50;

impl Store {
    /// The start of the nearest hour, from `at`'s on (or back), in which
    /// `service` passed, by the hourly rollups: where in `checks` (kept in
    /// time order, every service's together) a pass is, so that finding one
    /// reads about an hour of checks instead of a whole outage.
    pub(super) fn hour_with_a_pass(
        &self,
        service: &str,
        at: DateTime<Utc>,
        look: Look,
    ) -> Result<Option<DateTime<Utc>>> {
        let sql = match look {
            Look::Back => {
                "SELECT hour FROM checks_hourly WHERE hour <= ?2 AND service = ?1 AND online > 0
                 ORDER BY hour DESC LIMIT 1"
            }
            Look::On => {
                "SELECT hour FROM checks_hourly WHERE hour >= ?2 AND service = ?1 AND online > 0
                 ORDER BY hour LIMIT 1"
            }
        };
        let hours: Vec<Stamp> = self.read_all(
            sql,
            values![service, super::hour_of(at)],
            "reading the hourly rollups",
            |r| r.get(0),
        )?;
        Ok(hours.into_iter().next().map(|s| s.0))
    }

    /// The last `DAYS` days of history as of `now`.
    pub fn history(&self, now: DateTime<Utc>) -> Result<History> {
        Ok(History {
            days: self.days(now)?,
            hours: self.hours(now)?,
            outages: self.outages(now)?,
        })
    }

    fn days(&self, now: DateTime<Utc>) -> Result<HashMap<String, Vec<Day>>> {
        let first = (now - Duration::days(DAYS - 1))
            .format("%Y-%m-%d")
            .to_string();
        let rows: Vec<(String, String, i64, i64)> = self.read_all(
            "SELECT service, day, checks, online FROM checks_daily
             WHERE day >= ?1 ORDER BY day",
            values![first],
            "reading daily uptime",
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        let mut days: HashMap<String, Vec<Day>> = HashMap::new();
        for (service, day, checks, online) in rows {
            let (Ok(day), true) = (day.parse(), checks > 0) else {
                continue;
            };
            let uptime = online as f64 * 100.0 / checks as f64;
            days.entry(service).or_default().push(Day { day, uptime });
        }
        Ok(days)
    }

    fn hours(&self, now: DateTime<Utc>) -> Result<HashMap<String, Vec<Hour>>> {
        let first = Stamp(now - Duration::hours(HOURS));
        let rows: Vec<(String, Stamp, i64, i64)> = self.read_all(
            "SELECT service, hour, checks, total_ms FROM checks_hourly
             WHERE hour >= ?1 ORDER BY hour",
            values![first],
            "reading hourly response times",
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        let mut hours: HashMap<String, Vec<Hour>> = HashMap::new();
        for (service, hour, checks, total_ms) in rows.into_iter().filter(|r| r.2 > 0) {
            let avg_ms = total_ms as f64 / checks as f64;
            hours.entry(service).or_default().push(Hour {
                hour: hour.0,
                avg_ms,
            });
        }
        Ok(hours)
    }

    /// Each DOWN alert of the window, newest first: when its failing began,
    /// when it ended (its recovery notice; without one, the first passing
    /// check after it, unless the service is still DOWN), and its reason.
    fn outages(&self, now: DateTime<Utc>) -> Result<Vec<Period>> {
        let first = Stamp(now - Duration::days(DAYS));
        let alerts: Vec<DownRow> = self.read_all(
            "SELECT n.id, n.service, n.created_at,
                    (SELECT c.error FROM checks c
                     WHERE c.service = n.service AND c.checked_at = n.created_at LIMIT 1),
                    n.began
             FROM notifications n
             WHERE n.kind = 'down' AND n.created_at >= ?1
             ORDER BY n.created_at DESC LIMIT ?2",
            values![first, OUTAGES as i64],
            "reading outages",
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )?;
        alerts
            .into_iter()
            .map(|(id, service, alerted, reason, began)| {
                let began = self.began(&service, alerted.0, began)?;
                let ended = self.outage_ended(&service, id, alerted.0)?;
                Ok(Period {
                    service,
                    began,
                    ended,
                    reason,
                })
            })
            .collect()
    }

    /// The recovery of the outage alerted by notification `id`; `None` while
    /// it goes on.
    pub(super) fn outage_ended(
        &self,
        service: &str,
        id: i64,
        alerted: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>> {
        let ends: Vec<(Option<Stamp>, Option<i64>, bool)> = self.read_all(
            "SELECT (SELECT min(created_at) FROM notifications
                     WHERE service = ?1 AND kind = 'recovery' AND id > ?2
                       AND id < coalesce((SELECT min(id) FROM notifications
                                          WHERE service = ?1 AND kind = 'down' AND id > ?2), 9223372036854775807)),
                    (SELECT min(id) FROM notifications WHERE service = ?1 AND kind = 'down' AND id > ?2),
                    coalesce((SELECT down FROM service_state WHERE service = ?1), 0)",
            values![service, id],
            "reading when an outage ended",
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let Some((recovered, next_down, down_now)) = ends.into_iter().next() else {
            return Ok(None);
        };
        if let Some(at) = recovered {
            return Ok(Some(at.0));
        }
        if next_down.is_none() && down_now {
            return Ok(None);
        }
        // No recovery notice (notify_recovery = false): the first pass
        // after, looked for from the first hour the rollups count one in.
        let Some(hour) = self.hour_with_a_pass(service, alerted, Look::On)? else {
            return Ok(None);
        };
        let after = alerted.max(hour - Duration::milliseconds(1));
        let passed: Vec<Option<Stamp>> = self.read_all(
            "SELECT checked_at FROM checks
             WHERE service = ?1 AND checked_at > ?2
               AND status NOT IN ('offline', 'timeout', 'degraded')
             ORDER BY checked_at LIMIT 1",
            values![service, Stamp(after)],
            "reading when an outage ended",
            |r| r.get(0),
        )?;
        Ok(passed.into_iter().flatten().next().map(|s| s.0))
    }
}
