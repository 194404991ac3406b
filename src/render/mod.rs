//! Rendering: pure functions from plain structs to what people read (text
//! tables, JSON, the email, the status page, Prometheus text). Nothing here
//! does I/O, reads the clock or knows the database; `Row` is the view model
//! every output shares: one configured service and what is known of it.

pub mod badge;
pub mod digest;
pub mod email;
pub mod html;
pub mod metrics;
pub mod report;
pub mod silences;
pub mod status;
pub mod text;

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::check::{CheckResult, ServiceSummary, Status, Uptime};
use crate::config::{Service, Target};
use crate::hold::{Hold, Quiet};

/// One configured service as the reports show it.
#[derive(Clone, Debug)]
pub struct Row {
    pub name: String,
    pub kind: &'static str,
    /// An https or tls check: it has a certificate to watch.
    pub has_certificate: bool,
    pub status: Status,
    pub since: Option<DateTime<Utc>>,
    pub last: Option<CheckResult>,
    pub uptime: Uptime,
    /// Why its own alerts wait, if they do (a silence, a maintenance window).
    pub hold: Option<Hold>,
    /// In a fleet: each probe's latest check of it, by probe name (empty
    /// with SQLite, where this host is the only probe).
    pub probes: Vec<(String, CheckResult)>,
}

/// Joins the configured services with what the database knows, problems first
/// (offline, timeout, degraded, unknown, online), config order within each.
pub fn rows(
    services: &[Service],
    summaries: &HashMap<String, ServiceSummary>,
    holds: &HashMap<String, Hold>,
) -> Vec<Row> {
    let mut rows: Vec<Row> = services
        .iter()
        .map(|s| {
            let summary = summaries.get(&s.name);
            Row {
                name: s.name.clone(),
                kind: kind(&s.target),
                has_certificate: match &s.target {
                    Target::Http(h) => h.url.starts_with("https:"),
                    Target::Tls(_) => true,
                    _ => false,
                },
                status: summary.map_or(Status::Unknown, |x| x.status),
                since: summary.map(|x| x.since),
                last: summary.map(|x| x.last.clone()),
                uptime: summary.map(|x| x.uptime).unwrap_or_default(),
                hold: holds.get(&s.name).cloned(),
                probes: Vec::new(),
            }
        })
        .collect();
    rows.sort_by_key(|r| r.status);
    rows
}

/// Each probe's latest check (`seen`: probe name and check), filed under
/// its service's row, by probe name.
pub fn with_probes(mut rows: Vec<Row>, seen: Vec<(String, CheckResult)>) -> Vec<Row> {
    for (probe, check) in seen {
        if let Some(row) = rows.iter_mut().find(|r| r.name == check.service) {
            row.probes.push((probe, check));
        }
    }
    for row in &mut rows {
        row.probes.sort_by(|a, b| a.0.cmp(&b.0));
    }
    rows
}

fn kind(t: &Target) -> &'static str {
    match t {
        Target::Http(_) => "http",
        Target::Tcp(_) => "tcp",
        Target::Command(_) => "command",
        Target::Tls(_) => "tls",
        Target::Dns(_) => "dns",
    }
}

/// The rows as a page the public may see tells them: statuses, times and
/// uptime, without reasons, HTTP codes, response times or why a silence
/// was set (each can carry internal names, addresses and error text).
pub fn without_details(rows: &[Row]) -> Vec<Row> {
    rows.iter()
        .cloned()
        .map(|mut r| {
            let lasts = r.last.iter_mut().chain(r.probes.iter_mut().map(|(_, c)| c));
            for last in lasts {
                last.reason = None;
                last.status_code = None;
                last.response_ms = None;
            }
            if let Some(Hold::Quiet { reason, .. }) = &mut r.hold {
                *reason = None;
            }
            r
        })
        .collect()
}

pub fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.2}%"))
}

/// How much of a name fits where space is tight: a subject, an HTML table
/// cell. Names may be 1,000 characters; these places show the start.
pub const SHORT_NAME: usize = 60;

/// `text` cut to `max` characters with an ellipsis, or whole if it fits.
pub fn short(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// "silenced until 2026-12-01 18:00 UTC: deploy": why a service's own
/// alerts wait, for every report.
pub fn held(hold: &Hold) -> String {
    match hold {
        Hold::Quiet { until, reason, by } => format!(
            "{} until {}{}",
            match by {
                Quiet::Silence => "silenced",
                Quiet::Maintenance => "maintenance",
            },
            crate::timefmt::minute(*until),
            reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        ),
        Hold::Dependency { on } => format!("held: depends on {on}, which is failing"),
    }
}

/// A fleet's probes, each with its latest check: "probes: ams-1 online,
/// 12 ms, 10:08 UTC · fra-1 offline, 10:07 UTC: connection refused".
pub fn probes_line(now: DateTime<Utc>, r: &Row) -> Option<String> {
    if r.probes.is_empty() {
        return None;
    }
    let each: Vec<String> = r
        .probes
        .iter()
        .map(|(probe, c)| {
            let mut text = format!("{} {}", short(probe, SHORT_NAME), c.status);
            if let Some(ms) = c.response_ms {
                text.push_str(&format!(", {ms} ms"));
            }
            text.push_str(&format!(
                ", {}",
                crate::timefmt::minute_near(c.checked_at, now)
            ));
            if let Some(reason) = &c.reason {
                text.push_str(&format!(": {}", short(reason, 80)));
            }
            text
        })
        .collect();
    Some(format!("probes: {}", each.join(" · ")))
}

/// The reason column of a text table: the hold first, then the check's reason.
pub fn reason_cell(r: &Row) -> String {
    let reason = r.last.as_ref().and_then(|l| l.reason.as_deref());
    match (&r.hold, reason) {
        (Some(h), Some(reason)) => format!("[{}] {reason}", held(h)),
        (Some(h), None) => format!("[{}]", held(h)),
        (None, reason) => reason.unwrap_or_default().to_string(),
    }
}

/// "a, b, c +5 more": the first `shown` names, each cut to `SHORT_NAME`.
pub fn names(names: &[&str], shown: usize) -> String {
    let mut out = names
        .iter()
        .take(shown)
        .map(|n| short(n, SHORT_NAME))
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > shown {
        out.push_str(&format!(" +{} more", names.len() - shown));
    }
    out
}

/// The whole `text` when `short` cut it, for a `title` attribute: the
/// full name on hover, and no extra bytes for the names that fit.
pub fn whole_if_cut(text: &str, max: usize) -> Option<&str> {
    (text.chars().count() > max).then_some(text)
}

/// Left-aligned columns, two spaces apart, no trailing blanks.
pub fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let header = header.iter().map(|h| h.to_string()).collect();
    let mut out = String::new();
    for row in std::iter::once(header).chain(rows) {
        let mut line = String::new();
        for (cell, w) in row.iter().zip(&widths) {
            line.push_str(cell);
            line.push_str(&" ".repeat(w - cell.chars().count() + 2));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_keeps_what_fits_and_cuts_the_rest_with_an_ellipsis() {
        assert_eq!(short("web", 60), "web");
        assert_eq!(short("abcdef", 4), "abc…");
        assert_eq!(short("ééééé", 3), "éé…");
    }
}
