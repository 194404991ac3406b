//! A fleet's part of a run: its checks stored, then decided with every
//! probe's under the fleet's lock; and, when the shared database is out of
//! reach, the checks kept in the spool on this host until a run reaches it.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use anyhow::{Result, anyhow};
use chrono::Utc;

use super::{Decided, failing, holds_at, policies};
use crate::check::CheckResult;
use crate::config::{Config, Database};
use crate::store::{self, RunId, Store};
use crate::{alert, log, notify, probe, quorum, signals};

/// Why a fleet's run ended after storing its checks, at -v.
pub(super) const FLEET_BUSY: &str = "another probe's run held the fleet's lock for lock_timeout (it is deciding and \
                          delivering): this run's checks are stored and count in the next decision";

/// A fleet: this run's checks are stored first; then, under the fleet's
/// lock (kept until the run ends, so one run at a time decides and
/// delivers), every probe's latest fresh checks decide. `None`: another
/// probe's run held the lock all through `lock_timeout`; nothing more to do.
pub(super) fn store_and_decide_as_fleet(
    config: &Config,
    db: &mut Store,
    run: RunId,
    results: &[CheckResult],
    fleet: &crate::config::Fleet,
    forced: bool,
) -> Result<Option<Decided>> {
    let ids = match (db.record_checks(run, results), &config.database) {
        (Ok(ids), _) => ids,
        // The database went away mid-run: the checks wait in the spool.
        (Err(e), Database::Postgres(pg)) => {
            let started = results
                .iter()
                .map(|r| r.checked_at)
                .min()
                .unwrap_or_else(Utc::now);
            return Err(keep(pg, &config.host, started, forced, results, e));
        }
        (Err(e), Database::Sqlite(_)) => return Err(e),
    };
    notify::fallback::checks_stored(results.len(), failing(results.iter()).len());
    let waited = Instant::now();
    if !db.lock_fleet(config.lock_timeout)? {
        return Ok(None);
    }
    let deciding = Instant::now();
    let now = Utc::now();
    let seen = db.fleet_view(now - chrono::TimeDelta::from_std(fleet.fresh_within)?)?;
    let own: Vec<(CheckResult, i64)> = results.iter().cloned().zip(ids).collect();
    let basis = quorum::verdicts(&own, &fleet.probe, &seen, fleet.confirm);
    let decided: Vec<CheckResult> = basis.iter().map(|(r, _)| (*r).clone()).collect();
    let holds = holds_at(config, db, now, &failing(decided.iter()))?;
    let held = holds.keys().map(String::as_str).collect();
    let states = db.alert_states()?;
    let decisions = alert::decide(policies(config, results), &states, &decided, &held);
    db.record_decisions(run, &basis, &decisions, &config.alert_commands)?;
    let probes: HashSet<&str> = seen.iter().map(|c| c.probe.as_str()).collect();
    log::info(&format!(
        "decided {} services from {} probes' checks in {:.1} ms, after {:.1} ms waiting for the fleet's lock",
        decisions.len(),
        probes.len().max(1),
        deciding.elapsed().as_secs_f64() * 1000.0,
        (deciding - waited).as_secs_f64() * 1000.0
    ));
    Ok(Some((decisions, holds)))
}

/// A fleet's database is out of reach: the services are probed all the
/// same, their checks kept in the spool for the next run that reaches it,
/// and the run fails (exit 1, the fallback email) to say so.
pub(super) fn probe_and_keep(config: &Config, forced: bool, why: anyhow::Error) -> Result<()> {
    let Database::Postgres(pg) = &config.database else {
        return Err(why);
    };
    // This host's own network down: its checks would only say so, and kept,
    // they would tell the fleet every service failed.
    if let Some(guard) = config
        .connectivity
        .as_ref()
        .and_then(probe::guard::unreachable)
    {
        return Err(why.context(format!("the connectivity guard {guard}: nothing probed")));
    }
    let started = Utc::now();
    let results = probe::run_all(config, &HashMap::new());
    crate::heartbeat::probed(&results);
    let why = keep(pg, &config.host, started, forced, &results, why);
    match signals::stopped() {
        Some(stopped) => Err(why.context(stopped)),
        None => Err(why),
    }
}

/// `why` the checks did not reach the database, and where they went: the
/// spool, for the next run that reaches it.
fn keep(
    pg: &crate::config::Postgres,
    host: &str,
    started: chrono::DateTime<Utc>,
    forced: bool,
    results: &[CheckResult],
    why: anyhow::Error,
) -> anyhow::Error {
    let owner = owner(pg);
    let kept = match store::spool::append(&pg.spool, &owner, started, forced, host, results) {
        Ok(kept) => kept,
        Err(e) => return why.context(format!("{e:#}: this run's checks are lost")),
    };
    if kept {
        let failing = failing(results.iter()).len();
        notify::fallback::checks_spooled(results.len(), failing, &pg.spool);
    }
    anyhow!(match kept {
        true => format!(
            "{why:#}; this run's checks are kept in {} for the next run that reaches the database",
            pg.spool.display()
        ),
        false => format!(
            "{why:#}; the spool {} is full ({} MiB): this run's checks are lost",
            pg.spool.display(),
            store::spool::SPOOL_LIMIT >> 20
        ),
    })
}

/// Whose spooled checks these are: this probe's, for this database.
fn owner(pg: &crate::config::Postgres) -> store::spool::Owner<'_> {
    store::spool::Owner {
        probe: &pg.fleet.probe,
        database: &pg.url,
    }
}

/// Stores what runs kept while the database was out of reach; a spool that
/// cannot be stored stays for the next run, said on stderr.
pub(super) fn store_kept(db: &mut Store, pg: &crate::config::Postgres) {
    let spool = pg.spool.display();
    match db.store_spool(&pg.spool, &owner(pg)) {
        Ok(s) if s == store::spool::Stored::default() => {}
        Ok(s) => {
            let mut said = format!(
                "stored the checks of {} runs kept while the database was out of reach",
                s.runs
            );
            if s.unreadable > 0 {
                said.push_str(&format!(
                    "; {} lines of {spool} did not read and were dropped",
                    s.unreadable
                ));
            }
            if s.others > 0 {
                said.push_str(&format!(
                    "; {} runs of another probe or database were left in {spool}",
                    s.others
                ));
            }
            match s.unreadable + s.others {
                0 => log::info(&said),
                _ => log::warn(&said),
            }
        }
        Err(e) => log::warn(&format!("{e:#}; the next run tries again")),
    }
}
