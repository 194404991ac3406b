//! upcheck: probe every configured service, append the results to SQLite,
//! and report what is due. `main` maps the outcome to the exit codes of
//! PRODUCT.md; `run` names the steps of a run, one module each.

mod alert;
mod alert_command;
mod check;
mod cli;
mod config;
mod deliver;
mod digest;
mod fallback;
mod heartbeat;
mod inspect;
mod lock;
mod log;
mod mail;
mod metrics;
mod probe;
mod process;
mod publish;
mod report;
mod store;
#[path = "../templates/mod.rs"]
mod templates;
mod timefmt;
mod watchdog;

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use chrono::Utc;
use clap::Parser;

use crate::cli::{Cli, Command, RunArgs};
use crate::config::{Config, ConfigError};
use crate::store::Store;

/// The run completed; services may be down (that is what the email is for).
const EXIT_OK: u8 = 0;
/// The run itself failed: mail not delivered, database unwritable, panic.
const EXIT_FAILED: u8 = 1;
/// Usage or configuration error (clap uses 2 for usage errors too).
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    // Probe threads mostly wait on sockets: one malloc arena, not one per
    // thread, keeps a run's memory down at no measurable cost in time.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt is called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
    let cli = Cli::parse();
    log::init(cli.quiet, cli.verbose, cli.log_format);
    // A panic is a failed run (exit 1), not Rust's 101; the default hook has
    // already printed it to stderr, which cron mails.
    let outcome = std::panic::catch_unwind(|| dispatch(cli));
    match outcome {
        // The panic hook has printed it and sent the fallback alert.
        Err(_panic) => ExitCode::from(EXIT_FAILED),
        Ok(Ok(())) if fallback::panicked() => ExitCode::from(EXIT_FAILED),
        Ok(Ok(())) => ExitCode::from(EXIT_OK),
        Ok(Err(err)) if err.is::<ConfigError>() => {
            log::error(&format!("{err:#}"));
            ExitCode::from(EXIT_CONFIG)
        }
        Ok(Err(err)) => {
            log::error(&format!("{err:#}"));
            fallback::send(&format!("{err:#}"));
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// The one place a command becomes work.
fn dispatch(cli: Cli) -> Result<()> {
    let config_path = cli.config.clone();
    let command = cli.into_command().unwrap_or_else(|e| e.exit());
    let config = Config::discover(config_path.as_deref())?;
    for warning in &config.warnings {
        log::warn(warning);
    }
    fallback::arm(&config);
    match command {
        Command::Run(args) => run(&config, &args),
        Command::Status { json } => inspect::status(&config, json),
        Command::CheckConfig => {
            print!("{}", inspect::describe_config(&config)?);
            Ok(())
        }
        Command::Backup { file } => inspect::backup(&config, &file),
    }
}

/// config → lock → probe → decide → store → restart → render + deliver → heartbeat.
fn run(config: &Config, args: &RunArgs) -> Result<()> {
    if args.dry_run {
        print!(
            "{}",
            report::dry_run_text(&config.title, &probe::run_all(config, &Default::default()))
        );
        return Ok(());
    }
    let mut session = None;
    let outcome = steps(config, args, &mut session);
    let beat = config
        .heartbeat
        .as_ref()
        .and_then(|h| heartbeat::ping(h, outcome.is_ok()));
    finish(session, &outcome, beat)?;
    outcome
}

/// The run itself; `session` holds the lock and the database once they exist,
/// so `finish` can close the run's row whatever happened.
fn steps(config: &Config, args: &RunArgs, session: &mut Option<Session>) -> Result<()> {
    let begun = Instant::now();
    let lock = lock::acquire(&config.lock_path(), config.lock_timeout)?;
    let (mut db, set_aside) = Store::open_or_set_aside(&config.database)?;
    let set_aside = set_aside.map(|aside| {
        let news = format!(
            "the database {} could not be read (not an SQLite database, or corrupt); it was moved to {} and a new one started",
            config.database.display(),
            aside.display()
        );
        // Said now, whatever happens to the rest of the run.
        log::error(&news);
        news
    });
    let run = db.begin_run(Utc::now(), args.force, &config.host)?;
    let Session { db, run, .. } = session.insert(Session {
        _lock: lock,
        db,
        run,
    });
    let results = probe::run_all(config, &db.last_response_ms()?);
    let policies = config.services.iter().map(|s| (s.name.as_str(), &s.policy));
    let decisions = alert::decide(policies, &db.alert_states()?, &results);
    db.record_run(*run, &results, &decisions, &config.alert_commands)?;
    // Everything after this point may fail without losing the checks above.
    db.prune(Utc::now() - config.retention, store::PRUNE_BATCH)?;
    log::info(&format!(
        "probed {} services in {}, {} failing",
        results.len(),
        timefmt::human(begun.elapsed()),
        results.iter().filter(|r| r.status.is_failure()).count()
    ));
    let delivered = deliver::restarts(config, db, *run, &decisions)
        .and_then(|()| deliver::notifications(config, db, *run, args.force));
    // The status page and metrics tell the stored story even when mail failed.
    let published = publish::outputs(config, db, begun);
    let outcome = match (delivered, published) {
        (Err(d), Err(p)) => Err(d.context(format!("{p:#}"))),
        (d, p) => d.and(p),
    };
    // The run went on with a new database; failing it makes sure a person
    // hears (exit 1, the fallback email) that the old one needs looking at.
    match (set_aside, outcome) {
        (Some(news), Ok(())) => Err(anyhow::anyhow!(news)),
        (Some(news), Err(e)) => Err(e.context(news)),
        (None, outcome) => outcome,
    }
}

/// A run's lock and database, from when both are held.
struct Session {
    // Dropped in this order: the database is closed before the lock goes.
    db: Store,
    run: store::RunId,
    _lock: lock::RunLock,
}

/// Records the heartbeat and closes the run's row. A failed heartbeat is a
/// warning, never a failed run.
fn finish(
    session: Option<Session>,
    outcome: &Result<()>,
    beat: Option<heartbeat::Beat>,
) -> Result<()> {
    if let Some(error) = beat.as_ref().and_then(|b| b.error.as_deref()) {
        log::warn(error);
    }
    let Some(Session { mut db, run, .. }) = session else {
        return Ok(());
    };
    if let Some(beat) = &beat {
        db.record_heartbeat(run, beat)?;
    }
    let error = outcome.as_ref().err().map(|e| format!("{e:#}"));
    db.finish_run(run, Utc::now(), error.as_deref())?;
    if !db.close()? {
        log::info(
            "the WAL was not emptied: another program has the database open; the next run tries again",
        );
    }
    Ok(())
}
