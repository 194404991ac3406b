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

use super::runs::insert_checks;
use super::value::values;
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
    probe: String,
    database: String,
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

/// Whose checks a spool line holds: the probe and the database URL.
pub struct Owner<'a> {
    pub probe: &'a str,
    pub database: &'a str,
}

/// Appends a run's checks to the spool at `path`; `Ok(false)`: not added,
/// the spool is full.
pub fn append(
    path: &Path,
    owner: &Owner<'_>,
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
        probe: owner.probe.to_string(),
        database: owner.database.to_string(),
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
    write_line(path, size, &line)
        .with_context(|| format!("writing the spool {}", path.display()))?;
    Ok(true)
}

/// Appends `line` to the file of `size` bytes in one write; a line an
/// earlier write left torn (no newline at its end) is ended first, so it
/// spoils only itself; a write that fails is cut back off.
fn write_line(path: &Path, size: u64, line: &str) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(path)?;
    let mut text = String::new();
    if size > 0 {
        let mut last = [0u8; 1];
        file.seek(SeekFrom::Start(size - 1))?;
        file.read_exact(&mut last)?;
        if last[0] != b'\n' {
            text.push('\n');
        }
    }
    text.push_str(line);
    text.push('\n');
    let written = file
        .write_all(text.as_bytes())
        .and_then(|()| file.sync_data());
    if written.is_err() {
        let _ = file.set_len(size);
    }
    written
}

/// A spooled line as a run: its owner, start, whether forced, its host,
/// its checks.
fn parse(line: &str) -> Option<Spooled> {
    serde_json::from_str(line).ok()
}

fn checks(run: &Spooled) -> Option<Vec<CheckResult>> {
    let parse_iso = crate::timefmt::parse_iso;
    run.checks
        .iter()
        .map(|c| {
            Some(CheckResult {
                service: c.service.clone(),
                checked_at: parse_iso(&c.checked_at)?,
                status: Status::parse(&c.status)?,
                response_ms: c.response_ms,
                status_code: c.status_code,
                reason: c.reason.clone(),
                cert_expires_at: match &c.cert_expires_at {
                    Some(t) => Some(parse_iso(t)?),
                    None => None,
                },
            })
        })
        .collect()
}

/// What storing a spool came to.
#[derive(Debug, Default, PartialEq)]
pub struct Stored {
    pub runs: usize,
    /// Lines that did not read (a torn write, an edit): dropped.
    pub unreadable: usize,
    /// Runs of another probe or database: left in the spool.
    pub others: usize,
}

impl Store {
    /// Stores what the spool at `path` kept for `owner`, in one
    /// transaction, then leaves in it only the lines of others (or removes
    /// it).
    pub fn store_spool(&mut self, path: &Path, owner: &Owner<'_>) -> Result<Stored> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Stored::default()),
            Err(e) => {
                return Err(e).with_context(|| format!("reading the spool {}", path.display()));
            }
        };
        let mut stored = Stored::default();
        let (mut mine, mut others) = (Vec::new(), Vec::new());
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            match parse(line) {
                None => stored.unreadable += 1,
                Some(run) if run.probe == owner.probe && run.database == owner.database => {
                    match checks(&run) {
                        Some(checks) => mine.push((run, checks)),
                        None => stored.unreadable += 1,
                    }
                }
                Some(_) => others.push(line),
            }
        }
        stored.others = others.len();
        stored.runs = self.store_spooled(&mine)?;
        let rest: String = others.iter().map(|l| format!("{l}\n")).collect();
        match rest.is_empty() {
            true => std::fs::remove_file(path),
            false => std::fs::write(path, rest),
        }
        .with_context(|| format!("emptying the stored spool {}", path.display()))?;
        Ok(stored)
    }

    /// Each spooled run as a run row of its own with its checks.
    fn store_spooled(&mut self, runs: &[(Spooled, Vec<CheckResult>)]) -> Result<usize> {
        let probe = self.probe.clone();
        self.conn
            .transaction(|tx| {
                for (run, checks) in runs {
                    let failing = checks.iter().filter(|c| c.status.is_failure()).count();
                    let id: i64 = tx
                        .query(
                            "INSERT INTO runs (started_at, finished_at, forced, host, version, probe, services, failing, error)
                             VALUES (?1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
                            values![
                                run.started_at,
                                run.forced,
                                run.host,
                                env!("CARGO_PKG_VERSION"),
                                probe,
                                checks.len() as i64,
                                failing as i64,
                                SPOOLED
                            ],
                        )?
                        .first()
                        .context("no id for a spooled run")?
                        .get(0)?;
                    // Raw checks only: not each probe's latest view (what it
                    // saw then is not what it sees now), not the rollups
                    // (they count decisions).
                    insert_checks(tx, RunId(id), checks, probe.as_deref(), false)?;
                }
                Ok(runs.len())
            })
            .context("storing the spool")
    }
}
