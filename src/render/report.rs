//! The periodic report email: per service the period's uptime, outages,
//! downtime and average response time, each beside the period before's,
//! the worst first. Pure.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use maud::{Markup, html};

use super::email::Message;
use super::html::{components, style};
use super::text::{WIDTH, wrap};
use crate::config::Period;
use crate::history::PeriodStats;
use crate::timefmt::{human, minute};

/// Services the HTML lists, the worst first: about 70 KB, under Gmail's
/// clipping limit; the text part lists all.
const ROWS: usize = 100;

/// Everything the report shows.
pub struct Summary<'a> {
    pub title: &'a str,
    pub host: &'a str,
    pub every: Period,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub now: DateTime<Utc>,
    pub current: Vec<PeriodStats>,
    pub previous: Vec<PeriodStats>,
}

/// One service's line: this period, and the one before (if it has one).
struct Line<'a> {
    now: &'a PeriodStats,
    before: Option<&'a PeriodStats>,
}

pub fn render(s: &Summary<'_>) -> Message {
    let lines = lines(s);
    Message {
        subject: subject(s),
        text: text(s, &lines),
        html: Some(page(s, &lines).into_string()),
        replies_to: Vec::new(),
    }
}

/// `[vps-1] weekly report: 99.95% up, 2 outages`.
pub fn subject(s: &Summary<'_>) -> String {
    let checks: i64 = s.current.iter().map(|x| x.checks).sum();
    let online: i64 = s.current.iter().map(|x| x.online).sum();
    let outages: u32 = s.current.iter().map(|x| x.outages).sum();
    let up = match checks {
        0 => "no checks".to_string(),
        _ => format!("{:.2}% up", online as f64 * 100.0 / checks as f64),
    };
    let plural = if outages == 1 { "" } else { "s" };
    crate::check::one_line(
        &format!(
            "[{}] {} report: {up}, {outages} outage{plural}",
            s.title,
            adjective(s.every)
        ),
        250,
    )
}

/// "Weekly report: 99.95% up, 2 outages": the subject without the title.
fn headline(s: &Summary<'_>) -> String {
    let subject = subject(s);
    let rest = subject
        .split_once("] ")
        .map_or(subject.as_str(), |(_, r)| r);
    let mut chars = rest.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn adjective(every: Period) -> &'static str {
    match every {
        Period::Week => "weekly",
        Period::Month => "monthly",
    }
}

/// "the week of 2026-11-23 to 2026-11-29 (UTC)".
fn span(s: &Summary<'_>) -> String {
    let last = s.end - Duration::days(1);
    let what = match s.every {
        Period::Week => "the week",
        Period::Month => "the month",
    };
    format!(
        "{what} of {} to {} (UTC)",
        s.start.format("%Y-%m-%d"),
        last.format("%Y-%m-%d")
    )
}

/// Worst uptime first; services without checks last.
fn lines<'a>(s: &'a Summary<'_>) -> Vec<Line<'a>> {
    let before: HashMap<&str, &PeriodStats> =
        s.previous.iter().map(|p| (p.service.as_str(), p)).collect();
    let mut lines: Vec<Line<'a>> = s
        .current
        .iter()
        .map(|now| Line {
            now,
            before: before.get(now.service.as_str()).copied(),
        })
        .collect();
    lines.sort_by(|a, b| {
        let key = |l: &Line| l.now.uptime().unwrap_or(f64::INFINITY);
        key(a)
            .total_cmp(&key(b))
            .then(a.now.service.cmp(&b.now.service))
    });
    lines
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.2}%"))
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.0} ms"))
}

fn down(d: Duration) -> String {
    match d.to_std().unwrap_or_default() {
        z if z.is_zero() => "none".to_string(),
        d => human(d),
    }
}

/// "99.10% (before 99.98%)": this period, then the one before.
fn beside(now: String, before: Option<String>) -> String {
    match before {
        Some(b) => format!("{now} (before {b})"),
        None => now,
    }
}

fn text(s: &Summary<'_>, lines: &[Line<'_>]) -> String {
    let mut out = format!("{}\n\n", subject(s));
    let intro = format!("For {}, each figure beside the one before it.", span(s));
    out.push_str(&(wrap(&intro, WIDTH, "").join("\n") + "\n\n"));
    for l in lines {
        let (n, b) = (l.now, l.before);
        out.push_str(&(wrap(&n.service, WIDTH, "").join("\n") + "\n"));
        let facts = format!(
            "    uptime {}; outages {}; down {}; average response {}",
            beside(pct(n.uptime()), b.map(|b| pct(b.uptime()))),
            beside(n.outages.to_string(), b.map(|b| b.outages.to_string())),
            beside(down(n.downtime), b.map(|b| down(b.downtime))),
            beside(ms(n.avg_ms()), b.map(|b| ms(b.avg_ms()))),
        );
        out.push_str(&(wrap(&facts, WIDTH, "    ").join("\n") + "\n"));
    }
    let sent = format!("Sent by upcheck on {} at {}.", s.host, minute(s.now));
    out.push_str(&format!("\n-- \n{}\n", wrap(&sent, WIDTH, "").join("\n")));
    out
}

fn page(s: &Summary<'_>, lines: &[Line<'_>]) -> Markup {
    let cell = |now: String, before: Option<String>| {
        html! {
            (now)
            @if let Some(b) = before { div style=(style::SMALL) { "before " (b) } }
        }
    };
    let sections = html! {
        tr { td style="padding:20px 20px 8px" {
            div style={ "font-size:13px;color:" (style::MUTED) ";margin-bottom:4px" } { "upcheck · " (s.title) }
            h1 style="margin:0;font-size:22px;line-height:1.3" { (headline(s)) }
            div style=(style::SMALL) { "For " (span(s)) ", each figure beside the one before it." }
        } }
        tr { td style="padding:8px 12px" {
            table width="100%" cellpadding="8" cellspacing="0" style="border-collapse:collapse;font-size:14px" {
                thead { tr {
                    @for h in ["Service", "Uptime", "Outages", "Down", "Response"] {
                        th scope="col" style=(style::head_cell()) { (h) }
                    }
                } }
                tbody {
                    @for l in lines.iter().take(ROWS) {
                        @let (n, b) = (l.now, l.before);
                        tr {
                            td style=(style::CELL) { strong { (super::short(&n.service, super::SHORT_NAME)) } }
                            td style=(style::CELL) { (cell(pct(n.uptime()), b.map(|b| pct(b.uptime())))) }
                            td style=(style::CELL) { (cell(n.outages.to_string(), b.map(|b| b.outages.to_string()))) }
                            td style=(style::CELL) { (cell(down(n.downtime), b.map(|b| down(b.downtime)))) }
                            td style=(style::CELL) { (cell(ms(n.avg_ms()), b.map(|b| ms(b.avg_ms())))) }
                        }
                    }
                    @if lines.len() > ROWS {
                        tr { td colspan="5" style=(style::SMALL) {
                            (lines.len() - ROWS) " more services, the best: the text part lists every one"
                        } }
                    }
                }
            }
        } }
        tr { td style="padding:12px 20px 20px" { (components::footer(html! {
            "Sent by upcheck on " strong { (s.host) } " at " (minute(s.now)) "."
        })) } }
    };
    components::frame(&subject(s), html! {}, sections)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::parse_iso;

    fn stats(service: &str, checks: i64, online: i64, outages: u32, down_min: i64) -> PeriodStats {
        PeriodStats {
            service: service.into(),
            checks,
            online,
            total_ms: checks * 40,
            outages,
            downtime: Duration::minutes(down_min),
        }
    }

    #[test]
    fn the_report_puts_the_worst_first_beside_the_period_before() {
        let s = Summary {
            title: "vps-1",
            host: "vps-1",
            every: Period::Week,
            start: parse_iso("2026-11-23T00:00:00Z").unwrap(),
            end: parse_iso("2026-11-30T00:00:00Z").unwrap(),
            now: parse_iso("2026-11-30T00:05:00Z").unwrap(),
            current: vec![
                stats("api", 2016, 2016, 0, 0),
                stats("billing", 2016, 1996, 2, 100),
            ],
            previous: vec![stats("billing", 2016, 2016, 0, 0)],
        };
        let m = render(&s);
        assert_eq!(m.subject, "[vps-1] weekly report: 99.50% up, 2 outages");
        let billing = m.text.find("billing").unwrap();
        assert!(
            billing < m.text.find("\napi").unwrap(),
            "worst first:\n{}",
            m.text
        );
        let unwrapped = m.text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            unwrapped.contains(
                "uptime 99.01% (before 100.00%); outages 2 (before 0); down 1h 40m (before none)"
            ),
            "{}",
            m.text
        );
        assert!(
            m.text.lines().all(|l| l.chars().count() <= 78),
            "{}",
            m.text
        );
        assert!(m.html.unwrap().contains("before 100.00%"));
    }
}
