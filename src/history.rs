//! The history the status page draws: per service the uptime of each of the
//! last 90 UTC days and the average response time of each of the last 24
//! hours, and the recent outages. Plain data: the store reads it, render
//! draws it.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};

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
