//! The side outputs written after every run: the static status page and the
//! Prometheus textfile. Each is written whole to a temporary file beside its
//! target, flushed to disk, made readable by the web server or node_exporter
//! (0644), and renamed into place, so a reader never sees half a file.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::Utc;

use crate::config::Config;
use crate::store::Store;
use crate::{metrics, report, templates};

/// Writes whatever outputs the config asks for; `begun` is when the run started.
pub fn outputs(config: &Config, db: &Store, begun: Instant) -> Result<()> {
    if config.status_page.is_none() && config.prometheus_textfile.is_none() {
        return Ok(());
    }
    let now = Utc::now();
    let rows = report::rows(&config.services, &db.summaries()?);
    if let Some(path) = &config.status_page {
        let next_run = report::next_run(&db.recent_run_starts()?);
        let html = templates::status_page::page(&config.title, &config.host, now, &rows, next_run);
        write_atomic(path, html.into_string().as_bytes()).context("writing the status page")?;
    }
    if let Some(path) = &config.prometheus_textfile {
        let text = metrics::render(&rows, now, begun.elapsed());
        write_atomic(path, text.as_bytes()).context("writing the Prometheus textfile")?;
    }
    Ok(())
}

/// Temp file in the same folder (created if missing; the rename must stay on
/// one file system to be atomic), fsync, 0644, rename, fsync the folder (so
/// the rename survives a crash).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // One fixed name, not one per process: runs are serialized by the lock,
    // and a run killed mid-write leaves a file the next run overwrites
    // instead of a new one in the web root every time.
    let tmp = dir.join(format!(".{name}.tmp"));
    let write = || -> std::io::Result<()> {
        fs::create_dir_all(dir)?;
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&tmp)?;
        // mode() is filtered by the umask; the readers need 0644 whatever it is.
        f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    };
    write()
        .inspect_err(|_| {
            let _ = fs::remove_file(&tmp);
        })
        .with_context(|| format!("writing {}", path.display()))
}
