//! After a run's checks are stored: the watchdog's restarts, then one digest
//! email of everything due (always with `--force`), then the alert commands.
//! Each notification is marked delivered only once its channel accepted it;
//! anything else stays due for the next run, and the run exits 1.

use anyhow::{Context, Result, anyhow, bail};
use chrono::Utc;

use crate::alert::Decision;
use crate::config::{Config, Fault};
use crate::digest::{self, Alert, Digest};
use crate::store::{RunId, Store};
use crate::watchdog::{self, Verdict};
use crate::{alert_command, log, mail, report};

/// Runs the restarts that are due and stores every attempt.
pub fn restarts(config: &Config, db: &mut Store, run: RunId, decisions: &[Decision]) -> Result<()> {
    let now = Utc::now();
    let mut due = Vec::new();
    for (service, decision) in config.services.iter().zip(decisions) {
        let Some(r) = &service.restart else { continue };
        let recent = db.restarts_since(&service.name, watchdog::window_start(r, now))?;
        if watchdog::verdict(r, &decision.state, recent) == Verdict::Restart {
            due.push(service);
        }
    }
    for attempt in watchdog::restart_all(&due) {
        log::info(&format!(
            "restarted {}: {}",
            attempt.service, attempt.outcome
        ));
        db.record_restart(run, &attempt)?;
    }
    Ok(())
}

/// The digest email and the alert commands for everything due.
pub fn notifications(config: &Config, db: &mut Store, run: RunId, forced: bool) -> Result<()> {
    inject(config.fault)?;
    let due = db.due_notifications()?;
    let restarts = db.unreported_restarts()?;
    let commands_due = db.due_command_deliveries()?;
    let email_due = forced || !due.is_empty() || !restarts.is_empty();
    if !email_due && commands_due.is_empty() {
        return Ok(());
    }
    let states = db.alert_states()?;
    let rows = report::rows(&config.services, &db.summaries()?);
    let alerts = due
        .iter()
        .map(|d| Alert {
            service: d.service.clone(),
            kind: d.kind,
            at: d.created_at,
        })
        .collect();
    let now = Utc::now();
    let exhausted = config
        .services
        .iter()
        .filter_map(|s| {
            let r = s.restart.as_ref()?;
            let state = states.get(&s.name)?;
            let recent = db
                .restarts_since(&s.name, watchdog::window_start(r, now))
                .ok()?;
            (watchdog::verdict(r, state, recent) == Verdict::BudgetSpent)
                .then(|| (s.name.clone(), watchdog::budget_note(r)))
        })
        .collect();
    let digest = Digest {
        title: &config.title,
        host: &config.host,
        now,
        database: &config.database,
        forced,
        alerts: digest::collapse(alerts, &rows),
        restarts,
        exhausted,
        maybe_repeat: due.iter().any(|d| d.interrupted),
        rows,
    };
    let mut failures = Vec::new();
    if email_due && let Err(e) = email(config, db, run, &digest, &due, forced) {
        failures.push(format!("{e:#}"));
    }
    for d in &commands_due {
        let Some(command) = config.alert_commands.iter().find(|c| c.key() == d.command) else {
            // Removed from the config since: nothing left to run.
            continue;
        };
        let result = alert_command::run(command, &alert_command::env_for(d, &digest));
        db.record_command_delivery(
            d.notification_id,
            &d.command,
            Utc::now(),
            result.as_ref().err().map(String::as_str),
        )?;
        if let Err(why) = result {
            failures.push(format!("{why} (it stays due; the next run retries)"));
        }
    }
    match failures.as_slice() {
        [] => Ok(()),
        _ => Err(anyhow!(failures.join("; "))),
    }
}

/// Sends the digest; marks what it carried as sent only if the transport accepted it.
fn email(
    config: &Config,
    db: &mut Store,
    run: RunId,
    digest: &Digest,
    due: &[crate::store::Due],
    forced: bool,
) -> Result<()> {
    let Some(email) = &config.email else {
        log::info("no [email] section: due notifications stay recorded, unsent");
        return Ok(());
    };
    let message = digest::render(digest);
    let ids: Vec<i64> = due.iter().map(|d| d.id).collect();
    let restart_ids: Vec<i64> = digest.restarts.iter().filter_map(|r| r.id).collect();
    // Not being able to note the send (a locked or full database) must not
    // hold the alert back: it goes out anyway, at least once.
    let marked = db.record_sending(&ids);
    let sent = mail::send(email, &config.host, &message);
    if config.fault == Some(Fault::AbortAfterSend) && sent.is_ok() {
        std::process::abort();
    }
    let error = sent.as_ref().err().map(|e| format!("{e:#}"));
    db.record_delivery(
        run,
        &ids,
        &restart_ids,
        forced,
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
