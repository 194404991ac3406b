//! Finding, reading and validating `upcheck.toml` into one plain [`Config`]:
//! every default applied, every path absolute, every mistake reported with
//! file, line and key. The only module that reads environment variables.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use serde::Deserialize;
use serde::de::{self, Deserializer};
use toml::Spanned;

use crate::alert::{AlertPolicy, Remind};
use crate::timefmt::parse_duration;

/// Where the config is looked for when `--config` is not given.
pub const CONFIG_ENV: &str = "UPCHECK_CONFIG";
const DEFAULT_LOCATIONS: [&str; 2] = ["upcheck.toml", "/etc/upcheck/upcheck.toml"];

/// Everything a run needs to know, validated. No serde or clap types in here.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file this came from (absolute).
    pub path: PathBuf,
    /// Report title; the host name unless set.
    pub title: String,
    /// The host upcheck runs on, for footers and fallback alerts.
    pub host: String,
    /// The SQLite history (absolute).
    pub database: PathBuf,
    /// Probes in flight at once.
    pub parallel: usize,
    /// No run lasts longer than this: probes still running are recorded as timeouts.
    pub run_timeout: Duration,
    /// How long a run waits for a previous one to finish before giving up.
    pub lock_timeout: Duration,
    /// Raw checks older than this are deleted.
    pub retention: Duration,
    /// Where reports go; `None` when there is no `[email]` section.
    pub email: Option<Email>,
    pub heartbeat: Option<Heartbeat>,
    pub alert_commands: Vec<AlertCommand>,
    /// Where to write the static status page after every run.
    pub status_page: Option<PathBuf>,
    /// Where to write the Prometheus textfile after every run.
    pub prometheus_textfile: Option<PathBuf>,
    /// In config-file order.
    pub services: Vec<Service>,
    /// Test-only fault injection; always `None` in release builds.
    pub fault: Option<Fault>,
    /// Said on stderr by every command: secrets that other users can read.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Service {
    pub name: String,
    pub target: Target,
    pub timeout: Duration,
    pub policy: AlertPolicy,
    /// What to run when it keeps failing (the watchdog), if anything.
    pub restart: Option<Restart>,
}

/// The watchdog: after `after` failing runs in a row, run `argv`, at most
/// `limit` times per `window`, each bounded by `timeout`.
#[derive(Debug, Clone, PartialEq)]
pub struct Restart {
    pub argv: Vec<String>,
    pub after: u32,
    pub limit: u32,
    pub window: Duration,
    pub timeout: Duration,
    /// The config's folder, as for command checks.
    pub dir: PathBuf,
}

/// `[heartbeat]`: a dead-man's switch pinged after every run.
#[derive(Debug, Clone)]
pub struct Heartbeat {
    /// Requested after every completed run.
    pub url: String,
    /// Requested after a failed run, when set.
    pub fail_url: Option<String>,
    pub timeout: Duration,
}

/// `[[alert_command]]`: run once per due notification of the kinds in `on`.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertCommand {
    pub argv: Vec<String>,
    /// The per-service notices it runs for.
    pub on: Vec<crate::alert::Notice>,
    /// Whether it also runs for the fallback alert (upcheck itself failed).
    pub on_fallback: bool,
    pub timeout: Duration,
    pub dir: PathBuf,
}

impl AlertCommand {
    /// How the database names this command: its argv as JSON.
    pub fn key(&self) -> String {
        serde_json::to_string(&self.argv).unwrap_or_default()
    }
}

/// What to probe, and what counts as passing.
#[derive(Debug, Clone)]
pub enum Target {
    Http(HttpTarget),
    /// `host:port`, connected to with a plain TCP handshake.
    Tcp(String),
    Command(CommandTarget),
}

#[derive(Debug, Clone)]
pub struct HttpTarget {
    pub url: String,
    pub method: String,
    pub headers: Vec<(String, String)>,
    /// Empty: any 2xx or 3xx.
    pub expect_status: Vec<u16>,
    pub body_contains: Option<String>,
    pub slow_after: Option<Duration>,
    /// https only: a certificate expiring sooner than this is degraded.
    pub cert_warn: Duration,
    /// PEM roots to trust instead of the built-in Mozilla set (internal CAs).
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct CommandTarget {
    /// argv; `argv[0]` is resolved against the config folder when it is a relative path.
    pub argv: Vec<String>,
    /// The config's folder: relative arguments work the same from cron or a shell.
    pub dir: PathBuf,
}

#[derive(Debug, Clone)]
pub struct Email {
    pub to: Vec<String>,
    pub from: String,
    pub transport: Transport,
}

#[derive(Debug, Clone)]
pub enum Transport {
    Smtp(Smtp),
    Sendmail,
    /// Each message as an `.eml` file in this folder.
    File(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub user: Option<String>,
    pub password: Option<PasswordSource>,
    /// PEM roots to trust for the server's certificate (a private relay).
    pub ca_file: Option<PathBuf>,
    /// Bounds the connect and each SMTP command.
    pub timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    Starttls,
    Tls,
    None,
}

/// Where the SMTP password is read from, when mail is actually sent: a
/// missing password must not stop `upcheck status`.
#[derive(Debug, Clone)]
pub enum PasswordSource {
    Env(String),
    File(PathBuf),
}

impl PasswordSource {
    pub fn read(&self) -> Result<String> {
        match self {
            PasswordSource::Env(name) => std::env::var(name)
                .map_err(|_| anyhow!("environment variable {name} (smtp_password_env) is not set")),
            PasswordSource::File(path) => read_capped(path, MAX_PASSWORD_BYTES)
                .map(|s| s.trim_end_matches(['\r', '\n']).to_string())
                .with_context(|| format!("reading smtp_password_file {}", path.display())),
        }
    }
}

#[cfg_attr(not(debug_assertions), allow(dead_code))]
/// Faults the integration tests inject to prove that nothing is lost when a
/// late step fails. Only debug builds read `UPCHECK_TEST_FAULT`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    /// Fail the run right after its checks are stored.
    AfterStore,
    /// Panic right after the checks are stored.
    PanicAfterStore,
    /// Panic inside every probe thread.
    PanicInProbes,
    /// Die (abort, as under kill -9) right after the mail server accepted
    /// the digest, before that is recorded.
    AbortAfterSend,
}

/// A mistake in the config: exit code 2, nothing probed, nothing sent.
#[derive(Debug)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": ")?;
        if let Some(key) = &self.key {
            write!(f, "key `{key}`: ")?;
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    /// A problem with the file as a whole, not one line of it.
    pub fn whole_file(file: &Path, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: file.to_path_buf(),
            line: None,
            key: None,
            message: message.into(),
        }
    }
}

impl Config {
    /// Finds the config (`--config`, `$UPCHECK_CONFIG`, `./upcheck.toml`,
    /// `/etc/upcheck/upcheck.toml`) and loads it.
    pub fn discover(explicit: Option<&Path>) -> Result<Config> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => match std::env::var_os(CONFIG_ENV) {
                Some(p) if !p.is_empty() => PathBuf::from(p),
                _ => DEFAULT_LOCATIONS
                    .iter()
                    .map(PathBuf::from)
                    .find(|p| p.exists())
                    .ok_or_else(|| {
                        ConfigError::whole_file(
                            Path::new(DEFAULT_LOCATIONS[0]),
                            format!(
                                "no config file found (looked for ./{} and {}); pass --config FILE or set {CONFIG_ENV}",
                                DEFAULT_LOCATIONS[0], DEFAULT_LOCATIONS[1]
                            ),
                        )
                    })?,
            },
        };
        Config::load(&path)
    }

    pub fn load(path: &Path) -> Result<Config> {
        let text = read_capped(path, MAX_CONFIG_BYTES)
            .map_err(|e| ConfigError::whole_file(path, format!("cannot read: {e}")))?;
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let fault = test_fault();
        let mut config = parse(&path, &text, fault)?;
        config.warnings = exposure_warnings(&config);
        Ok(config)
    }

    /// The lock file that keeps two runs from interleaving, beside the database.
    pub fn lock_path(&self) -> PathBuf {
        let mut name = self.database.as_os_str().to_owned();
        name.push(".lock");
        PathBuf::from(name)
    }
}

#[cfg(debug_assertions)]
fn test_fault() -> Option<Fault> {
    match std::env::var("UPCHECK_TEST_FAULT").ok()?.as_str() {
        "after-store" => Some(Fault::AfterStore),
        "panic-after-store" => Some(Fault::PanicAfterStore),
        "panic-in-probes" => Some(Fault::PanicInProbes),
        "abort-after-send" => Some(Fault::AbortAfterSend),
        _ => None,
    }
}

#[cfg(not(debug_assertions))]
fn test_fault() -> Option<Fault> {
    None
}

// ---------------------------------------------------------------------------
// The private serde mirror of the TOML. Values that can be checked on their
// own are checked while deserializing, so toml reports them with their span.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    title: Option<Spanned<String>>,
    database: Option<String>,
    timeout: Option<Dur>,
    parallel: Option<Spanned<i64>>,
    run_timeout: Option<Dur>,
    lock_timeout: Option<Dur>,
    retention: Option<Dur>,
    status_page: Option<String>,
    prometheus_textfile: Option<String>,
    // Defaults for every service, each overridable in a [[service]].
    alert_after: Option<Count>,
    recover_after: Option<Count>,
    remind: Option<RemindValue>,
    notify_recovery: Option<bool>,
    slow_after: Option<Dur>,
    cert_warn: Option<Dur>,
    ca_file: Option<String>,
    email: Option<RawEmail>,
    heartbeat: Option<RawHeartbeat>,
    #[serde(default)]
    alert_command: Vec<RawAlertCommand>,
    #[serde(default)]
    service: Vec<RawService>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeartbeat {
    url: HttpUrl,
    fail_url: Option<HttpUrl>,
    timeout: Option<Dur>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlertCommand {
    command: Argv,
    on: Option<Vec<AlertKind>>,
    timeout: Option<Dur>,
}

/// The kinds an alert command may ask for.
#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum AlertKind {
    Down,
    Reminder,
    Recovery,
    Fallback,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    name: Spanned<String>,
    url: Option<HttpUrl>,
    tcp: Option<TcpAddr>,
    command: Option<Argv>,
    method: Option<Method>,
    #[serde(default)]
    headers: BTreeMap<String, HeaderValue>,
    expect_status: Option<Vec<StatusCode>>,
    body_contains: Option<String>,
    timeout: Option<Dur>,
    alert_after: Option<Count>,
    recover_after: Option<Count>,
    remind: Option<RemindValue>,
    notify_recovery: Option<bool>,
    slow_after: Option<Dur>,
    cert_warn: Option<Dur>,
    ca_file: Option<String>,
    restart: Option<Argv>,
    restart_after: Option<Count>,
    restart_limit: Option<Count>,
    restart_window: Option<Dur>,
    restart_timeout: Option<Dur>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEmail {
    to: Spanned<Vec<String>>,
    from: Spanned<String>,
    transport: Option<Spanned<TransportKind>>,
    smtp_host: Option<String>,
    smtp_port: Option<u16>,
    smtp_tls: Option<SmtpTls>,
    smtp_user: Option<String>,
    smtp_password_env: Option<String>,
    smtp_password_file: Option<String>,
    smtp_ca_file: Option<String>,
    smtp_timeout: Option<Dur>,
    outbox: Option<String>,
}

#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "lowercase")]
enum TransportKind {
    Smtp,
    Sendmail,
    File,
}

/// Parses a value with `parse`, turning its error into a serde error so toml
/// attaches the span of the offending value.
fn from_str<'de, D, T>(d: D, parse: impl FnOnce(&str) -> Result<T, String>) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    let s = String::deserialize(d)?;
    parse(&s).map_err(de::Error::custom)
}

/// A positive duration.
#[derive(Clone, Copy)]
struct Dur(Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_str(d, |s| {
            let dur = parse_duration(s)?;
            if dur.is_zero() {
                return Err(format!("{s:?} must be greater than zero"));
            }
            Ok(Dur(dur))
        })
    }
}

/// A run count: 1 or more.
#[derive(Clone, Copy)]
struct Count(u32);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        match u32::try_from(n) {
            Ok(n) if n >= 1 => Ok(Count(n)),
            _ => Err(de::Error::custom(format!(
                "must be a whole number of runs, 1 or more (got {n})"
            ))),
        }
    }
}

#[derive(Clone, Copy)]
struct RemindValue(Remind);

impl<'de> Deserialize<'de> for RemindValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_str(d, |s| match s {
            "exponential" => Ok(RemindValue(Remind::Exponential)),
            "never" => Ok(RemindValue(Remind::Never)),
            other => match parse_duration(other) {
                Ok(dur) if !dur.is_zero() => Ok(RemindValue(Remind::Every(dur))),
                _ => Err(format!(
                    "expected \"exponential\", \"never\" or a duration like \"6h\", got {other:?}"
                )),
            },
        })
    }
}

struct HttpUrl(String);

impl<'de> Deserialize<'de> for HttpUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_str(d, |s| {
            let bad = |why: &str| format!("invalid URL {:?}: {why}", redacted_url(s));
            if !s.contains("://") {
                return Err(bad("it needs http:// or https://"));
            }
            let uri: ureq::http::Uri = s.parse().map_err(|e| bad(&format!("{e}")))?;
            match uri.scheme_str() {
                Some("http" | "https") => {}
                Some(other) => return Err(bad(&format!("scheme {other:?} is not http or https"))),
                None => return Err(bad("it needs http:// or https://")),
            }
            if uri.host().is_none_or(str::is_empty) {
                return Err(bad("it has no host"));
            }
            Ok(HttpUrl(s.to_string()))
        })
    }
}

struct TcpAddr(String);

impl<'de> Deserialize<'de> for TcpAddr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_str(d, |s| {
            let bad =
                || format!("invalid address {s:?}: expected host:port, e.g. \"127.0.0.1:5432\"");
            let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
            let host = host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(host);
            if host.is_empty() || host.contains(['/', ' ']) {
                return Err(bad());
            }
            match port.parse::<u16>() {
                Ok(p) if p > 0 => Ok(TcpAddr(s.to_string())),
                _ => Err(bad()),
            }
        })
    }
}

struct Argv(Vec<String>);

impl<'de> Deserialize<'de> for Argv {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let argv = Vec::<String>::deserialize(d)?;
        if argv.first().is_none_or(|p| p.trim().is_empty()) {
            return Err(de::Error::custom(
                "expected a program and its arguments, e.g. [\"/usr/local/bin/check-backup\", \"--max-age\", \"26h\"]",
            ));
        }
        Ok(Argv(argv))
    }
}

struct Method(String);

impl<'de> Deserialize<'de> for Method {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_str(d, |s| {
            let m = s.to_ascii_uppercase();
            match ureq::http::Method::from_bytes(m.as_bytes()) {
                Ok(_) if !m.is_empty() => Ok(Method(m)),
                _ => Err(format!("invalid HTTP method {s:?}")),
            }
        })
    }
}

struct HeaderValue(String);

impl<'de> Deserialize<'de> for HeaderValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_str(d, |s| {
            ureq::http::HeaderValue::from_str(s)
                .map(|_| HeaderValue(s.to_string()))
                .map_err(|_| {
                    "header values may not contain control characters or newlines".to_string()
                })
        })
    }
}

struct StatusCode(u16);

impl<'de> Deserialize<'de> for StatusCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        match u16::try_from(n) {
            Ok(n @ 100..=599) => Ok(StatusCode(n)),
            _ => Err(de::Error::custom(format!(
                "{n} is not an HTTP status code (100 to 599)"
            ))),
        }
    }
}

// ---------------------------------------------------------------------------
// From the mirror to the Config.

/// Where in the text an error sits, and under which key.
struct Located {
    span: Option<std::ops::Range<usize>>,
    key: Option<String>,
    message: String,
}

/// Far more than 10,000 services take (about 600 KiB): a bigger file is not
/// a config, and `--config /dev/zero` must not eat the machine's memory.
const MAX_CONFIG_BYTES: u64 = 16 * 1024 * 1024;
const MAX_PASSWORD_BYTES: u64 = 64 * 1024;

/// A text file read whole, refusing one larger than `max` bytes.
fn read_capped(path: &Path, max: u64) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(max + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > max {
        return Err(std::io::Error::other(format!(
            "larger than {} KiB",
            max / 1024
        )));
    }
    Ok(text)
}

/// Secrets that every user on the machine can read: the password file, or
/// a config holding credentials (HTTP headers, a password in a URL). Group
/// access is left alone: `root:upcheck 0640` is the intended install.
fn exposure_warnings(config: &Config) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    // Readable by others, and reachable: every folder above it lets others in.
    let readable_by_all = |path: &Path| {
        let path = std::fs::canonicalize(path).ok()?;
        let reachable = path
            .ancestors()
            .skip(1)
            .all(|dir| std::fs::metadata(dir).is_ok_and(|m| m.permissions().mode() & 0o001 != 0));
        std::fs::metadata(&path)
            .ok()
            .map(|m| m.permissions().mode() & 0o777)
            .filter(|mode| reachable && mode & 0o004 != 0)
    };
    let mut warnings = Vec::new();
    let password_file = config
        .email
        .as_ref()
        .and_then(|e| match &e.transport {
            Transport::Smtp(s) => s.password.as_ref(),
            _ => None,
        })
        .and_then(|p| match p {
            PasswordSource::File(path) => Some(path),
            PasswordSource::Env(_) => None,
        });
    if let Some(path) = password_file
        && let Some(mode) = readable_by_all(path)
    {
        warnings.push(format!(
            "smtp_password_file {} is readable by every user (mode {mode:04o}); run: chmod o-rwx {}",
            path.display(),
            path.display()
        ));
    }
    if holds_credentials(config)
        && let Some(mode) = readable_by_all(&config.path)
    {
        warnings.push(format!(
            "{} holds credentials (HTTP headers or a password in a URL) and is readable by every user (mode {mode:04o}); run: chmod o-rwx {}",
            config.path.display(),
            config.path.display()
        ));
    }
    warnings
}

fn holds_credentials(config: &Config) -> bool {
    // Header names that carry credentials by convention.
    let secret_header = |name: &str| {
        let name = name.to_ascii_lowercase();
        [
            "authorization",
            "cookie",
            "token",
            "key",
            "secret",
            "auth",
            "password",
        ]
        .iter()
        .any(|word| name.contains(word))
    };
    let http = config.services.iter().any(|s| match &s.target {
        Target::Http(h) => {
            h.headers.iter().any(|(name, _)| secret_header(name)) || url_has_password(&h.url)
        }
        _ => false,
    });
    let heartbeat = config.heartbeat.as_ref().is_some_and(|h| {
        url_has_password(&h.url) || h.fail_url.as_deref().is_some_and(url_has_password)
    });
    http || heartbeat
}

/// `scheme://user:password@host/...`
fn url_has_password(url: &str) -> bool {
    url_password_span(url).is_some()
}

/// Where the password of `scheme://user:password@host/...` sits in `url`.
fn url_password_span(url: &str) -> Option<std::ops::Range<usize>> {
    let start = url.find("://")? + 3;
    let rest = &url[start..];
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let (userinfo, _) = authority.rsplit_once('@')?;
    let colon = userinfo.find(':')?;
    Some(start + colon + 1..start + userinfo.len())
}

/// `url` as it may be shown: a password in it replaced by `***`.
pub fn redacted_url(url: &str) -> String {
    match url_password_span(url) {
        Some(span) => format!("{}***{}", &url[..span.start], &url[span.end..]),
        None => url.to_string(),
    }
}

/// Longest service name or title: they head table rows and email subjects.
const MAX_LABEL_CHARS: usize = 100;

/// Service names and the title are one-line labels in subjects, tables,
/// metrics and the database: no control characters (a newline would break
/// the text email's table), no invisible ones that reorder or hide text.
fn label_problem(label: &str) -> Option<String> {
    if label.chars().count() > MAX_LABEL_CHARS {
        return Some(format!("longer than {MAX_LABEL_CHARS} characters"));
    }
    let bad = label.chars().find(|c| {
        c.is_control() || (c.is_whitespace() && *c != ' ') || crate::check::is_invisible(*c)
    })?;
    Some(format!(
        "contains the character {:?} (U+{:04X}): names and titles are one line of visible text",
        bad, bad as u32
    ))
}

fn at(span: std::ops::Range<usize>, key: impl Into<String>, message: impl Into<String>) -> Located {
    Located {
        span: Some(span),
        key: Some(key.into()),
        message: message.into(),
    }
}

fn parse(path: &Path, text: &str, fault: Option<Fault>) -> Result<Config, ConfigError> {
    let to_error = |e: Located| ConfigError {
        file: path.to_path_buf(),
        line: e
            .span
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1),
        key: e.key,
        message: e.message,
    };
    let deserializer = toml::Deserializer::parse(text).map_err(|e| {
        to_error(Located {
            span: e.span(),
            key: None,
            message: e.message().trim().to_string(),
        })
    })?;
    let raw: RawConfig = serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let key = key_path(e.path());
        let inner = e.into_inner();
        to_error(Located {
            span: inner.span(),
            key,
            message: inner.message().trim().to_string(),
        })
    })?;
    let dir = path.parent().unwrap_or(Path::new("/")).to_path_buf();
    build(raw, path, &dir, fault).map_err(to_error)
}

/// `service[3].timeout` (1-based: "the third [[service]]").
fn key_path(path: &serde_path_to_error::Path) -> Option<String> {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => out.push_str(&format!("[{}]", index + 1)),
            // toml::Spanned's own wrapper is not a key the user wrote.
            Segment::Map { key } if key.starts_with("$__serde_spanned") => {}
            Segment::Map { key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Enum { variant } => out.push_str(&format!("::{variant}")),
            Segment::Unknown => {}
        }
    }
    (!out.is_empty()).then_some(out)
}

fn build(
    mut raw: RawConfig,
    path: &Path,
    dir: &Path,
    fault: Option<Fault>,
) -> Result<Config, Located> {
    let resolve = |p: &str| dir.join(p);
    let host = host_name();
    let parallel = match &raw.parallel {
        None => 32,
        Some(p) => match usize::try_from(*p.get_ref()) {
            Ok(n) if n >= 1 => n,
            _ => return Err(at(p.span(), "parallel", "must be 1 or more")),
        },
    };
    let default_timeout = raw.timeout.map_or(Duration::from_secs(10), |d| d.0);
    let raw_services = std::mem::take(&mut raw.service);
    let raw_email = raw.email.take();
    let heartbeat = raw.heartbeat.take().map(|h| Heartbeat {
        url: h.url.0,
        fail_url: h.fail_url.map(|u| u.0),
        timeout: h.timeout.map_or(Duration::from_secs(10), |d| d.0),
    });
    let alert_commands = std::mem::take(&mut raw.alert_command)
        .into_iter()
        .map(|c| {
            let on = c.on.unwrap_or_else(|| {
                vec![
                    AlertKind::Down,
                    AlertKind::Reminder,
                    AlertKind::Recovery,
                    AlertKind::Fallback,
                ]
            });
            AlertCommand {
                argv: resolve_program(c.command.0, dir),
                on_fallback: on.iter().any(|k| matches!(k, AlertKind::Fallback)),
                on: on
                    .into_iter()
                    .filter_map(|k| match k {
                        AlertKind::Down => Some(crate::alert::Notice::Down),
                        AlertKind::Reminder => Some(crate::alert::Notice::Reminder),
                        AlertKind::Recovery => Some(crate::alert::Notice::Recovery),
                        AlertKind::Fallback => None,
                    })
                    .collect(),
                timeout: c.timeout.map_or(Duration::from_secs(30), |d| d.0),
                dir: dir.to_path_buf(),
            }
        })
        .collect();
    let defaults = &raw;
    let mut services = Vec::with_capacity(raw.service.len());
    let mut seen = HashSet::new();
    for (i, s) in raw_services.into_iter().enumerate() {
        let key = |k: &str| format!("service[{}].{k}", i + 1);
        let name_span = s.name.span();
        let name = s.name.into_inner();
        if name.trim().is_empty() {
            return Err(at(
                name_span,
                key("name"),
                "a service needs a non-empty name",
            ));
        }
        if let Some(problem) = label_problem(&name) {
            return Err(at(name_span, key("name"), problem));
        }
        if !seen.insert(name.clone()) {
            return Err(at(
                name_span,
                key("name"),
                format!("duplicate service name {name:?}"),
            ));
        }
        if s.url.is_none() {
            let http_only = [
                ("method", s.method.is_some()),
                ("headers", !s.headers.is_empty()),
                ("expect_status", s.expect_status.is_some()),
                ("body_contains", s.body_contains.is_some()),
                ("slow_after", s.slow_after.is_some()),
                ("cert_warn", s.cert_warn.is_some()),
                ("ca_file", s.ca_file.is_some()),
            ];
            if let Some((k, _)) = http_only.iter().find(|(_, present)| *present) {
                return Err(at(
                    name_span,
                    key(k),
                    format!("`{k}` applies only to `url` checks"),
                ));
            }
        }
        let target = match (s.url, s.tcp, s.command) {
            (Some(url), None, None) => Target::Http(HttpTarget {
                url: url.0,
                method: s.method.map_or_else(|| "GET".to_string(), |m| m.0),
                headers: s.headers.into_iter().map(|(k, v)| (k, v.0)).collect(),
                expect_status: s
                    .expect_status
                    .unwrap_or_default()
                    .into_iter()
                    .map(|c| c.0)
                    .collect(),
                body_contains: s.body_contains,
                slow_after: s.slow_after.or(defaults.slow_after).map(|d| d.0),
                cert_warn: s
                    .cert_warn
                    .or(defaults.cert_warn)
                    .map_or(Duration::from_secs(14 * 86_400), |d| d.0),
                ca_file: s
                    .ca_file
                    .as_deref()
                    .or(defaults.ca_file.as_deref())
                    .map(resolve),
            }),
            (None, Some(addr), None) => Target::Tcp(addr.0),
            (None, None, Some(argv)) => Target::Command(CommandTarget {
                argv: resolve_program(argv.0, dir),
                dir: dir.to_path_buf(),
            }),
            _ => {
                return Err(at(
                    name_span,
                    key("name"),
                    format!("service {name:?} needs exactly one of `url`, `tcp` or `command`"),
                ));
            }
        };
        let policy = AlertPolicy {
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
        };
        let restart_keys = [
            ("restart_after", s.restart_after.is_some()),
            ("restart_limit", s.restart_limit.is_some()),
            ("restart_window", s.restart_window.is_some()),
            ("restart_timeout", s.restart_timeout.is_some()),
        ];
        let stray_restart_key = restart_keys.iter().find(|(_, present)| *present);
        if let (None, Some((k, _))) = (&s.restart, stray_restart_key) {
            return Err(at(name_span, key(k), format!("`{k}` needs `restart` too")));
        }
        let restart = s.restart.map(|argv| Restart {
            argv: resolve_program(argv.0, dir),
            after: s.restart_after.map_or(2, |c| c.0),
            limit: s.restart_limit.map_or(3, |c| c.0),
            window: s.restart_window.map_or(Duration::from_secs(3600), |d| d.0),
            timeout: s.restart_timeout.map_or(Duration::from_secs(60), |d| d.0),
            dir: dir.to_path_buf(),
        });
        services.push(Service {
            name,
            target,
            timeout: s.timeout.map_or(default_timeout, |d| d.0),
            policy,
            restart,
        });
    }
    let email = raw_email.map(|e| build_email(e, dir)).transpose()?;
    if let Some(title) = &raw.title
        && let Some(problem) = label_problem(title.get_ref())
    {
        return Err(at(title.span(), "title", problem));
    }
    Ok(Config {
        path: path.to_path_buf(),
        title: raw
            .title
            .map(Spanned::into_inner)
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| host.clone()),
        host,
        database: resolve(raw.database.as_deref().unwrap_or("upcheck.db")),
        parallel,
        run_timeout: raw.run_timeout.map_or(Duration::from_secs(240), |d| d.0),
        lock_timeout: raw.lock_timeout.map_or(Duration::from_secs(30), |d| d.0),
        retention: raw
            .retention
            .map_or(Duration::from_secs(90 * 86_400), |d| d.0),
        email,
        heartbeat,
        alert_commands,
        status_page: raw.status_page.as_deref().map(resolve),
        prometheus_textfile: raw.prometheus_textfile.as_deref().map(resolve),
        services,
        fault,
        warnings: Vec::new(),
    })
}

fn build_email(e: RawEmail, dir: &Path) -> Result<Email, Located> {
    let to_span = e.to.span();
    let to = e.to.into_inner();
    if to.is_empty() || to.iter().any(|a| a.trim().is_empty()) {
        return Err(at(to_span, "email.to", "needs at least one address"));
    }
    let from_span = e.from.span();
    let from = e.from.into_inner();
    if from.trim().is_empty() {
        return Err(at(from_span, "email.from", "needs an address"));
    }
    let (kind, kind_span) = match e.transport {
        Some(t) => (*t.get_ref(), t.span()),
        None => (TransportKind::Smtp, from_span),
    };
    let smtp_keys = [
        ("smtp_host", e.smtp_host.is_some()),
        ("smtp_port", e.smtp_port.is_some()),
        ("smtp_tls", e.smtp_tls.is_some()),
        ("smtp_user", e.smtp_user.is_some()),
        ("smtp_password_env", e.smtp_password_env.is_some()),
        ("smtp_password_file", e.smtp_password_file.is_some()),
        ("smtp_ca_file", e.smtp_ca_file.is_some()),
        ("smtp_timeout", e.smtp_timeout.is_some()),
    ];
    let stray_smtp_key = smtp_keys.iter().find(|(_, present)| *present);
    if let (true, Some((k, _))) = (kind != TransportKind::Smtp, stray_smtp_key) {
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
    let transport = match kind {
        TransportKind::Sendmail => Transport::Sendmail,
        TransportKind::File => Transport::File(dir.join(e.outbox.as_deref().unwrap_or("outbox"))),
        TransportKind::Smtp => {
            let host = e
                .smtp_host
                .filter(|h| !h.trim().is_empty())
                .ok_or_else(|| {
                    at(
                        kind_span.clone(),
                        "email.smtp_host",
                        "transport \"smtp\" needs smtp_host",
                    )
                })?;
            let tls = e.smtp_tls.unwrap_or(SmtpTls::Starttls);
            let password = match (e.smtp_password_env, e.smtp_password_file) {
                (Some(_), Some(_)) => {
                    return Err(at(
                        kind_span,
                        "email.smtp_password_file",
                        "set smtp_password_env or smtp_password_file, not both",
                    ));
                }
                (Some(var), None) => Some(PasswordSource::Env(var)),
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
            Transport::Smtp(Smtp {
                host,
                port: e.smtp_port.unwrap_or(match tls {
                    SmtpTls::Starttls => 587,
                    SmtpTls::Tls => 465,
                    SmtpTls::None => 25,
                }),
                tls,
                user: e.smtp_user,
                password,
                ca_file: e.smtp_ca_file.map(|f| dir.join(f)),
                timeout: e.smtp_timeout.map_or(Duration::from_secs(30), |d| d.0),
            })
        }
    };
    Ok(Email {
        to,
        from,
        transport,
    })
}

/// `./check.sh` means the one beside the config, not in cron's working directory;
/// a bare name is looked up in PATH as usual.
fn resolve_program(mut argv: Vec<String>, dir: &Path) -> Vec<String> {
    let program = Path::new(&argv[0]);
    if program.is_relative() && argv[0].contains('/') {
        argv[0] = dir.join(program).to_string_lossy().into_owned();
    }
    argv
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config, ConfigError> {
        parse(Path::new("/srv/up/upcheck.toml"), text, None)
    }

    /// `check(toml, expected error)`: the whole message, file, line and key.
    fn check_err(text: &str, expected: &str) {
        match load(text) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(e) => assert_eq!(e.to_string(), expected, "for:\n{text}"),
        }
    }

    #[test]
    fn defaults_apply_and_paths_resolve_against_the_config_folder() {
        let c = load(
            r#"
            [[service]]
            name = "web"
            url = "https://example.com/health"
            [[service]]
            name = "script"
            command = ["./check.sh", "x"]
            "#,
        )
        .unwrap();
        assert_eq!(c.database, Path::new("/srv/up/upcheck.db"));
        assert_eq!(c.parallel, 32);
        assert_eq!(c.retention, Duration::from_secs(90 * 86_400));
        let web = &c.services[0];
        assert_eq!(web.timeout, Duration::from_secs(10));
        assert_eq!(
            web.policy,
            AlertPolicy {
                alert_after: 2,
                recover_after: 1,
                remind: Remind::Exponential,
                notify_recovery: true
            }
        );
        let Target::Http(h) = &web.target else {
            panic!()
        };
        assert_eq!(h.method, "GET");
        assert_eq!(h.cert_warn, Duration::from_secs(14 * 86_400));
        let Target::Command(cmd) = &c.services[1].target else {
            panic!()
        };
        assert_eq!(cmd.argv, ["/srv/up/./check.sh", "x"]);
    }

    #[test]
    fn services_override_the_top_level_defaults() {
        let c = load(
            r#"
            timeout = "3s"
            alert_after = 4
            remind = "6h"
            [[service]]
            name = "a"
            tcp = "127.0.0.1:22"
            [[service]]
            name = "b"
            tcp = "[::1]:22"
            timeout = "500ms"
            alert_after = 1
            remind = "never"
            notify_recovery = false
            "#,
        )
        .unwrap();
        assert_eq!(c.services[0].timeout, Duration::from_secs(3));
        assert_eq!(c.services[0].policy.alert_after, 4);
        assert_eq!(
            c.services[0].policy.remind,
            Remind::Every(Duration::from_secs(6 * 3600))
        );
        assert_eq!(c.services[1].timeout, Duration::from_millis(500));
        assert_eq!(c.services[1].policy.alert_after, 1);
        assert_eq!(c.services[1].policy.remind, Remind::Never);
        assert!(!c.services[1].policy.notify_recovery);
    }

    #[test]
    fn every_mistake_names_file_line_and_key() {
        let f = "/srv/up/upcheck.toml";
        check_err(
            "titel = \"x\"",
            &format!(
                "{f}:1: key `titel`: unknown field `titel`, expected one of `title`, `database`, `timeout`, `parallel`, `run_timeout`, `lock_timeout`, `retention`, `status_page`, `prometheus_textfile`, `alert_after`, `recover_after`, `remind`, `notify_recovery`, `slow_after`, `cert_warn`, `ca_file`, `email`, `heartbeat`, `alert_command`, `service`"
            ),
        );
        check_err(
            "\n[[service]]\nname = \"a\"\ntcp = \"h:1\"\ncolour = 1",
            &format!(
                "{f}:5: key `service[1].colour`: unknown field `colour`, expected one of `name`, `url`, `tcp`, `command`, `method`, `headers`, `expect_status`, `body_contains`, `timeout`, `alert_after`, `recover_after`, `remind`, `notify_recovery`, `slow_after`, `cert_warn`, `ca_file`, `restart`, `restart_after`, `restart_limit`, `restart_window`, `restart_timeout`"
            ),
        );
        check_err(
            "timeout = \"10 seconds\"",
            &format!(
                "{f}:1: key `timeout`: invalid duration \"10 seconds\": expected a whole number and a unit (ms, s, m, h, d), e.g. \"10s\""
            ),
        );
        check_err(
            "timeout = \"0s\"",
            &format!("{f}:1: key `timeout`: \"0s\" must be greater than zero"),
        );
        check_err(
            "parallel = 0",
            &format!("{f}:1: key `parallel`: must be 1 or more"),
        );
        check_err(
            "alert_after = 0",
            &format!("{f}:1: key `alert_after`: must be a whole number of runs, 1 or more (got 0)"),
        );
        check_err(
            "remind = \"sometimes\"",
            &format!(
                "{f}:1: key `remind`: expected \"exponential\", \"never\" or a duration like \"6h\", got \"sometimes\""
            ),
        );
        check_err(
            "[[service]]\nname = \"a\"\nurl = \"ftp://x\"",
            &format!(
                "{f}:3: key `service[1].url`: invalid URL \"ftp://x\": scheme \"ftp\" is not http or https"
            ),
        );
        check_err(
            "[[service]]\nname = \"a\"\nurl = \"example.com/health\"",
            &format!(
                "{f}:3: key `service[1].url`: invalid URL \"example.com/health\": it needs http:// or https://"
            ),
        );
        check_err(
            "[[service]]\nname = \"a\"\ntcp = \"localhost\"",
            &format!(
                "{f}:3: key `service[1].tcp`: invalid address \"localhost\": expected host:port, e.g. \"127.0.0.1:5432\""
            ),
        );
        check_err(
            "[[service]]\nname = \"a\"\ncommand = []",
            &format!(
                "{f}:3: key `service[1].command`: expected a program and its arguments, e.g. [\"/usr/local/bin/check-backup\", \"--max-age\", \"26h\"]"
            ),
        );
        check_err(
            "[[service]]\nname = \"a\"\ntcp = \"h:1\"\n[[service]]\nname = \"a\"\ntcp = \"h:2\"",
            &format!("{f}:5: key `service[2].name`: duplicate service name \"a\""),
        );
        check_err(
            "[[service]]\nname = \"a\"",
            &format!(
                "{f}:2: key `service[1].name`: service \"a\" needs exactly one of `url`, `tcp` or `command`"
            ),
        );
        check_err(
            "[[service]]\nname = \"a\"\ntcp = \"h:1\"\ncommand = [\"true\"]",
            &format!(
                "{f}:2: key `service[1].name`: service \"a\" needs exactly one of `url`, `tcp` or `command`"
            ),
        );
        check_err(
            "[[service]]\nname = \"a\"\ntcp = \"h:1\"\nbody_contains = \"ok\"",
            &format!(
                "{f}:2: key `service[1].body_contains`: `body_contains` applies only to `url` checks"
            ),
        );
        check_err(
            "[[service]]\nname = \"a\"\nurl = \"http://h/\"\nexpect_status = [200, 999]",
            &format!(
                "{f}:4: key `service[1].expect_status[2]`: 999 is not an HTTP status code (100 to 599)"
            ),
        );
        check_err(
            "[[service]]\nname = \"a\"\nurl = \"http://h/\"\nmethod = \"GE T\"",
            &format!("{f}:4: key `service[1].method`: invalid HTTP method \"GE T\""),
        );
        check_err(
            "[email]\nto = []\nfrom = \"a@b\"\ntransport = \"file\"",
            &format!("{f}:2: key `email.to`: needs at least one address"),
        );
        check_err(
            "[email]\nto = [\"a@b\"]\nfrom = \"a@b\"\ntransport = \"pigeon\"",
            &format!(
                "{f}:4: key `email.transport`: unknown variant `pigeon`, expected one of `smtp`, `sendmail`, `file`"
            ),
        );
        check_err(
            "[email]\nto = [\"a@b\"]\nfrom = \"a@b\"",
            &format!("{f}:3: key `email.smtp_host`: transport \"smtp\" needs smtp_host"),
        );
        check_err(
            "[email]\nto = [\"a@b\"]\nfrom = \"a@b\"\ntransport = \"file\"\nsmtp_host = \"x\"",
            &format!("{f}:4: key `email.smtp_host`: applies only to transport = \"smtp\""),
        );
        check_err(
            "title = ",
            &format!("{f}:1: string values must be quoted, expected literal string"),
        );
    }

    /// PRODUCT.md's sample config, every key in use.
    const SAMPLE: &str = r#"
title = "vps-1"
database = "upcheck.db"
timeout = "10s"
parallel = 32
alert_after = 2
recover_after = 1
remind = "exponential"
notify_recovery = true
retention = "90d"

[email]
to = ["ops@example.com"]
from = "upcheck <upcheck@example.com>"
transport = "smtp"
smtp_host = "smtp.example.com"
smtp_port = 587
smtp_tls = "starttls"
smtp_user = "upcheck"
smtp_password_env = "UPCHECK_SMTP_PASSWORD"

[[service]]
name = "price-api"
url = "https://example.com/api/health"
method = "GET"
headers = { Authorization = "Bearer ..." }
expect_status = [200]
body_contains = "ok"
slow_after = "2s"
cert_warn = "14d"
timeout = "5s"

[[service]]
name = "postgres"
tcp = "127.0.0.1:5432"

[[service]]
name = "backups-fresh"
command = ["/usr/local/bin/check-backup", "--max-age", "26h"]
"#;

    #[test]
    fn the_product_sample_config_loads() {
        let c = load(SAMPLE).unwrap();
        assert_eq!(c.services.len(), 3);
    }

    /// Mutated and random inputs: the loader may refuse them, never panic, and
    /// every refusal names the file.
    #[test]
    fn mangled_configs_get_clear_errors_never_a_panic() {
        // A longer campaign: UPCHECK_FUZZ_ROUNDS=300000 UPCHECK_FUZZ_SEED=7 cargo test mangled
        let setting = |name: &str, default: u64| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        let rounds = setting("UPCHECK_FUZZ_ROUNDS", 3000);
        let mut seed: u64 = setting("UPCHECK_FUZZ_SEED", 0x5eed);
        let mut next = |below: usize| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) as usize) % below.max(1)
        };
        let pieces = [
            "\"",
            "[",
            "]",
            "=",
            "\n",
            "[[service]]\n",
            "0",
            "-1",
            "\"0s\"",
            "{",
            "}",
            "é",
            "\u{0}",
            "#",
            "\"\"\"",
            "\\u202E",
            "\\n",
            "name = \"",
            "url = \"http://u:p@",
            "headers = { A = \"",
            "9999999999999999999999",
        ];
        for round in 0..rounds {
            let mut text = SAMPLE.as_bytes().to_vec();
            for _ in 0..1 + next(4) {
                let at = next(text.len());
                match next(4) {
                    0 => text.truncate(at),
                    1 => {
                        if at < text.len() {
                            text.remove(at);
                        }
                    }
                    2 => {
                        let piece = pieces[next(pieces.len())].as_bytes();
                        text.splice(at..at, piece.iter().copied());
                    }
                    _ => {
                        if let Some(b) = text.get_mut(at) {
                            *b = next(256) as u8;
                        }
                    }
                }
            }
            if round % 10 == 0 {
                text = (0..next(200)).map(|_| next(256) as u8).collect();
            }
            let input = String::from_utf8_lossy(&text).into_owned();
            match std::panic::catch_unwind(|| load(&input)) {
                Err(_) => panic!("the loader panicked on:\n{input}"),
                Ok(Err(e)) => assert!(e.to_string().starts_with("/srv/up/upcheck.toml"), "{e}"),
                Ok(Ok(_)) => {}
            }
        }
    }

    #[test]
    fn passwords_in_urls_are_redacted_and_nothing_else() {
        assert_eq!(
            redacted_url("https://mon:s3cr:et@host:8443/health?x=a@b"),
            "https://mon:***@host:8443/health?x=a@b"
        );
        assert_eq!(redacted_url("http://user@host/"), "http://user@host/");
        assert_eq!(redacted_url("http://host/a:b@c"), "http://host/a:b@c");
        assert!(!url_has_password("http://host:8080/"));
    }
}
