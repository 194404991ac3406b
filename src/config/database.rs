//! Where the history lives: an SQLite file (the default), or a PostgreSQL
//! URL shared by a fleet of probes. The URL is taken apart here: a password
//! in it is refused (it belongs in `database_password_env` or `_file`), and
//! `sslmode` / `sslrootcert` are upcheck's to apply with rustls; the rest
//! must be a connection string the PostgreSQL client accepts.

use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::file::{Located, RawConfig, at};
use super::{Database, Fleet, PasswordSource, Postgres, SslMode};

/// The `database` key and the fleet's keys, as one `Database`.
pub(super) fn database(
    raw: &RawConfig,
    sqlite: PathBuf,
    host: &str,
    dir: &Path,
    run_timeout: Duration,
) -> Result<Database, Located> {
    let url = raw.database.as_ref().filter(|d| is_postgres(d.get_ref()));
    let Some(url) = url else {
        return sqlite_only(raw).map(|()| Database::Sqlite(sqlite));
    };
    let (shown, mut sslmode, ca_file) = parse_url(url, dir)?;
    let state_dir = match &raw.state_dir {
        Some(d) if d.get_ref().trim().is_empty() => {
            return Err(at(
                d.span(),
                "state_dir",
                "needs a folder, e.g. \"/var/lib/upcheck\"",
            ));
        }
        Some(d) => dir.join(d.get_ref()),
        // systemd's StateDirectory= (the unit in cron/ sets it), else the
        // config's folder.
        None => std::env::var_os("STATE_DIRECTORY")
            .and_then(|dirs| std::env::split_paths(&dirs).next())
            .filter(|d| d.is_absolute())
            .unwrap_or_else(|| dir.to_path_buf()),
    };
    // As libpq: `require` with a root certificate checks the chain.
    if sslmode == SslMode::Require && ca_file.is_some() {
        sslmode = SslMode::VerifyCa;
    }
    let password = match (&raw.database_password_env, &raw.database_password_file) {
        (Some(_), Some(f)) => {
            return Err(at(
                f.span(),
                "database_password_file",
                "set database_password_env or database_password_file, not both",
            ));
        }
        (Some(var), None) => Some(PasswordSource::Env(var.get_ref().clone())),
        (None, Some(file)) => Some(PasswordSource::File(dir.join(file.get_ref()))),
        (None, None) => None,
    };
    let probe = match &raw.probe {
        Some(p) if p.get_ref().trim().is_empty() => {
            return Err(at(p.span(), "probe", "needs a name, e.g. \"fra-1\""));
        }
        Some(p) => match super::checks::label_problem(p.get_ref()) {
            Some(problem) => return Err(at(p.span(), "probe", problem)),
            None => p.get_ref().clone(),
        },
        None => host.to_string(),
    };
    Ok(Database::Postgres(Postgres {
        url: shown,
        password,
        sslmode,
        ca_file,
        fleet: Fleet {
            probe,
            confirm: raw.confirm.as_ref().map_or(1, |c| c.get_ref().0),
            fresh_within: raw
                .fresh_within
                .as_ref()
                .map_or(Duration::from_secs(15 * 60), |d| d.get_ref().0),
        },
        lock: state_dir.join("upcheck.lock"),
        spool: state_dir.join("upcheck-spool.jsonl"),
        idle_limit: run_timeout + Duration::from_secs(60),
    }))
}

/// Whether `database` names a PostgreSQL server rather than a file.
pub(super) fn is_postgres(database: &str) -> bool {
    database.starts_with("postgres://") || database.starts_with("postgresql://")
}

/// The fleet's keys mean nothing to a file only this host writes.
fn sqlite_only(raw: &RawConfig) -> Result<(), Located> {
    let spans = [
        (
            "database_password_env",
            raw.database_password_env.as_ref().map(Spanned::span),
        ),
        (
            "database_password_file",
            raw.database_password_file.as_ref().map(Spanned::span),
        ),
        ("probe", raw.probe.as_ref().map(Spanned::span)),
        ("confirm", raw.confirm.as_ref().map(Spanned::span)),
        ("fresh_within", raw.fresh_within.as_ref().map(Spanned::span)),
        ("state_dir", raw.state_dir.as_ref().map(Spanned::span)),
    ];
    match spans.into_iter().find_map(|(key, span)| Some((key, span?))) {
        Some((key, span)) => Err(at(
            span,
            key,
            format!(
                "`{key}` applies only to a PostgreSQL `database` (postgres://…), not to an SQLite file"
            ),
        )),
        None => Ok(()),
    }
}

/// The URL without upcheck's own parameters, the TLS mode and the CA file.
fn parse_url(
    url: &Spanned<String>,
    dir: &Path,
) -> Result<(String, SslMode, Option<PathBuf>), Located> {
    let bad = |message: String| at(url.span(), "database", message);
    let text = url.get_ref();
    let (base, query) = text.split_once('?').unwrap_or((text, ""));
    let rest = base.split_once("://").map_or("", |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or("");
    if authority
        .rsplit_once('@')
        .is_some_and(|(userinfo, _)| userinfo.contains(':'))
    {
        return Err(bad(
            "holds a password: put it in database_password_env or database_password_file, \
             so it is not in the config, the logs or the database"
                .into(),
        ));
    }
    let mut sslmode = SslMode::VerifyFull;
    let mut ca_file = None;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_encoding::percent_decode_str(value).decode_utf8_lossy();
        // The client decodes keys too: `pass%77ord` is `password`.
        let key = percent_encoding::percent_decode_str(key).decode_utf8_lossy();
        match key.as_ref() {
            "password" => {
                return Err(bad(
                    "holds a password: put it in database_password_env or database_password_file"
                        .into(),
                ));
            }
            "sslmode" => sslmode = ssl_mode(&value).map_err(bad)?,
            "sslrootcert" => {
                let spanned = Spanned::new(url.span(), value.to_string());
                ca_file = Some(super::checks::ca_file(&spanned, "database", dir)?);
            }
            _ => kept.push(pair),
        }
    }
    let shown = match kept.is_empty() {
        true => base.to_string(),
        false => format!("{base}?{}", kept.join("&")),
    };
    match shown.parse::<postgres::Config>() {
        Err(e) => {
            return Err(bad(format!(
                "is not a PostgreSQL URL the client accepts: {e}"
            )));
        }
        // However it was spelled, the client would find one: refused.
        Ok(parsed) if parsed.get_password().is_some() => {
            return Err(bad(
                "holds a password: put it in database_password_env or database_password_file"
                    .into(),
            ));
        }
        Ok(_) => {}
    }
    Ok((shown, sslmode, ca_file))
}

fn ssl_mode(value: &str) -> Result<SslMode, String> {
    match value {
        "disable" => Ok(SslMode::Disable),
        "require" => Ok(SslMode::Require),
        "verify-ca" => Ok(SslMode::VerifyCa),
        "verify-full" => Ok(SslMode::VerifyFull),
        "allow" | "prefer" => Err(format!(
            "sslmode={value} would fall back to an unencrypted connection without saying so; \
             use require, verify-ca, verify-full (the default) or disable"
        )),
        other => Err(format!(
            "unknown sslmode {other:?}: use disable, require, verify-ca or verify-full"
        )),
    }
}
