//! The pieces the email and the status page share: the page frame, the
//! summary header, and the colour-coded status table (problems first). One
//! copy of each, so both always tell the same story in the same look.

use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::style::{self, INK, MUTED, PAGE_BG, RULE};
use crate::check::Status;
use crate::render::{Row, SHORT_NAME, pct, short, whole_if_cut};
use crate::timefmt::minute_near;

/// How much the status table says per service.
#[derive(Clone, Copy, PartialEq)]
pub enum Detail {
    /// The email: uptime 24h / 7d / 30d.
    Email,
    /// The status page: also all-time uptime and when it was last checked.
    Page,
}

/// A card on a grey page, as wide as a phone or at most 720px. The layout
/// tables are `role="presentation"`; the status table inside is a data table.
pub fn frame(title: &str, extra_head: Markup, sections: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                meta name="supported-color-schemes" content="light dark";
                style { (PreEscaped(style::dark_mode())) }
                (extra_head)
                title { (title) }
            }
            body style={ "margin:0;padding:0;background:" (PAGE_BG) ";" (style::FONT) } {
                table role="presentation" width="100%" cellpadding="0" cellspacing="0" style={ "background:" (PAGE_BG) } {
                    tr { td align="center" style="padding:16px 8px" {
                        table role="presentation" width="100%" cellpadding="0" cellspacing="0"
                            style={ "max-width:720px;background:#ffffff;border:1px solid " (RULE) ";border-radius:8px;color:" (INK) } {
                            (sections)
                        }
                    } }
                }
            }
        }
    }
}

/// "upcheck · vps-1" over the headline "3 of 14 services failing" (a real
/// heading, to jump to), coloured by the worst status.
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
        h1 style={ "margin:0;font-size:22px;font-weight:700;line-height:1.3;color:" (colour) } { (summary) }
    }
}

/// The status table. Two columns so it reads on a phone without media
/// queries: what and why on the left, status and for how long on the right,
/// the numbers (since, response, HTTP code, uptime) in a small line below.
/// `folded`: a last line for the services left out ("182 more online");
/// `more`: what the page adds under a service's facts (its history).
pub fn status_table(
    now: DateTime<Utc>,
    rows: &[&Row],
    detail: Detail,
    folded: Option<&str>,
    more: &dyn Fn(&Row) -> Markup,
) -> Markup {
    html! {
        table width="100%" cellpadding="8" cellspacing="0" style="border-collapse:collapse;font-size:14px;line-height:1.4;word-break:break-word" {
            thead { tr {
                th scope="col" style=(style::head_cell()) { "Service" }
                th scope="col" style={ (style::head_cell()) ";text-align:right" } { "Status" }
            } }
            tbody {
                @for r in rows { (service_row(now, r, detail, more(r))) }
                @if let Some(line) = folded {
                    tr { td colspan="2" style=(style::SMALL) { (line) } }
                }
            }
        }
    }
}

pub fn service_row(now: DateTime<Utc>, r: &Row, detail: Detail, more: Markup) -> Markup {
    let (fg, bg) = style::colours(r.status);
    let last = r.last.as_ref();
    html! {
        tr bgcolor=[r.status.is_failure().then_some(bg)] {
            td style={ (style::CELL) ";border-left:4px solid " (fg) } {
                strong title=[whole_if_cut(&r.name, SHORT_NAME)] { (short(&r.name, SHORT_NAME)) }
                @if let Some(reason) = last.and_then(|l| l.reason.as_deref()) {
                    div style={ "color:" (fg) } { (reason) }
                }
                @if let Some(hold) = &r.hold {
                    div style={ (style::SMALL) ";font-style:italic" } { (crate::render::held(hold)) }
                }
                div style=(style::SMALL) { (facts(now, r, detail)) }
                @if let Some(probes) = crate::render::probes_line(now, r) {
                    div style=(style::SMALL) { (probes) }
                }
                (more)
            }
            td align="right" style={ (style::CELL) ";width:1%" } { (badge(r.status)) }
        }
    }
}

/// "for 12m 3s, since 10:08 UTC · 42 ms · HTTP 503 · uptime 24h 98.61% ·
/// 7d … · 30d …".
fn facts(now: DateTime<Utc>, r: &Row, detail: Detail) -> String {
    let last = r.last.as_ref();
    let mut facts = Vec::new();
    match r.since {
        Some(since) => facts.push(format!(
            "{}, since {}",
            crate::render::digest::lasted(now, since),
            minute_near(since, now)
        )),
        None => facts.push("never checked".to_string()),
    }
    if let (Detail::Page, Some(l)) = (detail, last) {
        facts.push(format!("checked {}", minute_near(l.checked_at, now)));
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
    facts.join(" · ")
}

/// The coloured pill that names a status: a table cell with `bgcolor`, so
/// Outlook for Windows (Word's renderer, which squares inline blocks and
/// drops their padding) draws it as well as every other client.
pub fn badge(status: Status) -> Markup {
    let (fg, bg) = style::colours(status);
    html! {
        table role="presentation" cellspacing="0" align="right" {
            tr { td bgcolor=(bg) style={ "padding:2px 8px;border-radius:9px;font:bold 12px sans-serif;white-space:nowrap;color:" (fg) } { (status.as_str().to_uppercase()) } }
        }
    }
}

/// The small print under the table.
pub fn footer(lines: Markup) -> Markup {
    html! {
        div style={ (style::SMALL) ";line-height:1.5;border-top:1px solid " (RULE) ";padding-top:10px" } { (lines) }
    }
}
