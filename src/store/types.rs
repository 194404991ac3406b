//! How domain values are spelled in a column: a `Status` or a `Notice` as its
//! name, a time as a `Stamp` (UTC ISO-8601 text). A stored value that does not
//! read back is an error naming it, never a default.

use chrono::{DateTime, Utc};
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

use crate::alert::Notice;
use crate::check::Status;
use crate::timefmt::{iso, parse_iso};

/// A UTC time as the database spells it, `2026-11-21T10:22:01.443Z`: it
/// sorts as text, and SQLite's date functions read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stamp(pub DateTime<Utc>);

impl ToSql for Stamp {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(iso(self.0)))
    }
}

impl FromSql for Stamp {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        parse_iso(text)
            .map(Stamp)
            .ok_or_else(|| malformed(format!("not a timestamp: {text:?}")))
    }
}

impl ToSql for Status {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for Status {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        Status::parse(text).ok_or_else(|| malformed(format!("unknown status {text:?}")))
    }
}

impl ToSql for Notice {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for Notice {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        Notice::parse(text).ok_or_else(|| malformed(format!("unknown notice kind {text:?}")))
    }
}

fn malformed(message: String) -> FromSqlError {
    FromSqlError::Other(message.into())
}
