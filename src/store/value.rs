//! The values every store statement sends and reads, whatever the
//! backend: `Value`, rows of them (`Row`, which names a bad column and its
//! row in its error), and the conversions to and from Rust types
//! (`ToValue`, `FromValue`, the `values!` macro). A value that does not read
//! back as its Rust type is an error, never a default.

use std::rc::Rc;

use anyhow::{Result, anyhow};
use rusqlite::types::ValueRef;

/// One parameter or column value, as both backends can carry it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

/// One row of a result, its values owned, with the column names to say
/// which value did not read.
pub(crate) struct Row {
    values: Vec<Value>,
    columns: Rc<[String]>,
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
        &[$($crate::store::value::ToValue::to_value(&$v)),*][..]
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
