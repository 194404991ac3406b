//! The one email a run sends, assembled from the digest: a plain
//! `{subject, text, html}` (the text part aligned for a fixed font, the HTML
//! from `html::email`), and the short plain fallback alert. Pure.

use chrono::{DateTime, Utc};

use super::digest::{Digest, subject};
use super::html;
use crate::check::one_line;
use crate::timefmt::minute;

/// Mail content, before any transport sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub subject: String,
    pub text: String,
    /// `None` for the plain-text fallback alert.
    pub html: Option<String>,
    /// The first alerts of the outages this message tells of (reminders,
    /// recoveries), oldest first: `In-Reply-To` names the first,
    /// `References` all, so mail clients thread the outage.
    pub replies_to: Vec<String>,
}

pub fn render(d: &Digest) -> Message {
    Message {
        subject: subject(d),
        text: super::text::part(d),
        html: Some(html::email::page(d).into_string()),
        replies_to: replies_to(d),
    }
}

/// Message-IDs in `References` at most.
const REFERENCES: usize = 20;

/// The Message-IDs of the first alerts this digest follows up, the oldest
/// outage first, each once.
fn replies_to(d: &Digest) -> Vec<String> {
    // News of a new outage starts a thread of its own, rather than hiding
    // in an old one.
    if d.alerts
        .iter()
        .any(|a| a.kind == crate::alert::Notice::Down)
    {
        return Vec::new();
    }
    let mut outages: Vec<&crate::alert::Outage> =
        d.alerts.iter().filter_map(|a| a.outage.as_ref()).collect();
    outages.sort_by_key(|o| o.began);
    let mut ids: Vec<String> = Vec::new();
    for id in outages.iter().filter_map(|o| o.first_alert.clone()) {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    // A header line a relay accepts: the oldest outages are the thread.
    ids.truncate(REFERENCES);
    ids
}

/// `test-alert`'s email: says what it proves, and that nothing is wrong.
pub fn test(title: &str, host: &str, now: DateTime<Utc>) -> Message {
    Message {
        subject: one_line(&format!("[{title}] test: upcheck can reach you"), 250),
        text: format!(
            "This is a test from upcheck on {host}, sent at {} by `upcheck test-alert`.\n\n\
             It proves that alerts from this host reach this address. Nothing is wrong; \
             nothing was probed or stored.\n",
            minute(now)
        ),
        html: None,
        replies_to: Vec::new(),
    }
}

/// What a failed run had done before it failed.
#[derive(Clone, Debug, PartialEq)]
pub struct Done {
    /// Services whose checks were stored (0: the network was down).
    pub probed: usize,
    pub failing: usize,
    /// The database could not be reached: the checks were kept in this
    /// spool instead.
    pub spool: Option<String>,
    /// What became of the digest; `None`: not reached.
    pub mail: Option<Mail>,
}

/// What became of a run's digest.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mail {
    Sent,
    NothingDue,
    Failed,
}

/// The fallback alert: `[vps-1] upcheck failed: opening the database …`,
/// what failed in the subject, and in the body what the run had done
/// (`done`: its checks stored, or `None`) and what it had not. Short, plain,
/// needing no database.
pub fn fallback(
    title: &str,
    host: &str,
    error: &str,
    now: DateTime<Utc>,
    done: Option<Done>,
) -> Message {
    let did = match &done {
        Some(Done { probed: 0, .. }) => {
            "- probed nothing: the connectivity guard found the network down \
             (recorded in the database)"
                .to_string()
        }
        Some(Done {
            probed,
            failing,
            spool: Some(spool),
            ..
        }) => format!(
            "- probed {probed} service{} ({failing} failing) and, the database out of reach, \
             kept the checks in {spool}: the next run that reaches it stores them",
            if *probed == 1 { "" } else { "s" }
        ),
        Some(Done {
            probed, failing, ..
        }) => format!(
            "- probed {probed} service{} ({failing} failing) and stored the checks in the database",
            if *probed == 1 { "" } else { "s" }
        ),
        None => "- stored no checks: it failed before they reached the database \
             (a run that went on may still have stored them); the next run probes again"
            .to_string(),
    };
    let mail = match done.as_ref().and_then(|d| d.mail) {
        Some(Mail::Sent) => "- sent the digest of what was due",
        Some(Mail::NothingDue) => "- had no alert to send",
        Some(Mail::Failed) => {
            "- did not deliver the digest: what was due stays due, and the next run sends it"
        }
        None => {
            "- did not get as far as sending alerts: any that are due stay due, and the next \
             run sends them"
        }
    };
    let wrapped =
        |text: &str, indent: &str| super::text::wrap(text, super::text::WIDTH, indent).join("\n");
    let text = format!(
        "upcheck failed on {host} at {}:\n\n{}\n\nWhat this run did:\n{}\n{}\n",
        minute(now),
        wrapped(&format!("    {error}"), "    "),
        wrapped(&did, "  "),
        wrapped(mail, "  "),
    );
    Message {
        subject: one_line(&format!("[{title}] upcheck failed: {error}"), 160),
        text,
        html: None,
        replies_to: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::Notice;
    use crate::render::digest::tests::{alert, sample};

    #[test]
    fn the_fallback_says_what_failed_and_what_the_run_had_done() {
        let now = crate::render::digest::tests::at("2026-11-21T10:20:00Z");
        let done = Done {
            probed: 14,
            failing: 3,
            spool: None,
            mail: Some(Mail::Failed),
        };
        let stored = fallback(
            "vps-1",
            "vps-1",
            "sending the email: connection refused",
            now,
            Some(done),
        );
        assert_eq!(
            stored.subject,
            "[vps-1] upcheck failed: sending the email: connection refused"
        );
        assert!(
            stored
                .text
                .contains("- probed 14 services (3 failing) and stored the checks in the database"),
            "{}",
            stored.text
        );
        let lost = fallback(
            "vps-1",
            "vps-1",
            "opening the database /var/lib/upcheck/upcheck.db: unable to open database file",
            now,
            None,
        );
        assert!(
            lost.subject
                .starts_with("[vps-1] upcheck failed: opening the database")
        );
        assert!(lost.text.contains("- stored no checks"), "{}", lost.text);
        assert!(
            lost.text.contains("- did not get as far as sending alerts"),
            "{}",
            lost.text
        );
        assert!(
            stored.text.contains("- did not deliver the digest"),
            "{}",
            stored.text
        );
        for line in lost.text.lines() {
            assert!(
                line.chars().count() <= 78 || !line.trim().contains(' '),
                "{line}"
            );
        }
    }

    /// 300 services, 120 failing with a realistic reason each, all DOWN at once.
    fn large() -> Digest<'static> {
        use crate::check::Status;
        use crate::render::digest::tests::row;
        let mut d = sample();
        d.rows = (0..300)
            .map(|i| {
                let name = format!("service-{i:03}.internal.example.com");
                match i % 5 {
                    0 => row(&name, Status::Offline, Some("connection refused (3 attempts)")),
                    1 => row(
                        &name,
                        Status::Degraded,
                        Some("HTTP 503, expected 2xx or 3xx; JSON /status is \"DOWN\", expected \"UP\""),
                    ),
                    _ => row(&name, Status::Online, None),
                }
            })
            .collect();
        d.rows.sort_by_key(|r| r.status);
        d.alerts = d
            .rows
            .iter()
            .filter(|r| r.status.is_failure())
            .map(|r| alert(&r.name, Notice::Down, "2026-11-21T10:20:00Z"))
            .collect();
        d
    }

    #[test]
    fn the_html_part_stays_under_gmails_clipping_limit_at_any_size() {
        let d = large();
        let html = render(&d).html.unwrap();
        assert!(html.len() < 100_000, "{} bytes", html.len());
        // Every failing service has its row (tinted); ten online ones are
        // shown and the other 170 counted.
        assert_eq!(html.matches("<tr bgcolor").count(), 120);
        let fold = html.split("more online").next().map(|s| &s[s.len() - 80..]);
        assert!(html.contains("170 more online"), "{fold:?}");
        // 2,000 failing services with 300-character reasons: still under.
        let mut huge = large();
        huge.rows = (0..2000)
            .map(|i| {
                crate::render::digest::tests::row(
                    &format!("s{i}"),
                    crate::check::Status::Offline,
                    Some(&"x".repeat(300)),
                )
            })
            .collect();
        // Hundreds of restarts and spent budgets above the table, too.
        let restart = huge.restarts[0].clone();
        huge.restarts = vec![restart; 500];
        huge.exhausted = vec![("x".repeat(60), "y".repeat(200)); 500];
        let html = render(&huge).html.unwrap();
        assert!(html.len() < 100_000, "{} bytes", html.len());
        assert!(
            html.contains("more failing: left out to keep this email whole"),
            "no fold line for failing ones"
        );
    }

    #[test]
    fn follow_ups_name_the_first_alert_of_each_outage_oldest_first() {
        let mut d = sample();
        let outage = |id: &str, began: &str| crate::alert::Outage {
            first_alert: Some(id.into()),
            delivered: true,
            began: Some(crate::render::digest::tests::at(began)),
        };
        let mut chat = alert("chat", Notice::Reminder, "2026-11-21T10:20:00Z");
        chat.outage = Some(outage("<b@vps-1>", "2026-11-21T09:00:00Z"));
        let mut api = alert("price-api", Notice::Recovery, "2026-11-21T10:20:00Z");
        api.outage = Some(outage("<a@vps-1>", "2026-11-21T10:00:00Z"));
        d.alerts = vec![api, chat];
        assert_eq!(render(&d).replies_to, ["<b@vps-1>", "<a@vps-1>"]);
        // With a new outage in it, the email starts a thread of its own.
        let mut with_down = d.clone();
        with_down
            .alerts
            .push(alert("search", Notice::Down, "2026-11-21T10:20:00Z"));
        assert!(render(&with_down).replies_to.is_empty());
        d.alerts.truncate(1);
        d.alerts[0].outage.as_mut().unwrap().first_alert = None;
        assert!(render(&d).replies_to.is_empty());
    }

    #[test]
    fn text_part_snapshot() {
        insta::assert_snapshot!(render(&sample()).text);
    }

    #[test]
    fn html_part_snapshot() {
        // One element per line, so a change to the look is a readable diff.
        let html = render(&sample()).html.unwrap();
        let readable = html
            .replace("<tr", "\n<tr")
            .replace("<td", "\n  <td")
            .replace("<th", "\n  <th")
            .replace("<div", "\n    <div");
        insta::assert_snapshot!(readable);
    }

    #[test]
    fn html_escapes_everything_from_targets_and_config() {
        let mut d = sample();
        d.title = "<b>vps</b>";
        d.rows[0].name = "<script>alert(1)</script>".into();
        d.rows[0].last.as_mut().unwrap().reason = Some("\"><img src=x onerror=alert(2)>".into());
        d.alerts = vec![alert(
            "<script>alert(1)</script>",
            Notice::Down,
            "2026-11-21T10:20:00Z",
        )];
        let html = render(&d).html.unwrap();
        for raw in ["<script>", "<img", "<b>vps"] {
            assert!(!html.contains(raw), "{raw} reached the HTML unescaped");
        }
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"));
    }
}
