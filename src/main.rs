//! upcheck: probe every configured service, append the results to SQLite,
//! and report what is due. `main` maps the outcome to the exit codes of
//! PRODUCT.md; `run` names the steps of a run, one module each.

mod alert;
mod check;
mod cli;
mod config;
mod digest;
mod fallback;
mod lock;
mod log;
mod mail;
mod probe;
mod report;
mod store;
#[path = "../templates/mod.rs"]
mod templates;
mod timefmt;

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use chrono::Utc;
use clap::Parser;

use crate::cli::{Cli, Command, RunArgs};
use crate::config::{Config, ConfigError, Fault, Target};
use crate::digest::{Alert, Digest};
use crate::store::Store;

/// The run completed; services may be down (that is what the email is for).
const EXIT_OK: u8 = 0;
/// The run itself failed: mail not delivered, database unwritable, panic.
const EXIT_FAILED: u8 = 1;
/// Usage or configuration error (clap uses 2 for usage errors too).
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
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
    fallback::arm(&config);
    match command {
        Command::Run(args) => run(&config, &args),
        Command::Status { json } => status(&config, json),
        Command::CheckConfig => {
            print!("{}", describe_config(&config)?);
            Ok(())
        }
    }
}

/// config → lock → probe → store → decide → render → deliver → finish.
fn run(config: &Config, args: &RunArgs) -> Result<()> {
    let begun = Instant::now();
    if args.dry_run {
        let results = probe::run_all(config);
        print!("{}", report::dry_run_text(&config.title, &results));
        return Ok(());
    }
    let _lock = lock::acquire(&config.lock_path(), config.lock_timeout)?;
    let mut db = Store::open(&config.database)?;
    let run = db.begin_run(Utc::now(), args.force, &config.host)?;
    let results = probe::run_all(config);
    let decisions = alert::decide(&config.services, &db.alert_states()?, &results);
    db.record_run(run, &results, &decisions)?;
    // Everything after this point may fail without losing the checks above.
    log::info(&format!(
        "probed {} services in {}, {} failing",
        results.len(),
        timefmt::human(begun.elapsed()),
        results.iter().filter(|r| r.status.is_failure()).count()
    ));
    let outcome = deliver(config, &mut db, run, args.force);
    let error = outcome.as_ref().err().map(|e| format!("{e:#}"));
    db.finish_run(run, Utc::now(), error.as_deref())?;
    outcome
}

/// Sends one digest of everything due (and always with `--force`); marks it
/// sent only once the transport accepted it, else it stays due for the next run.
fn deliver(config: &Config, db: &mut Store, run: store::RunId, forced: bool) -> Result<()> {
    inject(config.fault)?;
    let due = db.due_notifications()?;
    if due.is_empty() && !forced {
        return Ok(());
    }
    let Some(email) = &config.email else {
        log::info("no [email] section: the due notifications stay recorded, unsent");
        return Ok(());
    };
    let rows = report::rows(&config.services, &db.summaries()?);
    let alerts = due
        .iter()
        .map(|d| Alert {
            service: d.service.clone(),
            kind: d.kind,
            at: d.created_at,
        })
        .collect();
    let digest = Digest {
        title: &config.title,
        host: &config.host,
        now: Utc::now(),
        database: &config.database,
        forced,
        alerts: digest::collapse(alerts, &rows),
        rows,
    };
    let message = digest::render(&digest);
    let ids: Vec<i64> = due.iter().map(|d| d.id).collect();
    let sent = mail::send(email, &config.host, &message);
    let error = sent.as_ref().err().map(|e| format!("{e:#}"));
    db.record_delivery(run, &ids, forced, Utc::now(), error.as_deref())?;
    sent.context("delivering the report (it stays due; the next run retries)")?;
    log::info(&format!("sent {:?}", message.subject));
    Ok(())
}

/// Test-only faults (debug builds): prove that a late failure loses nothing.
fn inject(fault: Option<Fault>) -> Result<()> {
    match fault {
        Some(Fault::AfterStore) => bail!("injected fault after storing the checks"),
        Some(Fault::PanicAfterStore) => panic!("injected panic after storing the checks"),
        Some(Fault::PanicInProbes) | None => Ok(()),
    }
}

/// `status`: from the database only, no probing.
fn status(config: &Config, json: bool) -> Result<()> {
    let now = Utc::now();
    let (summaries, runs) = if config.database.exists() {
        let db = Store::open(&config.database)?;
        (db.summaries()?, db.recent_run_starts()?)
    } else {
        Default::default()
    };
    let rows = report::rows(&config.services, &summaries);
    if json {
        let doc = report::status_json(&config.title, &rows, &runs, now);
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print!("{}", report::status_text(&config.title, &rows, now));
    }
    Ok(())
}

/// `check-config`: what would be checked, and where mail goes.
fn describe_config(config: &Config) -> Result<String> {
    use crate::timefmt::format_duration as d;
    let mut out = format!(
        "config    {}\ntitle     {}\ndatabase  {} (raw checks kept {})\nmail      {}\n\n{} services, up to {} probes at once, run_timeout {}:\n",
        config.path.display(),
        config.title,
        config.database.display(),
        d(config.retention),
        describe_mail(config)?,
        config.services.len(),
        config.parallel,
        d(config.run_timeout),
    );
    let width = config
        .services
        .iter()
        .map(|s| s.name.chars().count())
        .max()
        .unwrap_or(0);
    for s in &config.services {
        let what = match &s.target {
            Target::Http(h) => {
                let mut w = format!("{} {}", h.method, h.url);
                if !h.expect_status.is_empty() {
                    let codes: Vec<String> = h.expect_status.iter().map(u16::to_string).collect();
                    w.push_str(&format!(", expect {}", codes.join("/")));
                }
                if let Some(b) = &h.body_contains {
                    w.push_str(&format!(", body contains {b:?}"));
                }
                if let Some(slow) = h.slow_after {
                    w.push_str(&format!(", slow after {}", d(slow)));
                }
                w
            }
            Target::Tcp(addr) => format!("tcp {addr}"),
            Target::Command(c) => format!("command {:?}", c.argv),
        };
        out.push_str(&format!(
            "  {:width$}  {what}  (timeout {}, alert after {}, remind {})\n",
            s.name,
            d(s.timeout),
            s.policy.alert_after,
            s.policy.remind,
        ));
    }
    Ok(out)
}

/// Where mail goes; a password that cannot be read is a config error here,
/// so `check-config` catches it before the first alert does.
fn describe_mail(config: &Config) -> Result<String> {
    use crate::config::Transport;
    let Some(email) = &config.email else {
        return Ok(
            "not configured (no [email] section): results are stored, nothing is sent".into(),
        );
    };
    mail::check_addresses(email).map_err(|e| ConfigError {
        file: config.path.clone(),
        line: None,
        key: None,
        message: format!("{e:#}"),
    })?;
    let route = format!("from {} to {}", email.from, email.to.join(", "));
    Ok(match &email.transport {
        Transport::Smtp(s) => {
            let auth = match (&s.user, &s.password) {
                (Some(user), Some(password)) => {
                    password.read().map_err(|e| ConfigError {
                        file: config.path.clone(),
                        line: None,
                        key: None,
                        message: format!("{e:#}"),
                    })?;
                    format!(", as {user}")
                }
                (Some(user), None) => format!(", as {user} without a password"),
                _ => String::new(),
            };
            format!("{route} via SMTP {}:{} ({:?}{auth})", s.host, s.port, s.tls)
        }
        Transport::Sendmail => format!("{route} via sendmail"),
        Transport::File(dir) => format!("{route} as .eml files in {}", dir.display()),
    })
}
