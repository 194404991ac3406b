//! A run as a table of contents: config → lock → probe → decide + store →
//! prune → restart → render + deliver → side outputs → heartbeat → finish,
//! each step one call into the module that owns it; this file orders them and
//! says what a failure (or a signal: what was probed is kept) means for the run.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use anyhow::{Result, anyhow};
use chrono::Utc;

use crate::alert::Decision;
use crate::check::CheckResult;
use crate::cli::RunArgs;
use crate::config::{Config, Database};
use crate::hold::{self, Hold};
use crate::render::Row;
use crate::render::email::Mail;
use crate::store::{self, RunId, Store};

mod fleet;
use crate::{
    alert, clock, heartbeat, lock, log, notify, probe, publish, render, signals, stdout, timefmt,
};

/// `upcheck run`: the steps, then the heartbeat and the run's row closed,
/// whatever the steps did.
pub fn run(config: &Config, args: &RunArgs) -> Result<()> {
    if args.dry_run {
        let results = probe::run_all(config, &Default::default());
        if let Some(stopped) = signals::stopped() {
            return Err(stopped.into());
        }
        return stdout::print(&render::status::dry_run_text(&config.title, &results));
    }
    let rid = log::run_id();
    let mut beats: Vec<heartbeat::Beat> = config
        .heartbeat
        .as_ref()
        .and_then(|h| heartbeat::start(h, &rid))
        .into_iter()
        .collect();
    let mut session = None;
    let outcome = stopped_or(steps(config, args, &mut session));
    // A run stopped on purpose is not news for the dead-man's switch.
    beats.extend(
        config
            .heartbeat
            .as_ref()
            .filter(|_| signals::stopped().is_none())
            .and_then(|h| {
                let error = outcome.as_ref().err().map(|e| format!("{e:#}"));
                let summary = heartbeat::summary(error.as_deref());
                heartbeat::end(h, &rid, i32::from(outcome.is_err()), &summary)
            }),
    );
    for error in beats.iter().filter_map(|b| b.error.as_deref()) {
        log::warn(error);
    }
    let finished = finish(config, session, &outcome, &beats);
    match (outcome, finished) {
        // The run's own failure is the one to report (and send in the
        // fallback); closing its row failing after it is said on stderr.
        (Err(e), Err(f)) => {
            log::error(&format!("closing the run's row failed too: {f:#}"));
            Err(e)
        }
        (outcome, finished) => outcome.and(finished),
    }
}

/// A signal that arrived at any step stops the run: said as `Stopped` (exit
/// 128 + the signal, nobody paged), with whatever else went wrong after it.
fn stopped_or(outcome: Result<()>) -> Result<()> {
    let Some(stopped) = signals::stopped() else {
        return outcome;
    };
    match outcome {
        Err(e) if e.downcast_ref::<signals::Stopped>().is_some() => Err(e),
        Err(e) => Err(e.context(stopped)),
        Ok(()) => Err(stopped.into()),
    }
}

/// The run itself; `session` holds the lock and the database once they exist,
/// so `finish` can close the run's row whatever happened.
fn steps(config: &Config, args: &RunArgs, session: &mut Option<Session>) -> Result<()> {
    let begun = Instant::now();
    let (opened, set_aside) = match Session::open(config, args.force)? {
        Opened::Ready(session, set_aside) => (session, set_aside),
        Opened::Unreachable(lock, why) => {
            let outcome = fleet::probe_and_keep(config, args.force, why);
            drop(lock);
            return outcome;
        }
    };
    let Session { db, run, .. } = session.insert(opened);
    let outcome = match config
        .connectivity
        .as_ref()
        .and_then(probe::guard::unreachable)
    {
        Some(why) => network_down(config, db, *run, args.force, &why, begun),
        None => probe_and_tell(config, db, *run, args.force, begun),
    };
    // The run went on with a new database; failing it makes sure a person
    // hears (exit 1, the fallback email) that the old one needs looking at.
    match (set_aside, outcome) {
        (Some(news), Ok(())) => Err(anyhow!(news)),
        (Some(news), Err(e)) => Err(e.context(news)),
        (None, outcome) => outcome,
    }
}

/// Probing, deciding and storing; then the restarts, the email and the outputs.
fn probe_and_tell(
    config: &Config,
    db: &mut Store,
    run: RunId,
    forced: bool,
    begun: Instant,
) -> Result<()> {
    // Only an ordering hint (slow services first): never a reason to fail.
    let last_ms = db.last_response_ms().unwrap_or_else(|e| {
        log::warn(&format!("{e:#}; probing in config order"));
        HashMap::new()
    });
    let results = probe::run_all(config, &last_ms);
    heartbeat::probed(&results);
    // Everything from here on ends within run_timeout more, however much is due.
    let deadline = Instant::now() + config.run_timeout;
    let decided = match config.database.fleet() {
        None => Some(decide_and_store(config, db, run, &results, deadline)?),
        Some(fleet) => fleet::store_and_decide_as_fleet(config, db, run, &results, fleet, forced)?,
    };
    let Some((decisions, holds)) = decided else {
        log::info(fleet::FLEET_BUSY);
        return Ok(());
    };
    if let Some(stopped) = signals::stopped() {
        // What was probed is stored; nothing more is started.
        return Err(stopped.into());
    }
    // Everything after this point may fail without losing the checks above.
    // A prune that fails (a lock taken just now) waits for the next run; the
    // alerts do not wait for it.
    if let Err(e) = prune(config, db, run) {
        log::warn(&format!("{e:#}; the next run prunes"));
    }
    log_probed(&results, begun);
    restart_deliver_publish(
        config,
        db,
        Step {
            run,
            forced,
            decisions: &decisions,
            holds: &holds,
            begun,
            deadline,
            network: None,
        },
    )
}

/// Decisions and holds, the same for every output of the run.
type Decided = (Vec<Decision>, HashMap<String, Hold>);

/// One host: this run's results decide, and are stored with the decisions
/// in one transaction.
fn decide_and_store(
    config: &Config,
    db: &mut Store,
    run: RunId,
    results: &[CheckResult],
    deadline: Instant,
) -> Result<Decided> {
    let failing = failing(results.iter());
    let holds = holds_at(config, db, Utc::now(), &failing)?;
    let held = holds.keys().map(String::as_str).collect();
    let states = db.alert_states()?;
    let decisions = alert::decide(policies(config, results), &states, results, &held);
    db.record_run_until(run, results, &decisions, &config.alert_commands, deadline)?;
    notify::fallback::checks_stored(results.len(), failing.len());
    Ok((decisions, holds))
}

/// The policies of the services probed (all, or those a signal left), in
/// the order of `results`.
fn policies<'a>(
    config: &'a Config,
    results: &[CheckResult],
) -> impl Iterator<Item = (&'a str, &'a crate::alert::AlertPolicy)> {
    let probed: HashSet<String> = results.iter().map(|r| r.service.clone()).collect();
    config
        .services
        .iter()
        .filter(move |s| probed.contains(&s.name))
        .map(|s| (s.name.as_str(), &s.policy))
}

fn failing<'a>(results: impl Iterator<Item = &'a CheckResult>) -> HashSet<&'a str> {
    results
        .filter(|r| r.status.is_failure())
        .map(|r| r.service.as_str())
        .collect()
}

/// The connectivity guard reached none of its targets: this host's own
/// network is down, so nothing is probed or stored for the services (their
/// streaks stay as they were) and nothing is restarted. The outage's one
/// `network` notice, and anything else still due, goes out if mail gets
/// through; the outputs say why their data is stale.
fn network_down(
    config: &Config,
    db: &mut Store,
    run: RunId,
    forced: bool,
    why: &str,
    begun: Instant,
) -> Result<()> {
    log::info(&format!("the connectivity guard {why}: nothing probed"));
    // In a fleet, what is due is recorded and delivered by one run at a time.
    if config.database.fleet().is_some() && !db.lock_fleet(config.lock_timeout)? {
        log::info(fleet::FLEET_BUSY);
        return Ok(());
    }
    let now = Utc::now();
    db.record_network_down(run, why, now, &config.alert_commands)?;
    notify::fallback::checks_stored(0, 0);
    if let Some(stopped) = signals::stopped() {
        return Err(stopped.into());
    }
    // Silences and windows still show in the outputs; with nothing probed,
    // no dependency is known to fail.
    let holds = holds_at(config, db, now, &HashSet::new())?;
    restart_deliver_publish(
        config,
        db,
        Step {
            run,
            forced,
            decisions: &[],
            holds: &holds,
            begun,
            deadline: Instant::now() + config.run_timeout,
            network: Some(why),
        },
    )
}

/// The holds at `now`: the stored silences, the config's windows, and the
/// dependencies of `failing`.
fn holds_at(
    config: &Config,
    db: &Store,
    now: chrono::DateTime<Utc>,
    failing: &HashSet<&str>,
) -> Result<HashMap<String, Hold>> {
    let silences = db.silences_after(now)?;
    Ok(hold::holds(
        &config.services,
        &silences,
        &config.maintenance,
        now,
        failing,
    ))
}

/// Deletes raw checks past the retention, unless this run's clock disagrees
/// with the previous run's start: then nothing, and the reason on stderr.
fn prune(config: &Config, db: &mut Store, run: RunId) -> Result<()> {
    let now = Utc::now();
    match clock::distrust(now, &db.previous_run_starts(run)?) {
        Some(why) => log::warn(&why),
        None => {
            let cutoff = now - chrono::TimeDelta::from_std(config.retention)?;
            // Twice what a run adds: a backlog drains even at 20,000 services.
            let batch = store::PRUNE_BATCH.max(2 * config.services.len());
            db.prune(cutoff, batch)?;
        }
    }
    Ok(())
}

/// "probed 14 services in 1.2s, 2 failing", at -v.
fn log_probed(results: &[CheckResult], begun: Instant) {
    log::info(&format!(
        "probed {} services in {}, {} failing",
        results.len(),
        timefmt::human(begun.elapsed()),
        results.iter().filter(|r| r.status.is_failure()).count()
    ));
}

/// After the checks are stored: the restarts due, then what is pending
/// delivered, then the outputs written, each attempted whatever the one
/// before it did; the run fails if any failed, and says why for each.
fn restart_deliver_publish(config: &Config, db: &mut Store, step: Step<'_>) -> Result<()> {
    let Step {
        run,
        forced,
        decisions,
        holds,
        begun,
        deadline,
        network,
    } = step;
    let pending = notify::restart::run_due(config, db, run, decisions, deadline)
        .and_then(|exhausted| notify::pending(config, db, forced, exhausted));
    let needed = publish::wanted(config) || pending.as_ref().is_ok_and(|p| !p.is_empty());
    // Read once, for the email and the outputs alike; each step that needs
    // them fails on its own if they could not be read.
    let rows = status_rows(config, db, needed, holds);
    let delivered = pending.and_then(|p| match &rows {
        _ if p.is_empty() => Ok(Mail::NothingDue),
        Ok(rows) => notify::deliver(config, db, run, &p, rows, deadline).map(|()| Mail::Sent),
        Err(e) => Err(anyhow!("{e:#}")),
    });
    notify::fallback::mail_done(*delivered.as_ref().unwrap_or(&Mail::Failed));
    let reported = notify::report::deliver(config, db, run);
    let delivered = both(delivered.map(|_| ()), reported);
    // The status page and metrics tell the stored story even when mail failed.
    let succeeded = delivered.is_ok();
    let health = publish::Health {
        begun,
        succeeded,
        network,
    };
    let published = rows.and_then(|rows| publish::outputs(config, db, run, &rows, health));
    both(delivered, published)
}

/// What the steps after storing share about this run.
struct Step<'a> {
    run: RunId,
    forced: bool,
    decisions: &'a [Decision],
    holds: &'a HashMap<String, Hold>,
    begun: Instant,
    deadline: Instant,
    /// The connectivity guard's finding, when it stopped the run.
    network: Option<&'a str>,
}

/// The status table as the database now tells it, with this run's holds,
/// read once per run and only when an email or an output will show it
/// (empty otherwise).
fn status_rows(
    config: &Config,
    db: &Store,
    needed: bool,
    holds: &HashMap<String, Hold>,
) -> Result<Vec<Row>> {
    if !needed {
        return Ok(Vec::new());
    }
    let rows = render::rows(&config.services, &db.summaries()?, holds);
    Ok(render::with_probes(rows, db.probe_views()?))
}

/// Both steps ran; the run failed if either did, and says why for both.
fn both(first: Result<()>, second: Result<()>) -> Result<()> {
    match (first, second) {
        (Err(a), Err(b)) => Err(a.context(format!("{b:#}"))),
        (a, b) => a.and(b),
    }
}

/// A run's lock and database, from when both are held.
struct Session {
    // Dropped in this order: the database is closed before the lock goes.
    db: Store,
    run: RunId,
    _lock: lock::RunLock,
}

/// What opening a run's session came to.
enum Opened {
    /// The session, and news of a database file set aside.
    Ready(Session, Option<String>),
    /// A fleet's database could not be reached: the lock, and why.
    Unreachable(lock::RunLock, anyhow::Error),
}

impl Session {
    /// Takes the lock, opens the database (setting an unreadable one aside:
    /// the news comes back to fail the run at its end; storing the checks a
    /// fleet's earlier runs kept while it was out of reach) and records the run.
    fn open(config: &Config, forced: bool) -> Result<Opened> {
        let lock = lock::acquire(&config.lock_path(), config.lock_timeout)?;
        let (mut db, set_aside) = match Store::open_or_set_aside(&config.database) {
            Err(e) if config.database.fleet().is_some() => {
                return Ok(Opened::Unreachable(lock, e));
            }
            opened => opened?,
        };
        if let Database::Postgres(pg) = &config.database {
            fleet::store_kept(&mut db, pg);
        }
        let set_aside = set_aside.map(|aside| {
            let news = format!(
                "the database {} could not be read (not an SQLite database, or corrupt); it was moved to {} and a new one started",
                config.database.shown(),
                aside.display()
            );
            // Said now, whatever happens to the rest of the run.
            log::error(&news);
            news
        });
        let run = match db.begin_run(Utc::now(), forced, &config.host, &log::run_id()) {
            // A fleet's database lost just after connecting: probe and keep.
            Err(e) if config.database.fleet().is_some() => {
                return Ok(Opened::Unreachable(lock, e));
            }
            run => run?,
        };
        let session = Session {
            _lock: lock,
            db,
            run,
        };
        Ok(Opened::Ready(session, set_aside))
    }
}

/// Records the heartbeat pings and closes the run's row. A failed ping is a
/// warning, never a failed run. A run that never got a row (it could not
/// take the lock) still records its pings, with no run id, if the database
/// opens.
fn finish(
    config: &Config,
    session: Option<Session>,
    outcome: &Result<()>,
    beats: &[heartbeat::Beat],
) -> Result<()> {
    let Some(Session { mut db, run, .. }) = session else {
        // Never a database made just for this: a first run that found
        // the lock taken has nothing to add its pings to.
        if !beats.is_empty() && config.database.exists() {
            let recorded = Store::connect(&config.database)
                .and_then(|mut db| beats.iter().try_for_each(|b| db.record_heartbeat(None, b)));
            if let Err(e) = recorded {
                log::warn(&format!("{e:#}: the heartbeat was not recorded"));
            }
        }
        return Ok(());
    };
    for beat in beats {
        db.record_heartbeat(Some(run), beat)?;
    }
    let error = outcome.as_ref().err().map(|e| format!("{e:#}"));
    db.finish_run(run, Utc::now(), error.as_deref())?;
    if let Some(note) = db.close()? {
        log::info(note);
    }
    Ok(())
}
