//! Colours and inline styles. Problems are red (offline) or amber (timeout,
//! degraded); green is online; grey is unknown. Text colours are dark enough
//! to read on their tints (WCAG AA).

use crate::check::Status;

pub const FONT: &str =
    "font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif";
pub const INK: &str = "#202124";
pub const MUTED: &str = "#5f6368";
pub const RULE: &str = "#e0e0e0";
pub const PAGE_BG: &str = "#f6f7f9";

/// (text colour, background tint) for a status.
pub fn colours(status: Status) -> (&'static str, &'static str) {
    match status {
        Status::Offline => ("#b3261e", "#fce8e6"),
        Status::Timeout | Status::Degraded => ("#8a4b00", "#fef3d6"),
        Status::Online => ("#137333", "#e6f4ea"),
        Status::Unknown => ("#5f6368", "#f1f3f4"),
    }
}

/// The coloured pill that names a status.
pub fn badge(status: Status) -> String {
    let (fg, bg) = colours(status);
    format!(
        "display:inline-block;padding:2px 8px;border-radius:10px;font-size:12px;font-weight:600;\
         letter-spacing:.02em;text-transform:uppercase;color:{fg};background:{bg};border:1px solid {fg}33"
    )
}

pub fn cell() -> String {
    format!(
        "padding:10px 8px;border-bottom:1px solid {RULE};vertical-align:top;font-size:14px;color:{INK}"
    )
}

pub fn head_cell() -> String {
    format!(
        "padding:8px;border-bottom:2px solid {RULE};text-align:left;font-size:11px;font-weight:600;\
         text-transform:uppercase;letter-spacing:.04em;color:{MUTED}"
    )
}

pub fn small() -> String {
    format!("font-size:12px;color:{MUTED};line-height:1.5")
}
