//! Alert commands: Minitor's way to reach anything (Slack, ntfy, a pager)
//! without a plugin each. Each `[[alert_command]]` runs once per due
//! notification of the kinds it asks for, after the email, with the facts in
//! environment variables and never through a shell string built from target
//! text. A failure stays due and is retried next run, like mail.

use std::time::Instant;

use anyhow::Result;
use chrono::Utc;

use crate::config::{AlertCommand, Config};
use crate::process;
use crate::render::digest::{Digest, subject};
use crate::store::{CommandDue, Store};
use crate::timefmt::iso;

/// Runs every due command delivery and records each attempt; returns why
/// the failed ones failed (they stay due).
pub fn deliver(
    config: &Config,
    db: &mut Store,
    due: &[CommandDue],
    digest: &Digest,
) -> Result<Vec<String>> {
    let mut failures = Vec::new();
    for d in due {
        let Some(command) = config.alert_commands.iter().find(|c| c.key() == d.command) else {
            // Removed from the config since: nothing left to run.
            continue;
        };
        let result = run(command, &env_for(d, digest));
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
    Ok(failures)
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
            last.and_then(|l| l.reason.clone()).unwrap_or_default(),
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

/// Runs one command; `Err` says why it failed, in one line.
pub fn run(command: &AlertCommand, env: &[(&'static str, String)]) -> Result<(), String> {
    let done = process::run(
        &command.argv,
        Some(&command.dir),
        env,
        Instant::now() + command.timeout,
    );
    if done.success() {
        return Ok(());
    }
    let mut why = format!(
        "alert command {} failed: {}",
        command.argv[0],
        done.describe()
    );
    if let Some(line) = done.last_line() {
        why.push_str(&format!(": {line}"));
    }
    Err(why)
}
