//! Telling people, after a run's checks are stored: the watchdog's restarts
//! (`restart`), then one digest email of everything due (always with
//! `--force`, through `mail`), then the alert commands (`command`). Each
//! notification is marked delivered only once its channel accepted it;
//! anything else stays due for the next run, and the run exits 1. When the
//! run itself fails, `fallback` sends the short alert.

pub mod command;
pub mod fallback;
pub mod mail;
pub mod report;
pub mod restart;

use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use chrono::Utc;

use crate::config::{Config, Fault};
use crate::log;
use crate::render::digest::{self, Alert, Digest};
use crate::render::{Row, email};
use crate::store::{CommandDue, Due, RunId, Store};
use crate::watchdog::RestartAttempt;

/// What this run has to tell, read from the database.
pub struct Pending {
    forced: bool,
    /// Notifications not yet delivered by email.
    due: Vec<Due>,
    /// Restarts no email has told of yet.
    restarts: Vec<RestartAttempt>,
    /// `(service, note)`: still failing, restart budget spent.
    exhausted: Vec<(String, String)>,
    /// Alert-command deliveries still due.
    commands: Vec<CommandDue>,
}

impl Pending {
    /// An email is sent when forced, or when an alert or a restart awaits one.
    fn email_due(&self) -> bool {
        self.forced || !self.due.is_empty() || !self.restarts.is_empty()
    }

    /// Nothing to send at all: no email and no alert command.
    pub fn is_empty(&self) -> bool {
        !self.email_due() && self.commands.is_empty()
    }
}

/// Everything due, from the database.
pub fn pending(
    config: &Config,
    db: &Store,
    forced: bool,
    exhausted: Vec<(String, String)>,
) -> Result<Pending> {
    inject(config.fault)?;
    Ok(Pending {
        forced,
        due: db.due_notifications()?,
        restarts: db.unreported_restarts()?,
        exhausted,
        commands: db.due_command_deliveries()?,
    })
}

/// The digest email and the alert commands for everything pending; `rows`
/// is the status table as the database tells it.
/// `deadline`: when everything after probing must be over.
pub fn deliver(
    config: &Config,
    db: &mut Store,
    run: RunId,
    pending: &Pending,
    rows: &[Row],
    deadline: Instant,
) -> Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    let digest = gather(config, pending, rows);
    let mut failures = Vec::new();
    if pending.email_due()
        && let Err(e) = send_email(config, db, run, &digest, pending)
    {
        failures.push(format!("{e:#}"));
    }
    failures.extend(command::deliver(
        config,
        db,
        &pending.commands,
        &digest,
        deadline,
    )?);
    match failures.as_slice() {
        [] => Ok(()),
        _ => Err(anyhow!(failures.join("; "))),
    }
}

/// The digest's view model: one alert per service, the restarts, the table.
fn gather<'a>(config: &'a Config, pending: &Pending, rows: &[Row]) -> Digest<'a> {
    let alerts = pending
        .due
        .iter()
        .map(|d| Alert {
            service: d.service.clone(),
            kind: d.kind,
            at: d.created_at,
            detail: d.detail.clone(),
            outage: d.outage.clone(),
        })
        .collect();
    Digest {
        title: &config.title,
        host: &config.host,
        now: Utc::now(),
        database: config.database.shown(),
        forced: pending.forced,
        alerts: digest::collapse(alerts, rows),
        restarts: pending.restarts.clone(),
        exhausted: pending.exhausted.clone(),
        maybe_repeat: pending.due.iter().any(|d| d.interrupted),
        rows: rows.to_vec(),
    }
}

/// Sends the digest; marks what it carried as sent only if the transport accepted it.
fn send_email(
    config: &Config,
    db: &mut Store,
    run: RunId,
    digest: &Digest,
    pending: &Pending,
) -> Result<()> {
    let Some(email) = &config.email else {
        log::info("no [email] section: due notifications stay recorded, unsent");
        return Ok(());
    };
    let message = email::render(digest);
    let ids: Vec<i64> = pending.due.iter().map(|d| d.id).collect();
    let restart_ids: Vec<i64> = digest.restarts.iter().filter_map(|r| r.id).collect();
    // Known before the send and kept with what it carries: a reminder or
    // recovery later names it, so mail clients thread the outage.
    let message_id = mail::message_id(&config.host);
    // Not being able to note the send (a locked or full database) must not
    // hold the alert back: it goes out anyway, at least once.
    let marked = db.record_sending(&ids, &message_id);
    let sent = mail::send_with_id(email, &config.host, &message, &message_id);
    if config.fault == Some(Fault::AbortAfterSend) && sent.is_ok() {
        std::process::abort();
    }
    if let Err(e) = &sent
        && e.chain().any(|c| c.is::<mail::MaybeSent>())
    {
        // Left marked as being sent, as a run killed mid-send leaves it: the
        // next run retries and tells the reader it may be a repeat.
        return sent.context("delivering the report (it stays due; the next run retries)");
    }
    let error = sent.as_ref().err().map(|e| format!("{e:#}"));
    db.record_delivery(
        run,
        &ids,
        &restart_ids,
        pending.forced,
        Utc::now(),
        error.as_deref(),
    )?;
    sent.context("delivering the report (it stays due; the next run retries)")?;
    log::info(&format!("sent {:?}", message.subject));
    marked
}

/// Test-only faults (debug builds): prove that a late failure loses nothing.
fn inject(fault: Option<Fault>) -> Result<()> {
    match fault {
        Some(Fault::AfterStore) => bail!("injected fault after storing the checks"),
        Some(Fault::PanicAfterStore) => panic!("injected panic after storing the checks"),
        Some(Fault::PanicInProbes | Fault::AbortAfterSend) | None => Ok(()),
    }
}
