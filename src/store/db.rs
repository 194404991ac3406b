//! The one small interface every store function speaks, whatever the
//! backend: statements with numbered `?N` parameters, parameters and rows as
//! plain `Value`s, transactions by `BEGIN`/`COMMIT`. A value that does not
//! read back as its Rust type is an error naming its column and row, never a
//! default. SQL that must differ between backends picks by `Dialect`.

use std::cell::RefCell;
use std::rc::Rc;

use anyhow::{Result, anyhow};
use rusqlite::types::ValueRef;

/// Rows per multi-row statement sent to PostgreSQL.
const PG_ROWS: usize = 500;

/// One parameter or column value, as both backends can carry it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

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

/// One row of a result, its values owned, with the column names to say
/// which value did not read.
pub(crate) struct Row {
    values: Vec<Value>,
    columns: Rc<[String]>,
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
                    out.push(Row {
                        values,
                        columns: columns.clone(),
                    });
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

impl From<ValueRef<'_>> for Value {
    fn from(v: ValueRef<'_>) -> Value {
        match v {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(n) => Value::Int(n),
            ValueRef::Real(r) => Value::Real(r),
            ValueRef::Text(t) | ValueRef::Blob(t) => {
                Value::Text(String::from_utf8_lossy(t).into_owned())
            }
        }
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::ToSqlOutput::Borrowed;
        Ok(match self {
            Value::Null => Borrowed(ValueRef::Null),
            Value::Int(n) => Borrowed(ValueRef::Integer(*n)),
            Value::Real(r) => Borrowed(ValueRef::Real(*r)),
            Value::Text(t) => Borrowed(ValueRef::Text(t.as_bytes())),
        })
    }
}

impl Row {
    pub(crate) fn new(values: Vec<Value>, columns: Rc<[String]>) -> Row {
        Row { values, columns }
    }

    /// Every value of the row, as read.
    pub(crate) fn values(&self) -> &[Value] {
        &self.values
    }

    /// Column `index` as a `T`; a value that is not one is an error that
    /// names the column and the row (by its first column: an id or a
    /// service), so a person can mend it.
    pub(crate) fn get<T: FromValue>(&self, index: usize) -> Result<T> {
        let value = self
            .values
            .get(index)
            .ok_or_else(|| anyhow!("no column {index}"))?;
        T::from_value(value).map_err(|why| anyhow!(self.malformed(index, &why)))
    }

    /// "column since: not a timestamp: \"x\" (in the row where service = 'web')".
    fn malformed(&self, index: usize, why: &str) -> String {
        let name = |i: usize| self.columns.get(i).map_or("?", String::as_str);
        let mut text = format!("column {}: {why}", name(index));
        // The first column names the row, unless it is the bad value itself.
        if index > 0 {
            let key = match self.values.first() {
                Some(Value::Int(n)) => n.to_string(),
                Some(Value::Text(t)) => format!("'{t}'"),
                _ => return text,
            };
            text.push_str(&format!(" (in the row where {} = {key})", name(0)));
        }
        text
    }
}

/// A Rust value as a parameter.
pub(crate) trait ToValue {
    fn to_value(&self) -> Value;
}

/// A Rust value from a column; `Err` says why not.
pub(crate) trait FromValue: Sized {
    fn from_value(v: &Value) -> Result<Self, String>;
}

/// The parameters of a statement, each converted with `ToValue`.
macro_rules! values {
    ($($v:expr),* $(,)?) => {
        &[$($crate::store::db::ToValue::to_value(&$v)),*][..]
    };
}
pub(crate) use values;

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_string())
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}

impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}

macro_rules! int_values {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                Value::Int(i64::from(*self))
            }
        }
        impl FromValue for $t {
            fn from_value(v: &Value) -> Result<Self, String> {
                let n = i64::from_value(v)?;
                <$t>::try_from(n).map_err(|_| format!("{n} is out of range"))
            }
        }
    )*};
}
int_values!(i32, u32, u16);

impl ToValue for i64 {
    fn to_value(&self) -> Value {
        Value::Int(*self)
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Null => Ok(None),
            v => T::from_value(v).map(Some),
        }
    }
}

impl FromValue for i64 {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Int(n) => Ok(*n),
            other => Err(format!("not an integer: {}", describe(other))),
        }
    }
}

impl FromValue for bool {
    fn from_value(v: &Value) -> Result<Self, String> {
        i64::from_value(v).map(|n| n != 0)
    }
}

impl FromValue for f64 {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Real(r) => Ok(*r),
            Value::Int(n) => Ok(*n as f64),
            other => Err(format!("not a number: {}", describe(other))),
        }
    }
}

impl FromValue for String {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Text(t) => Ok(t.clone()),
            other => Err(format!("not text: {}", describe(other))),
        }
    }
}

/// A value as an error message shows it.
fn describe(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Int(n) => n.to_string(),
        Value::Real(r) => r.to_string(),
        Value::Text(t) => format!("{t:?}"),
    }
}
