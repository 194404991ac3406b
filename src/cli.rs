//! What the user typed: clap's view of the command line. Turned into work by
//! `main::dispatch`; nothing here reads files or the environment.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

/// Probe every configured service, keep the history in SQLite, and email one
/// digest when something is down. Silent while all is well.
#[derive(Parser, Debug)]
#[command(version)]
pub struct Cli {
    /// Config file [default: $UPCHECK_CONFIG, ./upcheck.toml, /etc/upcheck/upcheck.toml]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Print less: errors only
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Print more: -v what each run does, -vv every probe
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// How messages on stderr look: plain text, or one JSON object per line
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Option<Command>,

    /// `upcheck --force` is `upcheck run --force`.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Whether the command line asks for JSON logs, read from the raw arguments:
/// a usage error is found before clap has parsed anything, and must still
/// come out as JSON.
pub fn wants_json(args: &[std::ffi::OsString]) -> bool {
    let args: Vec<_> = args.iter().map(|a| a.to_string_lossy()).collect();
    args.iter()
        .zip(args.iter().skip(1).map(Some).chain([None]))
        .any(|(a, next)| {
            a == "--log-format=json" || (a == "--log-format" && next.is_some_and(|n| n == "json"))
        })
}

impl Cli {
    /// Folds the top-level run flags into the command; `--force status` is a usage error.
    pub fn into_command(self) -> Result<Command, clap::Error> {
        use clap::CommandFactory;
        match self.command {
            None => Ok(Command::Run(self.run)),
            Some(Command::Run(args)) => Ok(Command::Run(RunArgs {
                force: args.force || self.run.force,
                dry_run: args.dry_run || self.run.dry_run,
            })),
            Some(_) if self.run.force || self.run.dry_run => Err(Cli::command().error(
                clap::error::ErrorKind::ArgumentConflict,
                "--force and --dry-run apply only to `run`",
            )),
            Some(other) => Ok(other),
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Probe every service, store the results, send what is due (the default)
    Run(RunArgs),
    /// Each service's latest status and uptime, from the database only
    Status {
        /// One JSON document instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Validate the config and print what would be checked and where mail goes
    CheckConfig,
    /// A consistent copy of the database, safe while runs go on
    Backup {
        /// Where to write the copy (must not exist yet)
        file: PathBuf,
    },
    /// Prove the alert path: a test email and every alert command
    /// (UPCHECK_KIND=test); probes nothing, stores nothing
    TestAlert,
    /// Copy an SQLite history into the configured (empty) PostgreSQL, once
    Migrate {
        /// The SQLite database to copy (the host's `upcheck.db`)
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
    },
    /// Hold a service's alerts for a while (still probed and stored)
    Silence {
        #[command(subcommand)]
        action: SilenceAction,
    },
}

#[derive(Subcommand, Debug)]
pub enum SilenceAction {
    /// Silence services by name (or --all) for a duration or until a time
    Add(SilenceAdd),
    /// The silences in force or still to come
    List {
        /// One JSON array instead of a table
        #[arg(long)]
        json: bool,
    },
    /// End a silence now
    Remove {
        /// Its id, as `silence list` shows it
        id: i64,
    },
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("which").required(true).args(["services", "all"])))]
#[command(group(ArgGroup::new("how_long").required(true).args(["for_", "until"])))]
pub struct SilenceAdd {
    /// The services to silence, as named in the config
    pub services: Vec<String>,
    /// Every service, instead of names
    #[arg(long, conflicts_with = "services")]
    pub all: bool,
    /// For how long: "15m", "2h", "1d"
    #[arg(long = "for", value_name = "DURATION")]
    pub for_: Option<String>,
    /// Until when: RFC 3339, or "HH:MM" (today, or tomorrow if past) in UTC,
    /// or "HH:MM Europe/Berlin"
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Why: shown in the email, the status page and `status`
    #[arg(long)]
    pub reason: Option<String>,
}

/// A command line that parsed but asks for what cannot be done (an unknown
/// service, a time in the past): exit 2, as clap's own usage errors.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

#[derive(Args, Debug, Clone, Default)]
pub struct RunArgs {
    /// Always send the full report, even when nothing is due
    #[arg(long, conflicts_with = "dry_run")]
    pub force: bool,

    /// Probe and print the report to stdout; write nothing, send nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn bare_force_means_run_force() {
        let parse = |args: &[&str]| Cli::try_parse_from(args).and_then(Cli::into_command);
        assert!(matches!(
            parse(&["upcheck", "--force"]),
            Ok(Command::Run(RunArgs {
                force: true,
                dry_run: false
            }))
        ));
        assert!(matches!(
            parse(&["upcheck"]),
            Ok(Command::Run(RunArgs {
                force: false,
                dry_run: false
            }))
        ));
        assert!(matches!(
            parse(&["upcheck", "run", "--dry-run"]),
            Ok(Command::Run(RunArgs { dry_run: true, .. }))
        ));
        assert!(matches!(
            parse(&["upcheck", "--force", "run"]),
            Ok(Command::Run(RunArgs { force: true, .. }))
        ));
        assert!(matches!(
            parse(&["upcheck", "--config", "x.toml", "status", "--json"]),
            Ok(Command::Status { json: true })
        ));
        assert!(parse(&["upcheck", "--force", "status"]).is_err());
        assert!(parse(&["upcheck", "run", "--force", "--dry-run"]).is_err());
    }
}
