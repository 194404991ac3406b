//! What the reports and the next run read back: each service's summary
//! (latest check and uptime), its alert state, its latest response time, and
//! when the last runs started.

use std::collections::HashMap;

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::types::Stamp;
use super::value::{ToValue, Value, values};
use super::{RunId, Store};
use crate::alert::AlertState;
use crate::check::{CheckResult, ServiceSummary, Uptime};

impl Store {
    /// `sqlite`, or in a fleet `fleet`: the same question of this probe's
    /// own runs only, its probe the last parameter (see `with_probe`).
    /// Runs of other hosts say nothing of this host's clock, schedule or
    /// network.
    pub(super) fn own_runs(&self, sqlite: &'static str, fleet: &'static str) -> &'static str {
        match self.probe {
            None => sqlite,
            Some(_) => fleet,
        }
    }

    /// `params`, and this probe's name after them in a fleet.
    pub(super) fn with_probe(&self, params: &[Value]) -> Vec<Value> {
        let mut all = params.to_vec();
        all.extend(self.probe.as_deref().map(ToValue::to_value));
        all
    }

    /// Each service's latest response time, to start the slow ones first. A
    /// check without one was abandoned past its timeout or never started
    /// before the run's: the slowest of all.
    pub fn last_response_ms(&self) -> Result<HashMap<String, u64>> {
        self.read_all(
            "SELECT s.service, c.response_ms FROM service_state s
             JOIN checks c ON c.checked_at = s.last_checked_at AND c.id = s.last_check_id",
            &[],
            "reading the latest response times",
            |r| {
                Ok((
                    r.get::<String>(0)?,
                    r.get::<Option<i64>>(1)?
                        .map_or(u64::MAX, |ms| ms.max(0) as u64),
                ))
            },
        )
    }

    /// Each service's alert state as the last run left it.
    pub fn alert_states(&self) -> Result<HashMap<String, AlertState>> {
        self.read_all(
            "SELECT service, status, since, fail_streak, pass_streak, down, runs_since_alert, last_notice_at
             FROM service_state",
            &[],
            "reading the alert state",
            |r| {
                let state = AlertState {
                    status: r.get(1)?,
                    since: r.get::<Option<Stamp>>(2)?.map(|s| s.0),
                    fail_streak: r.get(3)?,
                    pass_streak: r.get(4)?,
                    down: r.get(5)?,
                    runs_since_alert: r.get(6)?,
                    last_notice_at: r.get::<Option<Stamp>>(7)?.map(|s| s.0),
                };
                Ok((r.get::<String>(0)?, state))
            },
        )
    }

    /// The latest facts and uptime of every service that has been checked.
    pub fn summaries(&self) -> Result<HashMap<String, ServiceSummary>> {
        self.read_all(
            "SELECT s.service, s.status, s.since, c.checked_at, c.response_ms, c.status_code, c.error,
                    c.cert_expires_at, u.uptime_24h, u.uptime_7d, u.uptime_30d, u.uptime_all
             FROM service_state s
             JOIN checks c ON c.checked_at = s.last_checked_at AND c.id = s.last_check_id
             LEFT JOIN uptime u ON u.service = s.service",
            &[],
            &format!("reading service summaries from {}", self.name),
            |row| {
                let service: String = row.get(0)?;
                let status = row.get(1)?;
                let since = row.get::<Stamp>(2)?.0;
                let last = CheckResult {
                    service: service.clone(),
                    checked_at: row.get::<Stamp>(3)?.0,
                    status,
                    response_ms: row.get::<Option<i64>>(4)?.map(|v| v.max(0) as u64),
                    status_code: row.get(5)?,
                    reason: row.get(6)?,
                    cert_expires_at: row.get::<Option<Stamp>>(7)?.map(|s| s.0),
                };
                let uptime = Uptime {
                    h24: row.get(8)?,
                    d7: row.get(9)?,
                    d30: row.get(10)?,
                    all: row.get(11)?,
                };
                Ok((
                    service,
                    ServiceSummary {
                        status,
                        since,
                        last,
                        uptime,
                    },
                ))
            },
        )
    }

    /// When the two runs before `run` started, newest first.
    pub fn previous_run_starts(&self, run: RunId) -> Result<Vec<DateTime<Utc>>> {
        self.read_all(
            self.own_runs(
                "SELECT started_at FROM runs WHERE id < ?1 ORDER BY id DESC LIMIT 2",
                "SELECT started_at FROM runs WHERE id < ?1 AND probe = ?2 ORDER BY id DESC LIMIT 2",
            ),
            &self.with_probe(values![run.0]),
            "reading when the previous runs started",
            |r| Ok(r.get::<Stamp>(0)?.0),
        )
    }

    /// Start times of the two most recent scheduled runs, newest first:
    /// enough to guess when the scheduler will run upcheck next. A forced
    /// run (`--force`, by hand) says nothing of the schedule, and a run still
    /// going is not over yet, unless it is `current`, the one asking.
    pub fn recent_run_starts(&self, current: Option<RunId>) -> Result<Vec<DateTime<Utc>>> {
        self.read_all(
            self.own_runs(
                "SELECT started_at FROM runs
                 WHERE forced = 0 AND (finished_at IS NOT NULL OR id = ?1)
                 ORDER BY id DESC LIMIT 2",
                "SELECT started_at FROM runs
                 WHERE forced = 0 AND (finished_at IS NOT NULL OR id = ?1) AND probe = ?2
                 ORDER BY id DESC LIMIT 2",
            ),
            &self.with_probe(values![current.map_or(-1, |r| r.0)]),
            "reading when the last runs started",
            |r| Ok(r.get::<Stamp>(0)?.0),
        )
    }

    /// Why the connectivity guard stopped the latest run that probed or was
    /// stopped by it; `None` when that run probed (or there is none).
    pub fn network_down(&self) -> Result<Option<String>> {
        let latest: Vec<Option<String>> = self.read_all(
            self.own_runs(
                "SELECT network_error FROM runs
                 WHERE network_error IS NOT NULL OR services IS NOT NULL
                 ORDER BY id DESC LIMIT 1",
                "SELECT network_error FROM runs
                 WHERE (network_error IS NOT NULL OR services IS NOT NULL) AND probe = ?1
                 ORDER BY id DESC LIMIT 1",
            ),
            &self.with_probe(&[]),
            "reading the last run's connectivity",
            |r| r.get(0),
        )?;
        Ok(latest.into_iter().next().flatten())
    }
}
