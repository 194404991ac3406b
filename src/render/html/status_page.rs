//! The static status page: the same header and table as the email, with
//! all-time uptime and when each service was last checked, refreshing itself
//! every minute. Self-contained: no scripts, fonts or images from elsewhere.

use chrono::{DateTime, Utc};
use maud::{Markup, html};

use super::components::{self, Detail};
use crate::render::Row;
use crate::timefmt::minute;

pub fn page(
    title: &str,
    host: &str,
    now: DateTime<Utc>,
    rows: &[Row],
    next_run: Option<DateTime<Utc>>,
    stale: Option<&str>,
) -> Markup {
    let sections = html! {
        tr { td style="padding:20px 20px 8px" { (components::header(title, rows)) } }
        @if let Some(stale) = stale {
            tr { td style={ "padding:4px 20px 8px;font-size:14px;font-weight:600;color:" (super::style::colours(crate::check::Status::Offline).0) } { (stale) } }
        }
        tr { td style="padding:8px 12px" { (components::status_table(now, &rows.iter().collect::<Vec<_>>(), Detail::Page, None)) } }
        tr { td style="padding:12px 20px 20px" { (components::footer(html! {
            "Updated " (minute(now)) " by upcheck on " strong { (host) } "."
            @if let Some(next) = next_run { " Next check expected around " (minute(next)) "." }
        })) } }
    };
    let head = html! { meta http-equiv="refresh" content="60"; };
    components::frame(&format!("{title}: status"), head, sections)
}
