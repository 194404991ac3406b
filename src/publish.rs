//! The side outputs written after every run: the static status page and the
//! Prometheus textfile, each written whole and atomically, readable by the
//! web server or node_exporter (0644), so a reader never sees half a file.

use std::time::Instant;

use anyhow::{Context, Result};
use chrono::Utc;

use crate::atomic_file::{self, Mode};
use crate::config::{Config, PageDetails};
use crate::render::{self, Row};
use crate::store::{RunId, Store};

/// Whether the config asks for any output.
pub fn wanted(config: &Config) -> bool {
    config.status_page.is_some() || config.prometheus_textfile.is_some() || config.badges.is_some()
}

/// How the run writing the outputs went.
#[derive(Clone, Copy)]
pub struct Health<'a> {
    /// When it started.
    pub begun: Instant,
    /// Whether it delivered everything due.
    pub succeeded: bool,
    /// What the connectivity guard could not reach, when it stopped the run.
    pub network: Option<&'a str>,
}

/// The status page and `status.json` beside it; with
/// `status_page_details = "status"`, without reasons, codes or response times.
fn status_page(
    config: &Config,
    db: &Store,
    run: RunId,
    rows: &[Row],
    network: Option<&str>,
    path: &std::path::Path,
) -> Result<()> {
    let now = Utc::now();
    let public = config.status_page_details == PageDetails::Status;
    // This run counts: it is the last one by the time anyone reads these.
    let runs = db.recent_run_starts(Some(run))?;
    // Why the guard stopped this run; a public page only says that it did.
    let network = network.map(|why| match public {
        true => "could not reach its connectivity targets".to_string(),
        false => why.to_string(),
    });
    // The guard stopped this run: the table is what was known before.
    let stale = network.as_ref().map(|why| {
        format!(
            "upcheck on {} {why}: nothing was checked at {}; the statuses below are from before",
            config.host,
            crate::timefmt::minute(now)
        )
    });
    let history = db.history(now)?;
    let (rows, history) = match public {
        true => (render::without_details(rows), history.without_details()),
        false => (rows.to_vec(), history),
    };
    let page = render::html::status_page::Page {
        title: &config.title,
        host: &config.host,
        now,
        next_run: render::status::next_run(&runs),
        stale: stale.as_deref(),
        history: &history,
        reasons: !public,
    };
    let html = render::html::status_page::page(&page, &rows);
    atomic_file::write(path, html.into_string().as_bytes(), Mode::Public)
        .context("writing the status page")?;
    // Beside it, the same facts for programs: `status --json` plus the days.
    let doc = render::status::status_json(&config.title, &rows, &runs, now, network);
    let doc = render::status::with_days(doc, &history, now);
    let json = path.with_file_name("status.json");
    // A page itself named status.json keeps its name.
    if json != *path {
        atomic_file::write(
            &json,
            // For programs, compact: 90 days of every service add up.
            serde_json::to_string(&doc)?.as_bytes(),
            Mode::Public,
        )
        .with_context(|| format!("writing {}", json.display()))?;
    }
    Ok(())
}

/// Each service's `<slug>.svg` and `<slug>-uptime.svg`, each written only
/// when it changed: a web server's caches and a README's images stay put
/// while nothing does.
fn badges(dir: &std::path::Path, rows: &[Row]) -> Result<()> {
    for r in rows {
        let slug = crate::config::badge_slug(&r.name);
        for (name, svg) in [
            (format!("{slug}.svg"), render::badge::status(r)),
            (format!("{slug}-uptime.svg"), render::badge::uptime(r)),
        ] {
            let path = dir.join(name);
            if std::fs::read(&path).is_ok_and(|old| old == svg.as_bytes()) {
                continue;
            }
            atomic_file::write(&path, svg.as_bytes(), Mode::Public)
                .with_context(|| format!("writing the badge {}", path.display()))?;
        }
    }
    Ok(())
}

/// Writes whatever outputs the config asks for from `rows` (the status
/// table); `run` is the run writing them.
pub fn outputs(
    config: &Config,
    db: &Store,
    run: RunId,
    rows: &[Row],
    health: Health<'_>,
) -> Result<()> {
    let Health {
        begun,
        succeeded,
        network,
    } = health;
    if !wanted(config) {
        return Ok(());
    }
    let now = Utc::now();
    if let Some(path) = &config.status_page {
        status_page(config, db, run, rows, network, path)?;
    }
    if let Some(dir) = &config.badges {
        badges(dir, rows)?;
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
            connectivity: config.connectivity.as_ref().map(|_| network.is_none()),
        };
        let text = render::metrics::render(rows, health);
        atomic_file::write(path, text.as_bytes(), Mode::Public)
            .context("writing the Prometheus textfile")?;
    }
    Ok(())
}
