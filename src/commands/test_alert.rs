//! `upcheck test-alert`: proves the alert path before an outage does. A
//! test email through the configured transport, and every alert command run
//! at once with `UPCHECK_KIND=test`; one line per channel on stdout, exit 1
//! if any failed. Probes nothing and stores nothing.

use std::path::Path;
use std::thread;
use std::time::Instant;

use anyhow::{Result, anyhow, bail};
use chrono::Utc;

use crate::config::{AlertCommand, Config};
use crate::notify::{command, mail};
use crate::render::email;
use crate::stdout;

pub fn run(config: &Config) -> Result<()> {
    if config.email.is_none() && config.alert_commands.is_empty() {
        bail!("nothing to test: there is no [email] section and no [[alert_command]]");
    }
    let message = email::test(&config.title, &config.host, Utc::now());
    let mut lines: Vec<(String, Result<String, String>)> = Vec::new();
    if let Some(e) = &config.email {
        let sent = mail::send(e, &config.host, &message)
            .map(|()| "accepted".to_string())
            .map_err(|e| format!("{e:#}"));
        lines.push((format!("email to {}", e.to.join(", ")), sent));
    }
    let env = env(&config.host, &message.subject);
    let ran: Vec<Result<String, String>> = thread::scope(|scope| {
        let handles: Vec<_> = config
            .alert_commands
            .iter()
            .map(|c| scope.spawn(|| command::outcome(c, &env, Instant::now() + c.timeout)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("panicked".into())))
            .collect()
    });
    for (c, result) in config.alert_commands.iter().zip(ran) {
        lines.push((format!("command {}", name(c)), result));
    }
    let failed = lines.iter().filter(|(_, r)| r.is_err()).count();
    let text: String = lines
        .iter()
        .map(|(channel, r)| match r {
            Ok(how) => format!("{channel}: {how}\n"),
            Err(why) => format!("{channel}: failed: {why}\n"),
        })
        .collect();
    stdout::print(&text)?;
    match failed {
        0 => Ok(()),
        n => Err(anyhow!("{n} of {} channels failed", lines.len())),
    }
}

/// What an alert command is told: the test, and where it comes from.
fn env(host: &str, subject: &str) -> Vec<(&'static str, String)> {
    vec![
        ("UPCHECK_SERVICE", String::new()),
        ("UPCHECK_KIND", "test".to_string()),
        ("UPCHECK_STATUS", String::new()),
        (
            "UPCHECK_REASON",
            "a test from upcheck test-alert".to_string(),
        ),
        ("UPCHECK_SINCE", String::new()),
        ("UPCHECK_SUBJECT", subject.to_string()),
        ("UPCHECK_HOST", host.to_string()),
    ]
}

/// "notify-slack" for `/usr/local/bin/notify-slack`.
fn name(c: &AlertCommand) -> String {
    let program = &c.argv[0];
    Path::new(program)
        .file_name()
        .map_or_else(|| program.clone(), |n| n.to_string_lossy().into_owned())
}
