//! Checks kept on this host while a fleet's database cannot be reached: a
//! run that could not connect appends its checks as one JSON line to the
//! spool; the next run that connects stores them (each spooled run as a
//! run row of its own, its checks in each probe's latest view; the alert
//! state and the rollups, which count decisions, untouched: the outage is
//! decided now, not replayed) and empties the file. Bounded, so a month-long outage cannot
//! fill the disk.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::db::values;
use super::runs::insert_checks;
use super::types::Stamp;
use super::{RunId, Store};
use crate::check::{CheckResult, Status};

/// Past this size a run's checks are not added: a spool this big is weeks
/// of an unreachable database, and someone has been told every run.
pub const SPOOL_LIMIT: u64 = 64 * 1024 * 1024;

/// What a spooled run's row says of it.
const SPOOLED: &str = "the database could not be reached; this run's checks were kept on its host and stored by a later run";

/// One run's checks, as a line of the spool.
#[derive(Serialize, Deserialize)]
struct Spooled {
    started_at: String,
    forced: bool,
    host: String,
    checks: Vec<SpooledCheck>,
}

#[derive(Serialize, Deserialize)]
struct SpooledCheck {
    service: String,
    checked_at: String,
    status: String,
    response_ms: Option<u64>,
    status_code: Option<u16>,
    reason: Option<String>,
    cert_expires_at: Option<String>,
}

/// Appends a run's checks to the spool at `path`; `Ok(false)`: not added,
/// the spool is full.
pub fn append(
    path: &Path,
    started_at: DateTime<Utc>,
    forced: bool,
    host: &str,
    results: &[CheckResult],
) -> Result<bool> {
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    if size >= SPOOL_LIMIT {
        return Ok(false);
    }
    let iso = crate::timefmt::iso;
    let line = serde_json::to_string(&Spooled {
        started_at: iso(started_at),
        forced,
        host: host.to_string(),
        checks: results
            .iter()
            .map(|r| SpooledCheck {
                service: r.service.clone(),
                checked_at: iso(r.checked_at),
                status: r.status.as_str().to_string(),
                response_ms: r.response_ms,
                status_code: r.status_code,
                reason: r.reason.clone(),
                cert_expires_at: r.cert_expires_at.map(iso),
            })
            .collect(),
    })?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening the spool {}", path.display()))?;
    // One write per run, so a line is whole or absent.
    file.write_all(format!("{line}\n").as_bytes())
        .and_then(|()| file.sync_data())
        .with_context(|| format!("writing the spool {}", path.display()))?;
    Ok(true)
}

/// A spooled line as a run: its start, whether forced, its host, its checks.
fn parse(line: &str) -> Option<(DateTime<Utc>, bool, String, Vec<CheckResult>)> {
    let run: Spooled = serde_json::from_str(line).ok()?;
    let parse_iso = crate::timefmt::parse_iso;
    let checks = run
        .checks
        .into_iter()
        .map(|c| {
            Some(CheckResult {
                service: c.service,
                checked_at: parse_iso(&c.checked_at)?,
                status: Status::parse(&c.status)?,
                response_ms: c.response_ms,
                status_code: c.status_code,
                reason: c.reason,
                cert_expires_at: match c.cert_expires_at {
                    Some(t) => Some(parse_iso(&t)?),
                    None => None,
                },
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some((parse_iso(&run.started_at)?, run.forced, run.host, checks))
}

impl Store {
    /// Stores what the spool at `path` kept, in one transaction, and then
    /// removes it; a line that does not read (a torn write, an edit) is
    /// skipped and counted. How many runs were stored and skipped.
    pub fn store_spool(&mut self, path: &Path) -> Result<(usize, usize)> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, 0)),
            Err(e) => {
                return Err(e).with_context(|| format!("reading the spool {}", path.display()));
            }
        };
        let runs: Vec<_> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(parse)
            .collect();
        let skipped = runs.iter().filter(|r| r.is_none()).count();
        let probe = self.probe.clone();
        let stored = self
            .conn
            .transaction(|tx| {
                let mut stored = 0;
                for (started_at, forced, host, checks) in runs.iter().flatten() {
                    let id: i64 = tx
                        .query(
                            "INSERT INTO runs (started_at, finished_at, forced, host, version, probe, services, failing, error)
                             VALUES (?1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
                            values![
                                Stamp(*started_at),
                                *forced,
                                host,
                                env!("CARGO_PKG_VERSION"),
                                probe,
                                checks.len() as i64,
                                checks.iter().filter(|c| c.status.is_failure()).count() as i64,
                                SPOOLED
                            ],
                        )?
                        .first()
                        .context("no id for a spooled run")?
                        .get(0)?;
                    // Raw checks only: the rollups count the fleet's decisions.
                    insert_checks(tx, RunId(id), checks, probe.as_deref())?;
                    stored += 1;
                }
                Ok(stored)
            })
            .with_context(|| format!("storing the spool {}", path.display()))?;
        std::fs::remove_file(path)
            .with_context(|| format!("removing the stored spool {}", path.display()))?;
        Ok((stored, skipped))
    }
}
