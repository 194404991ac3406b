//! The file itself: connection settings, creating the schema on first use,
//! migrating an older one, refusing a newer one, and setting aside a file
//! SQLite cannot read so that monitoring goes on.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use chrono::Utc;
use rusqlite::{Connection, TransactionBehavior};

use super::Store;
use crate::config::Database;

/// The schema `schema.sql` creates; `PRAGMA user_version` records it.
pub const SCHEMA_VERSION: i64 = 10;
const SCHEMA: &str = include_str!("../../schema.sql");
/// `MIGRATIONS[i]` takes a database from version `i + 1` to `i + 2`.
/// Append only: a released migration is never edited.
pub(super) const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/002-rollups.sql"),
    include_str!("../../migrations/003-uptime-ends-now.sql"),
    include_str!("../../migrations/004-restart-recheck.sql"),
    include_str!("../../migrations/005-silences.sql"),
    include_str!("../../migrations/006-connectivity.sql"),
    include_str!("../../migrations/007-threading.sql"),
    include_str!("../../migrations/008-summary.sql"),
    include_str!("../../migrations/009-heartbeat.sql"),
    include_str!("../../migrations/010-checks-in-time-order.sql"),
];
/// Long enough to outlast another run's write transaction (milliseconds), short
/// enough that a stuck `sqlite3` session is reported rather than waited on forever.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

impl Store {
    /// `open` for a run: a file that SQLite says is not a database, or is
    /// corrupt, is renamed aside (with its WAL and shared-memory files) and a
    /// new database started, so monitoring goes on; the caller must report
    /// where the old file went. Any other failure (locked, full, permissions)
    /// is an error as usual: those are not the file's fault.
    pub fn open_or_set_aside(database: &Database) -> Result<(Store, Option<PathBuf>)> {
        let Database::Sqlite(path) = database else {
            return Ok((Store::connect(database)?, None));
        };
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
}

/// Connection settings, then the schema created or migrated.
pub(super) fn setup(conn: &mut Connection) -> Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // WAL: `sqlite3` readers never block a run, and a run never blocks them.
    // synchronous=NORMAL is durable across a process crash, the case that matters.
    conn.pragma_update(None, "journal_mode", "WAL")
        .context("switching to WAL mode")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // A run ends with `close`, which checkpoints and truncates the WAL
    // rather than deleting it: SQLite's default close costs two more
    // fsyncs, deleting and recreating the file every run.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
        true,
    )?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    migrate(conn)
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    if version > SCHEMA_VERSION {
        bail!(
            "the database has schema version {version}, newer than this upcheck understands \
             ({SCHEMA_VERSION}); it was written by a newer upcheck: upgrade upcheck, or point `database` elsewhere"
        );
    }
    // A migration may rebuild a table others refer to (SQLite cannot
    // change a CHECK in place): foreign keys are off meanwhile, as
    // SQLite's own procedure says, and checked before committing.
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    let migrated = migrate_from_stored(conn);
    let restored = conn.pragma_update(None, "foreign_keys", "ON");
    // The migration's own failure is the one to report.
    migrated.and(restored.map_err(Into::into))
}

fn migrate_from_stored(conn: &mut Connection) -> Result<()> {
    // IMMEDIATE: two first runs at once must not both create the schema.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let mut broken_before = 0;
    if version == 0 {
        let objects: i64 = tx.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?;
        if objects > 0 {
            bail!("the file is an SQLite database, but not upcheck's (no schema version)");
        }
        tx.execute_batch(SCHEMA).context("creating the schema")?;
    } else {
        // References someone broke before (a `sqlite3` session runs
        // with foreign keys off) are not the migration's to refuse.
        broken_before = broken(&tx)?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize - 1) {
            tx.execute_batch(sql)
                .with_context(|| format!("migrating to schema version {}", i + 2))?;
        }
    }
    let broken_now = broken(&tx)?;
    if broken_now > broken_before {
        bail!(
            "migrating to schema version {SCHEMA_VERSION} would break {} references between tables",
            broken_now - broken_before
        );
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

/// How many rows refer to a row that is not there.
fn broken(conn: &Connection) -> Result<i64> {
    conn.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
        r.get(0)
    })
    .context("checking the references between tables")
}
