//! The plain-text and JSON views of service state: `run --dry-run`
//! (this run's results) and `status` (what the database knows). Pure: rows
//! in, strings and serializable structs out; the time comes in as `now`.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::hold::Hold;

use super::{Row, pct, table};
use crate::check::{CheckResult, Status};
use crate::timefmt::{human, iso, minute};

/// What `run --dry-run` prints: this run's results, problems first.
pub fn dry_run_text(title: &str, results: &[CheckResult]) -> String {
    let mut sorted: Vec<&CheckResult> = results.iter().collect();
    sorted.sort_by_key(|r| r.status);
    let failing = results.iter().filter(|r| r.status.is_failure()).count();
    let mut out = headline(title, failing, 0, results.len());
    let body = sorted
        .iter()
        .map(|r| {
            vec![
                r.service.clone(),
                r.status.to_string(),
                ms(r.response_ms),
                code(r.status_code),
                r.reason.clone().unwrap_or_default(),
            ]
        })
        .collect();
    out.push_str(&table(
        &["SERVICE", "STATUS", "TIME", "CODE", "REASON"],
        body,
    ));
    out
}

/// What `status` prints: latest status, since when, last response, uptime.
/// `network`: why the connectivity guard stopped the last run, if it did.
pub fn status_text(title: &str, rows: &[Row], now: DateTime<Utc>, network: Option<&str>) -> String {
    let failing = rows.iter().filter(|r| r.status.is_failure()).count();
    let unchecked = rows.iter().filter(|r| r.status == Status::Unknown).count();
    let mut out = headline(title, failing, unchecked, rows.len());
    if let Some(why) = network {
        out.push_str(&format!(
            "the last run {why}: nothing was checked; the statuses below are from before\n"
        ));
    }
    let ago = |t: DateTime<Utc>| {
        format!(
            "{} ({})",
            minute(t),
            human((now - t).to_std().unwrap_or_default())
        )
    };
    let body = rows
        .iter()
        .flat_map(|r| {
            let since = r.since.map_or_else(|| "never checked".to_string(), ago);
            let last = r.last.as_ref();
            let row = vec![
                r.name.clone(),
                r.status.to_string(),
                since,
                ms(last.and_then(|l| l.response_ms)),
                pct(r.uptime.h24),
                pct(r.uptime.d7),
                pct(r.uptime.d30),
                pct(r.uptime.all),
                super::reason_cell(r),
            ];
            // In a fleet, each probe's latest check under the fleet's decision.
            let probes = r.probes.iter().map(move |(probe, c)| {
                let mut cells = vec![
                    format!("  @{probe}"),
                    c.status.to_string(),
                    format!("checked {}", ago(c.checked_at)),
                    ms(c.response_ms),
                ];
                cells.extend([""; 4].map(String::from));
                cells.push(c.reason.clone().unwrap_or_default());
                cells
            });
            std::iter::once(row).chain(probes)
        })
        .collect();
    out.push_str(&table(
        &[
            "SERVICE", "STATUS", "SINCE", "RESPONSE", "24H", "7D", "30D", "ALL", "REASON",
        ],
        body,
    ));
    out
}

/// The documented shape of `status --json` (README, "JSON status").
#[derive(Serialize, Debug)]
pub struct StatusJson {
    pub title: String,
    pub generated_at: String,
    pub last_run: Option<String>,
    /// A guess from the spacing of the last two runs; `null` until there are two.
    pub next_run: Option<String>,
    /// Why the connectivity guard stopped the last run (nothing was checked).
    pub network_error: Option<String>,
    pub services: Vec<ServiceJson>,
}

#[derive(Serialize, Debug)]
pub struct ServiceJson {
    pub name: String,
    pub kind: &'static str,
    pub status: &'static str,
    pub since: Option<String>,
    pub last_check: Option<String>,
    pub next_check: Option<String>,
    pub response_ms: Option<u64>,
    pub status_code: Option<u16>,
    pub reason: Option<String>,
    pub cert_expires_at: Option<String>,
    pub uptime: UptimeJson,
    /// Until when its alerts are held by a silence or a maintenance window.
    pub silenced_until: Option<String>,
    pub silence_reason: Option<String>,
    /// The failing dependency its alerts wait for.
    pub held_by: Option<String>,
    /// `status.json` beside the status page only: the last 90 UTC days,
    /// oldest first, `uptime` null for a day without checks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days: Option<Vec<DayJson>>,
    /// A fleet only: each probe's latest check, by probe name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probes: Option<Vec<ProbeJson>>,
}

/// One probe's latest check of a service, in a fleet.
#[derive(Serialize, Debug)]
pub struct ProbeJson {
    pub probe: String,
    pub status: &'static str,
    pub checked_at: String,
    pub response_ms: Option<u64>,
    pub status_code: Option<u16>,
    pub reason: Option<String>,
}

#[derive(Serialize, Debug)]
pub struct DayJson {
    pub day: String,
    pub uptime: Option<f64>,
}

/// The status document with each service's last 90 days, for `status.json`.
pub fn with_days(
    mut doc: StatusJson,
    history: &crate::history::History,
    now: DateTime<Utc>,
) -> StatusJson {
    let today = now.date_naive();
    for service in &mut doc.services {
        let known = history.days.get(&service.name);
        let days = (0..crate::history::DAYS)
            .rev()
            .map(|offset| {
                let day = today - chrono::Duration::days(offset);
                DayJson {
                    day: day.format("%Y-%m-%d").to_string(),
                    uptime: known
                        .and_then(|d| d.iter().find(|d| d.day == day))
                        .map(|d| (d.uptime * 100.0).round() / 100.0),
                }
            })
            .collect();
        service.days = Some(days);
    }
    doc
}

#[derive(Serialize, Debug)]
pub struct UptimeJson {
    #[serde(rename = "24h")]
    pub h24: Option<f64>,
    #[serde(rename = "7d")]
    pub d7: Option<f64>,
    #[serde(rename = "30d")]
    pub d30: Option<f64>,
    pub all: Option<f64>,
}

/// When the scheduler will run upcheck next, guessed from the spacing of the
/// last two runs (`runs`: start times, newest first).
pub fn next_run(runs: &[DateTime<Utc>]) -> Option<DateTime<Utc>> {
    match runs {
        [last, previous, ..] => Some(*last + (*last - *previous)),
        _ => None,
    }
}

/// `runs`: start times of the latest runs, newest first.
pub fn status_json(
    title: &str,
    rows: &[Row],
    runs: &[DateTime<Utc>],
    now: DateTime<Utc>,
    network_error: Option<String>,
) -> StatusJson {
    let next_run = next_run(runs);
    StatusJson {
        network_error,
        title: title.to_string(),
        generated_at: iso(now),
        last_run: runs.first().map(|t| iso(*t)),
        next_run: next_run.map(iso),
        services: rows
            .iter()
            .map(|r| {
                let last = r.last.as_ref();
                ServiceJson {
                    name: r.name.clone(),
                    kind: r.kind,
                    status: r.status.as_str(),
                    since: r.since.map(iso),
                    last_check: last.map(|l| iso(l.checked_at)),
                    next_check: next_run.map(iso),
                    response_ms: last.and_then(|l| l.response_ms),
                    status_code: last.and_then(|l| l.status_code),
                    reason: last.and_then(|l| l.reason.clone()),
                    cert_expires_at: last.and_then(|l| l.cert_expires_at).map(iso),
                    silenced_until: r.hold.as_ref().and_then(Hold::until).map(iso),
                    silence_reason: r.hold.as_ref().and_then(|h| h.reason().map(String::from)),
                    held_by: match &r.hold {
                        Some(Hold::Dependency { on }) => Some(on.clone()),
                        _ => None,
                    },
                    days: None,
                    probes: (!r.probes.is_empty()).then(|| {
                        r.probes
                            .iter()
                            .map(|(probe, c)| ProbeJson {
                                probe: probe.clone(),
                                status: c.status.as_str(),
                                checked_at: iso(c.checked_at),
                                response_ms: c.response_ms,
                                status_code: c.status_code,
                                reason: c.reason.clone(),
                            })
                            .collect()
                    }),
                    uptime: UptimeJson {
                        h24: r.uptime.h24,
                        d7: r.uptime.d7,
                        d30: r.uptime.d30,
                        all: r.uptime.all,
                    },
                }
            })
            .collect(),
    }
}

/// A service added since the last run is not checked yet: it is neither
/// online nor failing, and "all online" would claim too much.
fn headline(title: &str, failing: usize, unchecked: usize, total: usize) -> String {
    let plural = if total == 1 { "" } else { "s" };
    if failing == 0 && unchecked > 0 {
        format!(
            "{title}: {} of {total} service{plural} online, {unchecked} not checked yet\n\n",
            total - unchecked
        )
    } else if failing == 0 {
        format!("{title}: all {total} service{plural} online\n\n")
    } else {
        format!("{title}: {failing} of {total} service{plural} failing\n\n")
    }
}

fn ms(v: Option<u64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v}ms"))
}

fn code(v: Option<u16>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::parse_iso;

    fn at(s: &str) -> DateTime<Utc> {
        parse_iso(s).unwrap()
    }

    #[test]
    fn dry_run_lists_problems_first_with_reasons() {
        let t = at("2026-11-21T10:00:00Z");
        let mut ok = CheckResult::new("web", t, Status::Online);
        ok.response_ms = Some(12);
        ok.status_code = Some(200);
        let down = CheckResult::new("db", t, Status::Offline).with_reason("connection refused");
        let text = dry_run_text("vps-1", &[ok, down]);
        assert_eq!(
            text,
            "vps-1: 1 of 2 services failing\n\n\
             SERVICE  STATUS   TIME  CODE  REASON\n\
             db       offline  -     -     connection refused\n\
             web      online   12ms  200\n"
        );
    }

    #[test]
    fn next_run_is_guessed_from_the_last_two() {
        let runs = [at("2026-11-21T10:05:00Z"), at("2026-11-21T10:00:00Z")];
        let j = status_json("t", &[], &runs, at("2026-11-21T10:06:00Z"), None);
        assert_eq!(j.next_run.as_deref(), Some("2026-11-21T10:10:00.000Z"));
        assert_eq!(
            status_json("t", &[], &runs[..1], runs[0], None).next_run,
            None
        );
    }

    #[test]
    fn the_headline_never_calls_an_unchecked_service_online() {
        assert_eq!(headline("vps", 0, 0, 3), "vps: all 3 services online\n\n");
        assert_eq!(
            headline("vps", 0, 1, 3),
            "vps: 2 of 3 services online, 1 not checked yet\n\n"
        );
        assert_eq!(headline("vps", 1, 1, 3), "vps: 1 of 3 services failing\n\n");
    }
}
