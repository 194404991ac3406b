//! The last line of defence: when a run fails or panics, one short plain-text
//! email ("upcheck failed on HOST: <error>") through the configured
//! transport, at most once per process, needing no database. Whatever
//! happens, the error also goes to stderr, which cron mails.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::Utc;

use super::{command, mail};
use crate::config::{AlertCommand, Config, Email};
use crate::log;
use crate::render::email;

struct Target {
    title: String,
    host: String,
    email: Option<Email>,
    commands: Vec<AlertCommand>,
}

static TARGET: OnceLock<Target> = OnceLock::new();
static ATTEMPTED: AtomicBool = AtomicBool::new(false);
static PANICKED: AtomicBool = AtomicBool::new(false);
static STORED: OnceLock<(usize, usize, Option<String>)> = OnceLock::new();
static MAIL: OnceLock<email::Mail> = OnceLock::new();

/// This run's checks reached the database (`probed` services, `failing` of
/// them failing; none when the network was down): the fallback can say so.
pub fn checks_stored(probed: usize, failing: usize) {
    let _ = STORED.set((probed, failing, None));
}

/// This run's checks could not reach the database and were kept in the
/// spool at `spool` for the next run that can.
pub fn checks_spooled(probed: usize, failing: usize, spool: &std::path::Path) {
    let _ = STORED.set((probed, failing, Some(spool.display().to_string())));
}

/// What became of this run's digest, for the fallback to say.
pub fn mail_done(mail: email::Mail) {
    let _ = MAIL.set(mail);
}

/// Arms the fallback for this run: remembers where mail goes and installs a
/// panic hook that sends the alert (after the default hook has printed the panic).
pub fn arm(config: &Config) {
    let _ = TARGET.set(Target {
        title: config.title.clone(),
        host: config.host.clone(),
        email: config.email.clone(),
        commands: config
            .alert_commands
            .iter()
            .filter(|c| c.on_fallback)
            .cloned()
            .collect(),
    });
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default_hook(info);
        PANICKED.store(true, Ordering::SeqCst);
        send(&log::describe_panic(info));
    }));
}

/// Whether any thread panicked during this run.
pub fn panicked() -> bool {
    PANICKED.load(Ordering::SeqCst)
}

/// Sends the fallback alert, unless one was already attempted in this process.
pub fn send(error: &str) {
    if ATTEMPTED.swap(true, Ordering::SeqCst) {
        return;
    }
    let Some(target) = TARGET.get() else { return };
    let message = email::fallback(
        &target.title,
        &target.host,
        error,
        Utc::now(),
        STORED.get().map(|(probed, failing, spool)| email::Done {
            probed: *probed,
            failing: *failing,
            spool: spool.clone(),
            mail: MAIL.get().copied(),
        }),
    );
    if let Some(email) = &target.email
        && let Err(e) = mail::send(email, &target.host, &message)
    {
        log::error(&format!(
            "the fallback alert was not delivered either: {e:#}"
        ));
    }
    let env = command::fallback_env(&target.host, &message.subject, error);
    for command in &target.commands {
        if let Err(why) = command::run(command, &env, std::time::Instant::now() + command.timeout) {
            log::error(&why);
        }
    }
}
