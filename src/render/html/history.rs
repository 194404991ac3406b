//! The status page's history: a bar of the last 90 UTC days per service
//! (one mark a day, coloured by its uptime, grey without data, the date and
//! figure as a tooltip), a sparkline of the last 24 hours' response times,
//! and the list of recent outages. Drawn with CSS and inline SVG: no
//! scripts, nothing fetched.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use maud::{Markup, html};

use super::style;
use crate::history::{DAYS, Day, Hour, Period};
use crate::render::{SHORT_NAME, short};
use crate::timefmt::{human, minute_near};

/// The page's own styles for the bars (a page, unlike an email, may have them).
pub const CSS: &str = ".days{display:flex;gap:1px;height:18px;margin-top:6px;max-width:540px}\
    .days i{flex:1;border-radius:1px;background:#137333}.days .n{background:#dadce0}\
    .days .u3{background:#81c995}\
    .days .u2{background:#f9ab00}.days .u1{background:#d93025}\
    .spark{vertical-align:middle}";

/// One mark per day, `today` last.
pub fn day_bar(days: &[Day], today: NaiveDate) -> Markup {
    html! {
        div class="days" role="img" aria-label=(summary(days)) {
            @for offset in (0..DAYS).rev() {
                @let day = today - Duration::days(offset);
                // A whole day up is the common mark: the default colour, no class.
                @match days.iter().find(|d| d.day == day) {
                    Some(d) => i class=[class(d.uptime)] title=(format!("{day}: {:.2}%", d.uptime)) {},
                    None => i class="n" title=(format!("{day}: no data")) {},
                }
            }
        }
    }
}

/// "99.93% over 87 days with data".
fn summary(days: &[Day]) -> String {
    if days.is_empty() {
        return "no data for the last 90 days".into();
    }
    let mean = days.iter().map(|d| d.uptime).sum::<f64>() / days.len() as f64;
    format!("{mean:.2}% over {} days with data", days.len())
}

/// 100% dark green (the default), at least 99% light green, at least 95%
/// amber, below red.
fn class(uptime: f64) -> Option<&'static str> {
    match uptime {
        u if u >= 100.0 => None,
        u if u >= 99.0 => Some("u3"),
        u if u >= 95.0 => Some("u2"),
        _ => Some("u1"),
    }
}

/// The last 24 hours' average response times as a line with its range
/// ("12–340 ms, last 24 h"); nothing until there are two hours to join.
pub fn sparkline(hours: &[Hour]) -> Markup {
    if hours.len() < 2 {
        return html! {};
    }
    let max = hours.iter().map(|h| h.avg_ms).fold(1.0, f64::max);
    let min = hours.iter().map(|h| h.avg_ms).fold(f64::MAX, f64::min);
    let first = hours[0].hour;
    let points: Vec<String> = hours
        .iter()
        .map(|h| {
            let x = (h.hour - first).num_minutes() as f64 / 60.0;
            let y = 22.0 - h.avg_ms / max * 20.0;
            format!("{x:.1},{y:.1}")
        })
        .collect();
    let width = ((hours[hours.len() - 1].hour - first).num_minutes() as f64 / 60.0).max(1.0);
    let range = format!("{min:.0}–{max:.0} ms, last 24 h");
    html! {
        div style={ (style::SMALL) ";margin-top:4px" } {
            svg class="spark" width="96" height="24" viewBox=(format!("0 0 {width:.1} 24")) preserveAspectRatio="none" role="img"
                aria-label=(format!("response time, {range}")) {
                polyline points=(points.join(" ")) fill="none" stroke=(style::MUTED) stroke-width="1.5" vector-effect="non-scaling-stroke" {}
            }
            " " (range)
        }
    }
}

/// "Recent outages": service, began, ended or ongoing, how long, why.
pub fn outages(now: DateTime<Utc>, periods: &[Period], with_reasons: bool) -> Markup {
    html! {
        h2 style="margin:0 0 8px;font-size:16px" { "Recent outages" }
        @if periods.is_empty() {
            p style=(style::SMALL) { "None in the last 90 days." }
        } @else {
            table width="100%" cellpadding="6" cellspacing="0" style="border-collapse:collapse;font-size:13px" {
                thead { tr {
                    @for h in ["Service", "Began", "Ended", "Lasted"] { th scope="col" style=(style::head_cell()) { (h) } }
                    @if with_reasons { th scope="col" style=(style::head_cell()) { "Reason" } }
                } }
                tbody {
                    @for p in periods {
                        @let lasted = p.ended.unwrap_or(now) - p.began;
                        tr {
                            td style=(style::CELL) { (short(&p.service, SHORT_NAME)) }
                            td style=(style::CELL) { (minute_near(p.began, now)) }
                            td style=(style::CELL) {
                                @match p.ended {
                                    Some(end) => { (minute_near(end, now)) }
                                    None => strong style={ "color:" (style::colours(crate::check::Status::Offline).0) } { "ongoing" },
                                }
                            }
                            td style=(style::CELL) { (human(lasted.to_std().unwrap_or_default())) }
                            @if with_reasons { td style=(style::CELL) { (p.reason.as_deref().unwrap_or("")) } }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::parse_iso;

    #[test]
    fn the_sparkline_joins_the_hours_and_says_their_range() {
        let hour = |h: &str, avg_ms| Hour {
            hour: parse_iso(&format!("2026-11-21T{h}:00:00Z")).unwrap(),
            avg_ms,
        };
        assert_eq!(sparkline(&[hour("10", 20.0)]).into_string(), "");
        let svg = sparkline(&[hour("08", 20.0), hour("09", 340.0), hour("10", 40.0)]).into_string();
        assert!(
            svg.contains("points=\"0.0,20.8 1.0,2.0 2.0,19.6\""),
            "{svg}"
        );
        assert!(svg.contains("20–340 ms, last 24 h"), "{svg}");
    }

    #[test]
    fn a_day_is_coloured_by_its_uptime() {
        assert_eq!(
            [100.0, 99.5, 97.0, 50.0].map(class),
            [None, Some("u3"), Some("u2"), Some("u1")]
        );
    }
}
