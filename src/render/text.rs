//! The email's plain-text part: the HTML's facts in lines that fit 78
//! columns (RFC 5322's recommendation, and what mutt, a terminal or a
//! watch shows without wrapping). Per service: its name with its status
//! and for how long, then indented lines with the reason and the numbers.
//! A word longer than a line (a URL, a path) stands on a line of its own,
//! never broken. Pure.

use super::digest::{
    Digest, MAYBE_REPEAT, alert_detail, held_lines, kind_label, restart_line, subject, why,
};
use super::{Row, pct};
use crate::timefmt::{minute, minute_near};

/// The longest line the text part writes (but for a single longer word).
pub const WIDTH: usize = 78;
const INDENT: &str = "    ";

pub fn part(d: &Digest) -> String {
    let mut out = String::new();
    push(&mut out, &wrap(&subject(d), WIDTH, ""));
    out.push('\n');
    if !d.alerts.is_empty() {
        for a in &d.alerts {
            let line = format!(
                "{} {} {}",
                kind_label(a.kind),
                a.service,
                alert_detail(d, a)
            );
            push(&mut out, &wrap(&line, WIDTH, INDENT));
        }
        out.push('\n');
        for line in held_lines(d) {
            push(&mut out, &wrap(&line, WIDTH, INDENT));
            out.push('\n');
        }
        if d.maybe_repeat {
            push(&mut out, &wrap(MAYBE_REPEAT, WIDTH, ""));
            out.push('\n');
        }
    }
    for r in &d.restarts {
        push(
            &mut out,
            &wrap(&format!("* {}", restart_line(r)), WIDTH, "  "),
        );
    }
    for (service, note) in &d.exhausted {
        push(
            &mut out,
            &wrap(&format!("* {service}: {note}"), WIDTH, "  "),
        );
    }
    if !d.restarts.is_empty() || !d.exhausted.is_empty() {
        out.push('\n');
    }
    for r in &d.rows {
        push(&mut out, &service(d, r));
    }
    out.push_str("\n-- \n");
    let sent = format!(
        "Sent by upcheck on {} at {} because: {}.",
        d.host,
        minute(d.now),
        why(d)
    );
    push(&mut out, &wrap(&sent, WIDTH, ""));
    push(
        &mut out,
        &wrap(&format!("Database: {}", d.database), WIDTH, ""),
    );
    out
}

/// "price-api                                     OFFLINE for 12m 3s", then
/// the indented reason and numbers.
fn service(d: &Digest, r: &Row) -> Vec<String> {
    let status = match r.since {
        Some(since) => format!(
            "{} {}",
            r.status.as_str().to_uppercase(),
            super::digest::lasted(d.now, since)
        ),
        None => format!("{} (never checked)", r.status.as_str().to_uppercase()),
    };
    let name_width = r.name.chars().count();
    let status_width = status.chars().count();
    let mut lines = if name_width + 2 + status_width <= WIDTH {
        let gap = WIDTH - name_width - status_width;
        vec![format!("{}{}{status}", r.name, " ".repeat(gap))]
    } else {
        let mut lines = wrap(&r.name, WIDTH, "");
        lines.push(format!("{INDENT}{status}"));
        lines
    };
    let last = r.last.as_ref();
    if let Some(reason) = last.and_then(|l| l.reason.as_deref()) {
        lines.extend(wrap(&format!("{INDENT}{reason}"), WIDTH, INDENT));
    }
    if let Some(hold) = &r.hold {
        lines.extend(wrap(
            &format!("{INDENT}{}", super::held(hold)),
            WIDTH,
            INDENT,
        ));
    }
    let mut facts = Vec::new();
    if let Some(since) = r.since {
        facts.push(format!("since {}", minute_near(since, d.now)));
    }
    if let Some(ms) = last.and_then(|l| l.response_ms) {
        facts.push(format!("{ms} ms"));
    }
    if let Some(code) = last.and_then(|l| l.status_code) {
        facts.push(format!("HTTP {code}"));
    }
    facts.push(format!(
        "24h {} · 7d {} · 30d {}",
        pct(r.uptime.h24),
        pct(r.uptime.d7),
        pct(r.uptime.d30)
    ));
    lines.extend(wrap(
        &format!("{INDENT}{}", facts.join(" · ")),
        WIDTH,
        INDENT,
    ));
    if let Some(probes) = super::probes_line(d.now, r) {
        lines.extend(wrap(&format!("{INDENT}{probes}"), WIDTH, INDENT));
    }
    lines
}

fn push(out: &mut String, lines: &[String]) {
    for line in lines {
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

/// `text` in lines of at most `width` characters, broken at spaces; lines
/// after the first start with `indent` (the first keeps its own). A word
/// that alone is longer than a line stands on its own line, whole.
pub fn wrap(text: &str, width: usize, indent: &str) -> Vec<String> {
    let lead: String = text.chars().take_while(|c| *c == ' ').collect();
    let mut lines = Vec::new();
    let mut line = lead;
    let mut empty = true;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let fits = line.chars().count() + usize::from(!empty) + word.chars().count() <= width;
        if !empty && !fits {
            lines.push(std::mem::replace(&mut line, indent.to_string()));
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    lines.push(line);
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_breaks_at_spaces_and_keeps_a_long_word_whole() {
        assert_eq!(
            wrap("    aaa bbb ccc", 11, "    "),
            vec!["    aaa bbb", "    ccc"]
        );
        let url = format!("https://{}", "x".repeat(90));
        let lines = wrap(&format!("see {url} now"), 78, "  ");
        assert_eq!(
            lines,
            vec!["see".to_string(), format!("  {url}"), "  now".to_string()]
        );
    }

    #[test]
    fn every_line_fits_78_columns_but_a_single_longer_word() {
        use crate::check::Status;
        use crate::render::digest::tests::{row, sample};
        let mut d = sample();
        d.rows.push(row(
            &"a-very-long-service-name-".repeat(4),
            Status::Offline,
            Some(&format!(
                "HTTP 503, expected 2xx or 3xx; {} then https://{}/health",
                "word ".repeat(60),
                "x".repeat(100)
            )),
        ));
        // A fleet: each probe's latest check, under the service.
        let seen = |probe: &str, status, reason: &str| {
            let mut c = row("api", status, Some(reason)).last.unwrap();
            c.service = d.rows[0].name.clone();
            (probe.to_string(), c)
        };
        d.rows[0].probes = vec![
            seen("ams-1", Status::Offline, "connection refused"),
            seen("fra-1", Status::Timeout, &"no answer within 10s ".repeat(5)),
        ];
        let text = part(&d);
        let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(words.contains("probes: ams-1 offline, 42 ms"), "{text}");
        assert!(words.contains("· fra-1 timeout"), "{text}");
        for line in text.lines() {
            let long = line.chars().count() > WIDTH;
            let one_word = !line.trim().contains(' ');
            assert!(
                !long || one_word,
                "{} columns: {line}",
                line.chars().count()
            );
        }
        assert!(text.contains(&format!("https://{}/health", "x".repeat(100))));
    }
}
