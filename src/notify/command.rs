//! Alert commands: Minitor's way to reach anything (Slack, ntfy, a pager)
//! without a plugin each. Each `[[alert_command]]` runs once per service with
//! news of the kinds it asks for (folded as the email folds it), after the
//! email, at once (16 at a time) and within the run's bound, with the facts in
//! environment variables and never through a shell string built from target
//! text. A failure stays due and is retried next run, like mail.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Instant;

use anyhow::Result;
use chrono::Utc;

use crate::alert::Notice;
use crate::config::{AlertCommand, Config};
use crate::process;
use crate::render::Row;
use crate::render::digest::{self, Alert, Digest, subject};
use crate::store::{CommandDue, Store};
use crate::timefmt::iso;

/// At most this many alert commands run at once: enough that a few hanging
/// ones cannot hold up the rest, few enough not to flood the machine.
const AT_ONCE: usize = 16;

/// One call of one command about one service: the latest news, standing for
/// every due notification it folds (a DOWN and its reminders are one call).
struct Call<'a> {
    command: &'a AlertCommand,
    /// The news the command is told (`kind` folded), for its environment.
    news: CommandDue,
    /// Every due delivery this call settles: notification ids.
    settles: Vec<i64>,
}

/// Runs what is due for the alert commands and records each attempt;
/// returns why the failed ones failed (they stay due). Deliveries owed by a
/// command no longer in the config go to those configured for their kind;
/// what is due is folded per command and service, as the email folds it;
/// the calls run at once, and none starts or runs past `deadline` (what did
/// not get its turn stays due).
pub fn deliver(
    config: &Config,
    db: &mut Store,
    due: &[CommandDue],
    digest: &Digest,
    deadline: Instant,
) -> Result<Vec<String>> {
    let due = hand_over_orphans(config, db, due)?;
    let calls = fold(config, &due, &digest.rows);
    let results = run_all(&calls, digest, deadline);
    let mut failures = Vec::new();
    for (call, result) in calls.iter().zip(results) {
        let Some(result) = result else {
            failures.push(format!(
                "alert command {} for {} did not get its turn before the run's bound (it stays due)",
                call.command.argv[0], call.news.service
            ));
            continue;
        };
        for id in &call.settles {
            let key = call.command.key();
            db.record_command_delivery(
                *id,
                &key,
                Utc::now(),
                result.as_ref().err().map(String::as_str),
            )?;
        }
        if let Err(why) = result {
            failures.push(format!("{why} (it stays due; the next run retries)"));
        }
    }
    Ok(failures)
}

/// Hands each delivery owed by a command no longer configured to the
/// commands configured now for its kind, and reads what is due again. In a
/// fleet, a command this host lacks may be another host's: its deliveries
/// are left for that host, never handed over or dropped.
fn hand_over_orphans(
    config: &Config,
    db: &mut Store,
    due: &[CommandDue],
) -> Result<Vec<CommandDue>> {
    let configured = |key: &str| config.alert_commands.iter().any(|c| c.key() == key);
    if config.database.fleet().is_some() {
        return Ok(due
            .iter()
            .filter(|d| configured(&d.command))
            .cloned()
            .collect());
    }
    let orphans: Vec<&CommandDue> = due.iter().filter(|d| !configured(&d.command)).collect();
    if orphans.is_empty() {
        return Ok(due.to_vec());
    }
    for d in orphans {
        let heirs: Vec<String> = config
            .alert_commands
            .iter()
            .filter(|c| c.on.contains(&d.kind))
            .map(|c| c.key())
            .collect();
        db.hand_over(d.notification_id, &d.command, &heirs)?;
    }
    db.due_command_deliveries()
}

/// What is due, as calls: per command, the latest news per service
/// (`digest::collapse`, the email's own folding).
fn fold<'a>(config: &'a Config, due: &[CommandDue], rows: &[Row]) -> Vec<Call<'a>> {
    let mut calls = Vec::new();
    for command in &config.alert_commands {
        let key = command.key();
        let mine: Vec<&CommandDue> = due.iter().filter(|d| d.command == key).collect();
        let alerts = mine
            .iter()
            .map(|d| Alert {
                service: d.service.clone(),
                kind: d.kind,
                at: d.created_at,
                detail: d.detail.clone(),
                outage: None,
            })
            .collect();
        for news in digest::collapse(alerts, rows) {
            let settles: Vec<&&CommandDue> =
                mine.iter().filter(|d| d.service == news.service).collect();
            let Some(latest) = settles
                .iter()
                .find(|d| d.kind == news.kind && d.created_at == news.at)
            else {
                continue;
            };
            calls.push(Call {
                command,
                news: (**latest).clone(),
                settles: settles.iter().map(|d| d.notification_id).collect(),
            });
        }
    }
    calls
}

/// Runs the calls, `AT_ONCE` at a time; `None` for a call that did not get
/// its turn before `deadline`.
fn run_all(calls: &[Call], digest: &Digest, deadline: Instant) -> Vec<Option<Result<(), String>>> {
    let next = AtomicUsize::new(0);
    let results = Mutex::new((0..calls.len()).map(|_| None).collect::<Vec<_>>());
    thread::scope(|scope| {
        for _ in 0..calls.len().min(AT_ONCE) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= calls.len() || Instant::now() >= deadline {
                        return;
                    }
                    let call = &calls[i];
                    let result = run(call.command, &env_for(&call.news, digest), deadline);
                    results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(result);
                }
            });
        }
    });
    results.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// The environment a command gets for one notification. Pure.
pub fn env_for(due: &CommandDue, digest: &Digest) -> Vec<(&'static str, String)> {
    let row = digest.rows.iter().find(|r| r.name == due.service);
    let last = row.and_then(|r| r.last.as_ref());
    vec![
        ("UPCHECK_SERVICE", due.service.clone()),
        ("UPCHECK_KIND", due.kind.as_str().to_string()),
        (
            "UPCHECK_STATUS",
            row.map_or("unknown", |r| r.status.as_str()).to_string(),
        ),
        (
            "UPCHECK_REASON",
            match due.kind {
                Notice::Network => due.detail.clone().unwrap_or_default(),
                _ => last.and_then(|l| l.reason.clone()).unwrap_or_default(),
            },
        ),
        (
            "UPCHECK_SINCE",
            row.and_then(|r| r.since).map(iso).unwrap_or_default(),
        ),
        ("UPCHECK_SUBJECT", subject(digest)),
        ("UPCHECK_HOST", digest.host.to_string()),
    ]
}

/// The environment for the fallback alert: no service, the error as the reason.
pub fn fallback_env(host: &str, subject: &str, error: &str) -> Vec<(&'static str, String)> {
    vec![
        ("UPCHECK_SERVICE", String::new()),
        ("UPCHECK_KIND", "fallback".to_string()),
        ("UPCHECK_STATUS", String::new()),
        ("UPCHECK_REASON", error.to_string()),
        ("UPCHECK_SINCE", String::new()),
        ("UPCHECK_SUBJECT", subject.to_string()),
        ("UPCHECK_HOST", host.to_string()),
    ]
}

/// Runs one command, stopped at its timeout or `deadline`, whichever comes
/// first: `Err` says why it failed, in one line, naming the command.
pub fn run(
    command: &AlertCommand,
    env: &[(&'static str, String)],
    deadline: Instant,
) -> Result<(), String> {
    outcome(command, env, deadline)
        .map(drop)
        .map_err(|why| format!("alert command {} failed: {why}", command.argv[0]))
}

/// How one run of `command` ended: "exit 0", or `Err("exit 3: <its last
/// line>")`.
pub fn outcome(
    command: &AlertCommand,
    env: &[(&'static str, String)],
    deadline: Instant,
) -> Result<String, String> {
    let done = process::run(
        &command.argv,
        Some(&command.dir),
        env,
        (Instant::now() + command.timeout).min(deadline),
    );
    if done.success() {
        return Ok(done.describe());
    }
    let mut why = done.describe();
    if let Some(line) = done.last_line() {
        why.push_str(&format!(": {line}"));
    }
    Err(why)
}
