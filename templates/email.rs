//! The digest email's HTML: a header saying what happened, the alerts that
//! made this email due, the colour-coded status table (problems first), and a
//! footer saying who sent it, when, why, and where the history lives.

use maud::{DOCTYPE, Markup, html};

use super::style::{self, INK, MUTED, PAGE_BG, RULE};
use crate::check::Status;
use crate::digest::{Digest, alert_detail, kind_label, restart_line, subject, why};
use crate::report::{Row, pct};
use crate::timefmt::{human, minute};

pub fn page(d: &Digest) -> Markup {
    let failing = d.rows.iter().filter(|r| r.status.is_failure()).count();
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (subject(d)) }
            }
            body style={ "margin:0;padding:0;background:" (PAGE_BG) ";" (style::FONT) } {
                table role="presentation" width="100%" cellpadding="0" cellspacing="0" style={ "background:" (PAGE_BG) } {
                    tr { td align="center" style="padding:16px 8px" {
                        table role="presentation" width="100%" cellpadding="0" cellspacing="0"
                            style={ "max-width:720px;background:#ffffff;border:1px solid " (RULE) ";border-radius:8px" } {
                            tr { td style="padding:20px 20px 8px" { (header(d, failing)) } }
                            @if !d.alerts.is_empty() {
                                tr { td style="padding:4px 20px 8px" { (alerts(d)) } }
                            }
                            @if !d.restarts.is_empty() || !d.exhausted.is_empty() {
                                tr { td style="padding:0 20px 8px" { (restarts(d)) } }
                            }
                            tr { td style="padding:8px 12px" { (status_table(d, &d.rows)) } }
                            tr { td style="padding:12px 20px 20px" { (footer(d)) } }
                        }
                    } }
                }
            }
        }
    }
}

fn header(d: &Digest, failing: usize) -> Markup {
    let total = d.rows.len();
    let (colour, summary) = if failing == 0 {
        (
            style::colours(Status::Online).0,
            format!("All {total} services online"),
        )
    } else {
        let worst = d.rows.first().map_or(Status::Offline, |r| r.status);
        (
            style::colours(worst).0,
            format!("{failing} of {total} services failing"),
        )
    };
    html! {
        div style={ "font-size:13px;color:" (MUTED) ";margin-bottom:4px" } { "upcheck · " (d.title) }
        div style={ "font-size:22px;font-weight:700;line-height:1.3;color:" (colour) } { (summary) }
    }
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
                        " " strong { (a.service) } " " (alert_detail(d, a))
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
                    @let (fg, _) = style::colours(if r.succeeded() { Status::Online } else { Status::Offline });
                    span style={ "color:" (fg) ";font-weight:600" } { "↻ " }
                    (restart_line(r))
                }
            }
            @for (service, note) in &d.exhausted {
                div {
                    span style={ "color:" (style::colours(Status::Offline).0) ";font-weight:600" } { "✕ " }
                    strong { (service) } ": " (note)
                }
            }
        }
    }
}

/// The status table. Two columns so it reads on a phone without media
/// queries: what and why on the left, status and for how long on the right,
/// the numbers (since, response, HTTP code, uptime) in a small line below.
pub fn status_table(d: &Digest, rows: &[Row]) -> Markup {
    html! {
        table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="border-collapse:collapse" {
            tr {
                th style=(style::head_cell()) { "Service" }
                th style={ (style::head_cell()) ";text-align:right" } { "Status" }
            }
            @for r in rows { (service_row(d, r)) }
        }
    }
}

pub fn service_row(d: &Digest, r: &Row) -> Markup {
    let (fg, bg) = style::colours(r.status);
    let last = r.last.as_ref();
    let tint = if r.status.is_failure() { bg } else { "#ffffff" };
    let mut facts = Vec::new();
    if let Some(since) = r.since {
        facts.push(format!("since {}", minute(since)));
    }
    if let Some(ms) = last.and_then(|l| l.response_ms) {
        facts.push(format!("{ms} ms"));
    }
    if let Some(code) = last.and_then(|l| l.status_code) {
        facts.push(format!("HTTP {code}"));
    }
    facts.push(format!(
        "uptime 24h {} · 7d {} · 30d {}",
        pct(r.uptime.h24),
        pct(r.uptime.d7),
        pct(r.uptime.d30)
    ));
    html! {
        tr style={ "background:" (tint) } {
            td style={ (style::cell()) ";border-left:4px solid " (fg) ";word-break:break-word" } {
                strong style="font-size:15px" { (r.name) }
                @if let Some(reason) = last.and_then(|l| l.reason.as_deref()) {
                    div style={ "font-size:14px;line-height:1.4;margin-top:2px;color:" (fg) } { (reason) }
                }
                div style={ (style::small()) ";margin-top:4px" } { (facts.join(" · ")) }
            }
            td style={ (style::cell()) ";text-align:right;white-space:nowrap;width:1%" } {
                span style=(style::badge(r.status)) { (r.status.as_str()) }
                div style={ (style::small()) ";margin-top:6px" } {
                    @match r.since {
                        Some(since) => { "for " (human((d.now - since).to_std().unwrap_or_default())) }
                        None => { "never checked" }
                    }
                }
            }
        }
    }
}

fn footer(d: &Digest) -> Markup {
    html! {
        div style={ (style::small()) ";border-top:1px solid " (RULE) ";padding-top:10px" } {
            "Sent by upcheck on " strong { (d.host) } " at " (minute(d.now)) " because: " (why(d)) "." br;
            "History: " code { (d.database.display().to_string()) }
        }
    }
}
