//! The report's look: maud markup and its inline styles. Pure functions from
//! view models to HTML; mail clients strip `<style>`, so every style is inline
//! and the layout is tables. Reused by the email and (later) the status page.

pub mod email;
pub mod style;
