//! From the serde mirror to the plain [`Config`]: every default applied, every
//! path resolved against the config's folder, and the checks that need more
//! than one value (a service's kind, keys that do not apply, duplicate names).
//! The mirror is read, not consumed: what the `Config` keeps is copied.

use std::collections::HashSet;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::checks::{ca_file, label_problem};
use super::file::{
    AlertKind, Every, HeartbeatMethod, HeartbeatStyle, Located, PageDetailsKind, RawAlertCommand,
    RawConfig, RawEmail, RawHeartbeat, RawReport, RawService, TransportKind, at,
};
use super::target::{first_set, kind, never_applies, resolve_program, stray_key, target};
use super::{
    AddressCheck, AlertCommand, Config, Email, Fault, Heartbeat, PageDetails, PasswordSource,
    Period, Report, Restart, Service, Smtp, SmtpTls, Transport,
};
use crate::alert::{AlertPolicy, Notice, Remind};

/// What an `[[alert_command]]` without `on` runs for: everything.
const EVERY_ALERT_KIND: [AlertKind; 5] = [
    AlertKind::Down,
    AlertKind::Reminder,
    AlertKind::Recovery,
    AlertKind::Network,
    AlertKind::Fallback,
];

/// The whole config; the first mistake found is the one reported, in this
/// order: `parallel`, `ca_file`, the services in file order, `[email]`,
/// `title`, the files, and last that there is a service at all.
pub(super) fn build(
    raw: &RawConfig,
    path: &Path,
    dir: &Path,
    fault: Option<Fault>,
    address: AddressCheck,
) -> Result<Config, Located> {
    let host = host_name();
    let parallel = parallel(raw.parallel.as_ref())?;
    if let Some(ca) = &raw.ca_file {
        ca_file(ca, "ca_file", dir)?;
    }
    let heartbeat = raw.heartbeat.as_ref().map(heartbeat).transpose()?;
    let alert_commands = raw
        .alert_command
        .iter()
        .map(|c| alert_command(c, dir))
        .collect();
    let services = services(raw, dir)?;
    let names = services.iter().map(|s| s.name.as_str()).collect();
    super::noise::dependencies(&raw.service, &services, &names)?;
    let maintenance = super::noise::maintenance(&raw.maintenance, &names)?;
    let connectivity = super::noise::connectivity(raw.connectivity.as_ref())?;
    let email = raw
        .email
        .as_ref()
        .map(|e| email(e, dir, address))
        .transpose()?;
    let report = raw
        .report
        .as_ref()
        .map(|r| report(r, email.as_ref(), address))
        .transpose()?;
    let title = title(raw.title.as_ref())?.unwrap_or_else(|| host.clone());
    let files = files(raw, path, dir)?;
    if services.is_empty() {
        return Err(Located {
            span: None,
            key: None,
            message: "no [[service]] table: there is nothing to check".to_string(),
        });
    }
    let run_timeout = raw.run_timeout.map_or(Duration::from_secs(240), |d| d.0);
    let database = super::database::database(raw, files.database, &host, dir, run_timeout)?;
    Ok(Config {
        path: path.to_path_buf(),
        title,
        host,
        maintenance,
        connectivity,
        database,
        parallel,
        run_timeout,
        lock_timeout: raw.lock_timeout.map_or(Duration::from_secs(30), |d| d.0),
        retention: raw
            .retention
            .map_or(Duration::from_secs(90 * 86_400), |d| d.0),
        email,
        report,
        heartbeat,
        alert_commands,
        status_page: files.status_page,
        badges: badges(raw, &services, dir)?,
        status_page_details: match raw.status_page_details {
            Some(PageDetailsKind::Status) => PageDetails::Status,
            Some(PageDetailsKind::Full) | None => PageDetails::Full,
        },
        prometheus_textfile: files.prometheus_textfile,
        services,
        fault,
        warnings: Vec::new(),
    })
}

/// The badge folder, once every service has a slug of its own: two that
/// share one would overwrite each other's badges at every run.
fn badges(raw: &RawConfig, services: &[Service], dir: &Path) -> Result<Option<PathBuf>, Located> {
    let Some(value) = &raw.badges else {
        return Ok(None);
    };
    let mut seen: std::collections::HashMap<String, &str> = std::collections::HashMap::new();
    for s in services {
        let slug = super::badge_slug(&s.name);
        if slug.is_empty() {
            let message = format!(
                "service {:?} has no letter or digit to name its badge by: rename it, or remove `badges`",
                s.name
            );
            return Err(at(value.span(), "badges", message));
        }
        // Each service writes two files: `api uptime`'s status badge is
        // `api`'s uptime badge.
        for file in [slug.clone(), format!("{slug}-uptime")] {
            if let Some(other) = seen.insert(file.clone(), &s.name) {
                let message = format!(
                    "services {other:?} and {:?} would both write {file}.svg: rename one",
                    s.name
                );
                return Err(at(value.span(), "badges", message));
            }
        }
    }
    Ok(Some(dir.join(value.get_ref())))
}

/// Where the history lives and where the outputs go, resolved against the
/// config's folder.
struct Files {
    database: PathBuf,
    status_page: Option<PathBuf>,
    prometheus_textfile: Option<PathBuf>,
}

/// The database path, and the outputs checked against what upcheck must never
/// overwrite: the database, its WAL, shared memory and lock, and the config.
fn files(raw: &RawConfig, config: &Path, dir: &Path) -> Result<Files, Located> {
    let database = match &raw.database {
        None => dir.join("upcheck.db"),
        Some(db) if db.get_ref().trim().is_empty() => {
            return Err(at(
                db.span(),
                "database",
                "needs a file name, e.g. \"upcheck.db\"",
            ));
        }
        Some(db) => {
            let path = dir.join(db.get_ref());
            // A run would set the config aside as "not a database".
            if same_file(&path, config) {
                return Err(at(
                    db.span(),
                    "database",
                    format!(
                        "{} is the config itself: writing there would destroy it",
                        path.display()
                    ),
                ));
            }
            path
        }
    };
    let with = |suffix: &str| {
        let mut name = database.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    let kept = [
        (database.clone(), "the database"),
        (with("-wal"), "the database's WAL"),
        (with("-shm"), "the database's shared memory"),
        (with(".lock"), "the database's lock"),
        (config.to_path_buf(), "the config itself"),
    ];
    let output = |value: Option<&Spanned<String>>, key: &str| -> Result<Option<PathBuf>, Located> {
        let Some(value) = value else { return Ok(None) };
        let path = dir.join(value.get_ref());
        match kept.iter().find(|(k, _)| same_file(k, &path)) {
            Some((_, what)) => Err(at(
                value.span(),
                key,
                format!(
                    "{} is {what}: writing there would destroy it",
                    path.display()
                ),
            )),
            None => Ok(Some(path)),
        }
    };
    let status_page = output(raw.status_page.as_ref(), "status_page")?;
    let prometheus_textfile = output(raw.prometheus_textfile.as_ref(), "prometheus_textfile")?;
    let outbox = raw.email.as_ref().and_then(|e| e.outbox.as_ref());
    output(outbox, "email.outbox")?;
    Ok(Files {
        database,
        status_page,
        prometheus_textfile,
    })
}

/// Whether two paths name the same file: the same once `.` and `..` are
/// resolved, or, for files that exist, the same after following links.
fn same_file(a: &Path, b: &Path) -> bool {
    fn lexical(p: &Path) -> PathBuf {
        let mut out = PathBuf::new();
        for part in p.components() {
            match part {
                std::path::Component::CurDir => {}
                std::path::Component::ParentDir => {
                    out.pop();
                }
                other => out.push(other),
            }
        }
        out
    }
    if lexical(a) == lexical(b) {
        return true;
    }
    matches!(
        (std::fs::canonicalize(a), std::fs::canonicalize(b)),
        (Ok(x), Ok(y)) if x == y
    )
}

/// Probes in flight at once: 32 unless set.
fn parallel(parallel: Option<&Spanned<i64>>) -> Result<usize, Located> {
    let Some(p) = parallel else {
        return Ok(32);
    };
    match usize::try_from(*p.get_ref()) {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(at(p.span(), "parallel", "must be 1 or more")),
    }
}

/// The title when set and not blank; it is a label like a service name.
fn title(title: Option<&Spanned<String>>) -> Result<Option<String>, Located> {
    let Some(title) = title else {
        return Ok(None);
    };
    if let Some(problem) = label_problem(title.get_ref()) {
        return Err(at(title.span(), "title", problem));
    }
    Ok(Some(title.get_ref().clone()).filter(|t| !t.trim().is_empty()))
}

/// `[heartbeat]`: the healthchecks style says how a run ended in its own
/// URL (`url/N`), so a `fail_url` beside it is a mistake, not a fallback.
fn heartbeat(h: &RawHeartbeat) -> Result<Heartbeat, Located> {
    let healthchecks = h
        .style
        .as_ref()
        .is_some_and(|s| *s.get_ref() == HeartbeatStyle::Healthchecks);
    if let (true, Some(fail)) = (healthchecks, &h.fail_url) {
        return Err(at(
            fail.span(),
            "heartbeat.fail_url",
            "style = \"healthchecks\" pings url/<exit status> when a run ends, failed or not: leave fail_url out",
        ));
    }
    Ok(Heartbeat {
        url: match healthchecks {
            true => h.url.0.trim_end_matches('/').to_string(),
            false => h.url.0.clone(),
        },
        fail_url: h.fail_url.as_ref().map(|u| u.get_ref().0.clone()),
        timeout: h.timeout.map_or(Duration::from_secs(10), |d| d.0),
        post: healthchecks || matches!(h.method, Some(HeartbeatMethod::Post)),
        healthchecks,
    })
}

fn alert_command(c: &RawAlertCommand, dir: &Path) -> AlertCommand {
    let on = c.on.as_deref().unwrap_or(&EVERY_ALERT_KIND);
    AlertCommand {
        argv: resolve_program(c.command.0.clone(), dir),
        on_fallback: on.iter().any(|k| matches!(k, AlertKind::Fallback)),
        on: on
            .iter()
            .filter_map(|k| match k {
                AlertKind::Down => Some(Notice::Down),
                AlertKind::Reminder => Some(Notice::Reminder),
                AlertKind::Recovery => Some(Notice::Recovery),
                AlertKind::Network => Some(Notice::Network),
                AlertKind::Fallback => None,
            })
            .collect(),
        timeout: c.timeout.map_or(Duration::from_secs(30), |d| d.0),
        dir: dir.to_path_buf(),
    }
}

/// Every `[[service]]`, in file order, each with a name of its own.
fn services(raw: &RawConfig, dir: &Path) -> Result<Vec<Service>, Located> {
    let mut seen = HashSet::new();
    raw.service
        .iter()
        .enumerate()
        .map(|(i, s)| service(i, s, raw, dir, &mut seen))
        .collect()
}

/// One `[[service]]`: what it leaves unset comes from the top level
/// (`defaults`). Its mistakes are reported at its name, under the key at fault.
fn service(
    index: usize,
    s: &RawService,
    defaults: &RawConfig,
    dir: &Path,
    seen: &mut HashSet<String>,
) -> Result<Service, Located> {
    let key = |k: &str| format!("service[{}].{k}", index + 1);
    let name_span = s.name.span();
    let name = s.name.get_ref();
    if let Some(problem) = name_problem(name, seen) {
        return Err(at(name_span, key("name"), problem));
    }
    let kind = kind(s).map_err(|message| at(name_span.clone(), key("name"), message))?;
    if let Some((k, owners)) = stray_key(s, kind) {
        let message = format!("`{k}` applies only to {owners}");
        return Err(at(name_span, key(k), message));
    }
    let target = target(s, defaults, dir, &key)?;
    if let Some((k, message)) = never_applies(s) {
        return Err(at(name_span, key(k), message));
    }
    if let Some(k) = stray_restart_key(s) {
        return Err(at(name_span, key(k), format!("`{k}` needs `restart` too")));
    }
    if let Some(ca) = &s.ca_file {
        ca_file(ca, key("ca_file"), dir)?;
    }
    Ok(Service {
        name: name.clone(),
        target,
        timeout: s
            .timeout
            .or(defaults.timeout)
            .map_or(Duration::from_secs(10), |d| d.0),
        retries: s.retries.or(defaults.retries).map_or(0, |r| r.0),
        retry_delay: s
            .retry_delay
            .or(defaults.retry_delay)
            .map_or(Duration::from_secs(1), |d| d.0),
        depends_on: s
            .depends_on
            .as_ref()
            .map(|d| d.get_ref().clone())
            .unwrap_or_default(),
        policy: policy(s, defaults),
        restart: restart(s, dir),
    })
}

/// Why `name` cannot name a service, if it cannot: blank, not one line of
/// visible text, or already taken. Marks it taken.
fn name_problem(name: &str, seen: &mut HashSet<String>) -> Option<String> {
    if name.trim().is_empty() {
        return Some("a service needs a non-empty name".to_string());
    }
    if let Some(problem) = label_problem(name) {
        return Some(problem);
    }
    // "web" and "web " read the same in every table and subject.
    let trimmed = name.trim();
    if !seen.insert(trimmed.to_string()) {
        return Some(if trimmed == name {
            format!("duplicate service name {name:?}")
        } else {
            format!("duplicate service name {name:?} ({trimmed:?} but for spaces)")
        });
    }
    None
}

/// The first watchdog key set without `restart` itself.
fn stray_restart_key(s: &RawService) -> Option<&'static str> {
    if s.restart.is_some() {
        return None;
    }
    first_set([
        ("restart_after", s.restart_after.is_some()),
        ("restart_limit", s.restart_limit.is_some()),
        ("restart_window", s.restart_window.is_some()),
        ("restart_timeout", s.restart_timeout.is_some()),
    ])
}

fn policy(s: &RawService, defaults: &RawConfig) -> AlertPolicy {
    AlertPolicy {
        alert_after: s.alert_after.or(defaults.alert_after).map_or(2, |c| c.0),
        recover_after: s
            .recover_after
            .or(defaults.recover_after)
            .map_or(1, |c| c.0),
        remind: s
            .remind
            .or(defaults.remind)
            .map_or(Remind::Exponential, |r| r.0),
        notify_recovery: s
            .notify_recovery
            .or(defaults.notify_recovery)
            .unwrap_or(true),
    }
}

/// The watchdog, when `restart` is set.
fn restart(s: &RawService, dir: &Path) -> Option<Restart> {
    let argv = s.restart.as_ref()?;
    Some(Restart {
        argv: resolve_program(argv.0.clone(), dir),
        after: s.restart_after.map_or(2, |c| c.0),
        limit: s.restart_limit.map_or(3, |c| c.0),
        window: s.restart_window.map_or(Duration::from_secs(3600), |d| d.0),
        timeout: s.restart_timeout.map_or(Duration::from_secs(60), |d| d.0),
        dir: dir.to_path_buf(),
    })
}

/// `[email]`. Transport mistakes are reported at `transport`, or at `from`
/// when the transport is the default SMTP.
fn email(e: &RawEmail, dir: &Path, address: AddressCheck) -> Result<Email, Located> {
    let to = e.to.get_ref();
    if to.is_empty() || to.iter().any(|a| a.trim().is_empty()) {
        return Err(at(e.to.span(), "email.to", "needs at least one address"));
    }
    for (i, a) in to.iter().enumerate() {
        address(a).map_err(|why| at(e.to.span(), format!("email.to[{}]", i + 1), why))?;
    }
    let from = e.from.get_ref();
    if from.trim().is_empty() {
        return Err(at(e.from.span(), "email.from", "needs an address"));
    }
    address(from).map_err(|why| at(e.from.span(), "email.from", why))?;
    let (kind, kind_span) = match &e.transport {
        Some(t) => (*t.get_ref(), t.span()),
        None => (TransportKind::Smtp, e.from.span()),
    };
    check_transport_keys(e, kind, kind_span.clone())?;
    let transport = match kind {
        TransportKind::Sendmail => Transport::Sendmail,
        TransportKind::File => {
            Transport::File(dir.join(e.outbox.as_ref().map_or("outbox", |o| o.get_ref().as_str())))
        }
        TransportKind::Smtp => Transport::Smtp(smtp(e, kind_span, dir)?),
    };
    Ok(Email {
        to: to.clone(),
        from: from.clone(),
        transport,
    })
}

/// `[report]`: its period, and whom it goes to (default `[email] to`),
/// which needs an `[email]` to send through.
fn report(
    r: &Spanned<RawReport>,
    email: Option<&Email>,
    address: AddressCheck,
) -> Result<Report, Located> {
    let Some(email) = email else {
        return Err(at(
            r.span(),
            "report",
            "needs an [email] section to send it through",
        ));
    };
    let raw = r.get_ref();
    let to = match &raw.to {
        None => email.to.clone(),
        Some(to) => {
            if to.get_ref().is_empty() {
                return Err(at(to.span(), "report.to", "needs at least one address"));
            }
            for (i, a) in to.get_ref().iter().enumerate() {
                address(a).map_err(|why| at(to.span(), format!("report.to[{}]", i + 1), why))?;
            }
            to.get_ref().clone()
        }
    };
    let every = match raw.every {
        Every::Week => Period::Week,
        Every::Month => Period::Month,
    };
    Ok(Report { every, to })
}

/// Refuses a key the chosen transport does not use: an `smtp_*` key without
/// SMTP, `outbox` without "file".
fn check_transport_keys(
    e: &RawEmail,
    kind: TransportKind,
    kind_span: Range<usize>,
) -> Result<(), Located> {
    let stray_smtp_key = first_set([
        ("smtp_host", e.smtp_host.is_some()),
        ("smtp_port", e.smtp_port.is_some()),
        ("smtp_tls", e.smtp_tls.is_some()),
        ("smtp_user", e.smtp_user.is_some()),
        ("smtp_password_env", e.smtp_password_env.is_some()),
        ("smtp_password_file", e.smtp_password_file.is_some()),
        ("smtp_ca_file", e.smtp_ca_file.is_some()),
        ("smtp_timeout", e.smtp_timeout.is_some()),
    ]);
    if let (true, Some(k)) = (kind != TransportKind::Smtp, stray_smtp_key) {
        return Err(at(
            kind_span,
            format!("email.{k}"),
            "applies only to transport = \"smtp\"",
        ));
    }
    if kind != TransportKind::File && e.outbox.is_some() {
        return Err(at(
            kind_span,
            "email.outbox",
            "applies only to transport = \"file\"",
        ));
    }
    Ok(())
}

/// `transport = "smtp"`: the port follows from the TLS mode unless set.
fn smtp(e: &RawEmail, kind_span: Range<usize>, dir: &Path) -> Result<Smtp, Located> {
    let host = e
        .smtp_host
        .clone()
        .filter(|h| !h.trim().is_empty())
        .ok_or_else(|| {
            at(
                kind_span.clone(),
                "email.smtp_host",
                "transport \"smtp\" needs smtp_host",
            )
        })?;
    let tls = e.smtp_tls.unwrap_or(SmtpTls::Starttls);
    Ok(Smtp {
        host,
        port: e.smtp_port.unwrap_or(match tls {
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
            SmtpTls::None => 25,
        }),
        tls,
        user: e.smtp_user.clone(),
        password: smtp_password(e, kind_span, dir)?,
        ca_file: e
            .smtp_ca_file
            .as_ref()
            .map(|f| ca_file(f, "email.smtp_ca_file", dir))
            .transpose()?,
        timeout: e.smtp_timeout.map_or(Duration::from_secs(30), |d| d.0),
    })
}

/// Where the SMTP password will be read from: an environment variable or a
/// file, not both, and only with a user to log in as.
fn smtp_password(
    e: &RawEmail,
    kind_span: Range<usize>,
    dir: &Path,
) -> Result<Option<PasswordSource>, Located> {
    let password = match (&e.smtp_password_env, &e.smtp_password_file) {
        (Some(_), Some(_)) => {
            return Err(at(
                kind_span,
                "email.smtp_password_file",
                "set smtp_password_env or smtp_password_file, not both",
            ));
        }
        (Some(var), None) => Some(PasswordSource::Env(var.clone())),
        (None, Some(file)) => Some(PasswordSource::File(dir.join(file))),
        (None, None) => None,
    };
    if password.is_some() && e.smtp_user.is_none() {
        return Err(at(
            kind_span,
            "email.smtp_user",
            "a password needs smtp_user too",
        ));
    }
    Ok(password)
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}
