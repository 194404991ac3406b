//! A fleet's steps on its shared PostgreSQL: the checks stored first (with
//! no lock: every probe's checks are facts), then the fleet's decision lock,
//! each probe's latest fresh checks read under it, and the decisions made
//! on them stored with the notifications they make due.

use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use super::db::values;
use super::runs::{Decided, bump_rollups, enqueue_notifications, insert_checks, upsert_states};
use super::types::Stamp;
use super::{RunId, Store};
use crate::alert::Decision;
use crate::check::CheckResult;
use crate::config::AlertCommand;
use crate::quorum::ProbeCheck;

/// The advisory lock every run of a fleet decides and delivers under.
const FLEET_LOCK: i64 = 0x7570_6368_6563_6b01; // "upcheck\x01"

impl Store {
    /// Appends this probe's checks and their rollups; their row ids, in
    /// the order of `results`.
    pub fn record_checks(&mut self, run: RunId, results: &[CheckResult]) -> Result<Vec<i64>> {
        let probe = self.probe.clone();
        self.conn
            .transaction(|tx| {
                let ids = insert_checks(tx, run, results, probe.as_deref())?;
                bump_rollups(tx, results)?;
                Ok(ids)
            })
            .context("storing the checks")
    }

    /// Waits (at most `wait`) for the fleet's lock and keeps it until the
    /// connection ends with the run, so that across every host one run at a
    /// time decides and delivers. A host that dies holding it frees it as
    /// its connection drops.
    pub fn lock_fleet(&mut self, wait: Duration) -> Result<()> {
        self.conn
            .batch(&format!("SET lock_timeout = {}", wait.as_millis().max(1)))
            .and_then(|()| self.conn.query("SELECT pg_advisory_lock(?1)", values![FLEET_LOCK]))
            .with_context(|| {
                format!(
                    "waiting for the fleet's lock: another probe's run held it longer than lock_timeout ({})",
                    crate::timefmt::format_duration(wait)
                )
            })?;
        self.conn.batch("SET lock_timeout = 0")
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
        let decided: Vec<Decided> = basis
            .iter()
            .filter_map(|&(r, id)| {
                let d = decisions.iter().find(|d| d.service == r.service)?;
                Some((r, d, id))
            })
            .collect();
        self.conn
            .transaction(|tx| {
                upsert_states(tx, &decided)?;
                enqueue_notifications(tx, run, &decided, commands)
            })
            .context("storing the fleet's decisions")
    }
}
