//! The commands a person types besides `run`: `status` (from the database,
//! no probing), `check-config` (what would be checked, and where mail goes),
//! `backup` (a consistent copy of the database); `silence` and `test-alert`
//! have files of their own.

pub mod migrate;
pub mod silence;
pub mod test_alert;

use anyhow::Result;
use chrono::Utc;

use crate::atomic_file::{self, Mode};
use crate::config::{self, Config, ConfigError, Target};
use crate::render::{self, status};
use crate::store::Store;
use crate::{hold, stdout};

/// `status`: from the database only, no probing.
pub fn status(config: &Config, json: bool) -> Result<()> {
    let now = Utc::now();
    let (summaries, runs, silences, network, probes) = if config.database.exists() {
        let db = Store::connect(&config.database)?;
        (
            db.summaries()?,
            db.recent_run_starts(None)?,
            db.silences_after(now)?,
            db.network_down()?,
            db.probe_views()?,
        )
    } else {
        Default::default()
    };
    let failing = summaries
        .iter()
        .filter(|(_, s)| s.status.is_failure())
        .map(|(name, _)| name.as_str())
        .collect();
    let holds = hold::holds(
        &config.services,
        &silences,
        &config.maintenance,
        now,
        &failing,
    );
    let rows = render::with_probes(render::rows(&config.services, &summaries, &holds), probes);
    if json {
        let doc = status::status_json(&config.title, &rows, &runs, now, network);
        stdout::print(&format!("{}\n", serde_json::to_string_pretty(&doc)?))
    } else {
        stdout::print(&status::status_text(
            &config.title,
            &rows,
            now,
            network.as_deref(),
        ))
    }
}

/// `backup FILE`: a consistent copy, written beside FILE then renamed into
/// place, so FILE is either absent or whole.
pub fn backup(config: &Config, file: &std::path::Path) -> Result<()> {
    if file.exists() {
        anyhow::bail!(
            "{} already exists; remove it or choose another name",
            file.display()
        );
    }
    if !config.database.exists() {
        anyhow::bail!("there is no database at {} yet", config.database.shown());
    }
    let db = Store::connect(&config.database)?;
    atomic_file::replace(file, Mode::Umask, |tmp| db.backup(tmp))
}

/// `check-config`: what would be checked, where mail goes, and every file a
/// run writes, each checked for whether this user can write it.
pub fn describe_config(config: &Config) -> Result<String> {
    use crate::timefmt::format_duration as d;
    check_writable(config)?;
    let plural = if config.services.len() == 1 { "" } else { "s" };
    let mut out = format!(
        "config     {}\ntitle      {}\ndatabase   {} (raw checks kept {})\nmail       {}\nheartbeat  {}\nguard      {}\n{}{}\n{} service{plural}, up to {} probes at once, run_timeout {}:\n",
        config.path.display(),
        config.title,
        describe_database(&config.database),
        d(config.retention),
        describe_mail(config)?,
        describe_heartbeat(config),
        config.connectivity.as_ref().map_or_else(
            || "none".to_string(),
            |c| format!(
                "{} (timeout {}; none reachable: nothing probed)",
                c.targets.join(", "),
                d(c.timeout)
            )
        ),
        describe_outputs(config),
        describe_commands(config) + &describe_windows(config),
        config.services.len(),
        config.parallel,
        d(config.run_timeout),
    );
    let width = config
        .services
        .iter()
        .map(|s| s.name.chars().count())
        .max()
        .unwrap_or(0);
    for s in &config.services {
        out.push_str(&format!("  {:width$}  {}\n", s.name, describe_service(s)));
    }
    Ok(out)
}

/// What is probed and how it is judged: "GET https://…, expect 200  (timeout 5s, …)".
fn describe_service(s: &config::Service) -> String {
    use crate::timefmt::format_duration as d;
    let what = match &s.target {
        Target::Http(h) => describe_http(h),
        Target::Tcp(addr) => format!("tcp {addr}"),
        Target::Command(c) => format!("command {:?}", c.argv),
        Target::Tls(t) => describe_tls(t),
        Target::Dns(t) => describe_dns(t),
    };
    let restart = s.restart.as_ref().map_or_else(String::new, |r| {
        format!(
            ", restart {:?} after {} (at most {} per {})",
            r.argv,
            r.after,
            r.limit,
            d(r.window)
        )
    });
    let retries = match s.retries {
        0 => String::new(),
        n => format!(", retries {n} ({} apart)", d(s.retry_delay)),
    };
    format!(
        "{what}  (timeout {}{retries}, alert after {}, remind {}{restart})",
        d(s.timeout),
        s.policy.alert_after,
        s.policy.remind,
    )
}

/// An HTTP check's request and every assertion, in words: "POST
/// https://…/health (14-byte body), expect 200, JSON /status = "UP", body
/// matches "uptime: \d+", …".
fn describe_http(h: &config::HttpTarget) -> String {
    use crate::timefmt::format_duration as d;
    let mut w = format!("{} {}", h.method, config::redacted_url(&h.url));
    if let Some(body) = &h.body {
        w.push_str(&format!(" ({}-byte body)", body.len()));
    }
    if !h.expect_status.is_empty() {
        let codes: Vec<String> = h.expect_status.iter().map(u16::to_string).collect();
        w.push_str(&format!(", expect {}", codes.join("/")));
    }
    if !h.follow_redirects {
        w.push_str(", redirects not followed");
    }
    for (pointer, value) in &h.json {
        w.push_str(&format!(", JSON {pointer} = {value}"));
    }
    if let Some(b) = &h.body_contains {
        w.push_str(&format!(", body contains {b:?}"));
    }
    if let Some(b) = &h.body_not_contains {
        w.push_str(&format!(", body lacks {b:?}"));
    }
    if let Some(p) = &h.body_matches {
        w.push_str(&format!(", body matches {:?}", p.as_str()));
    }
    for (name, value) in &h.expect_headers {
        w.push_str(&format!(", header {name} holds {value:?}"));
    }
    if let Some(slow) = h.slow_after {
        w.push_str(&format!(", slow after {}", d(slow)));
    }
    if let Some(proxy) = &h.proxy {
        w.push_str(&format!(", through proxy {}", config::redacted_url(proxy)));
    }
    w
}

/// "tls mail.example.com:587 after SMTP STARTTLS, certificate valid for
/// the host, not expiring within 14d".
fn describe_tls(t: &config::TlsTarget) -> String {
    let starttls = t
        .starttls
        .map_or_else(String::new, |s| format!(" after {} STARTTLS", s.as_str()));
    let roots = t
        .ca_file
        .as_ref()
        .map_or_else(String::new, |f| format!(", trusting {}", f.display()));
    format!(
        "tls {}{starttls}, certificate valid for the host{roots}, not expiring within {}",
        t.addr,
        crate::timefmt::format_duration(t.cert_warn)
    )
}

/// "dns MX example.com at 127.0.0.1:53, answer holds "10 mail.example.com"".
fn describe_dns(t: &config::DnsTarget) -> String {
    let mut w = format!("dns {} {} at {}", t.record.as_str(), t.name, t.server);
    if !t.expect.is_empty() {
        let each: Vec<String> = t.expect.iter().map(|e| format!("{e:?}")).collect();
        w.push_str(&format!(", answer holds {}", each.join(" and ")));
    }
    w
}

/// The files a run writes besides the database, one line each.
fn describe_outputs(config: &Config) -> String {
    let mut out = String::new();
    if let Some(page) = &config.status_page {
        out.push_str(&format!(
            "page       {} (the status page)\n",
            page.display()
        ));
    }
    if let Some(metrics) = &config.prometheus_textfile {
        out.push_str(&format!(
            "metrics    {} (Prometheus textfile)\n",
            metrics.display()
        ));
    }
    out
}

/// The file, or the URL with how it is reached and how this probe counts.
fn describe_database(database: &crate::config::Database) -> String {
    use crate::config::{Database, SslMode};
    let Database::Postgres(pg) = database else {
        return database.shown();
    };
    let tls = match pg.sslmode {
        SslMode::Disable => "no TLS",
        SslMode::Require => "TLS, certificate not checked",
        SslMode::VerifyCa => "TLS, certificate from a trusted CA",
        SslMode::VerifyFull => "TLS, certificate from a trusted CA for the host",
    };
    let fleet = &pg.fleet;
    format!(
        "{} ({tls}; probe {:?}, failing when {} probe{} fail within {})",
        pg.url,
        fleet.probe,
        fleet.confirm,
        if fleet.confirm == 1 { "" } else { "s" },
        crate::timefmt::format_duration(fleet.fresh_within)
    )
}

/// Every place a run writes must let this user create files in its folder
/// (the nearest one that exists, for folders a run creates): found now,
/// not by the first run's fallback email.
fn check_writable(config: &Config) -> Result<()> {
    use crate::config::Transport;
    let outbox = config.email.as_ref().and_then(|e| match &e.transport {
        Transport::File(dir) => Some(dir.join("message.eml")),
        _ => None,
    });
    let places = [
        // A server's database leaves this host only its lock and spool.
        match config.database.file() {
            Some(file) => ("database", Some(file.to_path_buf())),
            None => ("state_dir", Some(config.lock_path())),
        },
        ("status_page", config.status_page.clone()),
        ("prometheus_textfile", config.prometheus_textfile.clone()),
        ("email.outbox", outbox),
    ];
    for (key, path) in places {
        let Some(path) = path else { continue };
        if let Err(why) = folder_writable(&path) {
            return Err(ConfigError {
                file: config.path.clone(),
                line: None,
                key: Some(key.to_string()),
                message: format!("a run could not write {}: {why}", path.display()),
            }
            .into());
        }
    }
    Ok(())
}

/// Whether a file can be created beside `path`: its folder, or the nearest
/// ancestor that exists, is a folder this user may write into.
fn folder_writable(path: &std::path::Path) -> Result<(), String> {
    use std::os::unix::ffi::OsStrExt;
    let folder = path
        .ancestors()
        .skip(1)
        .find(|a| a.as_os_str().is_empty() || std::fs::symlink_metadata(a).is_ok())
        .filter(|a| !a.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    if !folder.is_dir() {
        return Err(format!("{} is not a folder", folder.display()));
    }
    let c_path = std::ffi::CString::new(folder.as_os_str().as_bytes())
        .map_err(|_| "the path holds a NUL byte".to_string())?;
    // SAFETY: access only reads the NUL-terminated path.
    if unsafe { libc::access(c_path.as_ptr(), libc::W_OK | libc::X_OK) } != 0 {
        let e = std::io::Error::last_os_error();
        return Err(format!(
            "{} is not writable by this user: {e}",
            folder.display()
        ));
    }
    Ok(())
}

/// The heartbeat's host only: the rest of the URL is usually the secret.
fn describe_heartbeat(config: &Config) -> String {
    let host = |url: &str| {
        url.parse::<ureq::http::Uri>()
            .ok()
            .and_then(|u| u.host().map(str::to_string))
            .unwrap_or_default()
    };
    match &config.heartbeat {
        None => "none".to_string(),
        Some(h) => format!(
            "pings {} after every run{}",
            host(&h.url),
            h.fail_url
                .as_ref()
                .map(|f| format!(", {} after a failed one", host(f)))
                .unwrap_or_default()
        ),
    }
}

fn describe_commands(config: &Config) -> String {
    config
        .alert_commands
        .iter()
        .map(|c| {
            let mut on: Vec<&str> = c.on.iter().map(|k| k.as_str()).collect();
            if c.on_fallback {
                on.push("fallback");
            }
            format!("alert      {:?} on {}\n", c.argv, on.join(", "))
        })
        .collect()
}

/// "window     0 2 * * SUN in Europe/Berlin for 2h: price-api (weekly backup)".
fn describe_windows(config: &Config) -> String {
    use crate::timefmt::{format_duration, minute};
    config
        .maintenance
        .iter()
        .map(|m| {
            let when = match &m.when {
                config::Window::Every {
                    pattern,
                    duration,
                    zone_name,
                    ..
                } => format!(
                    "{pattern} in {zone_name} for {}",
                    format_duration(*duration)
                ),
                config::Window::Once { from, until } => {
                    format!("from {} until {}", minute(*from), minute(*until))
                }
            };
            let services = m
                .services
                .as_ref()
                .map_or("every service".into(), |s| s.join(", "));
            let reason = m
                .reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            format!(
                "window     {when}: {services}{reason}
"
            )
        })
        .collect()
}

/// Where mail goes; a password that cannot be read is a config error here,
/// so `check-config` catches it before the first alert does.
fn describe_mail(config: &Config) -> Result<String> {
    use crate::config::{SmtpTls, Transport};
    let Some(email) = &config.email else {
        return Ok(
            "not configured (no [email] section): results are stored, nothing is sent".into(),
        );
    };
    let config_error = |e: anyhow::Error| ConfigError::whole_file(&config.path, format!("{e:#}"));
    let route = format!("from {} to {}", email.from, email.to.join(", "));
    Ok(match &email.transport {
        Transport::Smtp(s) => {
            let auth = match (&s.user, &s.password) {
                (Some(user), Some(password)) => {
                    password.read().map_err(config_error)?;
                    format!(", as {user}")
                }
                (Some(user), None) => format!(", as {user} without a password"),
                _ => String::new(),
            };
            let tls = match s.tls {
                SmtpTls::Starttls => "STARTTLS",
                SmtpTls::Tls => "TLS",
                SmtpTls::None => "no TLS",
            };
            format!("{route} via SMTP {}:{} ({tls}{auth})", s.host, s.port)
        }
        Transport::Sendmail => format!("{route} via sendmail"),
        Transport::File(dir) => format!("{route} as .eml files in {}", dir.display()),
    })
}
