//! The static status page: the same header and table as the email, with
//! all-time uptime and when each service was last checked, each service's
//! last 90 days and last 24 hours under its row, the recent outages below,
//! refreshing itself every minute. Self-contained: no scripts, fonts or
//! images from elsewhere.

use chrono::{DateTime, Utc};
use maud::{Markup, PreEscaped, html};

use super::components::{self, Detail};
use super::history;
use crate::history::History;
use crate::render::Row;
use crate::timefmt::minute;

/// What the page knows besides the table.
pub struct Page<'a> {
    pub title: &'a str,
    pub host: &'a str,
    pub now: DateTime<Utc>,
    pub next_run: Option<DateTime<Utc>>,
    /// Why the statuses are from before this run (the network was down).
    pub stale: Option<&'a str>,
    pub history: &'a History,
    /// Whether the outages list says why (not on a page the public sees).
    pub reasons: bool,
}

pub fn page(p: &Page<'_>, rows: &[Row]) -> Markup {
    let today = p.now.date_naive();
    let history_of = |r: &Row| {
        let days = p.history.days.get(&r.name).map_or(&[][..], Vec::as_slice);
        let hours = p.history.hours.get(&r.name).map_or(&[][..], Vec::as_slice);
        html! {
            (history::day_bar(days, today))
            (history::sparkline(hours))
        }
    };
    let sections = html! {
        tr { td style="padding:20px 20px 8px" { (components::header(p.title, rows)) } }
        @if let Some(stale) = p.stale {
            tr { td style={ "padding:4px 20px 8px;font-size:14px;font-weight:600;color:" (super::style::colours(crate::check::Status::Offline).0) } { (stale) } }
        }
        tr { td style="padding:8px 12px" {
            (components::status_table(p.now, &rows.iter().collect::<Vec<_>>(), Detail::Page, None, &history_of))
        } }
        tr { td style="padding:16px 20px 8px" { (history::outages(p.now, &p.history.outages, p.reasons)) } }
        tr { td style="padding:12px 20px 20px" { (components::footer(html! {
            "Updated " (minute(p.now)) " by upcheck on " strong { (p.host) } "."
            @if let Some(next) = p.next_run { " Next check expected around " (minute(next)) "." }
        })) } }
    };
    let head = html! {
        meta http-equiv="refresh" content="60";
        style { (PreEscaped(history::CSS)) }
    };
    components::frame(&format!("{}: status", p.title), head, sections)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Day, Hour, Period};
    use crate::render::digest::tests::{at, sample};

    #[test]
    fn status_page_snapshot() {
        let d = sample();
        let mut history = History::default();
        history.days.insert(
            "price-api".into(),
            vec![
                Day {
                    day: at("2026-11-19T00:00:00Z").date_naive(),
                    uptime: 100.0,
                },
                Day {
                    day: at("2026-11-20T00:00:00Z").date_naive(),
                    uptime: 96.5,
                },
            ],
        );
        history.hours.insert(
            "price-api".into(),
            vec![
                Hour {
                    hour: at("2026-11-21T08:00:00Z"),
                    avg_ms: 40.0,
                },
                Hour {
                    hour: at("2026-11-21T09:00:00Z"),
                    avg_ms: 120.0,
                },
            ],
        );
        history.outages.push(Period {
            service: "price-api".into(),
            began: at("2026-11-21T10:08:00Z"),
            ended: None,
            reason: Some("connection refused".into()),
        });
        let page = page(
            &Page {
                title: "vps-1",
                host: "vps-1.example.com",
                now: d.now,
                next_run: Some(at("2026-11-21T10:25:00Z")),
                stale: None,
                history: &history,
                reasons: true,
            },
            &d.rows[..4],
        )
        .into_string();
        // One element per line, so a change to the look is a readable diff.
        let readable = page
            .replace("<tr", "\n<tr")
            .replace("<td", "\n  <td")
            .replace("<div", "\n    <div")
            .replace("<i ", "\n      <i ");
        insta::assert_snapshot!(readable);
    }
}
