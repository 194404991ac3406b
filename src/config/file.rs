//! The private serde mirror of `upcheck.toml` (`Raw*`), and `parse`: text →
//! mirror. Values that can be checked on their own are checked while
//! deserializing, so toml reports them with their span; [`Located`] turns
//! that span into the line of a [`ConfigError`].

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer};
use toml::Spanned;

use super::secrets::redacted_url;
use super::{ConfigError, SmtpTls};
use crate::alert::Remind;
use crate::timefmt::parse_duration;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) title: Option<Spanned<String>>,
    pub(super) database: Option<Spanned<String>>,
    pub(super) database_password_env: Option<Spanned<String>>,
    pub(super) database_password_file: Option<Spanned<String>>,
    pub(super) probe: Option<Spanned<String>>,
    pub(super) confirm: Option<Spanned<Count>>,
    pub(super) fresh_within: Option<Spanned<Dur>>,
    pub(super) state_dir: Option<Spanned<String>>,
    pub(super) timeout: Option<Dur>,
    pub(super) parallel: Option<Spanned<i64>>,
    pub(super) run_timeout: Option<Dur>,
    pub(super) lock_timeout: Option<Dur>,
    pub(super) retention: Option<Dur>,
    pub(super) status_page: Option<Spanned<String>>,
    pub(super) status_page_details: Option<PageDetailsKind>,
    pub(super) badges: Option<Spanned<String>>,
    pub(super) prometheus_textfile: Option<Spanned<String>>,
    // Defaults for every service, each overridable in a [[service]].
    pub(super) alert_after: Option<Count>,
    pub(super) recover_after: Option<Count>,
    pub(super) remind: Option<RemindValue>,
    pub(super) notify_recovery: Option<bool>,
    pub(super) slow_after: Option<Dur>,
    pub(super) cert_warn: Option<Dur>,
    pub(super) ca_file: Option<Spanned<String>>,
    pub(super) proxy: Option<ProxyUrl>,
    pub(super) retries: Option<Retries>,
    pub(super) retry_delay: Option<Dur>,
    pub(super) email: Option<RawEmail>,
    pub(super) report: Option<Spanned<RawReport>>,
    pub(super) heartbeat: Option<RawHeartbeat>,
    #[serde(default)]
    pub(super) alert_command: Vec<RawAlertCommand>,
    #[serde(default)]
    pub(super) service: Vec<RawService>,
    #[serde(default)]
    pub(super) maintenance: Vec<Spanned<RawMaintenance>>,
    pub(super) connectivity: Option<RawConnectivity>,
}

/// `[connectivity]`: what this host must reach for its checks to mean anything.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConnectivity {
    pub(super) targets: Spanned<Vec<TcpAddr>>,
    pub(super) timeout: Option<Dur>,
}

/// `[[maintenance]]`: a window, recurring (`schedule` + `duration`) or once
/// (`from` + `until`), when the named services' alerts wait.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMaintenance {
    pub(super) services: Option<Spanned<Vec<String>>>,
    pub(super) schedule: Option<Spanned<Schedule>>,
    pub(super) duration: Option<Dur>,
    pub(super) timezone: Option<Spanned<Zone>>,
    pub(super) from: Option<Spanned<Time>>,
    pub(super) until: Option<Spanned<Time>>,
    pub(super) reason: Option<String>,
}

/// A five-field cron pattern (minute, hour, day of month, month, day of week).
#[derive(Clone)]
pub(super) struct Schedule(pub(super) croner::Cron, pub(super) String);

impl<'de> Deserialize<'de> for Schedule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use croner::parser::{CronParser, Seconds, Year};
        from_str(d, |s| {
            CronParser::builder()
                .seconds(Seconds::Disallowed)
                .year(Year::Disallowed)
                .build()
                .parse(s)
                .map(|cron| Schedule(cron, s.trim().to_string()))
                .map_err(|e| {
                    format!(
                        "invalid schedule {s:?}: expected five cron fields (minute hour day-of-month month day-of-week), e.g. \"0 2 * * sun\" ({e})"
                    )
                })
        })
    }
}

/// An IANA time zone name, found in the system's time zone database.
#[derive(Clone)]
pub(super) struct Zone(pub(super) jiff::tz::TimeZone, pub(super) String);

impl<'de> Deserialize<'de> for Zone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_str(d, |s| {
            crate::timefmt::zone(s).map(|tz| Zone(tz, s.to_string()))
        })
    }
}

/// An RFC 3339 time, with its offset (`2026-12-24T18:00:00+01:00`).
#[derive(Clone, Copy)]
pub(super) struct Time(pub(super) chrono::DateTime<chrono::Utc>);

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_str(d, |s| {
            crate::timefmt::parse_iso(s).map(Time).ok_or_else(|| {
                format!("invalid time {s:?}: expected RFC 3339 with an offset, e.g. \"2026-12-24T18:00:00+01:00\"")
            })
        })
    }
}

/// `[report]`: the periodic summary email.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReport {
    pub(super) every: Every,
    pub(super) to: Option<Spanned<Vec<String>>>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub(super) enum Every {
    Week,
    Month,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHeartbeat {
    pub(super) url: HttpUrl,
    pub(super) fail_url: Option<Spanned<HttpUrl>>,
    pub(super) timeout: Option<Dur>,
    pub(super) method: Option<HeartbeatMethod>,
    pub(super) style: Option<Spanned<HeartbeatStyle>>,
}

/// `[heartbeat] method`.
#[derive(Deserialize, Clone, Copy)]
pub(super) enum HeartbeatMethod {
    #[serde(rename = "GET")]
    Get,
    #[serde(rename = "POST")]
    Post,
}

/// `[heartbeat] style`.
#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "lowercase")]
pub(super) enum HeartbeatStyle {
    Plain,
    Healthchecks,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAlertCommand {
    pub(super) command: Argv,
    pub(super) on: Option<Vec<AlertKind>>,
    pub(super) timeout: Option<Dur>,
}

/// The kinds an alert command may ask for.
#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub(super) enum AlertKind {
    Down,
    Reminder,
    Recovery,
    Network,
    Fallback,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawService {
    pub(super) name: Spanned<String>,
    pub(super) url: Option<HttpUrl>,
    pub(super) tcp: Option<TcpAddr>,
    pub(super) command: Option<Argv>,
    pub(super) tls: Option<TcpAddr>,
    pub(super) starttls: Option<StartTlsKind>,
    pub(super) dns: Option<DnsName>,
    pub(super) record: Option<RecordKind>,
    pub(super) expect: Option<Spanned<Vec<String>>>,
    pub(super) server: Option<Spanned<String>>,
    pub(super) proxy: Option<ProxyUrl>,
    pub(super) method: Option<Method>,
    #[serde(default)]
    pub(super) headers: BTreeMap<String, HeaderValue>,
    pub(super) expect_status: Option<Vec<StatusCode>>,
    pub(super) body_contains: Option<String>,
    pub(super) body: Option<String>,
    #[serde(default)]
    pub(super) json: BTreeMap<String, JsonScalar>,
    pub(super) body_matches: Option<Pattern>,
    pub(super) body_not_contains: Option<String>,
    #[serde(default)]
    pub(super) expect_headers: BTreeMap<String, String>,
    pub(super) follow_redirects: Option<bool>,
    pub(super) timeout: Option<Dur>,
    pub(super) alert_after: Option<Count>,
    pub(super) recover_after: Option<Count>,
    pub(super) remind: Option<RemindValue>,
    pub(super) notify_recovery: Option<bool>,
    pub(super) slow_after: Option<Dur>,
    pub(super) cert_warn: Option<Dur>,
    pub(super) ca_file: Option<Spanned<String>>,
    pub(super) retries: Option<Retries>,
    pub(super) retry_delay: Option<Dur>,
    pub(super) depends_on: Option<Spanned<Vec<String>>>,
    pub(super) restart: Option<Argv>,
    pub(super) restart_after: Option<Count>,
    pub(super) restart_limit: Option<Count>,
    pub(super) restart_window: Option<Dur>,
    pub(super) restart_timeout: Option<Dur>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEmail {
    pub(super) to: Spanned<Vec<String>>,
    pub(super) from: Spanned<String>,
    pub(super) transport: Option<Spanned<TransportKind>>,
    pub(super) smtp_host: Option<String>,
    pub(super) smtp_port: Option<u16>,
    pub(super) smtp_tls: Option<SmtpTls>,
    pub(super) smtp_user: Option<String>,
    pub(super) smtp_password_env: Option<String>,
    pub(super) smtp_password_file: Option<String>,
    pub(super) smtp_ca_file: Option<Spanned<String>>,
    pub(super) smtp_timeout: Option<Dur>,
    pub(super) outbox: Option<Spanned<String>>,
}

#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "lowercase")]
pub(super) enum TransportKind {
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
pub(super) struct Dur(pub(super) Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_str(d, |s| {
            let dur = parse_duration(s)?;
            if dur.is_zero() {
                return Err(format!("{s:?} must be greater than zero"));
            }
            within_the_calendar(s, dur)?;
            Ok(Dur(dur))
        })
    }
}

/// Durations are added to and taken from dates (retention, restart windows,
/// reminders, certificate warnings): one that would carry a date past the
/// year 9999, counted from now, is a typo, and would overflow the date
/// arithmetic of every run.
fn within_the_calendar(text: &str, dur: Duration) -> Result<(), String> {
    let last_day = chrono::NaiveDate::from_ymd_opt(9999, 12, 31)
        .and_then(|d| d.and_hms_opt(23, 59, 59))
        .map(|t| t.and_utc());
    let fits = chrono::TimeDelta::from_std(dur)
        .ok()
        .and_then(|d| chrono::Utc::now().checked_add_signed(d))
        .zip(last_day)
        .is_some_and(|(end, last)| end <= last);
    if fits {
        Ok(())
    } else {
        Err(format!(
            "{text:?} is too large: it would carry a date past the year 9999"
        ))
    }
}

/// A run count: 1 or more.
#[derive(Clone, Copy)]
pub(super) struct Count(pub(super) u32);

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

/// A regular expression, compiled once, at load.
#[derive(Clone)]
pub(super) struct Pattern(pub(super) regex::Regex);

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_str(d, |s| {
            regex::RegexBuilder::new(s)
                // A pattern is a config value, not a program: bounded.
                .size_limit(1 << 20)
                .build()
                .map(Pattern)
                .map_err(|e| {
                    let why = e.to_string();
                    let last = why.lines().last().unwrap_or_default().trim();
                    let last = last.strip_prefix("error: ").unwrap_or(last);
                    format!("invalid regular expression {s:?}: {last}")
                })
        })
    }
}

/// What a JSON Pointer must find: a string, a number or a boolean.
#[derive(Clone)]
pub(super) struct JsonScalar(pub(super) serde_json::Value);

impl<'de> Deserialize<'de> for JsonScalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = toml::Value::deserialize(d)?;
        let json = match value {
            toml::Value::String(s) => serde_json::Value::String(s),
            toml::Value::Integer(i) => serde_json::Value::from(i),
            toml::Value::Float(f) => serde_json::Value::from(f),
            toml::Value::Boolean(b) => serde_json::Value::Bool(b),
            other => {
                return Err(de::Error::custom(format!(
                    "expected a string, number or boolean to compare with, got {}",
                    other.type_str()
                )));
            }
        };
        Ok(JsonScalar(json))
    }
}

/// Attempts after a failing one within a run: 0 to `MAX_RETRIES`.
#[derive(Clone, Copy)]
pub(super) struct Retries(pub(super) u32);

/// More than a few retries only delays the alert: a service that fails
/// eleven times in a row within a run is down.
const MAX_RETRIES: u32 = 10;

impl<'de> Deserialize<'de> for Retries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        match u32::try_from(n) {
            Ok(n) if n <= MAX_RETRIES => Ok(Retries(n)),
            _ => Err(de::Error::custom(format!(
                "must be a whole number from 0 to {MAX_RETRIES} (got {n})"
            ))),
        }
    }
}

#[derive(Clone, Copy)]
pub(super) struct RemindValue(pub(super) Remind);

impl<'de> Deserialize<'de> for RemindValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_str(d, |s| match s {
            "exponential" => Ok(RemindValue(Remind::Exponential)),
            "never" => Ok(RemindValue(Remind::Never)),
            other => match parse_duration(other) {
                Ok(dur) if !dur.is_zero() => {
                    within_the_calendar(other, dur)?;
                    Ok(RemindValue(Remind::Every(dur)))
                }
                _ => Err(format!(
                    "expected \"exponential\", \"never\" or a duration like \"6h\", got {other:?}"
                )),
            },
        })
    }
}

pub(super) struct HttpUrl(pub(super) String);

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

pub(super) struct TcpAddr(pub(super) String);

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

/// `status_page_details`.
#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub(super) enum PageDetailsKind {
    Full,
    Status,
}

/// What a `tls` check says before its handshake.
#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub(super) enum StartTlsKind {
    Smtp,
    Imap,
    Pop3,
}

/// The record type a `dns` check asks for.
#[derive(Deserialize, Clone, Copy)]
pub(super) enum RecordKind {
    A,
    #[serde(rename = "AAAA")]
    Aaaa,
    #[serde(rename = "CNAME")]
    Cname,
    #[serde(rename = "MX")]
    Mx,
    #[serde(rename = "TXT")]
    Txt,
    #[serde(rename = "NS")]
    Ns,
}

/// A domain name to look up: letters, digits, hyphens and dots (a name in
/// another script is turned into its punycode form, as a resolver would).
pub(super) struct DnsName(pub(super) String);

impl<'de> Deserialize<'de> for DnsName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_str(d, |s| {
            host_name(s).map(DnsName).ok_or_else(|| {
                format!(
                    "invalid domain name {s:?}: labels of 1 to 63 characters, 253 in all, e.g. \"www.example.com\""
                )
            })
        })
    }
}

/// A host name as DNS carries it: ASCII (punycode), lower-case, no final dot.
pub(super) fn host_name(text: &str) -> Option<String> {
    let trimmed = text.trim().trim_end_matches('.');
    let ascii = idna::domain_to_ascii(trimmed).ok()?;
    let fits = !ascii.is_empty()
        && ascii.len() <= 253
        && ascii.split('.').all(|l| (1..=63).contains(&l.len()));
    fits.then_some(ascii)
}

/// An `http://` proxy (`host:port`), for HTTP and HTTPS checks.
pub(super) struct ProxyUrl(pub(super) String);

impl<'de> Deserialize<'de> for ProxyUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_str(d, |s| {
            // A proxy URL may hold a password: never echoed.
            let bad = |why: &str| {
                format!(
                    "invalid proxy {:?}: {why}; expected e.g. \"http://proxy.internal:3128\"",
                    redacted_url(s)
                )
            };
            let uri: ureq::http::Uri = s.parse().map_err(|_| bad("not a URL"))?;
            if uri.scheme_str() != Some("http") {
                return Err(bad("only http:// proxies are supported"));
            }
            if uri.host().is_none_or(str::is_empty) {
                return Err(bad("it has no host"));
            }
            // What the probe will hand to the HTTP library at every run.
            ureq::Proxy::new(s).map_err(|_| bad("its user or password does not decode to text"))?;
            Ok(ProxyUrl(s.to_string()))
        })
    }
}

pub(super) struct Argv(pub(super) Vec<String>);

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

pub(super) struct Method(pub(super) String);

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

pub(super) struct HeaderValue(pub(super) String);

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

pub(super) struct StatusCode(pub(super) u16);

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

/// Where in the text an error sits, and under which key.
pub(super) struct Located {
    pub(super) span: Option<Range<usize>>,
    pub(super) key: Option<String>,
    pub(super) message: String,
}

/// A mistake at `span` of the text, under `key`.
pub(super) fn at(
    span: Range<usize>,
    key: impl Into<String>,
    message: impl Into<String>,
) -> Located {
    Located {
        span: Some(span),
        key: Some(key.into()),
        message: message.into(),
    }
}

impl Located {
    /// The error as the user sees it, the span turned into a line number.
    pub(super) fn into_error(self, file: &Path, text: &str) -> ConfigError {
        ConfigError {
            file: file.to_path_buf(),
            line: self
                .span
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1),
            key: self.key,
            message: self.message,
        }
    }
}

/// The text as the mirror, or its first TOML syntax error, unknown key or
/// value that is wrong on its own.
pub(super) fn parse(text: &str) -> Result<RawConfig, Located> {
    let deserializer = toml::Deserializer::parse(text).map_err(|e| {
        let message = e.message().trim().to_string();
        // toml says "duplicate key" and points at it: name it, as every
        // other error does (a second `[email]` table, a key set twice).
        let key = e
            .span()
            .filter(|_| message.starts_with("duplicate key"))
            .and_then(|s| text.get(s))
            .map(|k| k.trim().trim_matches(['[', ']']).trim().to_string())
            .filter(|k| !k.is_empty());
        Located {
            span: e.span(),
            key,
            message,
        }
    })?;
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let key = key_path(e.path());
        let inner = e.into_inner();
        Located {
            span: inner.span(),
            key,
            message: inner.message().trim().to_string(),
        }
    })
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
