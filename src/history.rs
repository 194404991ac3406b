//! The history the status page draws: per service the uptime of each of the
//! last 90 UTC days and the average response time of each of the last 24
//! hours, and the recent outages. Plain data: the store reads it, render
//! draws it.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};

use crate::config::Period as Every;

/// Days the status page's bar shows, today included.
pub const DAYS: i64 = 90;
/// Hours the response-time sparkline shows.
pub const HOURS: i64 = 24;

#[derive(Clone, Debug, Default)]
pub struct History {
    /// Per service, the days that have checks, oldest first.
    pub days: HashMap<String, Vec<Day>>,
    /// Per service, the hours that have response times, oldest first.
    pub hours: HashMap<String, Vec<Hour>>,
    /// Alerted outages of the last `DAYS` days, newest first.
    pub outages: Vec<Period>,
}

impl History {
    /// What a page the public may see keeps: no response times, no reasons.
    pub fn without_details(mut self) -> History {
        self.hours.clear();
        for outage in &mut self.outages {
            outage.reason = None;
        }
        self
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Day {
    pub day: NaiveDate,
    /// Percent of that day's checks that passed.
    pub uptime: f64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hour {
    pub hour: DateTime<Utc>,
    pub avg_ms: f64,
}

/// One outage: from the first failing check of the streak that led to a
/// DOWN alert to the recovery (`None`: still going on).
#[derive(Clone, Debug, PartialEq)]
pub struct Period {
    pub service: String,
    pub began: DateTime<Utc>,
    pub ended: Option<DateTime<Utc>>,
    /// The reason of the check that raised the alert.
    pub reason: Option<String>,
}

/// One service over a report's period.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PeriodStats {
    pub service: String,
    pub checks: i64,
    pub online: i64,
    pub total_ms: i64,
    /// DOWN alerts raised in the period.
    pub outages: u32,
    /// Time down within the period, from those outages.
    pub downtime: Duration,
}

impl PeriodStats {
    pub fn uptime(&self) -> Option<f64> {
        (self.checks > 0).then(|| self.online as f64 * 100.0 / self.checks as f64)
    }

    pub fn avg_ms(&self) -> Option<f64> {
        (self.checks > 0).then(|| self.total_ms as f64 / self.checks as f64)
    }
}

/// The last period that has ended by `now`: `[start, end)`, weeks from
/// Monday 00:00 UTC, months from the 1st.
pub fn last_complete(every: Every, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let end = period_start(every, now.date_naive());
    (before(every, end), at_midnight(end))
}

/// How a report's period is keyed in the database: "week 2026-11-23",
/// "month 2026-11-01" (a change of `every` starts a new series).
pub fn period_key(every: Every, first: NaiveDate) -> String {
    let word = match every {
        Every::Week => "week",
        Every::Month => "month",
    };
    format!("{word} {first}")
}

/// `period_key` read back.
pub fn parse_period_key(key: &str) -> Option<(Every, NaiveDate)> {
    let (word, day) = key.split_once(' ')?;
    let every = match word {
        "week" => Every::Week,
        "month" => Every::Month,
        _ => return None,
    };
    Some((every, day.parse().ok()?))
}

/// The period starting on `first`: `[first, the next period's first day)`.
pub fn period(every: Every, first: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let next = match every {
        Every::Week => first + Duration::days(7),
        Every::Month => period_start(Every::Month, first + Duration::days(32)),
    };
    (at_midnight(first), at_midnight(next))
}

/// The period before the one starting on `start`: `[its start, start)`.
pub fn previous(every: Every, start: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    (before(every, start), at_midnight(start))
}

/// The first day of the period `day` is in.
fn period_start(every: Every, day: NaiveDate) -> NaiveDate {
    match every {
        Every::Week => day - Duration::days(i64::from(day.weekday().num_days_from_monday())),
        Every::Month => day.with_day(1).unwrap_or(day),
    }
}

/// The start of the period before the one starting on `start`.
fn before(every: Every, start: NaiveDate) -> DateTime<Utc> {
    let day = match every {
        Every::Week => start - Duration::days(7),
        Every::Month => period_start(Every::Month, start - Duration::days(1)),
    };
    at_midnight(day)
}

fn at_midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::parse_iso;

    #[test]
    fn the_last_complete_period_ends_at_this_periods_start() {
        let now = parse_iso("2026-12-02T10:00:00Z").unwrap(); // a Wednesday
        let (start, end) = last_complete(Every::Week, now);
        assert_eq!(
            (start.to_rfc3339(), end.to_rfc3339()),
            (
                "2026-11-23T00:00:00+00:00".into(),
                "2026-11-30T00:00:00+00:00".into()
            )
        );
        let (start, end) = last_complete(Every::Month, now);
        assert_eq!(
            (start.to_rfc3339(), end.to_rfc3339()),
            (
                "2026-11-01T00:00:00+00:00".into(),
                "2026-12-01T00:00:00+00:00".into()
            )
        );
        let (start, _) = previous(Every::Month, NaiveDate::from_ymd_opt(2026, 3, 1).unwrap());
        assert_eq!(start.to_rfc3339(), "2026-02-01T00:00:00+00:00");
        let (_, end) = period(Every::Month, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
        assert_eq!(end.to_rfc3339(), "2026-02-01T00:00:00+00:00");
        // A Monday just after midnight: last week is complete.
        let monday = parse_iso("2026-11-30T00:00:01Z").unwrap();
        assert_eq!(
            last_complete(Every::Week, monday).1,
            monday - Duration::seconds(1)
        );
    }
}
