//! The one small interface every store function speaks, whatever the
//! backend: statements with numbered `?N` parameters, parameters and rows as
//! plain `Value`s, transactions by `BEGIN`/`COMMIT`. A value that does not
//! read back as its Rust type is an error naming its column and row, never a
//! default. SQL that must differ between backends picks by `Dialect`.

use std::cell::RefCell;
use std::rc::Rc;

use anyhow::Result;

use super::value::{Row, Value};

/// Rows per multi-row statement sent to PostgreSQL.
const PG_ROWS: usize = 500;

/// Which SQL a statement that differs between backends is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// An open database: the SQLite file, or a fleet's PostgreSQL (in a
/// `RefCell`: its client needs `&mut` even to read, the store's readers do not).
pub(crate) enum Conn {
    Sqlite(rusqlite::Connection),
    Postgres(Box<RefCell<super::postgres::Pg>>),
}

impl Conn {
    pub(crate) fn dialect(&self) -> Dialect {
        match self {
            Conn::Sqlite(_) => Dialect::Sqlite,
            Conn::Postgres(_) => Dialect::Postgres,
        }
    }

    /// The SQLite connection, for what only SQLite has (pragmas, backups).
    pub(crate) fn sqlite(&self) -> Option<&rusqlite::Connection> {
        match self {
            Conn::Sqlite(c) => Some(c),
            Conn::Postgres(_) => None,
        }
    }

    /// Runs `sql` with `params`; how many rows it changed.
    pub(crate) fn execute(&self, sql: &str, params: &[Value]) -> Result<u64> {
        match self {
            Conn::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                Ok(stmt.execute(rusqlite::params_from_iter(params))? as u64)
            }
            Conn::Postgres(pg) => pg.borrow_mut().execute(sql, params),
        }
    }

    /// Every row `sql` returns.
    pub(crate) fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        match self {
            Conn::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                let columns: Rc<[String]> = stmt.column_names().map(String::from).collect();
                let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    let values = (0..columns.len())
                        .map(|i| row.get_ref(i).map(Value::from))
                        .collect::<rusqlite::Result<_>>()?;
                    out.push(Row::new(values, columns.clone()));
                }
                Ok(out)
            }
            Conn::Postgres(pg) => pg.borrow_mut().query(sql, params),
        }
    }

    /// `{head} VALUES (…) {tail}` for each of `rows` (each `width` values):
    /// SQLite runs one prepared statement per row (in-process, each costs
    /// microseconds); PostgreSQL gets up to `PG_ROWS` rows per statement, as
    /// every statement is a round trip to the server. What a `RETURNING`
    /// tail returns, in no promised order.
    pub(crate) fn insert_each(
        &self,
        head: &str,
        width: usize,
        rows: &[Vec<Value>],
        tail: &str,
    ) -> Result<Vec<Row>> {
        let chunk = match self.dialect() {
            Dialect::Sqlite => 1,
            Dialect::Postgres => PG_ROWS,
        };
        let returning = tail.contains("RETURNING");
        let mut out = Vec::new();
        for rows in rows.chunks(chunk) {
            let tuples: Vec<String> = (0..rows.len())
                .map(|i| {
                    let slots: Vec<String> =
                        (1..=width).map(|j| format!("?{}", i * width + j)).collect();
                    format!("({})", slots.join(", "))
                })
                .collect();
            let sql = format!("{head} VALUES {} {tail}", tuples.join(", "));
            let params: Vec<Value> = rows.iter().flatten().cloned().collect();
            match returning {
                true => out.extend(self.query(&sql, &params)?),
                false => {
                    self.execute(&sql, &params)?;
                }
            }
        }
        Ok(out)
    }

    /// Statements without parameters, one after another (schema, `BEGIN`).
    pub(crate) fn batch(&self, sql: &str) -> Result<()> {
        match self {
            Conn::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Conn::Postgres(pg) => pg.borrow_mut().batch(sql),
        }
    }

    /// `f` in one transaction: committed when it returns `Ok`, rolled back
    /// when it (or the commit) fails. SQLite's is `IMMEDIATE`: the write lock
    /// is taken at the start, so two writers never deadlock halfway.
    pub(crate) fn transaction<T>(&self, f: impl FnOnce(&Conn) -> Result<T>) -> Result<T> {
        self.batch(match self.dialect() {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            // READ COMMITTED: a statement after an advisory lock sees what
            // the lock's previous holder committed.
            Dialect::Postgres => "BEGIN",
        })?;
        let done = f(self).and_then(|value| self.batch("COMMIT").map(|()| value));
        if done.is_err() && !self.idle() {
            // The error above is the one to tell; a failed rollback leaves
            // nothing the connection's end would not undo.
            let _ = self.batch("ROLLBACK");
        }
        done
    }

    /// Whether no transaction is open.
    fn idle(&self) -> bool {
        match self {
            Conn::Sqlite(c) => c.is_autocommit(),
            // Unknown to the client: a ROLLBACK outside a transaction is
            // only a warning there.
            Conn::Postgres(_) => false,
        }
    }
}
