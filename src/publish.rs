//! The side outputs written after every run: the static status page and the
//! Prometheus textfile, each written whole and atomically, readable by the
//! web server or node_exporter (0644), so a reader never sees half a file.

use std::time::Instant;

use anyhow::{Context, Result};
use chrono::Utc;

use crate::atomic_file::{self, Mode};
use crate::config::Config;
use crate::render::{self, Row};
use crate::store::{RunId, Store};

/// Whether the config asks for any output.
pub fn wanted(config: &Config) -> bool {
    config.status_page.is_some() || config.prometheus_textfile.is_some()
}

/// Writes whatever outputs the config asks for from `rows` (the status
/// table); `run` is the run writing them, `begun` when it started, and
/// `succeeded` whether it delivered everything due.
pub fn outputs(
    config: &Config,
    db: &Store,
    run: RunId,
    rows: &[Row],
    begun: Instant,
    succeeded: bool,
) -> Result<()> {
    if !wanted(config) {
        return Ok(());
    }
    let now = Utc::now();
    if let Some(path) = &config.status_page {
        let next_run = render::status::next_run(&db.recent_run_starts(Some(run))?);
        let html =
            render::html::status_page::page(&config.title, &config.host, now, rows, next_run);
        atomic_file::write(path, html.into_string().as_bytes(), Mode::Public)
            .context("writing the status page")?;
    }
    if let Some(path) = &config.prometheus_textfile {
        // Without [email] nothing is ever mailed: nothing is overdue either.
        let (undelivered, oldest_undelivered) = match &config.email {
            Some(_) => db.undelivered()?,
            None => (0, None),
        };
        let health = render::metrics::RunHealth {
            finished_at: now,
            duration: begun.elapsed(),
            succeeded,
            undelivered,
            oldest_undelivered,
        };
        let text = render::metrics::render(rows, health);
        atomic_file::write(path, text.as_bytes(), Mode::Public)
            .context("writing the Prometheus textfile")?;
    }
    Ok(())
}
