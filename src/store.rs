//! The SQLite history: the only module that knows SQL. Opens (creating or
//! migrating) the file, appends runs and checks, and answers the questions the
//! reports ask. Functions take and return plain structs from `check`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::alert::{AlertState, Decision, Notice};
use crate::check::{CheckResult, ServiceSummary, Status, Uptime};
use crate::config::AlertCommand;
use crate::heartbeat::Beat;
use crate::timefmt::{iso, parse_iso};
use crate::watchdog::RestartAttempt;

/// The schema `schema.sql` creates; `PRAGMA user_version` records it.
pub const SCHEMA_VERSION: i64 = 2;
const SCHEMA: &str = include_str!("../schema.sql");
/// `MIGRATIONS[i]` takes a database from version `i + 1` to `i + 2`.
/// Append only: a released migration is never edited.
const MIGRATIONS: &[&str] = &[include_str!("../migrations/002-rollups.sql")];
/// Raw checks deleted per run at most: a backlog (a lowered retention, a
/// restored old database) drains over a few runs instead of stalling one.
pub const PRUNE_BATCH: usize = 10_000;
/// Long enough to outlast another run's write transaction (milliseconds), short
/// enough that a stuck `sqlite3` session is reported rather than waited on forever.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Store {
    conn: Connection,
    path: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunId(pub i64);

/// The start of `t`'s hour, as `checks_hourly.hour` spells it.
pub fn hour_of(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:00:00.000Z").to_string()
}

/// An alert command still due for a notification.
#[derive(Clone, Debug, PartialEq)]
pub struct CommandDue {
    pub notification_id: i64,
    /// The command's key (argv as JSON).
    pub command: String,
    pub service: String,
    pub kind: Notice,
    pub created_at: DateTime<Utc>,
}

/// A notification not yet delivered.
#[derive(Clone, Debug, PartialEq)]
pub struct Due {
    pub id: i64,
    pub service: String,
    pub kind: Notice,
    pub created_at: DateTime<Utc>,
    /// A run was stopped (killed, crashed) while sending it: it may have
    /// gone out already, so the retry says it may be a repeat.
    pub interrupted: bool,
}

/// `notifications.error` while a send is under way; a run that dies before
/// the transport answers leaves it, and the next run knows what that means.
const SENDING: &str = "a run was stopped while sending this; it may have gone out";
/// How a later failure is recorded once a send may have gone out: the
/// uncertainty stays until a send succeeds, so the retry is still labelled.
const SENT_MAYBE_THEN: &str = "an earlier run was stopped while sending this; since then: ";

impl Store {
    /// Opens the database, creating it from `schema.sql` on first use and
    /// refusing one written by a newer upcheck.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating the database folder {}", dir.display()))?;
        }
        let conn = Connection::open(path)
            .with_context(|| format!("opening the database {}", path.display()))?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
        };
        store
            .setup()
            .with_context(|| format!("opening the database {}", path.display()))?;
        Ok(store)
    }

    /// `open` for a run: a file that SQLite says is not a database, or is
    /// corrupt, is renamed aside (with its WAL and shared-memory files) and a
    /// new database started, so monitoring goes on; the caller must report
    /// where the old file went. Any other failure (locked, full, permissions)
    /// is an error as usual: those are not the file's fault.
    pub fn open_or_set_aside(path: &Path) -> Result<(Store, Option<PathBuf>)> {
        let error = match Store::open(path) {
            Ok(store) => return Ok((store, None)),
            Err(e) => e,
        };
        let unreadable = error.chain().any(|cause| {
            matches!(
                cause.downcast_ref::<rusqlite::Error>(),
                Some(rusqlite::Error::SqliteFailure(f, _))
                    if matches!(f.code, rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
            )
        });
        if !unreadable {
            return Err(error);
        }
        let mut aside = path.as_os_str().to_owned();
        aside.push(format!(
            ".unreadable-{}",
            Utc::now().format("%Y%m%dT%H%M%SZ")
        ));
        let aside = PathBuf::from(aside);
        for suffix in ["", "-wal", "-shm"] {
            let (mut from, mut to) = (path.as_os_str().to_owned(), aside.as_os_str().to_owned());
            from.push(suffix);
            to.push(suffix);
            if Path::new(&from).exists() {
                std::fs::rename(&from, &to).with_context(|| {
                    format!("{error:#}; moving it aside to {} failed", aside.display())
                })?;
            }
        }
        let store = Store::open(path)?;
        Ok((store, Some(aside)))
    }

    fn setup(&mut self) -> Result<()> {
        self.conn.busy_timeout(BUSY_TIMEOUT)?;
        // WAL: `sqlite3` readers never block a run, and a run never blocks them.
        // synchronous=NORMAL is durable across a process crash, the case that matters.
        self.conn
            .pragma_update(None, "journal_mode", "WAL")
            .context("switching to WAL mode")?;
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        // A run ends with `close`, which checkpoints and truncates the WAL
        // rather than deleting it: SQLite's default close costs two more
        // fsyncs, deleting and recreating the file every run.
        self.conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            true,
        )?;
        self.conn.pragma_update(None, "foreign_keys", "ON")?;
        self.migrate()
    }

    fn migrate(&mut self) -> Result<()> {
        let version: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version == SCHEMA_VERSION {
            return Ok(());
        }
        if version > SCHEMA_VERSION {
            bail!(
                "the database has schema version {version}, newer than this upcheck understands \
                 ({SCHEMA_VERSION}); it was written by a newer upcheck: upgrade upcheck, or point `database` elsewhere"
            );
        }
        // IMMEDIATE: two first runs at once must not both create the schema.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version == 0 {
            let objects: i64 =
                tx.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?;
            if objects > 0 {
                bail!("the file is an SQLite database, but not upcheck's (no schema version)");
            }
            tx.execute_batch(SCHEMA).context("creating the schema")?;
        } else {
            for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize - 1) {
                tx.execute_batch(sql)
                    .with_context(|| format!("migrating to schema version {}", i + 2))?;
            }
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        tx.commit()?;
        Ok(())
    }

    /// Records that a run began, before any probing, so even a run that dies
    /// leaves a row (with `finished_at` NULL).
    pub fn begin_run(
        &mut self,
        started_at: DateTime<Utc>,
        forced: bool,
        host: &str,
    ) -> Result<RunId> {
        self.conn
            .execute(
                "INSERT INTO runs (started_at, forced, host, version) VALUES (?1, ?2, ?3, ?4)",
                params![iso(started_at), forced, host, env!("CARGO_PKG_VERSION")],
            )
            .context("recording the run in the database")?;
        Ok(RunId(self.conn.last_insert_rowid()))
    }

    /// Each service's latest response time, to start the slow ones first.
    pub fn last_response_ms(&self) -> Result<HashMap<String, u64>> {
        let mut stmt = self.conn.prepare(
            "SELECT s.service, c.response_ms FROM service_state s JOIN checks c ON c.id = s.last_check_id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<i64>>(1)?.unwrap_or(0).max(0) as u64,
            ))
        })?;
        rows.collect::<rusqlite::Result<_>>()
            .context("reading the latest response times")
    }

    /// Each service's alert state as the last run left it.
    pub fn alert_states(&self) -> Result<HashMap<String, AlertState>> {
        let mut stmt = self.conn.prepare(
            "SELECT service, status, since, fail_streak, pass_streak, down, runs_since_alert, last_notice_at
             FROM service_state",
        )?;
        let rows = stmt.query_map([], |r| {
            let state = AlertState {
                status: Status::parse(&r.get::<_, String>(1)?).unwrap_or_default(),
                since: r
                    .get::<_, Option<String>>(2)?
                    .as_deref()
                    .and_then(parse_iso),
                fail_streak: r.get(3)?,
                pass_streak: r.get(4)?,
                down: r.get(5)?,
                runs_since_alert: r.get(6)?,
                last_notice_at: r
                    .get::<_, Option<String>>(7)?
                    .as_deref()
                    .and_then(parse_iso),
            };
            Ok((r.get::<_, String>(0)?, state))
        })?;
        rows.collect::<rusqlite::Result<_>>()
            .context("reading the alert state")
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
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .context("storing the checks")?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO checks (run_id, service, checked_at, status, response_ms, status_code, error, cert_expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            let mut state = tx.prepare_cached(
                "INSERT INTO service_state
                     (service, status, since, last_check_id, fail_streak, pass_streak, down, runs_since_alert,
                      last_notice_at, checks_total, online_total)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1, ?10)
                 ON CONFLICT (service) DO UPDATE SET
                     status = excluded.status, since = excluded.since, last_check_id = excluded.last_check_id,
                     fail_streak = excluded.fail_streak, pass_streak = excluded.pass_streak, down = excluded.down,
                     runs_since_alert = excluded.runs_since_alert, last_notice_at = excluded.last_notice_at,
                     checks_total = checks_total + 1, online_total = online_total + excluded.online_total",
            )?;
            let mut hourly = tx.prepare_cached(
                "INSERT INTO checks_hourly (service, hour, checks, online, total_ms) VALUES (?1, ?2, 1, ?3, ?4)
                 ON CONFLICT (hour, service) DO UPDATE SET
                     checks = checks + 1, online = online + excluded.online, total_ms = total_ms + excluded.total_ms",
            )?;
            let mut daily = tx.prepare_cached(
                "INSERT INTO checks_daily (service, day, checks, online, total_ms) VALUES (?1, ?2, 1, ?3, ?4)
                 ON CONFLICT (day, service) DO UPDATE SET
                     checks = checks + 1, online = online + excluded.online, total_ms = total_ms + excluded.total_ms",
            )?;
            let mut notify = tx.prepare_cached(
                "INSERT INTO notifications (run_id, service, kind, created_at) VALUES (?1, ?2, ?3, ?4)",
            )?;
            let mut command_due = tx.prepare_cached(
                "INSERT INTO command_deliveries (notification_id, command) VALUES (?1, ?2)",
            )?;
            for r in results {
                insert.execute(params![
                    run.0,
                    r.service,
                    iso(r.checked_at),
                    r.status.as_str(),
                    r.response_ms.map(|v| v as i64),
                    r.status_code,
                    r.reason,
                    r.cert_expires_at.map(iso),
                ])?;
                let check_id = tx.last_insert_rowid();
                let online = i64::from(r.status == Status::Online);
                let ms = r.response_ms.unwrap_or(0) as i64;
                hourly.execute(params![r.service, hour_of(r.checked_at), online, ms])?;
                daily.execute(params![
                    r.service,
                    r.checked_at.format("%Y-%m-%d").to_string(),
                    online,
                    ms
                ])?;
                let Some(d) = decisions.iter().find(|d| d.service == r.service) else {
                    continue;
                };
                let s = &d.state;
                state.execute(params![
                    r.service,
                    s.status.as_str(),
                    iso(s.since.unwrap_or(r.checked_at)),
                    check_id,
                    s.fail_streak,
                    s.pass_streak,
                    s.down,
                    s.runs_since_alert,
                    s.last_notice_at.map(iso),
                    online,
                ])?;
                if let Some(kind) = d.due {
                    notify.execute(params![run.0, r.service, kind.as_str(), iso(r.checked_at)])?;
                    let notification = tx.last_insert_rowid();
                    for c in commands.iter().filter(|c| c.on.contains(&kind)) {
                        command_due.execute(params![notification, c.key()])?;
                    }
                }
            }
            let failing = results.iter().filter(|r| r.status.is_failure()).count();
            tx.execute(
                "UPDATE runs SET services = ?2, failing = ?3 WHERE id = ?1",
                params![run.0, results.len() as i64, failing as i64],
            )?;
        }
        tx.commit().context("storing the checks")?;
        Ok(())
    }

    /// Alerts, reminders and recoveries not yet delivered, oldest first.
    pub fn due_notifications(&self) -> Result<Vec<Due>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, service, kind, created_at, coalesce(error = ?1 OR error LIKE ?2 || '%', 0) FROM notifications
             WHERE sent_at IS NULL AND kind IN ('down', 'reminder', 'recovery')
             ORDER BY id",
        )?;
        let rows = stmt.query_map([SENDING, SENT_MAYBE_THEN], |r| {
            Ok(Due {
                id: r.get(0)?,
                service: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                kind: Notice::parse(&r.get::<_, String>(2)?).unwrap_or(Notice::Down),
                created_at: parse_iso(&r.get::<_, String>(3)?).unwrap_or_default(),
                interrupted: r.get(4)?,
            })
        })?;
        rows.collect::<rusqlite::Result<_>>()
            .context("reading due notifications")
    }

    /// Marks `ids` as being sent, committed before the transport is called:
    /// if the run dies before it answers, the next run can tell.
    pub fn record_sending(&mut self, ids: &[i64]) -> Result<()> {
        let tx = self.conn.transaction().context("recording a send")?;
        {
            // A mark left by a run that died becomes the lasting kind; one
            // already lasting is kept; anything else gets this attempt's mark.
            let mut update = tx.prepare_cached(
                "UPDATE notifications SET attempts = attempts + 1,
                     error = CASE WHEN error = ?2 THEN ?3 || 'retried'
                                  WHEN error LIKE ?3 || '%' THEN error
                                  ELSE ?2 END
                 WHERE id = ?1",
            )?;
            for id in ids {
                update.execute(params![id, SENDING, SENT_MAYBE_THEN])?;
            }
        }
        tx.commit().context("recording a send")
    }

    /// Records the outcome of a send begun with `record_sending`: `ids` sent (when `error` is `None`) or still
    /// due with the reason; a forced report gets a `report` row of its own.
    pub fn record_delivery(
        &mut self,
        run: RunId,
        ids: &[i64],
        restarts: &[i64],
        forced: bool,
        at: DateTime<Utc>,
        error: Option<&str>,
    ) -> Result<()> {
        let tx = self.conn.transaction().context("recording the delivery")?;
        {
            // A failure after a send that may have gone out keeps saying so.
            let mut update = tx.prepare_cached(
                "UPDATE notifications
                 SET error = CASE WHEN ?2 IS NOT NULL AND error LIKE ?5 || '%'
                                  THEN ?5 || ?2 ELSE ?2 END,
                     sent_at = CASE WHEN ?2 IS NULL THEN ?3 END,
                     sent_run_id = CASE WHEN ?2 IS NULL THEN ?4 END
                 WHERE id = ?1",
            )?;
            for id in ids {
                update.execute(params![id, error, iso(at), run.0, SENT_MAYBE_THEN])?;
            }
            if error.is_none() {
                let mut reported =
                    tx.prepare_cached("UPDATE restarts SET reported_at = ?2 WHERE id = ?1")?;
                for id in restarts {
                    reported.execute(params![id, iso(at)])?;
                }
            }
            if forced {
                tx.execute(
                    "INSERT INTO notifications (run_id, kind, created_at, sent_at, sent_run_id, attempts, error)
                     VALUES (?1, 'report', ?2, CASE WHEN ?3 IS NULL THEN ?2 END, CASE WHEN ?3 IS NULL THEN ?1 END, 1, ?3)",
                    params![run.0, iso(at), error],
                )?;
            }
        }
        tx.commit().context("recording the delivery")?;
        Ok(())
    }

    /// How many restarts of `service` began at or after `since`.
    pub fn restarts_since(&self, service: &str, since: DateTime<Utc>) -> Result<u32> {
        self.conn
            .query_row(
                "SELECT count(*) FROM restarts WHERE service = ?1 AND started_at >= ?2",
                params![service, iso(since)],
                |r| r.get(0),
            )
            .context("counting restarts")
    }

    pub fn record_restart(&mut self, run: RunId, attempt: &RestartAttempt) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO restarts (run_id, service, started_at, exit_code, outcome, output, duration_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    run.0,
                    attempt.service,
                    iso(attempt.started_at),
                    attempt.exit_code,
                    attempt.outcome,
                    attempt.output,
                    attempt.duration_ms as i64,
                ],
            )
            .context("recording a restart")?;
        Ok(())
    }

    /// Restarts no email has told of yet, oldest first.
    pub fn unreported_restarts(&self) -> Result<Vec<RestartAttempt>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, service, started_at, exit_code, outcome, output, duration_ms
             FROM restarts WHERE reported_at IS NULL ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(RestartAttempt {
                id: Some(r.get(0)?),
                service: r.get(1)?,
                started_at: parse_iso(&r.get::<_, String>(2)?).unwrap_or_default(),
                exit_code: r.get(3)?,
                outcome: r.get(4)?,
                output: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
                duration_ms: r.get::<_, i64>(6)?.max(0) as u64,
            })
        })?;
        rows.collect::<rusqlite::Result<_>>()
            .context("reading restarts")
    }

    /// Alert-command deliveries still due, with what the command needs to know.
    pub fn due_command_deliveries(&self) -> Result<Vec<CommandDue>> {
        let mut stmt = self.conn.prepare(
            "SELECT d.notification_id, d.command, n.service, n.kind, n.created_at
             FROM command_deliveries d JOIN notifications n ON n.id = d.notification_id
             WHERE d.sent_at IS NULL ORDER BY d.notification_id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(CommandDue {
                notification_id: r.get(0)?,
                command: r.get(1)?,
                service: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                kind: Notice::parse(&r.get::<_, String>(3)?).unwrap_or(Notice::Down),
                created_at: parse_iso(&r.get::<_, String>(4)?).unwrap_or_default(),
            })
        })?;
        rows.collect::<rusqlite::Result<_>>()
            .context("reading due alert commands")
    }

    /// One alert-command attempt: done when `error` is `None`, else still due.
    pub fn record_command_delivery(
        &mut self,
        notification_id: i64,
        command: &str,
        at: DateTime<Utc>,
        error: Option<&str>,
    ) -> Result<()> {
        self.conn
            .execute(
                "UPDATE command_deliveries
                 SET attempts = attempts + 1, error = ?3, sent_at = CASE WHEN ?3 IS NULL THEN ?4 END
                 WHERE notification_id = ?1 AND command = ?2",
                params![notification_id, command, error, iso(at)],
            )
            .context("recording an alert command")?;
        Ok(())
    }

    pub fn record_heartbeat(&mut self, run: RunId, beat: &Beat) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO heartbeats (run_id, kind, requested_at, status_code, error) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    run.0,
                    if beat.success_ping { "success" } else { "fail" },
                    iso(beat.requested_at),
                    beat.status_code,
                    beat.error
                ],
            )
            .context("recording the heartbeat")?;
        Ok(())
    }

    /// Deletes raw checks older than `cutoff`, at most `batch` of them, so a
    /// run never stalls on a huge delete; the rollups keep their story. Checks
    /// are appended in time order, so the old ones are the lowest ids: the
    /// delete looks at one bounded id range, and when the oldest check is
    /// young enough (the usual case) it costs one row read. Returns how many went.
    pub fn prune(&mut self, cutoff: DateTime<Utc>, batch: usize) -> Result<usize> {
        let oldest: Option<(i64, String)> = self
            .conn
            .query_row(
                // A service's latest check stays while service_state points at it.
                "SELECT id, checked_at FROM checks
                 WHERE id NOT IN (SELECT last_check_id FROM service_state)
                 ORDER BY id LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let cutoff = iso(cutoff);
        let Some((first, _)) = oldest.filter(|(_, at)| *at < cutoff) else {
            return Ok(0);
        };
        self.conn
            .execute(
                "DELETE FROM checks
                 WHERE id >= ?1 AND id < ?1 + ?2 AND checked_at < ?3
                   AND id NOT IN (SELECT last_check_id FROM service_state)",
                params![first, batch as i64, cutoff],
            )
            .context("deleting checks older than the retention")
    }

    /// A consistent copy of the database at `dest`, taken with SQLite's online
    /// backup API: safe while runs go on (it restarts its step if one writes).
    pub fn backup(&self, dest: &Path) -> Result<()> {
        let mut target = Connection::open(dest)
            .with_context(|| format!("creating the backup {}", dest.display()))?;
        let backup = rusqlite::backup::Backup::new(&self.conn, &mut target)?;
        backup
            .run_to_completion(256, Duration::from_millis(10), None)
            .with_context(|| format!("copying {} to {}", self.path.display(), dest.display()))?;
        Ok(())
    }

    /// The last step of a run, failed or not: moves the WAL into the file and
    /// empties it, so that between runs `upcheck.db` is the whole database (a
    /// plain copy has every run; a file restored over it is not overlaid by
    /// an old WAL's pages). A `sqlite3` session holding a read or write
    /// transaction keeps the checkpoint from finishing: it is then skipped at
    /// once (not waited for), and the next run's close tries again.
    /// `Ok(false)`: skipped.
    pub fn close(self) -> Result<bool> {
        self.conn.busy_timeout(Duration::ZERO)?;
        let busy: i64 = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
            .context("checkpointing the database")?;
        Ok(busy == 0)
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
                params![run.0, iso(finished_at), error],
            )
            .context("recording the end of the run")?;
        Ok(())
    }

    /// The latest facts and uptime of every service that has been checked.
    pub fn summaries(&self) -> Result<HashMap<String, ServiceSummary>> {
        let mut stmt = self.conn.prepare(
            "SELECT s.service, s.status, s.since, c.checked_at, c.response_ms, c.status_code, c.error,
                    c.cert_expires_at, u.uptime_24h, u.uptime_7d, u.uptime_30d, u.uptime_all
             FROM service_state s
             JOIN checks c ON c.id = s.last_check_id
             LEFT JOIN uptime u ON u.service = s.service",
        )?;
        let rows = stmt.query_map([], |row| {
            let service: String = row.get(0)?;
            let status = Status::parse(&row.get::<_, String>(1)?).unwrap_or(Status::Unknown);
            let since = parse_iso(&row.get::<_, String>(2)?).unwrap_or_default();
            let checked_at = parse_iso(&row.get::<_, String>(3)?).unwrap_or_default();
            let last = CheckResult {
                service: service.clone(),
                checked_at,
                status,
                response_ms: row.get::<_, Option<i64>>(4)?.map(|v| v.max(0) as u64),
                status_code: row.get(5)?,
                reason: row.get(6)?,
                cert_expires_at: row
                    .get::<_, Option<String>>(7)?
                    .as_deref()
                    .and_then(parse_iso),
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
        })?;
        rows.collect::<rusqlite::Result<_>>()
            .with_context(|| format!("reading service summaries from {}", self.path.display()))
    }

    /// Start times of the two most recent runs, newest first: enough to guess
    /// when the scheduler will run upcheck next.
    pub fn recent_run_starts(&self) -> Result<Vec<DateTime<Utc>>> {
        let mut stmt = self
            .conn
            .prepare("SELECT started_at FROM runs ORDER BY id DESC LIMIT 2")?;
        let starts = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(starts.iter().filter_map(|s| parse_iso(s)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(service: &str, at: &str, status: Status) -> CheckResult {
        CheckResult::new(service, parse_iso(at).unwrap(), status)
    }

    #[test]
    fn schema_applies_to_an_empty_database_and_sets_the_version() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("a.db")).unwrap();
        let v: i64 = store
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        // Opening again is a no-op, not a second CREATE.
        drop(store);
        Store::open(&dir.path().join("a.db")).unwrap();
    }

    #[test]
    fn a_run_is_recorded_with_its_state_and_due_notifications() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("a.db")).unwrap();
        let at = parse_iso("2026-11-21T10:05:00.000Z").unwrap();
        let run = store.begin_run(at, false, "h").unwrap();
        let state = AlertState {
            status: Status::Offline,
            since: Some(parse_iso("2026-11-21T10:00:00.000Z").unwrap()),
            fail_streak: 2,
            pass_streak: 0,
            down: true,
            runs_since_alert: 0,
            last_notice_at: Some(at),
        };
        let decision = Decision {
            service: "web".into(),
            state: state.clone(),
            due: Some(Notice::Down),
        };
        store
            .record_run(
                run,
                &[result("web", "2026-11-21T10:05:00.000Z", Status::Offline)],
                &[decision],
                &[],
            )
            .unwrap();
        assert_eq!(store.alert_states().unwrap()["web"], state);
        let due = store.due_notifications().unwrap();
        assert_eq!((due.len(), due[0].kind), (1, Notice::Down));
        store.record_sending(&[due[0].id]).unwrap();
        store
            .record_delivery(run, &[due[0].id], &[], false, at, Some("refused"))
            .unwrap();
        let due = store.due_notifications().unwrap();
        assert_eq!(due.len(), 1, "a failed delivery stays due");
        assert!(
            !due[0].interrupted,
            "a failure is known not to have gone out"
        );
        // A run that dies while sending leaves the mark for the next one...
        store.record_sending(&[due[0].id]).unwrap();
        assert!(store.due_notifications().unwrap()[0].interrupted);
        // ... and a failed retry does not wipe it: it may still have gone out.
        store.record_sending(&[due[0].id]).unwrap();
        store
            .record_delivery(run, &[due[0].id], &[], false, at, Some("refused"))
            .unwrap();
        assert!(store.due_notifications().unwrap()[0].interrupted);
        store.record_sending(&[due[0].id]).unwrap();
        store
            .record_delivery(run, &[due[0].id], &[], true, at, None)
            .unwrap();
        assert!(store.due_notifications().unwrap().is_empty());
        let (attempts, reports): (i64, i64) = store
            .conn
            .query_row(
                "SELECT (SELECT attempts FROM notifications WHERE kind = 'down'),
                        (SELECT count(*) FROM notifications WHERE kind = 'report' AND sent_at IS NOT NULL)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((attempts, reports), (4, 1));
        assert_eq!(
            iso(store.summaries().unwrap()["web"].since),
            "2026-11-21T10:00:00.000Z"
        );
    }

    /// A tiny deterministic generator: the property tests need variety, not a crate.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self, below: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % below
        }
    }

    /// Appends a random history (3 services, `runs` runs at random times within
    /// the last 40 days, in time order) through `record_run`.
    fn random_history(store: &mut Store, seed: u64, runs: usize) {
        let mut rng = Lcg(seed);
        let now = Utc::now();
        let mut offsets: Vec<i64> = (0..runs)
            .map(|_| rng.next(40 * 86_400_000) as i64)
            .collect();
        offsets.sort_unstable_by(|a, b| b.cmp(a));
        for offset in offsets {
            let at = now - chrono::Duration::milliseconds(offset);
            let run = store.begin_run(at, false, "h").unwrap();
            let mut results = Vec::new();
            let mut decisions = Vec::new();
            for service in ["a", "b", "c"] {
                let status = Status::STORED[rng.next(4) as usize];
                let mut r = result(service, &iso(at), status);
                r.response_ms = Some(rng.next(3000));
                decisions.push(Decision {
                    service: service.into(),
                    state: AlertState {
                        status,
                        since: Some(at),
                        ..AlertState::default()
                    },
                    due: None,
                });
                results.push(r);
            }
            store.record_run(run, &results, &decisions, &[]).unwrap();
        }
    }

    /// Rollup rows, and uptime rows: (service, checks, 24h, 7d, 30d, all).
    type Story = (
        Vec<(String, String, i64, i64, i64)>,
        Vec<(
            String,
            i64,
            Option<f64>,
            Option<f64>,
            Option<f64>,
            Option<f64>,
        )>,
    );

    /// What the rollups and the uptime view must equal: the raw checks, counted directly.
    fn recompute(store: &Store) -> Story {
        let rollups = store
            .conn
            .prepare(
                "SELECT service, strftime('%Y-%m-%dT%H:00:00.000Z', checked_at), count(*), sum(status = 'online'),
                        sum(response_ms) FROM checks GROUP BY 1, 2 ORDER BY 1, 2",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            .unwrap()
            .collect::<rusqlite::Result<Vec<_>>>()
            .unwrap();
        // The view's windows: whole UTC hours for 24h, whole UTC days for 7d and 30d.
        let pct = |start: &str| {
            format!(
                "round(100.0 * sum(status = 'online' AND checked_at >= {start}) / nullif(sum(checked_at >= {start}), 0), 3)"
            )
        };
        let sql = format!(
            "SELECT service, count(*), {}, {}, {}, round(100.0 * sum(status = 'online') / count(*), 3)
             FROM checks GROUP BY service ORDER BY service",
            pct("strftime('%Y-%m-%dT%H:00:00.000Z', 'now', '-24 hours')"),
            pct("strftime('%Y-%m-%d', 'now', '-7 days')"),
            pct("strftime('%Y-%m-%d', 'now', '-30 days')"),
        );
        let uptime = store
            .conn
            .prepare(&sql)
            .unwrap()
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .unwrap()
            .collect::<rusqlite::Result<Vec<_>>>()
            .unwrap();
        (rollups, uptime)
    }

    fn stored(store: &Store) -> Story {
        let rollups = store
            .conn
            .prepare(
                "SELECT service, hour, checks, online, total_ms FROM checks_hourly ORDER BY 1, 2",
            )
            .unwrap()
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .unwrap()
            .collect::<rusqlite::Result<Vec<_>>>()
            .unwrap();
        let uptime = store
            .conn
            .prepare("SELECT service, checks, uptime_24h, uptime_7d, uptime_30d, uptime_all FROM uptime ORDER BY service")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
            .unwrap()
            .collect::<rusqlite::Result<Vec<_>>>()
            .unwrap();
        (rollups, uptime)
    }

    fn assert_daily_sums_hourly(store: &Store) {
        let rows = |sql: &str| -> Vec<(String, String, i64, i64, i64)> {
            store
                .conn
                .prepare(sql)
                .unwrap()
                .query_map([], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap()
        };
        assert_eq!(
            rows("SELECT service, day, checks, online, total_ms FROM checks_daily ORDER BY 1, 2"),
            rows(
                "SELECT service, substr(hour, 1, 10), sum(checks), sum(online), sum(total_ms)
                 FROM checks_hourly GROUP BY 1, 2 ORDER BY 1, 2"
            )
        );
    }

    #[test]
    fn rollups_and_uptime_equal_a_recount_of_the_raw_checks() {
        for seed in 1..=12 {
            let dir = tempfile::tempdir().unwrap();
            let mut store = Store::open(&dir.path().join("a.db")).unwrap();
            random_history(&mut store, seed, 40 + seed as usize * 7);
            assert_eq!(stored(&store), recompute(&store), "seed {seed}");
            assert_daily_sums_hourly(&store);
        }
    }

    #[test]
    fn retention_deletes_only_old_raw_checks_in_bounded_batches() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("a.db")).unwrap();
        random_history(&mut store, 7, 120);
        let cutoff = Utc::now() - chrono::Duration::days(20);
        let count = |store: &Store, sql: &str| -> i64 {
            store.conn.query_row(sql, [], |r| r.get(0)).unwrap()
        };
        let old_sql = format!(
            "SELECT count(*) FROM checks WHERE checked_at < '{}'",
            iso(cutoff)
        );
        let old = count(&store, &old_sql);
        let young = count(&store, "SELECT count(*) FROM checks") - old;
        let rollups_before = stored(&store).0;
        assert!(old > 10, "the history must reach past the cutoff");
        let mut batches = 0;
        loop {
            let deleted = store.prune(cutoff, 10).unwrap();
            assert!(deleted <= 10, "a batch deleted {deleted}");
            if deleted == 0 {
                break;
            }
            batches += 1;
        }
        assert!(
            batches >= old as usize / 10,
            "{batches} batches for {old} old checks"
        );
        assert_eq!(count(&store, &old_sql), 0);
        assert_eq!(
            count(&store, "SELECT count(*) FROM checks"),
            young,
            "young checks were kept"
        );
        assert_eq!(
            stored(&store).0,
            rollups_before,
            "rollups outlive the raw checks"
        );
    }

    #[test]
    fn retention_keeps_the_latest_check_of_a_service() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("a.db")).unwrap();
        let long_ago = Utc::now() - chrono::Duration::days(400);
        let run = store.begin_run(long_ago, false, "h").unwrap();
        let d = Decision {
            service: "gone".into(),
            state: AlertState::default(),
            due: None,
        };
        store
            .record_run(
                run,
                &[result("gone", &iso(long_ago), Status::Online)],
                &[d],
                &[],
            )
            .unwrap();
        assert_eq!(store.prune(Utc::now(), 100).unwrap(), 0);
        assert!(store.summaries().unwrap().contains_key("gone"));
    }

    #[test]
    fn a_version_1_database_migrates_with_its_rollups_backfilled() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        // A database as version 1 left it, with a history.
        let fresh = tempfile::tempdir().unwrap();
        let mut source = Store::open(&fresh.path().join("src.db")).unwrap();
        random_history(&mut source, 99, 80);
        {
            let v1 = Connection::open(&path).unwrap();
            v1.execute_batch(include_str!("../tests/fixtures/schema-v1.sql"))
                .unwrap();
            v1.pragma_update(None, "user_version", 1).unwrap();
            v1.execute_batch(&format!(
                "ATTACH '{}' AS src;
                 INSERT INTO runs SELECT * FROM src.runs;
                 INSERT INTO checks SELECT * FROM src.checks;
                 INSERT INTO service_state SELECT service, status, since, last_check_id, fail_streak, pass_streak,
                        down, runs_since_alert, last_notice_at FROM src.service_state;",
                fresh.path().join("src.db").display()
            ))
            .unwrap();
        }
        let migrated = Store::open(&path).unwrap();
        let version: i64 = migrated
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        assert_eq!(stored(&migrated), recompute(&migrated));
        assert_daily_sums_hourly(&migrated);
        assert_eq!(
            stored(&migrated),
            stored(&source),
            "the same story as a database that grew up on version 2"
        );
    }

    #[test]
    fn migrations_and_schema_sql_build_the_same_database() {
        let shape = |conn: &Connection| -> Vec<String> {
            let mut out = Vec::new();
            let objects: Vec<(String, String)> = conn
                .prepare("SELECT type, name FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            for (kind, name) in objects {
                out.push(format!("{kind} {name}"));
                if kind == "table" || kind == "view" {
                    let cols: Vec<String> = conn
                        .prepare(&format!("SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info('{name}')"))
                        .unwrap()
                        .query_map([], |r| {
                            Ok(format!(
                                "  {} {} {} {:?} {}",
                                r.get::<_, String>(0)?,
                                r.get::<_, String>(1)?,
                                r.get::<_, i64>(2)?,
                                r.get::<_, Option<String>>(3)?,
                                r.get::<_, i64>(4)?
                            ))
                        })
                        .unwrap()
                        .collect::<rusqlite::Result<_>>()
                        .unwrap();
                    out.extend(cols);
                }
            }
            out
        };
        let dir = tempfile::tempdir().unwrap();
        let fresh = Store::open(&dir.path().join("fresh.db")).unwrap();
        let old = dir.path().join("old.db");
        {
            let v1 = Connection::open(&old).unwrap();
            v1.execute_batch(include_str!("../tests/fixtures/schema-v1.sql"))
                .unwrap();
            v1.pragma_update(None, "user_version", 1).unwrap();
        }
        let migrated = Store::open(&old).unwrap();
        assert_eq!(shape(&migrated.conn), shape(&fresh.conn));
    }
}
