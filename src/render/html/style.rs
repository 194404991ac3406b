//! Colours and inline styles. Problems are red (offline) or amber (timeout,
//! degraded); green is online; grey is unknown. Text colours are dark enough
//! to read on their tints (WCAG AA).
//!
//! Inline styles carry the whole look (mail clients strip `<style>`), kept
//! short because they repeat on every row of an email that must stay under
//! Gmail's 102 KB clipping limit. Dark mode is the one thing a `<style>`
//! block adds, for the clients that read it (Apple Mail, iOS): it matches the
//! inline colours by attribute (`[style*="color:#5f6368"]`), so no row pays
//! bytes for a class.

use crate::check::Status;

pub const FONT: &str =
    "font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif";
pub const INK: &str = "#202124";
pub const MUTED: &str = "#5f6368";
pub const RULE: &str = "#ddd";
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

/// The small grey print: facts, footers.
pub const SMALL: &str = "font-size:12px;color:#5f6368";

/// A status table cell's rule.
pub const CELL: &str = "border-bottom:1px solid #ddd";

pub fn head_cell() -> String {
    format!(
        "padding:8px;border-bottom:2px solid {RULE};text-align:left;font-size:11px;font-weight:600;\
         text-transform:uppercase;letter-spacing:.04em;color:{MUTED}"
    )
}

/// Dark-mode overrides, keyed on the inline colours above. `!important`
/// because inline styles win otherwise.
pub fn dark_mode() -> String {
    let mut css = String::from(
        ":root{color-scheme:light dark;supported-color-schemes:light dark}\
         @media (prefers-color-scheme:dark){\
         [style*=\"background:#f6f7f9\"]{background:#121212!important}\
         [style*=\"background:#ffffff\"]{background:#1e1e1e!important;border-color:#3c4043!important}\
         [style*=\"color:#202124\"]{color:#e8eaed!important}\
         [style*=\"color:#5f6368\"]{color:#9aa0a6!important}\
         [style*=\"bottom:1px solid #ddd\"],[style*=\"bottom:2px solid #ddd\"]{border-bottom-color:#3c4043!important}[style*=\"top:1px solid #ddd\"]{border-top-color:#3c4043!important}",
    );
    for (fg, bg, dark_fg, dark_bg) in [
        ("#b3261e", "#fce8e6", "#f28b82", "#3b1e1c"),
        ("#8a4b00", "#fef3d6", "#fdd663", "#3a2e10"),
        ("#137333", "#e6f4ea", "#81c995", "#16301f"),
    ] {
        css.push_str(&format!(
            "[style*=\"color:{fg}\"]{{color:{dark_fg}!important}}\
             [style*=\"background:{bg}\"],[bgcolor=\"{bg}\"]{{background:{dark_bg}!important}}"
        ));
    }
    css.push('}');
    css
}
