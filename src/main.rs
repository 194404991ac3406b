//! upcheck: probe every configured service, append the results to SQLite,
//! and report what is due. `main` maps the outcome to the exit codes of
//! PRODUCT.md; `dispatch` is the one place a command becomes work; a run's
//! steps are named in `run.rs`.

mod alert;
mod atomic_file;
mod check;
mod cli;
mod clock;
mod commands;
mod config;
mod heartbeat;
mod history;
mod hold;
mod lock;
mod log;
mod notify;
mod probe;
mod process;
mod publish;
mod quorum;
mod render;
/// The seeded generator the unit and integration tests share.
#[cfg(test)]
#[path = "../tests/it/support/rng.rs"]
mod rng;
mod run;
mod signals;
mod stdout;
mod store;
mod timefmt;
mod tls_trust;
mod watchdog;

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;

use crate::cli::{Cli, Command, UsageError};
use crate::config::{Config, ConfigError};
use crate::notify::fallback;
use crate::signals::Stopped;
use crate::stdout::StdoutClosed;

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
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let json = cli::wants_json(&args);
    let cli = Cli::try_parse_from(&args).unwrap_or_else(|e| log::usage_error(e, json));
    log::init(cli.quiet, cli.verbose, cli.log_format);
    log::panics_as_lines();
    // A panic is a failed run (exit 1), not Rust's 101; the default hook has
    // already printed it to stderr, which cron mails.
    let outcome = std::panic::catch_unwind(|| dispatch(cli));
    let code = exit_code(outcome);
    // Nothing upcheck started outlives it: a check abandoned at the run's
    // deadline, or cut short by a signal (after the fallback's commands ran).
    process::kill_all();
    code
}

/// What the outcome means for whoever started upcheck: said on stderr, the
/// fallback sent when a run failed, and the exit code.
fn exit_code(outcome: std::thread::Result<Result<()>>) -> ExitCode {
    match outcome {
        // The panic hook has printed it and sent the fallback alert.
        Err(_panic) => ExitCode::from(EXIT_FAILED),
        Ok(Ok(())) if fallback::panicked() => ExitCode::from(EXIT_FAILED),
        Ok(Ok(())) => ExitCode::from(EXIT_OK),
        // SIGTERM or SIGINT: said, recorded in the run's row, nobody paged.
        Ok(Err(err)) if stopped_by(&err).is_some() => {
            log::error(&format!("{err:#}"));
            ExitCode::from(stopped_by(&err).map_or(EXIT_FAILED, Stopped::exit_code))
        }
        // `upcheck status | head`: the reader had enough.
        Ok(Err(err)) if err.chain().any(|e| e.is::<StdoutClosed>()) => ExitCode::from(EXIT_OK),
        Ok(Err(err)) if err.is::<ConfigError>() || err.is::<UsageError>() => {
            log::error(&format!("{err:#}"));
            ExitCode::from(EXIT_CONFIG)
        }
        Ok(Err(err)) => {
            log::error(&format!("{err:#}"));
            // Sends only when armed: by a run, never by a command a person
            // typed and is watching.
            fallback::send(&format!("{err:#}"));
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// The signal that stopped the run, if that is what `err` says.
fn stopped_by(err: &anyhow::Error) -> Option<Stopped> {
    // Stopped may be the error itself, a context added to another, or a cause.
    err.downcast_ref::<Stopped>()
        .or_else(|| err.chain().find_map(|e| e.downcast_ref::<Stopped>()))
        .copied()
}

/// The one place a command becomes work.
fn dispatch(cli: Cli) -> Result<()> {
    let config_path = cli.config.clone();
    let json = cli.log_format == cli::LogFormat::Json;
    let command = cli
        .into_command()
        .unwrap_or_else(|e| log::usage_error(e, json));
    let config = Config::discover(config_path.as_deref(), notify::mail::check_address)?;
    for warning in &config.warnings {
        log::warn(warning);
    }
    match command {
        Command::Run(args) => {
            // Only a scheduled run pages people when it fails or panics; the
            // other commands, and a dry run, tell the person who typed them.
            if !args.dry_run {
                fallback::arm(&config);
            }
            signals::install();
            run::run(&config, &args)
        }
        Command::Status { json } => commands::status(&config, json),
        Command::CheckConfig => stdout::print(&commands::describe_config(&config)?),
        Command::Backup { file } => commands::backup(&config, &file),
        Command::Silence { action } => commands::silence::run(&config, action),
        Command::TestAlert => commands::test_alert::run(&config),
        Command::Migrate { from } => commands::migrate::run(&config, &from),
    }
}
