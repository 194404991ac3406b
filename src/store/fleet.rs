//! A fleet's steps on its shared PostgreSQL: the checks stored first (with
//! no lock: every probe's checks are facts), then the fleet's decision lock,
//! each probe's latest fresh checks read under it, and the decisions made
//! on them stored with the notifications they make due.

use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use super::runs::{
    bump_rollups, enqueue_notifications, insert_checks, pair_decisions, upsert_states,
};
use super::types::Stamp;
use super::value::values;
use super::{RunId, Store};
use crate::alert::Decision;
use crate::check::CheckResult;
use crate::config::AlertCommand;
use crate::quorum::ProbeCheck;

/// The advisory lock every run of a fleet decides and delivers under.
const FLEET_LOCK: i64 = 0x7570_6368_6563_6b01; // "upcheck\x01"

/// Whether `e` is PostgreSQL's "lock not available" (the lock_timeout).
fn is_lock_timeout(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<postgres::Error>()
            .and_then(postgres::Error::code)
            .is_some_and(|code| *code == postgres::error::SqlState::LOCK_NOT_AVAILABLE)
    })
}

impl Store {
    /// Appends this probe's checks; their row ids, in the order of
    /// `results`. The rollups count the fleet's decisions, not each probe's
    /// checks: see `record_decisions`.
    pub fn record_checks(&mut self, run: RunId, results: &[CheckResult]) -> Result<Vec<i64>> {
        let probe = self.probe.clone();
        self.conn
            .transaction(|tx| insert_checks(tx, run, results, probe.as_deref(), true))
            .context("storing the checks")
    }

    /// Waits (at most `wait`) for the fleet's lock and keeps it until the
    /// connection ends with the run, so that across every host one run at a
    /// time decides and delivers. `Ok(false)`: another probe's run held it
    /// all that time (it is deciding and delivering; this run's checks count
    /// in the next decision). A host that dies holding it frees it as the
    /// server drops its connection (server-side keepalives, see `postgres`).
    pub fn lock_fleet(&mut self, wait: Duration) -> Result<bool> {
        let ms = wait.as_millis().max(1);
        // The statement timeout would cut a longer wait short.
        self.conn.batch(&format!(
            "SET lock_timeout = {ms}; SET statement_timeout = {}",
            ms + 5_000
        ))?;
        let taken = self
            .conn
            .execute("SELECT pg_advisory_lock(?1)", values![FLEET_LOCK]);
        self.conn.batch(&format!(
            "SET lock_timeout = 0; SET statement_timeout = {}",
            super::postgres::STATEMENT_TIMEOUT.as_millis()
        ))?;
        match taken {
            Ok(_) => Ok(true),
            Err(e) if is_lock_timeout(&e) => Ok(false),
            Err(e) => Err(e.context("waiting for the fleet's lock")),
        }
    }

    /// Each probe's latest check of each service made at `since` or later.
    pub fn fleet_view(&self, since: DateTime<Utc>) -> Result<Vec<ProbeCheck>> {
        self.read_all(
            "SELECT p.probe, c.id, c.service, c.checked_at, c.status, c.response_ms, c.status_code,
                    c.error, c.cert_expires_at
             FROM probe_state p JOIN checks c ON c.id = p.last_check_id
             WHERE p.checked_at >= ?1",
            values![Stamp(since)],
            "reading each probe's latest checks",
            |r| {
                Ok(ProbeCheck {
                    probe: r.get(0)?,
                    check_id: r.get(1)?,
                    result: CheckResult {
                        service: r.get(2)?,
                        checked_at: r.get::<Stamp>(3)?.0,
                        status: r.get(4)?,
                        response_ms: r.get::<Option<i64>>(5)?.map(|v| v.max(0) as u64),
                        status_code: r.get(6)?,
                        reason: r.get(7)?,
                        cert_expires_at: r.get::<Option<Stamp>>(8)?.map(|s| s.0),
                    },
                })
            },
        )
    }

    /// Each probe's latest check of each service, however old, by probe
    /// name: what `status` and the outputs show; none with SQLite.
    pub fn probe_views(&self) -> Result<Vec<(String, CheckResult)>> {
        if self.probe.is_none() {
            return Ok(Vec::new());
        }
        let seen = self.fleet_view(DateTime::<Utc>::UNIX_EPOCH)?;
        Ok(seen.into_iter().map(|c| (c.probe, c.result)).collect())
    }

    /// Stores the fleet's decisions, each with the check it rests on
    /// (`basis`: the check and its row id, in the order of `decisions`'
    /// services), and queues the notifications they make due.
    pub fn record_decisions(
        &mut self,
        run: RunId,
        basis: &[(&CheckResult, i64)],
        decisions: &[Decision],
        commands: &[AlertCommand],
    ) -> Result<()> {
        let decided = pair_decisions(basis, decisions);
        // Uptime is what the fleet decided: one count per service per
        // deciding run, like the all-time totals in service_state, so one
        // probe's own network trouble does not lower it.
        let verdicts: Vec<CheckResult> = decided.iter().map(|(r, _, _)| (*r).clone()).collect();
        self.conn
            .transaction(|tx| {
                bump_rollups(tx, &verdicts)?;
                upsert_states(tx, &decided)?;
                enqueue_notifications(tx, run, &decided, commands)
            })
            .context("storing the fleet's decisions")
    }
}
