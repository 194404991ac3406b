//! `upcheck migrate --from FILE`: an SQLite history copied, once, into the
//! fleet's empty PostgreSQL: every table, in the order their references
//! need, ids kept (and each identity moved past them), each run and check
//! labelled with this host's probe, and each service's latest check as this
//! probe's view. One transaction: all of it, or nothing.

use anyhow::{Context, Result, bail};

use super::Store;
use super::db::Conn;
use super::value::{Row, Value, values};

/// The tables, parents before children: each with its key (rows are read
/// a page at a time in its order) and whether it has an identity `id`.
const TABLES: &[(&str, &[&str], bool)] = &[
    ("runs", &["id"], true),
    ("checks", &["checked_at", "id"], true),
    ("checks_hourly", &["hour", "service"], false),
    ("checks_daily", &["day", "service"], false),
    ("service_state", &["service"], false),
    ("notifications", &["id"], true),
    ("command_deliveries", &["notification_id", "command"], false),
    ("restarts", &["id"], true),
    ("heartbeats", &["id"], true),
    ("silences", &["id"], true),
];

/// Rows inserted per statement: few round trips, well under PostgreSQL's
/// 65,535 parameters.
const BATCH: usize = 500;

impl Store {
    /// Copies everything in `from` (an SQLite store) into this fleet's
    /// database, which must hold no history yet. How many rows per table.
    pub fn copy_from(&mut self, from: &Store) -> Result<Vec<(&'static str, usize)>> {
        let probe = self.probe.clone().context(
            "migrate copies into a PostgreSQL database; the config's `database` is a file",
        )?;
        let Some(sqlite) = from.conn.sqlite() else {
            bail!("migrate copies from an SQLite file");
        };
        for (table, ..) in TABLES {
            let rows = self
                .conn
                .query(&format!("SELECT count(*) FROM {table}"), &[])?;
            let n: i64 = rows.first().context("no count")?.get(0)?;
            if n > 0 {
                bail!(
                    "{} already holds {n} rows in {table}: migrate copies into an empty database only",
                    self.name
                );
            }
        }
        self.conn
            .transaction(|tx| {
                let mut copied = Vec::new();
                for &(table, key, identity) in TABLES {
                    let columns: Vec<String> = sqlite
                        .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))?
                        .query_map([], |r| r.get(0))?
                        .collect::<rusqlite::Result<_>>()?;
                    let labelled = matches!(table, "runs" | "checks");
                    let probe = labelled.then_some(probe.as_str());
                    let n = copy_table(from, tx, table, &columns, key, probe)?;
                    if identity {
                        tx.query(
                            &format!(
                                "SELECT setval(pg_get_serial_sequence('{table}', 'id'),
                                           coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
                            ),
                            &[],
                        )?;
                    }
                    copied.push((table, n));
                }
                tx.execute(
                    "INSERT INTO probe_state (service, probe, last_check_id, checked_at)
                 SELECT s.service, ?1, s.last_check_id, c.checked_at
                 FROM service_state s JOIN checks c ON c.id = s.last_check_id",
                    values![probe],
                )?;
                Ok(copied)
            })
            .with_context(|| format!("copying {} into {}", from.name, self.name))
    }
}

/// Rows read from SQLite at a time (a year of checks is millions, years of
/// hourly rollups too: never all in memory at once).
const PAGE: i64 = 20_000;

/// One table's rows, a page at a time in the order of its `key` (each page
/// after the last key read), `BATCH` per insert; with `probe`, a `probe`
/// column too.
fn copy_table(
    from: &Store,
    to: &Conn,
    table: &str,
    columns: &[String],
    key: &[&str],
    probe: Option<&str>,
) -> Result<usize> {
    let list = columns.join(", ");
    let order = key.join(", ");
    let at: Vec<usize> = key
        .iter()
        .map(|k| {
            columns
                .iter()
                .position(|c| c == k)
                .context("a key column is missing")
        })
        .collect::<Result<_>>()?;
    let slots: Vec<String> = (1..=key.len()).map(|i| format!("?{i}")).collect();
    let (mut after, mut copied): (Option<Vec<Value>>, usize) = (None, 0);
    loop {
        let (sql, mut params) = match &after {
            None => (
                format!("SELECT {list} FROM {table} ORDER BY {order} LIMIT ?1"),
                Vec::new(),
            ),
            Some(last) => (
                format!(
                    "SELECT {list} FROM {table} WHERE ({order}) > ({}) ORDER BY {order} LIMIT ?{}",
                    slots.join(", "),
                    key.len() + 1
                ),
                last.clone(),
            ),
        };
        params.push(Value::Int(PAGE));
        let rows = from
            .conn
            .query(&sql, &params)
            .with_context(|| format!("reading {table}"))?;
        let Some(last) = rows.last() else {
            return Ok(copied);
        };
        after = Some(at.iter().map(|&i| last.values()[i].clone()).collect());
        insert_rows(to, table, columns, &rows, probe)?;
        copied += rows.len();
    }
}

/// `rows` inserted into `table`, `BATCH` per statement.
fn insert_rows(
    to: &Conn,
    table: &str,
    columns: &[String],
    rows: &[Row],
    probe: Option<&str>,
) -> Result<()> {
    let list = columns.join(", ");
    let width = columns.len() + usize::from(probe.is_some());
    let target = match probe {
        Some(_) => format!("{list}, probe"),
        None => list,
    };
    for chunk in rows.chunks(BATCH) {
        let mut params: Vec<Value> = Vec::with_capacity(chunk.len() * width);
        let tuples: Vec<String> = chunk
            .iter()
            .enumerate()
            .map(|(i, row)| {
                params.extend(row.values().iter().cloned());
                params.extend(probe.map(|p| Value::Text(p.to_string())));
                let slots: Vec<String> =
                    (1..=width).map(|j| format!("?{}", i * width + j)).collect();
                format!("({})", slots.join(", "))
            })
            .collect();
        to.execute(
            &format!(
                "INSERT INTO {table} ({target}) VALUES {}",
                tuples.join(", ")
            ),
            &params,
        )
        .with_context(|| format!("copying {table}"))?;
    }
    Ok(())
}
