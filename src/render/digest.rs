//! The digest's view model and its words: what is due (new outages,
//! reminders, recoveries, restarts) folded to one line per service, the
//! subject, and the phrases the text and HTML parts share. Pure.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::Row;
use crate::alert::Notice;
use crate::check::one_line;
use crate::hold::Hold;
use crate::timefmt::{human, minute_near};
use crate::watchdog::{Recheck, RestartAttempt};

/// Everything the digest shows.
#[derive(Clone, Debug)]
pub struct Digest<'a> {
    pub title: &'a str,
    pub host: &'a str,
    pub now: DateTime<Utc>,
    /// The file or URL the history is in.
    pub database: String,
    /// `run --force`: send the full report even with nothing due.
    pub forced: bool,
    /// What is due, one per service (see [`collapse`]).
    pub alerts: Vec<Alert>,
    /// Restarts no email has told of yet.
    pub restarts: Vec<RestartAttempt>,
    /// `(service, note)` for services still failing with their restart budget spent.
    pub exhausted: Vec<(String, String)>,
    /// Some alerts are retries of a send a stopped run may have completed.
    pub maybe_repeat: bool,
    /// Every configured service, problems first.
    pub rows: Vec<Row>,
}

/// A due notification about one service.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// Empty for a `network` notice.
    pub service: String,
    pub kind: Notice,
    /// When it was decided (earlier than now if delivery failed before).
    pub at: DateTime<Utc>,
    /// A `network` notice: what the guard could not reach.
    pub detail: Option<String>,
    /// A reminder or recovery: the outage it tells of.
    pub outage: Option<crate::alert::Outage>,
}

/// Keeps the latest due notification per service: a reminder that could not
/// be delivered is overtaken by the next, a DOWN then recovered before any
/// mail got through is told as RECOVERED. Sorted DOWN, RECOVERED, still down,
/// each in the status table's order.
pub fn collapse(mut due: Vec<Alert>, rows: &[Row]) -> Vec<Alert> {
    due.sort_by(|a, b| a.service.cmp(&b.service).then(a.at.cmp(&b.at)));
    let mut latest: Vec<Alert> = Vec::new();
    for a in due {
        match latest.last_mut() {
            Some(last) if last.service == a.service => {
                // A reminder after an undelivered DOWN is still news of the outage.
                if !(last.kind == Notice::Down && a.kind == Notice::Reminder) {
                    *last = a;
                }
            }
            _ => latest.push(a),
        }
    }
    let position = |service: &str| {
        rows.iter()
            .position(|r| r.name == service)
            .unwrap_or(usize::MAX)
    };
    latest.sort_by(|a, b| {
        (order(a.kind), position(&a.service), &a.service).cmp(&(
            order(b.kind),
            position(&b.service),
            &b.service,
        ))
    });
    latest
}

fn order(kind: Notice) -> u8 {
    match kind {
        // The network first: it explains why nothing else is known.
        Notice::Network => 0,
        Notice::Down => 1,
        Notice::Recovery => 2,
        Notice::Reminder => 3,
    }
}

/// `[vps-1] DOWN 3/14: price-api, chat, +1`, `[vps-1] RECOVERED: price-api`,
/// `[vps-1] still down: chat`, `[vps-1] all 14 services online`. The counts
/// come first, where a phone's inbox list does not cut them, and count
/// exactly the services the subject is about (3 newly down of 14).
pub fn subject(d: &Digest) -> String {
    let total = d.rows.len();
    let failing = d.rows.iter().filter(|r| r.status.is_failure()).count();
    let names = |kind: Notice| -> Vec<&str> {
        d.alerts
            .iter()
            .filter(|a| a.kind == kind)
            .map(|a| a.service.as_str())
            .collect()
    };
    let mut parts = Vec::new();
    if let Some(a) = d.alerts.iter().find(|a| a.kind == Notice::Network) {
        parts.push(format!("NETWORK: {}", network_line(d.host, a)));
    }
    let down = names(Notice::Down);
    if !down.is_empty() {
        parts.push(format!("DOWN {}/{total}: {}", down.len(), list(&down)));
    }
    let recovered = names(Notice::Recovery);
    if !recovered.is_empty() {
        parts.push(format!("RECOVERED: {}", list(&recovered)));
    }
    let still = names(Notice::Reminder);
    if !still.is_empty() {
        parts.push(format!("still down: {}", list(&still)));
    }
    // By name: restarts run at once and are stored as each ends.
    let mut restarted: Vec<&str> = d.restarts.iter().map(|r| r.service.as_str()).collect();
    restarted.sort_unstable();
    restarted.dedup();
    if !restarted.is_empty() {
        parts.push(format!("restarted: {}", list(&restarted)));
    }
    if parts.is_empty() {
        parts.push(if failing == 0 {
            format!("all {total} services online")
        } else {
            format!("{failing} of {total} services failing")
        });
    }
    one_line(&format!("[{}] {}", d.title, parts.join("; ")), 250)
}

/// At most three names, then "+N": a subject must fit a phone's lock screen.
fn list(names: &[&str]) -> String {
    const SHOWN: usize = 3;
    let mut out: Vec<String> = names
        .iter()
        .take(SHOWN)
        .map(|n| super::short(n, super::SHORT_NAME))
        .collect();
    if names.len() > SHOWN {
        out.push(format!("+{}", names.len() - SHOWN));
    }
    out.join(", ")
}

/// What a `network` notice says: "upcheck on vps-1 cannot reach
/// 1.1.1.1:53 (connection refused): alerts held since 10:20 UTC".
pub fn network_line(host: &str, a: &Alert) -> String {
    format!(
        "upcheck on {host} {}: alerts held since {}",
        a.detail
            .as_deref()
            .unwrap_or("cannot reach its connectivity targets"),
        a.at.format("%H:%M UTC")
    )
}

/// What the alerts list says of a service: "offline for 12m: connection
/// refused"; a recovery, "online again: down for 22m, from 09:58 to 10:20 UTC".
pub fn alert_detail(d: &Digest, a: &Alert) -> String {
    if a.kind == Notice::Network {
        return network_line(d.host, a);
    }
    let row = d.rows.iter().find(|r| r.name == a.service);
    let status = row.map_or("no longer configured", |r| r.status.as_str());
    if a.kind == Notice::Recovery {
        return recovery_detail(d, a, status);
    }
    let mut line = status.to_string();
    if let Some(since) = row.and_then(|r| r.since) {
        line.push_str(&format!(" {}", lasted(d.now, since)));
    }
    let reason = row
        .and_then(|r| r.last.as_ref())
        .and_then(|l| l.reason.as_deref());
    if let Some(reason) = reason {
        line.push_str(&format!(": {reason}"));
    }
    line
}

/// "online again: down for 22m 5s, from 09:58 to 10:20 UTC", and when the
/// outage's own DOWN alert never got through, that this is the first word of it.
fn recovery_detail(d: &Digest, a: &Alert, status: &str) -> String {
    let mut line = format!("{status} again");
    let outage = a.outage.as_ref();
    if let Some(began) = outage.and_then(|o| o.began) {
        line.push_str(&format!(
            ": down for {}, from {} to {}",
            human((a.at - began).to_std().unwrap_or_default()),
            minute_near(began, d.now),
            minute_near(a.at, d.now)
        ));
    }
    if outage.is_some_and(|o| !o.delivered) {
        line.push_str(" (its DOWN alert never got through)");
    }
    line
}

/// "for 12m 3s", or "just now" for a change this minute (not "for 16ms",
/// the run's own duration).
pub fn lasted(now: DateTime<Utc>, since: DateTime<Utc>) -> String {
    let age = (now - since).to_std().unwrap_or_default();
    if age < Duration::from_secs(60) {
        "just now".to_string()
    } else {
        format!("for {}", human(age))
    }
}

/// The label before an alert: what happened.
pub fn kind_label(kind: Notice) -> &'static str {
    match kind {
        Notice::Down => "DOWN",
        Notice::Reminder => "STILL DOWN",
        Notice::Recovery => "RECOVERED",
        Notice::Network => "NETWORK",
    }
}

/// Failing services held by a failing dependency, grouped under it:
/// "also failing, depends on gateway: chat, billing", in the table's order.
pub fn held_lines(d: &Digest) -> Vec<String> {
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for r in d.rows.iter().filter(|r| r.status.is_failure()) {
        let Some(Hold::Dependency { on }) = &r.hold else {
            continue;
        };
        match groups.iter_mut().find(|(dep, _)| dep == on) {
            Some((_, services)) => services.push(&r.name),
            None => groups.push((on, vec![&r.name])),
        }
    }
    groups
        .into_iter()
        .map(|(on, services)| {
            format!(
                "also failing, depends on {on}: {}",
                super::names(&services, 10)
            )
        })
        .collect()
}

/// "restarted price-api at 10:22 UTC: exit 0; online again 4.1s later".
pub fn restart_line(r: &RestartAttempt) -> String {
    format!(
        "restarted {} at {}: {}; {}",
        r.service,
        r.started_at.format("%H:%M UTC"),
        r.outcome,
        came_of(r.recheck.as_ref())
    )
}

/// What the probe after a restart found.
fn came_of(recheck: Option<&Recheck>) -> String {
    let Some(c) = recheck else {
        return "not probed again: the run ran out of time or was stopped".into();
    };
    let later = human(Duration::from_millis(c.after_ms));
    if !c.status.is_failure() {
        return format!("{} again {later} later", c.status);
    }
    match &c.reason {
        Some(reason) => format!("still failing {later} later: {}, {reason}", c.status),
        None => format!("still failing {later} later: {}", c.status),
    }
}

/// Said when a retried alert may already have reached its readers: a run was
/// stopped between the mail server accepting it and upcheck noting that.
pub const MAYBE_REPEAT: &str = "An earlier run was stopped while sending some of these alerts: \
                                you may have received them already.";

/// Why this email was sent, for the footer.
pub fn why(d: &Digest) -> String {
    let mut reasons: Vec<String> = d
        .alerts
        .iter()
        .map(|a| match a.kind {
            Notice::Network => "network".to_string(),
            _ => format!("{} {}", a.kind.as_str(), a.service),
        })
        .collect();
    reasons.extend(d.restarts.iter().map(|r| format!("restart {}", r.service)));
    if d.forced {
        reasons.push("--force".to_string());
    }
    // The alerts themselves are listed above: the footer names the first few.
    const NAMED: usize = 10;
    let more = reasons.len().saturating_sub(NAMED);
    reasons.truncate(NAMED);
    let mut why = reasons.join(", ");
    if more > 0 {
        why.push_str(&format!(" and {more} more"));
    }
    why
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::check::Uptime;
    use crate::check::{CheckResult, Status};
    use crate::timefmt::parse_iso;

    pub(crate) fn at(s: &str) -> DateTime<Utc> {
        parse_iso(s).unwrap()
    }

    pub(crate) fn row(name: &str, status: Status, reason: Option<&str>) -> Row {
        let mut last = CheckResult::new(name, at("2026-11-21T10:20:00Z"), status);
        last.response_ms = Some(42);
        if status != Status::Timeout {
            last.status_code = Some(if status == Status::Online { 200 } else { 503 });
        }
        last.reason = reason.map(str::to_string);
        Row {
            name: name.to_string(),
            kind: "http",
            has_certificate: false,
            status,
            since: Some(at("2026-11-21T10:08:00Z")),
            last: Some(last),
            uptime: Uptime {
                h24: Some(98.61),
                d7: Some(99.8),
                d30: Some(99.95),
                all: Some(99.97),
            },
            hold: None,
            probes: Vec::new(),
        }
    }

    pub(crate) fn alert(service: &str, kind: Notice, t: &str) -> Alert {
        Alert {
            service: service.into(),
            kind,
            at: at(t),
            detail: None,
            outage: None,
        }
    }

    pub(crate) fn sample() -> Digest<'static> {
        let mut rows = vec![
            row("price-api", Status::Offline, Some("connection refused")),
            row("chat", Status::Degraded, Some("HTTP 503, expected 200")),
            row("search", Status::Timeout, Some("no answer within 5s")),
        ];
        rows.extend((0..11).map(|i| row(&format!("svc-{i:02}"), Status::Online, None)));
        Digest {
            title: "vps-1",
            host: "vps-1.example.com",
            now: at("2026-11-21T10:20:03Z"),
            database: "/var/lib/upcheck/upcheck.db".into(),
            forced: false,
            alerts: vec![
                alert("price-api", Notice::Down, "2026-11-21T10:20:00Z"),
                alert("chat", Notice::Down, "2026-11-21T10:20:00Z"),
            ],
            restarts: vec![RestartAttempt {
                id: Some(1),
                service: "search".into(),
                started_at: at("2026-11-21T10:20:01Z"),
                exit_code: Some(0),
                outcome: "exit 0".into(),
                output: String::new(),
                duration_ms: 812,
                recheck: Some(Recheck {
                    status: Status::Online,
                    reason: None,
                    after_ms: 4_100,
                }),
            }],
            exhausted: vec![(
                "chat".into(),
                "still failing after 3 restarts within 1h; no more restarts until one ages out"
                    .into(),
            )],
            maybe_repeat: false,
            rows,
        }
    }

    #[test]
    fn a_restart_line_says_what_came_of_the_restart() {
        let mut r = sample().restarts.remove(0);
        assert_eq!(
            restart_line(&r),
            "restarted search at 10:20 UTC: exit 0; online again 4.1s later"
        );
        r.recheck = Some(Recheck {
            status: Status::Offline,
            reason: Some("connection refused".into()),
            after_ms: 60_400,
        });
        assert_eq!(
            restart_line(&r),
            "restarted search at 10:20 UTC: exit 0; still failing 1m 0s later: offline, connection refused"
        );
        r.recheck = None;
        assert_eq!(
            restart_line(&r),
            "restarted search at 10:20 UTC: exit 0; not probed again: the run ran out of time or was stopped"
        );
    }

    #[test]
    fn subjects_say_what_happened() {
        let mut d = sample();
        assert_eq!(
            subject(&d),
            "[vps-1] DOWN 2/14: price-api, chat; restarted: search"
        );
        d.restarts.clear();
        assert_eq!(subject(&d), "[vps-1] DOWN 2/14: price-api, chat");
        d.alerts = vec![alert("price-api", Notice::Recovery, "2026-11-21T10:20:00Z")];
        assert_eq!(subject(&d), "[vps-1] RECOVERED: price-api");
        d.alerts = vec![alert("chat", Notice::Reminder, "2026-11-21T10:20:00Z")];
        assert_eq!(subject(&d), "[vps-1] still down: chat");
        d.alerts.clear();
        d.forced = true;
        assert_eq!(subject(&d), "[vps-1] 3 of 14 services failing");
        d.rows.retain(|r| r.status == Status::Online);
        assert_eq!(subject(&d), "[vps-1] all 11 services online");
    }

    #[test]
    fn a_recovery_says_when_the_outage_began_and_how_long_it_lasted() {
        let mut d = sample();
        d.rows[0].status = Status::Online;
        let mut a = alert("price-api", Notice::Recovery, "2026-11-21T10:20:00Z");
        a.outage = Some(crate::alert::Outage {
            first_alert: Some("<1@vps-1>".into()),
            delivered: true,
            began: Some(at("2026-11-21T09:57:55Z")),
        });
        assert_eq!(
            alert_detail(&d, &a),
            "online again: down for 22m 5s, from 09:57 UTC to 10:20 UTC"
        );
        a.outage.as_mut().unwrap().delivered = false;
        assert!(alert_detail(&d, &a).ends_with("(its DOWN alert never got through)"));
        // A change this minute is "just now", not the run's own milliseconds.
        assert_eq!(lasted(d.now, at("2026-11-21T10:20:00Z")), "just now");
        assert_eq!(lasted(d.now, at("2026-11-21T10:08:00Z")), "for 12m 3s");
    }

    #[test]
    fn long_lists_are_cut_and_combined_in_one_subject() {
        let mut d = sample();
        d.restarts.clear();
        d.alerts = (0..6)
            .map(|i| alert(&format!("svc-{i:02}"), Notice::Down, "2026-11-21T10:20:00Z"))
            .chain([alert("chat", Notice::Recovery, "2026-11-21T10:20:00Z")])
            .collect();
        assert_eq!(
            subject(&d),
            "[vps-1] DOWN 6/14: svc-00, svc-01, svc-02, +3; RECOVERED: chat"
        );
    }

    #[test]
    fn collapse_keeps_the_latest_news_per_service() {
        let due = vec![
            alert("a", Notice::Down, "2026-11-21T10:00:00Z"),
            alert("a", Notice::Reminder, "2026-11-21T10:05:00Z"),
            alert("b", Notice::Reminder, "2026-11-21T10:00:00Z"),
            alert("b", Notice::Reminder, "2026-11-21T10:05:00Z"),
            alert("c", Notice::Down, "2026-11-21T10:00:00Z"),
            alert("c", Notice::Recovery, "2026-11-21T10:05:00Z"),
        ];
        let kept: Vec<(String, Notice, String)> = collapse(due, &[])
            .into_iter()
            .map(|a| (a.service, a.kind, crate::timefmt::iso(a.at)))
            .collect();
        assert_eq!(
            kept,
            [
                ("a".into(), Notice::Down, "2026-11-21T10:00:00.000Z".into()),
                (
                    "c".into(),
                    Notice::Recovery,
                    "2026-11-21T10:05:00.000Z".into()
                ),
                (
                    "b".into(),
                    Notice::Reminder,
                    "2026-11-21T10:05:00.000Z".into()
                ),
            ]
        );
    }

    #[test]
    fn hostile_names_and_reasons_cannot_break_the_subject() {
        let mut d = sample();
        d.restarts[0].service = "a\r\nb".into();
        d.title = "vps\r\nBcc: victim@example.com";
        d.alerts = vec![alert("x\ny", Notice::Down, "2026-11-21T10:20:00Z")];
        let s = subject(&d);
        assert!(!s.contains('\n') && !s.contains('\r'), "{s:?}");
    }
}
