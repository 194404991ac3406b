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
