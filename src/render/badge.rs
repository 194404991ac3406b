//! Badges: a service's status and its 30-day uptime as SVG in the flat
//! shields.io style (a grey label, a coloured value), for a README or a
//! wiki. Text widths are estimated per character for Verdana 11px, the
//! font shields measures with. Pure.

use crate::check::Status;

use super::Row;

/// The status badge: "api | online".
pub fn status(r: &Row) -> String {
    let colour = match r.status {
        Status::Online => "#4c1",
        Status::Degraded | Status::Timeout => "#fe7d37",
        Status::Offline => "#e05d44",
        Status::Unknown => "#9f9f9f",
    };
    flat(&r.name, r.status.as_str(), colour)
}

/// The uptime badge: "api uptime | 99.95%" over 30 days.
pub fn uptime(r: &Row) -> String {
    let (value, colour) = match r.uptime.d30 {
        None => ("no data".to_string(), "#9f9f9f"),
        Some(u) => (
            format!("{u:.2}%"),
            match u {
                u if u >= 99.9 => "#4c1",
                u if u >= 99.0 => "#97ca00",
                u if u >= 95.0 => "#dfb317",
                _ => "#e05d44",
            },
        ),
    };
    flat(&format!("{} uptime", r.name), &value, colour)
}

/// A flat badge: `label` on grey, `value` on `colour`.
fn flat(label: &str, value: &str, colour: &str) -> String {
    let label = crate::check::one_line(label, 60);
    let (lw, vw) = (text_width(&label) + 10, text_width(value) + 10);
    let width = lw + vw;
    let (label, value) = (escape(&label), escape(value));
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" aria-label="{label}: {value}"><title>{label}: {value}</title><linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient><clipPath id="r"><rect width="{width}" height="20" rx="3" fill="#fff"/></clipPath><g clip-path="url(#r)"><rect width="{lw}" height="20" fill="#555"/><rect x="{lw}" width="{vw}" height="20" fill="{colour}"/><rect width="{width}" height="20" fill="url(#s)"/></g><g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11"><text x="{lx}" y="15" fill="#010101" fill-opacity=".3">{label}</text><text x="{lx}" y="14">{label}</text><text x="{vx}" y="15" fill="#010101" fill-opacity=".3">{value}</text><text x="{vx}" y="14">{value}</text></g></svg>
"##,
        lx = lw / 2,
        vx = lw + vw / 2,
    )
}

/// Verdana 11px, roughly: narrow letters, wide ones, the rest.
fn text_width(text: &str) -> u32 {
    let width: f64 = text
        .chars()
        .map(|c| match c {
            'i' | 'l' | 'j' | '.' | ',' | ':' | ';' | '!' | '|' | '\'' => 3.4,
            'f' | 't' | 'r' | ' ' | '(' | ')' | '-' => 4.6,
            'm' | 'w' | 'M' | 'W' | '%' => 10.4,
            c if c.is_ascii_uppercase() => 7.6,
            c if c.is_ascii_digit() => 7.0,
            _ => 6.8,
        })
        .sum();
    width.ceil() as u32
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_badge_names_its_service_and_value_escaped() {
        let mut r = crate::render::digest::tests::row("a<b", Status::Offline, None);
        r.uptime.d30 = Some(99.95);
        let svg = status(&r);
        assert!(svg.contains("aria-label=\"a&lt;b: offline\""), "{svg}");
        assert!(svg.contains("#e05d44"));
        assert!(uptime(&r).contains(">99.95%<"));
    }
}
