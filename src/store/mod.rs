//! The history: the only module that knows SQL. SQLite today; a second backend
//! (PostgreSQL, say) would slot in behind the same `Store` functions, as callers
//! only see domain types, never rows. `schema` opens and migrates the file, `runs`
//! appends, `outbox` holds what is due, `read` answers reports, `silences` keeps
//! what people silenced, `types` spells values.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use rusqlite::Connection;

use crate::alert::Notice;

mod history;
mod outbox;
mod read;
mod report;
mod runs;
mod schema;
mod silences;
#[cfg(test)]
mod tests;
mod types;

/// "column since: not a timestamp: \"x\" (in the row where service = 'web')".
fn malformed(columns: &[String], row: &rusqlite::Row<'_>, index: usize, why: &str) -> String {
    let name = |i: usize| columns.get(i).map_or("?", String::as_str);
    let mut text = format!("column {}: {why}", name(index));
    // The first column names the row, unless it is the bad value itself.
    if index > 0 {
        use rusqlite::types::ValueRef;
        let key = match row.get_ref(0) {
            Ok(ValueRef::Integer(n)) => n.to_string(),
            Ok(ValueRef::Text(t)) => format!("'{}'", String::from_utf8_lossy(t)),
            _ => return text,
        };
        text.push_str(&format!(" (in the row where {} = {key})", name(0)));
    }
    text
}

/// Raw checks deleted per run at most: a backlog (a lowered retention, a
/// restored old database) drains over a few runs instead of stalling one.
pub const PRUNE_BATCH: usize = 10_000;

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
    /// A `network` notice: what the guard could not reach.
    pub detail: Option<String>,
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
    /// A `network` notice: what the guard could not reach.
    pub detail: Option<String>,
    /// A reminder or recovery: the outage's first alert.
    pub outage: Option<crate::alert::Outage>,
}

impl Store {
    /// Every row `sql` returns, each read by `read`. A stored value that does
    /// not read back (see `types`) is said once, with its column and the row
    /// it sits in (by the first column: an id or a service), so a person can
    /// mend it with `sqlite3`; rusqlite alone gives an index and repeats it.
    fn read_all<T, C: FromIterator<T>>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        what: &str,
        mut read: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<C> {
        let read_rows = || -> rusqlite::Result<C> {
            let mut stmt = self.conn.prepare_cached(sql)?;
            let columns: Vec<String> = stmt.column_names().map(String::from).collect();
            let rows = stmt.query_map(params, |row| {
                read(row).map_err(|e| match e {
                    rusqlite::Error::FromSqlConversionFailure(i, kind, why) => {
                        let why = malformed(&columns, row, i, &why.to_string());
                        rusqlite::Error::FromSqlConversionFailure(i, kind, why.into())
                    }
                    other => other,
                })
            })?;
            rows.collect()
        };
        read_rows()
            .map_err(|e| match e {
                rusqlite::Error::FromSqlConversionFailure(_, _, why) => anyhow::anyhow!("{why}"),
                other => anyhow::Error::new(other),
            })
            .context(what.to_string())
    }

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
    /// `Ok(Some(note))`: skipped, and why, for `-v`.
    pub fn close(self) -> Result<Option<&'static str>> {
        self.conn.busy_timeout(Duration::ZERO)?;
        let busy: i64 = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
            .context("checkpointing the database")?;
        Ok((busy != 0).then_some(
            "the WAL was not emptied: another program has the database open; the next run tries again",
        ))
    }
}
