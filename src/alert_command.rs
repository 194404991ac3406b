//! Alert commands: Minitor's way to reach anything (Slack, ntfy, a pager)
//! without a plugin each. Each `[[alert_command]]` runs once per due
//! notification of the kinds it asks for, after the email, with the facts in
//! environment variables and never through a shell string built from target
//! text. A failure stays due and is retried next run, like mail.

use std::time::Instant;

use crate::config::AlertCommand;
use crate::digest::{Digest, subject};
use crate::process;
use crate::store::CommandDue;
use crate::timefmt::iso;

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
