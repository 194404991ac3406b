//! How domain values are spelled in a column: a `Status` or a `Notice` as its
//! name, a time as a `Stamp` (UTC ISO-8601 text). A stored value that does not
//! read back is an error naming it, never a default.

use chrono::{DateTime, Utc};

use super::value::{FromValue, ToValue, Value};
use crate::alert::Notice;
use crate::check::Status;
use crate::timefmt::{iso, parse_iso};

/// A UTC time as the database spells it, `2026-11-21T10:22:01.443Z`: it
/// sorts as text (bytewise), in SQLite and in PostgreSQL alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stamp(pub DateTime<Utc>);

impl ToValue for Stamp {
    fn to_value(&self) -> Value {
        Value::Text(iso(self.0))
    }
}

impl ToValue for Status {
    fn to_value(&self) -> Value {
        Value::Text(self.as_str().to_string())
    }
}

impl ToValue for Notice {
    fn to_value(&self) -> Value {
        Value::Text(self.as_str().to_string())
    }
}

impl FromValue for Stamp {
    fn from_value(v: &Value) -> Result<Self, String> {
        let text = String::from_value(v)?;
        parse_iso(&text)
            .map(Stamp)
            .ok_or_else(|| format!("not a timestamp: {text:?}"))
    }
}

impl FromValue for Status {
    fn from_value(v: &Value) -> Result<Self, String> {
        let text = String::from_value(v)?;
        Status::parse(&text).ok_or_else(|| format!("unknown status {text:?}"))
    }
}

impl FromValue for Notice {
    fn from_value(v: &Value) -> Result<Self, String> {
        let text = String::from_value(v)?;
        Notice::parse(&text).ok_or_else(|| format!("unknown notice kind {text:?}"))
    }
}
