//! Silences from the command line: added, listed, ended early, and read by
//! each run for the holds it applies.

use super::db::Dialect;
use super::value::{Row, values};
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use super::Store;
use super::types::Stamp;
use crate::hold::Silence;

const COLUMNS: &str = "id, service, starts_at, ends_at, reason, created_at";

fn silence(r: &Row) -> Result<Silence> {
    Ok(Silence {
        id: r.get(0)?,
        service: r.get(1)?,
        starts_at: r.get::<Stamp>(2)?.0,
        ends_at: r.get::<Stamp>(3)?.0,
        reason: r.get(4)?,
        created_at: r.get::<Stamp>(5)?.0,
    })
}

impl Store {
    /// One silence per entry of `services` (`None`: every service), all from
    /// `starts_at` to `ends_at`, in one transaction; their ids, in order.
    pub fn add_silences(
        &mut self,
        services: &[Option<String>],
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
        reason: Option<&str>,
    ) -> Result<Vec<i64>> {
        self.conn
            .transaction(|tx| {
                let mut ids = Vec::new();
                for service in services {
                    let added = tx.query(
                        "INSERT INTO silences (service, starts_at, ends_at, reason, created_at)
                         VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
                        values![
                            service,
                            Stamp(starts_at),
                            Stamp(ends_at),
                            reason,
                            Stamp(starts_at)
                        ],
                    )?;
                    ids.push(added.first().context("no id for the new silence")?.get(0)?);
                }
                Ok(ids)
            })
            .context("adding a silence")
    }

    /// Silences not yet over at `now` (in force or still to come), soonest end first.
    pub fn silences_after(&self, now: DateTime<Utc>) -> Result<Vec<Silence>> {
        self.read_all(
            &format!("SELECT {COLUMNS} FROM silences WHERE ends_at > ?1 ORDER BY ends_at, id"),
            values![Stamp(now)],
            "reading silences",
            silence,
        )
    }

    /// Ends silence `id` at `now` (one yet to start never starts); the
    /// silence as it was, or `None` if there is no such silence.
    pub fn end_silence(&mut self, id: i64, now: DateTime<Utc>) -> Result<Option<Silence>> {
        let found: Vec<Silence> = self.read_all(
            &format!("SELECT {COLUMNS} FROM silences WHERE id = ?1"),
            values![id],
            "reading a silence",
            silence,
        )?;
        let Some(found) = found.into_iter().next() else {
            return Ok(None);
        };
        let sql = match self.conn.dialect() {
            Dialect::Sqlite => {
                "UPDATE silences SET ends_at = min(ends_at, max(starts_at, ?2)) WHERE id = ?1"
            }
            Dialect::Postgres => {
                "UPDATE silences SET ends_at = least(ends_at, greatest(starts_at, ?2)) WHERE id = ?1"
            }
        };
        self.conn
            .execute(sql, values![id, Stamp(now)])
            .context("ending a silence")?;
        Ok(Some(found))
    }
}
