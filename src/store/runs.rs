//! What a run appends: its row, its checks with their rollups and each
//! service's new state, heartbeats and restarts; and retention, which
//! deletes old raw checks while the rollups keep their story.

use super::db::{Conn, Dialect};
use super::value::{Value, values};
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use super::types::Stamp;
use super::{RunId, Store, hour_of};
use crate::alert::{Decision, Notice};
use crate::check::{CheckResult, Status};
use crate::config::AlertCommand;
use crate::heartbeat::Beat;
use crate::watchdog::{Recheck, RestartAttempt};

/// A check with the decision made for its service, and the check's row id.
pub(super) type Decided<'a> = (&'a CheckResult, &'a Decision, i64);

/// The delete `prune` runs: `?1` the cutoff, `?2` the batch. `checks` is
/// kept in time order, so the old rows are the table's first: when none is
/// old (the usual case) this reads one row.
pub(super) const PRUNE: &str = "DELETE FROM checks WHERE (checked_at, id) IN (
     SELECT checked_at, id FROM checks
     WHERE checked_at < ?1
       AND (checked_at, id) NOT IN (SELECT last_checked_at, last_check_id FROM service_state)
     ORDER BY checked_at LIMIT ?2)";

/// `PRUNE` in PostgreSQL, where `checks` is a heap with a `(service,
/// checked_at)` index: one probe of the index per service; a check a
/// probe's latest view points at stays too.
const PRUNE_PG: &str = "DELETE FROM checks WHERE id IN (
     SELECT c.id FROM service_state s
     JOIN checks c ON c.service = s.service AND c.checked_at < ?1
     WHERE c.id <> s.last_check_id
       AND NOT EXISTS (SELECT 1 FROM probe_state p WHERE p.last_check_id = c.id)
     LIMIT ?2)";

/// Whether `e` says another connection holds the database.
fn is_busy(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<rusqlite::Error>(),
            Some(rusqlite::Error::SqliteFailure(f, _))
                if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        )
    })
}

impl Store {
    /// Records that a run began, before any probing, so even a run that dies
    /// leaves a row (with `finished_at` NULL). `uuid`: the run's id in its
    /// log lines and heartbeat pings.
    pub fn begin_run(
        &mut self,
        started_at: DateTime<Utc>,
        forced: bool,
        host: &str,
        uuid: &str,
    ) -> Result<RunId> {
        // A fleet's runs say which probe ran them; SQLite's are all this host's.
        let sql = match self.probe {
            None => {
                "INSERT INTO runs (started_at, forced, host, version, uuid) VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id"
            }
            Some(_) => {
                "INSERT INTO runs (started_at, forced, host, version, uuid, probe) VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id"
            }
        };
        let id = insert_returning_id(
            &self.conn,
            sql,
            probe_last(
                values![
                    Stamp(started_at),
                    forced,
                    host,
                    env!("CARGO_PKG_VERSION"),
                    uuid,
                    self.probe
                ],
                self.probe.is_some(),
            ),
        )
        .context("recording the run in the database")?;
        Ok(RunId(id))
    }

    /// Appends a run's checks, each service's new state and the notifications
    /// now due, in one transaction: all of it reaches the file, or none.
    pub fn record_run(
        &mut self,
        run: RunId,
        results: &[CheckResult],
        decisions: &[Decision],
        commands: &[AlertCommand],
    ) -> Result<()> {
        self.conn
            .transaction(|tx| {
                let check_ids = insert_checks(tx, run, results, self.probe.as_deref(), true)?;
                bump_rollups(tx, results)?;
                let basis: Vec<(&CheckResult, i64)> = results.iter().zip(check_ids).collect();
                let decided = pair_decisions(&basis, decisions);
                upsert_states(tx, &decided)?;
                enqueue_notifications(tx, run, &decided, commands)
            })
            .context("storing the checks")
    }

    /// `record_run`, tried again while another program (a `sqlite3` session)
    /// holds the database, until `until`: a run's checks are not lost to a
    /// lock that outlasts the busy timeout but not the run's bound.
    pub fn record_run_until(
        &mut self,
        run: RunId,
        results: &[CheckResult],
        decisions: &[Decision],
        commands: &[AlertCommand],
        until: std::time::Instant,
    ) -> Result<()> {
        loop {
            match self.record_run(run, results, decisions, commands) {
                Err(e)
                    if is_busy(&e)
                        && std::time::Instant::now() < until
                        && crate::signals::stopped().is_none() =>
                {
                    crate::log::info(&format!("{e:#}; trying again"));
                    std::thread::sleep(std::time::Duration::from_millis(200));
                }
                done => return done,
            }
        }
    }

    /// Closes a run's row: when it ended and, if it failed, why.
    pub fn finish_run(
        &mut self,
        run: RunId,
        finished_at: DateTime<Utc>,
        error: Option<&str>,
    ) -> Result<()> {
        self.conn
            .execute(
                "UPDATE runs SET finished_at = ?2, error = ?3 WHERE id = ?1",
                values![run.0, Stamp(finished_at), error],
            )
            .context("recording the end of the run")?;
        Ok(())
    }

    /// One ping to the switch; `run` `None`: from a run that never got a
    /// row (it could not take the lock).
    pub fn record_heartbeat(&mut self, run: Option<RunId>, beat: &Beat) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO heartbeats (run_id, kind, requested_at, status_code, error) VALUES (?1, ?2, ?3, ?4, ?5)",
                values![
                    run.map(|r| r.0),
                    beat.kind.as_str(),
                    Stamp(beat.requested_at),
                    beat.status_code,
                    beat.error
                ],
            )
            .context("recording the heartbeat")?;
        Ok(())
    }

    /// A run the connectivity guard stopped: `why` on its row, and, when the
    /// run before it reached the network (or there was none), one `network`
    /// notification for this outage, with its alert commands. Whether one
    /// was created.
    pub fn record_network_down(
        &mut self,
        run: RunId,
        why: &str,
        at: DateTime<Utc>,
        commands: &[AlertCommand],
    ) -> Result<bool> {
        self.conn
            .transaction(|tx| {
                tx.execute(
                    "UPDATE runs SET network_error = ?2 WHERE id = ?1",
                    values![run.0, why],
                )?;
                let ongoing: bool = tx
                    .query(
                        // This host's last run that either probed or was stopped by the
                        // guard; one that died before either says nothing of the network.
                        self.own_runs(
                            "SELECT network_error IS NOT NULL FROM runs
                             WHERE id < ?1 AND (network_error IS NOT NULL OR services IS NOT NULL)
                             ORDER BY id DESC LIMIT 1",
                            "SELECT network_error IS NOT NULL FROM runs
                             WHERE id < ?1 AND (network_error IS NOT NULL OR services IS NOT NULL)
                               AND probe = ?2
                             ORDER BY id DESC LIMIT 1",
                        ),
                        &self.with_probe(values![run.0]),
                    )?
                    .first()
                    .map_or(Ok(false), |r| r.get(0))?;
                if !ongoing {
                    let notification = insert_returning_id(
                        tx,
                        "INSERT INTO notifications (run_id, service, kind, created_at)
                         VALUES (?1, NULL, ?2, ?3) RETURNING id",
                        values![run.0, Notice::Network, Stamp(at)],
                    )?;
                    for c in commands.iter().filter(|c| c.on.contains(&Notice::Network)) {
                        tx.execute(
                            "INSERT INTO command_deliveries (notification_id, command) VALUES (?1, ?2)",
                            values![notification, c.key()],
                        )?;
                    }
                }
                Ok(!ongoing)
            })
            .context("recording the network down")
    }

    /// Stores a restart as its command ended (its `recheck` comes later, by
    /// `record_recheck`); returns its row id.
    pub fn record_restart(&mut self, run: RunId, attempt: &RestartAttempt) -> Result<i64> {
        insert_returning_id(
                &self.conn,
                "INSERT INTO restarts (run_id, service, started_at, exit_code, outcome, output, duration_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
                values![
                    run.0,
                    attempt.service,
                    Stamp(attempt.started_at),
                    attempt.exit_code,
                    attempt.outcome,
                    attempt.output,
                    attempt.duration_ms as i64,
                ],
            )
            .context("recording a restart")
    }

    /// What the probe after restart `id` found.
    pub fn record_recheck(&mut self, id: i64, recheck: &Recheck) -> Result<()> {
        self.conn
            .execute(
                "UPDATE restarts SET recheck_status = ?2, recheck_reason = ?3, recheck_ms = ?4
                 WHERE id = ?1",
                values![id, recheck.status, recheck.reason, recheck.after_ms as i64],
            )
            .context("recording what came of a restart")?;
        Ok(())
    }

    /// How many restarts of `service` began between `from` and `until`. A
    /// restart stamped after `until` (by a clock that was ahead) is not
    /// counted: it would spend the budget until the clock caught up.
    pub fn restarts_within(
        &self,
        service: &str,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<u32> {
        let counted: Vec<u32> = self.read_all(
            "SELECT count(*) FROM restarts WHERE service = ?1 AND started_at BETWEEN ?2 AND ?3",
            values![service, Stamp(from), Stamp(until)],
            "counting restarts",
            |r| r.get(0),
        )?;
        Ok(counted.into_iter().next().unwrap_or(0))
    }

    /// Restarts no email has told of yet, oldest first.
    pub fn unreported_restarts(&self) -> Result<Vec<RestartAttempt>> {
        self.read_all(
            "SELECT id, service, started_at, exit_code, outcome, output, duration_ms,
                    recheck_status, recheck_reason, recheck_ms
             FROM restarts WHERE reported_at IS NULL ORDER BY id",
            &[],
            "reading restarts",
            |r| {
                Ok(RestartAttempt {
                    id: Some(r.get(0)?),
                    service: r.get(1)?,
                    started_at: r.get::<Stamp>(2)?.0,
                    exit_code: r.get(3)?,
                    outcome: r.get(4)?,
                    output: r.get::<Option<String>>(5)?.unwrap_or_default(),
                    duration_ms: r.get::<i64>(6)?.max(0) as u64,
                    recheck: match r.get::<Option<Status>>(7)? {
                        None => None,
                        Some(status) => Some(Recheck {
                            status,
                            reason: r.get(8)?,
                            after_ms: r.get::<i64>(9)?.max(0) as u64,
                        }),
                    },
                })
            },
        )
    }

    /// Deletes raw checks older than `cutoff`, at most `batch` of them, so a
    /// run never stalls on a huge delete; the rollups keep their story. Age is
    /// `checked_at`, whatever order rows were written in (ids and times
    /// disagree after a clock was wrong, or rows were copied in). A service's
    /// latest check stays while `service_state` points at it. Returns how
    /// many went.
    pub fn prune(&mut self, cutoff: DateTime<Utc>, batch: usize) -> Result<usize> {
        self.conn
            .execute(
                match self.conn.dialect() {
                    Dialect::Sqlite => PRUNE,
                    Dialect::Postgres => PRUNE_PG,
                },
                values![Stamp(cutoff), batch as i64],
            )
            .map(|n| n as usize)
            .context("deleting checks older than the retention")
    }
}

/// Each check with the decision made for its service; a service no
/// decision was made for keeps its state, and nothing is due for it.
/// By name through a map: a run of 20,000 services must not compare
/// every name with every other.
pub(super) fn pair_decisions<'a>(
    basis: &[(&'a CheckResult, i64)],
    decisions: &'a [Decision],
) -> Vec<Decided<'a>> {
    let by_service: std::collections::HashMap<&str, &Decision> =
        decisions.iter().map(|d| (d.service.as_str(), d)).collect();
    basis
        .iter()
        .filter_map(|&(r, id)| Some((r, *by_service.get(r.service.as_str())?, id)))
        .collect()
}

/// SQLite: `checks` has no rowid, so upcheck hands out the ids, counting
/// them in `sequences` in the same transaction. Ids in `rows`' order.
fn insert_counted(tx: &Conn, rows: Vec<Vec<Value>>) -> Result<Vec<i64>> {
    let n = rows.len() as i64;
    let last: i64 = tx
        .query(
            "UPDATE sequences SET last = last + ?1 WHERE name = 'checks' RETURNING last",
            values![n],
        )?
        .first()
        .context("the database has no count of check ids (table sequences)")?
        .get(0)?;
    let ids: Vec<i64> = (last - n + 1..=last).collect();
    let rows: Vec<Vec<Value>> = rows
        .into_iter()
        .zip(&ids)
        .map(|(row, id)| std::iter::once(Value::Int(*id)).chain(row).collect())
        .collect();
    tx.insert_each(
        "INSERT INTO checks (id, run_id, service, checked_at, status, response_ms, status_code, error, cert_expires_at)",
        9,
        &rows,
        "",
    )?;
    Ok(ids)
}

/// PostgreSQL: an identity column gives the ids; a multi-row insert
/// returns them in no promised order, so they are matched by service (one
/// check each per run).
fn insert_identified(
    tx: &Conn,
    results: &[CheckResult],
    rows: Vec<Vec<Value>>,
    with_probe: bool,
) -> Result<Vec<i64>> {
    let head = match with_probe {
        false => {
            "INSERT INTO checks (run_id, service, checked_at, status, response_ms, status_code, error, cert_expires_at)"
        }
        true => {
            "INSERT INTO checks (run_id, service, checked_at, status, response_ms, status_code, error, cert_expires_at, probe)"
        }
    };
    let width = 8 + usize::from(with_probe);
    let returned = tx.insert_each(head, width, &rows, "RETURNING id, service")?;
    let mut by_service = std::collections::HashMap::new();
    for row in &returned {
        by_service.insert(row.get::<String>(1)?, row.get::<i64>(0)?);
    }
    anyhow::ensure!(
        by_service.len() == results.len(),
        "{} checks stored for {} services: a service checked twice in one run",
        results.len(),
        by_service.len()
    );
    results
        .iter()
        .map(|r| by_service.get(&r.service).copied())
        .collect::<Option<Vec<i64>>>()
        .context("the database returned no id for a new check")
}

/// `params` without its last one, the probe, when there is none (SQLite's
/// statements have no `probe` column).
fn probe_last(params: &[Value], with_probe: bool) -> &[Value] {
    &params[..params.len() - usize::from(!with_probe)]
}

/// Runs an `INSERT … RETURNING id`; the new row's id.
fn insert_returning_id(conn: &Conn, sql: &str, params: &[Value]) -> Result<i64> {
    conn.query(sql, params)?
        .first()
        .context("the database returned no id for a new row")?
        .get(0)
}

fn online(r: &CheckResult) -> i64 {
    i64::from(r.status == Status::Online)
}

/// Appends the checks and tallies them on the run's row; returns the checks'
/// row ids, in the order of `results`.
/// With `probe` (a fleet), each check is labelled with it and, when
/// `latest`, becomes that probe's latest view (`probe_state`); checks kept
/// in a spool never do, since what a probe saw then is not what it sees now.
pub(super) fn insert_checks(
    tx: &Conn,
    run: RunId,
    results: &[CheckResult],
    probe: Option<&str>,
    latest: bool,
) -> Result<Vec<i64>> {
    let rows: Vec<Vec<Value>> = results
        .iter()
        .map(|r| {
            probe_last(
                values![
                    run.0,
                    r.service,
                    Stamp(r.checked_at),
                    r.status,
                    r.response_ms.map(|v| v as i64),
                    r.status_code,
                    r.reason,
                    r.cert_expires_at.map(Stamp),
                    probe,
                ],
                probe.is_some(),
            )
            .to_vec()
        })
        .collect();
    let ids = match tx.dialect() {
        Dialect::Sqlite => insert_counted(tx, rows)?,
        Dialect::Postgres => insert_identified(tx, results, rows, probe.is_some())?,
    };
    if let Some(probe) = probe.filter(|_| latest) {
        // Each probe's latest check, for the fleet's decisions and `status`.
        let latest: Vec<Vec<Value>> = results
            .iter()
            .zip(&ids)
            .map(|(r, id)| values![r.service, probe, *id, Stamp(r.checked_at)].to_vec())
            .collect();
        tx.insert_each(
            "INSERT INTO probe_state (service, probe, last_check_id, checked_at)",
            4,
            &latest,
            "ON CONFLICT (service, probe) DO UPDATE SET
                 last_check_id = excluded.last_check_id, checked_at = excluded.checked_at
             -- A spooled (older) check never hides a newer one.
             WHERE probe_state.checked_at <= excluded.checked_at",
        )?;
    }
    let failing = results.iter().filter(|r| r.status.is_failure()).count();
    tx.execute(
        "UPDATE runs SET services = ?2, failing = ?3 WHERE id = ?1",
        values![run.0, results.len() as i64, failing as i64],
    )?;
    Ok(ids)
}

/// Counts each check into its service's hourly and daily rollup.
pub(super) fn bump_rollups(tx: &Conn, results: &[CheckResult]) -> Result<()> {
    // One order for every run of every host (hour, then service), so two
    // probes storing at once take the rows' locks in the same order and
    // never deadlock.
    let mut ordered: Vec<&CheckResult> = results.iter().collect();
    ordered.sort_by_cached_key(|r| (hour_of(r.checked_at), r.service.clone()));
    let row = |r: &&CheckResult, period: String| {
        let ms = r.response_ms.unwrap_or(0) as i64;
        values![r.service, period, 1_i64, online(r), ms].to_vec()
    };
    let hours: Vec<Vec<Value>> = ordered
        .iter()
        .map(|r| row(r, hour_of(r.checked_at)))
        .collect();
    let days: Vec<Vec<Value>> = ordered
        .iter()
        .map(|r| row(r, r.checked_at.format("%Y-%m-%d").to_string()))
        .collect();
    for (table, period, rows) in [
        ("checks_hourly", "hour", hours),
        ("checks_daily", "day", days),
    ] {
        tx.insert_each(
            &format!("INSERT INTO {table} (service, {period}, checks, online, total_ms)"),
            5,
            &rows,
            &format!(
                "ON CONFLICT ({period}, service) DO UPDATE SET
                     checks = {table}.checks + 1, online = {table}.online + excluded.online,
                     total_ms = {table}.total_ms + excluded.total_ms"
            ),
        )?;
    }
    Ok(())
}

/// Writes each decided service's new alert state, pointing at its latest
/// check, and counts the check into its all-time totals.
pub(super) fn upsert_states(tx: &Conn, decided: &[Decided]) -> Result<()> {
    let rows: Vec<Vec<Value>> = decided
        .iter()
        .map(|&(r, d, check_id)| {
            let s = &d.state;
            values![
                r.service,
                s.status,
                Stamp(s.since.unwrap_or(r.checked_at)),
                check_id,
                s.fail_streak,
                s.pass_streak,
                s.down,
                s.runs_since_alert,
                s.last_notice_at.map(Stamp),
                1_i64,
                online(r),
                Stamp(r.checked_at),
            ]
            .to_vec()
        })
        .collect();
    tx.insert_each(
        "INSERT INTO service_state
             (service, status, since, last_check_id, fail_streak, pass_streak, down, runs_since_alert,
              last_notice_at, checks_total, online_total, last_checked_at)",
        12,
        &rows,
        "ON CONFLICT (service) DO UPDATE SET
             status = excluded.status, since = excluded.since, last_check_id = excluded.last_check_id,
             last_checked_at = excluded.last_checked_at,
             fail_streak = excluded.fail_streak, pass_streak = excluded.pass_streak, down = excluded.down,
             runs_since_alert = excluded.runs_since_alert, last_notice_at = excluded.last_notice_at,
             checks_total = service_state.checks_total + 1,
             online_total = service_state.online_total + excluded.online_total",
    )?;
    Ok(())
}

/// Queues the notifications the decisions made due, each with a delivery
/// row for every alert command that wants its kind.
pub(super) fn enqueue_notifications(
    tx: &Conn,
    run: RunId,
    decided: &[Decided],
    commands: &[AlertCommand],
) -> Result<()> {
    let notify = "INSERT INTO notifications (run_id, service, kind, created_at, began)
                  VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id";
    let command_due = "INSERT INTO command_deliveries (notification_id, command) VALUES (?1, ?2)";
    for &(r, d, _) in decided {
        let Some(kind) = d.due else {
            continue;
        };
        // A DOWN alert keeps when its failing began: the checks that say
        // so may be pruned before the outage is told of again.
        let began = (kind == Notice::Down)
            .then(|| d.state.since.map(Stamp))
            .flatten();
        let notification = insert_returning_id(
            tx,
            notify,
            values![run.0, r.service, kind, Stamp(r.checked_at), began],
        )?;
        for c in commands.iter().filter(|c| c.on.contains(&kind)) {
            tx.execute(command_due, values![notification, c.key()])?;
        }
    }
    Ok(())
}
