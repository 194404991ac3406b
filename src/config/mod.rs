//! Finding, reading and validating `upcheck.toml` into one plain [`Config`]:
//! every default applied, every path absolute, every mistake reported with
//! file, line and key. The only module that reads environment variables.
//! Here: the validated types and loading; `file` parses, `build` validates.

mod build;
mod checks;
mod database;
mod dns;
mod file;
mod noise;
mod secrets;
mod target;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use serde::Deserialize;

use crate::alert::AlertPolicy;
use file::Located;
pub use secrets::redacted_url;

/// Where the config is looked for when `--config` is not given.
pub const CONFIG_ENV: &str = "UPCHECK_CONFIG";
const DEFAULT_LOCATIONS: [&str; 2] = ["upcheck.toml", "/etc/upcheck/upcheck.toml"];

/// How an email address is checked while loading: the mail module's own
/// parser, handed in by `main`, so the config accepts exactly the addresses
/// mail can send to, and says so with file, line and key.
pub type AddressCheck = fn(&str) -> Result<(), String>;

/// Everything a run needs to know, validated. No serde or clap types in here.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file this came from (absolute).
    pub path: PathBuf,
    /// Report title; the host name unless set.
    pub title: String,
    /// The host upcheck runs on, for footers and fallback alerts.
    pub host: String,
    /// Where the history lives: an SQLite file, or a fleet's PostgreSQL.
    pub database: Database,
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
    /// `[report]`: the periodic summary, sent through `email`'s transport.
    pub report: Option<Report>,
    pub heartbeat: Option<Heartbeat>,
    pub alert_commands: Vec<AlertCommand>,
    /// Where to write the static status page after every run.
    pub status_page: Option<PathBuf>,
    /// How much the status page and its `status.json` tell.
    pub status_page_details: PageDetails,
    /// The folder for each service's status and uptime badges.
    pub badges: Option<PathBuf>,
    /// Where to write the Prometheus textfile after every run.
    pub prometheus_textfile: Option<PathBuf>,
    /// In config-file order.
    pub services: Vec<Service>,
    /// `[[maintenance]]` windows, in file order.
    pub maintenance: Vec<Maintenance>,
    /// `[connectivity]`: probed first; when none answers, nothing else is.
    pub connectivity: Option<Connectivity>,
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
    /// A failing probe is tried again up to this many more times in a run,
    /// `retry_delay` apart.
    pub retries: u32,
    pub retry_delay: Duration,
    /// Services this one needs: while one of them (or one they need) fails,
    /// this one's own alerts and restarts wait.
    pub depends_on: Vec<String>,
    pub policy: AlertPolicy,
    /// What to run when it keeps failing (the watchdog), if anything.
    pub restart: Option<Restart>,
}

/// `[connectivity]`: TCP `host:port` targets outside this host's network,
/// each tried within `timeout`.
#[derive(Debug, Clone)]
pub struct Connectivity {
    pub targets: Vec<String>,
    pub timeout: Duration,
}

/// A `[[maintenance]]` window: while it is open, the alerts and restarts of
/// its services wait (they are still probed and stored).
#[derive(Debug, Clone)]
pub struct Maintenance {
    /// `None`: every service.
    pub services: Option<Vec<String>>,
    pub when: Window,
    pub reason: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Window {
    /// Opens at every match of `schedule` (five-field cron, wall time in
    /// `timezone`) and stays open `duration` of real time.
    Every {
        schedule: Box<croner::Cron>,
        /// As written, for people.
        pattern: String,
        duration: Duration,
        timezone: jiff::tz::TimeZone,
        /// The zone's name, as written (`UTC` unless set).
        zone_name: String,
    },
    /// Open from `from` until `until`.
    Once {
        from: chrono::DateTime<chrono::Utc>,
        until: chrono::DateTime<chrono::Utc>,
    },
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
    /// Requested after a failed run, when set (not with `healthchecks`).
    pub fail_url: Option<String>,
    /// Every try of a ping, retries included, ends within this.
    pub timeout: Duration,
    /// `method = "POST"`: a plain-text summary of the run as the body.
    pub post: bool,
    /// `style = "healthchecks"`: `url/start?rid=R` as a run begins,
    /// `url/N?rid=R` as it ends (N its exit status), POST with the summary.
    pub healthchecks: bool,
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

/// `payments API` → `payments-api`: lower-case, every run of other
/// characters than a-z and 0-9 made one `-`, none at either end.
pub fn badge_slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

/// `[report]`: a summary email after every period.
#[derive(Debug, Clone)]
pub struct Report {
    pub every: Period,
    /// Default: `[email] to`.
    pub to: Vec<String>,
}

/// A report's period, in UTC: weeks start on Monday 00:00, months on the 1st.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Week,
    Month,
}

/// `status_page_details`: what a page the public may see leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageDetails {
    /// Everything, as the email.
    Full,
    /// Names, statuses, uptime, bars and outages: no reasons, HTTP codes or
    /// response times (they can carry internal names, addresses, errors).
    Status,
}

/// What to probe, and what counts as passing.
#[derive(Debug, Clone)]
pub enum Target {
    Http(Box<HttpTarget>),
    /// `host:port`, connected to with a plain TCP handshake.
    Tcp(String),
    Command(CommandTarget),
    Tls(TlsTarget),
    Dns(DnsTarget),
}

/// `tls = "host:port"`: a verified handshake, after a STARTTLS dialogue if asked.
#[derive(Debug, Clone)]
pub struct TlsTarget {
    pub addr: String,
    pub starttls: Option<StartTls>,
    /// A certificate expiring sooner than this is degraded.
    pub cert_warn: Duration,
    /// PEM roots to trust instead of the built-in Mozilla set.
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartTls {
    Smtp,
    Imap,
    Pop3,
}

impl StartTls {
    pub fn as_str(self) -> &'static str {
        match self {
            StartTls::Smtp => "SMTP",
            StartTls::Imap => "IMAP",
            StartTls::Pop3 => "POP3",
        }
    }
}

/// `dns = "name"`: one query to `server`, its answer held to `expect`.
#[derive(Debug, Clone)]
pub struct DnsTarget {
    /// ASCII (punycode), without the final dot.
    pub name: String,
    pub record: DnsRecord,
    /// Each must be in the answer, normalized: addresses as parsed, names
    /// lower-case without the final dot, MX as its exchange's name.
    pub expect: Vec<String>,
    pub server: std::net::SocketAddr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsRecord {
    A,
    Aaaa,
    Cname,
    Mx,
    Txt,
    Ns,
}

impl DnsRecord {
    pub fn as_str(self) -> &'static str {
        match self {
            DnsRecord::A => "A",
            DnsRecord::Aaaa => "AAAA",
            DnsRecord::Cname => "CNAME",
            DnsRecord::Mx => "MX",
            DnsRecord::Txt => "TXT",
            DnsRecord::Ns => "NS",
        }
    }
}

#[derive(Debug, Clone)]
pub struct HttpTarget {
    pub url: String,
    pub method: String,
    pub headers: Vec<(String, String)>,
    /// Empty: any 2xx or 3xx.
    pub expect_status: Vec<u16>,
    pub body_contains: Option<String>,
    /// The request's body; a POST, PUT or PATCH without one sends an empty
    /// body with `Content-Length: 0`.
    pub body: Option<String>,
    /// `(JSON Pointer, expected value)`, in key order.
    pub json: Vec<(String, serde_json::Value)>,
    pub body_matches: Option<regex::Regex>,
    pub body_not_contains: Option<String>,
    /// `(header name, text its value must hold)`.
    pub expect_headers: Vec<(String, String)>,
    /// false: a 3xx is the answer, not followed.
    pub follow_redirects: bool,
    pub slow_after: Option<Duration>,
    /// https only: a certificate expiring sooner than this is degraded.
    pub cert_warn: Duration,
    /// PEM roots to trust instead of the built-in Mozilla set (internal CAs).
    pub ca_file: Option<PathBuf>,
    /// `http://host:port` every request (and the certificate's handshake)
    /// goes through; `None`: straight to the target, whatever the environment says.
    pub proxy: Option<String>,
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

/// Where the history lives.
#[derive(Debug, Clone)]
pub enum Database {
    /// The SQLite file (absolute).
    Sqlite(PathBuf),
    Postgres(Postgres),
}

/// A PostgreSQL database shared by a fleet of probes.
#[derive(Debug, Clone)]
pub struct Postgres {
    /// The connection URL without a password, `sslmode` or `sslrootcert`.
    pub url: String,
    pub password: Option<PasswordSource>,
    pub sslmode: SslMode,
    /// `sslrootcert`: the CA that signed the server's certificate; the
    /// built-in roots when `None`.
    pub ca_file: Option<PathBuf>,
    pub fleet: Fleet,
    /// This host's run lock, in `state_dir` (the config's folder unless set).
    pub lock: PathBuf,
    /// Where a run that could not reach the database keeps its checks for
    /// the next run that can, in `state_dir`.
    pub spool: PathBuf,
    /// How long the server lets a session sit idle before ending it (and
    /// the fleet's lock with it): longer than any gap between a run's
    /// statements, which all end within run_timeout.
    pub idle_limit: Duration,
}

/// How this probe's checks count in the fleet's decisions.
#[derive(Debug, Clone)]
pub struct Fleet {
    /// This host's name in the shared history.
    pub probe: String,
    /// Failing when at least this many probes' latest checks fail.
    pub confirm: u32,
    /// Other probes' checks older than this are not counted.
    pub fresh_within: Duration,
}

/// libpq's `sslmode`, less the two that fall back to plain text silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    /// Encrypted; the certificate is not checked.
    Require,
    /// Encrypted; the certificate chains to a trusted CA, whatever its name.
    VerifyCa,
    /// Encrypted; the certificate chains to a trusted CA and names the host.
    VerifyFull,
}

impl Database {
    /// The SQLite file, when the history is one.
    pub fn file(&self) -> Option<&Path> {
        match self {
            Database::Sqlite(path) => Some(path),
            Database::Postgres(_) => None,
        }
    }

    /// How messages and emails name it: the path, or the URL (which never
    /// holds the password).
    pub fn shown(&self) -> String {
        match self {
            Database::Sqlite(path) => path.display().to_string(),
            Database::Postgres(pg) => pg.url.clone(),
        }
    }

    /// Whether there is anything to read yet: a PostgreSQL server is
    /// asked (and its schema created) by connecting.
    pub fn exists(&self) -> bool {
        match self {
            Database::Sqlite(path) => path.exists(),
            Database::Postgres(_) => true,
        }
    }

    /// The fleet's settings; a single SQLite host is a fleet of one.
    pub fn fleet(&self) -> Option<&Fleet> {
        match self {
            Database::Sqlite(_) => None,
            Database::Postgres(pg) => Some(&pg.fleet),
        }
    }
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
        self.read_for("smtp_password")
    }

    /// The password; errors name the config key, `{key}_env` or `{key}_file`.
    pub fn read_for(&self, key: &str) -> Result<String> {
        match self {
            PasswordSource::Env(name) => std::env::var(name)
                .map_err(|_| anyhow!("environment variable {name} ({key}_env) is not set")),
            PasswordSource::File(path) => read_capped(path, MAX_PASSWORD_BYTES)
                .map(|s| s.trim_end_matches(['\r', '\n']).to_string())
                .with_context(|| format!("reading {key}_file {}", path.display())),
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
    pub fn discover(explicit: Option<&Path>, address: AddressCheck) -> Result<Config> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => match std::env::var_os(CONFIG_ENV) {
                Some(p) if !p.is_empty() => PathBuf::from(p),
                _ => default_location(&DEFAULT_LOCATIONS)?,
            },
        };
        Config::load(&path, address)
    }

    pub fn load(path: &Path, address: AddressCheck) -> Result<Config> {
        let text = read_capped(path, MAX_CONFIG_BYTES).map_err(|e| {
            ConfigError::whole_file(path, format!("cannot read: {}", io_reason(&e)))
        })?;
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let fault = test_fault();
        let mut config = parse(&path, &text, fault, address)?;
        config.warnings = secrets::exposure_warnings(&config);
        Ok(config)
    }

    /// A config from `text`, as if read from `/srv/up/upcheck.toml`, for
    /// other modules' unit tests (no file, no environment).
    #[cfg(test)]
    pub fn from_text(text: &str) -> Result<Config, ConfigError> {
        parse(Path::new("/srv/up/upcheck.toml"), text, None, |_| Ok(()))
    }

    /// The lock file that keeps two runs from interleaving, beside the database.
    pub fn lock_path(&self) -> PathBuf {
        match &self.database {
            Database::Sqlite(path) => {
                let mut name = path.as_os_str().to_owned();
                name.push(".lock");
                PathBuf::from(name)
            }
            Database::Postgres(pg) => pg.lock.clone(),
        }
    }
}

/// The text of the config at `path` as a [`Config`], or its first mistake
/// with line and key.
fn parse(
    path: &Path,
    text: &str,
    fault: Option<Fault>,
    address: AddressCheck,
) -> Result<Config, ConfigError> {
    let to_error = |e: Located| e.into_error(path, text);
    let raw = file::parse(text).map_err(to_error)?;
    let dir = path.parent().unwrap_or(Path::new("/"));
    build::build(&raw, path, dir, fault, address).map_err(to_error)
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

/// Far more than 10,000 services take (about 600 KiB): a bigger file is not
/// a config, and `--config /dev/zero` must not eat the machine's memory.
const MAX_CONFIG_BYTES: u64 = 16 * 1024 * 1024;
const MAX_PASSWORD_BYTES: u64 = 64 * 1024;

/// An I/O error as said about the config; a permission denied names the
/// user, who is often not the one who wrote the file (a unit's `User=`).
fn io_reason(e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::PermissionDenied {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let uid = unsafe { libc::geteuid() };
        return format!(
            "{e}: this user (uid {uid}) may not read it, or not search a folder above it"
        );
    }
    e.to_string()
}

/// The first default location that exists. If none does but one could not
/// be looked at (a folder this user may not search), that one, so that
/// reading it says why, rather than "no config file found".
fn default_location(locations: &[&str]) -> Result<PathBuf, ConfigError> {
    let mut unseen = None;
    for path in locations.iter().map(PathBuf::from) {
        match path.try_exists() {
            Ok(true) => return Ok(path),
            Ok(false) => {}
            Err(_) => {
                unseen.get_or_insert(path);
            }
        }
    }
    unseen.ok_or_else(|| {
        let looked: Vec<String> = locations
            .iter()
            .map(|l| match Path::new(l).is_relative() {
                true => format!("./{l}"),
                false => l.to_string(),
            })
            .collect();
        ConfigError::whole_file(
            Path::new(locations[0]),
            format!(
                "no config file found (looked for {}); pass --config FILE or set {CONFIG_ENV}",
                looked.join(" and ")
            ),
        )
    })
}

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

#[cfg(test)]
mod slug_tests {
    use super::badge_slug;

    #[test]
    fn slugs_are_lower_case_with_one_dash_between_words() {
        assert_eq!(badge_slug("Payments API"), "payments-api");
        assert_eq!(badge_slug("--web (eu/1)--"), "web-eu-1");
        assert_eq!(badge_slug("Bücher"), "b-cher");
        assert_eq!(badge_slug("!!!"), "");
    }
}
