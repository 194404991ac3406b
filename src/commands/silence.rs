//! `upcheck silence add | list | remove`: a person holding alerts for a
//! while (a deploy, known trouble). Stored in `silences`; each run reads
//! them (`hold`). One confirmation line on stdout; a mistake is exit 2.

use anyhow::Result;
use chrono::{DateTime, Utc};

use crate::check::one_line;
use crate::cli::{SilenceAction, SilenceAdd, UsageError};
use crate::config::Config;
use crate::render::silences as view;
use crate::stdout;
use crate::store::Store;
use crate::timefmt::{format_duration, minute, parse_duration, parse_until};

/// A reason is one line people read in tables and subjects.
const SILENCE_REASON_CHARS: usize = 200;

pub fn run(config: &Config, action: SilenceAction) -> Result<()> {
    let now = Utc::now();
    match action {
        SilenceAction::Add(add) => {
            let Asked {
                services,
                until,
                reason,
            } = understood(config, &add, now)?;
            let mut db = Store::connect(&config.database)?;
            let ids = db.add_silences(&services, now, until, reason.as_deref())?;
            stdout::print(&view::added(&services, &ids, until, reason.as_deref()))
        }
        SilenceAction::List { json } => {
            let silences = match config.database.exists() {
                true => Store::connect(&config.database)?.silences_after(now)?,
                false => Vec::new(),
            };
            match json {
                true => stdout::print(&format!(
                    "{}\n",
                    serde_json::to_string_pretty(&view::json(&silences))?
                )),
                false => stdout::print(&view::text(&silences)),
            }
        }
        SilenceAction::Remove { id } => {
            let ended = match config.database.exists() {
                true => Store::connect(&config.database)?.end_silence(id, now)?,
                false => None,
            };
            match ended {
                Some(silence) => stdout::print(&view::removed(&silence, now)),
                None => Err(UsageError(format!(
                    "there is no silence {id} (see `upcheck silence list`)"
                ))
                .into()),
            }
        }
    }
}

/// What `add` asks for, checked.
struct Asked {
    /// `[None]`: every service.
    services: Vec<Option<String>>,
    until: DateTime<Utc>,
    reason: Option<String>,
}

fn understood(config: &Config, add: &SilenceAdd, now: DateTime<Utc>) -> Result<Asked, UsageError> {
    let services = match add.all {
        true => vec![None],
        false => add
            .services
            .iter()
            .map(|name| known(config, name).map(Some))
            .collect::<Result<_, _>>()?,
    };
    let until = match (&add.for_, &add.until) {
        (Some(d), _) => {
            let d = parse_duration(d).map_err(|e| UsageError(format!("--for: {e}")))?;
            chrono::TimeDelta::from_std(d)
                .ok()
                .and_then(|d| now.checked_add_signed(d))
                .filter(|_| !d.is_zero())
                .ok_or_else(|| {
                    UsageError(format!(
                        "--for: {} is not a usable length",
                        format_duration(d)
                    ))
                })?
        }
        (None, Some(t)) => {
            let until = parse_until(t, now).map_err(|e| UsageError(format!("--until: {e}")))?;
            if until <= now {
                return Err(UsageError(format!("--until: {} has passed", minute(until))));
            }
            until
        }
        (None, None) => unreachable!("clap requires --for or --until"),
    };
    // Stored times are text that sorts; past the year 9999 they would not.
    if until.format("%Y").to_string().len() > 4 {
        return Err(UsageError(format!(
            "{} is too far ahead: a silence must end by the year 9999",
            if add.for_.is_some() {
                "--for"
            } else {
                "--until"
            }
        )));
    }
    let reason = add
        .reason
        .as_deref()
        .map(|r| one_line(r, SILENCE_REASON_CHARS))
        .filter(|r| !r.is_empty());
    Ok(Asked {
        services,
        until,
        reason,
    })
}

/// `name`, if the config has a service by that name.
fn known(config: &Config, name: &str) -> Result<String, UsageError> {
    if config.services.iter().any(|s| s.name == name) {
        return Ok(name.to_string());
    }
    let names: Vec<&str> = config.services.iter().map(|s| s.name.as_str()).collect();
    Err(UsageError(format!(
        "no service named {name:?} in {} (there are: {})",
        config.path.display(),
        view::list(&names, 10)
    )))
}
