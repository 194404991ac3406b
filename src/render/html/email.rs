//! The digest email's HTML: a header saying what happened, the alerts that
//! made this email due, what the watchdog did, the status table, and a footer
//! saying who sent it, when, why, and where the history lives.

use maud::{Markup, html};

use super::components::{self, Detail};
use super::style::{self, INK};
use crate::check::Status;
use crate::render::digest::{
    Digest, MAYBE_REPEAT, alert_detail, held_lines, kind_label, restart_line, subject, why,
};
use crate::render::{SHORT_NAME, short, whole_if_cut};
use crate::timefmt::minute;

pub fn page(d: &Digest) -> Markup {
    let sections = html! {
        tr { td style="padding:20px 20px 8px" { (components::header(d.title, &d.rows)) } }
        @if !d.alerts.is_empty() {
            tr { td style="padding:4px 20px 8px" { (alerts(d)) } }
            @for line in held_lines(d) {
                tr { td style={ "padding:0 20px 8px;" (style::small()) ";color:" (INK) } { (line) } }
            }
            @if d.maybe_repeat {
                tr { td style={ "padding:0 20px 8px;" (style::small()) ";color:" (INK) } { (MAYBE_REPEAT) } }
            }
        }
        @if !d.restarts.is_empty() || !d.exhausted.is_empty() {
            tr { td style="padding:0 20px 8px" { (restarts(d)) } }
        }
        tr { td style="padding:8px 12px" { (components::status_table(d.now, &d.rows, Detail::Email)) } }
        tr { td style="padding:12px 20px 20px" { (components::footer(html! {
            "Sent by upcheck on " strong { (d.host) } " at " (minute(d.now)) " because: " (why(d)) "." br;
            "History: " code { (d.database.display().to_string()) }
        })) } }
    };
    components::frame(&subject(d), html! {}, sections)
}

fn alerts(d: &Digest) -> Markup {
    html! {
        table role="presentation" width="100%" cellpadding="0" cellspacing="0" {
            @for a in &d.alerts {
                @let status = d.rows.iter().find(|r| r.name == a.service).map_or(Status::Unknown, |r| r.status);
                @let (fg, bg) = style::colours(status);
                tr {
                    td style={ "padding:8px 12px;border-left:4px solid " (fg) ";background:" (bg) ";font-size:14px;color:" (INK) } {
                        strong style={ "color:" (fg) } { (kind_label(a.kind)) }
                        " " strong title=[whole_if_cut(&a.service, SHORT_NAME)] { (short(&a.service, SHORT_NAME)) } " " (alert_detail(d, a))
                    }
                }
                tr { td style="height:6px;font-size:0;line-height:0" { } }
            }
        }
    }
}

/// What the watchdog did, and where it gave up.
fn restarts(d: &Digest) -> Markup {
    html! {
        div style={ (style::small()) ";font-size:13px;color:" (INK) } {
            @for r in &d.restarts {
                div {
                    @let (fg, _) = style::colours(if r.worked() { Status::Online } else { Status::Offline });
                    span style={ "color:" (fg) ";font-weight:600" } { "↻ " }
                    (restart_line(r))
                }
            }
            @for (service, note) in &d.exhausted {
                div {
                    span style={ "color:" (style::colours(Status::Offline).0) ";font-weight:600" } { "✕ " }
                    strong title=[whole_if_cut(service, SHORT_NAME)] { (short(service, SHORT_NAME)) } ": " (note)
                }
            }
        }
    }
}
