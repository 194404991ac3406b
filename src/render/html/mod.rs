//! The report's look: maud markup and its inline styles. Pure functions from
//! view models to HTML; mail clients strip `<style>`, so every style is inline
//! and the layout is tables. The email and the status page share `components`.

pub mod components;
pub mod email;
pub mod history;
pub mod status_page;
pub mod style;
