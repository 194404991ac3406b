//! The digest email's HTML: a header saying what happened, the alerts that
//! made this email due, what the watchdog did, the status table, and a footer
//! saying who sent it, when, why, and where the history lives.

use maud::{Markup, html};

use super::components::{self, Detail};
use super::style;
use crate::check::Status;
use crate::render::digest::{
    Digest, MAYBE_REPEAT, alert_detail, held_lines, kind_label, restart_line, subject, why,
};
use crate::render::{Row, SHORT_NAME, short, whole_if_cut};
use crate::timefmt::minute;

/// Gmail clips a message past about 102 KB, hiding the rest (the table's
/// end, the footer) behind "View entire message": the HTML part stays under this.
const BUDGET: usize = 100_000;
/// Online services shown before the rest fold into one line.
const ONLINE_SHOWN: usize = 10;
/// Alerts listed one per line up to this many; past it, one line per kind.
const ALERTS_LISTED: usize = 10;
/// Restarts, exhausted budgets and dependency lines shown at most: the
/// part above the table must leave the budget to the table.
const LISTED: usize = 10;
/// Room kept for the fold line itself.
const FOLD_LINE: usize = 400;

pub fn page(d: &Digest) -> Markup {
    let base = with_rows(d, &[], Some("")).into_string().len();
    let (shown, folded) = fit(d, BUDGET.saturating_sub(base + FOLD_LINE + d.host.len()));
    with_rows(d, &shown, folded.as_deref())
}

/// The rows that fit in `room` bytes, in table order (problems first):
/// failing services in full, the first `ONLINE_SHOWN` online ones, and a
/// line counting the rest. Past the budget, everything after is counted.
fn fit<'a>(d: &'a Digest, room: usize) -> (Vec<&'a Row>, Option<String>) {
    let mut used = 0;
    let mut shown = Vec::new();
    let (mut failing, mut online, mut unknown) = (0, 0, 0);
    let mut online_seen = 0;
    let mut full = false;
    for r in &d.rows {
        if r.status == Status::Online {
            online_seen += 1;
        }
        let bytes = components::service_row(d.now, r, Detail::Email, html! {})
            .into_string()
            .len();
        full = full || used + bytes > room;
        if full || (r.status == Status::Online && online_seen > ONLINE_SHOWN) {
            match r.status {
                Status::Online => online += 1,
                Status::Unknown => unknown += 1,
                _ => failing += 1,
            }
            continue;
        }
        used += bytes;
        shown.push(r);
    }
    (shown, fold_line(d.host, failing, online, unknown))
}

/// "182 more online", or, past the budget, "1,880 more failing and 20 more
/// online: … `upcheck status` on vps-1 lists every one". No link: nothing
/// to click that a filter could mistake for a lure.
fn fold_line(host: &str, failing: usize, online: usize, unknown: usize) -> Option<String> {
    let parts: Vec<String> = [
        (failing, "failing"),
        (unknown, "not yet checked"),
        (online, "online"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} more {what}"))
    .collect();
    match (parts.is_empty(), failing + unknown) {
        (true, _) => None,
        (false, 0) => Some(parts.join(", ")),
        (false, _) => Some(format!(
            "{}: left out to keep this email whole; the text part and `upcheck status` on {host} list every one",
            parts.join(", ")
        )),
    }
}

fn with_rows(d: &Digest, rows: &[&Row], folded: Option<&str>) -> Markup {
    let sections = html! {
        tr { td style="padding:20px 20px 8px" { (components::header(d.title, &d.rows)) } }
        @if !d.alerts.is_empty() {
            tr { td style="padding:4px 20px 8px" { (alerts(d)) } }
            @for line in held_lines(d).iter().take(LISTED) {
                tr { td style={ "padding:0 20px 8px;font-size:12px" } { (line) } }
            }
            @if d.maybe_repeat {
                tr { td style={ "padding:0 20px 8px;font-size:12px" } { (MAYBE_REPEAT) } }
            }
        }
        @if !d.restarts.is_empty() || !d.exhausted.is_empty() {
            tr { td style="padding:0 20px 8px" { (restarts(d)) } }
        }
        tr { td style="padding:8px 12px" { (components::status_table(d.now, rows, Detail::Email, folded, &|_| html! {})) } }
        tr { td style="padding:12px 20px 20px" { (components::footer(html! {
            "Sent by upcheck on " strong { (d.host) } " at " (minute(d.now)) " because: " (why(d)) "." br;
            "History: " code { (d.database) }
        })) } }
    };
    components::frame(&subject(d), html! {}, sections)
}

/// One line per alert; past `ALERTS_LISTED`, one line per kind naming
/// its services (each is in the table below anyway).
fn alerts(d: &Digest) -> Markup {
    if d.alerts.len() > ALERTS_LISTED {
        return grouped_alerts(d);
    }
    html! {
        table role="presentation" width="100%" cellpadding="0" cellspacing="0" {
            @for a in &d.alerts {
                @let status = d.rows.iter().find(|r| r.name == a.service).map_or(Status::Unknown, |r| r.status);
                @let (fg, bg) = style::colours(status);
                tr {
                    td style={ "padding:8px 12px;border-left:4px solid " (fg) ";background:" (bg) ";font-size:14px" } {
                        strong style={ "color:" (fg) } { (kind_label(a.kind)) }
                        " " strong title=[whole_if_cut(&a.service, SHORT_NAME)] { (short(&a.service, SHORT_NAME)) } " " (alert_detail(d, a))
                    }
                }
                tr { td style="height:6px;font-size:0;line-height:0" { } }
            }
        }
    }
}

/// "DOWN (118): a, b, c … and 108 more below" per kind, in the digest's
/// order: every one of them is in the table.
fn grouped_alerts(d: &Digest) -> Markup {
    let mut kinds: Vec<crate::alert::Notice> = d.alerts.iter().map(|a| a.kind).collect();
    kinds.dedup();
    html! {
        @for kind in kinds {
            @let names: Vec<&str> = d.alerts.iter().filter(|a| a.kind == kind).map(|a| a.service.as_str()).collect();
            @let fg = style::colours(if kind == crate::alert::Notice::Recovery { Status::Online } else { Status::Offline }).0;
            div style="font-size:14px;margin-bottom:6px" {
                strong style={ "color:" (fg) } { (kind_label(kind)) " (" (names.len()) ")" }
                ": " (crate::render::names(&names, ALERTS_LISTED))
            }
        }
    }
}

/// What the watchdog did, and where it gave up.
fn restarts(d: &Digest) -> Markup {
    html! {
        div style="font-size:13px" {
            @for r in d.restarts.iter().take(LISTED) {
                div {
                    @let (fg, _) = style::colours(if r.worked() { Status::Online } else { Status::Offline });
                    span style={ "color:" (fg) ";font-weight:600" } { "↻ " }
                    (restart_line(r))
                }
            }
            @if d.restarts.len() > LISTED {
                div style=(style::SMALL) { (d.restarts.len() - LISTED) " more restarts: the text part lists them" }
            }
            @for (service, note) in d.exhausted.iter().take(LISTED) {
                div {
                    span style={ "color:" (style::colours(Status::Offline).0) ";font-weight:600" } { "✕ " }
                    strong title=[whole_if_cut(service, SHORT_NAME)] { (short(service, SHORT_NAME)) } ": " (note)
                }
            }
            @if d.exhausted.len() > LISTED {
                div style=(style::SMALL) { (d.exhausted.len() - LISTED) " more out of restarts: the text part lists them" }
            }
        }
    }
}
