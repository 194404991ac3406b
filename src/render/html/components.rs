//! The pieces the email and the status page share: the page frame, the
//! summary header, and the colour-coded status table (problems first). One
//! copy of each, so both always tell the same story in the same look.

use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, html};

use super::style::{self, MUTED, PAGE_BG, RULE};
use crate::check::Status;
use crate::render::{Row, SHORT_NAME, pct, short, whole_if_cut};
use crate::timefmt::{human, minute};

/// How much the status table says per service.
#[derive(Clone, Copy, PartialEq)]
pub enum Detail {
    /// The email: uptime 24h / 7d / 30d.
    Email,
    /// The status page: also all-time uptime and when it was last checked.
    Page,
}

/// A card on a grey page, as wide as a phone or at most 720px.
pub fn frame(title: &str, extra_head: Markup, sections: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                (extra_head)
                title { (title) }
            }
            body style={ "margin:0;padding:0;background:" (PAGE_BG) ";" (style::FONT) } {
                table role="presentation" width="100%" cellpadding="0" cellspacing="0" style={ "background:" (PAGE_BG) } {
                    tr { td align="center" style="padding:16px 8px" {
                        table role="presentation" width="100%" cellpadding="0" cellspacing="0"
                            style={ "max-width:720px;background:#ffffff;border:1px solid " (RULE) ";border-radius:8px" } {
                            (sections)
                        }
                    } }
                }
            }
        }
    }
}

/// "upcheck · vps-1" over "3 of 14 services failing", coloured by the worst status.
pub fn header(title: &str, rows: &[Row]) -> Markup {
    let total = rows.len();
    let failing = rows.iter().filter(|r| r.status.is_failure()).count();
    let (colour, summary) = if failing == 0 {
        (
            style::colours(Status::Online).0,
            format!("All {total} services online"),
        )
    } else {
        let worst = rows.first().map_or(Status::Offline, |r| r.status);
        (
            style::colours(worst).0,
            format!("{failing} of {total} services failing"),
        )
    };
    html! {
        div style={ "font-size:13px;color:" (MUTED) ";margin-bottom:4px" } { "upcheck · " (title) }
        div style={ "font-size:22px;font-weight:700;line-height:1.3;color:" (colour) } { (summary) }
    }
}

/// The status table. Two columns so it reads on a phone without media
/// queries: what and why on the left, status and for how long on the right,
/// the numbers (since, response, HTTP code, uptime) in a small line below.
pub fn status_table(now: DateTime<Utc>, rows: &[Row], detail: Detail) -> Markup {
    html! {
        table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="border-collapse:collapse" {
            tr {
                th style=(style::head_cell()) { "Service" }
                th style={ (style::head_cell()) ";text-align:right" } { "Status" }
            }
            @for r in rows { (service_row(now, r, detail)) }
        }
    }
}

pub fn service_row(now: DateTime<Utc>, r: &Row, detail: Detail) -> Markup {
    let (fg, bg) = style::colours(r.status);
    let last = r.last.as_ref();
    let tint = if r.status.is_failure() { bg } else { "#ffffff" };
    let mut facts = Vec::new();
    if let Some(since) = r.since {
        facts.push(format!("since {}", minute(since)));
    }
    if let (Detail::Page, Some(l)) = (detail, last) {
        facts.push(format!("checked {}", minute(l.checked_at)));
    }
    if let Some(ms) = last.and_then(|l| l.response_ms) {
        facts.push(format!("{ms} ms"));
    }
    if let Some(code) = last.and_then(|l| l.status_code) {
        facts.push(format!("HTTP {code}"));
    }
    let mut uptime = format!(
        "uptime 24h {} · 7d {} · 30d {}",
        pct(r.uptime.h24),
        pct(r.uptime.d7),
        pct(r.uptime.d30)
    );
    if detail == Detail::Page {
        uptime.push_str(&format!(" · all {}", pct(r.uptime.all)));
    }
    facts.push(uptime);
    html! {
        tr style={ "background:" (tint) } {
            td style={ (style::cell()) ";border-left:4px solid " (fg) ";word-break:break-word" } {
                strong style="font-size:15px" title=[whole_if_cut(&r.name, SHORT_NAME)] { (short(&r.name, SHORT_NAME)) }
                @if let Some(reason) = last.and_then(|l| l.reason.as_deref()) {
                    div style={ "font-size:14px;line-height:1.4;margin-top:2px;color:" (fg) } { (reason) }
                }
                @if let Some(hold) = &r.hold {
                    div style={ (style::small()) ";margin-top:4px;font-style:italic" } { (crate::render::held(hold)) }
                }
                div style={ (style::small()) ";margin-top:4px" } { (facts.join(" · ")) }
            }
            td style={ (style::cell()) ";text-align:right;white-space:nowrap;width:1%" } {
                span style=(style::badge(r.status)) { (r.status.as_str()) }
                div style={ (style::small()) ";margin-top:6px" } {
                    @match r.since {
                        Some(since) => { "for " (human((now - since).to_std().unwrap_or_default())) }
                        None => { "never checked" }
                    }
                }
            }
        }
    }
}

/// The small print under the table.
pub fn footer(lines: Markup) -> Markup {
    html! {
        div style={ (style::small()) ";border-top:1px solid " (RULE) ";padding-top:10px" } { (lines) }
    }
}
