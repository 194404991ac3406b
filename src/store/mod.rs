//! The history: the only module that knows SQL, for SQLite (the default) and
//! a fleet's PostgreSQL alike, behind the same `Store` functions: callers
//! only see domain types, never rows. `db` and `value` are the one interface
//! both backends speak, `schema` opens and migrates the SQLite file and
//! `postgres` connects to the server, `runs` appends, `fleet` decides across
//! probes, `spool` keeps checks while the server is out of reach, `outbox`
//! holds what is due, `read` answers reports, `silences` keeps what people
//! silenced, `migrate` copies a file's history to the server, `types` spells
//! values.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use crate::alert::Notice;
use crate::config::Database;

mod db;
mod fleet;
mod history;
mod migrate;
mod outbox;
mod postgres;
mod read;
mod report;
mod runs;
mod schema;
mod silences;
pub mod spool;
#[cfg(test)]
mod tests;
mod types;
mod value;

/// Raw checks deleted per run at most: a backlog (a lowered retention, a
/// restored old database) drains over a few runs instead of stalling one.
pub const PRUNE_BATCH: usize = 10_000;

pub struct Store {
    conn: db::Conn,
    /// How messages name the database: its path or URL.
    name: String,
    /// This host's probe name, in a fleet's shared database.
    probe: Option<String>,
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
    /// The SQLite connection under a test's store, for the SQL a test runs itself.
    #[cfg(test)]
    fn sqlite(&self) -> &rusqlite::Connection {
        self.conn.sqlite().expect("an SQLite store")
    }

    /// Every row `sql` returns, each read by `read`. A stored value that does
    /// not read back (see `value::Row::get`) is said with its column and the
    /// row it sits in, so a person can mend it.
    fn read_all<T, C: FromIterator<T>>(
        &self,
        sql: &str,
        params: &[value::Value],
        what: &str,
        read: impl FnMut(&value::Row) -> Result<T>,
    ) -> Result<C> {
        let rows = self.conn.query(sql, params).context(what.to_string())?;
        rows.iter()
            .map(read)
            .collect::<Result<C>>()
            .context(what.to_string())
    }

    /// Opens the database, creating it from `schema.sql` on first use and
    /// refusing one written by a newer upcheck.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating the database folder {}", dir.display()))?;
        }
        let mut conn = rusqlite::Connection::open(path)
            .with_context(|| format!("opening the database {}", path.display()))?;
        schema::setup(&mut conn)
            .with_context(|| format!("opening the database {}", path.display()))?;
        Ok(Store {
            conn: db::Conn::Sqlite(conn),
            name: path.display().to_string(),
            probe: None,
        })
    }

    /// Opens the configured database: the SQLite file, or a connection to
    /// the fleet's PostgreSQL (its schema created or migrated).
    pub fn connect(database: &Database) -> Result<Store> {
        match database {
            Database::Sqlite(path) => Store::open(path),
            Database::Postgres(pg) => {
                let conn = postgres::connect(pg)
                    .with_context(|| format!("opening the database {}", pg.url))?;
                Ok(Store {
                    conn: db::Conn::Postgres(Box::new(std::cell::RefCell::new(conn))),
                    name: pg.url.clone(),
                    probe: Some(pg.fleet.probe.clone()),
                })
            }
        }
    }

    /// A consistent copy of the database at `dest`, taken with SQLite's online
    /// backup API: safe while runs go on (it restarts its step if one writes).
    pub fn backup(&self, dest: &Path) -> Result<()> {
        let Some(conn) = self.conn.sqlite() else {
            anyhow::bail!("`backup` copies an SQLite database; for PostgreSQL use pg_dump");
        };
        let mut target = rusqlite::Connection::open(dest)
            .with_context(|| format!("creating the backup {}", dest.display()))?;
        let backup = rusqlite::backup::Backup::new(conn, &mut target)?;
        backup
            .run_to_completion(256, Duration::from_millis(10), None)
            .with_context(|| format!("copying {} to {}", self.name, dest.display()))?;
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
        let Some(conn) = self.conn.sqlite() else {
            return Ok(None);
        };
        conn.busy_timeout(Duration::ZERO)?;
        let busy: i64 = conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
            .context("checkpointing the database")?;
        Ok((busy != 0).then_some(
            "the WAL was not emptied: another program has the database open; the next run tries again",
        ))
    }
}
